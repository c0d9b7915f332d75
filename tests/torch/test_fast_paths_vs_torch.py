"""The fast paths of issue 12's per-op outliers against PyTorch, forward and backward, at sizes
that take them: float64 to double precision, float32 within float32's. The fast path against our
own reference spelling: tests/test_fast_paths.py."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite.ops import jit  # noqa: E402

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
DTYPES = [np.float64, np.float32]


def _run(fn_ours, fn_torch, arrays, dtype, seed=1, grad_of=None):
    """Forward and backward (a fixed random output gradient) on both; returns (ours, theirs) as
    lists of arrays: the output, then the gradient of every input (grad_of: names with gradients)."""
    names = list(arrays)
    grad_of = names if grad_of is None else grad_of
    ours = {k: tl.Tensor(a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=k in grad_of)
            for k, a in arrays.items()}
    theirs = {k: torch.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=k in grad_of)
              for k, a in arrays.items()}
    yo, yt = fn_ours(**ours), fn_torch(**theirs)
    g = np.random.default_rng(seed).standard_normal(yo.shape).astype(dtype)
    yo.backward(tl.Tensor(g))
    yt.backward(torch.tensor(g))
    return ([yo.detach().numpy()] + [ours[k].grad.numpy() for k in grad_of],
            [yt.detach().numpy()] + [theirs[k].grad.numpy() for k in grad_of])


def _close(ours, theirs, dtype, **tol):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape and a.dtype == b.dtype, i
        np.testing.assert_allclose(a, b, **(tol or TOL[dtype]), err_msg=f"output {i}")


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_permute_and_contiguous_vs_torch(dtype):
    a = {"x": _x(4, 300, 130)}
    _close(*_run(lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), a, dtype), dtype)
    _close(*_run(lambda x: x.transpose(1, 2).contiguous(), lambda x: x.transpose(1, 2).contiguous(), a, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_and_cat_vs_torch(dtype):
    a = {"x": _x(300, 40), "y": _x(200, 40, seed=1)}
    _close(*_run(lambda x, y: x.reshape(-1, 24), lambda x, y: x.reshape(-1, 24), a, dtype, grad_of=["x"]), dtype)
    _close(*_run(lambda x, y: tl.cat([x, y, x], 0), lambda x, y: torch.cat([x, y, x], 0), a, dtype), dtype)
    b = {"x": _x(40, 300), "y": _x(40, 200, seed=1)}
    _close(*_run(lambda x, y: tl.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1), b, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(70, 60), (60, 50)]), ("bij,bjk->bik", [(3, 40, 30), (3, 30, 20)]),
                                       ("ijk,kj->i", [(50, 20, 30), (30, 20)]), ("i,j->ij", [(3000,), (4,)])])
def test_einsum_vs_torch(dtype, eq, shapes):
    a = {f"x{i}": _x(*s, seed=i) for i, s in enumerate(shapes)}
    _close(*_run(lambda **k: tl.einsum(eq, *k.values()), lambda **k: torch.einsum(eq, *k.values()), a, dtype), dtype,
           **({} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_cumsum_vs_torch(dtype, axis):
    a = {"x": _x(30, 20, 400)}
    _close(*_run(lambda x: x.cumsum(axis), lambda x: x.cumsum(axis), a, dtype), dtype,
           **({} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("add", [False, True])
def test_scatter_vs_torch(dtype, dim, add):
    rng = np.random.default_rng(dim)
    shape = (20, 30, 40)
    ishape = tuple(n if k == dim else n // 2 for k, n in enumerate(shape))
    # a permutation along dim (no repeats: scatter's winner among repeats is unspecified in PyTorch)
    index = np.argsort(rng.random(ishape), axis=dim) if not add else rng.integers(0, shape[dim], ishape)
    a = {"x": _x(*shape), "src": _x(*ishape, seed=3)}  # (PyTorch cannot differentiate a src bigger than index)
    ours = (lambda x, src: x.scatter_add(dim, index, src)) if add else (lambda x, src: x.scatter(dim, index, src))
    ti = torch.tensor(index)
    theirs = (lambda x, src: x.scatter_add(dim, ti, src)) if add else (lambda x, src: x.scatter(dim, ti, src))
    _close(*_run(ours, theirs, a, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_vs_torch(dtype, bias):
    rng = np.random.default_rng(4)
    a = {"x": _x(6, 50, 130) * 3 + 1, "w": 1 + 0.1 * rng.standard_normal(130), "b": 0.1 * rng.standard_normal(130)}
    grad_of = ["x", "w", "b"] if bias else ["x", "w"]
    ours = lambda x, w, b: F.layer_norm(x, (130,), w, b if bias else None)  # noqa: E731
    theirs = lambda x, w, b: torch.nn.functional.layer_norm(x, (130,), w, b if bias else None)  # noqa: E731
    _close(*_run(ours, theirs, a, dtype, grad_of=grad_of), dtype,
           **({} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transposed", [False, True])
def test_chunked_sigmoid_and_gelu_tanh_vs_torch(dtype, transposed):
    # (41, 1601): two cache-sized pieces and a ragged end (tinygrad_lite/ops/chunked.py); transposed: a
    # non-contiguous input, made contiguous piece by piece
    a = {"x": _x(41, 1601) * 6}
    t = (lambda x: x.t()) if transposed else (lambda x: x)
    _close(*_run(lambda x: t(x).sigmoid(), lambda x: t(x).sigmoid(), a, dtype), dtype)
    _close(*_run(lambda x: F.gelu(t(x), approximate="tanh"),
                 lambda x: torch.nn.functional.gelu(t(x), approximate="tanh"), a, dtype), dtype,
           **({} if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_vs_torch_on_odd_and_non_contiguous_inputs(dtype):
    rng = np.random.default_rng(5)
    a = {"x": _x(37, 3, 129) * 2 - 4, "w": 1 + 0.1 * rng.standard_normal(37), "b": 0.1 * rng.standard_normal(37)}
    for t in ((lambda x: x.permute(2, 1, 0)), (lambda x: x.permute(2, 1, 0).contiguous())):
        ours = lambda x, w, b: F.layer_norm(t(x), (37,), w, b)  # noqa: E731
        theirs = lambda x, w, b: torch.nn.functional.layer_norm(t(x), (37,), w, b)  # noqa: E731
        _close(*_run(ours, theirs, a, dtype), dtype, **({} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("divisor", ["tensor", "row", "negative scalar"])
def test_remainder_vs_torch_including_the_divisor_gradient(dtype, divisor):
    # values, dx and dy = -g * floor_divide(x, y) equal PyTorch's (float32: the float64 fast path of
    # ops/numpy_fast.py), with near and exact multiples where a rounded quotient floors one off
    rng = np.random.default_rng(6)
    y = {"tensor": rng.standard_normal((300, 257)), "row": rng.standard_normal((1, 257)),
         "negative scalar": np.array(-0.7)}[divisor].astype(dtype)
    x = (rng.standard_normal((300, 257)) * 100).astype(dtype)
    x[:3] = (np.broadcast_to(y, x.shape)[:3] * rng.integers(-2000, 2000, (3, 257))).astype(dtype)
    x[3:6] = np.nextafter(x[:3], np.inf).astype(dtype)
    x[6], x[7] = 0.0, -0.0  # zero remainders for either sign of y
    ours, theirs = _run(lambda x, y: x % y, lambda x, y: x % y, {"x": x, "y": y}, dtype)
    for a, b in zip(ours[:2], theirs[:2]):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert (ours[0] == 0).sum() >= 2 * 257  # zero remainders keep x's sign, as PyTorch's (not y's, as numpy's)
    np.testing.assert_array_equal(np.signbit(ours[0]), np.signbit(theirs[0]))
    if divisor == "tensor":
        np.testing.assert_array_equal(ours[2], theirs[2])
    else:  # summed over the broadcast dims: in another order than PyTorch's
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(ours[2], theirs[2], rtol=tol, atol=tol * np.abs(theirs[2]).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shift", [0.0, -30.0, 200.0])
def test_large_softmax_and_log_softmax_vs_torch(dtype, shift):
    # the last-dim path (ops/reduce.py): rows exponentiated unshifted (shift 0: every maximum in [0, 80]) or
    # shifted by their maxima by BLAS (maxima below 0 or too large), log_softmax's saved exps in the backward
    a = {"x": _x(37, 3, 129) * 4 + shift}
    for name in ("softmax", "log_softmax"):
        tol = {} if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6 if name == "softmax" else 2e-5)
        _close(*_run(lambda x: getattr(x, name)(-1), lambda x: getattr(x, name)(-1), a, dtype), dtype, **tol)


def test_large_log_softmax_second_order_vs_torch():
    # create_graph: the rule on Tensors (the saved exps are for plain backward passes only)
    x = _x(40, 130) * 3
    ours = tl.Tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    w = np.random.default_rng(2).standard_normal(x.shape)
    gy_t = torch.autograd.grad((theirs.log_softmax(-1) * torch.tensor(w)).sum(), theirs, create_graph=True)[0]
    (gy_t * gy_t).sum().backward()
    y = (ours.log_softmax(-1) * tl.Tensor(w)).sum()
    y.backward(create_graph=True)
    g1 = ours.grad
    ours.grad = None
    (g1 * g1).sum().backward()
    np.testing.assert_allclose(g1.detach().numpy(), gy_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["fast"] + (["jit"] if jit.available() else []))
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_fast_path_vs_torch_on_odd_shapes_and_arguments(dtype, kind):
    """A fast path (ops/fused.py: "fast", BLAS, or "jit", the numba kernels; forced at every size here) with no
    weight, no bias, a large eps, one-element rows, a 3-D input and a non-contiguous one."""
    from unittest import mock
    from tinygrad_lite.ops import fused
    inf = float("inf")
    rng = np.random.default_rng(6)
    tol = {} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    cases = [((5, 7, 33), lambda t: t, dict(weight=True, bias=False, eps=1e-5)),
             ((33, 4, 9), lambda t: t.permute(2, 1, 0), dict(weight=False, bias=False, eps=0.5)),
             ((6, 1), lambda t: t, dict(weight=True, bias=True, eps=1e-5)),
             ((3, 40), lambda t: t.t(), dict(weight=False, bias=True, eps=1e-3))]
    grads = "_ln_grads_jit" if kind == "jit" else "_ln_grads_fast"
    with mock.patch.object(fused, "_LN_FAST_MIN", inf if kind == "jit" else 0), \
            mock.patch.object(fused, "_LN_JIT_MIN", 0 if kind == "jit" else inf), \
            mock.patch.object(fused, grads, wraps=getattr(fused, grads)) as spy:
        for shape, view, kw in cases:
            n = view(torch.zeros(shape)).shape[-1]
            a = {"x": _x(*shape) * 2 + 3, "w": 1 + 0.1 * rng.standard_normal(n), "b": 0.1 * rng.standard_normal(n)}

            def make(mod):
                return lambda x, w, b: mod.layer_norm(view(x), (n,), w if kw["weight"] else None,
                                                      b if kw["bias"] else None, kw["eps"])
            grad_of = ["x"] + ["w"] * kw["weight"] + ["b"] * kw["bias"]
            _close(*_run(make(F), make(torch.nn.functional), a, dtype, grad_of=grad_of), dtype, **tol)
    assert spy.call_count == len(cases)


def test_layer_norm_float32_fast_path_is_as_accurate_as_torch_far_from_zero():
    """A mean 1000 standard deviations from 0 (the cancellation case): our float32 output and gradients are
    no further from the float64 values than PyTorch's float32 ones (x is centred exactly, x - mean)."""
    rng = np.random.default_rng(7)
    a = {"x": rng.standard_normal((64, 300)) * 0.1 + 100, "w": 1 + 0.1 * rng.standard_normal(300),
         "b": 0.1 * rng.standard_normal(300)}
    fn_ours = lambda x, w, b: F.layer_norm(x, (300,), w, b)  # noqa: E731
    fn_torch = lambda x, w, b: torch.nn.functional.layer_norm(x, (300,), w, b)  # noqa: E731
    ours, theirs = _run(fn_ours, fn_torch, a, np.float32)
    exact, _ = _run(fn_ours, fn_torch, {k: v.astype(np.float32).astype(np.float64) for k, v in a.items()}, np.float64)
    for i, (o, t, e) in enumerate(zip(ours, theirs, exact)):
        err_ours, err_torch = np.abs(o - e).max(), np.abs(t - e).max()
        assert err_ours <= 2 * err_torch + 1e-6 * np.abs(e).max(), (i, err_ours, err_torch)
