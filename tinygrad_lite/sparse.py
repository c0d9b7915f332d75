"""Row-sparse gradients, as produced by an embedding lookup (PyTorch's ``sparse=True`` embeddings).

An embedding of shape (V, d) looked up with k indices only touches k rows, so its gradient is
stored as those rows: ``RowSparseGrad(indices (k,), values (k, d...), shape (V, d...))``. Row
``indices[i]`` of the dense gradient gets ``values[i]`` added; an index may repeat (the repeats
add up), ``coalesce()`` sums them into sorted unique rows. Optimizers that understand row-sparse
gradients (``SGD`` without momentum/weight decay, ``SparseAdam``) update only those rows, so a
step costs O(k d), not O(V d).

The engine stores such an object in a leaf's ``.grad`` unchanged (see docs/ENGINE_NOTES.md): it
has ``.shape``/``.dtype`` equal to the weight's and adds to other gradients with ``+``.
"""
import numpy as np

from .ops import LazyGrad, defop, where
from .ops.movement import index_scatter
from .ops.sparse_matmul import rows_sum
from .ops.embedding_dot import EMBEDDING_DOT, DotArgs
from .tensor import Tensor

__all__ = ["RowSparseGrad", "embedding", "embedding_dot", "is_sparse"]


def is_sparse(g):
    """True when `g` is a row-sparse gradient object (not a dense Tensor/ndarray)."""
    return getattr(g, "is_sparse", False) is True


class RowSparseGrad(LazyGrad):
    """A gradient that is zero except on some rows.

    indices: int64 array of shape (k,), the rows (may repeat, any order);
    values: array of shape (k, *shape[1:]), the rows' contributions;
    shape: the dense shape (V, *rest). Adding the pieces up gives the dense gradient.
    """
    __slots__ = ("indices", "values", "shape", "_coalesced")
    is_sparse = True
    stays_sparse = True  # a leaf's .grad keeps this object (SGD and SparseAdam update only its rows)
    __array_ufunc__ = None  # ndarray + RowSparseGrad defers to our __radd__ instead of broadcasting an object
    __array_priority__ = 2000

    def __init__(self, indices, values, shape, _coalesced=False):
        indices = np.asarray(indices)
        values = np.asarray(values)
        shape = tuple(int(s) for s in shape)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise TypeError(f"RowSparseGrad: indices must be a 1-d integer array (k,), got shape {indices.shape} "
                            f"dtype {indices.dtype}")
        if not shape or values.shape != (indices.shape[0],) + shape[1:]:
            raise ValueError(f"RowSparseGrad: values must have shape (k, *shape[1:]) = "
                             f"{(indices.shape[0],) + shape[1:]} for indices of shape {indices.shape} and dense "
                             f"shape {shape}, got {values.shape}")
        self.indices = indices.astype(np.int64, copy=False)
        self.values = values
        self.shape = shape
        self._coalesced = _coalesced

    # ---------------------------------------------------------------- array-like surface
    dtype = property(lambda self: self.values.dtype, doc="dtype of the values (equals the weight's).")
    ndim = property(lambda self: len(self.shape), doc="number of dense dimensions.")
    requires_grad = False
    is_coalesced = property(lambda self: self._coalesced, doc="True when the indices are sorted and unique.")

    def nnz(self):
        """Number of stored rows k (before coalescing, repeats count)."""
        return int(self.indices.shape[0])

    def size(self, dim=None):
        """The dense shape, or one of its sizes."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        """Number of elements of the dense gradient."""
        return int(np.prod(self.shape))

    def __repr__(self):
        return (f"RowSparseGrad(shape={self.shape}, nnz_rows={self.nnz()}, dtype={self.dtype}, "
                f"coalesced={self._coalesced})")

    # ---------------------------------------------------------------- conversions
    def coalesce(self):
        """The same gradient with sorted, unique row indices (duplicates summed); (k',) / (k', d...)."""
        if self._coalesced:
            return self
        idx, vals = self.indices, self.values
        k = idx.shape[0]
        if k == 0:
            return RowSparseGrad(idx, vals, self.shape, True)
        if vals.dtype == np.float32 or vals.dtype == np.float64:
            # repeats add up in one sparse (rows, k) @ (k, width) product (2-3x faster than np.add.at below)
            rows, out = rows_sum(idx, np.arange(k), np.ones(k, vals.dtype), vals.reshape(k, -1), self.shape[0])
            out = out.reshape((rows.shape[0],) + vals.shape[1:])
            return RowSparseGrad(rows, out, self.shape, True)
        rows, inv = np.unique(idx, return_inverse=True)
        if rows.shape[0] == k:  # no duplicates: just sorted
            out = np.empty_like(vals)
            out[inv] = vals
            return RowSparseGrad(rows, out, self.shape, True)
        # repeats add up: one flat np.add.at over every element (about 2x faster than argsort +
        # reduceat for the many-duplicates batches of word2vec)
        width = int(np.prod(vals.shape[1:], dtype=np.int64))
        out = np.zeros((rows.shape[0],) + vals.shape[1:], vals.dtype)
        flat = (inv.reshape(-1, 1) * width + np.arange(width)).reshape(-1)
        np.add.at(out.reshape(-1), flat, vals.reshape(-1))
        return RowSparseGrad(rows, out, self.shape, True)

    def to_dense(self):
        """The dense gradient as a Tensor of shape `shape`."""
        return Tensor._leaf(self.dense())

    def dense(self):
        """The dense gradient as a fresh numpy array (the engine's lazy-gradient protocol)."""
        c = self.coalesce()
        out = np.zeros(self.shape, dtype=self.dtype)
        out[c.indices] = c.values
        return out

    def numpy(self):
        """The dense gradient as a numpy array of shape `shape`."""
        return self.dense()

    def __array__(self, dtype=None, copy=None):
        d = self.dense()
        return d if dtype is None else d.astype(dtype)

    def to(self, dtype):
        """Cast the values to `dtype` (the engine calls this when dtypes differ)."""
        return RowSparseGrad(self.indices, self.values.astype(dtype), self.shape, self._coalesced)

    def clone(self):
        """A copy with its own index and value arrays."""
        return RowSparseGrad(self.indices.copy(), self.values.copy(), self.shape, self._coalesced)

    copy = clone

    def detach(self):
        """Itself (a gradient object is never part of a graph)."""
        return self

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other):
        """sparse + sparse -> sparse (rows concatenated); sparse + dense Tensor/ndarray -> dense of that type."""
        if isinstance(other, RowSparseGrad):
            if other.shape != self.shape:
                raise ValueError(f"RowSparseGrad.__add__: shapes {self.shape} and {other.shape} differ; "
                                 "row-sparse gradients can only be added to gradients of the same shape")
            if other.indices.shape[0] == 0:
                return self
            if self.indices.shape[0] == 0:
                return other
            dt = np.result_type(self.dtype, other.dtype)
            return RowSparseGrad(np.concatenate([self.indices, other.indices]),
                                 np.concatenate([self.values.astype(dt, copy=False),
                                                 other.values.astype(dt, copy=False)]), self.shape)
        if isinstance(other, Tensor):
            if other.shape != self.shape:
                raise ValueError(f"RowSparseGrad.__add__: dense tensor of shape {other.shape} does not match the "
                                 f"sparse gradient's shape {self.shape}")
            if other.requires_grad:  # recorded (create_graph): go through the engine's ops
                return other + self.to_dense()
            return Tensor._leaf(self.add_into(other._data.copy()))
        if isinstance(other, np.ndarray):
            if other.shape != self.shape:
                raise ValueError(f"RowSparseGrad.__add__: dense array of shape {other.shape} does not match the "
                                 f"sparse gradient's shape {self.shape}")
            return self.add_into(other.astype(np.result_type(other.dtype, self.dtype), copy=True))
        if isinstance(other, (int, float)) and other == 0:  # sum([...]) starts from 0
            return self
        return NotImplemented

    __radd__ = __add__

    def add_into(self, out):
        """out[rows] += values in place (duplicates accumulate); returns out (the lazy-gradient protocol)."""
        c = self.coalesce()
        if c.indices.shape[0]:
            out[c.indices] += c.values
        return out

    def __mul__(self, scalar):
        """Scale by a number: (sparse * c) has values * c."""
        if isinstance(scalar, Tensor):
            scalar = scalar._data
        if np.ndim(scalar) != 0:
            return NotImplemented
        return RowSparseGrad(self.indices, self.values * scalar, self.shape, self._coalesced)

    __rmul__ = __mul__

    def __neg__(self):
        return RowSparseGrad(self.indices, -self.values, self.shape, self._coalesced)


# -------------------------------------------------------------------------------- embedding
def _emb_fwd(args, w):
    return w[args[0]]  # args: (indices, padding_idx)


def _emb_dw(g, ans, args, w):
    idx, pad = args
    if type(g) is np.ndarray or isinstance(g, np.generic):  # plain backward: a row-sparse gradient
        flat = idx.reshape(-1)
        vals = g.reshape((flat.shape[0],) + w.shape[1:])
        if pad is not None:
            keep = flat != pad
            if not keep.all():
                flat, vals = flat[keep], vals[keep]
        return RowSparseGrad(flat, vals, w.shape)
    # create_graph: g is a Tensor; a dense, recorded scatter (differentiable again)
    if pad is not None:
        mask = (idx != pad).reshape(idx.shape + (1,) * (w.ndim - 1))
        g = where(mask, g, 0.0)
    return index_scatter(g, w.shape, idx)


EMBEDDING_SPARSE = defop("embedding_sparse", _emb_fwd, _emb_dw,
                         forward="W[indices]", math="C = W[indices]; dW is row-sparse: row indices[i] gets g[i] "
                              "(repeats add, padding_idx rows get 0)",
                         rule="dW = RowSparseGrad(indices, rows of dC): only the looked-up rows (repeats add)",
                         saves=("index",), inputs=("W",),
                         symbols={"indices": "the looked-up row indices",
                                  "padding_idx": "the row that gets no gradient (Embedding(padding_idx=))"})


def embedding(weight, indices, padding_idx=None):
    """Look up rows of `weight` with a row-sparse gradient.

    weight: Tensor (V, d...); indices: integer Tensor/array of any shape S (values in [0, V)).
    Returns a Tensor of shape S + (d...) equal to weight[indices]. In a plain backward the weight's
    gradient is a RowSparseGrad over the looked-up rows (duplicates accumulate; rows equal to
    `padding_idx` get no gradient); with create_graph=True it is a dense, recorded scatter.
    """
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: weight must be a Tensor of shape (num_embeddings, dim), "
                        f"got {type(weight).__name__}")
    if weight.ndim < 1:
        raise ValueError(f"embedding: weight must have at least 1 dimension (num_embeddings, ...), got shape "
                         f"{weight.shape}")
    idx = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor (int64), got dtype {idx.dtype} with shape "
                        f"{idx.shape}")
    padding_idx = check_rows("embedding", idx, weight, padding_idx)
    idx = idx.astype(np.int64, copy=False)
    return weight._make(weight._data[idx], EMBEDDING_SPARSE, (weight,), (idx, padding_idx), weight.requires_grad)


def check_rows(op, idx, weight, padding_idx=None):
    """The checks of a row lookup into weight (n, ...): every index in [0, n) (IndexError naming the
    first bad one and the weight's shape), padding_idx in [-n, n). Returns padding_idx made
    non-negative (None stays None)."""
    n = weight.shape[0]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            raise IndexError(f"{op}: index {lo if lo < 0 else hi} is out of range for a weight of shape "
                             f"{tuple(weight.shape)} (expected indices in [0, {n - 1}])")
    if padding_idx is None:
        return None
    padding_idx = int(padding_idx)
    if not -n <= padding_idx < n:
        raise ValueError(f"{op}: padding_idx {padding_idx} must be within [-{n}, {n - 1}] for a weight of shape "
                         f"{tuple(weight.shape)}")
    return padding_idx % n


def embedding_dot(weight, indices, x, padding_idx=None):
    """Scores of looked-up rows against one vector per batch row: out[b, t] = weight[indices[b, t]] . x[b].

    weight: Tensor (V, d); indices: integer array/Tensor (B, T) in [0, V); x: Tensor (B, d) of the same
    float dtype (float32 or float64). Returns a Tensor (B, T). Equal to
    (embedding(weight, indices) * x[:, None, :]).sum(-1), as one engine row whose backward makes no
    (B, T, d) temporaries (it keeps the gathered rows for x's gradient): weight's gradient is
    row-sparse and already coalesced, x's dense. Rows equal to
    `padding_idx` get no gradient, as in `embedding` (word2vec's scores against noise words or
    hierarchical-softmax paths, tinygrad_lite/ops/embedding_dot.py)."""
    op = "embedding_dot"
    if not isinstance(weight, Tensor) or not isinstance(x, Tensor):
        raise TypeError(f"{op}: weight and x must be Tensors, got {type(weight).__name__} and {type(x).__name__}")
    idx = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor (int64), got dtype {idx.dtype}")
    if weight.ndim != 2 or x.ndim != 2 or idx.ndim != 2 or x.shape[1] != weight.shape[1] or idx.shape[0] != x.shape[0]:
        raise ValueError(f"{op}: expected weight (V, d), indices (B, T) and x (B, d); got weight {tuple(weight.shape)}, "
                         f"indices {idx.shape}, x {tuple(x.shape)}")
    if weight.dtype != x.dtype or weight.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: weight and x must share a float32 or float64 dtype, got {weight.dtype} and {x.dtype}")
    padding_idx = check_rows(op, idx, weight, padding_idx)
    args = DotArgs(idx.astype(np.int64, copy=False), padding_idx)
    out, rows = EMBEDDING_DOT.fwd(args, weight._data, x._data)
    return Tensor._make_saving(out, rows, EMBEDDING_DOT, (weight, x), args, weight.requires_grad or x.requires_grad)
