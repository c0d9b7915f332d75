"""Every fused row against the composite ops it replaces: the same values, the same gradients (first and,
through create_graph, second order), in float64. A fused row is one graph node where the composite is
several; it must not be different maths."""
import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops.fused import layer_norm as fused_layer_norm, masked_softmax
from tinygrad_lite.sparse import embedding as sparse_embedding

rng = np.random.default_rng(7)


def t(shape, lo=-2.0, hi=2.0):
    return Tensor(rng.uniform(lo, hi, shape), requires_grad=True)


def _ln_composite(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    out = xc / ((xc * xc).mean(-1, keepdim=True) + eps).sqrt() * w
    return out if b is None else out + b


def _msm_composite(x, scale, hide):
    return (x * scale).masked_fill(Tensor(hide), float("-inf")).softmax(-1)


def _ce_composite(x, target, weight=None, smoothing=0.0):
    logp = x.log_softmax(-1)
    M, C = x.shape
    onehot = np.zeros((M, C))
    onehot[np.arange(M), target] = 1.0
    q = onehot * (1 - smoothing) + smoothing / C
    w = np.ones(C) if weight is None else weight
    per_row = -(logp * Tensor(q * w)).sum(-1)
    return per_row.sum() / float(w[target].sum())


def _ce_weighted_smoothed(x, target=np.array([0, 3, 1, 1, 2, 0]), w=np.array([1.0, 2.0, 0.5, 1.5]), eps=0.1):
    """mean over rows of w[t] ((1 - eps) (-log p[t])) + sum_c w_c eps/C (-log p[c]), divided by sum w[t]."""
    logp = x.log_softmax(-1)
    rows = -(logp * Tensor(np.eye(4)[target])).sum(-1) * Tensor(w[target] * (1 - eps)) \
        - (logp * Tensor(w * eps / 4)).sum(-1)
    return rows.sum() / float(w[target].sum())


def _gelu_tanh_composite(x):
    k = np.sqrt(2 / np.pi)
    return x * 0.5 * ((x + x * x * x * 0.044715) * k).tanh() + x * 0.5


CASES = {
    "layer_norm": lambda: ((t((2, 3, 5)), t((5,)), t((5,))),
                           lambda x, w, b: fused_layer_norm(x, w, b), _ln_composite, "layer_norm"),
    "layer_norm_nobias": lambda: ((t((4, 5)), t((5,))),
                                  lambda x, w: fused_layer_norm(x, w, None), lambda x, w: _ln_composite(x, w, None),
                                  "layer_norm_nobias"),
    "masked_softmax": lambda: ((t((2, 4, 4)),), lambda x: masked_softmax(x, 0.5, np.triu(np.ones((4, 4), bool), 1)),
                               lambda x: _msm_composite(x, 0.5, np.triu(np.ones((4, 4), bool), 1)), "masked_softmax"),
    "linear": lambda: ((t((3, 2, 4)), t((5, 4)), t((5,))), lambda x, w, b: F.linear(x, w, b),
                       lambda x, w, b: x @ w.T + b, "linear"),
    "cross_entropy_idx": lambda: ((t((6, 4)),), lambda x: F.cross_entropy(x, Tensor(np.array([0, 3, 1, 1, 2, 0]))),
                                  lambda x: _ce_composite(x, np.array([0, 3, 1, 1, 2, 0])), "cross_entropy_idx"),
    "cross_entropy_idx_weighted_smoothed": lambda: (
        (t((6, 4)),),
        lambda x: F.cross_entropy(x, Tensor(np.array([0, 3, 1, 1, 2, 0])), weight=Tensor(np.array([1.0, 2.0, 0.5, 1.5])),
                                  label_smoothing=0.1),
        None, "cross_entropy_idx"),
    "embedding": lambda: ((t((7, 3)),), lambda w: F.embedding(Tensor(np.array([[1, 4], [4, 6]])), w),
                          lambda w: w[np.array([[1, 4], [4, 6]])], "embedding"),
    "embedding_sparse": lambda: ((t((7, 3)),), lambda w: sparse_embedding(w, np.array([1, 4, 4, 6])),
                                 lambda w: w[np.array([1, 4, 4, 6])], "embedding_sparse"),
    "gelu_tanh": lambda: ((t((3, 4)),), lambda x: F.gelu(x, approximate="tanh"), _gelu_tanh_composite, "gelu_tanh"),
    "logsigmoid": lambda: ((t((3, 4)),), F.logsigmoid, lambda x: x.sigmoid().log(), "logsigmoid"),
}


def _grads(fn, inputs, _unused):
    for x in inputs:
        x.grad = None
    out = fn(*inputs)
    g = Tensor(np.random.default_rng(1).uniform(-1, 1, out.shape))
    (out * g).sum().backward()
    return out, [np.asarray(x.grad._data if hasattr(x.grad, "_data") else x.grad) for x in inputs]


@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_row_equals_its_composite(case):
    inputs, fused, composite, op_name = CASES[case]()
    out = fused(*inputs)
    assert out.grad_fn == op_name, f"{case} is not one {op_name} node (got {out.grad_fn})"
    if composite is None:  # weights and smoothing: PyTorch's formula written with ops
        composite = _ce_weighted_smoothed
    ref_out, ref_grads = _grads(composite, inputs, None)
    fused_out, fused_grads = _grads(fused, inputs, None)
    np.testing.assert_allclose(fused_out._data, ref_out._data, rtol=1e-10, atol=1e-12)
    for a, b in zip(fused_grads, ref_grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", ["layer_norm", "layer_norm_nobias", "masked_softmax", "linear", "cross_entropy_idx",
                                  "gelu_tanh", "logsigmoid"])
def test_fused_row_second_order_equals_its_composite(case):
    """create_graph runs the same row rules on Tensors: a Hessian-vector product matches the composite's."""
    inputs, fused, composite, _ = CASES[case]()
    v = [Tensor(np.random.default_rng(2).uniform(-1, 1, x.shape)) for x in inputs]

    def hvp(fn):
        out = fn(*inputs)
        g = Tensor(np.random.default_rng(3).uniform(-1, 1, out.shape))
        grads = tl.autograd.grad((out * g).sum(), inputs, create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(grads, v))
        return [h._data for h in tl.autograd.grad(dot, inputs, allow_unused=True) if h is not None]

    for a, b in zip(hvp(fused), hvp(composite)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
