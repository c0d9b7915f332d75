"""Fused primitives for nn on the hot path: embedding lookup and cross-entropy on class indices.

Each is one graph node instead of three to six, which matters for small models whose cost is
dominated by per-op Python overhead. Their vjps work on arrays (plain backward) and on Tensors
(`create_graph=True`), like every other row in the registry.
"""
import numpy as np

from . import defop, is_array, max_last, sum_last
from .movement import index_scatter
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
    out = index_scatter(g.reshape(-1, w.shape[1]), w.shape, idx.reshape(-1))
    if padding_idx is not None:
        keep = np.ones((w.shape[0], 1), g.dtype)
        keep[padding_idx] = 0
        out = out * keep
    return out


EMBEDDING = defop("embedding", _embedding_fwd, _embedding_dw,
                  forward="W[idx]",
                  math="y = W[idx]: dW = rows of g added at idx (repeats accumulate; padding row gets 0)",
                  rule="dW = zeros(W.shape) with the rows of dC added at the indices (repeats accumulate)",
                  saves=("index",), inputs=("W",), symbols={"idx": "the looked-up row indices"})


# ---------------------------------------------------------------------- cross-entropy on class indices
class CEArgs:
    """Non-tensor parameters of `cross_entropy_idx` for logits x of shape (M, C):

    target        (M,) class indices (ignored rows hold a safe index and a zero coefficient)
    nll_coef      the coefficient of -log p[i, target_i]: a number, or (M,) per row
    smooth_coef   (M,) the label-smoothing coefficient of -sum_c smooth_weight_c log p[i, c], or None
    smooth_weight (C,) class weights of the smoothing term, or None for ones
    reduce        True: the per-row losses are summed to a scalar
    """
    __slots__ = ("target", "nll_coef", "smooth_coef", "smooth_weight", "reduce")

    def __init__(self, target, nll_coef, smooth_coef, smooth_weight, reduce):
        self.target, self.nll_coef, self.smooth_coef = target, nll_coef, smooth_coef
        self.smooth_weight, self.reduce = smooth_weight, reduce


def _ce_fwd(args, x):
    """-> (loss, softmax(x)): the softmax is saved for the backward."""
    m = max_last(x)
    if not np.isfinite(m).all():  # a row of -inf, +inf or NaN: the general path, without warnings
        with np.errstate(invalid="ignore", divide="ignore"):
            return _ce_loss(args, x, np.where(np.isfinite(m), m, 0))
    return _ce_loss(args, x, m)  # finite maxima: x - m <= 0, the sums are >= 1, nothing can warn


def _ce_loss(args, x, m):
    z = x - m
    e = np.exp(z)
    se = sum_last(e)
    lse = np.log(se)[:, 0]
    picked = z[np.arange(x.shape[0]), args.target]
    sc, sw = args.smooth_coef, args.smooth_weight
    if sc is None and args.reduce and type(args.nll_coef) is float:  # the plain mean or sum: no per-row array
        out = (np.add.reduce(lse) - np.add.reduce(picked)) * args.nll_coef  # (the ufunc: .sum() adds a wrapper)
    else:
        loss = (lse - picked) * args.nll_coef
        if sc is not None:
            zs = z.sum(axis=1) if sw is None else z @ sw
            wsum = x.shape[1] if sw is None else sw.sum()
            loss = loss + sc * (wsum * lse - zs)
        out = loss.sum() if args.reduce else loss
    e /= se
    return np.asarray(out, dtype=x.dtype), e


def _ce_grads(g, ans, args, probs, needs, x):
    """The one rule of cross_entropy_idx: dx_i = (softmax(x_i) * sum of coefficients - coefficients) * g."""
    rows = np.arange(x.shape[0])
    sc, sw = args.smooth_coef, args.smooth_weight
    coef = args.nll_coef
    if sc is not None:
        coef = coef + sc * (x.shape[1] if sw is None else sw.sum())
    if is_array(g):
        if probs is None:  # (a Function-free replay with nothing saved: recompute the softmax)
            e = np.exp(x - max_last(x))
            probs = e / sum_last(e)
        gc = g * coef
        out = probs * (gc if gc.ndim == 0 else gc[:, None])  # (gc: a numpy scalar or array; np.ndim is slow)
        out[rows, args.target] -= g * args.nll_coef
        if sc is not None:
            gs = (g * sc)[:, None]
            out -= gs if sw is None else gs * sw
        return (out,)
    # create_graph: the same rule on Tensors (the target part is a constant matrix)
    target = np.zeros(x.shape, x.dtype)
    target[rows, args.target] = args.nll_coef
    if sc is not None:
        target += sc[:, None] * (1.0 if sw is None else sw)
    coef_col = np.broadcast_to(np.asarray(coef, x.dtype), (x.shape[0],))[:, None]
    gcol = g if args.reduce else g.reshape(-1, 1)
    return ((x.softmax(-1) * coef_col - target) * gcol,)


_CE_SYMBOLS = {
    "x_i": "row i of the logits x (one score per class)",
    "t_i": "the target class of row i",
    "target": "the target classes, one per row",
    "r_i": "row i's weight in the reduction: 1/N for reduction='mean' over N rows (w[t_i] / Σ_j w[t_j] "
           "with class weights w), 1 for 'sum' and 'none', 0 for an ignore_index row; times (1 - ε) with "
           "label_smoothing=ε",
    "smoothing": "the label-smoothing term: ε/C Σ_c -log softmax(x_i)_c over the C classes, weighted like "
                 "the row (0 without label_smoothing)",
    "coefs": "the weight of each class's -log softmax(x_i)_c in loss_i: r_i for the target class t_i plus "
             "every class's smoothing share (so sum(coefs) is the row's total weight)",
}
CROSS_ENTROPY_IDX = defop("cross_entropy_idx", _ce_fwd, joint=_ce_grads,
                          forward="Σ_i r_i (logsumexp(x_i) - x_i[t_i]) + smoothing",
                          math="loss_i = r_i (logsumexp(x_i) - x_i[t_i]) + smoothing; "
                               "dx_i = (softmax(x_i) sum(coefs) - coefs) g",
                          rule="dx = (softmax(x) - onehot(target)) * dC  (per row, with the reduction's weights)",
                          saves=("softmax(x)",), inputs=("x",), symbols=_CE_SYMBOLS)
