"""The backward pass checked against a short reference implementation, on many graphs.

`reference_backward` is reverse mode as a textbook writes it: a topological order by depth-first
search, one dict of gradients, each op's registry row applied to plain arrays, broadcasting summed
away. No direct-to-leaf delivery, no owned buffers, no lazy slices, no unrolled tuples: the fast
loop (autograd._run) must give the same gradients to the last bit on every graph.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import LazyGrad
from tinygrad_lite.sparse import embedding as sparse_embedding


def _unbroadcast(g, shape):
    """Sum g over the dims that broadcasting added or stretched (written here, not the engine's sum_to)."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def reference_backward(root):
    """{leaf: gradient array} for every leaf that requires grad behind the scalar `root`."""
    order, seen = [], set()

    def visit(t):  # recursion is fine for the small graphs of these tests
        if id(t) in seen:
            return
        seen.add(id(t))
        for x in (t._inputs if t._op is not None else ()):
            visit(x)
        order.append(t)

    visit(root)
    grads = {id(root): np.ones(root.shape, root.dtype)}
    leaves = {}
    for t in reversed(order):
        g = grads.get(id(t))
        if g is None or not t.requires_grad:
            continue
        if t._op is None:
            leaves[t] = g
            continue
        op, vals = t._op, [x._data for x in t._inputs]
        if op.joint is not None:
            outs = op.joint(g, t._data, t._args, t._ctx, tuple(x.requires_grad for x in t._inputs), *vals)
        else:
            outs = [vjp(g, t._data, t._args, *vals) if x.requires_grad else None
                    for x, vjp in zip(t._inputs, op.vjps)]
        for x, gx in zip(t._inputs, outs):
            if gx is None or not x.requires_grad:
                continue
            gx = np.asarray(gx.dense() if isinstance(gx, LazyGrad) else gx, dtype=x.dtype)
            gx = _unbroadcast(gx, x.shape)
            grads[id(x)] = grads[id(x)] + gx if id(x) in grads else gx
    return leaves


# ---------------------------------------------------------------------- random graphs
R, C = 3, 4


def _leaves(seed):
    rng = np.random.default_rng(seed)
    shapes = [(R, C), (R, C), (C,), (R, 1), (1, C), (C, C)]
    return [Tensor(rng.uniform(-1.5, 1.5, s), requires_grad=True) for s in shapes]


def _main(pool):
    return [t for t in pool if t.shape == (R, C)]


def _pick(rng, seq):
    return seq[rng.integers(len(seq))]


# each step takes (pool, rng) and returns a new (R, C) tensor made from tensors in the pool
STEPS = {
    "mul": lambda p, r: _pick(r, _main(p)) * p[r.integers(len(p) - 1)],          # broadcasting partners
    "add": lambda p, r: _pick(r, _main(p)) + p[r.integers(len(p) - 1)],
    "sub_reuse": lambda p, r: (lambda x: x - x * x)(_pick(r, _main(p))),          # one tensor used 3 times
    "div": lambda p, r: _pick(r, _main(p)) / (p[3] * p[3] + 1.0),
    "tanh": lambda p, r: _pick(r, _main(p)).tanh(),
    "exp": lambda p, r: (_pick(r, _main(p)) * 0.3).exp(),
    "relu": lambda p, r: _pick(r, _main(p)).relu(),
    "sigmoid": lambda p, r: _pick(r, _main(p)).sigmoid(),
    "abs": lambda p, r: _pick(r, _main(p)).abs(),
    "matmul": lambda p, r: _pick(r, _main(p)) @ p[5],
    "linear": lambda p, r: F.linear(_pick(r, _main(p)), p[5], p[2]),
    "sum_keep": lambda p, r: _pick(r, _main(p)) * _pick(r, _main(p)).sum(dim=1, keepdim=True),
    "mean": lambda p, r: _pick(r, _main(p)) - _pick(r, _main(p)).mean(dim=0),
    "softmax": lambda p, r: _pick(r, _main(p)).softmax(-1),
    "log_softmax": lambda p, r: _pick(r, _main(p)).log_softmax(-1),
    "reshape_T": lambda p, r: _pick(r, _main(p)).reshape(C, R).permute(1, 0),
    "slices_cat": lambda p, r: (lambda x: tl.cat([x[:, :1] * 2, x[:, 1:3], x[:, 3:].exp()], 1))(_pick(r, _main(p))),
    "rows_cat": lambda p, r: (lambda x: tl.cat([x[1:], x[:1]], 0))(_pick(r, _main(p))),
    "where": lambda p, r: (lambda x, y: tl.where(x > 0, x, y))(_pick(r, _main(p)), _pick(r, _main(p))),
    "maximum": lambda p, r: _pick(r, _main(p)).maximum(p[4] * 0.5),
    "layer_norm": lambda p, r: F.layer_norm(_pick(r, _main(p)), (C,), p[2], p[4].reshape(C)),
    "gather": lambda p, r: _pick(r, _main(p))[:, [0, 2, 1, 0]],                   # repeated index: adds up
    "expand": lambda p, r: p[3].expand(R, C) * _pick(r, _main(p)),
    "pow": lambda p, r: _pick(r, _main(p)) ** 2,
    "clamp": lambda p, r: _pick(r, _main(p)).clamp(-0.5, 0.7),
    "embedding_sparse": lambda p, r: sparse_embedding(p[5], np.array([1, 3, 1])) * _pick(r, _main(p)),  # row-sparse
}


def _build(seed, names):
    rng = np.random.default_rng(seed)
    pool = _leaves(seed)
    for name in names:
        pool.append(STEPS[name](pool, rng))
    w = Tensor(np.random.default_rng(seed + 1).uniform(-1, 1, (R, C)))
    outs = _main(pool)[-3:]
    loss = sum((o * w).sum() for o in outs)
    return pool[:6], loss


def _check_against_reference(seed, names):
    leaves, loss = _build(seed, names)
    ref = reference_backward(loss)
    loss.backward()
    for leaf in leaves:
        expected = ref.get(leaf)
        if expected is None:
            assert leaf.grad is None
            continue
        got = leaf.grad._data if isinstance(leaf.grad, Tensor) else np.asarray(leaf.grad)  # (or row-sparse)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_step_alone_matches_the_reference(name):
    _check_against_reference(0, [name, name])


@settings(max_examples=200)
@given(seed=st.integers(0, 10**6), names=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=8))
def test_fast_loop_matches_the_reference_on_random_graphs(seed, names):
    _check_against_reference(seed, names)


def test_reference_agrees_with_finite_differences():
    """The reference itself is checked, so that agreeing with it means something."""
    leaves, loss = _build(3, ["mul", "softmax", "slices_cat", "layer_norm"])
    ref = reference_backward(loss)
    x = leaves[0]
    eps = 1e-6
    for idx in [(0, 0), (1, 2), (2, 3)]:
        old = x._data[idx]
        x._data[idx] = old + eps
        _, up = _build_with(leaves, 3, ["mul", "softmax", "slices_cat", "layer_norm"])
        x._data[idx] = old - eps
        _, down = _build_with(leaves, 3, ["mul", "softmax", "slices_cat", "layer_norm"])
        x._data[idx] = old
        assert abs((up.item() - down.item()) / (2 * eps) - ref[x][idx]) < 1e-6


def _build_with(leaves, seed, names):
    rng = np.random.default_rng(seed)
    pool = list(leaves)
    for name in names:
        pool.append(STEPS[name](pool, rng))
    w = Tensor(np.random.default_rng(seed + 1).uniform(-1, 1, (R, C)))
    return pool, sum((o * w).sum() for o in _main(pool)[-3:])


def test_apply_rules_is_what_graph_views_show():
    """graph.py shows each op's contribution with the engine's own apply_rules (no replay copy)."""
    from tinygrad_lite.autograd import apply_rules
    from tinygrad_lite.graph import build_graph
    x = Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    b = Tensor(np.array([0.1, 0.2]), requires_grad=True)
    y = (x * 2 + b).tanh()
    loss = y.sum()
    view = build_graph(loss, grads=True)
    add = next(o for o in view.ops if o.name == "add")
    t = view.tensor(add.output).tensor
    expected = apply_rules(t, np.ones((2, 2)) * (1 - y._data ** 2))
    np.testing.assert_allclose(add.grad_out[1].values, expected[1])
    assert add.broadcast == [1] and add.grad_out_raw_shape[1] == (2, 2)
