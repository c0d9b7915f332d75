"""Every primitive in the op registry, gradchecked (float64) on hypothesis shapes and checked
against numpy; then the composed ops built on them."""
import importlib
import pkgutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.ops import REGISTRY

from helpers import assert_close, broadcastable_shapes, check_grad, rng_values, seeds, shapes

ROOT = Path(__file__).resolve().parents[1]


def _import_all_engine_modules():
    """Import every tinygrad_lite submodule so that ops registered anywhere are in REGISTRY."""
    for m in pkgutil.walk_packages(tl.__path__, "tinygrad_lite."):
        try:
            importlib.import_module(m.name)
        except ImportError:  # optional modules (e.g. graphviz-backed) may be absent
            pass


_import_all_engine_modules()


# --------------------------------------------------------------------------- the op table
# Each entry: a hypothesis strategy of cases (fn on Tensors, numpy reference on arrays, input arrays,
# gradcheck kwargs). `fn` must apply the registry op named by the key.

def case(fn, ref, *arrays, **kw):
    return fn, ref, arrays, kw


def binary(fn, ref, lo=-2.0, hi=2.0, away=None, lo_y=None, hi_y=None, away_y=None):
    @st.composite
    def strat(draw):
        sx, sy = draw(broadcastable_shapes(2))
        x = rng_values(sx, lo, hi, draw(seeds), away)
        y = rng_values(sy, lo if lo_y is None else lo_y, hi if hi_y is None else hi_y, draw(seeds), away_y)
        return case(fn, ref, x, y)
    return strat()


def unary(fn, ref, lo=-2.0, hi=2.0, away=None, **kw):
    @st.composite
    def strat(draw):
        x = rng_values(draw(shapes()), lo, hi, draw(seeds), away)
        return case(fn, ref, x, **kw)
    return strat()


@st.composite
def dims_of(draw, shape):
    """None (all dims), one int dim (maybe negative), or a tuple of dims."""
    nd = len(shape)
    if nd == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-nd, nd - 1))
    return tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))


def np_axis(dim):
    return dim


def reduction(method, ref):
    @st.composite
    def strat(draw):
        shape = draw(shapes())
        dim = draw(dims_of(shape))
        keep = draw(st.booleans())
        x = rng_values(shape, -2, 2, draw(seeds))
        return case(lambda t: getattr(t, method)(dim, keep), lambda a: ref(a, dim, keep), x)
    return strat()


def _np_logsumexp(a, dim, keep):
    m = a.max(axis=dim, keepdims=True)
    r = np.log(np.exp(a - m).sum(axis=dim, keepdims=True)) + m
    return r if keep else r.squeeze(axis=dim) if dim is not None else r.reshape(())


def _np_softmax(a, dim):
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


@st.composite
def _softmax_case(draw, log=False):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    x = rng_values(shape, -3, 3, draw(seeds))
    if log:
        return case(lambda t: t.log_softmax(dim), lambda a: np.log(_np_softmax(a, dim)), x)
    return case(lambda t: t.softmax(dim), lambda a: _np_softmax(a, dim), x)


@st.composite
def _matmul_case(draw):
    kind = draw(st.sampled_from(["1x1", "1x2", "2x1", "2x2", "batched", "1xN", "Nx1"]))
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    b1, b2 = draw(broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=3))
    sx, sy = {"1x1": ((k,), (k,)), "1x2": ((k,), (k, m)), "2x1": ((n, k), (k,)), "2x2": ((n, k), (k, m)),
              "batched": (b1 + (n, k), b2 + (k, m)), "1xN": ((k,), b2 + (k, m)), "Nx1": (b1 + (n, k), (k,))}[kind]
    return case(lambda a, b: a @ b, np.matmul, rng_values(sx, seed=draw(seeds)), rng_values(sy, seed=draw(seeds)))


@st.composite
def _clamp_case(draw):
    shape = draw(shapes())
    lo, hi = draw(st.sampled_from([(-0.5, 0.5), (None, 0.25), (-0.25, None), (0.1, 1.0)]))
    x = rng_values(shape, -2, 2, draw(seeds))
    # keep values away from the bounds, where the derivative jumps
    for b in (lo, hi):
        if b is not None:
            x = np.where(np.abs(x - b) < 0.01, x + 0.05, x)
    return case(lambda t: t.clamp(lo, hi), lambda a: np.clip(a, lo, hi), x)


@st.composite
def _where_case(draw):
    sc, sx, sy = draw(broadcastable_shapes(3))
    c = np.random.default_rng(draw(seeds)).random(sc) < 0.5
    x, y = rng_values(sx, seed=draw(seeds)), rng_values(sy, seed=draw(seeds))
    return case(lambda a, b, cond=Tensor(c): tl.where(cond, a, b), lambda a, b: np.where(c, a, b), x, y)


@st.composite
def _pow_scalar_case(draw):
    p = draw(st.sampled_from([0, 1, 2, 3, -1, 0.5, -1.5, 2.5]))
    x = rng_values(draw(shapes()), 0.3, 2.0, draw(seeds))
    return case(lambda t: t ** p, lambda a: a ** p, x)


@st.composite
def _cast_case(draw):
    x = rng_values(draw(shapes()), -2, 2, draw(seeds))
    # float64 -> float32 -> float64: identity up to float32 rounding, so finite differences need a big eps
    return case(lambda t: (t.to(tl.float32) * 3.0).to(tl.float64),
                lambda a: (a.astype(np.float32) * np.float32(3)).astype(np.float64), x,
                eps=1e-2, atol=1e-3, rtol=1e-3, fwd_rtol=1e-6)


@st.composite
def _reshape_case(draw):
    shape = draw(shapes(min_dims=1))
    n = int(np.prod(shape))
    new = draw(st.sampled_from([s for s in [(n,), (1, n), (n, 1), (1, -1, 1), (1,) + shape] if s != shape]))
    x = rng_values(shape, seed=draw(seeds))
    return case(lambda t: t.reshape(new), lambda a: a.reshape(new), x)


@st.composite
def _permute_case(draw):
    shape = draw(shapes(min_dims=1))
    perm = tuple(draw(st.permutations(range(len(shape)))))
    x = rng_values(shape, seed=draw(seeds))
    return case(lambda t: t.permute(perm), lambda a: a.transpose(perm), x)


@st.composite
def _expand_case(draw):
    small, big = draw(broadcastable_shapes(2))
    target = (2,) + np.broadcast_shapes(small, big)  # a leading new dim, so expand is never a no-op
    x = rng_values(small, seed=draw(seeds))
    return case(lambda t: t.expand(target) * 1.0, lambda a: np.broadcast_to(a, target), x)


@st.composite
def _getitem_case(draw):
    shape = draw(shapes(min_dims=1))
    rng = np.random.default_rng(draw(seeds))
    kind = draw(st.sampled_from(["int", "neg", "slice", "step", "intarray", "bool", "tuple", "ellipsis"]))
    n0 = shape[0]
    idx = {"int": 0, "neg": -1, "slice": slice(0, max(1, n0 - 1)), "step": slice(None, None, 2),
           "intarray": rng.integers(0, n0, size=5),  # repeats: gradients accumulate
           "bool": rng.random(shape) < 0.5,
           "tuple": (slice(None),) + ((-1,) if len(shape) > 1 else ()),
           "ellipsis": (Ellipsis, 0)}[kind]
    x = rng_values(shape, seed=draw(seeds))
    return case(lambda t: t[idx], lambda a: a[idx], x)


@st.composite
def _index_scatter_case(draw):
    # the adjoint of advanced indexing: zeros(shape) with g added at idx (repeats accumulate)
    shape = draw(shapes(min_dims=1))
    rng = np.random.default_rng(draw(seeds))
    idx = rng.integers(0, shape[0], size=draw(st.integers(1, 6)))
    g = rng_values((len(idx),) + shape[1:], seed=draw(seeds))

    def ref(a):
        out = np.zeros(shape)
        np.add.at(out, idx, a)
        return out
    return case(lambda t: t._unary(REGISTRY["index_scatter"], (shape, idx)), ref, g)


@st.composite
def _cat_case(draw):
    base = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(base), len(base) - 1))
    k = draw(st.integers(1, 3))
    arrs = []
    for _ in range(k):
        s = list(base)
        s[dim] = draw(st.integers(1, 3))
        arrs.append(rng_values(tuple(s), seed=draw(seeds)))
    return case(lambda *ts: tl.cat(list(ts), dim), lambda *a: np.concatenate(a, axis=dim), *arrs)


def _extreme_ref(fn):
    return lambda a, dim, keep: fn(a, axis=dim, keepdims=keep)


OP_CASES = {
    "add": binary(lambda a, b: a + b, np.add),
    "sub": binary(lambda a, b: a - b, np.subtract),
    "mul": binary(lambda a, b: a * b, np.multiply),
    "div": binary(lambda a, b: a / b, np.divide, away_y=0.3),
    "pow": binary(lambda a, b: a ** b, np.power, lo=0.3, lo_y=-2.0),
    "pow_scalar": _pow_scalar_case(),
    "maximum": binary(lambda a, b: a.maximum(b), np.maximum),
    "minimum": binary(lambda a, b: a.minimum(b), np.minimum),
    "neg": unary(lambda t: -t, np.negative),
    "exp": unary(lambda t: t.exp(), np.exp),
    "log": unary(lambda t: t.log(), np.log, lo=0.2),
    "sqrt": unary(lambda t: t.sqrt(), np.sqrt, lo=0.2),
    "abs": unary(lambda t: t.abs(), np.abs, away=0.05),
    "tanh": unary(lambda t: t.tanh(), np.tanh),
    "sigmoid": unary(lambda t: t.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), lo=-8, hi=8),
    "relu": unary(lambda t: t.relu(), lambda a: np.maximum(a, 0), away=0.05),
    "clamp": _clamp_case(),
    "where": _where_case(),
    "cast": _cast_case(),
    "matmul": _matmul_case(),
    "sum": reduction("sum", lambda a, d, k: np.sum(a, axis=d, keepdims=k)),
    "amax": reduction("amax", _extreme_ref(np.max)),
    "amin": reduction("amin", _extreme_ref(np.min)),
    "logsumexp": reduction("logsumexp", _np_logsumexp),
    "softmax": _softmax_case(),
    "log_softmax": _softmax_case(log=True),
    "reshape": _reshape_case(),
    "permute": _permute_case(),
    "expand": _expand_case(),
    "getitem": _getitem_case(),
    "index_scatter": _index_scatter_case(),
    "cat": _cat_case(),
}

# Ops whose semantics are tested by their owners' suites; each file must exist and mention the op.
COVERED_ELSEWHERE = {}


def _ops_used(fn, arrays):
    """Names of the ops recorded when fn runs on the given inputs."""
    ts = [Tensor(a, requires_grad=a.dtype.kind == "f") if a.dtype.kind == "f" else Tensor(a) for a in arrays]
    out = fn(*ts)
    seen, stack = set(), [out]
    while stack:
        t = stack.pop()
        if t._op is not None:
            seen.add(t._op.name)
            stack.extend(t._inputs)
    return seen


def test_every_registered_op_has_a_test():
    missing = sorted(set(REGISTRY) - set(OP_CASES) - set(COVERED_ELSEWHERE))
    assert not missing, (f"ops registered without a gradcheck entry: {missing}; add them to OP_CASES in "
                         f"{Path(__file__).name} (or to COVERED_ELSEWHERE with the file that tests them)")


def test_table_has_no_stale_entries():
    stale = sorted(set(OP_CASES) - set(REGISTRY))
    assert not stale, f"OP_CASES names ops that are not registered: {stale}"


@pytest.mark.parametrize("name", sorted(COVERED_ELSEWHERE) or ["<none>"])
def test_covered_elsewhere_files_exist_and_mention_the_op(name):
    if name == "<none>":
        return
    path = ROOT / COVERED_ELSEWHERE[name]
    assert path.is_file(), f"{name}: {path} does not exist"
    assert name in path.read_text(), f"{name}: {path} does not mention the op"


@pytest.mark.parametrize("name", sorted(OP_CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_op_gradcheck_and_forward(name, data):
    fn, ref, arrays, kw = data.draw(OP_CASES[name])
    fwd_rtol = kw.pop("fwd_rtol", 1e-12)
    # the case really exercises the op it is filed under
    assert name in _ops_used(fn, arrays), f"the case for {name!r} does not use that op"
    # forward against numpy
    out = fn(*[Tensor(a) for a in arrays])
    expected = np.asarray(ref(*arrays))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out._data, expected, rtol=fwd_rtol, atol=1e-12)
    # backward against finite differences
    check_grad(fn, *arrays, **kw)
