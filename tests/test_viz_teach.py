"""Pictures and text that teach without misleading (issue 19): gradient fills that cannot be read as
node kinds and sit on an absolute scale, small tensors in full, the user's names and arguments as
written, a loss with enough digits, steps grouped by the module that ran them, whole steps only."""
import re

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
import viz
from viz.dot import COLLAPSED_STYLE, KIND_STYLE, SCALE, ZERO_GRAD, _grad_color, grad_scale_bounds

KQC = dict(W_e=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]],
           W_o=[[0.2, 0.3, 0.4], [0.5, 0.6, 0.7], [0.8, 0.9, 1.0]], b_o=[0.1, 0.1, 0.1])


def skipgram(named=True):
    """The tutorial's step: loss = -(y * log_softmax(W_e[king] @ W_o + b_o, dim=-1)).sum()."""
    W_e, W_o, b_o = (tl.tensor(KQC[k], dtype=tl.float64, requires_grad=True) for k in ("W_e", "W_o", "b_o"))
    e = W_e[0]
    s = e @ W_o + b_o
    log_p = s.log_softmax(dim=-1)
    y = tl.tensor(np.eye(3)[1])
    loss = -(y * log_p).sum()
    if named:
        for t, n in ((e, "e"), (s, "s"), (log_p, "log_p"), (y, "y"), (loss, "loss")):
            t.name = n
    return loss, {"W_e": W_e, "W_o": W_o, "b_o": b_o}


def node_line(src, name):
    """The DOT statement of the node labelled <B>name</B>."""
    return next(line for line in src.splitlines() if f"<B>{name}</B>" in line)


def fill_of(line):
    return re.search(r'fillcolor="(#[0-9a-f]{6})"', line).group(1)


# ------------------------------------------------------------------ palette and scale
def test_gradient_palette_is_not_a_node_kind_colour():
    kind_fills = {style[0] for style in KIND_STYLE.values()} | {COLLAPSED_STYLE[0]}
    assert not (set(SCALE) & kind_fills)
    for c in SCALE:  # every shade is a red: red channel dominant, unlike blue/green/gold kinds
        r, g, b = (int(c[i:i + 2], 16) for i in (1, 3, 5))
        assert r > g + 10 and abs(g - b) <= 12, c
    reds = [int(c[1:3], 16) - int(c[3:5], 16) for c in SCALE]
    assert reds == sorted(reds)  # monotone: darker red = larger gradient


def test_fixed_scale_gives_the_same_colour_to_the_same_norm_in_two_graphs():
    """Two graphs with very different gradient ranges: the parameter whose gradient norm is 0.5 in
    both gets one colour on the fixed scale, two different colours on the relative ('auto') one."""
    a = tl.tensor([0.3, 0.4], requires_grad=True)      # d sum(a*k)/da = k, |k| = 0.5
    small = (a * tl.tensor([0.3, 0.4])).sum()
    b = tl.tensor([0.3, 0.4], requires_grad=True)
    c = tl.tensor([1.0, 1.0], requires_grad=True)
    d = tl.tensor([1.0, 1.0], requires_grad=True)
    big = (b * tl.tensor([0.3, 0.4])).sum() + (c * 1e4).sum() + (d * 1e-6).sum()  # |dc| 1.4e4, |dd| 1.4e-6
    a.name, b.name, c.name, d.name = "a", "b", "c", "d"
    for fixed, expect_same in (("log", True), ("auto", False)):
        fa = fill_of(node_line(viz.draw_graph(small, backward=True, grad_scale=fixed).source, "a"))
        fb = fill_of(node_line(viz.draw_graph(big, backward=True, grad_scale=fixed).source, "b"))
        assert (fa == fb) is expect_same, (fixed, fa, fb)
    # on the fixed scale, 0.5 lies in the decade 0.1 - 1 and 1.4e4 beyond the top bound
    lo, hi = grad_scale_bounds("log", None, [])
    assert _grad_color(0.5, lo, hi) == SCALE[5] and _grad_color(1.4e4, lo, hi) == SCALE[-1]
    assert _grad_color(1e-9, lo, hi) == SCALE[0] and _grad_color(0.0, lo, hi) == ZERO_GRAD
    # custom bounds move the decades
    lo, hi = grad_scale_bounds("log", (1e-3, 1e6), [])
    assert _grad_color(0.5, lo, hi) == SCALE[2]


def test_legend_states_the_scale_and_its_bounds():
    loss, params = skipgram()
    loss.backward(retain_graph=True)
    legend = next(l for l in viz.draw_graph(loss, params=params, backward=True).source.splitlines()
                  if l.lstrip().startswith("legend"))
    assert "absolute log scale, fixed bounds 1e-6 – 1000" in legend
    assert "≤ 1e-5" in legend and "0.1 – 1" in legend and "≥ 100" in legend and "grad = 0" in legend
    legend = next(l for l in viz.draw_graph(loss, params=params, backward=True, grad_scale="auto",
                                            ).source.splitlines() if l.lstrip().startswith("legend"))
    assert "relative scale" in legend and "absolute" not in legend
    legend = next(l for l in viz.draw_graph(loss, params=params, backward=True, grad_bounds=(1e-4, 10),
                                            ).source.splitlines() if l.lstrip().startswith("legend"))
    assert "fixed bounds 1e-4 – 10" in legend


@pytest.mark.parametrize("kw, match", [(dict(grad_scale="linear"), "grad_scale='linear' is not one of"),
                                       (dict(grad_bounds=(1.0, 0.1)), "0 < low < high"),
                                       (dict(grad_bounds=(0, 1)), "0 < low < high"),
                                       (dict(grad_bounds="big"), "two positive numbers"),
                                       (dict(grad_scale="auto", grad_bounds=(1e-3, 1)), "only with grad_scale='log'")])
def test_bad_scale_arguments_are_clear_errors(kw, match):
    loss, params = skipgram()
    with pytest.raises(ValueError, match=match):
        viz.draw_graph(loss, params=params, backward=True, **kw)


# ------------------------------------------------------------------ numbers in full
def test_small_embedding_gradient_is_listed_in_full_row_by_row():
    loss, params = skipgram()
    loss.backward(retain_graph=True)
    src = viz.draw_graph(loss, params=params, show_values=True, show_grads=True).source
    w_e = node_line(src, "W_e")
    g = params["W_e"].grad.numpy()
    assert np.count_nonzero(g[1:]) == 0 and np.all(g[0] != 0)   # one row gets a gradient
    row0 = "[" + ", ".join(f"{v:.4g}" for v in g[0]) + "]"
    assert f"grad {row0}" in w_e                               # the non-zero row, every value
    assert w_e.count("[0, 0, 0]") == 2                         # and the two zero rows
    assert "data [0.1, 0.2, 0.3]" in w_e and "[0.7, 0.8, 0.9]" in w_e
    text = viz.explain_backward(loss, params=params)
    assert f"W_e (3, 3): ‖g‖ = {np.linalg.norm(g):.4g}, values [{row0}, [0, 0, 0], [0, 0, 0]]" in text


def test_larger_tensors_keep_the_summary():
    w = tl.randn(7, 6, requires_grad=True)                 # 42 elements > 36
    w.name = "w"
    v = tl.randn(6, 6, requires_grad=True)                 # 36 elements: in full
    v.name = "v"
    loss = (w.sum(0) * v).sum()
    loss.backward(retain_graph=True)
    src = viz.draw_graph(loss, show_grads=True).source
    assert "min " in node_line(src, "w") and "max " in node_line(src, "w")
    assert "min " not in node_line(src, "v") and len(re.findall(r"\[[-\d.e, ]+\]", node_line(src, "v"))) == 6
    assert "min " not in node_line(viz.draw_graph(loss, show_grads=True, full_numbers=42).source, "w")


def test_rounding_noise_prints_as_zero_but_small_values_do_not():
    x = tl.tensor([[1.0, -4e-19], [2e-3, 1e-7]], dtype=tl.float64, requires_grad=True)
    x.name = "x"
    src = viz.draw_graph((x * 1.0).sum(), show_values=True).source
    assert "data [1, 0]" in node_line(src, "x") and "[0.002, 1e-07]" in node_line(src, "x")


def test_loss_has_enough_digits():
    loss, params = skipgram()
    assert abs(loss.item() - 1.09981) < 5e-6
    text = viz.explain_backward(loss, params=params)
    assert text.splitlines()[0].endswith("value 1.09981")
    src = viz.draw_graph(loss, params=params, show_values=True).source
    assert "data 1.09981" in node_line(src, "loss")


# ------------------------------------------------------------------ names and arguments as written
def test_explain_uses_the_users_names_where_the_rule_letters_clash():
    loss, params = skipgram()
    text = viz.explain_backward(loss, params=params)
    mul = text[text.index(": mul"):text.index("Step 4")]
    assert "dy = dC * log_p, dlog_p = dC * y" in mul        # mul's rule in the user's names
    assert "d(y*log_p)/dy = log_p" in mul
    assert "shapes: y (3,), log_p (3,) -> C (3,)" in mul
    assert "out:    dlog_p -> log_p (3,)" in mul and "out:    dy -> y: none" in mul
    assert "x = s (3,)" in text                              # no clash: the rule's own x, named s
    # the picture's edges and rule use the same names
    src = viz.draw_graph(loss, params=params, backward=True).source
    assert "dy = dC * log_p, dlog_p = dC * y" in src and "-> op4 [label=log_p]" in src
    # without user names the rule keeps its letters
    bare, params = skipgram(named=False)
    assert "dx = dC * y, dy = dC * x" in viz.explain_backward(bare, params=params)


def test_rule_renaming_does_not_chain_or_touch_longer_words():
    from viz.names import input_labels, rule_with_names
    labels, renamed = input_labels(("x", "y"), ("y", None))
    assert renamed and labels == ("y", "y′")               # the unnamed input is primed, not merged
    assert rule_with_names("dx = dC * y, dy = dC * x", ("x", "y"), labels) == "dy = dC * y′, dy′ = dC * y"
    assert rule_with_names("d max(x,y)/dx = [x>y] x_i", ("x", "y"), ("a", "b")) == "d max(a,b)/da = [a>b] x_i"
    assert input_labels(("x", "y"), ("x", "w")) == (("x", "y"), False)  # same letter, same place: no clash
    assert input_labels(("x", "y"), ("x", "x")) == (("x", "y"), False)  # x * x: one tensor, no clash
    assert rule_with_names("dA = dC @ Bᵀ", ("A", "B"), ("net.0.weight", "B")) == "d(net.0.weight) = dC @ Bᵀ"


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_dim_appears_as_written(op):
    x = tl.randn(2, 3, requires_grad=True)
    for dim, shown in ((-1, "dim=-1"), (1, "dim=1"), (-2, "dim=-2"), (0, "dim=0")):
        loss = (getattr(x, op)(dim=dim) * tl.randn(2, 3)).sum()
        text = viz.explain_backward(loss)
        assert f": {op} {shown}\n" in text, text
        assert f"{op} {shown}" in viz.draw_graph(loss).source


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_negative_dim_gives_the_same_numbers_and_gradients(op):
    rng = np.random.default_rng(0)
    data, w = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    grads = []
    for dim in (-1, 2, -2, 1):
        x = tl.tensor(data, requires_grad=True)
        y = getattr(x, op)(dim=dim)
        (y * tl.tensor(w)).sum().backward()
        grads.append((y.detach().numpy(), x.grad.numpy()))
    for a, b in ((0, 1), (2, 3)):
        np.testing.assert_array_equal(grads[a][0], grads[b][0])
        np.testing.assert_allclose(grads[a][1], grads[b][1], rtol=1e-12, atol=1e-15)
    assert tl.tensor(data).requires_grad_().softmax(-1)._args == -1


# ------------------------------------------------------------------ symbols, modules, whole steps
def test_cross_entropy_explains_its_symbols():
    logits = tl.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(logits, tl.tensor(np.array([0, 2, 1, 0])))
    text = viz.explain_backward(loss)
    assert "math:   loss_i = r_i" in text
    for sym in ("r_i", "coefs", "t_i", "smoothing", "target"):
        assert re.search(rf"^  where:  {sym} = \S", text, re.M), sym
    src = viz.draw_graph(loss, backward=True).source
    assert "target: the target classes" in src               # the picture defines its rule's symbols too


def test_explain_groups_steps_by_the_module_that_ran_them():
    """One GPT block: each step sits under a header naming the module whose forward ran the op, the
    same module the picture's clusters use (view.ops[...].module)."""
    from models.gpt import GPT, GPTConfig
    tl.manual_seed(0)
    block = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=16)).h[0]
    x = tl.randn(2, 4, 16, requires_grad=True)
    with viz.trace_modules(block) as tr:
        y = block(x)
    loss = y.sum()
    text = viz.explain_backward(loss, model=block, trace=tr)
    view = viz.build_graph(loss, model=block, trace=tr)
    module_of_step = {o.backward_step: o.module for o in view.ops}
    current, seen = "?", set()
    for line in text.splitlines():
        m = re.match(r"── (?:module (\S+)(?: \(\w+\))?|the model's own forward .*|outside the model .*): "
                     r"steps? (\d+)(?:-(\d+))? ──$", line)
        if m:
            current = m.group(1)
            first, last = int(m.group(2)), int(m.group(3) or m.group(2))
            assert all(module_of_step[s] == current for s in range(first, last + 1))
            continue
        m = re.match(r"Step (\d+): ", line)
        if m:
            assert module_of_step[int(m.group(1))] == current, line
            seen.add(current)
    assert {"attn", "attn.c_attn", "ln_1", "mlp.c_fc"} <= seen
    assert re.search(r"^── module attn \(\w+\): ", text, re.M)
    assert re.search(r"^── outside the model \(.*\): step 1 ──$", text, re.M)        # loss = y.sum()
    assert "── the model's own forward (Block), outside its submodules: " in text    # the residual adds
    # the same grouping without an explicit trace: nn.Module recorded the calls
    assert viz.explain_backward(loss, model=block) == text


def test_steps_shows_whole_steps():
    loss, params = skipgram()
    full = viz.explain_backward(loss, params=params)
    two = viz.explain_backward(loss, params=params, steps=2)
    assert re.findall(r"^Step (\d+)", two, re.M) == ["1", "2"]
    assert "... 5 more steps (steps=None shows them all)" in two
    assert two[:two.index("...")] == full[:full.index("Step 3")]     # cut between steps, never inside one
    assert "Leaf gradients" in two
    assert viz.explain_backward(loss, params=params, steps=99) == full
    with pytest.raises(ValueError, match="steps must be None or an int >= 0"):
        viz.explain_backward(loss, params=params, steps=-1)


def test_cli_skipgram_graph_is_the_tutorials_step(tmp_path):
    """`graph --model skipgram` draws the tutorial's graph: the same 7 ops, names and numbers."""
    from viz.steps import STEPS
    loss, naming, _ = STEPS["skipgram"]()
    mine, params = skipgram()
    theirs = viz.build_graph(loss, **naming, values=True)
    ours = viz.build_graph(mine, params=params, values=True)
    assert [o.name for o in theirs.ops] == [o.name for o in ours.ops] == \
        ["getitem", "matmul", "add", "log_softmax", "mul", "sum", "neg"]
    assert [(n.name, n.shape) for n in theirs.tensors] == [(n.name, n.shape) for n in ours.tensors]
    assert loss.item() == mine.item()
