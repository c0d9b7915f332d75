"""Free functions that take several tensors: matmul, linear, where, cat, stack, einsum, allclose
(tinygrad_lite.matmul, ...)."""
import itertools

import numpy as np

from .ops.extra import EINSUM
from .ops.linalg import LINEAR
from .ops.movement import CAT
from .tensor import Tensor
from .tensor_args import dim_index
from .tensor_math import matmul_tensors, where_tensors


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def matmul(input, other):
    """Matrix product with numpy's rules: 1-D, 2-D and batched (broadcast) operands (PyTorch's argument names)."""
    return matmul_tensors(_tensor(input), _tensor(other))


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


def where(condition, x=None, y=None):
    """x where condition is True, else y; condition is a bool tensor (no gradient), x/y broadcast.
    where(condition) alone is condition.nonzero(as_tuple=True), as in PyTorch."""
    if x is None and y is None:
        return _tensor(condition).nonzero(as_tuple=True)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = Tensor(x)
    return where_tensors(condition, x, y)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension; all other dims must match."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    kept = [t for t in tensors if t.shape != (0,)]
    if kept and len(kept) < len(tensors):
        tensors = kept  # as PyTorch: a 1-D empty tensor joins anything (it is skipped; its gradient is empty)
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


def einsum(equation, *operands):
    """torch.einsum('ij,jk->ik', a, b): sums of products over repeated subscripts, one registry row
    ('...' stands for leading dims). A subscript repeated inside one operand (a trace) is not supported."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_tensor(x) for x in operands]
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(xs):
        raise ValueError(f"einsum: the equation {equation!r} has {len(ins)} operands but {len(xs)} tensors were given")
    if "..." in eq:
        ins, out = _expand_ellipsis(ins, out if arrow else None, xs)
    elif not arrow:
        letters = "".join(ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for s, x in zip(ins, xs):
        if len(s) != x.ndim:
            raise ValueError(f"einsum {equation!r}: the subscripts {s!r} name {len(s)} dims but the operand has "
                             f"shape {tuple(x.shape)}")
        if len(set(s)) != len(s):
            raise NotImplementedError(f"einsum {equation!r}: a subscript repeated inside one operand ({s!r}: a "
                                      "diagonal or trace) is not supported by tinygrad_lite")
    floats = [x.dtype for x in xs if x.dtype.kind == "f"]
    dt = np.result_type(*floats) if floats else np.result_type(*[x.dtype for x in xs])
    xs = [x if x.dtype == dt else x.to(dt) for x in xs]
    args = (tuple(ins), out)
    try:
        res = EINSUM.fwd(args, *[x._data for x in xs])
    except ValueError as e:
        raise ValueError(f"einsum {equation!r}: operands of shapes {[tuple(x.shape) for x in xs]} do not fit: {e}") \
            from None
    return xs[0]._make(np.asarray(res), EINSUM, tuple(xs), args, any(x.requires_grad for x in xs))


def _expand_ellipsis(ins, out, xs):
    """Replace '...' by letters of their own (right-aligned across operands, as broadcasting)."""
    used = set("".join(ins) + (out or ""))
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    counts = [x.ndim - (len(s) - 3) for s, x in zip(ins, xs) if "..." in s]
    n = max(counts)
    ell = "".join(free[:n])
    new = [s.replace("...", ell[n - (x.ndim - (len(s) - 3)):]) if "..." in s else s for s, x in zip(ins, xs)]
    if out is None:
        letters = "".join(s.replace("...", "") for s in ins)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        out = out.replace("...", ell)
    return new, out


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(_tensor(input)._data, _tensor(other)._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._leaf(np.isclose(_tensor(input)._data, _tensor(other)._data, rtol=rtol, atol=atol,
                                   equal_nan=equal_nan))


def numel(input):
    return input.numel()
