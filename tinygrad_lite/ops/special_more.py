"""More special functions as primitives, computed by scipy.special: erfc, erfinv, lgamma and polygamma
(digamma is polygamma of order 0). Each rule is the function's derivative, itself one of these rows
or exp, so every order of derivative is recorded under create_graph."""
import math

import numpy as np
from scipy import special as sp

from . import defop, exp, is_array

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_HALF_SQRT_PI = math.sqrt(math.pi) / 2.0


def _polygamma(n, x):
    if not is_array(x):
        return x._unary(POLYGAMMA, n)
    return np.asarray(sp.psi(x) if n == 0 else sp.polygamma(n, x), dtype=x.dtype)  # (polygamma: float64)


def _erfc_dx(g, ans, args, x):
    return g * (exp(x * x * -1.0) * -_TWO_OVER_SQRT_PI)


def _erfinv_dx(g, ans, args, x):
    return g * (exp(ans * ans) * _HALF_SQRT_PI)


ERFC = defop("erfc", lambda args, x: sp.erfc(x), _erfc_dx,
             forward="erfc(x) = 1 - erf(x)", math="d erfc(x)/dx = -2/sqrt(pi) exp(-x^2)",
             rule="dx = -dC * 2/√π exp(-x²)", saves=("x",))
ERFINV = defop("erfinv", lambda args, x: sp.erfinv(x), _erfinv_dx,
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
