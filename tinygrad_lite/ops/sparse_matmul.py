"""Products of a compressed sparse matrix (given by its three arrays) with a dense matrix, and the
coalesced "sum these entries into their rows" that embedding gradients are made of.

    csr_matmul(data, indices, indptr, n_rows, X):  A @ X, A in CSR form (row r: entries indptr[r]:indptr[r+1])
    csc_matmul(data, indices, indptr, n_rows, X):  A @ X, A in CSC form (column c: entries indptr[c]:indptr[c+1])
    rows_sum(idx, cols, data, X, n_rows):          (rows, out), out[i] = Σ_{e: idx[e] = rows[i]} data[e] X[cols[e]]

Why not `scipy.sparse.csr_matrix(...) @ X`: for the small matrices of one word2vec batch (a few
thousand entries) building scipy's matrix object and dispatching its product costs more than the
product (measured: ~35 of ~55 us per product for 2,560 entries times (256, 100) floats, four per
CBOW step). So the product calls scipy's compiled kernel (csr_matvecs / csc_matvecs, the routines
scipy's own `@` ends in) directly when this scipy has them, and otherwise builds the public matrix
objects (`_public_matmul`, the reference path the tests compare against).
"""
import numpy as np

try:  # scipy's compiled sparse kernels (private module; the public path below is the fallback)
    from scipy.sparse import _sparsetools as _kernels
    _KERNELS = {"csr": _kernels.csr_matvecs, "csc": _kernels.csc_matvecs}
except (ImportError, AttributeError):  # pragma: no cover - depends on the installed scipy
    _KERNELS = None

MARK_ROWS_PER_ENTRY, MARK_ROWS_MIN = 64, 1 << 16  # when marking a (n_rows,) table beats a sort


def _index_arrays(indices, indptr, nnz_bound):
    """int32 index arrays when every index fits (half the memory traffic), else int64; same dtype for both."""
    dt = np.int32 if nnz_bound < 2 ** 31 - 1 else np.int64
    return indices.astype(dt, copy=False), indptr.astype(dt, copy=False)


def _public_matmul(form, data, indices, indptr, shape, X, out=None):
    """The reference: scipy's public sparse matrix object times X (added into out when given)."""
    import scipy.sparse as sp
    make = sp.csr_matrix if form == "csr" else sp.csc_matrix
    prod = make((data, indices, indptr), shape=shape) @ X
    if out is None:
        return np.ascontiguousarray(prod)
    out += prod
    return out


def _matmul(form, data, indices, indptr, shape, X, fast=True, out=None):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] != shape[1]:
        raise ValueError(f"sparse matmul: expected a dense (n_cols={shape[1]}, width) matrix, got shape {X.shape}")
    dt = np.result_type(data.dtype, X.dtype)
    indices, indptr = _index_arrays(indices, indptr, max(shape[0], shape[1], int(indptr[-1]) if indptr.size else 0))
    if not (fast and _KERNELS is not None and dt in (np.float32, np.float64)) \
            or (out is not None and not (out.dtype == dt and out.flags.c_contiguous)):
        return _public_matmul(form, data, indices, indptr, shape, X, out)
    data = np.ascontiguousarray(data, dtype=dt)
    Xc = np.ascontiguousarray(X, dtype=dt)
    if out is None:
        out = np.zeros((shape[0], X.shape[1]), dt)
    _KERNELS[form](shape[0], shape[1], X.shape[1], indptr, indices, data, Xc.ravel(), out.ravel())
    return out


def csr_matmul(data, indices, indptr, shape, X, fast=True, out=None):
    """A @ X for A (shape) in CSR form: row r holds data[e] at column indices[e] for e in indptr[r]:indptr[r+1].
    out: a (shape[0], X.shape[1]) array that A @ X is added into, in place (one pass, no temporary), and
    returned. fast=False: through scipy's public matrix object (the reference)."""
    return _matmul("csr", data, indices, indptr, shape, X, fast, out)


def csc_matmul(data, indices, indptr, shape, X, fast=True):
    """A @ X for A (shape) in CSC form: column c holds data[e] at row indices[e] for e in indptr[c]:indptr[c+1].
    Entries of one output row are added in entry order (as np.add.at would)."""
    return _matmul("csc", data, indices, indptr, shape, X, fast)


def rows_sum(idx, cols, data, X, n_rows=None, fast=True, skip=None):
    """Sum entries into their rows: (rows, out) with rows the sorted unique values of idx (k,) and
    out (k, X.shape[1]) with out[i] = sum over entries e with idx[e] == rows[i] of data[e] * X[cols[e]],
    added in entry order. A sparse product adds up repeated rows 2-3x faster than np.add.at
    (70 vs 200 us for 1,536 word2vec rows of 100 floats, measured).

    n_rows (optional): a bound on idx (the weight's row count). When given, not much larger than the
    number of entries, and cols never decrease (entries grouped by column, as bags and batch rows
    are), the rows are found by marking a (n_rows,) table and the entries, already grouped by column,
    are used as a CSC matrix: no sort (`_rows_sum_marked`). Otherwise entries are sorted by row (a
    stable argsort) into a CSR matrix (`_rows_sum_sorted`, the reference). Both give the same result.
    skip (optional): a row left out, with its entries (a padding row: no boolean indexing of the entries
    on the marked path, whose product sends them to a scratch row)."""
    idx = np.asarray(idx)
    if fast and n_rows is not None and n_rows <= MARK_ROWS_PER_ENTRY * idx.shape[0] + MARK_ROWS_MIN \
            and not (cols.shape[0] > 1 and np.any(cols[1:] < cols[:-1])):
        return _rows_sum_marked(idx, cols, data, X, n_rows, skip)
    if skip is not None:
        keep = idx != skip
        idx, cols, data = idx[keep], cols[keep], data[keep]
    return _rows_sum_sorted(idx, cols, data, X, fast)


def _rows_sum_sorted(idx, cols, data, X, fast=True):
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    if s.shape[0] == 0:
        return s, np.zeros((0, X.shape[1]), np.result_type(data.dtype, X.dtype))
    first = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    indptr = np.concatenate((first, [s.shape[0]]))
    return s[first], csr_matmul(data[order], cols[order], indptr, (first.shape[0], X.shape[0]), X, fast)


def _rows_sum_marked(idx, cols, data, X, n_rows, skip=None):
    seen = np.zeros(n_rows, bool)
    seen[idx] = True
    if skip is not None:
        seen[skip] = False
    rows = np.flatnonzero(seen)                       # sorted, unique
    k = rows.shape[0]
    pos = np.empty(n_rows, np.int64)
    pos[rows] = np.arange(k)
    if skip is not None:
        pos[skip] = k                                 # the skipped row's entries add into a scratch row k
    indptr = np.zeros(X.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(cols, minlength=X.shape[0]), out=indptr[1:])
    out = csc_matmul(data, pos[idx], indptr, (k + (skip is not None), X.shape[0]), X)
    return rows, out[:k]
