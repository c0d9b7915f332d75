"""Tensor methods, part 5: the surface user scripts reach for beyond the core: prod, norm, log1p,
expm1, diag, diagonal, trace, outer, unique, bincount. prod, log1p and expm1 are registry rows
(ops/products.py); the others are composed from rows, so their gradients come for free."""
import numpy as np

from .ops.movement import INDEX_SCATTER
from .ops.products import EXPM1, LOG1P, PROD
from .tensor_args import dim_index, norm_axes
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
        return x._unary(PROD, (norm_axes("prod", dim, x.ndim), bool(keepdim)))

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


_LN2, _LN10 = float(np.log(2.0)), float(np.log(10.0))


def cdist(x1, x2, p=2.0):
    """||x1[..., i, :] - x2[..., j, :]||_p for every pair: (..., P, M) and (..., R, M) -> (..., P, R)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expected (..., P, M) and (..., R, M) with the same M, got shapes {tuple(x1.shape)} "
                         f"and {tuple(x2.shape)}")
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value would go in the sorted last dim of sorted_sequence (one sequence, or one per row)."""
    seq = _raw(sorted_sequence)
    v = _raw(values)
    side = side or ("right" if right else "left")
    dt = np.int32 if out_int32 else np.int64
    if seq.ndim == 1:
        out = np.searchsorted(seq, v, side=side, sorter=None if sorter is None else _raw(sorter))
    else:
        if seq.shape[:-1] != v.shape[:-1]:
            raise ValueError(f"searchsorted: the leading dims of sorted_sequence {seq.shape} and values {v.shape} "
                             "must match")
        s2, v2 = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
        out = np.stack([np.searchsorted(a, b, side=side) for a, b in zip(s2, v2)]).reshape(v.shape)
    return sorted_sequence._leaf(np.asarray(out, dt)) if isinstance(sorted_sequence, TensorBase) else \
        values._leaf(np.asarray(out, dt))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The index of the bucket of each element: boundaries[i-1] < x <= boundaries[i] (right=False)."""
    b = _raw(boundaries)
    if b.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {b.shape}")
    out = np.searchsorted(b, _raw(input), side="right" if right else "left")
    return input._leaf(np.asarray(out, np.int32 if out_int32 else np.int64))


class MoreMathMethods:
    """Elementwise and shape helpers composed from rows (log2 = log / ln 2, sinh from expm1, masked_select
    from indexing...), and the in-place forms of the elementwise methods."""
    __slots__ = ()

    def log2(self):
        return self.log() * (1.0 / _LN2)

    def log10(self):
        return self.log() * (1.0 / _LN10)

    def exp2(self):
        return (self._floating() * _LN2).exp()

    def tan(self):
        return self.sin() / self.cos()

    def sinh(self):
        """(e^x - e^-x) / 2 through expm1, accurate near 0."""
        return (self.expm1() - (-self).expm1()) * 0.5

    def cosh(self):
        return (self.exp() + (-self).exp()) * 0.5

    def atan(self):
        return self._floating()._unary(ATAN)

    def asin(self):
        return self._floating()._unary(ASIN)

    def acos(self):
        return self._floating()._unary(ACOS)

    arctan, arcsin, arccos = atan, asin, acos

    def erf(self):
        from .ops.special import ERF
        return self._floating()._unary(ERF)

    def logit(self, eps=None):
        x = self if eps is None else self.clamp(eps, 1 - eps)
        return (x / (1 - x)).log()

    def lerp(self, end, weight):
        return self + (end - self) * weight

    def addcmul(self, tensor1, tensor2, value=1):
        return self + tensor1 * tensor2 * value

    def addcdiv(self, tensor1, tensor2, value=1):
        return self + tensor1 / tensor2 * value

    def addmm(self, mat1, mat2, beta=1, alpha=1):
        return self * beta + (mat1 @ mat2) * alpha

    def dot(self, other):
        if self.ndim != 1 or other.ndim != 1 or self.shape != other.shape:
            raise ValueError(f"dot: expected two 1-D tensors of the same size, got shapes {tuple(self.shape)} and "
                             f"{tuple(other.shape)}")
        return self @ other

    def mv(self, vec):
        if self.ndim != 2 or vec.ndim != 1:
            raise ValueError(f"mv: expected a 2-D matrix and a 1-D vector, got shapes {tuple(self.shape)} and "
                             f"{tuple(vec.shape)}")
        return self @ vec

    def clamp_min(self, min):  # noqa: A002
        return self.clamp(min=min)

    def clamp_max(self, max):  # noqa: A002
        return self.clamp(max=max)

    def sgn(self):
        return self.sign()

    def negative(self):
        return -self

    def frac(self):
        return self - self.trunc()

    def isinf(self):
        return self._leaf(np.isinf(self._data))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN -> nan, +inf -> posinf, -inf -> neginf (the dtype's largest finite values by default); the
        replaced elements get no gradient."""
        d = self._data
        if d.dtype.kind != "f":
            return self._leaf(d.copy())
        big = np.finfo(d.dtype)
        fill = np.nan_to_num(d, nan=nan, posinf=big.max if posinf is None else posinf,
                             neginf=big.min if neginf is None else neginf)
        bad = self._leaf(~np.isfinite(d))
        return where_tensors(bad, self._leaf(fill), self)

    def logical_not(self):
        return self._leaf(np.logical_not(self._data))

    def logical_and(self, other):
        return self._leaf(np.logical_and(self._data, _raw(other)))

    def logical_or(self, other):
        return self._leaf(np.logical_or(self._data, _raw(other)))

    def logical_xor(self, other):
        return self._leaf(np.logical_xor(self._data, _raw(other)))

    def equal(self, other):
        """True when both tensors have the same shape and elements (a Python bool)."""
        o = _raw(other)
        return bool(self._data.shape == np.shape(o) and np.array_equal(self._data, o))

    def any(self, dim=None, keepdim=False):
        return self._leaf(np.asarray(self._data.any(axis=norm_axes("any", dim, self.ndim), keepdims=keepdim)))

    def all(self, dim=None, keepdim=False):
        return self._leaf(np.asarray(self._data.all(axis=norm_axes("all", dim, self.ndim), keepdims=keepdim)))

    def count_nonzero(self, dim=None):
        return self._leaf(np.asarray(np.count_nonzero(self._data, axis=norm_axes("count_nonzero", dim, self.ndim)),
                                     dtype=np.int64))

    def nonzero(self, *, as_tuple=False):
        """The indices of the non-zero elements: an (n, ndim) int64 tensor, or one index tensor per dim."""
        idx = np.nonzero(self._data) if self.ndim else np.nonzero(self._data.reshape(1))
        if as_tuple:
            return tuple(self._leaf(i.astype(np.int64)) for i in idx)
        return self._leaf(np.stack(idx, axis=1).astype(np.int64) if self.ndim else
                          np.zeros((len(idx[0]), 0), np.int64))

    argwhere = nonzero

    def masked_select(self, mask):
        """The elements where mask (broadcast against this tensor) is True, as a 1-D tensor (differentiable)."""
        from .tensor_args import bool_mask
        m = bool_mask("masked_select", mask, self.shape)
        shape = np.broadcast_shapes(m.shape, self.shape)
        x = self if tuple(self.shape) == shape else self.expand(shape)
        return x[np.broadcast_to(m, shape)]

    def movedim(self, source, destination):
        src = (source,) if isinstance(source, int) else tuple(source)
        dst = (destination,) if isinstance(destination, int) else tuple(destination)
        if len(src) != len(dst):
            raise ValueError(f"movedim: source {source} and destination {destination} must have the same length")
        src = [dim_index("movedim", d, self.ndim) for d in src]
        dst = [dim_index("movedim", d, self.ndim) for d in dst]
        order = [d for d in range(self.ndim) if d not in src]
        for s, d in sorted(zip(dst, src)):
            order.insert(s, d)
        return self.permute(*order)

    moveaxis = movedim

    def swapaxes(self, axis0, axis1):
        return self.transpose(axis0, axis1)

    swapdims = swapaxes

    def broadcast_to(self, size):
        return self.expand(*size)

    def tile(self, dims):
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        dims = (1,) * (self.ndim - len(dims)) + dims
        x = self.reshape((1,) * (len(dims) - self.ndim) + tuple(self.shape)) if len(dims) > self.ndim else self
        return x.repeat(*dims)

    def cumprod(self, dim, dtype=None):
        """Running product along dim: out_i = prod_{j<=i} x_j, each a prod of a masked copy (exact gradient,
        also with zeros; n^2 memory along dim)."""
        x = self if dtype is None else self.to(dtype)
        d = dim_index("cumprod", dim, x.ndim) if x.ndim else 0
        if x._data.dtype.kind != "f":
            return x._leaf(np.cumprod(x._data, axis=d if x.ndim else None, dtype=np.int64).reshape(x.shape))
        if x.ndim == 0:
            return x * 1.0
        n = x.shape[d]
        xl = x.movedim(d, -1)
        upper = xl._leaf(np.triu(np.ones((n, n), bool), 1))  # row i masks the elements after i
        stacked = xl.unsqueeze(-2).expand(tuple(xl.shape[:-1]) + (n, n))
        return where_tensors(upper, 1.0, stacked).prod(-1).movedim(-1, d)

    def median(self, dim=None, keepdim=False):
        """The lower median (as PyTorch): of everything (a 0-d tensor), or (values, indices) along dim."""
        if dim is None:
            flat = self.reshape(-1)
            return flat.sort().values[(flat.shape[0] - 1) // 2]
        d = dim_index("median", dim, self.ndim)
        s = self.sort(d)
        k = (self.shape[d] - 1) // 2
        from .tensor_reduce import MinMax
        v, i = s.values.narrow(d, k, 1), s.indices.narrow(d, k, 1)
        return MinMax(v if keepdim else v.squeeze(d), i if keepdim else i.squeeze(d))

    def std_mean(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return self.std(dim, keepdim, correction=correction, unbiased=unbiased), self.mean(dim, keepdim)

    def var_mean(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return self.var(dim, keepdim, correction=correction, unbiased=unbiased), self.mean(dim, keepdim)

    def dist(self, other, p=2):
        return (self - other).norm(p)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """The q-th quantiles (q a float or a 1-D tensor in [0, 1]) of everything or along dim, between the two
        nearest sorted values as `interpolation` says (linear, lower, higher, midpoint, nearest); differentiable."""
        qs = np.atleast_1d(np.asarray(_raw(q), np.float64))
        if qs.ndim != 1 or (qs < 0).any() or (qs > 1).any():
            raise ValueError(f"quantile: q must be a scalar or a 1-D tensor of values in [0, 1], got {q!r}")
        if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
            raise ValueError(f"quantile: interpolation must be linear, lower, higher, midpoint or nearest, "
                             f"got {interpolation!r}")
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else dim_index("quantile", dim, self.ndim)
        n = x.shape[d]
        s = x.sort(d).values
        pos = qs * (n - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        frac = pos - lo
        if interpolation == "lower":
            frac = np.zeros_like(frac)
        elif interpolation == "higher":
            frac = (frac > 0).astype(np.float64)
        elif interpolation == "midpoint":
            frac = np.where(frac > 0, 0.5, 0.0)
        elif interpolation == "nearest":
            frac = (np.round(pos) > lo).astype(np.float64)  # round half to even, as PyTorch
        a, b = s.index_select(d, self._leaf(lo)), s.index_select(d, self._leaf(hi))
        shape = [1] * x.ndim
        shape[d] = len(qs)
        out = a + (b - a) * self._leaf(frac.reshape(shape).astype(self._data.dtype))  # (..., len(q) at d, ...)
        out = out.movedim(d, 0)  # the quantiles first, as PyTorch
        if keepdim:
            out = out.unsqueeze(d + 1) if dim is not None else out.reshape((len(qs),) + (1,) * self.ndim)
        if np.ndim(_raw(q)) == 0:
            out = out[0]
        return out

    def index_add(self, dim, index, source, *, alpha=1):
        """self with source's slices added at `index` along dim (repeats accumulate)."""
        d = dim_index("index_add", dim, self.ndim)
        idx = _raw(index).astype(np.int64)
        if idx.ndim != 1 or source.ndim != self.ndim or source.shape[d] != len(idx):
            raise ValueError(f"index_add: expected a 1-D index with one entry per slice of source along dim {dim}; "
                             f"got index of shape {idx.shape}, source {tuple(source.shape)}, self {tuple(self.shape)}")
        shape = [1] * self.ndim
        shape[d] = len(idx)
        full = np.broadcast_to(idx.reshape(shape), tuple(source.shape)).copy()
        return self.scatter_add(d, self._leaf(full), source * alpha if alpha != 1 else source)

    def tensordot(self, other, dims=2):
        """Contract the last `dims` dims of self with the first of other (or the dim lists of dims=(a, b))."""
        letters = "abcdefghijklmnopqrstuvwxyz"
        if isinstance(dims, int):
            da, db = list(range(self.ndim - dims, self.ndim)), list(range(dims))
        else:
            da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
        da = [dim_index("tensordot", d, self.ndim) for d in da]
        db = [dim_index("tensordot", d, other.ndim) for d in db]
        sa, sb = list(letters[:self.ndim]), list(letters[self.ndim:self.ndim + other.ndim])
        for i, j in zip(da, db):
            sb[j] = sa[i]
        out = [c for i, c in enumerate(sa) if i not in da] + [c for j, c in enumerate(sb) if j not in db]
        from .functions import einsum
        return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", self, other)

    def atan2(self, other):
        """The angle of the point (other, self): atan(self / other) in the right quadrant; broadcasts."""
        x = self._floating()
        o = other if isinstance(other, TensorBase) else x._const(other)
        o = o._floating()
        if o._data.dtype != x._data.dtype:
            dt = np.result_type(x._data.dtype, o._data.dtype)
            x, o = x.to(dt), o.to(dt)
        try:
            out = np.arctan2(x._data, o._data)
        except ValueError:
            raise ValueError(f"atan2: shapes {tuple(self.shape)} and {tuple(o.shape)} cannot be broadcast together") \
                from None
        return x._make(np.asarray(out), ATAN2, (x, o), None, x.requires_grad or o.requires_grad)

    arctan2 = atan2

    def fmod(self, other):
        """x - trunc(x / other) * other: the remainder with the sign of x (C's fmod)."""
        return self - (self / other).detach().trunc() * other

    def hypot(self, other):
        return (self * self + other * other).sqrt()

    def kthvalue(self, k, dim=-1, keepdim=False):
        """The k-th smallest element along dim (1-based) and its index."""
        d = dim_index("kthvalue", dim, self.ndim) if self.ndim else 0
        n = self.shape[d] if self.ndim else 1
        if not 1 <= k <= n:
            raise ValueError(f"kthvalue: k ({k}) is out of range for dim {dim} of size {n} (shape {tuple(self.shape)})")
        from .tensor_reduce import MinMax
        if self.ndim == 0:
            return MinMax(self, self._leaf(np.zeros((), np.int64)))
        s = self.sort(d)
        v, i = s.values.narrow(d, k - 1, 1), s.indices.narrow(d, k - 1, 1)
        return MinMax(v if keepdim else v.squeeze(d), i if keepdim else i.squeeze(d))

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The n-th forward difference along dim (prepend / append joined first)."""
        from .functions import cat
        d = dim_index("diff", dim, self.ndim)
        x = self
        if prepend is not None or append is not None:
            x = cat([t for t in (prepend, self, append) if t is not None], d)
        for _ in range(n):
            m = x.shape[d]
            x = x.narrow(d, 1, m - 1) - x.narrow(d, 0, m - 1) if m else x
        return x

    def take_along_dim(self, indices, dim=None):
        """Elements picked by indices along dim (broadcast against self in the other dims); dim None: flat."""
        idx = _raw(indices).astype(np.int64)
        if dim is None:
            return self.reshape(-1)[idx.reshape(-1)]
        d = dim_index("take_along_dim", dim, self.ndim)
        shape = list(np.broadcast_shapes(tuple(n for i, n in enumerate(self.shape) if i != d),
                                         tuple(n for i, n in enumerate(idx.shape) if i != d)))
        xs, ishape = list(shape), list(shape)
        xs.insert(d, self.shape[d])
        ishape.insert(d, idx.shape[d])
        x = self.expand(*xs) if tuple(self.shape) != tuple(xs) else self
        return x.gather(d, self._leaf(np.broadcast_to(idx, ishape)))

    def cross(self, other, dim=None):
        """The cross product of 3-vectors along dim (the first dim of size 3 if None)."""
        if dim is None:
            dim = next((i for i, n in enumerate(self.shape) if n == 3), None)
            if dim is None:
                raise ValueError(f"cross: no dimension of size 3 in input of shape {tuple(self.shape)}")
        d = dim_index("cross", dim, self.ndim)
        if self.shape[d] != 3 or other.shape[d] != 3:
            raise ValueError(f"cross: dimension {dim} must have size 3, got shapes {tuple(self.shape)} and "
                             f"{tuple(other.shape)}")
        a = [self.select(d, i) for i in range(3)]
        b = [other.select(d, i) for i in range(3)]
        from .functions import stack
        return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], d)

    def rot90(self, k=1, dims=(0, 1)):
        """Rotate by 90 degrees k times in the plane of dims (from the first towards the second)."""
        d0, d1 = (dim_index("rot90", d, self.ndim) for d in dims)
        if d0 == d1:
            raise ValueError(f"rot90: dims must differ, got {dims}")
        k %= 4
        if k == 0:
            return self * 1
        if k == 2:
            return self.flip(d0, d1)
        if k == 1:
            return self.flip(d1).transpose(d0, d1)
        return self.transpose(d0, d1).flip(d1)

    def tensor_split(self, indices_or_sections, dim=0):
        """Split into n nearly equal parts (an int: the first ones one longer), or at the given indices."""
        d = dim_index("tensor_split", dim, self.ndim)
        n = self.shape[d]
        if isinstance(indices_or_sections, int):
            k = indices_or_sections
            if k < 1:
                raise ValueError(f"tensor_split: number of sections must be at least 1, got {k}")
            sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
            cuts = list(np.cumsum([0] + sizes))
        else:
            cuts = [0] + [min(max(int(i), 0), n) for i in indices_or_sections] + [n]
        return tuple(self.narrow(d, a, max(b - a, 0)) for a, b in zip(cuts[:-1], cuts[1:]))

    def unfold(self, dimension, size, step):
        """Sliding windows of `size` elements, `step` apart, along dimension: that dim becomes the number of
        windows and a new last dim of `size` holds each window (differentiable; overlaps add up)."""
        d = dim_index("unfold", dimension, self.ndim) if self.ndim else 0
        n = self.shape[d] if self.ndim else 1
        if size > n or size < 0 or step < 1:
            raise ValueError(f"unfold: size {size} and step {step} do not fit dimension {dimension} of size {n} "
                             f"(shape {tuple(self.shape)}; need 0 <= size <= {n}, step >= 1)")
        if self.ndim == 0:
            return self.reshape(1)
        windows = (n - size) // step + 1
        idx = (np.arange(windows)[:, None] * step + np.arange(size)).reshape(-1)
        x = self.index_select(d, self._leaf(idx))
        x = x.reshape(tuple(self.shape[:d]) + (windows, size) + tuple(self.shape[d + 1:]))
        return x.movedim(d + 1, -1)

    def where(self, condition, other):
        """self where condition is True, else other (Tensor.where: torch.where(condition, self, other))."""
        from .functions import where
        return where(condition, self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(np.allclose(self._data, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return self._leaf(np.isclose(self._data, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def half(self):
        return self.to(np.float16)

    def byte(self):
        return self.to(np.uint8)

    def char(self):
        return self.to(np.int8)

    def short(self):
        return self.to(np.int16)

    def detach_(self):
        """Cut this tensor from the graph, in place (it becomes a leaf that does not require grad)."""
        self._op = self._inputs = self._args = self._ctx = None
        self.requires_grad = False
        return self

    def _reshape_inplace(self, name, new):
        if self.requires_grad:
            raise RuntimeError(f"{name}: changing the shape in place of a tensor that requires grad is not supported "
                               f"by tinygrad_lite; use the out-of-place form (x = x.{name[:-1]}(...))")
        self._data = self._data.reshape(new)
        return self

    def unsqueeze_(self, dim):
        d = dim_index("unsqueeze_", dim, self.ndim, new=1)
        return self._reshape_inplace("unsqueeze_", tuple(self.shape[:d]) + (1,) + tuple(self.shape[d:]))

    def squeeze_(self, dim=None):
        return self._reshape_inplace("squeeze_", tuple(self.squeeze(dim).shape) if dim is not None else
                                     tuple(n for n in self.shape if n != 1))

    def ndimension(self):
        return self.ndim

    nbytes = property(lambda self: self._data.nbytes, doc="Bytes taken by the elements.")
    itemsize = property(lambda self: self._data.itemsize, doc="Bytes per element.")

    def unflatten(self, dim, sizes):
        d = dim_index("unflatten", dim, self.ndim)
        return self.reshape(tuple(self.shape[:d]) + tuple(sizes) + tuple(self.shape[d + 1:]))


def _raw(x):
    return x._data if isinstance(x, TensorBase) else np.asarray(x)


def _inplace_form(name, method):
    def f(self, *args, **kwargs):
        if self._recording(name):
            return self._record_inplace(lambda old: getattr(old, method)(*args, **kwargs))
        self._inplace(name)
        from .grad_mode import no_grad
        with no_grad():
            new = getattr(self._leaf(self._data.copy()), method)(*args, **kwargs)
        np.copyto(self._data, new._data, casting="same_kind")
        return self
    f.__name__ = name
    f.__doc__ = f"In-place form of Tensor.{method} (recorded on a non-leaf that requires grad)."
    return f


for _m in ("exp", "log", "sqrt", "rsqrt", "abs", "neg", "relu", "sigmoid", "tanh", "sin", "cos", "square", "reciprocal",
           "floor", "ceil", "round", "trunc", "sign", "log1p", "expm1", "pow", "clip", "tril", "triu", "scatter",
           "scatter_add", "lerp", "addcmul", "addcdiv", "nan_to_num", "clamp_min", "clamp_max", "index_add"):
    setattr(MoreMathMethods, _m + "_", _inplace_form(_m + "_", _m))
MoreMathMethods.negative_ = MoreMathMethods.neg_

from .ops.products import ACOS, ASIN, ATAN, ATAN2  # noqa: E402
