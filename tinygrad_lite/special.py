"""torch.special's names for the special functions tinygrad_lite has (each a Tensor method underneath)."""
from . import Tensor, polygamma

# torch.special name -> the Tensor method it is
_METHODS = {"erf": "erf", "erfc": "erfc", "erfinv": "erfinv", "gammaln": "lgamma", "digamma": "digamma",
            "psi": "digamma", "expit": "sigmoid", "logit": "logit", "log1p": "log1p", "expm1": "expm1",
            "exp2": "exp2", "logsumexp": "logsumexp"}
__all__ = list(_METHODS) + ["polygamma", "softmax", "log_softmax"]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _method_form(name, method):
    def f(input, *args, **kwargs):
        return getattr(_t(input), method)(*args, **kwargs)
    f.__name__, f.__doc__ = name, f"torch.special.{name}: Tensor.{method}."
    return f


for _name, _method in _METHODS.items():
    globals()[_name] = _method_form(_name, _method)


def softmax(input, dim, dtype=None):
    x = _t(input) if dtype is None else _t(input).to(dtype)
    return x.softmax(dim)


def log_softmax(input, dim, dtype=None):
    x = _t(input) if dtype is None else _t(input).to(dtype)
    return x.log_softmax(dim)
