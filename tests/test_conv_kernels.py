"""The compiled loops of the stride-1 conv2d rows (ops/conv_kernels.py, called from ops/conv2d.py) against
the rows' numpy path (column copies + matrix products) they replace, in one process: forward, both
gradients, the second order, on shapes the rows take (odd sizes, dilation, 'same' padding either way,
channel counts 1 to 64, batch 1, non-contiguous inputs, float32, inf/NaN); and the kernels themselves
against a direct sum. PyTorch: tests/torch/test_conv_kernels_vs_torch.py."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.ops import conv2d as rows
from tinygrad_lite.ops import conv_kernels, jit

from helpers import assert_same_nonfinite, conv_case, numpy_kernels, small_images_on_the_rows  # noqa: F401

pytestmark = pytest.mark.skipif(not jit.available(), reason="compiled kernels off: numba missing or TINYGRAD_LITE_JIT=0")

_KERNELS = ("conv_taps", "weight_grad_taps")




def _step(fn, x, w, create_graph=False, row=True, **kw):
    """Forward, the gradients of <out, g>, and with create_graph those of |dx|^2 + |dw|^2 as well; the
    convolution ran the conv2d row (row=True) or the general route (row=False)."""
    xt, wt = tl.Tensor(x, requires_grad=True), tl.Tensor(w, requires_grad=True)
    out = fn(xt, wt, **kw)
    assert (out.grad_fn == "conv2d") == row
    g = np.random.default_rng(7).standard_normal(out.shape).astype(x.dtype)
    (out * tl.Tensor(g)).sum().backward(create_graph=create_graph)
    res = [out.detach().numpy(), xt.grad.detach().numpy(), wt.grad.detach().numpy()]
    if create_graph:
        dx, dw = xt.grad, wt.grad
        xt.grad = wt.grad = None
        ((dx * dx).sum() + (dw * dw).sum()).backward()
        res += [xt.grad.numpy(), wt.grad.numpy()]
    return res


def _both(fn, x, w, create_graph=False, **kw):
    """(compiled, numpy) results of _step."""
    fast = _step(fn, x, w, create_graph, **kw)
    with numpy_kernels(conv_kernels, *_KERNELS):
        ref = _step(fn, x, w, create_graph, **kw)
    return fast, ref


def _close(fast, ref, tol):
    for f, r in zip(fast, ref):
        assert f.dtype == r.dtype and f.shape == r.shape
        np.testing.assert_allclose(f, r, rtol=tol, atol=tol)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.sampled_from([1, 2, 3, 8, 9, 16, 17]), co=st.sampled_from([1, 3, 4, 5, 16, 17]),
       h=st.integers(1, 9), w=st.integers(1, 9), k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       dilation=st.tuples(st.integers(1, 3), st.integers(1, 2)), at=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       transpose=st.booleans(), create_graph=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_the_compiled_loops_equal_the_numpy_path(n, c, co, h, w, k, dilation, at, transpose, create_graph, seed):
    rng = np.random.default_rng(seed)
    pad = tuple(round(f * d * (kk - 1)) for f, d, kk in zip(at, dilation, k))  # from 0 ('valid') to the kernel's span
    fn, shape_w = (F.conv_transpose2d, (c, co) + k) if transpose else (F.conv2d, (co, c) + k)
    h, w = (h + 2 * pad[0], w + 2 * pad[1]) if transpose else (h + dilation[0] * (k[0] - 1), w + dilation[1] * (k[1] - 1))
    x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal(shape_w)
    with pytest.MonkeyPatch.context() as mp:  # (the rule leaves out some channel counts: the rows take them all)
        mp.setattr(rows, "fast_path_applies", lambda *a: True)
        fast, ref = _both(fn, x, wt, create_graph, padding=pad, dilation=dilation)
    _close(fast, ref, 1e-11)


@pytest.mark.parametrize("c, co", [(16, 16), (64, 16), (16, 64), (17, 33)])
@pytest.mark.parametrize("transpose", [False, True])
def test_float32_wide_channels_and_non_contiguous_inputs(c, co, transpose):
    """float32 (the loops' own vector code) against the float64 numpy path, on non-contiguous inputs."""
    rng = np.random.default_rng(c + co)
    x = rng.standard_normal((2, 13, 11, c)).transpose(0, 3, 1, 2)  # (2, c, 13, 11), channels last in memory
    shape_w = (c, co, 3, 3) if transpose else (co, c, 3, 3)
    w = rng.standard_normal(shape_w[::-1]).transpose(3, 2, 1, 0) / np.sqrt(9 * c)
    fn = F.conv_transpose2d if transpose else F.conv2d
    fast = _step(fn, x.astype(np.float32), w.astype(np.float32), padding=1)
    with numpy_kernels(conv_kernels, *_KERNELS):
        ref = _step(fn, x, w, padding=1)
    for f, r in zip(fast, ref):
        assert f.dtype == np.float32
        np.testing.assert_allclose(f, r, rtol=2e-4, atol=2e-4 * np.abs(r).max())


def test_batch_one_unbatched_and_odd_sizes():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 16, 7, 29)), rng.standard_normal((5, 16, 3, 5))
    _close(*_both(F.conv2d, x, w, padding=(1, 2)), 1e-11)
    out = F.conv2d(tl.Tensor(x[0]), tl.Tensor(w), padding=(1, 2))
    with numpy_kernels(conv_kernels, *_KERNELS):
        np.testing.assert_allclose(out.numpy(), F.conv2d(tl.Tensor(x[0]), tl.Tensor(w), padding=(1, 2)).numpy(),
                                   rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("where", ["x", "w"])
def test_inf_and_nan_reach_the_same_outputs_and_gradients(where):
    """The weight gradient's zero columns of g meet the padded x: 0 * inf must not leave a NaN where the
    numpy path has a finite value (it is recomputed on windows of x)."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 16, 6, 7)), rng.standard_normal((4, 16, 3, 3))
    if where == "x":
        x[0, 1, 0, 2], x[1, 0, 5, 6], x[1, 3, 2, 0] = np.inf, np.nan, -np.inf
    else:
        w[1, 2, 0, 0], w[3, 0, 2, 1] = np.inf, np.nan
    with np.errstate(invalid="ignore"):
        fast, ref = _both(F.conv2d, x, w, padding=1)
    assert_same_nonfinite(fast, ref)


def test_an_empty_batch():
    x, w = np.zeros((0, 16, 5, 5)), np.ones((4, 16, 3, 3))
    out, dx, dw = _step(F.conv2d, x, w, padding=1)
    assert out.shape == (0, 4, 5, 5) and dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("S, D, T, P", [(1, 1, 9, 63), (4, 1, 9, 17), (1, 4, 6, 3), (2, 3, 1, 40)])
def test_the_kernels_compute_their_contracts(dtype, S, D, T, P):
    """conv_taps and weight_grad_taps against their docstrings' sums, taps reading and writing any planes."""
    rng = np.random.default_rng(S * 10 + D)
    N, C, Co = 2, 16, 8
    src, dst, off = rng.integers(0, S, T), rng.integers(0, D, T), rng.integers(0, 30, T)
    L = P + 30
    xf, w = rng.standard_normal((N, S, C, L)).astype(dtype), rng.standard_normal((T, Co, C)).astype(dtype)
    yf = np.full((N, D, Co, P), np.nan, dtype)  # (the loop zeroes it first)
    conv_kernels.conv_taps(xf, w, yf, src, dst, off)
    want = np.zeros((N, D, Co, P))
    for t in range(T):
        want[:, dst[t]] += np.einsum("oc,ncp->nop", w[t], xf[:, src[t], :, off[t]:off[t] + P])
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(yf, want, rtol=tol, atol=tol)
    base = 3
    gf = rng.standard_normal((N, Co, base + P + 2)).astype(dtype)
    dw = np.ones((T, Co, C), dtype)  # (it adds to dw)
    conv_kernels.weight_grad_taps(xf, gf, dw, src, off, base, P)
    want = np.stack([np.einsum("nop,ncp->oc", gf[:, :, base:base + P], xf[:, src[t], :, off[t]:off[t] + P])
                     for t in range(T)])
    np.testing.assert_allclose(dw, 1 + want, rtol=tol, atol=tol * 10)


def _forced(fn, x, w, create_graph, row, **kw):
    """_step with the conv2d row forced (row=True) or the general route forced (row=False)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rows, "fast_path_applies", lambda *a: row)
        return _step(fn, x, w, create_graph, row, **kw)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.sampled_from([1, 3, 8, 16, 17]), co=st.sampled_from([1, 4, 5, 16]),
       h=st.integers(1, 9), w=st.integers(1, 9), k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 3), st.integers(2, 3)), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       pad=st.tuples(st.integers(0, 3), st.integers(0, 3)), extra=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       transpose=st.booleans(), create_graph=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_the_strided_row_equals_the_general_route(n, c, co, h, w, k, stride, dilation, pad, extra, transpose,
                                                   create_graph, seed):
    """The strided row (phase planes, compiled; windows / col2im as arrays, numpy) against the general route."""
    rng = np.random.default_rng(seed)
    kw = dict(stride=stride, padding=pad, dilation=dilation)
    if transpose:
        kw["output_padding"] = tuple(min(e, max(s, d) - 1) for e, s, d in zip(extra, stride, dilation))
    fn, x, wt = conv_case(rng, transpose, n, c, co, h, w, k, pad, dilation)
    ref = _forced(fn, x, wt, create_graph, False, **kw)
    _close(_forced(fn, x, wt, create_graph, True, **kw), ref, 1e-11)
    with numpy_kernels(conv_kernels, *_KERNELS):
        _close(_forced(fn, x, wt, create_graph, True, **kw), ref, 1e-11)


@pytest.mark.parametrize("transpose", [False, True])
def test_the_rule_takes_the_strided_row_when_compiled_from_8_channels(transpose):
    fn, kw = (F.conv_transpose2d, dict(stride=2, padding=1, output_padding=1)) if transpose else \
        (F.conv2d, dict(stride=2, padding=1))
    for c, want in ((8, True), (16, True), (7, False)):
        x, w = np.zeros((1, c, 6, 6)), np.zeros((c, 4, 3, 3) if transpose else (4, c, 3, 3))
        assert (_grad_fn(fn, x, w, **kw) == "conv2d") == (want and jit.available())
        with numpy_kernels(conv_kernels, *_KERNELS):
            assert _grad_fn(fn, x, w, **kw) != "conv2d"
        assert _grad_fn(fn, x.astype(np.float16), w.astype(np.float16), **kw) != "conv2d"  # (the kernels' dtypes only)


def _grad_fn(fn, x, w, **kw):
    return fn(tl.Tensor(x, requires_grad=True), tl.Tensor(w, requires_grad=True), **kw).grad_fn


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("where", ["x", "w"])
def test_inf_and_nan_in_the_strided_row_reach_what_the_general_route_reaches(transpose, where):
    """The phase planes never multiply a value by a weight the convolution does not pair it with."""
    rng = np.random.default_rng(4)
    fn, kw = (F.conv_transpose2d, dict(stride=2, padding=1, output_padding=1)) if transpose else \
        (F.conv2d, dict(stride=2, padding=1))
    x = rng.standard_normal((2, 16, 7, 6))
    w = rng.standard_normal((16, 4, 3, 3) if transpose else (4, 16, 3, 3))
    if where == "x":
        x[0, 1, 0, 2], x[1, 0, 5, 5], x[1, 3, 3, 0] = np.inf, np.nan, -np.inf
    else:
        w[1, 2, 0, 0], w[3, 0, 2, 1] = np.inf, np.nan
    with np.errstate(invalid="ignore"):
        ref = _forced(fn, x, w, False, False, **kw)
        fast = _forced(fn, x, w, False, True, **kw)
    assert_same_nonfinite(fast, ref)


@pytest.mark.parametrize("stride", [1, 2])
def test_small_images_take_the_numpy_path(stride, monkeypatch):
    """Below rows._MIN_PIXELS output pixels per image the rule keeps the numpy rules (and the row its numpy
    path); from there on the compiled loops run."""
    monkeypatch.setattr(rows, "_MIN_PIXELS", 144)
    calls = []
    monkeypatch.setattr(conv_kernels, "conv_taps", lambda *a, _f=conv_kernels.conv_taps: calls.append(1) or _f(*a))
    w = np.zeros((16, 16, 3, 3))
    for side, compiled in ((11 * stride, False), (12 * stride, True)):
        calls.clear()
        out = F.conv2d(tl.Tensor(np.zeros((1, 16, side, side)), requires_grad=True), tl.Tensor(w), stride=stride, padding=1)
        assert out.shape[2:] == (side // stride, side // stride)
        assert (out.grad_fn == "conv2d") == (compiled or stride == 1)
        assert bool(calls) == compiled
