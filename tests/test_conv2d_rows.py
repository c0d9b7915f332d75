"""The stride-1 conv2d rows (tinygrad_lite/ops/conv2d.py): F.conv2d and F.conv_transpose2d through them
against the same calls through the general route (windows + matmul, col2im) they replace, forward, both
gradients and the second order; the rule that picks them; edge cases (inf/NaN, non-contiguous inputs,
float32, an empty batch). The rows' own gradchecks are in test_ops_gradcheck.py (window_cases.py), their
PyTorch comparisons in torch/test_ops_vs_torch.py and torch/test_second_order_vs_torch.py."""
import contextlib
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.ops import conv2d as rows
from tinygrad_lite.ops import conv_kernels, jit
from tinygrad_lite.ops.jit import numpy_kernels

from helpers import conv_case, small_images_on_the_rows  # noqa: F401  (an autouse fixture)




def _step(fn, x, w, create_graph=False, **kw):
    """Forward, then the gradients of <out, g> (and with create_graph those of |dx|^2 + |dw|^2)."""
    xt, wt = tl.Tensor(x, requires_grad=True), tl.Tensor(w, requires_grad=True)
    out = fn(xt, wt, **kw)
    g = np.random.default_rng(7).standard_normal(out.shape).astype(x.dtype)
    (out * tl.Tensor(g)).sum().backward(create_graph=create_graph)
    if create_graph:
        dx, dw = xt.grad, wt.grad
        xt.grad = wt.grad = None
        ((dx * dx).sum() + (dw * dw).sum()).backward()
        return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def _general(fn, x, w, create_graph=False, **kw):
    with mock.patch.object(rows, "fast_path_applies", lambda *a: False):
        return _step(fn, x, w, create_graph, **kw)


def _grad_fn(fn, x, w, **kw):
    return fn(tl.Tensor(x, requires_grad=True), tl.Tensor(w, requires_grad=True), **kw).grad_fn


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), co=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       up=st.tuples(st.booleans(), st.booleans()), transpose=st.booleans(), create_graph=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_the_conv2d_row_equals_the_general_route(n, c, co, h, w, k, dilation, up, transpose, create_graph, seed):
    rng = np.random.default_rng(seed)
    pad = tuple((d * (kk - 1) + u) // 2 for u, d, kk in zip(up, dilation, k))  # ('same' padding: the rule's)
    fn, x, wt = conv_case(rng, transpose, n, c, co, h, w, k, pad, dilation)
    kw = dict(padding=pad, dilation=dilation)
    assert _grad_fn(fn, x, wt, **kw) == "conv2d"
    fast, ref = _step(fn, x, wt, create_graph, **kw), _general(fn, x, wt, create_graph, **kw)
    for f, r in zip(fast, ref):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", [1, "same", (0, 1)])
def test_conv2d_with_same_padding_and_even_kernels(padding):
    """'same' with an even kernel pads unequally (one more at the end): both sides stay within the rule."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 2, 4))
    assert _grad_fn(F.conv2d, x, w, padding=padding) == "conv2d"
    for f, r in zip(_step(F.conv2d, x, w, padding=padding), _general(F.conv2d, x, w, padding=padding)):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn, kw, shape_w", [
    (F.conv2d, dict(stride=2, padding=1), (4, 3, 3, 3)),
    (F.conv2d, dict(padding=1, groups=3), (3, 1, 3, 3)),
    (F.conv2d, dict(padding=1), (4, 3, 1, 1)),               # padding wider than kernel - 1: dx would need cropping
    (F.conv2d, dict(padding=(3, 1), dilation=(1, 2)), (4, 3, 3, 3)),
    (F.conv_transpose2d, dict(stride=2, padding=1), (3, 4, 3, 3)),
])
def test_other_convolutions_take_the_general_route(fn, kw, shape_w):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal(shape_w)
    for path in (numpy_kernels(conv_kernels, "conv_taps", "weight_grad_taps"), contextlib.nullcontext()):
        with path:
            assert _grad_fn(fn, x, w, **kw) != "conv2d"


@pytest.mark.parametrize("fn, kw, shape_w", [
    (F.conv2d, {}, (4, 3, 3, 3)),                             # 'valid': dx would multiply a border of zeros
    (F.conv_transpose2d, {}, (3, 4, 3, 3)),                   # (and here the forward)
    (F.conv2d, dict(padding=(1, 0)), (4, 3, 3, 3)),
])
@pytest.mark.parametrize("c_in", [3, 8])
def test_padding_away_from_same_takes_the_rows_only_when_compiled(fn, kw, shape_w, c_in):
    """The numpy path leaves these to the general route; the compiled loops take them from 8 input channels."""
    rng = np.random.default_rng(1)
    shape_w = (c_in, 4, 3, 3) if fn is F.conv_transpose2d else (4, c_in, 3, 3)
    x, w = rng.standard_normal((2, c_in, 6, 7)), rng.standard_normal(shape_w)
    with numpy_kernels(conv_kernels, "conv_taps", "weight_grad_taps"):
        assert _grad_fn(fn, x, w, **kw) != "conv2d"
    assert (_grad_fn(fn, x, w, **kw) == "conv2d") == (jit.available() and c_in >= 8)


@pytest.mark.parametrize("c_in, c_out, rows_apply, rows_apply_compiled", [
    (16, 1, True, True), (16, 64, True, True), (32, 64, True, True), (2, 2, True, True), (8, 8, True, True),
    (4, 16, False, False), (1, 32, False, False), (8, 9, False, True), (12, 40, False, True)])
def test_the_rule_takes_the_rows_for_wide_or_tiny_channel_counts(c_in, c_out, rows_apply, rows_apply_compiled):
    for fn, shape_w in ((F.conv2d, (c_out, c_in, 3, 3)), (F.conv_transpose2d, (c_in, c_out, 3, 3))):
        x, w = np.zeros((1, c_in, 5, 5)), np.zeros(shape_w)
        with numpy_kernels(conv_kernels, "conv_taps", "weight_grad_taps"):
            assert (_grad_fn(fn, x, w, padding=1) == "conv2d") == rows_apply
        assert (_grad_fn(fn, x, w, padding=1) == "conv2d") == (rows_apply_compiled if jit.available() else rows_apply)


def test_the_rule_wants_one_float_dtype():
    x, w = np.zeros((1, 2, 4, 4)), np.zeros((2, 2, 3, 3))
    args = ((1, 1), (1, 1), ((1, 1), (1, 1)), 1)
    assert rows.fast_path_applies(x, w, *args)
    assert not rows.fast_path_applies(x.astype(np.float32), w, *args)
    assert not rows.fast_path_applies(x.astype(np.int64), w.astype(np.int64), *args)
    assert not rows.fast_path_applies(x, w, (1,), (1,), ((1, 1),), 1)  # 1-D


def test_a_flipped_weight_is_the_adjoint_kernel():
    """ConvArgs.flipped reads w (C_in, C_out, K1, K2) reversed: the same as the ordinary layout of the
    flipped, swapped copy, forward and weight gradient; adjoint_args toggles it."""
    rng = np.random.default_rng(5)
    a = rows.ConvArgs((3, 2), (1, 2), ((1, 2), (0, 1)), (5, 6))
    x, w = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((3, 4, 3, 2))
    w_plain = np.ascontiguousarray(w[:, :, ::-1, ::-1].swapaxes(0, 1))
    flipped = rows.ConvArgs(a.kernel, a.dilation, a.pads, a.size, flipped=True)
    y = rows.conv2d(x, w, flipped)
    np.testing.assert_allclose(y, rows.conv2d(x, w_plain, a), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    dw = rows.conv2d_weight(x, g, flipped)
    np.testing.assert_allclose(dw[:, :, ::-1, ::-1].swapaxes(0, 1), rows.conv2d_weight(x, g, a), rtol=1e-12, atol=1e-12)
    assert rows.adjoint_args(a).flipped and not rows.adjoint_args(flipped).flipped
    assert rows.adjoint_args(rows.adjoint_args(a)).pads == a.pads
    adj = rows.adjoint_args(a)  # (built from known fields: the same as computing them again)
    assert (adj.out, adj.size) == (rows.ConvArgs(adj.kernel, adj.dilation, adj.pads, adj.size).out, a.out) == (a.size, a.out)


@pytest.mark.parametrize("wide_enough", [1, 10 ** 9])  # the weight gradient on the columns of g / on windows of x
def test_a_non_finite_input_spoils_only_the_gradients_it_reaches(wide_enough, monkeypatch):
    """The padding of g in its column copies meets every input position; 0 * inf must not turn into NaN
    in a kernel row that never reads the inf (it is recomputed on windows of x)."""
    monkeypatch.setattr(rows, "_WIDE_ENOUGH", wide_enough)
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3))
    x[0, 1, 0, 2], x[1, 0, 5, 6] = np.inf, np.nan
    with np.errstate(invalid="ignore"):  # (the general route's own inf - inf)
        fast, ref = _step(F.conv2d, x, w, padding=1), _general(F.conv2d, x, w, padding=1)
    for f, r in zip(fast, ref):
        np.testing.assert_array_equal(np.isnan(f), np.isnan(r))
        np.testing.assert_array_equal(np.isinf(f), np.isinf(r))
        ok = np.isfinite(r)
        np.testing.assert_allclose(f[ok], r[ok], rtol=1e-12, atol=1e-12)
    assert np.isfinite(fast[2][:, :, 2]).any()  # kernel row 2 never reads input row 0: finite there


@pytest.mark.parametrize("flipped", [False, True])
def test_the_weight_gradient_from_g_columns_equals_the_one_on_windows_of_x(flipped):
    """_weight_grad (on the column copies of g) against its exact fallback (used after a non-finite
    result), on finite values."""
    rng = np.random.default_rng(3)
    a = rows.ConvArgs((3, 2), (2, 1), ((2, 1), (0, 1)), (6, 5), flipped)
    x, g = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 4) + a.out)
    exact = rows._weight_grad_exact(a, x, g)
    assert exact.shape == ((3, 4) if flipped else (4, 3)) + a.kernel
    np.testing.assert_allclose(rows._weight_grad_on(a, x, g, rows._column_copies(rows.adjoint_args(a), g)), exact,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn, shape_w", [(F.conv2d, (4, 3, 3, 3)), (F.conv_transpose2d, (3, 4, 3, 3))])
def test_non_contiguous_float32_and_unbatched_inputs(fn, shape_w):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 7, 6, 3)).transpose(0, 3, 2, 1)  # (2, 3, 6, 7), not contiguous
    w = rng.standard_normal(shape_w)[:, :, ::-1]
    for f, r in zip(_step(fn, x, w, padding=1), _general(fn, x, w, padding=1)):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-12)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    for f, r in zip(_step(fn, x32, w32, padding=1), _general(fn, x, w, padding=1)):
        assert f.dtype == np.float32
        np.testing.assert_allclose(f, r, rtol=1e-4, atol=1e-4)
    out = fn(tl.Tensor(x[0]), tl.Tensor(w), padding=1)
    np.testing.assert_allclose(out.numpy(), fn(tl.Tensor(x), tl.Tensor(w), padding=1).numpy()[0], rtol=1e-12)


def test_an_empty_batch():
    x, w = np.zeros((0, 3, 5, 5)), np.ones((4, 3, 3, 3))
    out, dx, dw = _step(F.conv2d, x, w, padding=1)
    assert out.shape == (0, 4, 5, 5) and dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros_like(w))


@pytest.mark.parametrize("H,W,K,d,lo,hi", [(5, 6, (3, 3), (1, 1), (1, 1), (1, 1)), (4, 1, (3, 3), (2, 2), (2, 2), (2, 2)),
                                           (3, 2, (3, 5), (1, 3), (1, 6), (1, 6)), (6, 7, (1, 2), (1, 1), (0, 1), (0, 0)),
                                           (2, 3, (2, 3), (1, 2), (0, 4), (1, 0))])
def test_column_copies_equal_slices_of_the_zero_padded_input(H, W, K, d, lo, hi):
    # every entry is the zero-padded input's, including kernel columns that no input reaches (W narrower
    # than the dilated kernel) and padding on one side only
    from tinygrad_lite.ops import conv2d as rows
    from tinygrad_lite.ops.window import WindowArgs
    x = np.random.default_rng(0).standard_normal((2, 3, H, W)).astype(np.float32)
    a = rows.conv_args(WindowArgs(K, (1, 1), d, ((lo[0], hi[0]), (lo[1], hi[1])), 0, (H, W)))
    cols = rows._column_copies(a, x)
    xp = np.pad(x, ((0, 0), (0, 0), (lo[0], hi[0]), (lo[1], hi[1])))
    Wo = a.out[1]
    want = np.stack([xp[:, :, :, kj * d[1]:kj * d[1] + Wo] for kj in range(K[1])], 1)
    np.testing.assert_array_equal(cols, want.reshape(cols.shape))


def test_the_rule_is_decided_again_when_anything_it_reads_changes(monkeypatch):
    """fast_path_applies caches its decision: a changed shape, dtype, stride, padding, threshold or the
    kernels' switch gets a fresh one (each asked first with the cache holding the other answer)."""
    x, w, args = np.zeros((1, 2, 5, 5)), np.zeros((2, 2, 3, 3)), ((1, 1), (1, 1), ((1, 1), (1, 1)), 1)
    with numpy_kernels(conv_kernels, "conv_taps", "weight_grad_taps"):
        assert rows.fast_path_applies(x, w, *args)
        assert not rows.fast_path_applies(np.zeros((1, 4, 5, 5)), np.zeros((16, 4, 3, 3)), *args)  # channels
        assert not rows.fast_path_applies(x.astype(np.float32), w, *args)  # dtype
        assert not rows.fast_path_applies(x, w, (2, 2), *args[1:])  # stride (the strided row: compiled only)
        assert not rows.fast_path_applies(x, w, args[0], args[1], ((0, 0), (1, 1)), 1)  # padding
        monkeypatch.setattr(rows, "_TINY_CHANNELS", 1)
        assert not rows.fast_path_applies(x, w, *args)  # a threshold
    x, w = np.zeros((1, 8, 12, 12)), np.zeros((4, 8, 3, 3))
    monkeypatch.setattr(rows, "_MIN_PIXELS", 0)
    with numpy_kernels(conv_kernels, "conv_taps", "weight_grad_taps"):
        assert not rows.fast_path_applies(x, w, (2, 2), *args[1:])
    assert rows.fast_path_applies(x, w, (2, 2), *args[1:]) == jit.available()  # the kernels' switch


def test_the_cached_geometry_is_that_of_the_call():
    """nn/conv.py caches each convolution's parsed arguments by shapes and arguments (with their types):
    another shape, stride or batch gets its own; an argument that is an error stays one after the valid
    one it equals (stride=1.0 vs 1); unhashable arguments (lists) work uncached."""
    x, w = tl.Tensor(np.ones((1, 2, 6, 6))), tl.Tensor(np.ones((3, 2, 3, 3)))
    for fn, w_t in ((F.conv2d, w), (F.conv_transpose2d, tl.Tensor(np.ones((2, 3, 3, 3))))):
        assert fn(x, w_t, stride=1).shape[2:] == fn(x, w_t, stride=[1, 1]).shape[2:]
        with pytest.raises(TypeError, match="stride"):
            fn(x, w_t, stride=1.0)
        assert fn(x, w_t, stride=2).shape[2:] != fn(x, w_t, stride=1).shape[2:]
        assert fn(tl.Tensor(np.ones((2, 6, 6))), w_t).ndim == 3  # unbatched: a shape of its own
        assert fn(tl.Tensor(np.ones((1, 2, 7, 6))), w_t).shape[2:] != fn(x, w_t).shape[2:]
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(tl.Tensor(np.ones((1, 3, 6, 6))), w)


def _tiny_on(monkeypatch):
    monkeypatch.setattr(rows, "_TINY_ELEMENTS", 10 ** 9)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), co=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), at=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       extra=st.tuples(st.integers(0, 2), st.integers(0, 2)), transpose=st.booleans(), create_graph=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_the_tiny_path_equals_the_general_route(n, c, co, h, w, k, stride, dilation, at, extra, transpose,
                                                create_graph, seed):
    """The tiny path (gathers by index tables) of the stride-1 and the strided rows, conv2d and
    conv_transpose2d (with output_padding), forward, gradients and second order, against the general route.
    Padding anywhere from 0 to the dilated span d*(K-1) (the stride-1 row's range)."""
    rng = np.random.default_rng(seed)
    pad = tuple(int(a * d * (kk - 1)) for a, d, kk in zip(at, dilation, k))
    kw = dict(stride=stride, padding=pad, dilation=dilation)
    if transpose:
        if stride != (1, 1):
            kw["output_padding"] = tuple(min(e, max(s, d) - 1) for e, s, d in zip(extra, stride, dilation))
    fn, x, wt = conv_case(rng, transpose, n, c, co, h, w, k, pad, dilation)
    ref = _general(fn, x, wt, create_graph, **kw)
    with pytest.MonkeyPatch.context() as mp:
        _tiny_on(mp)
        mp.setattr(rows, "_compiled", lambda *a: pytest.fail("the tiny path runs no compiled loop"))
        assert _grad_fn(fn, x, wt, **kw) == "conv2d"
        fast = _step(fn, x, wt, create_graph, **kw)
    for f, r in zip(fast, ref):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("where", ["x", "w"])
def test_inf_and_nan_on_the_tiny_path_reach_what_the_general_route_reaches(stride, transpose, where, monkeypatch):
    rng = np.random.default_rng(4)
    fn, kw = (F.conv_transpose2d, dict(stride=stride, padding=1)) if transpose else (F.conv2d, dict(stride=stride, padding=1))
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((3, 4, 3, 3) if transpose else (4, 3, 3, 3))
    if where == "x":
        x[0, 1, 0, 2], x[1, 0, 5, 5], x[1, 2, 3, 0] = np.inf, np.nan, -np.inf
    else:
        w[1, 2, 0, 0], w[2, 0, 2, 1] = np.inf, np.nan
    with np.errstate(invalid="ignore"):
        ref = _general(fn, x, w, **kw)
        _tiny_on(monkeypatch)
        assert _grad_fn(fn, x, w, **kw) == "conv2d"
        fast = _step(fn, x, w, **kw)
    for f, r in zip(fast, ref):
        np.testing.assert_array_equal(np.isnan(f), np.isnan(r))
        np.testing.assert_array_equal(np.isinf(f), np.isinf(r))
        ok = np.isfinite(r)
        np.testing.assert_allclose(f[ok], r[ok], rtol=1e-12, atol=1e-12)
    assert np.isfinite(ref[0]).any() and not np.isfinite(ref[0]).all()  # (the forward: some of each)


@pytest.mark.parametrize("size, kernel, stride, dilation, pads", [
    ((8, 8), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))), ((7, 5), (3, 2), (2, 3), (2, 1), ((2, 0), (1, 3))),
    ((1, 4), (3, 3), (3, 1), (1, 2), ((3, 3), (0, 4))), ((5, 5), (1, 1), (2, 2), (1, 1), ((0, 0), (0, 0)))])
def test_the_gather_tables_are_windows_and_col2im(size, kernel, stride, dilation, pads):
    """_tiny_windows is windows(x) (as (N, C*K1*K2, Ho*Wo)) and _tiny_adjoint col2im of the products, bit
    for bit in float32, including positions no window reaches (zero) and windows wholly in the padding."""
    from tinygrad_lite.ops import window
    from tinygrad_lite.ops.window import WindowArgs
    rng = np.random.default_rng(0)
    wa = WindowArgs(kernel, stride, dilation, pads, 0, size)
    x = rng.standard_normal((2, 3) + size).astype(np.float32)
    np.testing.assert_array_equal(rows._tiny_windows(wa, x),
                                  window._windows_ref(wa, x).reshape(2, 3 * kernel[0] * kernel[1], -1))
    w, v = rng.standard_normal((4, 3) + kernel).astype(np.float32), rng.standard_normal((2, 4) + wa.out).astype(np.float32)
    cols = np.matmul(w.reshape(4, -1).T, v.reshape(2, 4, -1)).reshape((2, 3) + kernel + wa.out)
    np.testing.assert_allclose(rows._tiny_adjoint(wa, v, w), window._col2im_ref(wa, cols), rtol=1e-6, atol=1e-6)


def test_tiny_convolutions_take_the_row_below_the_threshold(monkeypatch):
    """With or without the compiled loops, any stride; from _TINY_ELEMENTS on the rules of before."""
    x, w = np.zeros((1, 2, 8, 8), np.float32), np.zeros((2, 2, 3, 3), np.float32)
    with numpy_kernels(conv_kernels, "conv_taps", "weight_grad_taps"):
        for fn, kw in ((F.conv2d, dict(stride=2, padding=1)), (F.conv_transpose2d, dict(stride=2, padding=1)),
                       (F.conv2d, {}), (F.conv2d, dict(padding=1))):
            monkeypatch.setattr(rows, "_TINY_ELEMENTS", 2 * 9 * 64)
            assert _grad_fn(fn, x, w, **kw) == "conv2d"
            monkeypatch.setattr(rows, "_TINY_ELEMENTS", 2 * 9 * 16 - 1)
            assert (_grad_fn(fn, x, w, **kw) == "conv2d") == (kw == dict(padding=1))  # ('same': the numpy row's)
