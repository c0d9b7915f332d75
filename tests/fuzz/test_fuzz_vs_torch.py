"""Differential fuzzing against PyTorch: hypothesis builds random small graphs from the registry's
ops (random shapes with broadcasting and zero-sized dimensions, random op sequences), runs the same
program on tinygrad_lite and on torch in float64, and compares values, gradients and second-order
gradients (a Hessian-vector product through create_graph=True). Where torch refuses a program
(an error), ours must refuse it too.

In the normal suite this runs derandomised with few examples; the fuzz job of `.ci/run` runs it
with `--hypothesis-profile fuzz --hypothesis-seed N` (N printed, so a failure can be replayed).
"""
import numpy as np
import pytest
import torch
from hypothesis import given, note
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.autograd import grad

TF = torch.nn.functional
RTOL, ATOL = 1e-8, 1e-10


# ------------------------------------------------------------------ the op table: (ours, torch's) per op
# Unary ops take (x, k) where k is a small int the program drew (a dim, an exponent...).
def _dim(x, k):
    return k % x.ndim if x.ndim else (0, -1)[k % 2]   # a 0-d tensor takes dim 0 or -1, as in torch


UNARY = {
    "tanh": (lambda x, k: x.tanh(), lambda x, k: x.tanh()),
    "sigmoid": (lambda x, k: x.sigmoid(), lambda x, k: x.sigmoid()),
    "exp_tanh": (lambda x, k: x.tanh().exp(), lambda x, k: x.tanh().exp()),
    "log1p_sq": (lambda x, k: (x * x + 1).log(), lambda x, k: (x * x + 1).log()),
    "sqrt1p_sq": (lambda x, k: (x * x + 1).sqrt(), lambda x, k: (x * x + 1).sqrt()),
    "abs": (lambda x, k: x.abs(), lambda x, k: x.abs()),
    "relu": (lambda x, k: x.relu(), lambda x, k: x.relu()),
    "neg": (lambda x, k: -x, lambda x, k: -x),
    "pow": (lambda x, k: x ** (2 + k % 2), lambda x, k: x ** (2 + k % 2)),
    "erf": (lambda x, k: F.erf(x), lambda x, k: torch.erf(x)),
    "gelu": (lambda x, k: F.gelu(x), lambda x, k: TF.gelu(x)),
    "gelu_tanh": (lambda x, k: F.gelu(x, approximate="tanh"), lambda x, k: TF.gelu(x, approximate="tanh")),
    "logsigmoid": (lambda x, k: F.logsigmoid(x), lambda x, k: TF.logsigmoid(x)),
    "clamp": (lambda x, k: x.clamp(-0.5, 0.7), lambda x, k: x.clamp(-0.5, 0.7)),
    "softmax": (lambda x, k: F.softmax(x, dim=_dim(x, k)), lambda x, k: TF.softmax(x, dim=_dim(x, k))),
    "log_softmax": (lambda x, k: F.log_softmax(x, dim=_dim(x, k)), lambda x, k: TF.log_softmax(x, dim=_dim(x, k))),
    "sum": (lambda x, k: x.sum(_dim(x, k)), lambda x, k: x.sum(_dim(x, k))),
    "mean_keep": (lambda x, k: x.mean(_dim(x, k), keepdim=True), lambda x, k: x.mean(_dim(x, k), keepdim=True)),
    "amax": (lambda x, k: x.amax(_dim(x, k)), lambda x, k: x.amax(_dim(x, k))),
    "logsumexp": (lambda x, k: x.logsumexp(_dim(x, k)), lambda x, k: x.logsumexp(_dim(x, k))),
    "var": (lambda x, k: x.var(_dim(x, k)), lambda x, k: x.var(_dim(x, k))),
    "flatten": (lambda x, k: x.reshape(-1), lambda x, k: x.reshape(-1)),
    "transpose": (lambda x, k: x.permute(*reversed(range(x.ndim))) if x.ndim else x,
                  lambda x, k: x.permute(*reversed(range(x.ndim))) if x.ndim else x),
    "unsqueeze": (lambda x, k: x.unsqueeze(k % (x.ndim + 1)), lambda x, k: x.unsqueeze(k % (x.ndim + 1))),
    "slice": (lambda x, k: x[1:] if x.ndim else x, lambda x, k: x[1:] if x.ndim else x),
    "step_slice": (lambda x, k: x[..., ::2] if x.ndim else x, lambda x, k: x[..., ::2] if x.ndim else x),
    "index": (lambda x, k: x[tl.tensor(np.array([0, 0]))] if x.ndim else x,
              lambda x, k: x[torch.tensor([0, 0])] if x.ndim else x),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "maximum": (lambda a, b: a.maximum(b), lambda a, b: a.maximum(b)),
    "minimum": (lambda a, b: a.minimum(b), lambda a, b: a.minimum(b)),
    "where": (lambda a, b: tl.where(a > b, a * b, a - b), lambda a, b: torch.where(a > b, a * b, a - b)),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b),
    "cat": (lambda a, b: tl.cat([a, b], dim=0), lambda a, b: torch.cat([a, b], dim=0)),
}


# ------------------------------------------------------------------ programs
side = st.sampled_from([0, 1, 1, 2, 2, 3, 3, 4])


@st.composite
def programs(draw):
    """(leaf shapes, leaf arrays, ops): ops are ('u', name, src, k) or ('b', name, src_a, src_b)."""
    base = draw(st.lists(side, min_size=0, max_size=3))
    n_leaves = draw(st.integers(1, 3))
    shapes = []
    for _ in range(n_leaves):   # broadcast-compatible variants of one base shape (dims dropped or set to 1)
        drop = draw(st.integers(0, len(base)))
        shapes.append(tuple(d if draw(st.booleans()) else 1 for d in base[drop:]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    leaves = [rng.uniform(-2, 2, s) for s in shapes]
    ops = []
    for step in range(draw(st.integers(1, 6))):
        n = n_leaves + step
        if draw(st.booleans()):
            ops.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, n - 1)), draw(st.integers(0, 5))))
        else:
            ops.append(("b", draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, n - 1)),
                        draw(st.integers(0, n - 1))))
    return leaves, ops


def run(program, ours):
    """Run a program on one engine: returns (leaves, output) or raises what the engine raised."""
    arrays, ops = program
    k = 0 if ours else 1
    if ours:
        leaves = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in arrays]
    else:
        leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    vals = list(leaves)
    for kind, name, i, j in ops:
        if kind == "u":
            vals.append(UNARY[name][k](vals[i], j))
        else:
            vals.append(BINARY[name][k](vals[i], vals[j]))
    run.all_finite = all(bool(np.isfinite(_np(v)).all()) for v in vals)
    return leaves, vals[-1]


def outcome(program, ours):
    try:
        return run(program, ours), None
    except Exception as e:  # noqa: BLE001 - which engine refuses what is the point of the comparison
        return None, e


def _np(t):
    if not isinstance(t, torch.Tensor):
        return t.detach().numpy()
    if t._is_zerotensor():
        # torch's second derivatives may be ZeroTensors (no storage): numpy(force=True) segfaults on some of
        # them in torch 2.13 (a (4,) one, first seen with fuzz seed 1796664026), so they are made here
        return np.zeros(tuple(t.shape), dtype=torch.empty((), dtype=t.dtype).numpy().dtype)
    return t.detach().numpy(force=True)


def check_program(program):
    theirs, t_err = outcome(program, ours=False)
    finite = t_err is None and run.all_finite
    mine, m_err = outcome(program, ours=True)
    if t_err is not None:
        assert m_err is not None, f"torch refuses this program ({type(t_err).__name__}: {t_err}) but ours runs it"
        return
    assert m_err is None, f"ours refuses a program torch runs: {type(m_err).__name__}: {m_err}"
    (tleaves, ty), (leaves, y) = theirs, mine
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(_np(y), _np(ty), rtol=RTOL, atol=ATOL, err_msg="values")
    if not ty.requires_grad:
        assert not y.requires_grad
        return
    if not finite:
        # a NaN/inf on the way (var of one element...): which input a NaN's gradient is routed to is
        # not specified (the fuzzer found maximum(a, nan) and var's second derivative differing);
        # values are compared above, gradients only on finite programs
        return
    rng = np.random.default_rng(0)
    go_arr = rng.standard_normal(tuple(ty.shape))
    go, tgo = tl.tensor(go_arr, requires_grad=True), torch.tensor(go_arr, requires_grad=True)
    g = grad(y, leaves, go, create_graph=True, allow_unused=True)
    tg = torch.autograd.grad(ty, tleaves, tgo, create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(g, tg)):
        a = np.zeros(program[0][i].shape) if a is None else _np(a)
        b = np.zeros(program[0][i].shape) if b is None else _np(b)
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"gradient of leaf {i}")
    if ty.numel() == 0:
        # an empty output: every gradient is 0 (compared above), every second derivative too; whether
        # an engine records a zero it never computed from anything is not a difference
        return
    vs = [rng.standard_normal(a.shape) for a in program[0]]
    # (an empty gradient carries nothing: whether it is recorded does not matter)
    s = [(gi * tl.tensor(v)).sum() for gi, v in zip(g, vs) if gi is not None and gi.requires_grad and v.size]
    ts = [(gi * torch.tensor(v)).sum() for gi, v in zip(tg, vs) if gi is not None and gi.requires_grad and v.size]
    assert len(s) == len(ts), "which first gradients are recorded differs from torch"
    if not ts:
        return
    h = grad(sum(s[1:], s[0]), leaves, allow_unused=True)
    th = torch.autograd.grad(sum(ts[1:], ts[0]), tleaves, allow_unused=True)
    for i, (a, b) in enumerate(zip(h, th)):
        a = np.zeros(program[0][i].shape) if a is None else _np(a)
        b = np.zeros(program[0][i].shape) if b is None else _np(b)
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"second-order gradient of leaf {i}")


@given(programs())
def test_random_graphs_agree_with_torch(program):
    note(f"program: shapes {[a.shape for a in program[0]]}, ops {program[1]}")
    check_program(program)


def test_a_known_program_with_broadcasting_and_an_empty_dim():
    """A fixed program, so the checker itself is exercised on every run (broadcast, zero-size, both orders)."""
    rng = np.random.default_rng(1)
    check_program(([rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,))],
                   [("b", "mul", 0, 1), ("u", "softmax", 2, 1), ("b", "div", 3, 0), ("u", "logsumexp", 4, 0)]))
    check_program(([rng.uniform(-2, 2, (0, 3)), rng.uniform(-2, 2, (1, 3))],
                   [("b", "add", 0, 1), ("u", "sum", 2, 0), ("b", "mul", 3, 1)]))


def test_softmax_and_logsumexp_of_empty_tensors_agree_with_torch():
    """Found by the fuzzer: softmax over a zero-size tensor raised (numpy's max of nothing)."""
    rng = np.random.default_rng(3)
    for op in ("softmax", "log_softmax", "logsumexp"):
        for dim in (0, 1, 2):
            check_program(([rng.uniform(-2, 2, (0, 1, 3))], [("u", op, 0, dim)]))


def test_softmax_family_of_a_0d_tensor_agrees_with_torch():
    """Found by the fuzz job (seed 1796617642): log_softmax's in-place backward failed on a 0-d tensor."""
    for op in ("softmax", "log_softmax", "logsumexp", "sum", "amax", "var"):
        for k in (0, 1):
            check_program(([np.array(0.54784675)], [("u", op, 0, k)]))


def test_cat_with_a_1d_empty_tensor_agrees_with_torch():
    """Found by the fuzz job (seed 22): torch.cat skips 1-D empty tensors; ours refused them."""
    rng = np.random.default_rng(4)
    check_program(([rng.uniform(-2, 2, (1, 1, 1)), np.zeros(0)], [("b", "cat", 0, 1)]))
    check_program(([np.zeros(0), rng.uniform(-2, 2, (2, 3))], [("b", "cat", 0, 1), ("u", "tanh", 2, 0)]))


def test_the_checker_catches_a_wrong_rule(monkeypatch):
    """Break one rule (tanh's) and the same known program must fail: the fuzzer can see bugs."""
    from tinygrad_lite.ops import REGISTRY
    op = REGISTRY["tanh"]
    monkeypatch.setattr(op, "vjps", (lambda g, *rest: g,) + tuple(op.vjps[1:]))
    rng = np.random.default_rng(2)
    with pytest.raises(AssertionError):
        check_program(([rng.uniform(-2, 2, (2, 3))], [("u", "tanh", 0, 0)]))
