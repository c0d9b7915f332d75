"""Free functions that take several tensors: matmul, linear, where, cat, stack (tinygrad_lite.matmul, ...)."""
import itertools

import numpy as np

from .ops.linalg import LINEAR
from .ops.movement import CAT
from .tensor import Tensor
from .tensor_args import dim_index
from .tensor_math import matmul_tensors, where_tensors


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def matmul(a, b):
    """Matrix product with numpy's rules: 1-D, 2-D and batched (broadcast) operands."""
    return matmul_tensors(_tensor(a), _tensor(b))


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, for x (..., in_features), weight (out, in), bias (out,).

    With a bias this is one fused graph node (the registry's `linear` row)."""
    x = _tensor(x)
    xd, wd = x._data, weight._data  # (checks on the arrays: Tensor.shape/.ndim are Python properties)
    if wd.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if xd.ndim == 0 or xd.shape[-1] != wd.shape[1]:
        raise ValueError(f"linear: expected input with last dimension {wd.shape[1]} (in_features), "
                         f"got shape {x.shape}")
    if xd.dtype.kind != "f":
        raise TypeError(f"linear: input must be floating point, got {x.dtype}")
    if bias is None:
        return matmul_tensors(x, weight.T)
    bd = bias._data
    if bd.shape != (wd.shape[0],):
        raise ValueError(f"linear: bias must have shape ({wd.shape[0]},) (out_features), got {bias.shape}")
    if not (xd.dtype is wd.dtype is bd.dtype):
        return matmul_tensors(x, weight.T) + bias
    return x._make(LINEAR.fwd(None, xd, wd, bd), LINEAR, (x, weight, bias), None,
                   x.requires_grad or weight.requires_grad or bias.requires_grad)


def where(condition, x, y):
    """x where condition is True, else y; condition is a bool tensor (no gradient), x/y broadcast."""
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = Tensor(x)
    return where_tensors(condition, x, y)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension; all other dims must match."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    d = dim_index("cat", dim, tensors[0].ndim)
    arrays = [t._data for t in tensors]
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    dt = np.result_type(*floats) if floats else np.result_type(*arrays)  # an int never widens a float (PyTorch)
    try:
        out = np.concatenate([a.astype(dt, copy=False) for a in arrays], axis=d)
    except ValueError:
        raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {dim}") from None
    bounds = tuple(itertools.accumulate([0] + [t.shape[d] for t in tensors]))
    return Tensor._make(out, CAT, tuple(tensors), (d, bounds), any(t.requires_grad for t in tensors))


def stack(tensors, dim=0):
    """Join tensors of equal shape along a new dimension."""
    tensors = [_tensor(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    if tensors:
        dim_index("stack", dim, tensors[0].ndim, new=1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)
