"""Values no backward reads are released when the module call that made them returns (release.py):
the analysis of what each rule reads is checked against every row's rules, and a released value must
never change a gradient, never be one the user holds, and must actually free memory."""
import gc
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite import Tensor
from tinygrad_lite.autograd import FreedValue, apply_rules, keep_graph
from tinygrad_lite.graph import build_graph
from tinygrad_lite.ops import REGISTRY, LazyGrad
from tinygrad_lite.release import ALL, _reads, _walk, value_reads

from test_ops_gradcheck import OP_CASES


def _freed(t):
    return type(t._data) is FreedValue


def _nodes(root):
    seen, out, stack = set(), [], [root]
    while stack:
        t = stack.pop()
        if t._op is None or id(t) in seen:
            continue
        seen.add(id(t))
        out.append(t)
        stack.extend(t._inputs)
    return out


# --------------------------------------------------------------------------- what each rule reads
def test_value_reads_of_known_rows():
    assert value_reads(REGISTRY["mul"]) == (False, ((False, frozenset({1})), (False, frozenset({0}))))
    assert value_reads(REGISTRY["add"]) == (False, ((False, frozenset()), (False, frozenset())))
    assert value_reads(REGISTRY["relu"]) == (False, ((True, frozenset()),))     # its result, not its input
    assert value_reads(REGISTRY["softmax"]) == (False, ((True, frozenset()),))
    assert value_reads(REGISTRY["where"])[1][0] is None                          # the condition gets no rule
    assert value_reads(REGISTRY["reshape"]) == (False, ((False, frozenset()),))


def test_reads_of_user_written_rules():
    assert _reads(lambda g, ans, args, x: g * 2, 3) == (False, frozenset())
    assert _reads(lambda g, ans, args, x, y: g * y, 3) == (False, frozenset({1}))
    assert _reads(lambda g, ans, args, x: g.reshape(x.shape), 3) == (False, frozenset())  # shape only
    assert _reads(lambda g, ans, args, x: g * x.T, 3) == (False, frozenset({0}))         # .T is the value
    assert _reads(lambda g, ans, args, *xs: g * xs[0], 3) == (False, ALL)                # varargs: every input
    assert _reads(lambda g, ans, args, x: (lambda: x)(), 3) == (False, frozenset({0}))   # a closure reads it

    class Rule:
        def __call__(self, g, ans, args, x):
            return g

    assert _reads(Rule(), 3) == (True, ALL)  # not a plain function: assumed to read everything


@pytest.mark.parametrize("name", sorted(OP_CASES))
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_rules_read_only_what_value_reads_says(name, data):
    """Each row's rules run with every value value_reads calls unread replaced by a FreedValue (which has
    a shape and dtype, nothing else): they must give the same gradients, bit for bit."""
    fn, _, arrays, _ = data.draw(OP_CASES[name])
    ts = [Tensor(a.astype(np.float64), requires_grad=True) if a.dtype.kind == "f" else Tensor(a) for a in arrays]
    nodes = [t for t in _nodes(fn(*ts)) if t._op.name == name]
    assert nodes, f"the case for {name} records no {name} node"
    rng = np.random.default_rng(0)
    for t in nodes:
        g = rng.standard_normal(t.shape).astype(t._data.dtype)
        full = apply_rules(t, g.copy())
        _, _, needed = _walk([t], t._seq)  # (t alone: its inputs are older than t)
        unread = [x for x in {id(x): x for x in (t,) + tuple(t._inputs)}.values() if id(x) not in needed]
        values = [x._data for x in unread]
        for x in unread:
            x._data = FreedValue.of(x._data)
        try:
            bare = apply_rules(t, g.copy())
        finally:
            for x, v in zip(unread, values):
                x._data = v
        for a, b in zip(full, bare):
            assert (a is None) == (b is None)
            if a is not None:
                a, b = (v.dense() if isinstance(v, LazyGrad) else v for v in (a, b))
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --------------------------------------------------------------------------- releasing at a module's exit
MASK = np.triu(np.ones((16, 16), bool), 1)


class Attention(nn.Module):
    """scores -> scaled -> masked -> softmax: the three values before the softmax are read by no rule."""

    def __init__(self, keep=None):
        super().__init__()
        self.q = nn.Linear(16, 16)
        self.keep = keep

    def forward(self, x):
        s = self.q(x) @ x.transpose(-2, -1)
        scaled = s * 0.25
        masked = scaled.masked_fill(tl.tensor(MASK), float("-inf"))
        if self.keep == "attribute":
            self.kept = masked
        elif self.keep == "retain_grad":
            masked.retain_grad()
        att = masked.softmax(-1)
        return (att @ x, masked) if self.keep == "return" else att @ x


def _attention_step(model, seed=0, **backward):
    x = Tensor(np.random.default_rng(seed).standard_normal((4, 16, 16)), requires_grad=True)
    out = model(x)
    y = out[0] if isinstance(out, tuple) else out
    (y * y).sum().backward(**backward)
    return x.grad.numpy(), [p.grad.numpy() for p in model.parameters()], y


def _by_op(root):
    return {t._op.name: t for t in _nodes(root)}


def test_values_no_rule_reads_are_released_and_gradients_do_not_change():
    tl.manual_seed(0)
    model = Attention()
    x = Tensor(np.random.default_rng(0).standard_normal((4, 16, 16)), requires_grad=True)
    out = model(x)
    ops = _by_op(out)
    assert _freed(ops["mul"]) and _freed(ops["where"])  # (masked_fill records a where)
    assert not _freed(ops["softmax"])  # its own rule reads it
    assert not _freed(ops["add"])      # the linear layer's result: the scores' product reads it
    scores = ops["mul"]._inputs[0]
    assert scores._op.name == "matmul" and _freed(scores)
    with keep_graph():
        kept = _attention_step(model, retain_graph=True)
    released = _attention_step(model)
    for a, b in zip([kept[0]] + kept[1], [released[0]] + released[1]):
        np.testing.assert_array_equal(a, b)
    v = build_graph(released[2])  # the graph still draws: released values are marked freed
    assert any(n.kind == "intermediate" for n in v.tensors)


@pytest.mark.parametrize("keep", ["attribute", "return", "retain_grad"])
def test_values_the_user_holds_or_asked_for_are_kept(keep):
    tl.manual_seed(0)
    model = Attention(keep)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 16, 16)), requires_grad=True)
    out = model(x)
    if keep == "return":
        out, masked = out
    else:
        masked = model.kept if keep == "attribute" else None
    if masked is not None:
        assert not _freed(masked) and np.isneginf(masked.detach().numpy()[0, 0, 1])
    else:
        assert not _freed(_by_op(out)["where"])
    assert _freed(_by_op(out)["mul"])  # the others still go


def test_keep_graph_keeps_every_value():
    tl.manual_seed(0)
    with keep_graph():
        out = Attention()(Tensor(np.random.default_rng(0).standard_normal((4, 16, 16)), requires_grad=True))
    assert not any(_freed(t) for t in _nodes(out))


def test_no_grad_and_leaf_only_modules_release_nothing():
    lin = nn.Linear(16, 16)
    x = Tensor(np.ones((64, 16)))
    with tl.no_grad():
        assert not _freed(lin(x))
    h = lin(x)
    assert not _freed(h)


def test_releasing_frees_the_memory():
    class Chain(nn.Module):
        def forward(self, x):
            return ((x * 2.0 + 1.0) * 3.0).exp()  # mul, add, mul: read by no rule; exp reads its result

    x = Tensor(np.ones((512, 512)), requires_grad=True)  # 2 MiB per value

    def held(keep):
        gc.collect()
        tracemalloc.start()
        if keep:
            with keep_graph():
                out = Chain()(x)
        else:
            out = Chain()(x)
        cur = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del out
        return cur

    mib = 512 * 512 * 8
    assert held(True) - held(False) > 2.5 * mib


def test_second_order_through_released_values():
    def hessian_vector(keep):
        tl.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
        x = Tensor(np.random.default_rng(1).standard_normal((16, 8)))
        if keep:
            with keep_graph():
                loss = (model(x) ** 2).mean()
        else:
            loss = (model(x) ** 2).mean()
        params = list(model.parameters())
        grads = tl.autograd.grad(loss, params, create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        return [p.grad.numpy() for p in params]

    for a, b in zip(hessian_vector(True), hessian_vector(False)):
        np.testing.assert_array_equal(a, b)


def test_training_steps_with_backward_plans_match_keep_graph():
    """Several steps (backward plans take over from the second) of a model whose modules release values."""
    def train(keep):
        tl.manual_seed(0)
        model = nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.LayerNorm(64), nn.Linear(64, 16), Attention())
        opt = tl.optim.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(2)
        for _ in range(4):
            x = Tensor(rng.standard_normal((4, 16, 16)))
            opt.zero_grad()
            if keep:
                with keep_graph():
                    loss = (model(x) ** 2).mean()
            else:
                loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
        return [p.detach().numpy() for p in model.parameters()]

    for a, b in zip(train(True), train(False)):
        np.testing.assert_array_equal(a, b)


def test_in_place_updates_inside_a_module_keep_their_values():
    class Inplace(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(16, 16)

        def forward(self, x):
            h = self.lin(x) * 1.0
            h.mul_(2.0)  # a recorded in-place op: the node before it keeps its value for its own rule
            return (h * h).tanh()

    def run(keep):
        tl.manual_seed(0)
        m = Inplace()
        x = Tensor(np.random.default_rng(3).standard_normal((32, 16)), requires_grad=True)
        if keep:
            with keep_graph():
                out = m(x)
        else:
            out = m(x)
        out.sum().backward()
        return x.grad.numpy()

    np.testing.assert_array_equal(run(True), run(False))


def test_pictures_say_why_a_value_is_gone():
    import viz
    tl.manual_seed(0)
    model = Attention()
    out = model(Tensor(np.random.default_rng(0).standard_normal((4, 16, 16)), requires_grad=True))
    before = viz.draw_graph(out, model=model, show_values=True).source
    assert "data freed: no backward rule reads it" in before and "data freed by backward" not in before
    out.sum().backward()
    after = viz.draw_graph(out, model=model, show_values=True, show_grads=True).source
    assert "data freed by backward" in after and "data freed: no backward rule reads it" in after


def test_outputs_in_tuples_and_dicts_are_followed():
    class Two(nn.Module):
        def forward(self, x):
            h = (x * 2.0) * 3.0  # exp and tanh read their results, not h; no rule reads x * 2.0 either
            return {"out": h.exp(), "aux": [h.tanh()]} if self.as_dict else (h.exp(), h.tanh())

    for as_dict in (False, True):
        m = Two()
        m.as_dict = as_dict
        out = m(Tensor(np.ones((64, 64)), requires_grad=True))
        h = (out["out"] if as_dict else out[0])._inputs[0]
        assert _freed(h._inputs[0])
        # a tuple's tensors are all followed: h goes; a list inside the dict is not followed, so h's use by
        # tanh is not counted and h stays (a reference the walk cannot explain keeps a value)
        assert _freed(h) != as_dict
