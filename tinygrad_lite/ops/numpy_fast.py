"""numpy calls that numpy itself runs slowly in their plain spelling, and their fast equivalents.

`np.maximum(x, 0)` on a float32 array broadcasts the scalar 0 with a zero stride, which numpy 2.x
runs element by element: 0.9 ms on 1024x1024 float32 where the same maximum against a row of
zeros (broadcast over the leading dims, a contiguous inner loop) takes 0.13 ms (measured; the same
for np.minimum). Rows shorter than _ROW compare against a 0-d zero of the array's own dtype
(`zero_of`): on small arrays the cost is numpy resolving the Python scalar's type, not the loop
(8x8 float32: np.maximum(x, 0, dtype=x.dtype) 0.62 us, against a 0-d float32 zero 0.25 us; x > 0
0.51 us, x > zero_of(x.dtype) 0.25 us; measured, numpy 2.4).
The same per-row cost makes `a += u[:, None] * v` slow where BLAS's rank-1 update is not: `add_outer`.
"""
from math import prod

import numpy as np
from scipy.linalg import blas as _blas  # (imported with the package: its ~5 MB count at start-up, 25 ms)

from . import _ones
from . import chunked as _chunked
from .chunked import chunked
from .jit import kernel

_ROW = 64
_ZERO_ROWS = {}
_ZEROS = {}


def zero_of(dtype):
    """A cached read-only 0-d zero of `dtype`: a ufunc's scalar operand that numpy need not convert."""
    z = _ZEROS.get(dtype)
    if z is None:
        z = _ZEROS[dtype] = np.zeros((), dtype)
        z.flags.writeable = False
    return z


def _zero_row(n, dtype):
    """A cached read-only row of n zeros."""
    z = _ZERO_ROWS.get((n, dtype))
    if z is None:
        if len(_ZERO_ROWS) >= 64:  # many distinct widths: start over, stay small
            _ZERO_ROWS.clear()
        z = _ZERO_ROWS[(n, dtype)] = np.zeros(n, dtype)
        z.flags.writeable = False
    return z


def maximum0(x):
    """np.maximum(x, 0) in x's dtype (NaN propagates, as in np.maximum)."""
    if x.dtype.kind != "f":
        return np.maximum(x, 0)
    if x.ndim and x.shape[-1] >= _ROW:
        return np.maximum(x, _zero_row(x.shape[-1], x.dtype))
    return np.maximum(x, zero_of(x.dtype))


def minimum0(x):
    """np.minimum(x, 0) in x's dtype (NaN propagates)."""
    if x.dtype.kind != "f":
        return np.minimum(x, 0)
    if x.ndim and x.shape[-1] >= _ROW:
        return np.minimum(x, _zero_row(x.shape[-1], x.dtype))
    return np.minimum(x, zero_of(x.dtype))


def index_add_rows(n_rows, idx, g):
    """zeros((n_rows, m)) with row g[k] added at row idx[k] (repeats accumulate), for a float g of
    shape (len(idx), m) and valid int indices (negative ones count from the end).

    As a product with a sparse one-hot matrix (scipy.sparse, CSR): np.add.at takes 28 ms for
    1024 rows of 1024 float32, sorting and np.add.reduceat 29 ms, the sparse product 0.2 ms
    (measured). The sums run in index order, as np.add.at's."""
    import scipy.sparse as sp
    k = idx.shape[0]
    rows = idx if idx.min(initial=0) >= 0 else np.where(idx < 0, idx + n_rows, idx)
    onehot = sp.csr_matrix((np.ones(k, g.dtype), (rows, np.arange(k))), shape=(n_rows, k))
    return np.ascontiguousarray(onehot @ g)


def index_add_ok(idx, g, min_size=4096):
    """True when index_add_rows serves a gradient g for x[idx]: one int index array, float g, big enough."""
    return type(idx) is np.ndarray and idx.dtype.kind in "iu" and type(g) is np.ndarray \
        and (g.dtype == np.float32 or g.dtype == np.float64) and g.size >= min_size and idx.size > 0


# A C-order copy of a transposed array (x.T.copy(), np.ascontiguousarray(x.permute(...))) walks the
# source with a stride of a whole row per element: every element on another cache line, most on
# another page. numpy does it in one pass: 3.5 ms for 1024x1024 float32, 52 ms for 2048x2048. Copied
# in tiles of _TILE_P elements along the source's rows by one cache line (64 bytes) of the output's
# rows, every line read and written is used whole while it is in the L1 cache: 0.58 ms and 3.3 ms
# (measured; square 64x64 tiles: 1.75 ms and 11.5 ms).
_TILE_P = 512
_LINE = 64            # bytes in a cache line
_TILED_MIN = 1 << 16  # elements: below this the whole array fits in the L2 cache anyway


def copy_c(a):
    """A fresh C-contiguous copy of the array a, tile by tile when a is a large transposed view
    (its unit-stride axis is not its last one); the plain copy otherwise."""
    p = _tiled_axis(a)
    if p is None:
        return np.array(a, order="C")
    out = np.empty(a.shape, a.dtype)
    q, sl = a.ndim - 1, [slice(None)] * a.ndim
    tq = max(1, _LINE // a.itemsize)
    for i in range(0, a.shape[p], _TILE_P):
        sl[p] = slice(i, i + _TILE_P)
        for j in range(0, a.shape[q], tq):
            sl[q] = slice(j, j + tq)
            t = tuple(sl)
            out[t] = a[t]
    return out


def _tiled_axis(a):
    """The axis along which a's elements are adjacent in memory, when tiling its copy pays: a large
    array whose last axis is not that axis, both axes long enough; None otherwise."""
    if type(a) is not np.ndarray or a.size < _TILED_MIN or a.ndim < 2 or a.flags.c_contiguous:
        return None
    st = [abs(s) for s in a.strides]
    p = min(range(a.ndim), key=lambda k: (st[k] if a.shape[k] > 1 else 1 << 62))
    if p == a.ndim - 1 or st[p] != a.itemsize or a.shape[p] < 64 or a.shape[-1] < 4 * _LINE // a.itemsize:
        return None
    return p


# np.cumsum along any axis but the last runs its sequential loop element by element down each column
# (1024x1024 float32, axis 0: 19 ms; axis 1: 3 ms). Adding whole slices one after the other is the
# same sums in the same order, each step one vectorised add over a row (~1 ms in all).
_SLICE_MIN = 256  # elements per slice: shorter slices cost more in calls than they gain


def cumsum(x, axis, reverse=False):
    """np.cumsum(x, axis, dtype=x.dtype) in a fresh C-contiguous array; reverse=True sums from the end
    (the flipped cumsum of the flipped x: the adjoint of cumsum), written straight into place. The axis
    may count from the end (-1), as the user wrote it."""
    if x.ndim:
        axis %= x.ndim
    out = np.empty(x.shape, x.dtype)
    src, dst = x, out
    if reverse:
        flip = tuple(slice(None, None, -1) if k == axis else slice(None) for k in range(x.ndim))
        src, dst = x[flip], out[flip]
    n = x.shape[axis] if x.ndim else 1
    if x.ndim == 0:
        return np.array(x)
    if axis == x.ndim - 1 and _scan_rows is not None and _scannable(x):
        _scan_rows(x.reshape(-1, n), out.reshape(-1, n), reverse)
        return out
    if axis == x.ndim - 1 and _scan_block(x):
        return _cumsum_last(x, out, reverse)
    if x.ndim < 2 or axis == x.ndim - 1 or n < 2 or x.size // n < _SLICE_MIN:
        np.cumsum(src, axis, dtype=x.dtype, out=dst)
        return out
    s, d = np.moveaxis(src, axis, 0), np.moveaxis(dst, axis, 0)
    d[0] = s[0]
    for i in range(1, n):
        np.add(d[i - 1], s[i], out=d[i])
    return out


def _scannable(x):
    return type(x) is np.ndarray and x.flags.c_contiguous and (x.dtype == np.float32 or x.dtype == np.float64) \
        and x.size >= _SCAN_ROWS_MIN


_SCAN_ROWS_MIN = 256  # elements (below, numpy's loop costs less than the kernel's call)


@kernel
def _scan_rows(x, out, reverse):
    """out[r] <- the running sums of x[r] (from the end when reverse) for a 2-D C-contiguous x: the same
    sequential additions as np.cumsum's loop, so the same bits, but four rows at a time: four independent
    chains of additions hide the adder's latency (np.cumsum waits for each sum before the next)."""
    R, n = x.shape
    step = -1 if reverse else 1
    first = n - 1 if reverse else 0
    r = 0
    while r + 4 <= R:
        j = first
        a0, a1, a2, a3 = x[r, j], x[r + 1, j], x[r + 2, j], x[r + 3, j]
        out[r, j], out[r + 1, j], out[r + 2, j], out[r + 3, j] = a0, a1, a2, a3
        for _ in range(n - 1):
            j += step
            a0 += x[r, j]
            a1 += x[r + 1, j]
            a2 += x[r + 2, j]
            a3 += x[r + 3, j]
            out[r, j], out[r + 1, j], out[r + 2, j], out[r + 3, j] = a0, a1, a2, a3
        r += 4
    while r < R:
        j = first
        a0 = x[r, j]
        out[r, j] = a0
        for _ in range(n - 1):
            j += step
            a0 += x[r, j]
            out[r, j] = a0
        r += 1


# Without compiled kernels: along the last dim np.cumsum is a sequential scalar loop (1024x1024 float32: 3 ms). Cut every row
# into blocks of k elements: one BLAS product of all the blocks with a k x k triangle of ones gives
# each block's own running sums (R*n*k multiply-adds, vectorised), then each block adds the total of
# the blocks before it (a cumsum over the short axis of block totals): ~2.4x faster, measured. The
# sums run in another order than the loop's: equal to rounding (tests/test_fast_paths.py).
_SCAN_MIN = 1 << 14  # elements
_TRIANGLES = {}


def _scan_block(x):
    """The block length k for x's last-dim scan (32 or 16, dividing the row), or 0: not worth it."""
    if type(x) is not np.ndarray or x.size < _SCAN_MIN or not x.flags.c_contiguous \
            or not (x.dtype == np.float32 or x.dtype == np.float64):
        return 0
    n = x.shape[-1]
    return next((k for k in (32, 16) if n % k == 0 and n >= 2 * k), 0)


def _triangle(k, dtype, reverse):
    """M (k, k) with (x @ M)_j the sum of x_i for i <= j (i >= j when reverse)."""
    key = (k, np.dtype(dtype), reverse)
    m = _TRIANGLES.get(key)
    if m is None:
        m = _TRIANGLES[key] = np.tril(np.ones((k, k), dtype)) if reverse else np.triu(np.ones((k, k), dtype))
        m.flags.writeable = False
    return m


def _cumsum_last(x, out, reverse):
    k, n = _scan_block(x), x.shape[-1]
    nb = n // k
    np.matmul(x.reshape(-1, k), _triangle(k, x.dtype, reverse), out=out.reshape(-1, k))
    y = out.reshape(-1, nb, k)
    if reverse:  # block b gets the totals of the blocks after it
        tot = y[:, ::-1, 0]
        carry = np.cumsum(tot, axis=1, dtype=x.dtype)[:, ::-1]
        y[:, :-1, :] += carry[:, 1:, None]
    else:        # block b gets the totals of the blocks before it
        carry = np.cumsum(y[:, :, -1], axis=1, dtype=x.dtype)
        y[:, 1:, :] += carry[:, :-1, None]
    return out


# np.remainder and np.floor_divide on floats call C's fmod element by element: 6 ms per million float32
# elements (PyTorch's remainder: 1.1 ms), and x - floor(x / y) * y in float32 is not exact. For float32 x
# and y the same formula in float64 is: a real quotient t = x/y that is not a whole number lies at least
# 2^-25 from one (x - n y is a nonzero multiple of the finer of the two ulps), and float64 rounds t by at
# most |t| 2^-53, so floor(x / y) in float64 is the exact floor while |t| < 2^24 (then q is exact in
# float32 too, and q * y, at most 48 bits, is exact in float64); x - q y is then fmod(x, y) (exact) or
# fmod(x, y) + y, rounded once in float64 and once more to float32, which is the one float32 rounding
# of that sum (53 >= 2 * 24 + 2 bits: double rounding is innocuous for one addition). Elements outside
# (0, inf or NaN operands, huge quotients) are recomputed by numpy itself. np.floor_divide itself is not
# the exact floor beyond 2^22: it rounds (x - fmod(x, y)) / y in float32 (so does PyTorch), so the fast
# floor_divide stops there. Bit for bit np.remainder and np.floor_divide (tests/test_numpy_fast.py),
# ~1.3 and ~1 ms per million elements.
_REM_EXACT, _DIV_EXACT = float(1 << 24), float(1 << 22)


def _floor_quotient(q, x, y, bound):
    """q = floor(x / y) in float64 for float32 pieces; True when every |q| < bound (<= 2^24: exact there)."""
    np.divide(x, y, out=q, dtype=np.float64)  # (dtype: else numpy divides in float32, then casts)
    np.floor(q, out=q)
    return bool(np.dot(q, q) < bound * bound)  # (a sum of squares bounds every one; NaN and inf fail)


def _inexact(x, y, o, bound):
    """The elements the float64 formula does not serve: |floor(x / y)| >= bound or NaN, y or o not finite."""
    q = np.floor(np.divide(x, y, dtype=np.float64))
    return ~(np.abs(q) < bound) | ~np.isfinite(y) | ~np.isfinite(o)


def _remainder_piece(o, x, y, s):
    q = s[0]
    ok = _floor_quotient(q, x, y, _REM_EXACT)
    np.multiply(q, y, out=q)
    np.subtract(x, q, out=q)
    ok = ok and bool(np.isfinite(np.dot(q, q)))  # (y = inf gives NaN)
    o[...] = q
    if not ok:
        m = _inexact(x, y, o, _REM_EXACT)
        o[m] = np.remainder(x[m], y[m])
    _zeros_take_the_sign_of(o, x)  # (x - q y gives +0, np.remainder the sign of y)


def _zeros_take_the_sign_of(r, x):
    """r's zeros get x's sign in place: PyTorch's remainder is fmod(x, y), plus y where the signs differ,
    so a zero remainder keeps x's sign (np.remainder gives it y's)."""
    z = r == 0
    if z.any():
        np.copysign(r, x, out=r, where=z)


def _np_remainder(x, y):
    """np.remainder with PyTorch's sign for zero results (the sign of x)."""
    r = np.remainder(x, y)
    if r.dtype.kind != "f":
        return r
    if type(r) is not np.ndarray:  # (numpy returns 0-d results as scalars)
        return np.copysign(r, x).astype(r.dtype)[()] if r == 0 else r
    _zeros_take_the_sign_of(r, np.broadcast_to(x, r.shape))
    return r


def _floor_divide_piece(o, x, y, s):
    q = s[0]
    ok = _floor_quotient(q, x, y, _DIV_EXACT) and bool(np.isfinite(np.dot(y, y)))  # (x / inf is 0 where the floor may be -1)
    o[...] = q
    if not ok:
        m = _inexact(x, y, o, _DIV_EXACT)
        o[m] = np.floor_divide(x[m], y[m])


_PAIR_MIN = 4096  # elements: below, numpy's loop (6 ns each) costs less than the fast path's ~15 us of calls


def _float32_pair_kernel(piece, slow, x, y):
    if type(x) is not np.ndarray or type(y) is not np.ndarray or x.dtype != np.float32 or y.dtype != np.float32:
        return slow(x, y)
    shape = x.shape if x.shape == y.shape else np.broadcast_shapes(x.shape, y.shape)  # (the call costs 2 us)
    if prod(shape) < _PAIR_MIN:
        return slow(x, y)
    out = np.empty(shape, np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if y.size == 1 and x.shape == shape:  # x % 2.0: one piece of the divisor instead of a full-size copy
            yp = np.full(min(_chunked.CHUNK, x.size), y.reshape(()), np.float32)
            return chunked(lambda o, xp, s: piece(o, xp, yp[:o.size], s), out, x, scratch=1, scratch_dtype=np.float64)
        return chunked(piece, out, np.broadcast_to(x, shape), np.broadcast_to(y, shape), scratch=1,
                       scratch_dtype=np.float64)


def remainder(x, y):
    """PyTorch's remainder: np.remainder(x, y) (the sign of y, as Python's %) bit for bit, except that a zero
    result keeps the sign of x, as in PyTorch; fast for float32 arrays."""
    if type(x) is np.ndarray and x.size < _PAIR_MIN and type(y) is np.ndarray and x.shape == y.shape:
        return _np_remainder(x, y)  # (small: numpy's loop, before any other test)
    return _float32_pair_kernel(_remainder_piece, _np_remainder, x, y)


def floor_divide(x, y):
    """np.floor_divide(x, y), bit for bit (PyTorch's div(rounding_mode="floor") for floats); fast for float32
    arrays."""
    if type(x) is np.ndarray and x.size < _PAIR_MIN and type(y) is np.ndarray and x.shape == y.shape:
        return np.floor_divide(x, y)
    return _float32_pair_kernel(_floor_divide_piece, np.floor_divide, x, y)


# Row-wise shifts and scalings (softmax, log_softmax): numpy runs `a - c` for a column c of shape (..., 1)
# as one short inner loop per row, 0.16 ms in place on 1024x1024 float32 where a - scalar takes 0.09 ms.
# The same subtraction as a BLAS rank-1 update a := a - 1 c^T of a's memory (seen as the Fortran-order
# transpose) takes 0.065 ms, one rounding per element as numpy's (measured). Below _GER_MIN elements the
# call costs more than it saves.
_GER_MIN = 1 << 14


def sub_col_(a, c):
    """a -= c in place and return a, for a (..., n) array a and c of shape (..., 1) (one value per row)."""
    if type(a) is not np.ndarray or a.size < _GER_MIN or a.ndim < 1 or not a.flags.c_contiguous \
            or not (a.dtype == np.float32 or a.dtype == np.float64) or c.dtype != a.dtype:
        a -= c
        return a
    n = a.shape[-1]
    add_outer(a.reshape(-1, n), np.ascontiguousarray(c).reshape(-1), _ones(n, a.dtype), -1.0)  # a -= c 1^T
    return a


def row_dot(a, b):
    """(a * b).sum(-1, keepdims=True) for two (..., n) arrays, as one batched product (no full-size temporary)."""
    n = a.shape[-1]
    return np.matmul(a.reshape(-1, 1, n), b.reshape(-1, n, 1)).reshape(a.shape[:-1] + (1,))


# Row-wise formulas (layer norm) spend their time in numpy passes that broadcast a per-row or per-column
# vector: numpy runs those one row per inner loop, ~100 ns a row on top of the pass (1024x1024 float32:
# x - mu[:, None] 0.20 ms against 0.07 ms for a copy). BLAS does the rank-1 parts in one pass with no
# per-row cost: a += u v^T (ger) 0.06 ms; u v^T into zeros 0.09 ms. What stays is a different scale for
# each row, y[i] += c[i] * x[i]: a diagonal sparse matrix times x, one pass of scipy's sparse kernel
# (sparse_matmul.csr_matmul with out=: 0.10 ms, where numpy's c[:, None] * x alone takes 0.19 ms), measured.
def _match_blas_threads():
    """Give scipy's BLAS the thread count numpy's has now (once, before our first BLAS call through scipy).

    A scipy wheel ships its own OpenBLAS, beside numpy's. A caller who capped BLAS threads before
    importing tinygrad_lite (threadpoolctl, as bench/bench_user_gpt.py does) capped only numpy's: scipy's,
    loaded with scipy, started with one thread per core, which spin on a busy machine (a user's GPT step
    134 -> 500-600 ms, measured). One shared BLAS (a distribution's numpy and scipy) is left alone."""
    import os
    import scipy
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a declared dependency; without it the threads stay as they are
        return
    libs = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    home = {m: os.path.dirname(m.__file__) for m in (np, scipy)}  # (wheels: site-packages/numpy.libs/...)
    ours = [c for c in libs if c.filepath.startswith(home[np])]
    theirs = [c for c in libs if c.filepath.startswith(home[scipy]) and c not in ours]
    if ours:
        for c in theirs:
            c.set_num_threads(min(c.num_threads for c in ours))


_GER = {}


def _ger(dtype):
    """BLAS ger (a += alpha x y^T) for float32 or float64, looked up once (the first time: threads matched)."""
    f = _GER.get(dtype)
    if f is None:
        if not _GER:
            _match_blas_threads()
        f = _GER[dtype] = _blas.sger if dtype == np.float32 else _blas.dger
    return f


def add_outer(a, u, v, alpha=1.0):
    """a += alpha * outer(u, v), in place, for a C-contiguous float32/float64 matrix a (R, C), u (R,), v (C,)
    of a's dtype. Returns a."""
    at = a.T                                  # (C, R), Fortran order: BLAS's layout, no copy
    got = _ger(a.dtype)(alpha, v, u, a=at, overwrite_a=1)
    if got is not at:                         # (f2py copies rather than fail on a layout it cannot take)
        a[...] = got.T
    return a
