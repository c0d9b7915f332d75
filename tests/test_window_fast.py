"""The 2-D col2im fast path (two stages: contiguous row-offset blocks, then one strided add per column
offset) against the reference it replaces (one strided add per kernel offset) and against a plain-loop
oracle, over kernel / stride / dilation / padding, odd sizes, float32 and float64 and non-contiguous
input; and F.conv2d / F.conv_transpose2d with the fast path against the same with it switched off,
forward, backward and second order. PyTorch comparisons of the convolutions: tests/torch/test_layers_vs_torch.py."""
from unittest import mock

import numpy as np
from hypothesis import given, settings, strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.ops import window
from tinygrad_lite.ops.window import WindowArgs

from window_cases import col2im_ref


@st.composite
def _geometry_2d(draw):
    size = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    a = WindowArgs(kernel, stride, dilation, pads, 0.0, size)
    if any(o < 1 for o in a.out):  # the kernel does not fit: widen the high padding
        pads = tuple((lo, hi + dl * (k - 1)) for (lo, hi), dl, k in zip(pads, dilation, kernel))
        a = WindowArgs(kernel, stride, dilation, pads, 0.0, size)
    lead = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    return a, lead


@settings(max_examples=150, deadline=None)
@given(geo=_geometry_2d(), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16),
       transposed=st.booleans())
def test_col2im_2d_equals_reference_and_loops(geo, dtype, seed, transposed):
    a, lead = geo
    rng = np.random.default_rng(seed)
    shape = lead + a.kernel + a.out
    cols = rng.standard_normal(shape).astype(dtype)
    if transposed:  # a non-contiguous input (the output positions' axes swapped in memory)
        cols = np.ascontiguousarray(cols.swapaxes(-1, -2)).swapaxes(-1, -2)
    fast = window._col2im_2d(a, cols)
    ref = window._col2im_ref(a, cols)
    assert fast.shape == ref.shape == lead + a.size and fast.dtype == ref.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-13  # the same sums in another order
    np.testing.assert_allclose(fast, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(fast, col2im_ref(a, cols.astype(np.float64)), rtol=tol, atol=tol)


def test_col2im_takes_the_fast_path_for_2d_only():
    a2 = WindowArgs((3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 0.0, (5, 6))
    a1 = WindowArgs((3,), (1,), (1,), ((1, 1),), 0.0, (6,))
    with mock.patch.object(window, "_col2im_2d", wraps=window._col2im_2d) as fast, \
            mock.patch.object(window, "TINY_ELEMENTS", 0):  # (not the tiny path: tested below)
        window.col2im(np.ones((2, 3, 3, 3) + a2.out), a2)
        window.col2im(np.ones((2, 3, 3) + a1.out), a1)
    assert fast.call_count == 1


@settings(max_examples=150, deadline=None)
@given(geo=_geometry_2d(), dtype=st.sampled_from([np.float32, np.float64, np.int64]), seed=st.integers(0, 2 ** 16),
       value=st.sampled_from([0.0, -np.inf, 1.5]), transposed=st.booleans())
def test_tiny_windows_and_col2im_are_the_reference_routes(geo, dtype, seed, value, transposed):
    """The gathers by index tables (small inputs) against the strided copy and the strided adds: windows bit
    for bit (the padding's value included: -inf for max pooling), col2im to rounding (another order)."""
    a, lead = geo
    if value == -np.inf and dtype == np.int64:
        value = 0.0
    a = WindowArgs(a.kernel, a.stride, a.dilation, a.pads, value, a.size)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(lead + a.size) * 10).astype(dtype)
    if transposed:
        x = np.ascontiguousarray(x.swapaxes(-1, -2)).swapaxes(-1, -2)
    cols = (rng.standard_normal(lead + a.kernel + a.out) * 10).astype(dtype)
    with mock.patch.object(window, "TINY_ELEMENTS", float("inf")):  # (every geometry drawn takes it)
        got, back = window.windows(x, a), window.col2im(cols, a)
    np.testing.assert_array_equal(got, window._windows_ref(a, x))
    assert got.dtype == x.dtype and got.shape == lead + a.kernel + a.out
    got = back
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, window._col2im_ref(a, cols), rtol=tol, atol=tol)
    assert got.dtype == cols.dtype and got.shape == lead + a.size


def test_the_tiny_path_ends_at_its_threshold():
    a = WindowArgs((3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), 0.0, (8, 8))
    small, large = (1, 2) + a.size, (64, 64) + a.size
    with mock.patch.object(window, "tiny_windows", wraps=window.tiny_windows) as tiny:
        window.windows(np.ones(small), a)
        window.windows(np.ones(large), a)
    assert tiny.call_count == 1


def _conv_step(fn, x, w, create_graph=False, **kw):
    xt, wt = tl.Tensor(x, requires_grad=True), tl.Tensor(w, requires_grad=True)
    out = fn(xt, wt, **kw)
    g = np.random.default_rng(7).standard_normal(out.shape)
    (out * tl.Tensor(g)).sum().backward(create_graph=create_graph)
    if create_graph:  # second order: the gradient of sum(dx^2) with respect to w runs windows and col2im again
        (xt.grad * xt.grad).sum().backward()
        return out.detach().numpy(), wt.grad.detach().numpy()
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9),
       k=st.integers(1, 3), stride=st.integers(1, 2), dilation=st.integers(1, 2), padding=st.integers(0, 2),
       groups=st.sampled_from([1, 2]), transpose=st.booleans(), create_graph=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_convolutions_with_and_without_the_fast_path(n, c, h, w, k, stride, dilation, padding, groups, transpose,
                                                     create_graph, seed):
    rng = np.random.default_rng(seed)
    cin = c * groups
    if transpose:
        fn = F.conv_transpose2d
        x, wt = rng.standard_normal((n, cin, h, w)), rng.standard_normal((cin, 2, k, k))
        padding = min(padding, dilation * (k - 1))  # (a valid transposed geometry)
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    else:
        fn = F.conv2d
        span = dilation * (k - 1)  # (so that the kernel fits without padding)
        x, wt = rng.standard_normal((n, cin, h + span, w + span)), rng.standard_normal((2 * groups, c, k, k))
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    fast = _conv_step(fn, x, wt, create_graph, **kw)
    with mock.patch.object(window, "_col2im_2d", window._col2im_ref):
        ref = _conv_step(fn, x, wt, create_graph, **kw)
    for f, r in zip(fast, ref):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(geo=_geometry_2d(), value=st.sampled_from([0.0, -np.inf, 1.5]),
       dtype=st.sampled_from([np.float32, np.float64, np.int64]), seed=st.integers(0, 2 ** 16))
def test_padding_equals_nps_pad(geo, value, dtype, seed):
    a, lead = geo
    a = WindowArgs(a.kernel, a.stride, a.dilation, a.pads, value, a.size)
    x = (np.random.default_rng(seed).standard_normal(lead + a.size) * 10).astype(dtype)
    widths = ((0, 0),) * len(lead) + a.pads
    if value != 0 and dtype == np.int64:  # integer arrays cannot hold -inf or 1.5 padding: numpy's own error
        try:
            expected = np.pad(x, widths, constant_values=value)
        except (OverflowError, ValueError) as e:
            with np.testing.assert_raises(type(e)):
                window._padded(a, x)
            return
    else:
        expected = np.pad(x, widths, constant_values=value)
    got = window._padded(a, x)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
