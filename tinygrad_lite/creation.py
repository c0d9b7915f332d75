"""Functions that make tensors: tensor, zeros, ones, full, arange, eye, rand, randn and *_like.

Every one takes PyTorch's `device=` ('cpu' or None; a GPU device fails as PyTorch without one does)."""
import numpy as np

from .device import check_device
from .dtypes import DEFAULT, to_dtype
from .random import get_rng
from .tensor import Tensor
from .tensor_args import shape_arg as _shape_arg


def _float(dtype):
    return to_dtype(dtype) or DEFAULT.dtype


def _wrap(arr, requires_grad):
    return Tensor._leaf(arr).requires_grad_(requires_grad) if requires_grad else Tensor._leaf(arr)


def tensor(data, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A new tensor holding a copy of `data` (PyTorch's torch.tensor)."""
    check_device(device, "tensor")
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, without a copy when it already is one of the right dtype (torch.as_tensor)."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or to_dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or to_dtype(dtype) == data.dtype) and data.dtype.kind in "biuf":
        return Tensor._leaf(data)
    return Tensor(data, dtype=dtype)


def from_numpy(array):
    """A tensor sharing memory with a numpy array (writes to one show in the other), as torch.from_numpy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: can't convert np.ndarray of type {array.dtype}; the only supported types are "
                        "float, int, uint8 and bool")
    return Tensor._leaf(array)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    """Tensor of zeros; shape as separate ints or one tuple."""
    check_device(device, "zeros")
    return _wrap(np.zeros(_shape_arg(shape), _float(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    """Tensor of ones."""
    check_device(device, "ones")
    return _wrap(np.ones(_shape_arg(shape), _float(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    """Tensor filled with fill_value (dtype inferred from it as PyTorch does)."""
    check_device(device, "full")
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else DEFAULT.dtype
    return _wrap(np.full(_shape_arg((shape,) if isinstance(shape, int) else shape), fill_value, to_dtype(dtype)),
                 requires_grad)


def empty(*shape, dtype=None, requires_grad=False, device=None):
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad, device=device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Values from start to end (exclusive); int64 for int arguments, else the default float."""
    check_device(device, "arange")
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else DEFAULT.dtype
    return _wrap(np.arange(start, end, step).astype(to_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    check_device(device, "linspace")
    return _wrap(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    """Identity matrix (n x m)."""
    check_device(device, "eye")
    return _wrap(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    """Uniform [0, 1) samples from the global generator (seed it with manual_seed)."""
    check_device(device, "rand")
    return _wrap((generator or get_rng()).random(_shape_arg(shape)).astype(_float(dtype)), requires_grad)


def randn(*shape, dtype=None, requires_grad=False, generator=None, device=None):
    """Standard normal samples from the global generator."""
    check_device(device, "randn")
    return _wrap((generator or get_rng()).standard_normal(_shape_arg(shape)).astype(_float(dtype)), requires_grad)


def randint(*args, low=None, high=None, size=None, dtype=None, generator=None, device=None, requires_grad=False):
    """Integers in [low, high) (int64), with PyTorch's two forms: randint(high, size) and randint(low, high, size)."""
    check_device(device, "randint")
    if len(args) == 3:
        low, high, size = args
    elif len(args) == 2:
        if size is None:
            high, size = args
        else:
            low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got {len(args)} "
                        "positional arguments")
    if high is None or size is None:
        raise TypeError("randint: missing arguments; call randint(high, size) or randint(low, high, size), "
                        "e.g. randint(10, (3,))")
    low = 0 if low is None else low
    if low >= high:
        raise ValueError(f"randint: expects low < high, got low={low} and high={high}")
    d = to_dtype(dtype) or np.dtype(np.int64)
    out = (generator or get_rng()).integers(low, high, _shape_arg((size,) if isinstance(size, int) else size))
    return _wrap(out.astype(d), requires_grad)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64)."""
    check_device(device, "randperm")
    return _wrap((generator or get_rng()).permutation(n).astype(to_dtype(dtype) or np.int64), requires_grad)


def multinomial(probs, num_samples, replacement=False, *, generator=None):
    """Sample `num_samples` indices from each row of (unnormalised, non-negative) `probs`; without
    replacement by default, as PyTorch (each index at most once per row)."""
    p = probs._data if isinstance(probs, Tensor) else np.asarray(probs)
    if p.ndim not in (1, 2):
        raise ValueError(f"multinomial: probs must be 1 or 2 dim, got shape {p.shape}")
    p2 = p.reshape(-1, p.shape[-1]).astype(np.float64)
    if (p2 < 0).any() or not np.isfinite(p2).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    totals = p2.sum(-1, keepdims=True)
    if (totals <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > int((p2 > 0).sum(-1).min()):
        raise RuntimeError(f"multinomial: cannot sample n_sample={num_samples} > prob_dist.size(-1) (non-zero "
                           "categories) samples without replacement")
    rng = generator or get_rng()
    out = np.stack([rng.choice(p2.shape[-1], num_samples, replace=replacement, p=row) for row in p2 / totals])
    return Tensor._leaf(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples, 1 with probability input (or p when given), in input's dtype."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    return x.bernoulli(p, generator=generator)


def poisson(input, generator=None):
    """Poisson samples with the rates in input, in input's dtype."""
    rates = (input._data if isinstance(input, Tensor) else np.asarray(input))
    if (rates < 0).any() or np.isnan(rates).any():
        raise ValueError("poisson: the rates must be non-negative")
    return Tensor._leaf((generator or get_rng()).poisson(rates).astype(rates.dtype))


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False):
    """Normal samples: mean and std are tensors (broadcast together) or numbers (then size gives the shape)."""
    m = mean._data if isinstance(mean, Tensor) else np.asarray(mean, dtype=np.float64)
    sd = std._data if isinstance(std, Tensor) else np.asarray(std, dtype=np.float64)
    if (sd < 0).any():
        raise ValueError("normal: expects std >= 0.0")
    if size is None:
        shape = np.broadcast_shapes(m.shape, sd.shape)
    else:
        shape = _shape_arg((size,) if isinstance(size, int) else size)
    given = [a._data.dtype for a in (mean, std) if isinstance(a, Tensor) and a._data.dtype.kind == "f"]
    dt = to_dtype(dtype) or (given[0] if given else _float(None))  # (a float Tensor argument's dtype, else the default)
    return _wrap((generator or get_rng()).normal(m, sd, shape).astype(dt), requires_grad)


def _like(fn):
    def like(t, dtype=None, requires_grad=False, device=None, memory_format=None):
        return fn(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device)
    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"{fn.__name__} with the shape (and dtype, unless given) of another tensor."
    return like


zeros_like, ones_like, rand_like, randn_like, empty_like = _like(zeros), _like(ones), _like(rand), _like(randn), \
    _like(empty)


def full_like(t, fill_value, dtype=None, requires_grad=False, device=None):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device)


def randint_like(t, low=0, high=None, dtype=None, requires_grad=False, device=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)
