"""Special functions as primitives: erf, the two GELUs and logsigmoid.

erf and exact GELU run on tinygrad_lite/ops/erf_kernels.py (scipy.special in float64, a
vectorised float32 algorithm of its own in float32); their rules here are the math.
"""
import math

import numpy as np

from . import defop, exp, is_array
from . import erf_kernels
from .elementwise import _sigmoid_fwd
from .numpy_fast import minimum0

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_K_TANH = math.sqrt(2.0 / math.pi)
_KC = _K_TANH * 0.044715  # (constants folded: one pass less per chunk)

erf_np = erf_kernels.erf  # erf of a numpy array (the name the tests and older callers use)


def _erf(x):
    return erf_np(x) if is_array(x) else x._unary(ERF)


def _phi(x):
    """The standard normal density."""
    return exp(x * x * -0.5) * _INV_SQRT_2PI


def _gelu_fwd(args, x):
    return erf_kernels.gelu(x)


def _gelu_dx(g, ans, args, x):
    if is_array(g) and is_array(x) and type(ans) is np.ndarray:
        return erf_kernels.gelu_grad(g, x, ans)  # Phi(x) = ans / x: no second erf
    cdf = (_erf(x * _INV_SQRT2) + 1.0) * 0.5
    return g * (cdf + x * _phi(x))


def _tanh(x):
    return np.tanh(x) if is_array(x) else x.tanh()


# GELU-tanh runs on every (B, T, 4C) activation of a transformer: megabytes per call, a dozen
# elementwise passes. Done whole, every pass streams the arrays through memory; done in chunks of
# _CHUNK elements, the few temporaries of a chunk stay in the L2 cache between passes (measured
# on (32, 64, 512) float32: forward 3.5 -> 1.3 ms, backward 6.8 -> 2.1 ms).
_CHUNK = 1 << 15


def _chunks(n):
    return ((i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK))


def _gelu_tanh_fwd(args, x):
    xf = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(x.shape, x.dtype)
    of = out.reshape(-1)
    u = np.empty(min(_CHUNK, xf.size), x.dtype)
    for i, j in _chunks(xf.size):
        xs, us, os_ = xf[i:j], u[:j - i], of[i:j]
        np.multiply(xs, xs, out=us)
        us *= _KC
        us += _K_TANH
        us *= xs
        np.tanh(us, out=us)                   # tanh(k x + k 0.044715 x^3)
        us += 1.0
        np.multiply(us, xs, out=os_)
        os_ *= 0.5
    return out


def _gelu_tanh_dx(g, ans, args, x):
    if is_array(g):  # the formula below, chunk by chunk on three small temporaries
        xf = np.ascontiguousarray(x).reshape(-1)
        gf = np.ascontiguousarray(np.broadcast_to(g, x.shape)).reshape(-1)
        out = np.empty(x.shape, x.dtype)
        of = out.reshape(-1)
        n = min(_CHUNK, xf.size)
        t_, x2_, s_ = np.empty(n, x.dtype), np.empty(n, x.dtype), np.empty(n, x.dtype)
        for i, j in _chunks(xf.size):
            xs, t, x2, s = xf[i:j], t_[:j - i], x2_[:j - i], s_[:j - i]
            np.multiply(xs, xs, out=x2)
            np.multiply(x2, _KC, out=t)
            t += _K_TANH
            t *= xs
            np.tanh(t, out=t)                 # t = tanh(k x + k 0.044715 x^3)
            x2 *= 1.5 * _KC
            x2 += 0.5 * _K_TANH
            x2 *= xs                          # x/2 k (1 + 3 * 0.044715 x^2)
            np.multiply(t, t, out=s)
            np.subtract(1.0, s, out=s)
            s *= x2
            t += 1.0
            t *= 0.5
            t += s
            np.multiply(t, gf[i:j], out=of[i:j])
        return out
    x2 = x * x
    t = _tanh((x + x2 * x * 0.044715) * _K_TANH)
    return g * ((t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * (1.0 + x2 * (3 * 0.044715)) * _K_TANH)


def _logsigmoid_fwd(args, x):
    if type(x) is not np.ndarray or x.ndim == 0 or x.dtype.kind != "f":  # (0-d, ints: the plain formula)
        return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    np.log1p(e, out=e)               # log(1 + exp(-|x|))
    out = minimum0(x)
    out -= e
    return out.astype(x.dtype, copy=False)


def _sigmoid(x):
    return _sigmoid_fwd(None, x) if is_array(x) else x.sigmoid()


ERF = defop("erf", lambda args, x: erf_np(x),
            lambda g, ans, args, x: g * (exp(x * x * -1.0) * _TWO_OVER_SQRT_PI),
            forward="erf(x)", math="d erf(x)/dx = 2/sqrt(pi) exp(-x^2)", rule="dx = dC * 2/√π exp(-x²)", saves=("x",))
GELU = defop("gelu", _gelu_fwd, _gelu_dx, forward="x Φ(x)", math="d [x Φ(x)]/dx = Φ(x) + x φ(x)",
             rule="dx = dC * (Φ(x) + x φ(x)), Φ(x) = result / x", saves=("x", "result"),
             symbols={"Φ": "the standard normal CDF (gelu(x) = x Φ(x))",
                      "φ": "the standard normal density exp(-x²/2) / sqrt(2π)"})
GELU_TANH = defop("gelu_tanh", _gelu_tanh_fwd, _gelu_tanh_dx,
                  forward="½x(1 + tanh(k(x + 0.044715 x³)))",
                  math="d [x/2 (1 + tanh(k(x + 0.044715 x^3)))]/dx, k = sqrt(2/pi)",
                  rule="dx = dC * (½(1 + t) + ½x(1 - t²) k (1 + 3·0.044715 x²)), t = tanh(k(x + 0.044715 x³))",
                  saves=("x",))
def _logsigmoid_dx(g, ans, args, x):
    if is_array(g) and type(ans) is np.ndarray and ans.ndim and ans.dtype.kind == "f" and np.shape(g) == ans.shape:
        # σ(-x) = 1 - σ(x) = -expm1(C) from the forward's result C = log σ(x): one expm1 pass instead of a
        # whole sigmoid (8 passes), and accurate at both ends (expm1(C) ~ C where σ(-x) is tiny)
        d = np.expm1(ans)
        d *= g
        np.negative(d, out=d)
        return d
    return g * _sigmoid(-x)  # (the reference; create_graph records it on Tensors)


LOGSIGMOID = defop("logsigmoid", _logsigmoid_fwd, _logsigmoid_dx,
                   forward="log σ(x)", math="d log sigmoid(x)/dx = sigmoid(-x) = -expm1(log sigmoid(x))",
                   rule="dx = dC * σ(-x) = -dC * expm1(C)", saves=("result",))
