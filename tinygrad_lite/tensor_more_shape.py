"""Tensor methods, part 7: shape, indexing and ordering helpers users' scripts reach for (movedim, tile,
unfold, nonzero, masked_select, cumprod, median, quantile, kthvalue, tensordot, index_add, diff, cross...),
composed from rows so their gradients come for free; and cdist, searchsorted, bucketize."""
import numpy as np

from .tensor_args import dim_index
from .tensor_base import TensorBase
from .tensor_math import where_tensors
from .tensor_more import vector_norm
from .tensor_more_math import _raw


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


class MoreShapeMethods:
    __slots__ = ()

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

    def mode(self, dim=-1, keepdim=False):
        """(values, indices) along dim: the most frequent value (the smallest of equally frequent ones) and the
        index of its last occurrence, as PyTorch; the gradient of a value goes to that index."""
        x = self if self.ndim else self.reshape(1)
        d = dim_index("mode", dim, x.ndim)
        a = np.moveaxis(x._data, d, -1)
        order = np.argsort(a, axis=-1, kind="stable")  # equal values keep their order: a run ends at its last
        s = np.take_along_axis(a, order, -1)
        pos = np.broadcast_to(np.arange(a.shape[-1]), a.shape)
        starts = np.ones(a.shape, bool)
        starts[..., 1:] = s[..., 1:] != s[..., :-1]
        first = np.maximum.accumulate(np.where(starts, pos, 0), -1)  # where each element's run starts
        ends = np.ones(a.shape, bool)
        ends[..., :-1] = starts[..., 1:]
        last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, pos, a.shape[-1]), -1), -1), -1)
        best = np.argmax(last - first, -1)[..., None]  # the longest run; the first (smallest value) on ties
        idx = np.take_along_axis(order, np.take_along_axis(last, best, -1), -1)
        idx = self._leaf(np.moveaxis(idx, -1, d).astype(np.int64))
        v = x.gather(d, idx)
        from .tensor_reduce import MinMax
        if not self.ndim:
            return MinMax(v.reshape(()), idx.reshape(()))
        return MinMax(v if keepdim else v.squeeze(d), idx if keepdim else idx.squeeze(d))

    def std_mean(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return self.std(dim, keepdim, correction=correction, unbiased=unbiased), self.mean(dim, keepdim)

    def var_mean(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return self.var(dim, keepdim, correction=correction, unbiased=unbiased), self.mean(dim, keepdim)

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
