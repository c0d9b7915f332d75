"""Fast numpy kernels for erf and exact GELU (x Phi(x), Phi the normal CDF) and its derivative.

float64 (and other dtypes, and small float32 arrays) use scipy.special (`erf`, `ndtr`: Cephes,
accurate to ~1 ulp). scipy's float32 loops compute one element at a time in double (~18 ns per
element, 70x PyTorch's vectorised GELU), so large float32 arrays use algorithms of our own, run as
numpy passes over cache-sized chunks (ops/chunked.py):

* GELU (18 passes, one exp; 26 before): with a = |x| and h(a) = Phi(-a),
      gelu(x) = x Phi(x) = max(x, 0) - a h(a)      (Phi(x) = 1 - h for x >= 0, h for x < 0),
  which has no cancellation for x < 0 (PyTorch's float32 1 + erf(z) loses every digit there:
  its gelu(-6) is 0). h(a) = exp(-a^2/2) G(a), G = erfcx(a/sqrt 2)/2, and
      G(a) = b0 / (a + c1 + b1 / (a + c2 + b2 / (a + c3 + b3 / a))),
  a degree 3/4 rational fitted to G's relative error on [0, 13.2], rewritten as a continued
  fraction and refitted with its deepest shift c4 = 0 by bench/fit_erf_kernels.py (4.0e-7 relative
  in exact arithmetic; 3 passes per level, no overflow for huge |x|). Measured in float32 against
  float64: <= 1.5e-7 relative for x > 1, <= 7.5e-7 for -3 < x < 1, <= 1e-6 down to -5 and
  <= 4.5e-6 down to -13 (values below 1e-6 there: the rounding of x^2 inside exp dominates;
  PyTorch's are 0 below about -5.5).
* The derivative Phi(x) + x phi(x) (8 passes) takes Phi(x) = gelu(x) / x from the forward's
  result (1/2 at x = 0): one exp, no second erf.
* erf (24 passes): x N(x^2) / D(x^2), x clamped to +-3.92 (beyond it erf rounds to +-1 in float32), N and D
  of degree 5 fitted to erf(x)/x: 2e-8 relative, measured <= 7 ulp in float32.

numpy's float32 exp2 takes half the time of exp (0.19 vs 0.35 ms per million) in most processes
but 3.5x longer in about one process in four (it depends on the address-space layout: never with
ASLR off), so the kernels use exp. tests/test_erf_kernels.py checks them against scipy in float64,
tests/torch/test_erf_kernels_vs_torch.py against PyTorch.
"""
import math

import numpy as np
import scipy.special as sc

from .chunked import chunked, const

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# G(a) = erfcx(a/sqrt 2)/2 = b0 / (a + c1 + b1 / (a + c2 + b2 / (a + c3 + b3 / a))), fitted by
# bench/fit_erf_kernels.py (from a degree 3/4 rational; relative error 4.0e-7 on [0, 13.2])
_GELU_B0 = 0.3988862072680706
_GELU_LEVELS = ((-0.00647882912492092, 1.1313346246562925), (1.4066933257274794, -7.830804805042922),
                (5.698563344413379, 21.498195661324196), (0.0, 0.0))  # (c_k, b_k), top level first; c4 = 0
# erf(x) = x N(x^2) / D(x^2) on x clamped to +-3.92 (beyond, erf rounds to +-1 in float32): a rational
# fit of erf(x)/x on s = x^2 in [0, 15.4] (relative error 2e-8), highest power first, D(0) = 1
_ERF_X = 3.92
_ERF_N = (2.0575876848172303e-06, 0.00028447393670234106, 0.0037384594789662048, 0.05266438775365698,
          0.1897461853297887, 1.128379149203234)
_ERF_D = (3.814854460307965e-05, 0.0011563541680965376, 0.014914223791900801, 0.11383900426078175,
          0.501490994673719, 1.0)
_SMALL = 1024     # below this many elements scipy's loop beats the chunked passes' per-call costs


def _f32(*values):
    """float32 0-d arrays: a numpy pass takes one 2.5x faster than a Python float (0.3 vs 0.7 us per call)."""
    return tuple(np.array(v, np.float32) for v in values)


_C_ERF_N, _C_ERF_D, (_C_ERF_LO, _C_ERF_HI) = _f32(*_ERF_N), _f32(*_ERF_D), _f32(-_ERF_X, _ERF_X)
_C_NEG_HALF, _C_B0, _C_XPHI = _f32(-0.5, _GELU_B0, -2.0 * _INV_SQRT_2PI)
# the continued fraction's (b_k, c_k) as the kernel uses them, deepest level first; b3 / a is taken as
# (-b3/2) / (-a/2), -a/2 being also the factor of the exponent -a^2/2
(_C1, _B1), (_C2, _B2), (_C3, _B3), _ = _GELU_LEVELS
_C_LEVELS = (_f32(-0.5 * _B3, _C3), _f32(_B2, _C2), _f32(_B1, _C1))


def _const(v):
    return const(v, np.float32)


def _big_f32(x):
    """A float32 array big enough for the chunked kernels."""
    return type(x) is np.ndarray and x.dtype == np.float32 and x.size >= _SMALL


def _horner(out, s, coefs):
    """out <- polynomial with coefficients `coefs` (highest power first) at s."""
    np.multiply(s, coefs[0], out=out)
    for c in coefs[1:-1]:
        out += c
        out *= s
    out += coefs[-1]


def _gelu_chunk(o, x, s):
    a, m, t = s
    np.abs(x, out=a)
    np.multiply(a, _C_NEG_HALF, out=m)
    den = m                                # the deepest level: b3 / a as (-b3/2) / (-a/2) (inf at a = 0, harmless)
    for b, c in _C_LEVELS:
        np.divide(b, den, out=t)
        t += a
        t += c
        den = t
    np.divide(a, t, out=t)                 # a G(a) / b0
    m *= a
    np.exp(m, out=m)                       # exp(-a^2/2)
    t *= m
    t *= _C_B0                             # |x| Phi(-|x|)   (x = +-inf: inf/inf gives NaN, as PyTorch's float32 GELU)
    np.maximum(x, _const(0.0)[:x.size], out=o)
    o -= t


def _gelu_grad_chunk(o, x, ans, g, s):
    m, e = s
    np.multiply(x, _C_NEG_HALF, out=m)
    np.multiply(m, x, out=e)
    np.exp(e, out=e)
    e *= m
    e *= _C_XPHI                           # x phi(x)
    np.divide(ans, x, out=m)               # Phi(x) = gelu(x) / x (0/0 at x = 0: mended by the caller)
    e += m
    np.multiply(e, g, out=o)


def _erf_chunk(o, x, s):
    c, q, sq = s
    x.clip(_C_ERF_LO, _C_ERF_HI, out=c)   # (0-d bounds: 1.6x faster than np.minimum then np.maximum)
    np.multiply(c, c, out=sq)
    _horner(o, sq, _C_ERF_N)
    _horner(q, sq, _C_ERF_D)
    o *= c
    o /= q


def _float_dtype(x):
    """x's dtype if it is a float dtype, else float64 (what scipy computes in)."""
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def _scipy_input(x):
    """x as scipy's loops take it: float32 and float64 as they are, anything else in float64."""
    return x if x.dtype == np.float32 or x.dtype == np.float64 else x.astype(np.float64)


def erf(x):
    """erf(x) elementwise for a numpy array; float dtypes are kept, others give float64."""
    x = np.asarray(x)
    if _big_f32(x):
        return chunked(_erf_chunk, np.empty(x.shape, np.float32), x)
    return sc.erf(_scipy_input(x)).astype(_float_dtype(x), copy=False)


def gelu(x):
    """x Phi(x) elementwise for a numpy array, in x's dtype (float64 for a non-float x)."""
    if _big_f32(x):
        with np.errstate(all="ignore"):
            return chunked(_gelu_chunk, np.empty(x.shape, np.float32), x)
    xd = _scipy_input(x)
    out = sc.ndtr(xd)
    out *= xd
    return out.astype(_float_dtype(x), copy=False)


def gelu_grad(g, x, ans):
    """g (Phi(x) + x phi(x)) with Phi(x) = ans / x taken from the forward's result ans = x Phi(x)
    (1/2 at x = 0): one exp, no second erf."""
    # x == 0 gives 0/0 there, which raises the processor's invalid flag: numpy reports it to `flagged`,
    # and only then are the zeros looked for and mended (a pass over x == 0 otherwise: 0.07-0.2 ms per million)
    flagged = []
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="call",
                     call=lambda *_: flagged.append(True)):
        if _big_f32(x) and _big_f32(ans):
            d = chunked(_gelu_grad_chunk, np.empty(x.shape, np.float32), x, ans, np.broadcast_to(g, x.shape), scratch=2)
        else:
            xd = _scipy_input(x)
            d = np.exp(xd * xd * -0.5) * _INV_SQRT_2PI * xd + ans / xd
            d = d * g
    if flagged:
        zero = x == 0
        if zero.any():
            d = np.where(zero, 0.5 * g, d)
    return d.astype(ans.dtype, copy=False)
