"""tinygrad_lite: a small, exact, fast reverse-mode autograd engine on numpy, with PyTorch's API names."""
import warnings as _warnings

# log(0) = -inf, a fully masked softmax row = nan, x / 0 = inf: PyTorch computes these silently, and so do we.
# numpy's RuntimeWarnings are silenced for numpy calls made by tinygrad_lite's own modules only (a filter on
# the module name costs nothing per op); the user's own numpy code keeps its warnings.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tinygrad_lite(\.|$)")
from . import runtime
runtime.apply_on_import()  # glibc keeps freed arrays for reuse (see runtime.py; TINYGRAD_LITE_MALLOC=default opts out)
from . import dtypes
from .dtypes import (bool_, double, float16, float32, float64, get_default_dtype, half, int32, int64, long,
                     set_default_dtype, uint8)
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor
from .size import Size
from .functions import cat, linear, matmul, stack, where
from .creation import (arange, empty, eye, full, full_like, linspace, multinomial, ones, ones_like, rand,
                       rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .random import Generator, manual_seed
from .device import device
from .grad_mode import inference_mode
from .creation import as_tensor, bernoulli, empty_like, from_numpy, normal, poisson, randint_like
from . import autograd
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import REGISTRY as ops_registry
from . import sparse  # noqa: E402,F401  (registers embedding_sparse: the registry is complete after import)

bool = bool_  # noqa: A001  (torch.bool)
float = float32  # noqa: A001
int = int32  # noqa: A001


def _fn(name, doc):
    def f(input, *args, **kwargs):
        return getattr(input if isinstance(input, Tensor) else Tensor(input), name)(*args, **kwargs)
    f.__name__, f.__doc__ = name, doc
    return f


for _name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "neg", "sum", "mean", "var", "std", "max",
              "min", "amax", "amin", "logsumexp", "softmax", "log_softmax", "reshape", "flatten", "transpose",
              "permute", "squeeze", "unsqueeze", "split", "chunk", "maximum", "minimum", "clamp", "tril", "triu",
              "masked_fill", "argmax", "argmin", "gather", "square", "rsqrt", "reciprocal", "sign", "isnan",
              "isfinite", "t", "sin", "cos", "floor", "ceil", "trunc", "round", "floor_divide", "remainder", "cumsum",
              "flip", "roll", "sort", "argsort", "topk", "index_select", "scatter", "scatter_add", "repeat_interleave",
              "narrow", "select", "unbind", "mm", "bmm", "is_floating_point"):
    globals()[_name] = _fn(_name, f"Function form of Tensor.{_name}.")
clip = clamp  # noqa: F821
for _name in ("prod", "norm", "log1p", "expm1", "diag", "diagonal", "trace", "outer", "unique", "bincount", "log2", "log10",
              "exp2", "tan", "sinh", "cosh", "atan", "asin", "acos", "logit", "lerp", "addcmul", "addcdiv", "addmm",
              "dot", "mv", "clamp_min", "clamp_max", "sgn", "frac", "isinf", "nan_to_num", "logical_not", "logical_and",
              "logical_or", "logical_xor", "equal", "any", "all", "count_nonzero", "nonzero", "argwhere", "masked_select",
              "movedim", "moveaxis", "swapaxes", "broadcast_to", "tile", "cumprod", "median", "mode", "std_mean", "var_mean",
              "dist", "clone", "negative", "erf", "quantile", "index_add", "tensordot", "atan2", "fmod", "hypot",
              "kthvalue", "diff", "take_along_dim", "cross", "rot90", "tensor_split", "erfc", "erfinv", "lgamma",
              "digamma"):
    globals()[_name] = _fn(_name, f"Function form of Tensor.{_name}.")


def polygamma(n, input):
    """The n-th derivative of the digamma function of input (PyTorch's argument order: n first)."""
    return (input if isinstance(input, Tensor) else Tensor(input)).polygamma(n)


def _binary_fn(name, method, doc):
    def f(input, other, *, alpha=None):
        x = input if isinstance(input, Tensor) else Tensor(input)
        if alpha is not None:  # torch.add(x, y, alpha=2) is x + 2 * y
            if name not in ("add", "sub"):
                raise TypeError(f"{name}() got an unexpected keyword argument 'alpha'")
            other = other * alpha
        return getattr(x, method)(other)
    f.__name__, f.__doc__ = name, doc
    return f


for _name, _method in (("add", "__add__"), ("sub", "__sub__"), ("mul", "__mul__"), ("div", "__truediv__"),
                       ("true_divide", "__truediv__"), ("pow", "__pow__"), ("lt", "__lt__"), ("le", "__le__"),
                       ("gt", "__gt__"), ("ge", "__ge__"), ("eq", "__eq__"), ("ne", "__ne__")):
    globals()[_name] = _binary_fn(_name, _method, f"Function form of `input {_method[2:-2]} other` (torch.{_name}).")

from .serialize import load, save  # noqa: E402
from .functions import allclose, einsum, isclose, numel  # noqa: E402
from .functions_more import concat, concatenate, hstack, meshgrid, vstack  # noqa: E402
from .tensor_more_shape import bucketize, cdist, searchsorted  # noqa: E402
from . import linalg  # noqa: E402  (torch.linalg's norms)
from . import special  # noqa: E402,F401  (torch.special's names)
from . import nn, optim, utils  # noqa: E402  (so that tinygrad_lite.nn / .optim work after `import tinygrad_lite`)

__version__ = "0.1.0"
