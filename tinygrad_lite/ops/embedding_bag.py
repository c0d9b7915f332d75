"""embedding_bag: the rows of a weight gathered and reduced per bag in one row (PyTorch's F.embedding_bag).

A bag is a list of row ids; the result's row b is the sum, mean or max of the weight's rows in bag b.
As one primitive (sum/mean: a sparse (bags, V) matrix of the entries' coefficients times W forward,
a sparse (rows, bags) matrix times dC backward, giving the weight's gradient already coalesced) it
makes no (bags, n, d) copy of the rows, where the composed version (embedding, mask, sum, divide)
records four nodes and their temporaries. Entries equal to `padding_idx` are left out of their bag (and out of a mean's count);
an empty bag gives a zero row.

The row's args are a `Bags`: every entry's row id `idx` (M,), the bag it belongs to `bag` (M,), the
bags' first entries `starts` (B,), which entries are real (`keep`: not padding), the mode, and for
sum/mean the entry coefficients `coef` (M,) (1 for sum, or the per-sample weight; 1/count for mean).

  sum/mean:  out[b] = sum_{e in b} coef[e] W[idx[e]]
             dW[idx[e]] += coef[e] dC[b]                  (row-sparse when `sparse`)
             dpsw[e] = W[idx[e]] . dC[b]                 (sum mode with per_sample_weights)
  max:       out[b, j] = max_{e in b} W[idx[e], j]
             dW[idx[e], j] += dC[b, j] where e is the (first) entry holding bag b's maximum in column j
"""
import numpy as np

from . import defop, is_array, where
from .movement import index_scatter
from .sparse_matmul import csr_matmul, rows_sum

MODES = ("sum", "mean", "max")


class Bags:
    """How M entries fall into B bags (see the module docstring); built by `F.embedding_bag`."""
    __slots__ = ("idx", "bag", "starts", "counts", "keep", "coef", "mode", "n_bags", "fixed", "sparse", "has_pad",
                 "pad")

    def __init__(self, idx, starts, n_entries_per_bag, keep, mode, coef, fixed, sparse, pad=None):
        self.idx, self.starts, self.counts, self.keep = idx, starts, n_entries_per_bag, keep
        self.mode, self.coef, self.fixed, self.sparse = mode, coef, fixed, sparse
        self.n_bags = starts.shape[0]
        self.bag = np.repeat(np.arange(self.n_bags), n_entries_per_bag)
        self.has_pad = not keep.all()
        self.pad = pad  # the padding row (its entries have keep False and coef 0), or None

    def gather(self, w):
        """W[idx] with padding entries' rows zeroed (M, d): a fresh array."""
        rows = w[self.idx]
        if self.has_pad:
            rows[~self.keep] = 0
        return rows

    def reduce_sum(self, rows):
        """(M, d) -> (B, d): the sum of each bag's rows (empty bags: 0)."""
        d = rows.shape[1:]
        if self.fixed is not None:  # every bag has `fixed` entries: a reshape and a sum over them
            return rows.reshape((self.n_bags, self.fixed) + d).sum(1)
        out = np.zeros((self.n_bags,) + d, rows.dtype)
        full = self.counts > 0
        if rows.shape[0]:
            out[full] = np.add.reduceat(rows, self.starts[full], axis=0)
        return out


def _bag_fwd(args, w, psw=None):
    """-> (out (B, d), saved): saved is the (M, d) mask of the entries holding each column's max (max mode)."""
    if args.mode != "max":
        coef = args.coef if psw is None else args.coef * psw
        if w.dtype.kind == "f" and w.dtype.itemsize >= 4 and w.ndim == 2:
            # a sparse (bags, V) matrix of the coefficients times W: reads only the bags' rows and makes no
            # (M, d) copy of them (the gather + sum takes 10x longer once those rows outgrow the cache:
            # 2.6 ms vs 0.15 ms for 1,024 bags of 10 rows of 100 floats, measured)
            if args.has_pad and (psw is not None or args.pad is None or not np.isfinite(w[args.pad]).all()):
                k = args.keep  # leave the padding entries out (else their coefficient 0 times the row adds 0)
                indptr = np.zeros(args.n_bags + 1, np.int64)
                np.cumsum(np.bincount(args.bag[k], minlength=args.n_bags), out=indptr[1:])
                data, cols = coef[k], args.idx[k]
            else:  # every entry, in order: bag b's run from starts[b] (padding entries have coefficient 0)
                indptr, data, cols = np.append(args.starts, args.idx.shape[0]), coef, args.idx
            return csr_matmul(data.astype(w.dtype, copy=False), cols, indptr, (args.n_bags, w.shape[0]), w), None
        rows = args.gather(w)
        rows *= coef.astype(rows.dtype, copy=False)[:, None]
        return args.reduce_sum(rows), None
    rows = args.gather(w)
    if args.has_pad:
        rows[~args.keep] = -np.inf
    out = np.zeros((args.n_bags,) + w.shape[1:], w.dtype)
    full = args.counts > 0
    if rows.shape[0]:
        out[full] = np.maximum.reduceat(rows, args.starts[full], axis=0)
    out[~np.isfinite(out) & (out < 0)] = 0  # a bag of padding only
    hit = (rows == out[args.bag]) & args.keep[:, None]
    # only the first entry of a bag holding a column's maximum gets its gradient (as PyTorch's CPU
    # kernel): its running count of hits within the bag is 1
    csum = np.cumsum(hit, axis=0, dtype=np.int64)
    prior = np.zeros((args.n_bags,) + w.shape[1:], np.int64)
    if rows.shape[0]:
        fs = args.starts[full]
        prior[full] = csum[fs] - hit[fs]
    sel = hit & (csum - prior[args.bag] == 1)
    return out, sel


def _bag_grads(g, ans, args, saved, needs, w, psw=None):
    """The one rule for the weight (and per_sample_weights)."""
    dw = None
    if needs[0]:
        if args.mode != "max" and is_array(g) and g.dtype.kind == "f" and g.dtype.itemsize >= 4:
            dw = _summed_rows(g, args, args.coef if psw is None else args.coef * psw, w.shape)
        else:
            gb = g[args.bag]                               # (M, d): each entry's bag's gradient
            if args.mode == "max":
                vals = gb * saved if is_array(gb) else where(saved, gb, 0.0)
            else:
                c = args.coef if psw is None else (args.coef * psw if is_array(psw) else psw * args.coef)
                vals = gb * (c[:, None] if is_array(c) else c.reshape(-1, 1))
            if is_array(vals):
                from ..sparse import RowSparseGrad
                k = args.keep
                grad = RowSparseGrad(args.idx[k], vals[k], w.shape)
                dw = grad if args.sparse else grad.dense()
            else:  # create_graph: a dense, recorded scatter
                if args.has_pad:
                    vals = where(args.keep[:, None], vals, 0.0)
                dw = index_scatter(vals, w.shape, args.idx)
    return dw, _psw_grad(g, args, needs, w, psw)


def _summed_rows(g, args, coef, shape):
    """dW for sum/mean, coalesced: each touched row's sum of coef[e] g[bag[e]] over its entries, as one
    sparse (rows, bags) @ (bags, d) product (no (M, d) copy of the bags' gradients)."""
    from ..sparse import RowSparseGrad
    width = int(np.prod(shape[1:], dtype=np.int64))
    coef, gw = coef.astype(g.dtype, copy=False), g.reshape(args.n_bags, width)
    if not args.has_pad:
        rows, vals = rows_sum(args.idx, args.bag, coef, gw, shape[0])
    elif args.pad is not None:  # padding entries are left out by row (no boolean indexing of the entries)
        rows, vals = rows_sum(args.idx, args.bag, coef, gw, shape[0], skip=args.pad)
    else:
        k = args.keep
        rows, vals = rows_sum(args.idx[k], args.bag[k], coef[k], gw, shape[0])
    vals = vals.reshape((rows.shape[0],) + shape[1:])
    grad = RowSparseGrad(rows, vals, shape, _coalesced=True)
    return grad if args.sparse else grad.dense()


def _psw_grad(g, args, needs, w, psw):
    """d per_sample_weights[e] = W[idx[e]] . dC[bag[e]] (0 for padding entries); None when not asked."""
    if psw is None or len(needs) < 2 or not needs[1]:
        return None
    prod = w[args.idx] * g[args.bag]
    dpsw = prod.sum(1) if is_array(prod) else prod.sum(-1)
    return where(args.keep, dpsw, 0.0) if args.has_pad else dpsw


EMBEDDING_BAG = defop("embedding_bag", _bag_fwd, joint=_bag_grads,
                      forward="out[b] = Σ_{e in b} c_e W[idx_e] (sum, mean; max: the maximum over the bag, per column)",
                      math="out[b] = Σ_{e in b} c_e W[idx_e] (sum/mean; max: the maximum per column); dW[idx_e] += c_e dC[b]",
                      rule="dW = rows idx_e get c_e dC[bag_e] (max: only the entry that gives each column's maximum); "
                           "dpsw = W[idx_e] · dC[bag_e] for each entry e",
                      saves=("index", "max mask"), inputs=("W", "psw"),
                      symbols={"b": "a bag (one output row)", "e": "an entry of the input (one looked-up row)",
                               "idx_e": "entry e's row index", "bag_e": "the bag entry e belongs to",
                               "c_e": "entry e's coefficient: 1 (sum), 1/|bag| (mean), times psw_e if given",
                               "entry": "an element of the input", "out": "the result (B, embedding_dim)"})
