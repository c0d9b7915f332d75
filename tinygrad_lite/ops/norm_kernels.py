"""Compiled row-wise kernels for layer norm (ops/jit.py's `kernel`: numba, or None when it is off).

A row of layer norm (1024 float32: 4 KB) fits in the L1 cache, so a loop that walks it two or three
times reads it from memory once. The numpy path (ops/fused.py) makes ~8 passes over the whole array
in forward + backward; these kernels make one read of each input and one write of each output.
Single-threaded (no parallel=True: PyTorch's peer runs on one thread too).

    ln_forward(x, w, b, eps, y, mu, rstd)                   y = (x - μ) / σ * w (+ b) per row
    ln_backward(g, x, w, mu, rstd, dx, dw, db, flags)        dx, Σ g x̂, Σ g per row

Numerics: per-row sums in float64 for float32 and float64 alike; the mean first, then the sum of
squares of x - μ (two passes: x is centred exactly, no E[x²] - μ² cancellation); σ = sqrt(var + eps)
in float64. The saved μ and 1/σ are rounded to x's dtype (as the numpy path's and PyTorch's); the
backward recomputes μ from x in float64 (one more pass over the row, in L1) so that x - μ is the
forward's, and takes 1/σ from the saved value. The arithmetic is float64 in registers, rounded once
on store. fastmath is only "reassoc" and "contract" (sums may be reordered into vector lanes, a * b + c
fused): no "nnan"/"ninf", so NaN and inf propagate as in the numpy path.
"""
import math

import numpy as np

from .jit import kernel

_FLAGS = {"reassoc", "contract"}


def _ln_forward(x, w, b, eps, y, mu, rstd, has_b):
    """y[i] = (x[i] - μ_i) / σ_i * w (+ b when has_b); μ_i and 1/σ_i into mu[i], rstd[i].
    x, y (R, n) C-contiguous, w and b (n,) (b is any (n,) array when not has_b)."""
    r_rows, n = x.shape
    for i in range(r_rows):
        s = 0.0
        for j in range(n):
            s += x[i, j]
        m = s / n
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
        s = 0.0
        for j in range(n):
            s += x[i, j]
        m = s / n
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
