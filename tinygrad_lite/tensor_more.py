"""Tensor methods, part 5: the surface user scripts reach for beyond the core: prod, norm, log1p,
expm1, diag, diagonal, trace, outer, unique, bincount. prod, log1p and expm1 are registry rows
(ops/products.py); the others are composed from rows, so their gradients come for free."""
import numpy as np

from .ops.movement import INDEX_SCATTER
from .ops.products import EXPM1, LOG1P, PROD
from .tensor_args import dim_index, dims_as_written, norm_axes
from .tensor_base import TensorBase
from .tensor_math import where_tensors


def _diag_index(n, m, offset):
    """(rows, cols) of the `offset` diagonal of an n x m matrix (empty when it lies outside)."""
    r0, c0 = max(-offset, 0), max(offset, 0)
    k = max(0, min(n - r0, m - c0))
    return np.arange(r0, r0 + k), np.arange(c0, c0 + k)


def _need_float(op, x):
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor as input, got {x.dtype}; convert with .float()")


def vector_norm(x, ord=2, dim=None, keepdim=False):
    """||x||_ord over `dim` (all elements if None), as torch.linalg.vector_norm: ord in {2, 1, inf, -inf, 0,
    any other number}. Where the norm is 0 its gradient is 0 (not NaN), as in PyTorch."""
    _need_float("vector_norm", x)
    if isinstance(ord, str) or ord is None:
        raise ValueError(f"vector_norm: ord must be a number (2, 1, inf, -inf, 0, p), got {ord!r}")
    axes = norm_axes("vector_norm", dim, x.ndim)
    a = x.abs()
    if ord == float("inf"):
        return a.amax(axes, keepdim) if x.numel() else a.sum(axes, keepdim)
    if ord == float("-inf"):
        return a.amin(axes, keepdim)
    if ord == 0:  # the count of non-zeros; its gradient is 0 everywhere (as PyTorch's, which keeps the graph)
        none = x._leaf(np.zeros(x.shape, bool))
        return (x != 0).to(x.dtype).sum(axes, keepdim) + where_tensors(none, x, 0.0).sum(axes, keepdim)
    if ord == 1:
        return a.sum(axes, keepdim)
    if ord == 2:
        s = (x * x).sum(axes, keepdim)
    else:  # |x|^p with its gradient 0 where x is 0 (PyTorch's; for p < 1 it would be inf * 0 = NaN)
        nz = x._leaf(x._data != 0)
        s = where_tensors(nz, where_tensors(nz, a, 1.0) ** ord, 0.0).sum(axes, keepdim)
    pos = x._leaf(s._data > 0)
    inner = where_tensors(pos, s, 1.0)
    root = inner.sqrt() if ord == 2 else inner ** (1.0 / ord)
    return where_tensors(pos, root, 0.0)


def matrix_norm(x, ord="fro", dim=(-2, -1), keepdim=False):
    """torch.linalg.matrix_norm for ord 'fro', 1, -1, inf, -inf (the ones without a singular value
    decomposition); 'nuc', 2 and -2 are not supported."""
    _need_float("matrix_norm", x)
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: expected a tensor with 2 or more dimensions, got shape {tuple(x.shape)}")
    if len(dim) != 2:
        raise ValueError(f"matrix_norm: dim must be a 2-tuple of dims, got {dim!r}")
    d0, d1 = (dim_index("matrix_norm", d, x.ndim) for d in dim)
    if d0 == d1:
        raise ValueError(f"matrix_norm: dims must be different, got {dim!r}")
    if ord == "fro":
        return vector_norm(x, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        from .compat import unsupported
        raise unsupported(f"matrix_norm(ord={ord!r}) (needs singular values)")
    if ord not in (1, -1, float("inf"), float("-inf")):
        raise ValueError(f"matrix_norm: ord must be one of 'fro', 'nuc', inf, -inf, 1, -1, 2, -2, got {ord!r}")
    summed, over = (d0, d1) if ord in (1, -1) else (d1, d0)  # 1: largest column sum; inf: largest row sum
    s = x.abs().sum(summed, keepdim=True)
    out = s.amax(over, keepdim=True) if ord > 0 else s.amin(over, keepdim=True)
    return out if keepdim else out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in (d0, d1)))


class MoreMethods:
    __slots__ = ()

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """Product over `dim` (all elements if None). The gradient is the product of the other elements,
        also where some are 0 (as PyTorch's). int and bool tensors multiply to int64."""
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind in "biu":
            axes = norm_axes("prod", dim, x.ndim)
            return x._leaf(np.asarray(np.prod(x._data, axis=axes, keepdims=keepdim, dtype=np.int64)))
        if dim is not None and not isinstance(dim, (int, np.integer)):
            raise TypeError(f"prod: dim must be an int (one dim, as in PyTorch), got {dim!r}")
        return x._unary(PROD, (dims_as_written(norm_axes("prod", dim, x.ndim), dim), bool(keepdim)))

    def log1p(self):
        """log(1 + x), accurate for small x."""
        return self._floating()._unary(LOG1P)

    def expm1(self):
        """exp(x) - 1, accurate for small x."""
        return self._floating()._unary(EXPM1)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """torch.norm: the vector p-norm over `dim` (all elements if None); p='fro' is the 2-norm (also over
        two dims), p in {1, 2, inf, -inf, 0, a number}. 'nuc' is not supported."""
        x = self if dtype is None else self.to(dtype)
        if p == "nuc":
            from .compat import unsupported
            raise unsupported("norm(p='nuc') (needs singular values)")
        if p == "fro" or p is None:
            p = 2
        if isinstance(p, str):
            raise ValueError(f"norm: p must be 'fro', 'nuc' or a number, got {p!r}")
        return vector_norm(x, p, dim, keepdim)

    def diag(self, diagonal=0):
        """1-D x: the square matrix with x on the `diagonal` (above the main one if > 0); 2-D x: that diagonal."""
        if self.ndim == 1:
            n = self.shape[0] + abs(diagonal)
            rows, cols = _diag_index(n, n, diagonal)
            return self._unary(INDEX_SCATTER, ((n, n), (rows, cols)))
        if self.ndim == 2:
            return self[_diag_index(self.shape[0], self.shape[1], diagonal)]
        raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(self.shape)} "
                         "(use diagonal(offset, dim1, dim2) for batches)")

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The `offset` diagonal of the (dim1, dim2) planes, as a new last dim (a differentiable view)."""
        if self.ndim < 2:
            raise ValueError(f"diagonal: expected a tensor with at least 2 dimensions, got shape {tuple(self.shape)}")
        d1, d2 = dim_index("diagonal", dim1, self.ndim), dim_index("diagonal", dim2, self.ndim)
        if d1 == d2:
            raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
        rest = [i for i in range(self.ndim) if i not in (d1, d2)]
        x = self.permute(*rest, d1, d2)
        rows, cols = _diag_index(self.shape[d1], self.shape[d2], offset)
        return x[(Ellipsis, rows, cols)]

    def trace(self):
        """The sum of the main diagonal of a 2-D tensor."""
        if self.ndim != 2:
            raise ValueError(f"trace: expected a 2-D tensor, got shape {tuple(self.shape)}")
        return self.diagonal().sum()

    def outer(self, vec2):
        """The outer product of two 1-D tensors: out[i, j] = self[i] * vec2[j]."""
        other = vec2 if isinstance(vec2, TensorBase) else self._leaf(np.asarray(vec2))
        for name, t in (("self", self), ("vec2", other)):
            if t.ndim != 1:
                raise ValueError(f"outer: expected 1-D tensors, got {name} of shape {tuple(t.shape)}")
        return self.reshape(-1, 1) * other.reshape(1, -1)

    ger = outer

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        """The distinct values (sorted), and optionally where each element went (inverse, the input's shape)
        and how often each value occurs. Not differentiable."""
        d = self._data
        axis = None if dim is None else dim_index("unique", dim, self.ndim)
        vals, inv, counts = np.unique(d, return_inverse=True, return_counts=True, axis=axis)
        out = [self._leaf(vals)]
        if return_inverse:
            out.append(self._leaf(inv.reshape(d.shape if axis is None else (d.shape[axis],)).astype(np.int64)))
        if return_counts:
            out.append(self._leaf(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def bincount(self, weights=None, minlength=0):
        """How often each non-negative int occurs in this 1-D tensor (weights: their sums instead).
        Not differentiable."""
        d = self._data
        if d.ndim != 1 or d.dtype.kind not in "iub":
            raise ValueError(f"bincount: expected a 1-D tensor of non-negative ints, got shape {tuple(self.shape)} "
                             f"and dtype {self.dtype}")
        if d.size and d.min() < 0:
            raise ValueError(f"bincount: the input must be non-negative, got a minimum of {int(d.min())}")
        if weights is None:
            return self._leaf(np.bincount(d, minlength=minlength).astype(np.int64))
        w = weights._data if isinstance(weights, TensorBase) else np.asarray(weights)
        if w.shape != d.shape:
            raise ValueError(f"bincount: weights of shape {w.shape} must match the input's shape {d.shape}")
        dt = w.dtype if w.dtype.kind == "f" else np.float64
        return self._leaf(np.bincount(d, weights=w, minlength=minlength).astype(dt))
