"""Functions that make tensors: tensor, zeros, ones, full, arange, eye, rand, randn and *_like."""
import numpy as np

from .dtypes import DEFAULT, to_dtype
from .random import get_rng
from .tensor import Tensor
from .tensor_args import shape_arg as _shape_arg


def _float(dtype):
    return to_dtype(dtype) or DEFAULT.dtype


def _wrap(arr, requires_grad):
    return Tensor._leaf(arr).requires_grad_(requires_grad) if requires_grad else Tensor._leaf(arr)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of `data` (PyTorch's torch.tensor)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape, dtype=None, requires_grad=False):
    """Tensor of zeros; shape as separate ints or one tuple."""
    return _wrap(np.zeros(_shape_arg(shape), _float(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    """Tensor of ones."""
    return _wrap(np.ones(_shape_arg(shape), _float(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    """Tensor filled with fill_value (dtype inferred from it as PyTorch does)."""
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else DEFAULT.dtype
    return _wrap(np.full(_shape_arg((shape,) if isinstance(shape, int) else shape), fill_value, to_dtype(dtype)),
                 requires_grad)


def empty(*shape, dtype=None, requires_grad=False):
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values from start to end (exclusive); int64 for int arguments, else the default float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else DEFAULT.dtype
    return _wrap(np.arange(start, end, step).astype(to_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return _wrap(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """Identity matrix (n x m)."""
    return _wrap(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None):
    """Uniform [0, 1) samples from the global generator (seed it with manual_seed)."""
    return _wrap((generator or get_rng()).random(_shape_arg(shape)).astype(_float(dtype)), requires_grad)


def randn(*shape, dtype=None, requires_grad=False, generator=None):
    """Standard normal samples from the global generator."""
    return _wrap((generator or get_rng()).standard_normal(_shape_arg(shape)).astype(_float(dtype)), requires_grad)


def randint(low, high=None, size=(), dtype=None, generator=None):
    """Integers in [low, high), int64."""
    if high is None:
        low, high = 0, low
    return Tensor._leaf((generator or get_rng()).integers(low, high, size).astype(to_dtype(dtype) or np.int64))


def randperm(n, generator=None):
    return Tensor._leaf((generator or get_rng()).permutation(n).astype(np.int64))


def multinomial(probs, num_samples=1, generator=None):
    """Sample indices from the rows of `probs` (with replacement)."""
    p = probs._data if isinstance(probs, Tensor) else np.asarray(probs)
    rng = generator or get_rng()
    p2 = p.reshape(-1, p.shape[-1]).astype(np.float64)
    p2 = p2 / p2.sum(-1, keepdims=True)
    out = np.stack([rng.choice(p2.shape[-1], num_samples, p=row) for row in p2])
    return Tensor._leaf(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))


def _like(fn):
    def like(t, dtype=None, requires_grad=False):
        return fn(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)
    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"{fn.__name__} with the shape (and dtype, unless given) of another tensor."
    return like


zeros_like, ones_like, rand_like, randn_like = _like(zeros), _like(ones), _like(rand), _like(randn)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)
