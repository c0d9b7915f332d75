"""Tensor methods, part 3: shape changes, indexing and masking (reshape, permute, expand, getitem, masked_fill...).

Results that share memory with their source are marked as views (versions.share_version), so an
in-place write through either is seen by a pending backward.
"""
import numpy as np

from .ops.extra import FLIP, ROLL, SCATTER
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

    def view(self, *shape):
        """reshape without a copy, as PyTorch: a tensor whose memory layout cannot give the new shape
        (e.g. a transposed one asked to merge its dims) raises; call .reshape() or .contiguous() first."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
            raise NotImplementedError(f"view({shape[0]!r}): reinterpreting the bytes as another dtype is not "
                                      "supported by tinygrad_lite; use .to(dtype) to convert the values")
        new = shape_arg(shape)
        try:
            _reshape_no_copy(self._data, new)
        except (ValueError, AttributeError) as e:
            if "copy" not in str(e) and "Incompatible" not in str(e):
                raise ValueError(f"view: cannot view a tensor of shape {self.shape} ({self._data.size} elements) "
                                 f"as {new}") from None
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") from None
        return self.reshape(new)

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
        m = bool_mask("masked_fill", mask, self.shape)
        m = mask if isinstance(mask, TensorBase) else self._leaf(m)  # the user's mask (its name shows in graphs)
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

    # ------------------------------------------------------------------ more of PyTorch's shape and index surface
    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flip(self, *dims):
        """Reverse the order along dims (a copy, as PyTorch)."""
        axes = tuple(dim_index("flip", d, self.ndim) for d in shape_arg(dims))
        return self._unary(FLIP, axes)

    def roll(self, shifts, dims=None):
        """Shift elements along dims, wrapping around; without dims the flattened tensor is rolled."""
        if dims is None:
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        shifts = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(int(s) for s in shifts)
        dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
        if len(shifts) != len(dims):
            raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
        return self._unary(ROLL, (shifts, tuple(dim_index("roll", d, self.ndim) for d in dims)))

    def index_select(self, dim, index):
        """The slices at `index` (1-D ints) along dim: a getitem with an index array (repeats accumulate in backward)."""
        d = dim_index("index_select", dim, self.ndim)
        idx = _int_index("index_select", index)
        if idx.ndim > 1:
            raise ValueError(f"index_select: index must be 1-D (or 0-D), got shape {idx.shape}")
        if idx.size and (idx.min() < -self.shape[d] or idx.max() >= self.shape[d]):
            raise IndexError(f"index_select: index out of range for dim {dim} of size {self.shape[d]}")
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def _scatter(self, name, dim, index, src, add):
        d = dim_index(name, dim, self.ndim)
        idx = _int_index(name, index)
        if idx.ndim != self.ndim:
            raise ValueError(f"{name}: index must have as many dims as self ({self.ndim}), got shape {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[d]):
            raise IndexError(f"{name}: index out of range for dim {dim} of size {self.shape[d]}")
        if any(i != d and n > m for i, (n, m) in enumerate(zip(idx.shape, self.shape))):
            raise ValueError(f"{name}: index of shape {idx.shape} is bigger than self {tuple(self.shape)} "
                             f"outside dim {dim}")
        if isinstance(src, TensorBase):
            if src.ndim != idx.ndim or any(a > b for a, b in zip(idx.shape, src.shape)):
                raise ValueError(f"{name}: src of shape {tuple(src.shape)} must be at least as big as index "
                                 f"{idx.shape} in every dim")
            s = src if src.dtype == self.dtype else src.to(self.dtype)
        else:
            s = self._leaf(np.array(src, dtype=self.dtype))
        out = SCATTER.fwd((d, idx, add), self._data, s._data)
        return self._make(out, SCATTER, (self, s), (d, idx, add), self.requires_grad or s.requires_grad)

    def scatter(self, dim, index, src=None, value=None, reduce=None):
        """self with src (a tensor or a number) written at index along dim: out[i][index[i][j]] = src[i][j]."""
        if reduce is not None:
            raise NotImplementedError(f"scatter(reduce={reduce!r}) is not supported by tinygrad_lite; "
                                      "use scatter_add for sums")
        src = value if src is None else src
        if src is None:
            raise TypeError("scatter: give src (a tensor or a number) or value")
        return self._scatter("scatter", dim, index, src, False)

    def scatter_add(self, dim, index, src):
        """self plus src added at index along dim (repeated indices accumulate)."""
        return self._scatter("scatter_add", dim, index, src, True)

    def repeat(self, *sizes):
        """Tile the tensor: repeat(2, 3) on shape (a, b) gives (2a, 3b) (a reshape, an expand and a reshape)."""
        sizes = shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: the number of repeats ({len(sizes)}) can not be smaller than the tensor's "
                             f"number of dims ({self.ndim})")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        x = self.reshape(tuple(s for n in shape for s in (1, n)))
        x = x.expand(tuple(s for r, n in zip(sizes, shape) for s in (r, n)))
        return x.reshape(tuple(r * n for r, n in zip(sizes, shape)))

    def repeat_interleave(self, repeats, dim=None, output_size=None):
        """Each element (or slice along dim) repeated in place: [1, 2] -> [1, 1, 2, 2] (an index array)."""
        x = self.flatten() if dim is None else self
        d = 0 if dim is None else dim_index("repeat_interleave", dim, self.ndim)
        r = repeats._data if isinstance(repeats, TensorBase) else repeats
        return x[(slice(None),) * d + (np.repeat(np.arange(x.shape[d]), r),)]

    def narrow(self, dim, start, length):
        d = dim_index("narrow", dim, self.ndim)
        start = int(start) + (self.shape[d] if int(start) < 0 else 0)
        if start < 0 or length < 0 or start + length > self.shape[d]:
            raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({self.shape[d]})")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def select(self, dim, index):
        return self[(slice(None),) * dim_index("select", dim, self.ndim) + (int(index),)]

    def unbind(self, dim=0):
        d = dim_index("unbind", dim, self.ndim)
        return tuple(self.select(d, i) for i in range(self.shape[d]))


def _reshape_no_copy(a, shape):
    try:
        return a.reshape(shape, copy=False)  # numpy >= 2.1: ValueError when only a copy could do it
    except TypeError:  # older numpy: assigning .shape fails the same way
        v = a.view()
        v.shape = shape
        return v


def _int_index(op, index):
    a = index._data if isinstance(index, TensorBase) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {a.dtype}")
    return a.astype(np.intp, copy=False)
