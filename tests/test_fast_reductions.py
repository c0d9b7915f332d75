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
    # the fast path (1/(1+exp(-x)) in cache-sized pieces) replaced np.where(x >= 0, 1/(1+e), e/(1+e)), which
    # numpy runs 4x slower; the values keep their bits for x >= 0 and where exp under- or overflows, and move
    # by at most 2 ulp for x < 0 (tests/helpers.assert_sigmoid_matches)
    from helpers import assert_sigmoid_matches
    from tinygrad_lite.ops.elementwise import _sigmoid_fwd
    x = np.concatenate([np.linspace(-120, 120, 2001), [0.0, -0.0, 1e-30, -1e-30, 800.0, -800.0, np.inf, -np.inf]])
    x = x.astype(dtype)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        ref = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype)
    out = _sigmoid_fwd(None, x)
    assert out.dtype == dtype
    assert_sigmoid_matches(out, ref, x)


def test_the_cache_of_ones_vectors_stays_small():
    from tinygrad_lite.ops import _ONES_VEC
    for n in range(1, 300):  # e.g. a bias gradient over batches of every length
        sum_to(np.ones((n, 3), np.float32), (3,))
    assert len(_ONES_VEC) <= 64
    np.testing.assert_array_equal(sum_to(np.ones((299, 3), np.float32), (3,)), np.full(3, 299.0, np.float32))
