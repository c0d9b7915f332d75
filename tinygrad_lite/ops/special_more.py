"""More special functions as primitives, computed by scipy.special: erfc, erfinv, lgamma and polygamma
(digamma is polygamma of order 0). Each rule is the function's derivative, itself one of these rows
or exp, so every order of derivative is recorded under create_graph."""
import math

import numpy as np
from scipy import special as sp

from . import defop, erf_kernels, exp, is_array
from .chunked import chunked
from .erf_kernels import _horner
from .jit import elementwise32, kernel
from .special import _TWO_OVER_SQRT_PI

_HALF_SQRT_PI = math.sqrt(math.pi) / 2.0


def _polygamma(n, x):
    if not is_array(x):
        return x._unary(POLYGAMMA, n)
    if n == 1 and x.dtype == np.float32:
        return trigamma32(x)
    return np.asarray(sp.psi(x) if n == 0 else sp.polygamma(n, x), dtype=x.dtype)  # (polygamma: float64)


# ψ(1, x) (digamma's derivative) for float32 arrays. scipy.special.polygamma(1, x) goes through a Python
# function and zeta (155 ms per million float32; PyTorch's trigamma 5.8 ms), so float32 takes this
# vectorised form, computed in float64 over cache-sized pieces: the reflection ψ(1, x) = π² / sin²(πx) -
# ψ(1, 1 - x) for x < 1/2, six steps of the recurrence ψ(1, z) = 1/z² + ψ(1, z + 1), then the asymptotic
# series at w = z + 6 >= 6.5: 1/w + 1/(2w²) + Σ B_2k / w^(2k+1) to B_12 (truncation below 3e-11 relative,
# far below float32's 6e-8; tests/test_special_more.py holds it to scipy within half an ulp).
_TRIGAMMA_SERIES = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)  # B_2 .. B_12


def _trigamma_piece(o, z, s):
    """o <- ψ(1, z) for float64 z >= 1/2."""
    t, acc, w2 = s
    acc[...] = 0.0
    for k in range(6):
        np.add(z, k, out=t)
        np.multiply(t, t, out=t)
        np.divide(1.0, t, out=t)
        acc += t
    np.add(z, 6.0, out=t)
    np.divide(1.0, t, out=t)                  # 1/w
    o[...] = _TRIGAMMA_SERIES[-1]
    np.multiply(t, t, out=w2)
    for b in reversed(_TRIGAMMA_SERIES[:-1]):
        o *= w2
        o += b
    o *= w2                                   # Σ B_2k / w^2k
    o += 1.0
    o += 0.5 * t
    o *= t
    o += acc


@kernel
def _trigamma64(z):
    """ψ(1, z) for a float64 z >= 1/2: _trigamma_piece's steps (the recurrence's reciprocals in pairs,
    1/a + 1/b = (a + b) / (a b); the series directly from 6.5 on)."""
    acc = 0.0
    if z < 6.5:
        for k in range(0, 6, 2):
            a, b = (z + k) * (z + k), (z + k + 1) * (z + k + 1)
            acc += (a + b) / (a * b)
        z += 6.0
    t = 1.0 / z
    w2 = t * t
    o = ((((-691 / 2730 * w2 + 5 / 66) * w2 - 1 / 30) * w2 + 1 / 42) * w2 - 1 / 30) * w2 + 1 / 6  # _TRIGAMMA_SERIES
    return (o * w2 + 1.0 + 0.5 * t) * t + acc


@kernel
def _trigamma32_loop(x, out):
    """out <- ψ(1, x) over 1-d float32 arrays, in float64. One vectorised pass for x >= 1/2 (1M elements:
    0.7 ms; the numpy form's ~40 passes take 11-14 ms, 17 us on 64 elements), then the reflection for the
    rest, element by element (a sine in the loop would keep the whole pass from vectorising: 15 ms)."""
    low = 0
    for i in range(x.size):
        z = np.float64(x[i])
        out[i] = np.float32(_trigamma64(0.5 if z < 0.5 else z))  # (NaN stays NaN)
        low += z < 0.5
    if low:
        for i in range(x.size):
            zr = np.float64(x[i])
            if zr < 0.5:
                if zr == np.floor(zr):  # (np.floor: math.floor gives an int in numba, undefined at -inf)
                    out[i] = np.inf     # the poles: 0, -1, -2 ... (and -inf)
                else:
                    s = math.pi / math.sin(math.pi * zr)
                    out[i] = np.float32(s * s - _trigamma64(1.0 - zr))


def trigamma32(x):
    """ψ(1, x) of a float32 array, as float32 (inf at 0 and the negative integers)."""
    if _trigamma32_loop is not None:
        return elementwise32(_trigamma32_loop, x)
    z = x.astype(np.float64)
    low = z < 0.5
    reflect = bool(low.any())
    if reflect:
        zr = z[low]
        z[low] = 1.0 - zr
    out = chunked(_trigamma_piece, np.empty(z.shape), z)
    if reflect:
        with np.errstate(divide="ignore", invalid="ignore"):  # (sin(-inf): a pole, set below)
            wall = (np.pi / np.sin(np.pi * zr)) ** 2
        wall[zr == np.floor(zr)] = np.inf     # (the poles: sin(πx) is not exactly 0 there)
        out[low] = wall - out[low]
    return out.astype(np.float32)


# erfinv for float32 arrays: scipy's float32 loop computes in double, one element at a time (18 ms per
# million; PyTorch's 1.6 ms). With w = -log((1 - x)(1 + x)) (1 - x and 1 + x are exact in float32 near
# |x| = 1, where 1 - x*x would lose the digits), erfinv(x) = x P1(w - 2.5) for w < 5 and x P2(sqrt(w) - 3)
# beyond, two degree-9 polynomials fitted by bench/fit_erfinv.py (relative error 7e-9 and 1.3e-8, below
# float32's 6e-8), evaluated over cache-sized pieces (ops/chunked.py).
_ERFINV_P1 = (-8.941310598729985e-09, 2.3265116066777895e-08, 4.6826582448571065e-07, -3.4630965103666985e-06, -4.973065720725443e-06, 0.00021834589822624054, -0.0012527252312649142, -0.004177388485712163, 0.24664027848164746, 1.5014093595836482)
_ERFINV_P2 = (0.00011126734487623718, -0.0003065807572432133, -4.9178369556590606e-05, 0.0014813006953524332, -0.003602037168872696, 0.0056883944164720646, -0.007636187218647894, 0.009445135687969036, 1.00167489436537, 2.832976803038376)


def _erfinv_piece(o, x, s):
    w, p = s
    np.subtract(1.0, x, out=w)
    np.add(1.0, x, out=p)
    w *= p
    np.log(w, out=w)
    np.negative(w, out=w)                    # w = -log((1 - x)(1 + x)): inf at |x| = 1, NaN beyond
    np.subtract(w, 2.5, out=p)
    _horner(o, p, _ERFINV_P1)
    far = w >= 5.0
    if far.any():
        np.sqrt(w, out=w)
        w -= 3.0
        _horner(p, w, _ERFINV_P2)
        np.copyto(o, p, where=far)
    o *= x
    edge = np.abs(x) == 1.0
    if edge.any():
        o[edge] = np.copysign(np.inf, x[edge])


def erfinv(x):
    """erfinv of a numpy array, in its float dtype (float64 for others): float32 arrays of 1024 elements or
    more by the fitted polynomials, the rest by scipy.special.erfinv."""
    if type(x) is np.ndarray and x.dtype == np.float32 and x.size >= 1024:
        with np.errstate(invalid="ignore", divide="ignore"):
            return chunked(_erfinv_piece, np.empty(x.shape, np.float32), x, scratch=2)
    return sp.erfinv(x)


def _erfc_dx(g, ans, args, x):
    return g * (exp(x * x * -1.0) * -_TWO_OVER_SQRT_PI)


def _erfinv_dx(g, ans, args, x):
    return g * (exp(ans * ans) * _HALF_SQRT_PI)


ERFC = defop("erfc", lambda args, x: erf_kernels.erfc(x), _erfc_dx,
             forward="erfc(x) = 1 - erf(x)", math="d erfc(x)/dx = -2/sqrt(pi) exp(-x^2)",
             rule="dx = -dC * 2/√π exp(-x²)", saves=("x",))
ERFINV = defop("erfinv", lambda args, x: erfinv(x), _erfinv_dx,
               forward="erfinv(x)", math="d erfinv(x)/dx = sqrt(pi)/2 exp(erfinv(x)^2)",
               rule="dx = dC * √π/2 exp(result²)", saves=("result",),
               symbols={"erfinv": "the inverse of erf on (-1, 1)"})
LGAMMA = defop("lgamma", lambda args, x: sp.gammaln(x), lambda g, ans, args, x: g * _polygamma(0, x),
               forward="log |Γ(x)|", math="d log|Γ(x)|/dx = ψ(x)", rule="dx = dC * ψ(x)", saves=("x",),
               symbols={"Γ": "the gamma function", "ψ": "the digamma function Γ'(x) / Γ(x)"})
POLYGAMMA = defop("polygamma", lambda n, x: _polygamma(n, x), lambda g, ans, n, x: g * _polygamma(n + 1, x),
                  forward="ψ(n, x)", math="d ψ(n, x)/dx = ψ(n + 1, x)", rule="dx = dC * ψ(n + 1, x)", saves=("x",),
                  symbols={"ψ": "polygamma: ψ(n, x) is the n-th derivative of digamma, ψ(0, x)",
                           "n": "the order, an int >= 0"})
