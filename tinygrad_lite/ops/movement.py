"""Shape and indexing primitives: the gradient moves values back to where they came from."""
import numpy as np

from . import EachInput, LazyGrad, defop, is_array, permute
from .numpy_fast import index_add_ok, index_add_rows


class SliceGrad(LazyGrad):
    """The gradient of x[idx] for a basic index (ints, slices): zero except g at idx. It stays lazy
    until the engine needs it whole, so that the gradients of several slices of one tensor (the
    pieces of a split, shifted windows) are added into one buffer, slice by slice, instead of each
    filling a full-size array of zeros that is then added in full."""
    __slots__ = ("shape", "dtype", "idx", "g")

    def __init__(self, shape, idx, g):
        self.shape, self.dtype, self.idx, self.g = shape, g.dtype, idx, g

    def dense(self):
        out = np.zeros(self.shape, self.dtype)
        out[self.idx] = self.g
        return out

    def add_into(self, buf):
        """buf[idx] += g, in place; returns buf."""
        v = buf[self.idx]  # (not `buf[idx] += g`: Python would write the sum back through a second pass)
        if type(v) is np.ndarray:
            np.add(v, self.g, out=v)
        else:  # one element (a numpy scalar, not a view)
            buf[self.idx] += self.g
        return buf

    def __array__(self, dtype=None, copy=None):
        return self.dense() if dtype is None else self.dense().astype(dtype)


def _getitem_dx(g, ans, args, x):
    idx = args
    if type(g) is np.ndarray and _is_basic(idx):
        return SliceGrad(x.shape, idx, g)
    return index_scatter(g, x.shape, idx)


def _scatter_fwd(args, x):
    shape, idx = args
    if type(idx) is tuple and len(idx) == 1:
        idx = idx[0]
    if index_add_ok(idx, x) and x.shape == idx.shape + tuple(shape[1:]):  # rows gathered by an index array
        return index_add_rows(shape[0], idx.reshape(-1), x.reshape(idx.size, -1)).reshape(shape)
    out = np.zeros(shape, dtype=x.dtype)
    if _is_basic(idx):
        out[idx] = x
    else:
        np.add.at(out, idx, x)  # repeated indices accumulate
    return out


def _is_basic(idx):
    items = idx if type(idx) is tuple else (idx,)
    return all(i is None or i is Ellipsis or type(i) in (int, slice) for i in items)


def _cat_dx(i, g, ans, args, *xs):
    axis, bounds = args
    sl = [slice(None)] * g.ndim
    sl[axis] = slice(bounds[i], bounds[i + 1])
    return g[tuple(sl)]


RESHAPE = defop("reshape", lambda args, x: x.reshape(args),
                lambda g, ans, args, x: g.reshape(x.shape),
                forward="reshape(x)", math="gradient reshaped back", reads=False,
                rule="dx = reshape(dC, x.shape)", views=True)
PERMUTE = defop("permute", lambda args, x: x.transpose(args),
                lambda g, ans, args, x: permute(g, tuple(np.argsort(args))),
                forward="permute(x)", math="gradient permuted back",
                reads=False, rule="dx = permute(dC, inverse axes)")
EXPAND = defop("expand", lambda args, x: np.broadcast_to(x, args),
               lambda g, ans, args, x: g,
               forward="expand(x)", math="gradient summed over expanded dims (by the engine)", reads=False,
               rule="dx = Σ dC over the expanded dims", broadcasts=True)
GETITEM = defop("getitem", lambda args, x: x[args], _getitem_dx,
                forward="x[index]",
                math="gradient scattered back to the indexed positions, repeats accumulate", reads=False,
                rule="dx = zeros(x.shape) with dC added at the index (repeats accumulate)", saves=("index",))
# the adjoint of indexing, as an op of its own so that a create_graph backward through getitem is recorded
INDEX_SCATTER = defop("index_scatter", _scatter_fwd, lambda g, ans, args, x: g[args[1]],
                      forward="zeros with x added at idx",
                      math="the adjoint of indexing: d/dx = dC[idx]", rule="dx = dC[idx]", saves=("index",),
                      symbols={"idx": "the index the forward scattered x to (C = zeros with x added at idx)"})
CAT = defop("cat", lambda args, *xs: np.concatenate(xs, axis=args[0]), EachInput(_cat_dx),
            forward="cat(xᵢ)", math="each input gets its slice of the gradient", reads=False,
            rule="dxᵢ = the slice of dC that xᵢ occupied", views=True)


def index_scatter(g, shape, idx):
    """zeros(shape) with g added at idx (repeats accumulate); recorded as an op when g is a Tensor."""
    if is_array(g):  # (an ndarray or a numpy scalar: a 0-d result)
        return _scatter_fwd((shape, idx), g)
    return g._unary(INDEX_SCATTER, (shape, idx))
