"""ops/sparse_matmul.py: the fast sparse products (scipy's kernels called directly) and the sort-free
coalesced row sums, against dense numpy in float64 and against the reference paths (scipy's public
matrices, the stable-argsort rows)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_lite.ops import sparse_matmul as sm


def _dense(form, data, indices, indptr, shape):
    A = np.zeros(shape)
    for j in range(len(indptr) - 1):
        for e in range(indptr[j], indptr[j + 1]):
            if form == "csr":
                A[j, indices[e]] += data[e]
            else:
                A[indices[e], j] += data[e]
    return A


def _random_compressed(rng, n_major, n_minor, per):
    counts = rng.integers(0, per + 1, n_major)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    indices = rng.integers(0, n_minor, indptr[-1])  # repeats allowed: they add up
    return rng.standard_normal(indptr[-1]), indices, indptr


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 4), st.integers(1, 5), st.integers(0, 10 ** 6))
def test_csr_and_csc_products_match_dense_and_public(n_rows, n_cols, per, width, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_cols, width))
    data, indices, indptr = _random_compressed(rng, n_rows, n_cols, per)
    want = _dense("csr", data, indices, indptr, (n_rows, n_cols)) @ X
    for fast in (True, False):
        np.testing.assert_allclose(sm.csr_matmul(data, indices, indptr, (n_rows, n_cols), X, fast=fast), want,
                                   rtol=1e-12, atol=1e-12)
    Y = rng.standard_normal((n_cols, width))
    data, indices, indptr = _random_compressed(rng, n_cols, n_rows, per)  # CSC: grouped by column
    want = _dense("csc", data, indices, indptr, (n_rows, n_cols)) @ Y
    for fast in (True, False):
        np.testing.assert_allclose(sm.csc_matmul(data, indices, indptr, (n_rows, n_cols), Y, fast=fast), want,
                                   rtol=1e-12, atol=1e-12)


def test_float32_product_keeps_dtype_and_matches_public():
    rng = np.random.default_rng(0)
    data, indices, indptr = _random_compressed(rng, 50, 300, 10)
    data = data.astype(np.float32)
    X = rng.standard_normal((300, 16)).astype(np.float32)
    fast = sm.csr_matmul(data, indices, indptr, (50, 300), X)
    ref = sm.csr_matmul(data, indices, indptr, (50, 300), X, fast=False)
    assert fast.dtype == np.float32 and fast.flags.c_contiguous
    np.testing.assert_array_equal(fast, ref)  # the same kernel, the same order of sums


def test_product_rejects_a_mismatched_dense_matrix():
    with pytest.raises(ValueError, match=r"sparse matmul: expected a dense \(n_cols=4"):
        sm.csr_matmul(np.ones(1), np.zeros(1, np.int64), np.array([0, 1]), (1, 4), np.ones((3, 2)))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(0, 60), st.integers(1, 12), st.integers(1, 4), st.integers(0, 10 ** 6),
       st.booleans())
def test_rows_sum_marked_and_sorted_match_add_at(n_rows, n_entries, n_cols, width, seed, use_skip):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_rows, n_entries)
    cols = np.sort(rng.integers(0, n_cols, n_entries))     # grouped by column (bags, batch rows)
    data = rng.standard_normal(n_entries)
    X = rng.standard_normal((n_cols, width))
    skip = int(rng.integers(0, n_rows)) if use_skip else None   # a padding row: left out with its entries
    real = idx != skip if use_skip else np.ones(n_entries, bool)
    dense = np.zeros((n_rows, width))
    np.add.at(dense, idx[real], data[real, None] * X[cols[real]])
    want_rows = np.unique(idx[real])
    for path in (lambda: sm.rows_sum(idx, cols, data, X, n_rows, skip=skip),        # marked (no sort)
                 lambda: sm.rows_sum(idx, cols, data, X, skip=skip),                # sorted (no bound given)
                 lambda: sm.rows_sum(idx, cols, data, X, n_rows, fast=False, skip=skip)):
        rows, out = path()
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_allclose(out, dense[want_rows], rtol=1e-12, atol=1e-12)


def test_rows_sum_takes_the_sorted_path_for_unordered_columns_or_a_huge_table(monkeypatch):
    rng = np.random.default_rng(1)
    idx, cols = rng.integers(0, 30, 50), rng.integers(0, 7, 50)   # columns not grouped
    data, X = rng.standard_normal(50), rng.standard_normal((7, 3))
    calls = []
    real = sm._rows_sum_marked
    monkeypatch.setattr(sm, "_rows_sum_marked", lambda *a: calls.append(1) or real(*a))
    rows, out = sm.rows_sum(idx, cols, data, X, 30)
    dense = np.zeros((30, 3))
    np.add.at(dense, idx, data[:, None] * X[cols])
    np.testing.assert_allclose(out, dense[rows], rtol=1e-12)
    assert not calls
    sm.rows_sum(idx[:2], np.sort(cols[:2]), data[:2], X, 10 ** 7)  # a table far larger than the entries: sort
    assert not calls
    sm.rows_sum(idx, np.sort(cols), data, X, 30)
    assert calls == [1]


def test_rows_sum_float32_marked_equals_sorted_exactly():
    """Both paths add each row's entries in entry order, so even float32 sums agree bit for bit."""
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 500, 3000)
    cols = np.repeat(np.arange(300), 10)
    data = rng.standard_normal(3000).astype(np.float32)
    X = rng.standard_normal((300, 20)).astype(np.float32)
    r1, o1 = sm.rows_sum(idx, cols, data, X, 500)
    r2, o2 = sm._rows_sum_sorted(idx, cols, data, X)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(o1, o2)


def test_rows_sum_of_nothing():
    rows, out = sm.rows_sum(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.ones((3, 2)), 5)
    assert rows.shape == (0,) and out.shape == (0, 2)
    rows, out = sm.rows_sum(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.ones((3, 2)))
    assert rows.shape == (0,) and out.shape == (0, 2)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_product_added_into_out_in_place(fast, dtype):
    """out=: A @ X is added into the given array (one pass, as layer norm's backward uses it), on the
    kernel and on the public path alike; a non-contiguous out takes the public path."""
    rng = np.random.default_rng(2)
    data, indices, indptr = _random_compressed(rng, 7, 9, 3)
    data = data.astype(dtype)
    X = rng.standard_normal((9, 5)).astype(dtype)
    out = rng.standard_normal((7, 5)).astype(dtype)
    want = out.astype(np.float64) + _dense("csr", data, indices, indptr, (7, 9)) @ X
    got = sm.csr_matmul(data, indices, indptr, (7, 9), X, fast=fast, out=out)
    assert got is out
    np.testing.assert_allclose(out, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    strided = np.zeros((7, 10), dtype)[:, ::2]
    sm.csr_matmul(data, indices, indptr, (7, 9), X, fast=fast, out=strided)
    np.testing.assert_allclose(strided, _dense("csr", data, indices, indptr, (7, 9)) @ X, rtol=1e-5, atol=1e-5)
