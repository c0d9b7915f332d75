"""torch.special's names for the special functions tinygrad_lite has (each a Tensor method underneath)."""
from . import Tensor, polygamma

__all__ = ["erf", "erfc", "erfinv", "gammaln", "digamma", "psi", "polygamma", "expit", "logit", "log1p", "expm1",
           "exp2", "logsumexp", "softmax", "log_softmax"]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def erf(input):
    return _t(input).erf()


def erfc(input):
    return _t(input).erfc()


def erfinv(input):
    return _t(input).erfinv()


def gammaln(input):
    """log |Γ(input)| (torch.lgamma)."""
    return _t(input).lgamma()


def digamma(input):
    return _t(input).digamma()


psi = digamma


def expit(input):
    """The logistic sigmoid."""
    return _t(input).sigmoid()


def logit(input, eps=None):
    return _t(input).logit(eps)


def log1p(input):
    return _t(input).log1p()


def expm1(input):
    return _t(input).expm1()


def exp2(input):
    return _t(input).exp2()


def logsumexp(input, dim, keepdim=False):
    return _t(input).logsumexp(dim, keepdim)


def softmax(input, dim, dtype=None):
    x = _t(input) if dtype is None else _t(input).to(dtype)
    return x.softmax(dim)


def log_softmax(input, dim, dtype=None):
    x = _t(input) if dtype is None else _t(input).to(dtype)
    return x.log_softmax(dim)
