"""The fast reductions of the op registry (`sum_last`, `max_last`, the BLAS path of `sum_to`) give
numpy's results: same shapes, same values (to rounding), same NaN/inf behaviour, for every dtype and
layout, including the cases where they fall back to numpy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import max_last, sum_last, sum_to

from helpers import seeds

float_dtypes = st.sampled_from([np.float32, np.float64])


def _values(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=7), float_dtypes, seeds)
def test_sum_last_and_max_last_match_numpy(shape, dtype, seed):
    x = _values(shape, dtype, seed)
    s, m = sum_last(x), max_last(x)
    assert s.shape == m.shape == shape[:-1] + (1,) and s.dtype == m.dtype == dtype
    np.testing.assert_allclose(s, x.sum(axis=-1, keepdims=True), rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(m, x.max(axis=-1, keepdims=True))


@pytest.mark.parametrize("x", [
    np.array([[1.0, np.nan, 3.0], [-np.inf, -np.inf, -np.inf], [np.inf, 1.0, -np.inf], [2.0, np.nan, np.inf]]),
    np.array([[-np.inf, 0.5, np.nan]], np.float32),
])
def test_nan_and_inf_rows_as_numpy(x):
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(max_last(x), x.max(axis=-1, keepdims=True))
        np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("x", [
    np.arange(12, dtype=np.int64).reshape(3, 4),                    # integers: numpy's own path
    np.ones((3, 4), np.float16),                                    # float16: no BLAS
    np.arange(24.0).reshape(4, 6)[:, ::2],                          # not contiguous
    np.arange(24.0).reshape(4, 6).T,                                # transposed
    np.zeros((3, 0)),                                               # empty rows
    np.zeros((0, 5)),                                               # no rows
    np.array(5.0),                                                  # 0-d
])
def test_fallbacks_give_numpys_answer(x):
    if x.ndim == 0 or x.shape[-1] == 0:
        np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))
        return
    np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))
    np.testing.assert_array_equal(max_last(x), x.max(axis=-1, keepdims=True))


@settings(max_examples=60, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6), st.integers(0, 3), float_dtypes, seeds)
def test_sum_to_over_leading_dims_matches_numpy(shape, keep, dtype, seed):
    keep = min(keep, len(shape))
    target = shape[len(shape) - keep:]
    g = _values(shape, dtype, seed)
    out = sum_to(g, target)
    ref = g.sum(axis=tuple(range(len(shape) - keep))) if len(shape) > keep else g
    assert out.shape == tuple(target) and out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-5)


def test_bias_gradient_is_a_fresh_buffer_not_a_copy_of_a_view():
    # the engine hands an owned buffer straight to .grad; a view would be copied (a wasted pass)
    g = np.ones((128, 10), np.float32)
    out = sum_to(g, (10,))
    assert out.base is None and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.full(10, 128.0, np.float32))


def test_long_rows_keep_numpys_pairwise_sum():
    # beyond 8192 entries per row, float32 sums stay with numpy (pairwise, more accurate than one BLAS dot)
    x = np.full((2, 100_000), 0.1, np.float32)
    np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))


def test_cross_entropy_backward_twice_with_retain_graph():
    # the forward's softmax buffer is reused in place by the first backward; a second one recomputes it
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((6, 5)), requires_grad=True)
    loss = F.cross_entropy(x, Tensor(np.array([0, 1, 2, 3, 4, 0])))
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), first, rtol=1e-14)
    xs = x.detach().numpy()
    p = np.exp(xs) / np.exp(xs).sum(1, keepdims=True)
    p[np.arange(6), [0, 1, 2, 3, 4, 0]] -= 1
    np.testing.assert_allclose(first, p / 6, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_equals_the_two_branch_formula(dtype):
    # the fast path (e^x/(1+e^x) in cache-sized pieces) replaced np.where(x >= 0, 1/(1+e), e/(1+e)), which
    # numpy runs 4x slower; the values keep their bits for x < 0 and where exp under- or overflows, and move
    # by at most 4 ulp for x >= 0 (tests/helpers.assert_sigmoid_matches)
    from helpers import assert_sigmoid_matches, kernel_paths
    from tinygrad_lite.ops import elementwise
    x = np.concatenate([np.linspace(-120, 120, 2001), [0.0, -0.0, 1e-30, -1e-30, 800.0, -800.0, np.inf, -np.inf]])
    x = x.astype(dtype)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        ref = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype)
    for compiled, path in kernel_paths(elementwise, "_sigmoid32", "_sigmoid_grad32"):
        with path:
            out = elementwise._sigmoid_fwd(None, x)
        assert out.dtype == dtype
        assert_sigmoid_matches(out, ref, x, same_bits_below_zero=not (compiled and dtype == np.float32))


def test_the_cache_of_ones_vectors_stays_small():
    from tinygrad_lite.ops import _ONES_VEC
    for n in range(1, 300):  # e.g. a bias gradient over batches of every length
        sum_to(np.ones((n, 3), np.float32), (3,))
    assert len(_ONES_VEC) <= 64
    np.testing.assert_array_equal(sum_to(np.ones((299, 3), np.float32), (3,)), np.full(3, 299.0, np.float32))


# ---------------------------------------------------------------------- softmax and log_softmax over the last dim
# (tinygrad_lite/ops/reduce.py: the path for large C-contiguous float arrays against the general one)
def _rows(kind, dtype, shape=(64, 300)):
    x = np.random.default_rng(7).standard_normal(shape) * 3
    if kind == "negative":      # every row maximum below 0: shifted by the row maxima
        x -= 20
    elif kind == "large":       # maxima above what exp can take unshifted
        x += 100 if dtype == np.float32 else 800
    elif kind == "masked":      # -inf entries, one row all -inf, one NaN, one +inf (the general path's rows)
        x[:, ::3] = -np.inf
        x[1] = -np.inf
        x[2, 5] = np.nan
        x[3, 7] = np.inf
    return x.astype(dtype)


def _general_path():
    from unittest import mock
    from tinygrad_lite.ops import reduce
    return mock.patch.object(reduce, "_ROWS_MIN", 1 << 62)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "negative", "large", "masked"])
def test_last_dim_softmax_equals_the_general_path(kind, dtype):
    from unittest import mock
    from tinygrad_lite.ops import reduce
    x = _rows(kind, dtype)
    g = np.random.default_rng(8).standard_normal(x.shape).astype(dtype)
    shifted = mock.patch.object(reduce, "_exp_shifted", side_effect=reduce._exp_shifted)
    with np.errstate(invalid="ignore"), shifted as spy:
        s = reduce._softmax_fwd(-1, x)
        d = reduce._softmax_dx(g, s, -1, x)
    assert spy.called == (kind != "normal")  # N(0, 9) rows: every maximum in [0, 80], exp(x) unshifted
    with np.errstate(invalid="ignore"), _general_path():
        s_ref = reduce._softmax_fwd(-1, x)
        d_ref = reduce._softmax_dx(g, s_ref, -1, x)
    assert s.dtype == d.dtype == dtype and s.shape == x.shape
    tol = dict(rtol=2e-6, atol=1e-30) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(s, s_ref, **tol)
    np.testing.assert_allclose(d, d_ref, rtol=tol["rtol"], atol=tol["rtol"] * np.nanmax(np.abs(g)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unshifted_softmax_is_as_accurate_as_the_shifted_one(dtype):
    # exp(x) takes x exactly where exp(x - m) takes a rounded x - m; the error left is mostly the row sum's
    # (measured in float32: 7 ulp unshifted, 20 shifted, PyTorch 18)
    from tinygrad_lite.ops import reduce
    x = _rows("normal", dtype, (200, 500))
    xl = x.astype(np.longdouble)
    e = np.exp(xl - xl.max(-1, keepdims=True))
    exact = (e / e.sum(-1, keepdims=True)).astype(dtype)
    ulps = lambda s: (np.abs(s.astype(np.longdouble) - exact) / np.spacing(exact)).max()  # noqa: E731
    with _general_path():
        shifted = reduce._softmax_fwd(-1, x)
    assert ulps(reduce._softmax_fwd(-1, x)) <= min(8, ulps(shifted))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "negative", "masked"])
def test_log_softmax_saves_its_exps_and_its_backward_equals_the_reference(kind, dtype):
    from tinygrad_lite.ops import reduce
    x = _rows(kind, dtype, (20, 30, 17))
    g = np.random.default_rng(9).standard_normal(x.shape).astype(dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        out, saved = reduce._log_softmax_fwd(-1, x)
        with _general_path():
            out_ref, none = reduce._log_softmax_fwd(-1, x)
        assert saved is not None and none is None
        np.testing.assert_array_equal(out, out_ref)  # the same operations, the shifts by BLAS (one rounding each)
        (d,) = reduce._log_softmax_grads(g, out, -1, saved, (True,), x)
        (d_ref,) = reduce._log_softmax_grads(g, out, -1, None, (True,), x)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(d, d_ref, rtol=tol, atol=tol * np.abs(g).sum(-1).max())
    # through the engine: backward twice (retain_graph) reuses the saved exps unchanged
    t = Tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = t.log_softmax(-1)
        y.backward(Tensor(g), retain_graph=True)
        first = t.grad.numpy().copy()
        t.grad = None
        y.backward(Tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), first)
    np.testing.assert_array_equal(first, d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(300, 257), (5, 40, 130), (6, 5)])
def test_sub_col_is_numpys_subtraction_bit_for_bit(shape, dtype):
    from tinygrad_lite.ops.numpy_fast import row_dot, sub_col_
    rng = np.random.default_rng(10)
    a = (rng.standard_normal(shape) * 5).astype(dtype)
    c = (rng.standard_normal(shape[:-1] + (1,)) * 5).astype(dtype)
    a.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    c.reshape(-1)[:4] = [0.0, np.inf, np.nan, -0.0]
    with np.errstate(invalid="ignore"):
        want = a - c
        b = a.copy()
        assert sub_col_(b, c) is b
    np.testing.assert_array_equal(b, want)
    np.testing.assert_array_equal(np.signbit(b), np.signbit(want))
    f = np.asfortranarray(a)  # (not C-contiguous: numpy's own subtraction)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(sub_col_(f, c), want)
    a2 = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(row_dot(a2, a2), (a2 * a2).sum(-1, keepdims=True), rtol=1e-5 if dtype == np.float32 else 1e-13)
