"""Primitives that real PyTorch scripts use beyond the core set: sin, cos, cumsum, flip, roll, einsum,
scatter and scatter_add. Everything else of that surface (sort, topk, index_select, repeat, narrow,
unbind, repeat_interleave, remainder...) is composed from rows (tinygrad_lite/tensor_ops.py).

Each rule is written once with operators and the helpers below, so it runs on arrays (a plain
backward) and on Tensors (create_graph=True) alike."""
import numpy as np

from . import EachInput, defop, is_array
from .movement import index_scatter
from . import numpy_fast
from .numpy_fast import copy_c


def _sin(x):
    return np.sin(x) if is_array(x) else x.sin()


def _cos(x):
    return np.cos(x) if is_array(x) else x.cos()


def _flip(x, axes):
    return np.flip(x, axes) if is_array(x) else x.flip(axes)


def _roll(x, shifts, axes):
    return np.roll(x, shifts, axes) if is_array(x) else x.roll(shifts, axes)


def _rcumsum(g, axis):
    """Cumulative sum from the end: the adjoint of cumsum (arrays: numpy_fast.cumsum, which writes it
    into a fresh buffer in place of the plain flip(cumsum(flip(g))) and its copy)."""
    if is_array(g):
        return numpy_fast.cumsum(np.asarray(g), axis, reverse=True)
    return g.flip(axis).cumsum(axis).flip(axis)


SIN = defop("sin", lambda a, x: np.sin(x), lambda g, ans, a, x: g * _cos(x),
            forward="sin(x)", math="d sin(x)/dx = cos(x)", rule="dx = dC * cos(x)", saves=("x",))
COS = defop("cos", lambda a, x: np.cos(x), lambda g, ans, a, x: -(g * _sin(x)),
            forward="cos(x)", math="d cos(x)/dx = -sin(x)", rule="dx = -dC * sin(x)", saves=("x",))
CUMSUM = defop("cumsum", lambda axis, x: numpy_fast.cumsum(x, axis), lambda g, ans, axis, x: _rcumsum(g, axis),
               forward="cumsum(x)",
               math="out_i = sum_{j<=i} x_j; dx_j = sum_{i>=j} g_i (a reversed cumsum)", rule="dx = reversed cumsum of dC",
               reads=False)
FLIP = defop("flip", lambda axes, x: np.flip(x, axes).copy(), lambda g, ans, axes, x: _flip(g, axes),
             forward="flip(x)", math="the gradient flipped back", rule="dx = flip(dC)", reads=False)
ROLL = defop("roll", lambda a, x: np.roll(x, a[0], a[1]),
             lambda g, ans, a, x: _roll(g, tuple(-s for s in a[0]), a[1]),
             forward="roll(x, shifts)",
             math="the gradient rolled back by -shifts", rule="dx = roll(dC, -shifts)", reads=False,
             symbols={"shifts": "the forward's shifts (along its dims)"})
CONTIGUOUS = defop("contiguous", lambda a, x: x if x.flags.c_contiguous else copy_c(x), lambda g, ans, a, x: g,
                   forward="x (a row-major copy)",
                   math="a row-major copy: the gradient passes unchanged", rule="dx = dC", reads=False)


# ---- einsum: the gradient of one operand is an einsum of the output gradient with the other operands
# np.einsum's own loops run a contraction such as "ij,jk->ik" ~18x slower than BLAS (512x512 float32:
# 23 ms vs 1.3 ms); with a contraction path given (optimize=[...]) numpy hands it to tensordot/BLAS but
# spends ~7 us more per call, so small operands keep the plain loops (8x8: 1.7 vs 8 us; 64x64: 43 vs 13).
_PATH_MIN = 2048  # elements in the largest operand
_PAIR = ["einsum_path", (0, 1)]


def np_einsum(eq, *xs):
    """np.einsum on arrays, through BLAS when worth it (the reference spelling: np.einsum(eq, *xs))."""
    if len(xs) > 2:
        return np.einsum(eq, *xs, optimize=True)
    if len(xs) == 2 and max(xs[0].size, xs[1].size) >= _PATH_MIN:
        return np.einsum(eq, *xs, optimize=_PAIR)
    return np.einsum(eq, *xs)


def _einsum(eq, *xs):
    if all(is_array(x) for x in xs):
        return np_einsum(eq, *xs)
    from .. import einsum
    return einsum(eq, *xs)


def _einsum_dx(i, g, ans, args, *xs):
    ins, out = args
    target = ins[i]
    others = [s for j, s in enumerate(ins) if j != i]
    avail = set(out).union(*others) if others else set(out)
    kept = "".join(c for c in target if c in avail)  # letters summed inside operand i alone come back by broadcast
    gx = _einsum(",".join([out] + others) + "->" + kept, g, *[x for j, x in enumerate(xs) if j != i])
    if kept != target:
        shape = tuple(xs[i].shape[k] if c not in avail else -1 for k, c in enumerate(target))
        view = tuple(1 if c not in avail else gx.shape[kept.index(c)] for c in target)
        gx = gx.reshape(view)
        full = tuple(xs[i].shape[k] if s != -1 else view[k] for k, s in enumerate(shape))
        gx = np.broadcast_to(gx, full) if is_array(gx) else gx.expand(full)
    return gx


EINSUM = defop("einsum", lambda args, *xs: np_einsum(",".join(args[0]) + "->" + args[1], *xs), EachInput(_einsum_dx),
               forward="einsum(subscripts, xᵢ)", math="d/dx_i: the output gradient contracted with the other operands",
               rule="dxᵢ = einsum(dC, the other operands -> xᵢ's subscripts)", saves=("operands",))


# ---- scatter: out = x with src written (or added) at index along a dim
def _scatter_index(index, dim):
    """The full numpy index that puts element (i, j, k...) of `index` at position index[i, j, k] along dim."""
    grids = list(np.ix_(*[np.arange(s) for s in index.shape]))
    grids[dim] = index
    return tuple(grids)


def _flat_index(index, dim, shape):
    """The positions _scatter_index(index, dim) names in a row-major array of `shape`, as one int array of
    index's shape: numpy's indexing with one flat int array runs ~2x faster than with a grid per dim
    (1024x512 positions in a 1024x1024 float32 array: write 0.9 vs 1.7 ms, gather 0.7 vs 1.5 ms)."""
    step = [1] * len(shape)  # row-major strides, in elements
    for k in range(len(shape) - 2, -1, -1):
        step[k] = step[k + 1] * shape[k + 1]
    flat = index.astype(np.int64) * step[dim]
    for k, n in enumerate(index.shape):
        if k != dim and n > 1:
            flat += (np.arange(n, dtype=np.int64) * step[k]).reshape((n,) + (1,) * (index.ndim - 1 - k))
    return flat


def _scatter_fwd(a, x, src):
    dim, index, add = a
    out = np.array(x, order="C")
    flat = out.reshape(-1)  # (a view: out is row-major)
    at = _flat_index(index, dim, x.shape)  # (the reference: out[_scatter_index(index, dim)], tested against it)
    s = np.broadcast_to(src, index.shape) if np.ndim(src) == 0 else src[tuple(slice(0, n) for n in index.shape)]
    if add:
        np.add.at(flat, at, s)
    else:
        flat[at] = s
    return out


def _gather_g(g, index, dim):
    if is_array(g):
        return np.asarray(g).reshape(-1)[_flat_index(index, dim, np.shape(g))]
    return g[_scatter_index(index, dim)]


def _scatter_dx(g, ans, a, x, src):
    dim, index, add = a
    if add:
        return g
    if is_array(g):  # overwritten positions get no gradient: exactly 0 (not g * 0, which keeps NaN and -0)
        out = np.array(g, order="C")
        out.reshape(-1)[_flat_index(index, dim, out.shape)] = 0
        return out
    mask = np.ones(x.shape, bool)
    mask[_scatter_index(index, dim)] = False
    return g * mask


def _scatter_dsrc(g, ans, a, x, src):
    dim, index, add = a
    gs = _gather_g(g, index, dim)
    if tuple(src.shape) != tuple(index.shape):  # src may be bigger than index: only its leading block was used
        return index_scatter(gs, tuple(src.shape), tuple(slice(0, n) for n in index.shape))
    return gs


SCATTER = defop("scatter", _scatter_fwd, _scatter_dx, _scatter_dsrc,
                forward="x with src written at index (scatter_add: added)",
                math="out = x with src at index (scatter_add: added); dx = g off the written places "
                     "(all of g for scatter_add), dsrc = g gathered at index",
                rule="dx = dC off the written places, dsrc = dC gathered at index", saves=("index",),
                inputs=("x", "src"))


def _remainder_dy(g, ans, a, x, y):
    # PyTorch's rule: -g * x.div(y, rounding_mode="floor"), whose floor division is np.floor_divide's
    # (fmod-based: not np.floor(x / y), which is one off where x / y rounds up to a whole number)
    if is_array(x) and is_array(y):
        with np.errstate(divide="ignore", invalid="ignore"):
            q = numpy_fast.floor_divide(x, y)
        if type(q) is np.ndarray and type(g) is np.ndarray and q.shape == g.shape and q.dtype == g.dtype:
            np.multiply(q, g, out=q)  # (in place: no second full-size buffer)
            return np.negative(q, out=q)
        return -(g * q)
    return -(g * x.floor_divide(y))  # (create_graph: the same floor division, a constant of the graph)


REMAINDER = defop("remainder", lambda a, x, y: numpy_fast.remainder(x, y),
                  lambda g, ans, a, x, y: g, _remainder_dy,
                  forward="x - floor(x / y) * y", math="x - floor(x/y) * y (the sign of y): dx = 1, dy = -floor(x/y)",
                  rule="dx = dC, dy = -dC * floor(x / y)", saves=("x", "y"), broadcasts=True)
