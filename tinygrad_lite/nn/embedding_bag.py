"""F.embedding_bag: sums, means or maxima of bags of embedding rows (PyTorch's semantics), one engine row
(tinygrad_lite/ops/embedding_bag.py)."""
import numpy as np

from ..ops.embedding_bag import EMBEDDING_BAG, MODES, Bags
from ..sparse import check_rows
from ..tensor import Tensor

__all__ = ["embedding_bag"]


def _ids(op, x, what):
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be an integer tensor (int64), got dtype {a.dtype} with shape {a.shape}")
    return a.astype(np.int64, copy=False)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Reduce bags of rows of `weight` (num_embeddings, embedding_dim) -> (B, embedding_dim).

    input (B, N) with offsets=None: row b of input is bag b (N entries each). input (M,) with offsets
    (B,): bag b is input[offsets[b]:offsets[b+1]] (the last bag runs to the end; with
    include_last_offset=True offsets has B + 1 entries and the last one ends the last bag).
    mode: 'sum', 'mean' (default) or 'max' (column-wise). per_sample_weights (same shape as input,
    mode 'sum' only) scales each entry's row. Entries equal to padding_idx are left out of their bag
    (and of a mean's count); an empty bag gives zeros. sparse=True gives weight a row-sparse gradient
    (tinygrad_lite.sparse.RowSparseGrad; SGD and SparseAdam update only those rows).
    max_norm and scale_grad_by_freq are not supported."""
    op = "embedding_bag"
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor (num_embeddings, embedding_dim), got {type(weight).__name__}")
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError(f"{op}: max_norm and scale_grad_by_freq are not supported")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {tuple(weight.shape)}")
    idx = _ids(op, input, "input")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None when input is 2-D (each row is a bag), got input of shape "
                             f"{idx.shape} and offsets")
        B, N = idx.shape
        starts = np.arange(B, dtype=np.int64) * N
        counts = np.full(B, N, np.int64)
        fixed = N
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: a 1-D input of shape {idx.shape} needs offsets (the start of each bag)")
        off = _ids(op, offsets, "offsets")
        if off.ndim != 1 or (include_last_offset and off.shape[0] < 1):
            raise ValueError(f"{op}: offsets must be 1-D (one start per bag), got shape {off.shape}")
        M = idx.shape[0]
        ends = off[1:] if include_last_offset or not off.shape[0] else np.r_[off[1:], M]
        starts = off[:-1] if include_last_offset else off
        if starts.shape[0] and (starts[0] != 0 or np.any(np.diff(off) < 0) or off[-1] > M):
            raise ValueError(f"{op}: offsets must start at 0, not decrease and stay <= {M} (the input's length), "
                             f"got {off.tolist()[:8]}{'...' if off.shape[0] > 8 else ''}")
        counts = (ends - starts).astype(np.int64)
        idx = idx[:int(ends[-1])] if starts.shape[0] else idx[:0]
        fixed = None
    else:
        raise ValueError(f"{op}: input must be 1-D (with offsets) or 2-D (bags, entries), got shape {idx.shape}")
    flat = idx.reshape(-1)
    padding_idx = check_rows(op, flat, weight, padding_idx)
    if padding_idx is not None:
        keep = flat != padding_idx
    else:
        keep = np.ones(flat.shape[0], bool)
    inputs = (weight,)
    coef = None
    if mode == "mean":
        bag = np.repeat(np.arange(counts.shape[0]), counts)
        real = np.bincount(bag, keep, minlength=counts.shape[0])
        coef = keep / np.maximum(real, 1)[bag]
        coef = coef.astype(weight.dtype)
    elif mode == "sum":
        coef = keep.astype(weight.dtype)
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{op}: per_sample_weights is only supported for mode='sum' (as PyTorch), got "
                                      f"mode={mode!r}")
        if not isinstance(per_sample_weights, Tensor):
            raise TypeError(f"{op}: per_sample_weights must be a Tensor, got {type(per_sample_weights).__name__}")
        if tuple(per_sample_weights.shape) != tuple(_ids(op, input, "input").shape):
            raise ValueError(f"{op}: per_sample_weights must have the input's shape {tuple(np.shape(idx))}, got "
                             f"{tuple(per_sample_weights.shape)}")
        psw = per_sample_weights.reshape(-1)
        if fixed is None:
            psw = psw[:flat.shape[0]]
        inputs = (weight, psw)
    args = Bags(flat, starts.astype(np.int64), counts, keep, mode, coef, fixed, bool(sparse), padding_idx)
    out, saved = EMBEDDING_BAG.fwd(args, *[x._data for x in inputs])
    req = any(x.requires_grad for x in inputs)
    return Tensor._make_saving(out, saved, EMBEDDING_BAG, inputs, args, req)
