"""viz.explore without a browser: the page data against the engine (values, gradients, the
backward order, the running sums), the page being self-contained, the notebook display, errors.
The browser tests (headless Chromium clicking through the steps) are in test_explore_browser.py."""
import json
import os
import re
import shutil

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.graph import build_graph

pytestmark = pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                                reason="Graphviz 'dot' is needed for the explorer's layout")


def small_graph():
    """h = tanh(x @ w + b) used three times (h * h: twice, h.sum(): once): gradients accumulate."""
    w = tl.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True, dtype=tl.float64)
    b = tl.tensor([0.1, -0.2], requires_grad=True, dtype=tl.float64)
    x = tl.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=tl.float64)
    h = (x @ w + b).tanh()
    loss = (h * h).sum() + h.sum() * 0.5
    return loss, {"w": w, "b": b}, h


def page_data(page):
    m = re.search(r'<script id="explorer-data" type="application/json">(.*?)</script>', page.html, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def decoded(a):
    return np.array([float(v) for v in a["v"]]).reshape(a["shape"])


def engine_run(loss, tensors):
    """The engine's own backward: the order in which it completes each tensor's gradient (its hooks
    fire just before the tensor's op rule runs) and those gradients."""
    order, grads = [], {}
    for t in tensors:
        if t.requires_grad:
            t.register_hook(lambda g, t=t: (order.append(t), grads.__setitem__(id(t), np.array(g._data)))[0] and None)
    loss.backward(retain_graph=True)
    return order, grads


def test_page_matches_the_engine(tmp_path):
    from viz import explore
    loss, params, h = small_graph()
    view = build_graph(loss, params=params)
    page = explore(loss, tmp_path / "e.html", params=params)
    assert page.path.is_file() and page.path.read_text(encoding="utf-8") == page.html
    d = page_data(page)
    tensors = [n.tensor for n in view.tensors]
    order, grads = engine_run(loss, tensors)
    # backward steps = the ops in the order the engine runs their rules
    engine_ops = [view.node_of(t).producer for t in order if t._op is not None]
    assert [s["op"] for s in d["backward"]] == engine_ops
    assert d["forward"] == engine_ops[::-1]
    for n in view.tensors:
        t = d["tensors"][n.id]
        np.testing.assert_allclose(decoded(t["value"]), n.tensor._data, rtol=1e-8)
        if n.requires_grad:
            want = n.tensor.grad._data if n.producer is None else grads[id(n.tensor)]
            np.testing.assert_allclose(decoded(t["grad"]), want, rtol=1e-8, atol=1e-12)
    # the running sums: h gets 3 gradients, their sum is h's gradient
    hid = view.node_of(h).id
    acc = [a for s in d["backward"] for a in s["accum"] if a["to"] == hid]
    assert [a["k"] for a in acc] == [1, 2, 3] and [a["complete"] for a in acc] == [False, False, True]
    total = sum(decoded(a["add"]) for a in acc)
    np.testing.assert_allclose(decoded(acc[-1]["after"]), total, rtol=1e-12)
    np.testing.assert_allclose(decoded(acc[-1]["after"]), grads[id(h)], rtol=1e-8)
    np.testing.assert_allclose(decoded(acc[1]["before"]), decoded(acc[0]["add"]), rtol=1e-12)
    # each op's per-input gradient agrees with PyTorch-free finite differences through the sum:
    # the gradients sent into w (its one use) equal w.grad
    w_id = view.node_of(params["w"]).id
    sent = [s for o in d["ops"].values() for s in o["sends"] if s and s["to"] == w_id]
    assert len(sent) == 1
    np.testing.assert_allclose(decoded(sent[0]["grad"]), params["w"].grad._data, rtol=1e-8)


def test_explore_does_not_touch_grad_and_gradients_match_finite_differences(tmp_path):
    from viz import explore
    loss, params, _ = small_graph()
    d = page_data(explore(loss, None, params=params))
    assert params["w"].grad is None and params["b"].grad is None
    view = build_graph(loss, params=params)
    w = params["w"]
    wg = decoded(d["tensors"][view.node_of(w).id]["grad"])

    def f():
        h = (tl.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=tl.float64) @ w + params["b"]).tanh()
        return float(((h * h).sum() + h.sum() * 0.5)._data)
    eps = 1e-6
    for i in range(2):
        for j in range(2):
            old = w._data[i, j]
            w._data[i, j] = old + eps
            up = f()
            w._data[i, j] = old - eps
            down = f()
            w._data[i, j] = old
            assert abs((up - down) / (2 * eps) - wg[i, j]) < 1e-7


def test_rule_is_written_out_with_the_numbers():
    from viz import explore
    x = tl.tensor([2.0, -1.0], requires_grad=True)
    y = tl.tensor([3.0, 4.0], requires_grad=True)
    loss = (x * y).sum()
    d = page_data(explore(loss, None, params={"x": x, "y": y}))
    mul = next(o for o in d["ops"].values() if o["name"] == "mul")
    assert mul["forward_text"] == "C = x * y = [2, -1] * [3, 4] = [6, -4]"
    assert mul["sends"][0]["text"] == "dx = dC * y = [1, 1] * [3, 4] = [3, 4]"
    assert mul["sends"][1]["text"] == "dy = dC * x = [1, 1] * [2, -1] = [2, -1]"
    assert mul["rule"] == "dx = dC * y, dy = dC * x" and mul["math"]  # the registry row's texts


def test_formulas_are_the_registry_rows_text():
    """The explorer writes no rule of its own: each forward line is the row's `forward`, each backward
    line the row's `rule` clause for that input (the text explain_backward shows), numbers put in for
    the inputs, dC, C and arguments such as p, never for `x's shape` (a property, not the values)."""
    from viz import explore, explain_backward
    from tinygrad_lite.ops import REGISTRY
    A = tl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    B = tl.tensor([[0.5], [-1.0]], requires_grad=True)
    loss = ((A @ B) ** 2).softmax(0).sum(-1).sum()
    d = page_data(explore(loss, None, params={"A": A, "B": B}))
    text = explain_backward(loss, params={"A": A, "B": B})
    ops = {o["name"]: o for o in d["ops"].values()}
    for name, o in ops.items():
        row = REGISTRY[name]
        assert o["forward_text"].startswith(f"C = {row.forward}")
        assert f"rule:   {name}: {row.rule}" in text  # explain_backward shows the same rule text
        for arg, s in zip(o["arg_names"], o["sends"]):
            clause = f"d{arg} = {row.input_rules(len(o['inputs']))[o['arg_names'].index(arg)]}"
            assert clause in row.rule and s["text"].startswith(clause)
    mm = ops["matmul"]
    assert mm["forward_text"] == "C = A @ B = [[1, 2], [3, 4]] @ [[0.5], [-1]] = [[-1.5], [-2.5]]"
    loss.backward()
    dB = mm["sends"][1]["text"]
    assert dB.startswith("dB = Aᵀ @ dC = [[1, 2], [3, 4]]ᵀ @ [[")
    assert dB.endswith(" = [[{}], [{}]]".format(*[f"{v:.4g}" for v in B.grad.numpy().ravel()]))
    p = ops["pow_scalar"]
    assert p["forward_text"] == "C = x^p = [[-1.5], [-2.5]]^2 = [[2.25], [6.25]]"
    assert p["sends"][0]["text"].startswith("dx = dC * p * x^(p-1) = [[") and "* 2 * [[-1.5], [-2.5]]^(2-1) = [[" \
        in p["sends"][0]["text"]
    sm = ops["softmax"]
    assert sm["sends"][0]["text"].startswith("dx = C * (dC - Σ(dC * C)) = [[")
    sums = [o for o in d["ops"].values() if o["name"] == "sum"]
    assert any(s["sends"][0]["text"].startswith("dx = dC broadcast back to x's shape = ") and
               s["sends"][0]["text"].count("x's shape") == 2 for s in sums)


def test_no_numbers_for_large_operands():
    from viz import explore
    x = tl.tensor(np.arange(20.0), requires_grad=True)
    y = tl.tensor(np.ones(20), requires_grad=True)
    d = page_data(explore((x * y).sum(), None))
    mul = next(o for o in d["ops"].values() if o["name"] == "mul")
    assert mul["forward_text"] == "C = x * y" and mul["sends"][0]["text"] == "dx = dC * y"


def test_large_tensors_are_heat_maps_with_stats():
    from viz import explore
    tl.manual_seed(0)
    w = tl.randn(100, 80, requires_grad=True)
    loss = (w * w).sum()
    d = page_data(explore(loss, None, params={"w": w}))
    wid = build_graph(loss, params={"w": w}).node_of(w).id
    v = d["tensors"][wid]["value"]
    assert "v" not in v and v["heat"]["rows"] == 64 and v["heat"]["cols"] == 64
    assert v["min"] == pytest.approx(float(w._data.min()), rel=1e-6)
    assert v["max"] == pytest.approx(float(w._data.max()), rel=1e-6)
    assert v["mean"] == pytest.approx(float(w._data.astype(np.float64).mean()), rel=1e-5, abs=1e-7)


def test_page_is_self_contained():
    from viz import explore
    loss, params, _ = small_graph()
    text = explore(loss, None, params=params).html
    assert "<script src" not in text and "<link" not in text and "@import" not in text
    # the only http(s) strings are the SVG namespace names (never fetched)
    urls = set(re.findall(r"https?://[^\s\\\"'<>)]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls


def test_collapsed_modules_have_expanded_layouts():
    from viz.steps import STEPS as GRAPH_STEPS
    from viz import explore
    loss, naming, title = GRAPH_STEPS["gpt"](0)
    d = page_data(explore(loss, None, collapse_depth=2, title=title, **naming))
    base = d["layouts"]["base"]
    assert set(base["boxes"].values()) >= {"h.0", "h.1"}
    for key, lay in d["layouts"].items():
        titles = set(re.findall(r"<title>([^<]*)</title>", lay["svg"]))
        # every op is drawn somewhere in every layout (as itself or inside a box)
        for oid in d["ops"]:
            assert lay["node_of"][oid] in titles, (key, oid)
        for bid, target in lay.get("expand", {}).items():
            if target:
                assert d["layouts"][target]["opened"] == lay["boxes"][bid]
    opened = {lay.get("opened") for lay in d["layouts"].values()}
    assert {"h.0", "h.0.attn", "h.1.mlp"} <= opened


def test_repr_html_is_a_sandboxed_iframe():
    from viz import explore
    loss, params, _ = small_graph()
    page = explore(loss, None, params=params)
    r = page._repr_html_()
    assert r.startswith("<iframe") and 'sandbox="allow-scripts"' in r and "srcdoc=" in r
    assert "<script>" not in r and "&lt;script&gt;" in r  # the page is escaped into the attribute


def test_clear_errors(tmp_path, monkeypatch):
    from viz import GraphvizNotInstalled, explore
    with pytest.raises(TypeError, match="explore: expected a tinygrad_lite Tensor"):
        explore(np.ones(3), None)
    loss, params, _ = small_graph()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotInstalled, match="explore: .*apt-get install graphviz"):
        explore(loss, None, params=params)


def test_cli_explore_writes_the_page_and_prints_its_path(tmp_path, capsys):
    from tinygrad_lite_app.cli import main
    from tinygrad_lite_app.cmd_explore import EXAMPLES
    from viz.steps import STEPS
    assert EXAMPLES == tuple(STEPS)
    out = tmp_path / "new" / "sg.html"
    assert main(["explore", "skipgram", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (7 ops: 7 forward and 7 backward steps)" in printed  # the tutorial's 7 ops
    d = page_data(type("P", (), {"html": out.read_text(encoding="utf-8")}))
    assert d["title"].startswith("skip-gram step: centre 'king', context 'queen'")
    assert {t["name"] for t in d["tensors"].values()} >= {"W_e", "W_o", "b_o"}
    assert main(["explore", "mlp", "--out", str(tmp_path / "a.txt")]) == 1
    assert "ending in .html" in capsys.readouterr().err


# ---- random user graphs: a pool of tensors, each new one made from earlier ones (reused: their
# gradients accumulate); the page's order, gradients and sums must be the engine's
from hypothesis import given, settings, strategies as st  # noqa: E402

UNARY = {"tanh": lambda a: a.tanh(), "exp": lambda a: (a * 0.3).exp(), "relu": lambda a: a.relu(),
         "neg": lambda a: -a, "sigmoid": lambda a: a.sigmoid(), "square": lambda a: a ** 2}
BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b,
          "matmul": lambda a, b: a @ b}


@st.composite
def programs(draw):
    n = draw(st.integers(2, 3))
    steps = []
    for k in range(draw(st.integers(1, 7))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, n + k - 1))))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, n + k - 1)),
                          draw(st.integers(0, n + k - 1))))
    return n, steps, draw(st.integers(0, 10_000))


@settings(max_examples=25, deadline=None)
@given(programs())
def test_random_graphs_match_the_engine(prog):
    from viz import explore
    n, steps, seed = prog
    rng = np.random.default_rng(seed)
    pool = [tl.tensor(rng.normal(size=(2, 2)), requires_grad=True) for _ in range(n)]
    leaves = list(pool)
    for s in steps:
        pool.append(UNARY[s[1]](pool[s[2]]) if s[0] == "u" else BINARY[s[1]](pool[s[2]], pool[s[3]]))
    loss = sum((t * (i + 1.0)).sum() for i, t in enumerate(pool[n:])) if len(pool) > n else pool[0].sum()
    params = {f"p{i}": t for i, t in enumerate(leaves)}
    d = page_data(explore(loss, None, params=params))
    view = build_graph(loss, params=params)
    order, grads = engine_run(loss, [t.tensor for t in view.tensors])
    assert [s["op"] for s in d["backward"]] == [view.node_of(t).producer for t in order if t._op is not None]
    for node in view.tensors:
        if not node.requires_grad:
            continue
        want = node.tensor.grad._data if node.producer is None else grads[id(node.tensor)]
        np.testing.assert_allclose(decoded(d["tensors"][node.id]["grad"]), want, rtol=1e-9, atol=1e-12)
        acc = [a for s in d["backward"] for a in s["accum"] if a["to"] == node.id]
        if node.grad_uses > 1:   # every use sends one gradient; the last running sum is the total
            assert [a["k"] for a in acc] == list(range(1, node.grad_uses + 1))
            np.testing.assert_allclose(decoded(acc[-1]["after"]), want, rtol=1e-9, atol=1e-12)
        else:
            assert acc == []


def test_a_user_defined_function_is_replayed_with_its_own_rule():
    from tinygrad_lite.autograd import Function
    from viz import explore

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x
    x = tl.tensor([1.0, 2.0], requires_grad=True, dtype=tl.float64)
    loss = (Cube.apply(x) * x).sum()          # x is used twice: by Cube and by mul
    d = page_data(explore(loss, None, params={"x": x}))
    xid = build_graph(loss, params={"x": x}).node_of(x).id
    acc = [a for s in d["backward"] for a in s["accum"] if a["to"] == xid]
    loss.backward()
    assert [a["k"] for a in acc] == [1, 2]
    np.testing.assert_allclose(sorted(decoded(a["add"]).tolist() for a in acc), [[1.0, 8.0], [3.0, 24.0]])
    np.testing.assert_allclose(decoded(acc[-1]["after"]), x.grad._data)


def test_explore_after_a_backward_that_kept_its_graph():
    """After backward(retain_graph=True) or inside autograd.keep_graph() the page is the same, and
    its gradients are the .grad the backward left."""
    from tinygrad_lite.autograd import keep_graph
    from viz import explore
    loss, params, _ = small_graph()
    with keep_graph():
        loss.backward()
    d = page_data(explore(loss, None, params=params))
    view = build_graph(loss, params=params)
    for name, p in params.items():
        np.testing.assert_allclose(decoded(d["tensors"][view.node_of(p).id]["grad"]), p.grad._data, rtol=1e-12)


def test_explore_after_a_plain_backward_shows_what_was_kept():
    """The micrograd habit: backward(), then look. No error: leaves show their .grad, retained
    intermediates their gradient, values still held are shown, the rest is marked freed; a second
    backward still raises PyTorch's error."""
    from viz import explore
    loss, params, h = small_graph()
    h.retain_grad()
    big = tl.tensor(np.linspace(-1, 1, 600).reshape(20, 30), requires_grad=True)
    big_out = (big.tanh() * 2.0).sum()  # its tanh result (4.8 kB) is released by the plain backward
    total = loss + big_out
    total.backward()
    d = page_data(explore(total, None, params=dict(params, big=big)))
    view = build_graph(total, params=dict(params, big=big))
    T = d["tensors"]
    for name, p in params.items():
        np.testing.assert_allclose(decoded(T[view.node_of(p).id]["grad"]), p.grad._data, rtol=1e-12)
    big_grad = T[view.node_of(big).id]["grad"]  # 600 numbers: a heat map with its stats
    np.testing.assert_allclose([big_grad["min"], big_grad["max"]], [big.grad._data.min(), big.grad._data.max()])
    np.testing.assert_allclose(decoded(T[view.node_of(h).id]["grad"]), h.grad._data, rtol=1e-12)
    np.testing.assert_allclose(decoded(T[view.node_of(h).id]["value"]), h._data, rtol=1e-12)  # h is held here
    assert decoded(T[view.node_of(total).id]["grad"]).item() == 1.0  # the seed
    tanh_id = next(n.id for n in view.tensors if n.producer and view.op(n.producer).name == "tanh"
                   and n.shape == (20, 30))
    assert T[tanh_id]["value"]["freed"].startswith("value freed by backward") and T[tanh_id]["value"]["shape"] == [20, 30]
    assert "not kept" in T[tanh_id]["grad"]["freed"]
    assert all(o["freed"] and all(s is None for s in o["sends"]) for o in d["ops"].values())
    assert all(s["accum"] == [] for s in d["backward"]) and len(d["backward"]) == len(view.ops)
    with pytest.raises(RuntimeError, match="second time"):
        total.backward()
