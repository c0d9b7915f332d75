"""Tensor methods, part 3: shape changes, indexing and masking (reshape, permute, expand, getitem, masked_fill...).

Results that share memory with their source are marked as views (versions.share_version), so an
in-place write through either is seen by a pending backward.
"""
import numpy as np

from .ops.movement import EXPAND, GETITEM, PERMUTE, RESHAPE
from .tensor_args import bool_mask, dim_index, index_arg, need_2d, norm_axes, shape_arg
from .tensor_base import TensorBase
from .tensor_math import where_tensors
from .versions import share_version


class ShapeMethods:
    __slots__ = ()

    def reshape(self, *shape):
        """Same data in a new shape; one dimension may be -1."""
        shape = shape_arg(shape)
        try:
            out = self._data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {self.shape} "
                             f"({self._data.size} elements) into {shape}") from None
        if out.shape == self._data.shape:
            return self
        return share_version(self._make(out, RESHAPE, (self,), out.shape, self.requires_grad), self)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = dim_index("flatten", start_dim, self.ndim), dim_index("flatten", end_dim, self.ndim)
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims):
        """Reorder dimensions: permute(2, 0, 1)."""
        dims = shape_arg(dims)
        if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of shape {self.shape}")
        dims = tuple(d % self.ndim for d in dims)
        return share_version(self._unary(PERMUTE, dims), self)

    def transpose(self, dim0, dim1):
        """Swap two dimensions."""
        dim0, dim1 = dim_index("transpose", dim0, self.ndim), dim_index("transpose", dim1, self.ndim)
        if self.ndim < 2:
            return self
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    def t(self):
        return self.transpose(0, 1)

    T = property(lambda self: self.permute(tuple(range(self.ndim))[::-1]), doc="All dims reversed.")
    mT = property(lambda self: self.transpose(-2, -1), doc="Last two dims swapped.")

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        axes = norm_axes("squeeze", dim, self.ndim) or ()
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if not (i in axes and s == 1)))

    def unsqueeze(self, dim):
        d = dim_index("unsqueeze", dim, self.ndim, new=1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *sizes):
        """Broadcast to a bigger shape without copying (-1 keeps a dimension)."""
        sizes = shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: cannot expand shape {self.shape} to fewer dimensions {sizes}")
        if -1 in sizes[:lead]:
            raise ValueError(f"expand: -1 (keep the size) is not allowed for the new leading dims of {sizes}")
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        if shape == self.shape:
            return self
        try:
            out = np.broadcast_to(self._data, shape)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {shape}; only size-1 "
                             "dimensions can grow") from None
        return share_version(self._make(out, EXPAND, (self,), shape, self.requires_grad), self)

    def expand_as(self, other):
        return self.expand(other.shape)

    def split(self, split_size_or_sections, dim=0):
        """Pieces of `split_size` along dim (the last may be smaller), or of the listed sizes."""
        n = self.shape[dim_index("split", dim, self.ndim)]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0:
                raise ValueError("split: split_size must be positive")
            sizes = [min(split_size_or_sections, n - i) for i in range(0, n, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the size of dim {dim}")
        out, start = [], 0
        d = dim % self.ndim
        for s in sizes:
            out.append(self[(slice(None),) * d + (slice(start, start + s),)])
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        n = self.shape[dim_index("chunk", dim, self.ndim)]
        return self.split(-(-n // chunks), dim)

    def __getitem__(self, idx):
        idx = index_arg(idx)
        try:
            out = self._data[idx]
        except IndexError as e:
            raise IndexError(f"getitem: index {idx!r} is invalid for a tensor of shape {self.shape}: {e}") from None
        return share_version(self._make(out, GETITEM, (self,), idx, self.requires_grad), self)

    def gather(self, dim, index):
        """out[i][j] = self[i][index[i][j]] along `dim` (torch.gather)."""
        d = dim_index("gather", dim, self.ndim)
        idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
        grids = np.ix_(*[np.arange(s) for s in idx.shape])
        full = tuple(idx if i == d else grids[i] for i in range(self.ndim))
        return self[full]

    def masked_fill(self, mask, value):
        """Replace the elements where mask is True by `value`; no gradient flows to them. The result keeps
        this tensor's dtype (value is cast to it, as in PyTorch)."""
        m = self._leaf(bool_mask("masked_fill", mask, self.shape))
        if not isinstance(value, TensorBase):
            value = self._leaf(np.array(value).astype(self._data.dtype))
        return where_tensors(m, value, self)

    def tril(self, diagonal=0):
        """Keep the lower triangle of the last two dims, zero above it."""
        need_2d("tril", self)
        keep = np.tri(self.shape[-2], self.shape[-1], diagonal, dtype=bool)
        return where_tensors(self._leaf(keep), self, self._leaf(np.zeros((), self._data.dtype)))

    def triu(self, diagonal=0):
        """Keep the upper triangle of the last two dims, zero below it."""
        need_2d("triu", self)
        keep = ~np.tri(self.shape[-2], self.shape[-1], diagonal - 1, dtype=bool)
        return where_tensors(self._leaf(keep), self, self._leaf(np.zeros((), self._data.dtype)))
