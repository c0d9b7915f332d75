"""Free functions of PyTorch's surface composed from cat/stack/expand: hstack, vstack, concat, meshgrid."""
from .functions import _tensor, cat


def concat(tensors, dim=0):
    """Alias of cat."""
    return cat(tensors, dim)


concatenate = concat


def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors)."""
    ts = [_tensor(t) for t in tensors]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Join along dim 0, 1-D tensors as rows."""
    return cat([_tensor(t).reshape(1, -1) if _tensor(t).ndim == 1 else _tensor(t) for t in tensors], 0)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors; indexing 'ij' (matrix, PyTorch's default) or 'xy' (Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [_tensor(t) for t in tensors]
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(t.ndim != 1 for t in ts):
        raise ValueError(f"meshgrid: expected 1-D tensors, got shapes {[tuple(t.shape) for t in ts]}")
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    grids = [t.reshape(tuple(-1 if i == k else 1 for i in range(n))).expand(shape) for k, t in enumerate(ts)]
    if indexing == "xy" and n >= 2:  # Cartesian: the first two dims swap places
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)
