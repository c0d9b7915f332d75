"""Second-order gradients of every differentiable op of the registry (and the composites built on
them), checked against PyTorch in float64.

For each case, with the same inputs xs, output gradient go and direction vs in both engines:
    y  = f(*xs)
    g  = d(y . go)/d xs                  (create_graph=True: g is itself recorded)
    h  = d(sum_i g_i . v_i)/d (xs, go)   (a Hessian-vector product, and d g / d go)
and y, g and h must agree to float64 rounding. A guard fails when a registry op has no case here.
"""
import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.autograd import grad
from tinygrad_lite import sparse as _sparse   # registers embedding_sparse whatever the test order
from tinygrad_lite.ops import REGISTRY

RTOL, ATOL = 1e-9, 1e-11
TF = torch.nn.functional


def rnd(*shape, seed=0, lo=-2.0, hi=2.0, away=None):
    rng = np.random.default_rng(seed)
    if away is None:
        return rng.uniform(lo, hi, shape)
    return rng.uniform(away, hi, shape) * rng.choice([-1.0, 1.0], shape)


def pos(*shape, seed=0):
    return rnd(*shape, seed=seed, lo=0.5, hi=2.0)


IDX = np.array([[0, 2, 1], [3, 3, 0]])
MASK = np.random.default_rng(7).random((2, 3, 4)) < 0.4
MASK[..., 0] = False
COND = np.random.default_rng(8).random((3, 4)) < 0.5
TARGET = np.array([1, 0, 3])

# name -> (ours(*tensors), torch's(*tensors), input arrays); inputs are all differentiated
CASES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [rnd(3, 4), rnd(4, seed=1)]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [rnd(3, 4), rnd(3, 1, seed=1)]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [rnd(3, 4), rnd(4, seed=1)]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [rnd(3, 4), rnd(3, 4, seed=1, away=0.5)]),
    "neg": (lambda a: -a * a, lambda a: -a * a, [rnd(3, 4)]),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, [pos(3, 4), rnd(3, 4, seed=1)]),
    "pow_scalar": (lambda a: a ** 3.5, lambda a: a ** 3.5, [pos(3, 4)]),
    "exp": (lambda a: a.exp(), torch.exp, [rnd(3, 4)]),
    "log": (lambda a: a.log(), torch.log, [pos(3, 4)]),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, [pos(3, 4)]),
    "tanh": (lambda a: a.tanh(), torch.tanh, [rnd(3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, [rnd(3, 4)]),
    "abs": (lambda a: a.abs() * a, lambda a: a.abs() * a, [rnd(3, 4, away=0.1)]),
    "relu": (lambda a: a.relu() * a, lambda a: a.relu() * a, [rnd(3, 4, away=0.1)]),
    "clamp": (lambda a: a.clamp(-1, 1) * a, lambda a: a.clamp(-1, 1) * a, [rnd(3, 4, seed=3)]),
    "where": (lambda a, b: tl.where(tl.tensor(COND), a * a, b * a), lambda a, b: torch.where(torch.tensor(COND), a * a, b * a),
              [rnd(3, 4), rnd(3, 4, seed=1)]),
    "maximum": (lambda a, b: a.maximum(b) * a, lambda a, b: a.maximum(b) * a, [rnd(3, 4), rnd(3, 4, seed=1)]),
    "minimum": (lambda a, b: a.minimum(b) * b, lambda a, b: a.minimum(b) * b, [rnd(3, 4), rnd(3, 4, seed=1)]),
    "max_dim": (lambda a: a.max(1)[0] * a.sum(1), lambda a: a.max(1)[0] * a.sum(1), [rnd(3, 4)]),
    "min_dim": (lambda a: a.min(0)[0] ** 2, lambda a: a.min(0)[0] ** 2, [rnd(3, 4)]),
    "amax": (lambda a: a.amax(1) * a.sum(1), lambda a: a.amax(1) * a.sum(1), [rnd(3, 4)]),
    "amin": (lambda a: a.amin(0) ** 2, lambda a: a.amin(0) ** 2, [rnd(3, 4)]),
    "sum": (lambda a: a.sum(1) ** 2, lambda a: a.sum(1) ** 2, [rnd(3, 4)]),
    "mean": (lambda a: a.mean(0) ** 2, lambda a: a.mean(0) ** 2, [rnd(3, 4)]),
    "var": (lambda a: a.var(1), lambda a: a.var(1), [rnd(3, 4)]),
    "std": (lambda a: a.std(0), lambda a: a.std(0), [rnd(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), [rnd(3, 4)]),
    "softmax": (lambda a: F.softmax(a, dim=-1), lambda a: TF.softmax(a, dim=-1), [rnd(3, 4)]),
    "log_softmax": (lambda a: F.log_softmax(a, dim=0), lambda a: TF.log_softmax(a, dim=0), [rnd(3, 4)]),
    "matmul": (lambda a, b: (a @ b) ** 2, lambda a, b: (a @ b) ** 2, [rnd(2, 3, 4), rnd(4, 5, seed=1)]),
    "linear": (lambda x, w, b: F.linear(x, w, b).tanh(), lambda x, w, b: TF.linear(x, w, b).tanh(),
               [rnd(3, 4), rnd(5, 4, seed=1), rnd(5, seed=2)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), lambda x, w, b: TF.layer_norm(x, (4,), w, b),
                   [rnd(3, 4), rnd(4, seed=1), rnd(4, seed=2)]),
    "layer_norm_nobias": (lambda x, w: F.layer_norm(x, (4,), w), lambda x, w: TF.layer_norm(x, (4,), w),
                          [rnd(3, 4), rnd(4, seed=1)]),
    "cross_entropy_idx": (lambda x: F.cross_entropy(x, tl.tensor(TARGET)),
                          lambda x: TF.cross_entropy(x, torch.tensor(TARGET)), [rnd(3, 5)]),
    "cross_entropy_smooth": (lambda x: F.cross_entropy(x, tl.tensor(TARGET), label_smoothing=0.1),
                             lambda x: TF.cross_entropy(x, torch.tensor(TARGET), label_smoothing=0.1), [rnd(3, 5)]),
    "embedding": (lambda w: F.embedding(tl.tensor(IDX), w) ** 2, lambda w: TF.embedding(torch.tensor(IDX), w) ** 2,
                  [rnd(4, 3)]),
    "embedding_sparse": (lambda w: _sparse.embedding(w, tl.tensor(IDX)) ** 2,
                         lambda w: TF.embedding(torch.tensor(IDX), w) ** 2, [rnd(4, 3)]),
    "erf": (lambda a: F.erf(a) * a, lambda a: torch.erf(a) * a, [rnd(3, 4)]),
    "erfc": (lambda a: a.erfc() * a, lambda a: a.erfc() * a, [rnd(3, 4)]),
    "erfinv": (lambda a: a.erfinv() * a, lambda a: a.erfinv() * a, [rnd(3, 4, lo=-0.9, hi=0.9)]),
    "lgamma": (lambda a: a.lgamma() * a, lambda a: a.lgamma() * a, [rnd(3, 4, lo=0.2, hi=4)]),
    "polygamma": (lambda a: a.polygamma(2) * a, lambda a: a.polygamma(2) * a, [rnd(3, 4, lo=0.2, hi=4)]),
    "gelu": (lambda a: F.gelu(a), lambda a: TF.gelu(a), [rnd(3, 4, lo=-4, hi=4)]),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), lambda a: TF.gelu(a, approximate="tanh"),
                  [rnd(3, 4, lo=-4, hi=4)]),
    "logsigmoid": (lambda a: F.logsigmoid(a), lambda a: TF.logsigmoid(a), [rnd(3, 4, lo=-6, hi=6)]),
    "masked_softmax": (lambda a: F.softmax(a.masked_fill(tl.tensor(MASK), float("-inf")), dim=-1),
                       lambda a: TF.softmax(a.masked_fill(torch.tensor(MASK), float("-inf")), dim=-1), [rnd(2, 3, 4)]),
    "masked_softmax_fused": (lambda a: _fused_masked_softmax(a), lambda a: TF.softmax(
        (a * 0.5).masked_fill(torch.tensor(MASK), float("-inf")), dim=-1), [rnd(2, 3, 4)]),
    "sdpa_causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                    lambda q, k, v: _torch_causal_attention(q, k, v),  # torch's sdpa has no double backward
                    [rnd(1, 2, 3, 4), rnd(1, 2, 3, 4, seed=1), rnd(1, 2, 3, 4, seed=2)]),
    "getitem_basic": (lambda a: a[1:, ::2] ** 2, lambda a: a[1:, ::2] ** 2, [rnd(3, 4)]),
    "getitem_advanced": (lambda a: a[tl.tensor(np.array([0, 2, 0]))] ** 2, lambda a: a[torch.tensor([0, 2, 0])] ** 2,
                         [rnd(3, 4)]),
    "gather": (lambda a: a.gather(1, tl.tensor(IDX[:, :2] % 4)) ** 2,
               lambda a: a.gather(1, torch.tensor(IDX[:, :2] % 4)) ** 2, [rnd(2, 4)]),
    "cat": (lambda a, b: tl.cat([a * a, b], dim=1) * tl.cat([b, a], dim=1),
            lambda a, b: torch.cat([a * a, b], dim=1) * torch.cat([b, a], dim=1), [rnd(3, 2), rnd(3, 2, seed=1)]),
    "stack": (lambda a, b: tl.stack([a * b, a], dim=0) ** 2, lambda a, b: torch.stack([a * b, a], dim=0) ** 2,
              [rnd(3, 2), rnd(3, 2, seed=1)]),
    "split": (lambda a: a.split(2, dim=1)[0] * a.split(2, dim=1)[1], lambda a: a.split(2, dim=1)[0] * a.split(2, dim=1)[1],
              [rnd(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3) ** 2 @ a, lambda a: a.reshape(4, 3) ** 2 @ a, [rnd(3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1) ** 3, lambda a: a.permute(2, 0, 1) ** 3, [rnd(2, 3, 4)]),
    "transpose": (lambda a: a.transpose(0, 1) @ a, lambda a: a.transpose(0, 1) @ a, [rnd(3, 4)]),
    "expand": (lambda a: a.expand(3, 4) * a.expand(3, 4), lambda a: a.expand(3, 4) * a.expand(3, 4), [rnd(1, 4)]),
    "cast": (lambda a: a.float().double() * a, lambda a: a.float().double() * a, [rnd(3, 4)]),
}

# rows for the PyTorch surface of real scripts (tinygrad_lite/ops/extra.py)
_SIDX = np.array([[0, 2, 1], [2, 0, 0]])
CASES.update({
    "sin": (lambda a: a.sin() * a, lambda a: a.sin() * a, [rnd(3, 4)]),
    "cos": (lambda a: a.cos() * a, lambda a: a.cos() * a, [rnd(3, 4)]),
    "cumsum": (lambda a: a.cumsum(1) ** 2, lambda a: a.cumsum(1) ** 2, [rnd(3, 4)]),
    "flip": (lambda a: a.flip(0) * a, lambda a: a.flip(0) * a, [rnd(3, 4)]),
    "roll": (lambda a: a.roll(1, 1) * a, lambda a: a.roll(1, 1) * a, [rnd(3, 4)]),
    "einsum": (lambda a, b: tl.einsum("ij,jk->ik", a * a, b), lambda a, b: torch.einsum("ij,jk->ik", a * a, b),
               [rnd(2, 3), rnd(3, 4, seed=1)]),
    "scatter": (lambda a, b: a.scatter_add(1, tl.tensor(_SIDX), b * b) * a,
                lambda a, b: a.scatter_add(1, torch.tensor(_SIDX), b * b) * a, [rnd(2, 3), rnd(2, 3, seed=1)]),
    "remainder": (lambda a: (a % 0.7) * a, lambda a: (a % 0.7) * a, [rnd(3, 4, seed=5)]),
    "contiguous": (lambda a: a.transpose(0, 1).contiguous() ** 2, lambda a: a.transpose(0, 1).contiguous() ** 2,
                   [rnd(3, 4)]),
    # prod: b has a zero in row 0 and two in row 1, so the create_graph rule's exact-with-zeros branch runs
    "prod": (lambda a, b: a.prod(1) * b.prod(1) + (a * b).prod(), lambda a, b: a.prod(1) * b.prod(1) + (a * b).prod(),
             [rnd(2, 3, away=0.3), np.array([[0.5, 0.0, -1.5], [0.0, 0.0, 2.0]])]),
    "log1p": (lambda a: a.log1p() * a, lambda a: a.log1p() * a, [pos(3, 4)]),
    "expm1": (lambda a: a.expm1() * a, lambda a: a.expm1() * a, [rnd(3, 4)]),
    "atan": (lambda a: a.atan() * a, lambda a: a.atan() * a, [rnd(3, 4)]),
    "asin": (lambda a: a.asin() * a, lambda a: a.asin() * a, [rnd(3, 4, lo=-0.9, hi=0.9)]),
    "atan2": (lambda a, b: a.atan2(b) * a, lambda a, b: a.atan2(b) * a, [rnd(3, 4), rnd(4, seed=1, away=0.3)]),
    "acos": (lambda a: a.acos() * a, lambda a: a.acos() * a, [rnd(3, 4, lo=-0.9, hi=0.9)]),
    "embedding_sparse": (lambda w: __import__("tinygrad_lite.sparse").sparse.embedding(w, tl.tensor(_SIDX)) ** 2,
                         lambda w: TF.embedding(torch.tensor(_SIDX), w) ** 2, [rnd(3, 2)]),
    # torch's peers written with embedding (its embedding_bag has no double backward)
    "embedding_bag": (lambda w: F.embedding_bag(tl.tensor(_SIDX), w, mode="mean") ** 2,
                      lambda w: TF.embedding(torch.tensor(_SIDX), w).mean(1) ** 2, [rnd(3, 2)]),
    "embedding_dot": (lambda w, x: _sparse.embedding_dot(w, _SIDX, x) ** 2,
                      lambda w, x: ((TF.embedding(torch.tensor(_SIDX), w) * x[:, None, :]).sum(-1)) ** 2,
                      [rnd(3, 2), rnd(2, 2)]),
})

# registry rows reached through the cases above under another name
COVERS = {"max_dim": "max", "min_dim": "min", "cross_entropy_idx": "cross_entropy_idx",
          "masked_softmax_fused": "masked_softmax", "getitem_basic": "getitem", "getitem_advanced": "index_scatter",
          "transpose": "permute"}


# the windows (im2col) and col2im rows (tinygrad_lite/ops/window.py), through a strided conv2d, pooling and
# PyTorch's fold; the stride-1 conv2d and conv2d_weight rows (tinygrad_lite/ops/conv2d.py) through conv2d and
# conv_transpose2d (the weight's first gradient is a conv2d_weight node, differentiated again here)
CASES["conv2d_stride2"] = (lambda x, w: F.conv2d(x, w, stride=2, padding=1) ** 2,
                           lambda x, w: TF.conv2d(x, w, stride=2, padding=1) ** 2,
                           [rnd(2, 2, 5, 4), rnd(3, 2, 3, 2, seed=1)])
CASES["conv2d"] = (lambda x, w: F.conv2d(x, w, padding=(1, 1), dilation=(1, 2)) ** 2,
                   lambda x, w: TF.conv2d(x, w, padding=(1, 1), dilation=(1, 2)) ** 2,
                   [rnd(2, 2, 5, 6), rnd(3, 2, 3, 2, seed=1)])
CASES["conv_transpose2d"] = (lambda x, w: F.conv_transpose2d(x, w, padding=1) ** 2,
                             lambda x, w: TF.conv_transpose2d(x, w, padding=1) ** 2,
                             [rnd(2, 3, 4, 5), rnd(3, 2, 3, 2, seed=1)])
CASES["max_pool2d"] = (lambda a: F.max_pool2d(a * a, 2, 1, 1), lambda a: TF.max_pool2d(a * a, 2, 1, 1), [rnd(1, 2, 4, 5)])
CASES["avg_pool2d"] = (lambda a: F.avg_pool2d(a, 3, 2, 1) ** 2, lambda a: TF.avg_pool2d(a, 3, 2, 1) ** 2, [rnd(1, 2, 5, 5)])
CASES["fold"] = (lambda c: _fold(c) ** 2, lambda c: TF.fold(c, (5, 4), (2, 3), padding=1) ** 2, [rnd(2, 12, 24)])
COVERS.update({"conv2d_stride2": "windows", "fold": "col2im", "conv_transpose2d": "conv2d_weight"})


def _fold(c):
    from tinygrad_lite.ops.window import col2im, window_args
    a = window_args("fold", (2, 2, 5, 4), (2, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))
    return col2im(c.reshape((2, 2) + a.kernel + a.out), a)


def _torch_causal_attention(q, k, v):
    T = q.shape[-2]
    s = (q @ k.transpose(-2, -1)) / q.shape[-1] ** 0.5
    s = s.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), float("-inf"))
    return TF.softmax(s, dim=-1) @ v


def _fused_masked_softmax(a):
    from tinygrad_lite.ops.fused import masked_softmax
    return masked_softmax(a, 0.5, tl.tensor(MASK))


def _second_order(name):
    ours, theirs, arrays = CASES[name]
    xs = [tl.tensor(a, dtype=tl.float64, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"{name}: forward")
    rng = np.random.default_rng(11)
    go_arr = rng.standard_normal(ty.shape)
    go = tl.tensor(go_arr, dtype=tl.float64, requires_grad=True)
    tgo = torch.tensor(go_arr, dtype=torch.float64, requires_grad=True)
    g = grad(y, xs, go, create_graph=True)
    tg = torch.autograd.grad(ty, ts, tgo, create_graph=True)
    for i, (a, b) in enumerate(zip(g, tg)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{name}: first gradient of input {i}")
    vs = [rng.standard_normal(a.shape) for a in arrays]
    s = sum((gi * tl.tensor(v)).sum() for gi, v in zip(g, vs))
    ts_ = sum((gi * torch.tensor(v)).sum() for gi, v in zip(tg, vs))
    h = grad(s, xs + [go], allow_unused=True)
    th = torch.autograd.grad(ts_, ts + [tgo], allow_unused=True)
    for i, (a, b) in enumerate(zip(h, th)):
        a = np.zeros(arrays[i].shape if i < len(arrays) else go_arr.shape) if a is None else a.detach().numpy()
        b = np.zeros_like(a) if b is None else b.numpy()
        what = f"input {i}" if i < len(arrays) else "the output gradient"
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{name}: second-order gradient wrt {what}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_order_matches_torch(name):
    _second_order(name)


def test_every_registry_op_has_a_second_order_case():
    """A new op must come with its second-order check here (or a reason it has none)."""
    covered = set(CASES) | set(COVERS.values())
    missing = sorted(set(REGISTRY) - covered)
    assert not missing, f"registry ops without a second-order case in {__file__}: {missing}"
