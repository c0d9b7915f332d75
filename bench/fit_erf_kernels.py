"""Fits the coefficients of the float32 exact-GELU kernel in tinygrad_lite/ops/erf_kernels.py, in float64.

    python bench/fit_erf_kernels.py        # prints the constants to paste, and the fit's error

With a = |x| and G(a) = erfcx(a/sqrt 2)/2, Phi(-a) = exp(-a^2/2) G(a). The kernel needs a G(a)
(gelu(x) = max(x, 0) - exp(-a^2/2) a G(a)).

1. G is fitted by a rational N(a)/D(a), N of degree 3 and D of degree 4 (so that N/D ~ 1/a at
   infinity, as G is), in RELATIVE error on a in [0, A_MAX], by linearised least squares
   (Sanathanan-Koerner: each pass divides by the previous D) with Lawson reweighting toward the
   minimax error. A_MAX = 13.2: beyond it exp(-a^2/2) leaves float32's normal range, so every
   normal result comes from the fitted range. Max relative error 3.5e-7 (float64).
2. N/D is rewritten, by Euclid's algorithm on the two polynomials, as the continued fraction
       G(a) = b0 / (a + c1 + b1 / (a + c2 + b2 / (a + c3 + b3 / (a + c4))))
   which numpy evaluates in 3 passes per level instead of 4 per degree for N and D by Horner, and
   which cannot overflow for huge a (N(a) and D(a) do, near a = 2e9).
3. c4 (-0.17) is then fixed to 0 and the other seven constants refitted (nonlinear least squares on
   the relative error, Lawson reweighting, started from step 2's values): the deepest level becomes
   b3 / a, one numpy pass less, for a max relative error of 4.0e-7 instead of 3.5e-7.
"""
import math

import numpy as np
import scipy.special as sc
from numpy.polynomial import polynomial as P
from scipy.optimize import least_squares

A_MAX = 13.2
N_DEG, D_DEG = 3, 4


def rational_fit(u, f, n, m, iters=80):
    """(max relative error, N, D) with f ~ N(u)/D(u) near-minimax in relative error; N, D as
    coefficient arrays lowest power first, D(0) = 1 (SK iteration + Lawson weights)."""
    V = np.vander(u, max(n, m) + 1, increasing=True)
    d_prev, lawson = np.ones_like(u), np.full(u.size, 1.0 / u.size)
    best = (math.inf, None, None)
    for _ in range(iters):
        A = np.hstack([V[:, :n + 1], -f[:, None] * V[:, 1:m + 1]])
        w = np.sqrt(lawson) / np.abs(d_prev) / np.abs(f)
        coef = np.linalg.lstsq(A * w[:, None], f * w, rcond=None)[0]
        num, den = V[:, :n + 1] @ coef[:n + 1], 1.0 + V[:, 1:m + 1] @ coef[n + 1:]
        err = np.abs(num / den / f - 1.0)
        if err.max() < best[0] and np.all(den > 0):
            best = (err.max(), coef[:n + 1], np.concatenate([[1.0], coef[n + 1:]]))
        d_prev = den
        lawson = lawson * err
        lawson /= lawson.sum()
    return best


def continued_fraction(num, den):
    """N/D (lowest power first, deg N = deg D - 1) as (b0, [(c1, b1), ..., (c_m, 0)]) with
    N/D = b0 / (a + c1 + b1 / (a + c2 + ... + b_{m-1} / (a + c_m)))."""
    num, den = np.asarray(num, float) / den[-1], np.asarray(den, float) / den[-1]  # D monic
    b0 = num[-1]
    num = num / b0  # N monic: each step D = (a + c) N + b R, R monic of degree one less
    levels = []
    while True:
        q, r = P.polydiv(den, num)
        r = r[:len(num) - 1]
        if len(num) == 1:
            levels.append((q[0], 0.0))
            return b0, levels
        levels.append((q[0], r[-1]))
        den, num = num, r / r[-1]


def evaluate(a, b0, levels):
    with np.errstate(divide="ignore"):  # (b3 / a at a = 0 when c4 = 0: inf, then harmless)
        t = a + levels[-1][0]
        for c, b in levels[-2::-1]:
            t = b / t + a + c
        return b0 / t


def refit_without_c4(a, g, b0, levels, rounds=20):
    """(max relative error, b0, levels) with c4 = 0 and the other constants refitted (see step 3)."""
    def cf(p):
        return evaluate(a, p[0], [(p[1], p[2]), (p[3], p[4]), (p[5], p[6]), (0.0, 0.0)])
    p = np.array([b0, *np.ravel(levels[:3])])
    weight, best = np.ones_like(a), (math.inf, None)
    for _ in range(rounds):
        p = least_squares(lambda q: weight * (cf(q) / g - 1.0), p, method="lm", max_nfev=4000).x
        err = np.abs(cf(p) / g - 1.0)
        if err.max() < best[0]:
            best = (err.max(), p.copy())
        weight = weight * np.sqrt(err / err.max()) + 1e-3
        weight /= weight.max()
    err, p = best
    return err, p[0], ((p[1], p[2]), (p[3], p[4]), (p[5], p[6]), (0.0, 0.0))


def gelu_constants():
    """(max relative errors of steps 1, 2 and 3, b0, levels): the kernel's constants."""
    a = np.linspace(0.0, A_MAX, 4001)
    g = sc.erfcx(a / math.sqrt(2.0)) / 2.0
    err, num, den = rational_fit(a, g, N_DEG, D_DEG)
    b0, levels = continued_fraction(num, den)
    cf_err = np.abs(evaluate(a, b0, levels) / g - 1.0).max()
    final_err, b0, levels = refit_without_c4(a, g, b0, levels)
    return (err, cf_err, final_err), b0, levels


if __name__ == "__main__":
    (err, cf_err, final_err), b0, levels = gelu_constants()
    print(f"G(a) = N(a)/D(a) on [0, {A_MAX}]: max relative error {err:.2e}; as a continued fraction {cf_err:.2e}; "
          f"with c4 = 0, refitted: {final_err:.2e}")
    print("_GELU_B0 =", float(b0))
    print("_GELU_LEVELS =", tuple((float(c), float(b)) for c, b in levels), " # (c_k, b_k), top level first")
