"""Argument normalisation for Tensor methods: dims, shapes, indices, masks, dtype promotion, and the
errors that name the op and the shapes when an argument does not fit."""
import numpy as np

from .dtypes import DEFAULT
from .tensor_base import TensorBase

ALL_AXES = (None, False)  # reduction args: all axes, no keepdims


class Dims(tuple):
    """Reduction dims as the rows compute with them (sorted, non-negative: `(0, 2)`) that also keep
    `written`, the dims as the user wrote them (`-1`, `(0, -1)`): graphs and explain_backward show
    `sum dim=-1` for `x.sum(-1)`. In every other respect (equality, hashing, numpy's axis) a tuple."""
    written = None


def to_array(data, dtype):
    """numpy array for `data` with PyTorch's dtype rules (Python floats -> default float dtype)."""
    if isinstance(data, TensorBase):
        data = data._data
    if isinstance(data, np.ndarray):
        return np.array(data, dtype=dtype)  # a copy, as torch.tensor makes one
    if isinstance(data, (list, tuple)) and any(isinstance(d, TensorBase) for d in data):
        data = [d._data if isinstance(d, TensorBase) else d for d in data]
    arr = np.array(data, dtype=dtype)
    if dtype is None:
        if arr.dtype.kind == "f" and not isinstance(data, np.generic):  # numpy scalars keep their dtype
            arr = arr.astype(DEFAULT.dtype, copy=False)
        elif arr.dtype.kind in "iu" and arr.dtype != np.int64 and not isinstance(data, np.generic):
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} data of dtype {arr.dtype}")
    return arr


def shape_error(op, *shapes, detail=""):
    """The error for operands (tensors or shapes) that do not broadcast together."""
    text = " and ".join(str(tuple(getattr(s, "shape", s))) for s in shapes)
    return ValueError(f"{op}: shapes {text} cannot be broadcast together{detail}; "
                      "sizes must match or be 1 in every dimension, counted from the right")


def promote(a, b):
    """Mixed-dtype operands: int with float takes the float dtype; a 0-d float operand does not
    widen a float tensor (PyTorch treats it as a scalar); otherwise numpy's rules."""
    ka, kb = a.dtype.kind, b.dtype.kind
    if ka == "f" and kb != "f":
        return a, b.astype(a.dtype)
    if kb == "f" and ka != "f":
        return a.astype(b.dtype), b
    if ka == kb or (ka in "iu" and kb in "iu"):  # same category: a 0-d operand acts as a scalar
        if a.ndim == 0 and b.ndim:
            return a.astype(b.dtype), b
        if b.ndim == 0 and a.ndim:
            return a, b.astype(a.dtype)
    return a, b


def norm_axes(op, axis, ndim):
    """Normalise dim/axis arguments to a sorted tuple of non-negative ints (None = all)."""
    if axis is None:
        return None
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not items:
        return None  # dim=() or [] means every dim, as in PyTorch
    out = []
    for a in items:
        a = int(a)
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"{op}: dim {a} is out of range for a tensor with {ndim} dimensions "
                             f"(expected a dim in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
        out.append(a % max(ndim, 1))
    return tuple(sorted(set(out))) if ndim else None


def dims_as_written(axes, dim):
    """`axes` (norm_axes's result for `dim`) as a Dims keeping `dim` where its text differs from theirs
    (a negative dim, a tuple in another order or of one dim); else `axes` itself."""
    if axes is None:
        return None
    if isinstance(dim, (int, np.integer)):
        if dim >= 0:
            return axes
        written = int(dim)
    else:
        written = type(dim)(int(d) for d in dim) if isinstance(dim, (tuple, list)) else tuple(int(d) for d in dim)
    d = Dims(axes)
    d.written = written
    return d


def pick(op, dim, axis, keepdim, keepdims):
    """Accept both PyTorch's dim/keepdim and numpy's axis/keepdims."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: give either dim or axis, not both")
        dim = axis
    return dim, bool(keepdim if keepdims is None else keepdims)


def dim_index(op, dim, ndim, new=0):
    """One dim (negative counts from the end) as an index in [0, ndim + new), or a clear IndexError;
    new=1 for ops that insert a dim (unsqueeze, stack)."""
    n = max(ndim + new, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return dim % n


def need_2d(op, t):
    if t.ndim < 2:
        raise ValueError(f"{op}: needs a tensor with at least 2 dimensions, got shape {t.shape}")


def shape_arg(shape):
    """Sizes given as separate ints or as one tuple/list: f(2, 3) or f((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def index_arg(idx):
    """Convert Tensors inside an index to numpy arrays (so they index, never broadcast)."""
    if isinstance(idx, TensorBase):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, TensorBase) else i for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def bool_mask(op, mask, shape):
    """The array of a bool mask (a Tensor or array-like) that must broadcast to `shape`, or a clear error."""
    m = mask._data if isinstance(mask, TensorBase) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor, got {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, shape)
    except ValueError:
        raise ValueError(f"{op}: mask of shape {m.shape} does not broadcast to the tensor's shape {shape}") from None
    return m
