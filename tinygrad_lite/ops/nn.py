"""Fused primitives for nn on the hot path: embedding lookup and cross-entropy on class indices.

Each is one graph node instead of three to six, which matters for small models whose cost is
dominated by per-op Python overhead. Their vjps work on arrays (plain backward) and on Tensors
(`create_graph=True`), like every other row in the registry.
"""
import numpy as np

from . import defop, is_array, max_last, sum_last
from .movement import SCATTER_ADD_APPLY
from .numpy_fast import index_add_ok, index_add_rows


# ---------------------------------------------------------------------- embedding: y = W[idx]
def _embedding_fwd(args, w):
    idx, padding_idx = args
    return np.take(w, idx, axis=0)  # always a copy (w[0-d index] would be a view of w)


def _embedding_dw(g, ans, args, w):
    idx, padding_idx = args
    if is_array(g) and index_add_ok(idx, g, 1024):
        out = index_add_rows(w.shape[0], idx.reshape(-1), g.reshape(-1, w.shape[1]))
        if padding_idx is not None:
            out[padding_idx] = 0
        return out
    if is_array(g):
        out = np.zeros(w.shape, g.dtype)
        flat = idx.reshape(-1)
        if flat.size:
            # sort the rows by index and sum each run (np.add.reduceat): ~5x faster than np.add.at
            order = np.argsort(flat, kind="stable")
            s = flat[order]
            starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
            out[s[starts]] = np.add.reduceat(g.reshape(-1, w.shape[1])[order], starts, axis=0)
        if padding_idx is not None:
            out[padding_idx] = 0
        return out
    out = SCATTER_ADD_APPLY(g.reshape(-1, w.shape[1]), w.shape, idx.reshape(-1))
    if padding_idx is not None:
        keep = np.ones((w.shape[0], 1), g.dtype)
        keep[padding_idx] = 0
        out = out * keep
    return out


EMBEDDING = defop("embedding", _embedding_fwd, _embedding_dw,
                  math="y = W[idx]: dW = rows of g added at idx (repeats accumulate; padding row gets 0)")


# ---------------------------------------------------------------------- cross-entropy on class indices
class CEArgs:
    """Non-tensor parameters of `cross_entropy_idx` for logits x of shape (M, C):
    t (M,) safe class indices; r the coefficient of -log p[i, t_i] (scalar or (M,));
    s the label-smoothing coefficient ((M,) or None) of -sum_c w_c log p[i, c]; w (C,) class
    weights for the smoothing term (None = ones); reduce: sum the per-row losses to a scalar.
    `probs` caches the forward's softmax for the backward pass."""
    __slots__ = ("t", "r", "s", "w", "reduce", "probs")

    def __init__(self, t, r, s, w, reduce):
        self.t, self.r, self.s, self.w, self.reduce, self.probs = t, r, s, w, reduce, None


def _ce_fwd(a, x):
    m = max_last(x)
    if not np.isfinite(m).all():  # a row of -inf, +inf or NaN: the general path, without warnings
        with np.errstate(invalid="ignore", divide="ignore"):
            return _ce_loss(a, x, np.where(np.isfinite(m), m, 0))
    return _ce_loss(a, x, m)  # finite maxima: x - m <= 0, the sums are >= 1, nothing can warn


def _ce_loss(a, x, m):
    z = x - m
    e = np.exp(z)
    se = sum_last(e)
    lse = np.log(se)[:, 0]
    picked = z[np.arange(x.shape[0]), a.t]
    if a.s is None and a.reduce and type(a.r) is float:  # the plain mean or sum: no per-row loss array
        out = (np.add.reduce(lse) - np.add.reduce(picked)) * a.r  # (the ufunc: .sum() adds a Python wrapper)
    else:
        loss = (lse - picked) * a.r
        if a.s is not None:
            zs = z.sum(axis=1) if a.w is None else z @ a.w
            wsum = x.shape[1] if a.w is None else a.w.sum()
            loss = loss + a.s * (wsum * lse - zs)
        out = loss.sum() if a.reduce else loss
    e /= se
    a.probs = e
    return np.asarray(out, dtype=x.dtype)


def _ce_dx(g, ans, a, x):
    rows = np.arange(x.shape[0])
    coef = a.r
    if a.s is not None:
        coef = coef + a.s * (x.shape[1] if a.w is None else a.w.sum())
    if is_array(g):
        out = a.probs  # the forward's softmax, ours to overwrite: it is used once
        a.probs = None  # (M, C): not kept alive by a loss tensor the caller holds on to after backward
        if out is None or out.shape != x.shape:  # a second backward (retain_graph): recompute it
            e = np.exp(x - max_last(x))
            out = e / sum_last(e)
        gr = g * a.r
        gc = g * coef
        out *= gc if gc.ndim == 0 else gc[:, None]  # (gc: a numpy scalar or array; np.ndim is slow)
        out[rows, a.t] -= gr
        if a.s is not None:
            gs = (g * a.s)[:, None]
            out -= gs if a.w is None else gs * a.w
        return out
    # create_graph: the same rule on Tensors (the target part is a constant matrix)
    target = np.zeros(x.shape, x.dtype)
    target[rows, a.t] = a.r
    if a.s is not None:
        target += a.s[:, None] * (1.0 if a.w is None else a.w)
    coef_col = np.broadcast_to(np.asarray(coef, x.dtype), (x.shape[0],))[:, None]
    gcol = g if a.reduce else g.reshape(-1, 1)
    return (x.softmax(-1) * coef_col - target) * gcol


CROSS_ENTROPY_IDX = defop("cross_entropy_idx", _ce_fwd, _ce_dx,
                          math="loss_i = r_i (logsumexp(x_i) - x_i[t_i]) + smoothing; "
                               "dx_i = (softmax(x_i) sum(coefs) - coefs) g")
