"""Reductions and the fused normalisers (softmax, log_softmax, logsumexp).

`args` is `(axes, keepdims)` with `axes` a tuple of non-negative ints, or None for all axes.
"""
import math

import numpy as np

from . import broadcast_to, cast, defop, exp, is_array, max_last, sum_last, where
from .jit import kernel
from .norm_kernels import log_softmax_dx_rows, softmax_dx_rows, softmax_rows
from .numpy_fast import row_dot, sub_col_


def _kept(x_shape, axes):
    """The result's shape with the reduced axes kept as size 1."""
    if axes is None:
        return (1,) * len(x_shape)
    return tuple(1 if i in axes else s for i, s in enumerate(x_shape))


def _unreduce(g, x, args):
    """Reshape a reduced gradient so that it broadcasts against the input again."""
    axes, keepdims = args
    return g if keepdims else g.reshape(_kept(x.shape, axes))


def _as_array(r):
    return r if type(r) is np.ndarray else np.asarray(r)


def _last(axes, ndim):
    """True when `axes` (an int, a tuple of ints or None) is just the last axis: the fast reductions' case."""
    return ndim > 0 and (axes == ndim - 1 or axes == -1 or axes == (ndim - 1,))


def _sum_keep(x, axes):
    """x.sum(axis=axes, keepdims=True) for arrays and Tensors, the last axis on the fast path."""
    return sum_last(x) if is_array(x) and _last(axes, x.ndim) else x.sum(axis=axes, keepdims=True)


# A float32 array's total: numpy's pairwise sum runs without wide vectors (1024x1024: 127 us; PyTorch's 41 us).
# The compiled loop adds in float64, where every float32 is exact, with reassociation allowed (LLVM then keeps
# several vector accumulators: 41 us): a sum accurate to ~1e-16 relative to the sum of |x|, rounded once to
# float32, where numpy's float32 pairwise sum is good to ~1e-7. Equal to numpy's to rounding, not bit for
# bit. (NaN and inf propagate as in any order of additions: reassociation is the only liberty allowed.)
@kernel(fastmath={"reassoc"})
def _total32(x):
    s = 0.0
    for i in range(x.size):
        s += x[i]
    return s


_TOTAL_MIN = 4096  # elements (below, numpy's call costs less than the kernel's)


def total(x):
    """x.sum() as a 0-d array of x's dtype."""
    if x.size >= _TOTAL_MIN and x.dtype == np.float32 and _total32 is not None and x.flags.c_contiguous:
        return np.array(_total32(x.reshape(-1)), np.float32)
    return np.add.reduce(x, None, None, np.empty((), x.dtype))


def _sum_fwd(args, x):
    axes, keepdims = args
    if axes is None and x.dtype.kind == "f":
        out = total(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    if _last(axes, x.ndim):
        out = sum_last(x)
        return out if keepdims else out.reshape(x.shape[:-1])
    return _as_array(x.sum(axis=axes, keepdims=keepdims))


def _extreme_dx(g, ans, args, x):
    # every position equal to the extreme shares the gradient (PyTorch's amax/amin rule)
    g, ans = _unreduce(g, x, args), _unreduce(ans, x, args)
    if is_array(g) and type(x) is np.ndarray and x.dtype.kind == "f":
        # as PyTorch: g * mask / count, with the mask as floats (np.where with a scalar and the
        # bool-mask product are numpy's slow loops: 2.95x PyTorch's time on 1024x1024 before)
        m = (x == ans).astype(x.dtype)
        count = _sum_keep(m, args[0])
        m *= g
        m /= count
        return m
    mask = x == ans
    count = cast(mask.sum(axis=args[0], keepdims=True), x.dtype)
    return where(mask, g, 0.0) / count


def _max_shift(x, axis):
    if x.size == 0:  # nothing to shift (and numpy's max of nothing raises): softmax of empty is empty, as in torch
        return np.zeros(np.sum(x, axis=axis, keepdims=True).shape, x.dtype)
    m = max_last(x) if _last(axis, x.ndim) else x.max(axis=axis, keepdims=True)
    return _finite_or_0(m)


def _finite_or_0(m):
    """The row maxima as shifts: 0 for a row of -inf, +inf or NaN (its result is then its own: 0, NaN...)."""
    return np.where(np.isfinite(m), m, 0) if m.dtype.kind == "f" else m


def _logsumexp_fwd(args, x):
    axes, keepdims = args
    m = _max_shift(x, axes)
    out = np.log(_sum_keep(np.exp(x - m), axes)) + m
    if not keepdims:
        out = out.reshape(tuple(s for i, s in enumerate(x.shape) if axes is not None and i not in axes))
    return out


# The last-dim softmax and log_softmax of a large float array take a path of their own (the general one
# below serves other axes, small and non-contiguous arrays; the rules' general one also create_graph):
# * softmax skips the shift by the row maxima when every maximum m lies in [0, log(max) - log(n) - 1]: exp(x)
#   cannot overflow there (n e^m stays below the float maximum), and no value underflows that exp(x - m)
#   would keep (m >= 0); x itself is then the exact argument (x - m is rounded).
# * the row shifts are BLAS rank-1 updates (numpy_fast.sub_col_), the row dots one batched product.
# * log_softmax saves its exp(x - m) and their sums: its backward g - softmax(x) Σg is then one product
#   instead of an exp of the result (as cross_entropy saves its softmax).
_ROWS_MIN = 4096  # elements: below, the general path's fewer calls cost less


def _rows_fast(x, axis):
    """True when x takes the last-dim path: a large C-contiguous float32/float64 array, reduced over its last dim."""
    return type(x) is np.ndarray and x.size >= _ROWS_MIN and _last(axis, x.ndim) and x.flags.c_contiguous \
        and (x.dtype == np.float32 or x.dtype == np.float64)


def _shift_free(m, n):
    """True when softmax may exponentiate the rows unshifted: every row maximum m in [0, log(max) - log(n) - 1]."""
    lo, hi = m.min(), m.max()
    return bool(lo >= 0 and hi <= math.log(np.finfo(m.dtype).max) - math.log(n) - 1.0)


def _exp_shifted(x, m):
    """exp(x - m) for the row shifts m (..., 1), in a fresh array."""
    z = sub_col_(np.array(x), m)
    return np.exp(z, out=z)


# The compiled path (numba, ops/norm_kernels.py, when installed and on) for the same last-dim case: the
# forward (float32: its exp is float32's) makes one read of x from memory (the row maxima, the exps and
# their sums in one loop over the rows), the backward rules (float32 and float64) one read of each operand.
_ROWS_JIT_MIN = 1  # elements


def _rows_jit(x, axis, forward=False):
    """True when the compiled kernels serve x's last-dim softmax/log_softmax (forward: float32 only)."""
    return softmax_rows is not None and type(x) is np.ndarray and x.size >= _ROWS_JIT_MIN and _last(axis, x.ndim) \
        and x.flags.c_contiguous and (x.dtype == np.float32 or (not forward and x.dtype == np.float64))


def _rows_jit_fwd(x, log):
    """-> (softmax(x), None) or (log_softmax(x), (e, Σe)) over the last dim, by the compiled kernel."""
    n = x.shape[-1]
    x2 = x.reshape(-1, n)
    r = x2.shape[0]
    e = np.empty(x.shape, x.dtype)
    se = np.empty(x.shape[:-1] + (1,), x.dtype)
    out = np.empty(x.shape, x.dtype) if log else e
    softmax_rows(x2, e.reshape(r, n), se.reshape(r), out.reshape(r, n), log)
    return out, ((e, se) if log else None)


def as_rows(a, n):
    """a as a C-contiguous (R, n) array of its rows (a view when it is one already): what row kernels take."""
    return np.ascontiguousarray(a).reshape(-1, n)


def _rows_jit_dx(kern, g, full, per_row=None):
    """dx by a compiled rule over (R, n) rows: kern(g, full, dx) or kern(g, full, per_row, dx), `full` of g's
    shape (C-contiguous), `per_row` of shape (..., 1)."""
    n = g.shape[-1]
    dx = np.empty(g.shape, g.dtype)
    rows = (as_rows(g, n), full.reshape(-1, n))
    if per_row is not None:
        rows += (per_row.reshape(-1),)
    kern(*rows, dx.reshape(-1, n))
    return dx


def _softmax_fwd(args, x):
    if _rows_jit(x, args, forward=True):
        return _rows_jit_fwd(x, False)[0]
    if _rows_fast(x, args):
        m = max_last(x)
        e = np.exp(x) if _shift_free(m, x.shape[-1]) else _exp_shifted(x, _finite_or_0(m))
        e /= sum_last(e)
        return e
    e = x - _max_shift(x, args)  # args: the axis
    if type(e) is np.ndarray:
        np.exp(e, out=e)  # (in place: one full-size buffer instead of two)
    else:
        e = np.exp(e)
    e /= _sum_keep(e, args)
    return e


def _log_softmax_fwd(args, x):
    """-> (result, saved): saved = (exp(x - m), their row sums) on the last-dim path, else None."""
    if _rows_jit(x, args, forward=True):
        return _rows_jit_fwd(x, True)
    fast = _rows_fast(x, args)
    z = sub_col_(np.array(x), _max_shift(x, args)) if fast else x - _max_shift(x, args)
    e = np.exp(z)
    se = _sum_keep(e, args)
    if fast:
        return sub_col_(z, np.log(se)), (e, se)
    if type(z) is not np.ndarray:
        return z - np.log(se), None
    z -= np.log(se)
    return z, None


def _softmax_dx(g, ans, args, x):
    if type(g) is np.ndarray and g.shape == ans.shape and g.dtype == ans.dtype and _rows_jit(ans, args):
        return _rows_jit_dx(softmax_dx_rows, g, ans)
    if _rows_fast(ans, args) and type(g) is np.ndarray and g.shape == ans.shape and g.dtype == ans.dtype:
        t = sub_col_(np.array(g), row_dot(np.ascontiguousarray(g), ans))
        t *= ans
        return t
    t = g - _sum_keep(g * ans, args)
    if type(t) is np.ndarray:
        t *= ans
        return t
    return ans * t


def _log_softmax_grads(g, ans, args, saved, needs, x):
    """dx = g - softmax(x) Σg; softmax(x) = e / Σe from the forward's saved (e, Σe) when there are."""
    if saved is not None and is_array(g) and np.shape(g) == ans.shape:
        e, se = saved
        if type(g) is np.ndarray and g.dtype == e.dtype and _rows_jit(e, args):
            return (_rows_jit_dx(log_softmax_dx_rows, g, e, se),)
        p = e * (_sum_keep(g, args) / se)
        return (np.subtract(g, p, out=p),)
    if type(ans) is np.ndarray and ans.ndim and is_array(g) and g.shape == ans.shape:  # (0-d: exp gives a scalar)
        e = np.exp(ans)
        e *= _sum_keep(g, args)
        return (np.subtract(g, e, out=e),)
    return (g - exp(ans) * _sum_keep(g, args),)


def _sum_dx(g, ans, args, x):
    if args == (None, False) and is_array(g):
        # a total sum (a loss): filling a fresh buffer costs less than building the zero-stride view
        # (0.4 vs 0.9 us on 8x8), the ops downstream run on contiguous memory, and a leaf takes the
        # buffer as its .grad without a copy (copying a zero-stride view of 1024x1024 costs 2x the fill)
        out = np.empty(x.shape, x.dtype)
        out.fill(g)
        return out
    return broadcast_to(_unreduce(g, x, args), x.shape)


SUM = defop("sum", _sum_fwd, _sum_dx, forward="Σ x", math="d sum(x)/dx_i = 1", reads=False,
            rule="dx = dC broadcast back to x's shape", saves=("x.shape",))
AMAX = defop("amax", lambda args, x: _as_array(x.max(axis=args[0], keepdims=args[1])), _extreme_dx,
             forward="max(x)", math="d max(x)/dx_i = [x_i = max] / (number of maxima)",
             rule="dx = dC at the maximum positions (shared among ties)", saves=("x", "result"))
AMIN = defop("amin", lambda args, x: _as_array(x.min(axis=args[0], keepdims=args[1])), _extreme_dx,
             forward="min(x)", math="d min(x)/dx_i = [x_i = min] / (number of minima)",
             rule="dx = dC at the minimum positions (shared among ties)", saves=("x", "result"))
LOGSUMEXP = defop("logsumexp", _logsumexp_fwd,
                  lambda g, ans, args, x: _unreduce(g, x, args) * exp(x - _unreduce(ans, x, args)),
                  forward="log Σ exp(x)",
                  math="d logsumexp(x)/dx_i = softmax(x)_i", rule="dx = dC * softmax(x)", saves=("x", "result"))
SOFTMAX = defop("softmax", _softmax_fwd, _softmax_dx,
                forward="exp(x) / Σ exp(x)",
                math="d s_j/dx_i = s_j([i=j] - s_i), s = softmax(x)", rule="dx = C * (dC - Σ(dC * C))",
                saves=("result",))
LOG_SOFTMAX = defop("log_softmax", _log_softmax_fwd, joint=_log_softmax_grads,
                    forward="x - logsumexp(x)",
                    math="d log_softmax(x)_j/dx_i = [i=j] - softmax(x)_i", rule="dx = dC - softmax(x) * Σ dC",
                    saves=("result", "exp(x - max x)", "Σ exp(x - max x)"), inputs=("x",))
