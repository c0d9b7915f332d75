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

With numba installed (ops/jit.py), float32 arrays of _JIT_MIN elements or more (the gradient: any
size) take compiled loops instead, one pass each and the same algorithms (`gelu32`, `gelu_grad32`, `erf32` below): GELU's
continued fraction multiplied out into one quotient b0 N2(a) / N1(a) (one division instead of four;
a clamped to 16, where exp(-a^2/2) is 0 in float32), and exp(-a^2/2) from ops/compiled_math.py with
a^2 taken exactly (<= 7e-7 relative down to -13, against 4.3e-6 for the numpy kernel). erf32 does the
numpy kernel's operations in its order: the two agree bit for bit. The numpy kernels stay the
reference, and what runs without numba or with TINYGRAD_LITE_JIT=0.

numpy's float32 exp2 takes half the time of exp (0.19 vs 0.35 ms per million) in most processes
but 3.5x longer in about one process in four (it depends on the address-space layout: never with
ASLR off), so the kernels use exp. tests/test_erf_kernels.py checks them against scipy in float64,
tests/torch/test_erf_kernels_vs_torch.py against PyTorch.
"""
import math

import numpy as np
import scipy.special as sc

from .chunked import chunked, const
from .compiled_math import exp32, exp_neg_half_square32
from .jit import elementwise32, flat, fma32, kernel

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
_C_SIGN_BIT = np.array(-(1 << 31), np.int32)
# the continued fraction's (b_k, c_k) as the kernel uses them, deepest level first; b3 / a is taken as
# (-b3/2) / (-a/2), -a/2 being also the factor of the exponent -a^2/2
(_C1, _B1), (_C2, _B2), (_C3, _B3), _ = _GELU_LEVELS
_C_LEVELS = (_f32(-0.5 * _B3, _C3), _f32(_B2, _C2), _f32(_B1, _C1))


def _const(v):
    return const(v, np.float32)


def _big_f32(x, least=_SMALL):
    """A float32 array of `least` elements or more (default: big enough for the chunked kernels)."""
    return type(x) is np.ndarray and x.dtype == np.float32 and x.size >= least


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
    o -= t                                 # (+0.0 where it should be -0.0: see _gelu_chunked)


def _sign_bit_chunk(o, x, s):
    """o <- o with x's sign bit set in it (gelu has x's sign). Integer passes: numpy's float32 copysign
    is a call per element (4.5 ms per million, measured)."""
    bits = s[0].view(np.int32)
    np.bitwise_and(x.view(np.int32), _C_SIGN_BIT, out=bits)
    np.bitwise_or(o.view(np.int32), bits, out=o.view(np.int32))


def _gelu_chunked(x):
    """The chunked GELU kernel. maximum(-0.0, 0.0) is +0.0, so its result is +0.0 where gelu is -0.0: at
    x = -0.0 and below -14.4, where Phi(x) underflows. These raise a floating-point flag on the way (b3 / -0.0
    divides by zero; exp underflows, or x^2 overflows): only then is x's sign bit copied into the result
    (two integer passes, +10% otherwise: the -0.0 would cost every call)."""
    flagged = []
    with np.errstate(divide="call", under="call", over="call", invalid="ignore", call=lambda *_: flagged.append(1)):
        out = chunked(_gelu_chunk, np.empty(x.shape, np.float32), x)
    if flagged:
        chunked(_sign_bit_chunk, out, x, scratch=1)
    return out


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


# ---- the compiled loops (numba, ops/jit.py): None when compiled kernels are off ----

_F = np.float32
# measured: from 128 elements up a compiled loop (~1.3 us a call) beats scipy's float32 loop; the gradient's
# loop beats the numpy formula at every size (1.9 vs 3.9 us for 1-64 elements)
_JIT_MIN, _JIT_MIN_GRAD = 128, 1
(_K_C1, _K_B1), (_K_C2, _K_B2), (_K_C3, _K_B3), _ = (tuple(_F(v) for v in lv) for lv in _GELU_LEVELS)
_K_B0, _K_A_MAX, _K_ZERO, _K_NEG_ZERO, _K_HALF = _F(_GELU_B0), _F(16.0), _F(0.0), _F(-0.0), _F(0.5)
_K_INV_SQRT_2PI = _F(_INV_SQRT_2PI)
_K_SQRT2, _K_TWO = _F(math.sqrt(2.0)), _F(2.0)
_K_N0, _K_N1, _K_N2, _K_N3, _K_N4, _K_N5 = (_F(c) for c in _ERF_N)
_K_D0, _K_D1, _K_D2, _K_D3, _K_D4, _K_D5 = (_F(c) for c in _ERF_D)
_K_ERF_LO, _K_ERF_HI = _F(-_ERF_X), _F(_ERF_X)


@kernel(inline="always")
def _tail_ratio32(m):
    """G(m) = Phi(-m) / exp(-m^2/2) for float32 0 <= m <= 16: the continued fraction multiplied out."""
    n3 = fma32(m, m + _K_C3, _K_B3)
    n2 = fma32(m + _K_C2, n3, _K_B2 * m)
    n1 = fma32(m + _K_C1, n2, _K_B1 * n3)
    return _K_B0 * n2 / n1


@kernel(inline="always")
def _a_upper_tail32(a):
    """a Phi(-a) for float32 a >= 0 (NaN stays NaN; inf gives NaN, inf * 0, as PyTorch's gelu(+-inf))."""
    m = _K_A_MAX if a > _K_A_MAX else a
    return (a * _tail_ratio32(m)) * exp_neg_half_square32(m)   # (exp last: a denormal exp keeps its bits)


@kernel
def erfc32(x, out):
    """out <- erfc(x) over 1-d float32 arrays: erfc(v) = 2 G(|v| sqrt 2) exp(-v^2) (GELU's tail, with v^2
    taken exactly into exp), and 2 - erfc(-v) for v < 0."""
    for i in range(x.size):
        v = x[i]
        a = abs(v)
        a = _K_A_MAX if a > _K_A_MAX else a                          # (erfc(16) is 0 in float32; NaN stays)
        s = a * a
        e = exp32(-s, -fma32(a, a, -s))                              # exp(-v^2)
        m = a * _K_SQRT2
        m = _K_A_MAX if m > _K_A_MAX else m
        h = (_K_TWO * _tail_ratio32(m)) * e
        out[i] = h if v >= _K_ZERO else _K_TWO - h                 # (NaN: NaN either way)


@kernel
def gelu32(x, out):
    """out <- x Phi(x) over 1-d float32 arrays: max(x, 0) - |x| Phi(-|x|), with -0.0 as max(x, 0) of
    x <= -0.0 so that gelu(-0.0) = -0.0."""
    for i in range(x.size):
        v = x[i]
        out[i] = (v if v >= _K_ZERO else _K_NEG_ZERO) - _a_upper_tail32(abs(v))


@kernel(inline="always")
def _gelu_slope32(v, y):
    """Phi(v) + v phi(v) of float32 v, with Phi(v) = y / v from y = gelu(v) (1/2 at v = 0)."""
    cdf = y / v if v != _K_ZERO else _K_HALF
    return fma32(v, _K_INV_SQRT_2PI * exp_neg_half_square32(abs(v)), cdf)


@kernel
def gelu_grad32(g, x, ans, out):
    """out <- g (Phi(x) + x phi(x)) over 1-d arrays, Phi(x) = ans / x."""
    for i in range(x.size):
        out[i] = g[i] * _gelu_slope32(x[i], ans[i])


@kernel
def gelu_grad32_one_g(g, x, ans, out):
    """gelu_grad32 for g one float32 value (a broadcast scalar: read through a stride-0 array, the loop
    does not vectorise, 8.5 vs 0.4 ms per million)."""
    for i in range(x.size):
        out[i] = g * _gelu_slope32(x[i], ans[i])


@kernel
def erf32(x, out):
    """out <- erf(x) over 1-d float32 arrays (the numpy kernel's operations, in its order)."""
    for i in range(x.size):
        v = x[i]
        c = _K_ERF_LO if v < _K_ERF_LO else (_K_ERF_HI if v > _K_ERF_HI else v)
        s = c * c
        n = ((((_K_N0 * s + _K_N1) * s + _K_N2) * s + _K_N3) * s + _K_N4) * s + _K_N5
        d = ((((_K_D0 * s + _K_D1) * s + _K_D2) * s + _K_D3) * s + _K_D4) * s + _K_D5
        out[i] = n * c / d


# ---- the entry points ----

def erf(x):
    """erf(x) elementwise for a numpy array; float dtypes are kept, others give float64."""
    x = np.asarray(x)
    if _big_f32(x, _JIT_MIN):  # (one test for both fast paths: scipy's small arrays pay no more than before)
        if erf32 is not None:
            return elementwise32(erf32, x)
        if x.size >= _SMALL:
            return chunked(_erf_chunk, np.empty(x.shape, np.float32), x)
    return sc.erf(_scipy_input(x)).astype(_float_dtype(x), copy=False)


def erfc(x):
    """erfc(x) = 1 - erf(x) elementwise for a numpy array, accurate in the tail (scipy.special.erfc, or for
    float32 arrays the compiled loop erfc32 when numba is on); float dtypes are kept, others give float64."""
    x = np.asarray(x)
    if erfc32 is not None and _big_f32(x, _JIT_MIN):
        return elementwise32(erfc32, x)
    return sc.erfc(_scipy_input(x)).astype(_float_dtype(x), copy=False)


def gelu(x):
    """x Phi(x) elementwise for a numpy array, in x's dtype (float64 for a non-float x)."""
    if _big_f32(x, _JIT_MIN):
        if gelu32 is not None:
            return elementwise32(gelu32, x)
        if x.size >= _SMALL:
            return _gelu_chunked(x)
    xd = _scipy_input(x)
    out = sc.ndtr(xd)
    out *= xd
    return out.astype(_float_dtype(x), copy=False)


def gelu_grad(g, x, ans):
    """g (Phi(x) + x phi(x)) with Phi(x) = ans / x taken from the forward's result ans = x Phi(x)
    (1/2 at x = 0): one exp, no second erf."""
    if (gelu_grad32 is not None and _big_f32(x, _JIT_MIN_GRAD) and type(ans) is np.ndarray and ans.dtype == np.float32
            and ans.shape == x.shape and getattr(g, "dtype", None) == np.float32):
        if g.size == 1 or (g.ndim and not any(g.strides)):  # one value, broadcast
            out = np.empty(x.shape, np.float32)
            gelu_grad32_one_g(g.reshape(-1)[0], flat(x), flat(ans), out.reshape(-1))
            return out
        return elementwise32(gelu_grad32, g if g.shape == x.shape else np.broadcast_to(g, x.shape), x, ans)
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
