"""Special functions as primitives: erf, the two GELUs and logsigmoid.

erf and exact GELU run on tinygrad_lite/ops/erf_kernels.py (scipy.special in float64, a
vectorised float32 algorithm of its own in float32); their rules here are the math.
"""
import math

import numpy as np

from . import defop, exp, is_array
from . import erf_kernels
from .chunked import chunked
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
# elementwise passes, evaluated piece by piece so the temporaries stay in the L2 cache (ops/chunked.py).
def _gelu_tanh_chunk(o, x, s):
    u = s[0]
    np.multiply(x, x, out=u)
    u *= _KC
    u += _K_TANH
    u *= x
    np.tanh(u, out=u)                         # tanh(k x + k 0.044715 x^3)
    u += 1.0
    np.multiply(u, x, out=o)
    o *= 0.5


def _gelu_tanh_grad_chunk(o, x, g, s):
    t, x2, q = s
    np.multiply(x, x, out=x2)
    np.multiply(x2, _KC, out=t)
    t += _K_TANH
    t *= x
    np.tanh(t, out=t)                         # t = tanh(k x + k 0.044715 x^3)
    x2 *= 1.5 * _KC
    x2 += 0.5 * _K_TANH
    x2 *= x                                   # x/2 k (1 + 3 * 0.044715 x^2)
    np.multiply(t, t, out=q)
    np.subtract(1.0, q, out=q)
    q *= x2
    t += 1.0
    t *= 0.5
    t += q
    np.multiply(t, g, out=o)


def _gelu_tanh_fwd(args, x):
    return chunked(_gelu_tanh_chunk, np.empty(x.shape, x.dtype), x, scratch=1)


def _gelu_tanh_dx(g, ans, args, x):
    if is_array(g):  # the formula below, piece by piece on three small temporaries
        return chunked(_gelu_tanh_grad_chunk, np.empty(x.shape, x.dtype), x, np.broadcast_to(g, x.shape))
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
