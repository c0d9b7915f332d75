"""Scalar float32 math for compiled kernels (ops/jit.py): called inside a kernel's loop, compiled into it.

numba's math.exp is a call to the C library per element, which keeps a loop from being vectorised
(1.9 ms per million float32, numpy's exp 0.35 ms). `exp32` is the classic reduction instead, all
arithmetic and bit casts, so LLVM vectorises the loop around it:

    exp(y) = 2^k exp(r),  k = round(y / ln 2),  r = y - k ln 2 (ln 2 in two parts: exact k ln2_hi),
    exp(r) = 1 + r + r^2 P(r) on |r| <= ln(2)/2, P of degree 5 (Cephes' expf: ~1 ulp),

k rounded with the 1.5 * 2^23 trick (its bits hold k), 2^k built from exponent bits in two halves so
that results down to the denormals (y >= -104) and up to the overflow (y <= 89) are right.
"""
import numpy as np

from .jit import bits_of_float32, float32_from_bits, fma32, kernel

_F = np.float32
_EXP_LO, _EXP_HI = _F(-104.0), _F(89.0)       # exp(-104) rounds to 0 in float32, exp(89) to inf
_LOG2E = _F(1.4426950408889634)
_ROUNDER = _F(12582912.0)                       # 1.5 * 2^23: y + it rounds y to a whole number, in its low bits
_ROUNDER_BITS = 0x4B400000
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)
_P = tuple(_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                           1.6666665459e-1, 5.0000001201e-1))
_ONE, _HALF = _F(1.0), _F(0.5)
_SQUARE_MAX = _F(16.0)                          # exp(-16^2/2) is 0 in float32


@kernel(inline="always")
def exp32(y, lo):
    """exp(y + lo) of float32 y, with lo a correction far below y's last bit (0 for plain exp).
    NaN stays NaN, exp(-inf) = 0, exp(inf) = inf."""
    y = _EXP_LO if y < _EXP_LO else y
    y = _EXP_HI if y > _EXP_HI else y
    return _exp32_in_range(y, lo)


@kernel(inline="always")
def _exp32_in_range(y, lo):
    """exp32 for -185 ln 2 <= y <= 128 ln 2 (or NaN): 2^k in two halves of normal exponents."""
    t = y * _LOG2E + _ROUNDER
    kf = t - _ROUNDER
    k = bits_of_float32(t) - _ROUNDER_BITS
    r = ((y - kf * _LN2_HI) - kf * _LN2_LO) + lo
    p = fma32(fma32(r, _P[0], _P[1]), r, _P[2])
    p = fma32(fma32(fma32(p, r, _P[3]), r, _P[4]), r, _P[5])
    p = fma32(p, r * r, r) + _ONE
    k1 = k >> 1
    s1 = float32_from_bits(np.int32((k1 + 127) << 23))
    s2 = float32_from_bits(np.int32((k - k1 + 127) << 23))
    return (p * s1) * s2


@kernel(inline="always")
def exp_neg_half_square32(a):
    """exp(-a^2/2) of float32 a >= 0 (or NaN), with a^2 taken exactly: its rounding error, fma(a, a, -a^2)
    exactly, goes into exp32's correction (a rounded a^2 costs up to 5e-6 relative far out, where a^2/2
    is ~90). a is clamped to 16, where exp(-a^2/2) is already 0."""
    a = _SQUARE_MAX if a > _SQUARE_MAX else a
    s = a * a
    return _exp32_in_range(-_HALF * s, -_HALF * fma32(a, a, -s))   # (-a^2/2 >= -128: no clamp needed)
