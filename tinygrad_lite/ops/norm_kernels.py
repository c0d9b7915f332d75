"""Compiled row-wise kernels for layer norm, softmax and log_softmax over the last dim (ops/jit.py's
`kernel`: numba, or None when it is off; the callers in ops/fused.py and ops/reduce.py then take their
numpy paths, which stay the reference: tests/test_layer_norm_fast.py, tests/test_fast_reductions.py).

A row (1024 float32: 4 KB) fits in the L1 cache, so a loop that walks it two or three times reads it
from memory once. The numpy paths make ~8 passes over the whole array in forward + backward; these
kernels make one read of each input and one write of each output. Single-threaded (no parallel=True:
PyTorch's peer runs on one thread too).

    ln_forward(x, w, b, eps, y, mu, rstd, has_b)            y = (x - μ) / σ * w (+ b) per row
    ln_backward(g, x, w, rstd, dx, dw, db, need_dx, ...)     dx, Σ g x̂, Σ g
    softmax_rows(x, e, se, out, log)                        softmax (float32) or log_softmax and its exps
    softmax_dx_rows(g, s, dx), log_softmax_dx_rows(g, e, se, dx)   their rules (float32, float64)

Layer norm's numerics: per-row sums in float64 for float32 and float64 alike; the mean first, then the
sum of squares of x - μ (two passes: x is centred exactly, no E[x²] - μ² cancellation); σ = sqrt(var +
eps) in float64. The saved μ and 1/σ are rounded to x's dtype (as the numpy path's and PyTorch's); the
backward recomputes μ from x in float64 (one more pass over the row, in L1) so that x - μ is the
forward's, and takes 1/σ from the saved value. The arithmetic is float64 in registers, rounded once
on store. fastmath is only "reassoc" and "contract" (sums may be reordered into vector lanes, a * b + c
fused): no "nnan"/"ninf", so NaN and inf propagate as in the numpy paths. (So no compensated float32
arithmetic either: "reassoc" may fold (x - hi) - lo into x - (hi + lo).)
"""
import math

import numpy as np

from .compiled_math import exp32
from .jit import bits_of_float32, float32_from_bits, kernel

_FLAGS = {"reassoc", "contract"}


@kernel(inline="always", fastmath=_FLAGS)
def _row_mean(x, i):
    """The mean of row i of x, summed in float64."""
    s = 0.0
    for j in range(x.shape[1]):
        s += x[i, j]
    return s / x.shape[1]


def _ln_forward(x, w, b, eps, y, mu, rstd, has_b):
    """y[i] = (x[i] - μ_i) / σ_i * w (+ b when has_b); μ_i and 1/σ_i into mu[i], rstd[i].
    x, y (R, n) C-contiguous, w and b (n,) (b is any (n,) array when not has_b)."""
    r_rows, n = x.shape
    for i in range(r_rows):
        m = _row_mean(x, i)
        q = 0.0
        for j in range(n):
            d = x[i, j] - m
            q += d * d
        r = 1.0 / math.sqrt(q / n + eps)
        mu[i] = m
        rstd[i] = r
        if has_b:
            for j in range(n):
                y[i, j] = (x[i, j] - m) * r * w[j] + b[j]
        else:
            for j in range(n):
                y[i, j] = (x[i, j] - m) * r * w[j]


def _ln_backward(g, x, w, rstd, dx, dw, db, need_dx, need_dw, need_db):
    """dx[i] = (g w - mean(g w) - x̂ mean(g w x̂)) / σ_i, dw += Σ_i g x̂, db += Σ_i g (dw, db float64
    accumulators of shape (n,), zero on entry), with x̂ = (x - μ_i) / σ_i, μ_i recomputed from x."""
    r_rows, n = x.shape
    for i in range(r_rows):
        m = _row_mean(x, i)  # (as the forward's: x - μ is the same)
        r = np.float64(rstd[i])
        s1 = 0.0
        s2 = 0.0
        for j in range(n):
            gj = np.float64(g[i, j])
            xh = (x[i, j] - m) * r
            gw = gj * w[j]
            s1 += gw
            s2 += gw * xh
            if need_dw:
                dw[j] += gj * xh
            if need_db:
                db[j] += gj
        if need_dx:
            c1 = s1 / n
            c2 = s2 / n
            for j in range(n):
                dx[i, j] = (np.float64(g[i, j]) * w[j] - c1 - (x[i, j] - m) * r * c2) * r


# error_model="numpy": 1/0 is inf (eps = 0 on a constant row), not a ZeroDivisionError
ln_forward = kernel(_ln_forward, fastmath=_FLAGS, error_model="numpy")
ln_backward = kernel(_ln_backward, fastmath=_FLAGS, error_model="numpy")


# ---------------------------------------------------------------------- softmax and log_softmax (last dim)
# numba's math.exp / np.exp compile to a call per element (1.9 ms per million float32, numpy's own loop
# 0.35 ms), so the forward kernel takes ops/compiled_math.py's exp32 (all arithmetic and bit casts: the
# loop vectorises), float32 only.


def _softmax_rows(x, e, se, out, log):
    """For float32 rows x (R, n): e = exp(x - m), se = Σ e per row (float64 sums), then e /= se (softmax: e is
    the result) or, when log, out = (x - m) - log(se) (log_softmax; e is kept). m is the row's maximum (0
    when that is not finite: a row of -inf, an inf or a NaN); softmax takes m = 0 for a row whose maximum
    lies in [0, log(float32 max) - log(n) - 1]: no exp can overflow there and x is then exp's exact
    argument (x - m is rounded)."""
    r_rows, n = x.shape
    top = math.log(3.4028234663852886e38) - math.log(n) - 1.0
    for i in range(r_rows):
        # the maximum on the bits: k = b ^ (sign(b) ? 0x7fffffff : 0) orders floats as integers (a positive
        # NaN above +inf), and an integer maximum vectorises where a float one needs fastmath's "nnan"
        mk = -(1 << 31)
        for j in range(n):
            b = bits_of_float32(x[i, j])
            k = b ^ ((b >> 31) & 0x7FFFFFFF)
            mk = k if k > mk else mk
        mi = float32_from_bits(np.int32(mk ^ ((mk >> 31) & 0x7FFFFFFF)))  # (the map is its own inverse)
        if not (-np.inf < mi < np.inf) or (not log and 0 <= mi <= top):
            mi = np.float32(0.0)
        s = 0.0
        for j in range(n):
            v = exp32(x[i, j] - mi, np.float32(0.0))  # (NaN in, NaN out)
            e[i, j] = v
            s += v
        se[i] = s
        if log:
            ls = np.float32(math.log(s))
            for j in range(n):
                out[i, j] = (x[i, j] - mi) - ls
        else:
            c = np.float32(1.0 / s)
            for j in range(n):
                e[i, j] *= c


def _softmax_dx_rows(g, s, dx):
    """dx = s (g - Σ g s) per row (softmax's rule), the row sums in float64."""
    r_rows, n = s.shape
    for i in range(r_rows):
        d = 0.0
        for j in range(n):
            d += g[i, j] * np.float64(s[i, j])
        for j in range(n):
            dx[i, j] = s[i, j] * (g[i, j] - d)


def _log_softmax_dx_rows(g, e, se, dx):
    """dx = g - e Σg / se per row (log_softmax's rule with its saved e = exp(x - m) and se = Σ e)."""
    r_rows, n = g.shape
    for i in range(r_rows):
        sg = 0.0
        for j in range(n):
            sg += g[i, j]
        c = sg / se[i]
        for j in range(n):
            dx[i, j] = g[i, j] - e[i, j] * c


softmax_rows = kernel(_softmax_rows, fastmath=_FLAGS, error_model="numpy")
softmax_dx_rows = kernel(_softmax_dx_rows, fastmath=_FLAGS, error_model="numpy")
log_softmax_dx_rows = kernel(_log_softmax_dx_rows, fastmath=_FLAGS, error_model="numpy")
