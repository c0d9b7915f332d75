"""Tests of viz/: the neutral graph view, DOT snapshots, marks, rendering, explain_backward, plots.

Regenerate the DOT snapshots with `UPDATE_SNAPSHOTS=1 python -m pytest tests/test_viz.py`.
"""
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.graph import GraphFreedError, build_graph
import viz
from viz.dot import NAN_COLOR
from helpers import in_ci

SNAP = Path(__file__).parent / "snapshots"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def have_dot():
    """Whether Graphviz's `dot` is on PATH. In CI its absence is a failure, not a silent skip:
    the rendering tests must run there."""
    if shutil.which("dot"):
        return True
    if in_ci():
        pytest.fail("Graphviz's 'dot' program is missing, and CI must run the rendering tests: install "
                    "Graphviz (apt-get install graphviz; `bash run.sh test` does it where it can)", pytrace=False)
    return False


def need_dot():
    """Skip a rendering test when `dot` is missing (outside CI); fail in CI (see have_dot)."""
    if not have_dot():
        pytest.skip("Graphviz 'dot' is not installed (set CI=1 to make this a failure)")


# ---------------------------------------------------------------------- small fixed graphs
def neuron():
    """tanh(w . x + b) for a 2-input neuron, with fixed numbers (micrograd's example). float64
    everywhere in the snapshot graphs, so the printed digits do not depend on the CPU's SIMD/BLAS."""
    x = tl.tensor([2.0, 0.0], dtype=tl.float64)
    w = tl.tensor([-3.0, 1.0], requires_grad=True, dtype=tl.float64)
    b = tl.tensor(6.8813735870195432, requires_grad=True, dtype=tl.float64)
    x.name = "x"
    out = ((w * x).sum() + b).tanh()
    return out, {"w": w, "b": b}


def mlp_graph():
    """A two-layer MLP on a batch of 4, parameters named like nn.Sequential's."""
    x = tl.tensor(np.linspace(-1, 1, 12).reshape(4, 3))
    W1 = tl.tensor(np.linspace(-0.5, 0.5, 15).reshape(3, 5), requires_grad=True)
    b1 = tl.tensor(np.full(5, 0.1), requires_grad=True)
    W2 = tl.tensor(np.linspace(0.3, -0.3, 10).reshape(5, 2), requires_grad=True)
    b2 = tl.zeros(2, requires_grad=True, dtype=tl.float64)
    h = (x @ W1 + b1).relu()
    loss = ((h @ W2 + b2) ** 2).mean()
    return loss, {"net.0.weight": W1, "net.0.bias": b1, "net.2.weight": W2, "net.2.bias": b2}


def shared_graph():
    """A tensor used three times (gradients accumulate) plus a broadcast add."""
    a = tl.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]], requires_grad=True, dtype=tl.float64)
    c = tl.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=tl.float64)
    y = a * a + a * c
    return y.sum(), {"a": a, "c": c}


class FakeModule:
    """A module-like object (named_parameters / named_modules) for naming without nn."""

    def __init__(self, **params):
        self._p = params

    def named_parameters(self):
        return iter(self._p.items())

    def named_modules(self):
        mods = {"": self}
        for n in self._p:
            parts = n.split(".")[:-1]
            for k in range(1, len(parts) + 1):
                mods.setdefault(".".join(parts[:k]), self)
        return iter(mods.items())


def _check_snapshot(name, source):
    path = SNAP / f"{name}.dot"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if not os.environ.get("UPDATE_SNAPSHOTS") and os.environ.get("CI"):
            pytest.fail(f"missing snapshot {path}; run with UPDATE_SNAPSHOTS=1")
        SNAP.mkdir(exist_ok=True)
        path.write_text(source, encoding="utf-8")
    assert source == path.read_text(encoding="utf-8"), \
        f"DOT text differs from {path}; if the change is intended, rerun with UPDATE_SNAPSHOTS=1"


# ---------------------------------------------------------------------- snapshots, determinism
def test_snapshot_neuron_values_and_grads():
    out, params = neuron()
    out.backward(retain_graph=True)
    dot = viz.draw_graph(out, params=params, show_values=True, show_grads=True)
    _check_snapshot("neuron", dot.source)


def test_snapshot_mlp_backward_view():
    loss, params = mlp_graph()
    dot = viz.draw_graph(loss, params=params, backward=True, show_saved=True)
    _check_snapshot("mlp_backward", dot.source)


def test_snapshot_shared_expanded_nodes():
    loss, params = shared_graph()
    dot = viz.draw_graph(loss, params=params, compact=False, rankdir="LR")
    _check_snapshot("shared_lr", dot.source)


def test_deterministic_source():
    srcs = []
    for _ in range(2):
        loss, params = mlp_graph()
        srcs.append(viz.draw_graph(loss, params=params, show_values=True, show_grads=True, backward=True).source)
    assert srcs[0] == srcs[1]
    assert "0x" not in srcs[0]  # no id()/addresses leak into the text


def test_ids_follow_walk_order_not_identity():
    loss, params = mlp_graph()
    v = build_graph(loss, params=params)
    assert [n.id for n in v.tensors] == [f"t{i}" for i in range(len(v.tensors))]
    assert [o.id for o in v.ops] == [f"op{i}" for i in range(len(v.ops))]
    pos = {n.id: i for i, n in enumerate(v.tensors)}
    for o in v.ops:  # every op's inputs come before its output
        assert all(pos[i] < pos[o.output] for i in o.inputs)
    assert v.root == v.tensors[-1].id and v.tensor(v.root).kind == "output"


# ---------------------------------------------------------------------- names, kinds, modules
def test_names_and_kinds_from_params():
    loss, params = mlp_graph()
    v = build_graph(loss, params=params)
    names = {n.name: n for n in v.tensors if n.name}
    assert set(params) <= set(names)
    assert names["net.0.weight"].kind == "parameter" and names["net.0.weight"].module == "net.0"
    kinds = {n.kind for n in v.tensors}
    assert {"parameter", "input", "constant", "output", "intermediate"} <= kinds
    mm = [o for o in v.ops if o.name == "matmul"]
    assert [o.module for o in mm] == ["net.0", "net.2"]
    # relu consumes no parameter: it sits between net.0 and net.2 (common prefix 'net')
    relu = next(o for o in v.ops if o.name == "relu")
    assert relu.module == "net"
    src = viz.draw_graph(loss, params=params).source
    assert "net.0.weight" in src and "subgraph cluster_" in src and "(3, 5) float64" in src


def test_names_from_model_and_own_name():
    x = tl.ones(2, 3)
    W = tl.ones(3, 4, requires_grad=True)
    h = x @ W
    h.name = "hidden"
    loss = h.sum()
    m = FakeModule(**{"blocks.0.attn.c_attn.weight": W})
    v = build_graph(loss, model=m)
    assert v.node_of(W).name == "blocks.0.attn.c_attn.weight"
    assert v.node_of(W).module == "blocks.0.attn.c_attn"
    assert v.node_of(h).name == "hidden"
    assert "blocks.0.attn.c_attn" in v.modules
    src = viz.draw_graph(loss, model=m).source
    assert "blocks.0.attn.c_attn.weight" in src and "hidden" in src


def test_nan_and_inf_highlighted():
    x = tl.tensor([1.0, -1.0, 4.0], requires_grad=True)
    with np.errstate(all="ignore"):
        y = x.log()  # log(-1) = nan
        z = (y / tl.tensor([1.0, 1.0, 0.0])).sum()  # 1/0 = inf
    v = build_graph(z)
    assert v.node_of(y).has_nan and not v.node_of(y).has_inf
    dot = viz.draw_graph(z, show_values=True)
    assert NAN_COLOR in dot.source and "NaN" in dot.source and "Inf" in dot.source
    node_line = next(l for l in dot.source.splitlines() if "<B>log</B>" in l)
    assert f'color="{NAN_COLOR}"' in node_line and "penwidth=3" in node_line
    clean = viz.draw_graph((x * 2).sum()).source
    assert NAN_COLOR not in clean


def test_nan_only_in_gradient_has_legend_row_and_no_warning(recwarn):
    """Finite values, NaN gradient (d sqrt(x)/dx at x = 0 times 0): the legend explains the red
    outline, and no numpy RuntimeWarning leaks out while the gradients are summarised."""
    x = tl.tensor([0.0, 1.0], requires_grad=True)
    x.name = "x"
    loss = (x.sqrt() * 0.0).sum()
    v_values = build_graph(loss, values=True)
    assert not any(n.nonfinite for n in v_values.tensors)  # every value is finite
    dot = viz.draw_graph(loss, show_values=True, show_grads=True)
    src = dot.source
    assert "NaN / Inf" in src  # the legend row
    legend = next(l for l in src.splitlines() if l.lstrip().startswith("legend"))
    assert "NaN / Inf" in legend and NAN_COLOR in legend
    x_line = next(l for l in src.splitlines() if "<B>x</B>" in l)
    assert f'color="{NAN_COLOR}"' in x_line and "NaN!" in x_line  # red outline, grad flagged
    text = viz.explain_backward(loss, params={"x": x})
    assert "contains NaN" in text
    viz.draw_graph(loss, backward=True)
    runtime = [w for w in recwarn.list if issubclass(w.category, RuntimeWarning)]
    assert not runtime, [str(w.message) for w in runtime]
    # and without a NaN anywhere there is no such row
    assert "NaN / Inf" not in viz.draw_graph((x * 2).sum(), show_grads=True).source


def test_broadcast_mark():
    x = tl.ones(4, 3, requires_grad=True)
    b = tl.ones(3, requires_grad=True)
    e = tl.ones(1, 3, requires_grad=True)
    loss = (x + b + e.expand(4, 3)).sum()
    v = build_graph(loss)
    adds = [o for o in v.ops if o.name == "add"]
    assert adds[0].broadcast == [1] and adds[1].broadcast == []
    assert next(o for o in v.ops if o.name == "expand").broadcast == [0]
    src = viz.draw_graph(loss).source
    assert "Σ→(3,)" in src and "Σ→(1, 3)" in src
    # computed from the rules themselves when gradients are computed
    vg = build_graph(loss, grads=True)
    assert [o.broadcast for o in vg.ops if o.name == "add"] == [[1], []]
    assert vg.ops[[o.name for o in vg.ops].index("add")].grad_out_raw_shape[1] == (4, 3)


def test_accumulation_mark():
    loss, params = shared_graph()
    v = build_graph(loss, params=params)
    a = v.node_of(params["a"])
    assert a.grad_uses == 3 and a.accumulates
    assert not v.node_of(params["c"]).accumulates
    src = viz.draw_graph(loss, params=params).source
    assert "⊕ grads from 3 uses add up" in src


def test_backward_numbering_matches_engine_order():
    loss, params = mlp_graph()
    v = build_graph(loss, params=params)
    order = v.backward_order()
    assert [o.backward_step for o in order] == list(range(1, len(v.ops) + 1))
    seqs = [v.tensor(o.output).seq for o in order]
    assert seqs == sorted(seqs, reverse=True)  # decreasing creation order
    # and it is the order in which the engine really calls tensor hooks
    seen = []
    for o in v.ops:
        t = v.tensor(o.output).tensor
        t.register_hook(lambda g, _id=o.id: seen.append(_id))
    loss.backward()
    assert seen == [o.id for o in order]
    src = viz.draw_graph(mlp_graph()[0], backward=True).source
    assert "<B>1. mean</B>" in src or "<B>1. " in src


def test_backward_view_colours_and_rules():
    loss, params = mlp_graph()
    src = viz.draw_graph(loss, params=params, backward=True).source
    assert "dA = dC @ Bᵀ, dB = Aᵀ @ dC" in src
    assert "fill = ‖grad‖" in src
    fills = set(re.findall(r'fillcolor="(#[0-9a-f]{6})"', src))
    assert len(fills) >= 3  # several gradient magnitudes -> several colours


def test_max_nodes_error():
    x = tl.ones(3, requires_grad=True)
    y = x
    for _ in range(40):
        y = y * 1.5
    with pytest.raises(ValueError, match="max_nodes=20.*collapse_depth"):
        viz.draw_graph(y.sum(), max_nodes=20)


def test_collapse_modules():
    loss, params = mlp_graph()
    full = viz.draw_graph(loss, params=params)
    col = viz.draw_graph(loss, params=params, collapse=["net.0"])
    assert "net.0 " in col.source or ">net.0<" in col.source
    assert "box3d" in col.source and col.source.count("->") < full.source.count("->")
    dep = viz.draw_graph(loss, params=params, collapse_depth=1)
    assert dep.source.count("box3d") == 1  # everything under 'net' is one box


def test_graph_is_drawn_after_a_plain_backward():
    """The micrograd habit: backward, then draw. Names, shapes, ops and the leaves' .grad are shown;
    intermediate gradients, not kept, are marked; a second backward still raises PyTorch's error."""
    loss, params = mlp_graph()
    loss.backward()
    dot = viz.draw_graph(loss, params=params, show_grads=True, show_values=True)
    for name in params:
        assert name in dot.source
    assert "matmul" in dot.source and "relu" in dot.source
    w1 = params["net.0.weight"]
    assert "grad " in dot.source and "grad not kept" in dot.source
    v = build_graph(loss, params=params, grads=True, values=True)
    n = v.node_of(w1)
    assert math.isclose(n.grad.norm, float(np.linalg.norm(w1.grad._data)), rel_tol=1e-6)
    assert n.value is not None and n.value.shape == w1.shape  # parameters keep their values
    inter = [n for n in v.tensors if n.kind == "intermediate"]
    assert inter and all(n.grad is None and n.grad_freed for n in inter)
    assert all(o.freed for o in v.ops)
    text = viz.explain_backward(loss, params=params)
    assert "Step 1:" in text and "freed by backward" in text and "net.0.weight" in text
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()
    assert issubclass(GraphFreedError, RuntimeError)  # still importable for code that catches it


def test_retained_graph_grads_match_dot_grad():
    loss, params = mlp_graph()
    loss.backward(retain_graph=True)
    v = build_graph(loss, params=params, grads=True)
    for name, p in params.items():
        n = v.node_of(p)
        assert math.isclose(n.grad.norm, float(np.linalg.norm(p.grad._data)), rel_tol=1e-5)
    # drawing computed no new .grad
    before = params["net.0.weight"].grad._data.copy()
    viz.draw_graph(loss, params=params, show_grads=True)
    np.testing.assert_array_equal(params["net.0.weight"].grad._data, before)


def test_deep_graph_no_recursion():
    x = tl.ones(1, requires_grad=True)
    y = x
    for _ in range(50_000):  # 50k ops + 50k tensors = 100k nodes
        y = y + 1.0
    v = build_graph(y)
    assert len(v.ops) == 50_000 and len(v) > 100_000 - 10
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw_graph(y)


# ---------------------------------------------------------------------- rendering
@pytest.mark.parametrize("ext,magic", [("svg", b"<?xml"), ("png", PNG_MAGIC), ("pdf", b"%PDF")])
def test_render_formats(tmp_path, ext, magic):
    need_dot()
    out, params = neuron()
    out.backward(retain_graph=True)
    dot = viz.draw_graph(out, params=params, show_values=True, show_grads=True)
    p = viz.render(dot, tmp_path / f"g.{ext}")
    data = Path(p).read_bytes()
    assert data.startswith(magic) and len(data) > 500


def test_render_dot_text_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    loss, params = shared_graph()
    dot = viz.draw_graph(loss, params=params)
    p = viz.render(dot, tmp_path / "g.dot")
    assert Path(p).read_text(encoding="utf-8") == dot.source


def test_missing_dot_program_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    loss, params = shared_graph()
    dot = viz.draw_graph(loss, params=params)  # building the DOT text still works
    assert dot.source.startswith("digraph")
    with pytest.raises(viz.GraphvizNotInstalled) as info:
        viz.render(dot, tmp_path / "g.png")
    err = info.value
    assert isinstance(err, RuntimeError)
    msg = str(err)
    assert "apt-get install graphviz" in msg and "brew install graphviz" in msg and "conda" in msg
    assert err.__cause__ is None and err.__suppress_context__  # raised `from None`: no library traceback


def test_missing_dot_via_backend_patch(tmp_path, monkeypatch):
    import graphviz

    def boom(*a, **k):
        raise graphviz.ExecutableNotFound(["dot"])
    monkeypatch.setattr(graphviz.Source, "pipe", boom)
    monkeypatch.setattr(graphviz.Digraph, "pipe", boom)
    loss, params = shared_graph()
    with pytest.raises(viz.GraphvizNotInstalled, match="Install Graphviz"):
        viz.render(viz.draw_graph(loss, params=params), tmp_path / "g.svg")


def test_missing_dot_fails_in_ci_instead_of_skipping(tmp_path, monkeypatch):
    """Without `dot`, a rendering test skips locally but fails when CI is set, so CI cannot
    silently skip the rendering tests."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CI", raising=False)
    assert have_dot() is False
    with pytest.raises(pytest.skip.Exception):
        need_dot()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        need_dot()
    for value in ("1", "true"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.fail.Exception, match="CI must run the rendering tests"):
            need_dot()
        with pytest.raises(pytest.fail.Exception):
            have_dot()


def test_ci_run_sets_ci():
    """`.ci/run` exports CI=1 before the test command, so the rendering tests fail there without dot."""
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    lines = [l.split("#")[0].strip() for l in script.splitlines()]
    assert "export CI=1" in lines
    assert lines.index("export CI=1") < next(i for i, l in enumerate(lines) if l.startswith("bash run.sh test"))


def test_jupyter_display_hook(tmp_path, monkeypatch):
    import graphviz
    loss, params = shared_graph()
    dot = viz.draw_graph(loss, params=params)
    assert isinstance(dot, graphviz.Digraph)  # displays inline in notebooks
    if have_dot():
        assert dot._repr_mimebundle_()["image/svg+xml"].lstrip().startswith("<?xml")
        assert Path(dot.render_to(tmp_path / "g.svg")).read_bytes().startswith(b"<?xml")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    bundle = dot._repr_mimebundle_()  # no traceback in the notebook, the install hint instead
    assert "apt-get install graphviz" in bundle["text/plain"]


# ---------------------------------------------------------------------- explain_backward
def test_explain_backward_linear_relu():
    tl.manual_seed(0)
    x = tl.randn(4, 3)
    W = tl.randn(3, 2, requires_grad=True)
    b = tl.randn(2, requires_grad=True)
    loss = (x @ W + b).relu().sum()
    text = viz.explain_backward(loss, params={"W": W, "b": b})
    assert "matmul" in text and "dA = dC @ Bᵀ" in text and "dB = Aᵀ @ dC" in text
    assert "A = t0 (input) (4, 3), B = W (3, 2) -> C (4, 2)" in text
    steps = re.findall(r"^Step (\d+): (\w+)", text, re.M)
    assert [s[1] for s in steps] == ["sum", "relu", "add", "matmul"]
    assert [int(s[0]) for s in steps] == [1, 2, 3, 4]
    assert "Σ summed over broadcast dims (4, 2) -> (2,)" in text
    loss.backward()
    for name, p in (("W", W), ("b", b)):
        m = re.search(rf"^\s+out:\s+d\w -> {name} \([\d, ]+\): ‖g‖ = ([-\d.e+]+)", text, re.M)
        assert m, text
        assert math.isclose(float(m.group(1)), float(np.linalg.norm(p.grad._data)), rel_tol=1e-3)


def test_explain_marks_accumulation_and_print(capsys):
    loss, params = shared_graph()
    text = viz.explain_backward(loss, params=params)
    assert "⊕ accumulates: a is used 3 times" in text
    viz.print_backward(loss, params=params)
    assert capsys.readouterr().out == text


# ---------------------------------------------------------------------- plots
def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _label_boxes(fig):
    """Display-space boxes of the point labels (annotations) of a figure's first axes."""
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts]


def test_plots_write_png(tmp_path):
    from viz.plots import plot_attention, plot_embeddings_pca, plot_training_curves
    rng = np.random.default_rng(0)
    p1 = plot_training_curves({"loss": list(np.linspace(3, 1, 50)), "val_loss": [(0, 3.1), (25, 2.0), (49, 1.4)]},
                              tmp_path / "curves.png")
    p1b = plot_training_curves([3.0, 2.5, 2.0], tmp_path / "curves2.png", val_loss=[2.9, 2.7])
    vecs = rng.normal(size=(30, 8))
    words = [f"w{i}" for i in range(30)]
    p2 = plot_embeddings_pca(vecs, words, tmp_path / "pca.png", highlight=["w1", "w5"])
    att = rng.random((3, 5, 5))
    att /= att.sum(-1, keepdims=True)
    p3 = plot_attention(att, list("hello"), tmp_path / "att.png")
    p4 = plot_attention(att[0], None, tmp_path / "att1.png")
    assert _png_size(p1) == (640, 400) and _png_size(p1b) == (640, 400)
    assert _png_size(p2) == (700, 600)  # the figure of embeddings_pca_figure, saved
    assert _png_size(p3)[0] > _png_size(p4)[0]  # three panels are wider than one
    import matplotlib.pyplot as plt
    assert not plt.get_fignums()  # every plot_* closes its figure


def test_training_curves_figure_contents():
    import matplotlib.pyplot as plt
    from viz.plots import training_curves_figure
    fig = training_curves_figure({"loss": list(np.linspace(3, 1, 50)), "val_loss": [(0, 3.1), (25, 2.0), (49, 1.4)]},
                                 title="my run")
    ax = fig.axes[0]
    assert ax.get_title() == "my run" and ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert set(lines) == {"loss", "val loss"}
    assert len(lines["loss"].get_xdata()) == 50
    np.testing.assert_array_equal(lines["val loss"].get_xdata(), [0, 25, 49])
    np.testing.assert_array_equal(lines["val loss"].get_ydata(), [3.1, 2.0, 1.4])
    plt.close(fig)


def test_attention_figure_contents():
    import matplotlib.pyplot as plt
    from viz.plots import attention_figure
    att = np.random.default_rng(0).random((3, 5, 5))
    fig = attention_figure(att, list("he lo"), title="att")
    panels = [ax for ax in fig.axes if ax.get_title().startswith("head")]
    assert [ax.get_title() for ax in panels] == ["head 0", "head 1", "head 2"]
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["h", "e", "␣", "l", "o"]  # space made visible
    assert fig._suptitle.get_text() == "att"
    assert len(fig.axes) == 3 + 1  # three panels and the colour bar
    for h, ax in enumerate(panels):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), att[h])
    plt.close(fig)
    fig = attention_figure(np.ones((6, 4, 4)) / 4, None)  # 6 heads: a 2 x 4 grid, two cells left empty
    shown = [ax for ax in fig.axes if ax.get_title().startswith("head")]
    assert len(shown) == 6 and sum(not ax.axison for ax in fig.axes) == 2
    plt.close(fig)


def test_embeddings_pca_labels_all_points_when_there_is_room():
    import matplotlib.pyplot as plt
    from viz.plots import embeddings_pca_figure
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    vecs = np.stack([np.cos(angles), np.sin(angles), np.zeros(8)], 1) * 10  # 8 points far apart
    words = [f"word{i}" for i in range(8)]
    fig = embeddings_pca_figure(vecs, words, highlight=["word1", "word5"], title="pca test")
    ax = fig.axes[0]
    assert ax.get_title() == "pca test"
    assert ax.get_xlabel().startswith("PC 1 (") and ax.get_ylabel().startswith("PC 2 (")
    texts = {t.get_text(): t for t in ax.texts}
    assert sorted(texts) == words and sorted(fig.labelled) == list(range(8))
    assert fig.highlighted == [1, 5]
    bold = {w for w, t in texts.items() if t.get_fontweight() == "bold"}
    assert bold == {"word1", "word5"}  # the highlighted words stand out
    points = [c.get_offsets() for c in ax.collections]
    assert [len(p) for p in points] == [6, 2]  # grey points, then the highlighted ones in colour
    plt.close(fig)


def test_embeddings_pca_crowded_labels_do_not_overlap():
    import matplotlib.pyplot as plt
    from viz.plots import embeddings_pca_figure
    rng = np.random.default_rng(0)
    cluster = rng.normal(scale=0.01, size=(30, 4))             # 30 words almost on top of each other
    spread = rng.normal(scale=5.0, size=(10, 4))
    vecs = np.concatenate([cluster, spread])
    words = [f"crowd{i}" for i in range(30)] + [f"far{i}" for i in range(10)]
    fig = embeddings_pca_figure(vecs, words, highlight=["crowd3", "crowd17"])
    boxes = _label_boxes(fig)
    names = [n for n, _ in boxes]
    assert "crowd3" in names and "crowd17" in names     # highlighted words are always labelled
    assert len(names) < len(words)                       # the crowd is not labelled on top of itself
    assert sum(n.startswith("crowd") for n in names) <= 6
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i][1].overlaps(boxes[j][1]), (boxes[i][0], boxes[j][0])
    frame = fig.axes[0].get_window_extent(fig.canvas.get_renderer())
    for n, bb in boxes:  # labels stay inside the axes
        assert frame.x0 <= bb.x0 and bb.x1 <= frame.x1 and frame.y0 <= bb.y0 and bb.y1 <= frame.y1, n
    plt.close(fig)
    # max_labels caps the labels of the other points (highlighted ones always shown)
    fig = embeddings_pca_figure(vecs, words, highlight=["crowd3"], max_labels=2)
    assert len(fig.axes[0].texts) == 3 and "crowd3" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)


def test_demo_plot_stage_highlights_the_probe_words(tmp_path, monkeypatch):
    """The demo's word-vector PCA highlights its probe words (and labels them)."""
    import viz.plots
    from tinygrad_lite_app import demo

    class WV(dict):
        pass
    rng = np.random.default_rng(0)
    wv = WV({w: rng.normal(size=8) for w in ["list", "tuple", "dict", "string", "bytes", "text", "set"]})
    calls = []
    real = viz.plots.plot_embeddings_pca

    def spy(vectors, labels, path, **kw):
        calls.append((list(labels), kw))
        return real(vectors, labels, path, **kw)
    monkeypatch.setattr(viz.plots, "plot_embeddings_pca", spy)
    d = demo._Demo(tmp_path, demo.Settings.fast(), 0, True)
    d.results["skipgram"] = demo.StageResult("sg", data={
        "wv": wv, "probes": ["list", "string"], "history": [],
        "neighbours": {"list": [("tuple", 0.9), ("dict", 0.8), ("set", 0.7)], "string": [("bytes", 0.9), ("text", 0.8)]}})
    res = demo.StageResult("plots")
    demo._stage_plots(d, res)
    assert len(calls) == 1
    labels, kw = calls[0]
    assert labels[:2] == ["list", "string"] and set(labels) == set(wv)
    assert list(kw.get("highlight") or []) == ["list", "string"]
    assert (tmp_path / "plots" / "word_vectors_pca.png").exists()


def test_pca_matches_svd():
    from viz.plots import pca_2d
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 5)) * np.array([5, 2, 1, 0.5, 0.1])
    coords, ratio = pca_2d(X)
    Xc = X - X.mean(0)
    assert coords.shape == (20, 2) and ratio[0] > ratio[1]
    np.testing.assert_allclose(np.abs(coords.T @ coords), np.abs(np.diag(np.linalg.svd(Xc)[1][:2] ** 2)), atol=1e-8)


# ---------------------------------------------------------------------- the models' graphs
def test_graph_of_mlp_training_step(tmp_path):
    import tinygrad_lite.nn as nn
    import tinygrad_lite.nn.functional as F
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = tl.randn(16, 4), tl.tensor(np.arange(16) % 3)
    with viz.trace_modules(model) as tr:
        loss = F.cross_entropy(model(x), y)
    loss.backward(retain_graph=True)
    v = build_graph(loss, model=model, trace=tr, grads=True)
    names = {n.name for n in v.tensors if n.kind == "parameter"}
    assert names == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert {o.module for o in v.ops} >= {"0", "1", "2"}  # the ReLU is found by the trace
    for n in v.tensors:
        if n.kind == "parameter":
            assert math.isclose(n.grad.norm, float(np.linalg.norm(n.tensor.grad._data)), rel_tol=1e-5)
    dot = viz.draw_graph(loss, model=model, trace=tr, backward=True)
    assert "0.weight" in dot.source and "1. " in dot.source
    text = viz.explain_backward(loss, model=model)
    assert "Step 1:" in text and "0.weight" in text
    if have_dot():
        assert Path(viz.render(dot, tmp_path / "mlp.svg")).stat().st_size > 1000


def test_graph_of_skipgram_step():
    import models.skipgram as sg
    m = sg.SkipGramSoftmax(3, 3, W_e=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]],
                           W_o=[[0.2, 0.3, 0.4], [0.5, 0.6, 0.7], [0.8, 0.9, 1.0]], b_o=[0.1, 0.1, 0.1])
    loss = m.loss([0], [1])
    params = {"W_e": m.W_e, "W_o": m.W_o, "b_o": m.b_o}
    v = build_graph(loss, params=params, grads=True, values=True)
    ops = [o.name for o in v.ops]
    assert "matmul" in ops and "log_softmax" in ops and "getitem" in ops
    assert next(o for o in v.ops if o.name == "add").broadcast == [1]  # b_o is broadcast over the batch
    # the gradient on the scores matches the worked example: softmax - onehot(queen)
    add = next(o for o in v.ops if o.name == "add")
    np.testing.assert_allclose(v.tensor(add.output).grad.values, [0.31355, -0.66707, 0.35352], atol=1e-5)
    src = viz.draw_graph(loss, params=params, show_values=True, show_grads=True).source
    assert "W_e" in src and "b_o" in src and "Σ→(3,)" in src


def test_graph_of_one_attention_block():
    import models.gpt as gpt
    tl.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=16))
    block = model.h[0]
    x = tl.randn(2, 8, 16, requires_grad=True)
    with viz.trace_modules(block) as tr:
        y = block(x)
    loss = y.sum()
    v = build_graph(loss, model=block, trace=tr)
    assert v.node_of(x).kind == "input"  # requires grad, but not a parameter of the block
    mods = {o.module for o in v.ops}
    assert {"attn", "attn.c_attn", "attn.c_proj", "ln_1", "ln_2", "mlp.c_fc"} <= mods
    att_ops = [o.name for o in v.ops if o.module == "attn"]
    assert att_ops.count("matmul") == 2  # q @ kᵀ and att @ v
    src = viz.draw_graph(loss, model=block, trace=tr).source
    assert "attn.c_attn.weight" in src and "cluster_" in src
    assert src == viz.draw_graph(loss, model=block, trace=tr).source


def test_gpt_training_graph_collapses_readably():
    import models.gpt as gpt
    tl.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=16, block_size=8, n_layer=4, n_head=2, n_embd=16))
    idx = tl.tensor(np.random.default_rng(0).integers(0, 16, (2, 8)))
    with viz.trace_modules(model) as tr:
        _, loss = model(idx, idx)
    with pytest.raises(ValueError, match="collapse_depth"):
        viz.draw_graph(loss, model=model, trace=tr, max_nodes=60)
    dot = viz.draw_graph(loss, model=model, trace=tr, collapse_depth=2, max_nodes=60, backward=True)
    assert dot.source.count("box3d") == 4  # h.0 .. h.3, one box each
    assert all(f"h.{i} (Block)" in dot.source for i in range(4))
    n_nodes = len(re.findall(r"^\s+(?:t|op|box)\d+ \[", dot.source, re.M))
    assert n_nodes <= 40


def test_view_as_dict_is_json():
    import json
    loss, params = mlp_graph()
    d = build_graph(loss, params=params, values=True, grads=True).as_dict()
    text = json.dumps(d)
    back = json.loads(text)
    assert back["root"] == d["tensors"][-1]["id"]
    assert {o["name"] for o in back["ops"]} >= {"matmul", "add", "relu"}
    assert sorted(o["backward_step"] for o in back["ops"]) == list(range(1, len(back["ops"]) + 1))
