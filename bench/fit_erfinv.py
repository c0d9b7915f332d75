"""Fit the two polynomials of the float32 erfinv kernel (tinygrad_lite/ops/special_more.py) and print them.

erfinv(x) = x p(w), w = -log((1 - x)(1 + x)) (exact-ish in float32: 1 - x and 1 + x are exact or nearly):
    w < 5:  p = P1(w - 2.5)          (|x| < 0.99663)
    w >= 5: p = P2(sqrt(w) - 3)       (up to |x| = 1 - 2^-24, w = 16.6)
Each polynomial (degree 9) is a least-squares fit of erfinv(x)/x, weighted for relative error, on dense
Chebyshev-spaced points of its variable, against scipy.special.erfinv in float64.

    .venv/bin/python bench/fit_erfinv.py
"""
import numpy as np
from scipy import special

DEGREE = 9


def fit(t_lo, t_hi, w_of_t):
    t = (t_lo + t_hi) / 2 + (t_hi - t_lo) / 2 * np.cos(np.linspace(0, np.pi, 4000))
    w = w_of_t(t)
    x = np.sqrt(-np.expm1(-w))                  # (1 - x)(1 + x) = exp(-w)
    target = special.erfinv(x) / x
    A = np.vander(t, DEGREE + 1) / target[:, None]  # relative error
    coefs, *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    err = np.abs(np.polyval(coefs, t) / target - 1).max()
    return coefs, err


def main():
    p1, e1 = fit(-2.5 + 1e-9, 2.5, lambda t: t + 2.5)
    p2, e2 = fit(np.sqrt(5.0) - 3, np.sqrt(17.0) - 3, lambda t: (t + 3) ** 2)
    print(f"P1 (w < 5), relative error {e1:.2e}:", ", ".join(repr(float(c)) for c in p1))
    print(f"P2 (w >= 5), relative error {e2:.2e}:", ", ".join(repr(float(c)) for c in p2))
    return p1, p2


if __name__ == "__main__":
    main()
