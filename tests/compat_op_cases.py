"""Hypothesis cases (float64 gradcheck + numpy forward) for the rows in tinygrad_lite/ops/extra.py,
merged into OP_CASES by test_ops_gradcheck.py. PyTorch comparisons: tests/torch/test_compat_ops_vs_torch.py."""
import numpy as np
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor

from helpers import broadcastable_shapes, rng_values, seeds, shapes


def case(fn, ref, *arrays, **kw):
    return fn, ref, arrays, kw


@st.composite
def _unary(draw, method, ref):
    x = rng_values(draw(shapes()), seed=draw(seeds), lo=-4, hi=4)
    return case(lambda t: getattr(t, method)(), ref, x)


@st.composite
def _cumsum(draw):
    shape = draw(shapes(min_dims=1))
    d = draw(st.integers(-len(shape), len(shape) - 1))
    return case(lambda t: t.cumsum(d), lambda a: np.cumsum(a, d), rng_values(shape, seed=draw(seeds)))


@st.composite
def _flip(draw):
    shape = draw(shapes(min_dims=1))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    return case(lambda t: t.flip(dims), lambda a: np.flip(a, dims), rng_values(shape, seed=draw(seeds)))


@st.composite
def _roll(draw):
    shape = draw(shapes(min_dims=1))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    shifts = [draw(st.integers(-5, 5)) for _ in dims]
    return case(lambda t: t.roll(shifts, dims), lambda a: np.roll(a, shifts, dims), rng_values(shape, seed=draw(seeds)))


_EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("i,i->", [(3,), (3,)]),
            ("i,j->ij", [(3,), (2,)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("ijk->j", [(2, 3, 2)]),
            ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 4)]), ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 4, 2)]),
            ("ij,kj->i", [(2, 3), (4, 3)]), ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 1)]), ("ij,j", [(2, 3), (3,)])]


@st.composite
def _einsum(draw):
    eq, shp = draw(st.sampled_from(_EINSUMS))
    arrs = [rng_values(s, seed=draw(seeds)) for s in shp]
    return case(lambda *ts: tl.einsum(eq, *ts), lambda *a: np.einsum(eq, *a), *arrs)


@st.composite
def _scatter(draw):
    shape = draw(shapes(min_dims=1))
    d = draw(st.integers(0, len(shape) - 1))
    add = draw(st.booleans())
    rng = np.random.default_rng(draw(seeds))
    ishape = tuple(rng.integers(1, n + 1) for n in shape)
    if add:
        index = rng.integers(0, shape[d], ishape)
    else:  # scatter with repeated targets is order-dependent in PyTorch too: distinct targets along d
        index = np.argsort(rng.random(shape), axis=d)[tuple(slice(0, n) for n in ishape)]
    x, src = rng_values(shape, seed=draw(seeds)), rng_values(ishape, seed=draw(seeds))

    def ref(a, s):
        out = a.copy()
        grids = list(np.ix_(*[np.arange(n) for n in ishape]))
        grids[d] = index
        (np.add.at(out, tuple(grids), s) if add else out.__setitem__(tuple(grids), s))
        return out
    fn = (lambda t, s: t.scatter_add(d, Tensor(index), s)) if add else (lambda t, s: t.scatter(d, Tensor(index), s))
    return case(fn, ref, x, src)


@st.composite
def _remainder(draw):
    shape = draw(shapes())
    x = rng_values(shape, seed=draw(seeds), lo=-5, hi=5)
    y = rng_values(shape, seed=draw(seeds), away=0.5, hi=2)
    # keep x/y away from integers, where floor(x/y) (and so x % y) jumps
    q = x / y
    x = np.where(np.abs(q - np.round(q)) < 0.05, x + 0.2 * y, x)
    return case(lambda a, b: a % b, np.remainder, x, y)


@st.composite
def _contiguous(draw):
    shape = draw(shapes(min_dims=2, min_side=2))
    return case(lambda t: t.transpose(0, 1).contiguous(), lambda a: np.ascontiguousarray(a.swapaxes(0, 1)),
                rng_values(shape, seed=draw(seeds)))


@st.composite
def _prod(draw):
    """prod over all dims or one, with 0, 1 or 2 zeros in the input (the rule's three cases)."""
    shape = draw(shapes())
    x = rng_values(shape, seed=draw(seeds), lo=0.5, hi=1.5) * np.random.default_rng(draw(seeds)).choice([-1, 1], shape)
    flat = x.reshape(-1)
    for i in draw(st.lists(st.integers(0, max(flat.size - 1, 0)), max_size=2)):
        flat[i] = 0.0
    dim = draw(st.one_of(st.none(), st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))) if shape else None
    keep = draw(st.booleans())
    if dim is None:
        return case(lambda t: t.prod(), lambda a: np.prod(a), x)
    return case(lambda t: t.prod(dim, keepdim=keep), lambda a: np.prod(a, axis=dim, keepdims=keep), x)


@st.composite
def _log1p_expm1(draw, method, ref, lo):
    x = rng_values(draw(shapes()), seed=draw(seeds), lo=lo, hi=2)
    return case(lambda t: getattr(t, method)(), ref, x)


@st.composite
def _inverse_trig(draw, method, ref):
    x = rng_values(draw(shapes()), seed=draw(seeds), lo=-0.9, hi=0.9)  # away from +-1, where d/dx is infinite
    return case(lambda t: getattr(t, method)(), ref, x)


@st.composite
def _atan2(draw):
    """atan2 of broadcasting operands, the points kept away from the origin and the negative x axis (the branch cut)."""
    sy, sx = draw(broadcastable_shapes(2))
    y = rng_values(sy, seed=draw(seeds), lo=0.2, hi=2) * np.random.default_rng(draw(seeds)).choice([-1, 1], sy)
    x = rng_values(sx, seed=draw(seeds), lo=-2, hi=2)
    return case(lambda a, b: a.atan2(b), np.arctan2, y, x)


COMPAT_OP_CASES = {
    "prod": _prod(),
    "log1p": _log1p_expm1("log1p", np.log1p, -0.5),
    "expm1": _log1p_expm1("expm1", np.expm1, -2),
    "atan": _log1p_expm1("atan", np.arctan, -3),
    "asin": _inverse_trig("asin", np.arcsin),
    "acos": _inverse_trig("acos", np.arccos),
    "atan2": _atan2(),
    "sin": _unary("sin", np.sin),
    "cos": _unary("cos", np.cos),
    "cumsum": _cumsum(),
    "flip": _flip(),
    "roll": _roll(),
    "einsum": _einsum(),
    "scatter": _scatter(),
    "remainder": _remainder(),
    "contiguous": _contiguous(),
}
