"""Every primitive in the op registry, gradchecked (float64) on hypothesis shapes and checked
against numpy; then the composed ops built on them."""
import importlib
import math
import pkgutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.ops import REGISTRY

from compat_op_cases import COMPAT_OP_CASES
from helpers import assert_close, broadcastable_shapes, check_grad, rng_values, seeds, shapes
from window_cases import WINDOW_OP_CASES  # windows (im2col) and col2im, tinygrad_lite/ops/window.py

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
        seed = draw(seeds)  # one seed, two streams: x and y never coincide (no ties for maximum/minimum)
        x = rng_values(sx, lo, hi, seed, away)
        y = rng_values(sy, lo if lo_y is None else lo_y, hi if hi_y is None else hi_y, seed + 1, away_y)
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
    new = draw(st.sampled_from([s for s in [(n,), (1, n), (n, 1), (1, -1, 1), (1,) + shape] if np.empty(shape).reshape(s).shape != shape]))
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



# ---- ops added by the nn layer (functional API); each case calls the public function that uses the op
def _F():
    from tinygrad_lite.nn import functional
    return functional


_erf_np = np.vectorize(math.erf, otypes=[np.float64])


def _np_log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@st.composite
def _linear_case(draw):
    lead = draw(shapes(min_dims=0, max_dims=2, max_side=3))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = rng_values(lead + (n_in,), seed=draw(seeds))
    w = rng_values((n_out, n_in), seed=draw(seeds))
    b = rng_values((n_out,), seed=draw(seeds))
    return case(lambda a, ww, bb: _F().linear(a, ww, bb), lambda a, ww, bb: a @ ww.T + bb, x, w, b)


@st.composite
def _embedding_case(draw, sparse=False):
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    pad = draw(st.sampled_from([None, 0])) if n > 1 else None
    # repeats accumulate; the padding row (no gradient by definition) is not looked up here, see
    # test_embedding_padding_row_gets_no_gradient
    idx = rng.integers(0 if pad is None else 1, n, size=draw(shapes(min_dims=0, max_dims=2, max_side=4)))
    w = rng_values((n, d), seed=draw(seeds))
    if sparse:
        from tinygrad_lite import sparse as sp
        return case(lambda ww: sp.embedding(ww, Tensor(idx), padding_idx=pad), lambda ww: ww[idx], w)
    return case(lambda ww: _F().embedding(Tensor(idx), ww, padding_idx=pad), lambda ww: ww[idx], w)


@st.composite
def _cross_entropy_case(draw):
    m, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(seeds))
    t = rng.integers(0, c, size=m)
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    kind = draw(st.sampled_from(["plain", "weight", "ignore", "smooth"]))
    w = rng.uniform(0.5, 2.0, c) if kind == "weight" else None
    ignore = -100
    if kind == "ignore" and m > 1:
        t[0] = ignore = 7
    eps = 0.2 if kind == "smooth" else 0.0
    x = rng_values((m, c), -3, 3, seed=draw(seeds))

    def ours(a):
        return _F().cross_entropy(a, Tensor(t), weight=None if w is None else Tensor(w), ignore_index=ignore,
                                  reduction=reduction, label_smoothing=eps)

    def ref(a):
        lp = _np_log_softmax(a)
        keep = t != ignore
        ts = np.where(keep, t, 0)
        nll = -lp[np.arange(m), ts]
        wt = keep * (1.0 if w is None else w[ts])
        loss = wt * ((1 - eps) * nll + eps / c * -lp.sum(-1))
        if reduction == "none":
            return loss
        return loss.sum() / (wt.sum() if reduction == "mean" else 1.0)
    return case(ours, ref, x)


@st.composite
def _layer_norm_case(draw, bias=True):
    lead = draw(shapes(min_dims=0, max_dims=2, max_side=3))
    c = draw(st.integers(2, 5))
    x = rng_values(lead + (c,), seed=draw(seeds))
    w, b = rng_values((c,), seed=draw(seeds)), rng_values((c,), seed=draw(seeds))

    def ref(a, ww, bb=0.0):
        mu = a.mean(-1, keepdims=True)
        return (a - mu) / np.sqrt(((a - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * ww + bb
    if bias:
        return case(lambda a, ww, bb: _F().layer_norm(a, (c,), ww, bb), ref, x, w, b, fwd_rtol=1e-10)
    return case(lambda a, ww: _F().layer_norm(a, (c,), ww), ref, x, w, fwd_rtol=1e-10)


@st.composite
def _masked_softmax_case(draw):
    from tinygrad_lite.ops.fused import masked_softmax
    shape = draw(shapes(min_dims=1))
    rng = np.random.default_rng(draw(seeds))
    hide = rng.random(shape) < 0.4
    hide[..., 0] = False  # every row keeps at least one position
    scale = draw(st.sampled_from([1.0, 0.5]))
    x = rng_values(shape, -3, 3, seed=draw(seeds))

    def ref(a):
        z = np.where(hide, -np.inf, a * scale)
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    return case(lambda a: masked_softmax(a, scale, Tensor(hide)), ref, x)


def _scipy_special():
    from scipy import special
    return special


NN_OP_CASES = {
    "erf": unary(lambda t: _F().erf(t), _erf_np, lo=-5, hi=5),
    "gelu": unary(lambda t: _F().gelu(t), lambda a: a * 0.5 * (1 + _erf_np(a / np.sqrt(2))), lo=-5, hi=5),
    "gelu_tanh": unary(lambda t: _F().gelu(t, approximate="tanh"),
                       lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3))), lo=-5, hi=5),
    "logsigmoid": unary(lambda t: _F().logsigmoid(t), lambda a: -np.logaddexp(0, -a), lo=-30, hi=30),
    "erfc": unary(lambda t: t.erfc(), lambda a: 1 - _erf_np(a), lo=-3, hi=3),
    "erfinv": unary(lambda t: t.erfinv(), lambda a: _scipy_special().erfinv(a), lo=-0.95, hi=0.95),
    "lgamma": unary(lambda t: t.lgamma(), lambda a: _scipy_special().gammaln(a), lo=0.1, hi=6),
    "polygamma": unary(lambda t: t.polygamma(1), lambda a: _scipy_special().polygamma(1, a), lo=0.2, hi=5),
    "linear": _linear_case(),
    "embedding": _embedding_case(),
    "embedding_sparse": _embedding_case(sparse=True),
    "cross_entropy_idx": _cross_entropy_case(),
    "layer_norm": _layer_norm_case(),
    "layer_norm_nobias": _layer_norm_case(bias=False),
    "masked_softmax": _masked_softmax_case(),
}

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
    **NN_OP_CASES,
    **WINDOW_OP_CASES,
    **COMPAT_OP_CASES,
}

# Ops whose semantics are tested by their owners' suites; each file must exist and mention the op.
COVERED_ELSEWHERE = {"embedding_bag": "tests/test_embedding_bag.py",   # gradcheck of every mode, offsets, padding
                     "embedding_dot": "tests/test_embedding_bag.py"}   # and per_sample_weights; second order


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


def _covered_elsewhere_problem(name, relpath):
    """Why an entry of COVERED_ELSEWHERE is not acceptable (None when it is)."""
    path = ROOT / relpath
    if not path.is_file():
        return f"{name}: {path} does not exist"
    if name not in path.read_text():
        return f"{name}: {path} does not mention the op"
    return None


@pytest.mark.parametrize("name", sorted(COVERED_ELSEWHERE) or ["<none>"])
def test_covered_elsewhere_files_exist_and_mention_the_op(name):
    if name == "<none>":
        return
    problem = _covered_elsewhere_problem(name, COVERED_ELSEWHERE[name])
    assert problem is None, problem


def test_covered_elsewhere_check_rejects_bad_entries():
    assert _covered_elsewhere_problem("matmul", "tests/test_ops_gradcheck.py") is None
    assert "does not exist" in _covered_elsewhere_problem("matmul", "tests/no_such_file.py")
    assert "does not mention" in _covered_elsewhere_problem("no_such_op_xyz", "tests/conftest.py")


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


# --------------------------------------------------------------------------- composed ops
@settings(max_examples=30)
@given(shapes=broadcastable_shapes(2), s1=seeds, s2=seeds)
def test_sub_broadcast(shapes, s1, s2):
    x, y = rng_values(shapes[0], seed=s1), rng_values(shapes[1], seed=s2)
    assert_close(Tensor(x) - Tensor(y), x - y)
    check_grad(lambda a, b: a - b, x, y)
    check_grad(lambda a: 1.5 - a, x)
    check_grad(lambda a: a - 1.5, x)


@settings(max_examples=30)
@given(data=st.data())
def test_mean_var_std(data):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(dims_of(shape))
    keep = data.draw(st.booleans())
    x = rng_values(shape, seed=data.draw(seeds))
    n = x.size if dim is None else int(np.prod([shape[d] for d in ((dim,) if isinstance(dim, int) else dim)]))
    assert_close(Tensor(x).mean(dim, keep), x.mean(axis=dim, keepdims=keep))
    check_grad(lambda t: t.mean(dim, keep), x)
    for corr in (0, 1):
        if n - corr <= 0:
            continue
        assert_close(Tensor(x).var(dim, keep, correction=corr), x.var(axis=dim, keepdims=keep, ddof=corr))
        check_grad(lambda t: t.var(dim, keep, correction=corr), x)
        if n > 1:
            assert_close(Tensor(x).std(dim, keep, correction=corr), x.std(axis=dim, keepdims=keep, ddof=corr))
            check_grad(lambda t: t.std(dim, keep, correction=corr), x)


@settings(max_examples=30)
@given(shape=shapes(min_dims=1), s=seeds, data=st.data())
def test_softmax_family(shape, s, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rng_values(shape, -3, 3, seed=s)
    check_grad(lambda t: t.softmax(dim), x)
    check_grad(lambda t: t.log_softmax(dim), x)
    check_grad(lambda t: t.logsumexp(dim), x)
    check_grad(lambda t: t.logsumexp(dim, keepdim=True) * t.softmax(dim), x)
    assert_close(Tensor(x).logsumexp(dim), _np_logsumexp(x, dim, False))


@settings(max_examples=30)
@given(shape=shapes(min_dims=1), s=seeds, data=st.data())
def test_max_min_dim(shape, s, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keep = data.draw(st.booleans())
    x = rng_values(shape, seed=s)
    v, i = Tensor(x).max(dim, keep)
    assert_close(v, x.max(axis=dim, keepdims=keep))
    np.testing.assert_array_equal(i._data, np.argmax(x, axis=dim) if not keep else
                                  np.expand_dims(np.argmax(x, axis=dim), dim))
    v, i = Tensor(x).min(dim, keep)
    assert_close(v, x.min(axis=dim, keepdims=keep))
    check_grad(lambda t: t.max(dim, keep)[0], x)
    check_grad(lambda t: t.min(dim, keep).values, x)
    check_grad(lambda t: t.max(), x)
    check_grad(lambda t: t.min(), x)


def test_amax_amin_ties_share_gradient():
    x = np.array([[1.0, 3.0, 3.0, 3.0], [2.0, 2.0, 0.0, -1.0]])
    t = Tensor(x, requires_grad=True)
    t.amax(1).sum().backward()
    assert_close(t.grad, [[0, 1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0, 0]])
    t.grad = None
    t.amax().backward()
    assert_close(t.grad, [[0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0, 0]])
    t = Tensor(x, requires_grad=True)
    t.amin(0).sum().backward()
    assert_close(t.grad, [[1, 0, 0, 0], [0, 1, 1, 1]])
    # max(dim) picks one index (as PyTorch): the gradient goes to that element only
    t = Tensor(x, requires_grad=True)
    v, i = t.max(1)
    v.sum().backward()
    assert t.grad._data.sum() == 2.0 and t.grad._data[0, i._data[0]] == 1.0


@settings(max_examples=30)
@given(shape=shapes(min_dims=1), s=seeds, s2=seeds)
def test_masked_fill_where_clamp(shape, s, s2):
    x = rng_values(shape, seed=s)
    mask = np.random.default_rng(s2).random(shape) < 0.5
    assert_close(Tensor(x).masked_fill(Tensor(mask), -7.0), np.where(mask, -7.0, x))
    check_grad(lambda t: t.masked_fill(Tensor(mask), -7.0), x)
    check_grad(lambda t: tl.where(Tensor(mask), t, 0.5), x)
    check_grad(lambda t: tl.where(Tensor(mask), 0.5, t * 2), x)
    x = np.where(np.abs(np.abs(x) - 1) < 0.01, x * 1.1, x)
    check_grad(lambda t: t.clamp(-1, 1), x)
    check_grad(lambda t: t.clamp(min=-1), x)
    check_grad(lambda t: t.clamp(max=1), x)
    check_grad(lambda t: tl.clamp(t, -1, 1), x)


@settings(max_examples=20)
@given(n=st.integers(1, 4), m=st.integers(1, 4), b=st.integers(0, 2), k=st.integers(-2, 2), s=seeds)
def test_tril_triu(n, m, b, k, s):
    shape = (2,) * b + (n, m)
    x = rng_values(shape, seed=s)
    assert_close(Tensor(x).tril(k), np.tril(x, k))
    assert_close(Tensor(x).triu(k), np.triu(x, k))
    check_grad(lambda t: t.tril(k), x)
    check_grad(lambda t: t.triu(k), x)


@settings(max_examples=20)
@given(shape=shapes(min_dims=1), s=seeds, data=st.data())
def test_split_stack_cat(shape, s, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rng_values(shape, seed=s)
    size = data.draw(st.integers(1, 3))
    pieces = Tensor(x).split(size, dim)
    expected = np.array_split(x, range(size, shape[dim], size), axis=dim)
    assert len(pieces) == len(expected)
    for p, e in zip(pieces, expected):
        assert_close(p, e)
    check_grad(lambda t: tl.cat([p * (i + 1) for i, p in enumerate(t.split(size, dim))], dim), x)
    y = rng_values(shape, seed=s + 1)
    sdim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert_close(tl.stack([Tensor(x), Tensor(y)], sdim), np.stack([x, y], axis=sdim))
    check_grad(lambda a, b: tl.stack([a, b, a], sdim), x, y)


@settings(max_examples=30)
@given(shape=shapes(min_dims=2, max_dims=4), s=seeds, data=st.data())
def test_shape_ops(shape, s, data):
    x = rng_values(shape, seed=s)
    nd = len(shape)
    d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    assert_close(Tensor(x).transpose(d0, d1), np.swapaxes(x, d0, d1))
    check_grad(lambda t: t.transpose(d0, d1), x)
    assert_close(Tensor(x).T, x.T)
    check_grad(lambda t: t.T * 1.0, x)
    assert_close(Tensor(x).flatten(), x.reshape(-1))
    check_grad(lambda t: t.flatten(1), x)
    check_grad(lambda t: t.view(-1) * 1.0, x)
    check_grad(lambda t: t.unsqueeze(d0).squeeze(d0 if d0 < 0 else d0) * 2, x)
    u = data.draw(st.integers(-nd - 1, nd))
    assert Tensor(x).unsqueeze(u).shape == np.expand_dims(x, u).shape
    check_grad(lambda t: t.unsqueeze(u) * 2, x)
    check_grad(lambda t: t.squeeze(), x)
    e = np.expand_dims(x[..., :1], 0)  # size-1 dims to expand
    target = (3,) + e.shape[1:-1] + (4,)
    assert_close(Tensor(e).expand(target), np.broadcast_to(e, target))
    check_grad(lambda t: t.expand(target), e)
    check_grad(lambda t: t.expand(-1, *([-1] * (e.ndim - 2)), 4), e)


def test_getitem_variants():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2))
    idx_list = [0, -1, slice(1, 3), slice(None, None, 2), (slice(None), -2),
                (-1, slice(0, 2), 1), (Ellipsis, 1), (None, 1), np.array([0, 0, 3, 1, 3, 3]),
                (np.array([0, 0, 2]), np.array([1, 1, 2])), (slice(None), np.array([2, 2, 0])),
                x[..., 0] > 0, x > 0]
    for idx in idx_list:
        assert_close(Tensor(x)[idx], x[idx])
        check_grad(lambda t, idx=idx: t[idx], x)
    # index with Tensors (int64 and bool), as PyTorch
    ii = Tensor(np.array([1, 1, 1, 0]))
    check_grad(lambda t: t[ii], x)
    check_grad(lambda t: t[Tensor(x[..., 0] > 0)], x)


def test_getitem_repeated_indices_accumulate():
    t = Tensor(np.arange(4.0), requires_grad=True)
    t[np.array([0, 2, 2, 2, 3, 0])].sum().backward()
    assert_close(t.grad, [2, 0, 3, 1])
    t = Tensor(np.zeros((3, 2)), requires_grad=True)
    w = Tensor(np.array([[1.0, 2.0]] * 4))
    (t[Tensor(np.array([2, 2, 0, 2]))] * w).sum().backward()
    assert_close(t.grad, [[1, 2], [0, 0], [3, 6]])


@settings(max_examples=40)
@given(data=st.data())
def test_matmul_shapes(data):
    fn, ref, arrays, kw = data.draw(_matmul_case())
    assert_close(fn(*[Tensor(a) for a in arrays]), ref(*arrays))
    check_grad(fn, *arrays)
    check_grad(lambda a, b: tl.matmul(a, b), *arrays)


def test_matmul_batched_broadcast_examples():
    rng = np.random.default_rng(1)
    for sx, sy in [((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 5, 4, 1)), ((4,), (2, 3, 4, 2)), ((2, 3, 3, 4), (4,)),
                   ((1, 2, 3), (4, 3, 2))]:
        x, y = rng.standard_normal(sx), rng.standard_normal(sy)
        assert_close(Tensor(x) @ Tensor(y), x @ y)
        check_grad(lambda a, b: a @ b, x, y)


def test_matmul_of_transposed_views():
    # q @ k.transpose(-2, -1) and friends: the rules then compute the gradient in the operand's own
    # layout (a transposed view); values and gradients must not depend on that choice
    rng = np.random.default_rng(2)
    for sx, sy in [((2, 3, 4), (2, 5, 4)), ((3, 4), (5, 4)), ((2, 4, 3), (2, 4, 5))]:
        x, y = rng.standard_normal(sx), rng.standard_normal(sy)
        if sx[-1] == sy[-1]:
            check_grad(lambda a, b: a @ b.transpose(-2, -1), x, y)         # B a transposed view
            check_grad(lambda a, b: (b @ a.transpose(-2, -1)).transpose(-2, -1), x, y)
        else:
            check_grad(lambda a, b: a.transpose(-2, -1) @ b, x, y)         # A a transposed view
            check_grad(lambda a, b: a.transpose(-2, -1) @ b.transpose(-2, -1).transpose(-2, -1), x, y)
        for f in (lambda a, b: a @ b.transpose(-2, -1),) if sx[-1] == sy[-1] else (lambda a, b: a.transpose(-2, -1) @ b,):
            a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
            f(a, b).sum().backward()
            ones = np.ones(f(Tensor(x), Tensor(y)).shape)
            if sx[-1] == sy[-1]:
                assert_close(a.grad, ones @ y)
                assert_close(b.grad, np.swapaxes(ones, -1, -2) @ x)
            else:
                assert_close(a.grad, y @ np.swapaxes(ones, -1, -2))
                assert_close(b.grad, x @ ones)


# --------------------------------------------------------------------------- stability
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_softmax_family_finite_for_huge_logits(scale):
    x = np.array([[1.0, 0.5, -1.0], [2.0, 2.0, 0.0]]) * scale
    for fn in (lambda t: t.softmax(-1), lambda t: t.log_softmax(-1), lambda t: t.logsumexp(-1)):
        t = Tensor(x, requires_grad=True)
        out = fn(t)
        assert np.all(np.isfinite(out._data)), out
        (out * Tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))).sum().backward()
        assert np.all(np.isfinite(t.grad._data))
    sm = Tensor(x).softmax(-1)._data
    e = np.exp(x - x.max(-1, keepdims=True))
    assert_close(sm, e / e.sum(-1, keepdims=True))
    assert_close(Tensor(x).logsumexp(-1), x.max(-1) + np.log(e.sum(-1)))
    assert_close(Tensor(x.astype(np.float32)).softmax(-1), (e / e.sum(-1, keepdims=True)).astype(np.float32),
                 rtol=1e-6, atol=1e-7)


def test_softmax_family_rows_masked_to_minus_inf():
    ninf = -np.inf
    x = np.array([[ninf, 3.0, ninf, ninf], [0.5, ninf, ninf, ninf], [1.0, 2.0, ninf, 0.0]])
    t = Tensor(x, requires_grad=True)
    sm = t.softmax(-1)
    assert_close(sm[:2], [[0, 1, 0, 0], [1, 0, 0, 0]])
    ls = Tensor(x, requires_grad=True).log_softmax(-1)
    assert ls._data[0, 1] == 0 and ls._data[1, 0] == 0
    lse = Tensor(x).logsumexp(-1)
    assert_close(lse[:2], [3.0, 0.5])
    g = np.random.default_rng(0).standard_normal(x.shape)
    for fn in (lambda t: t.softmax(-1), lambda t: t.log_softmax(-1).masked_fill(Tensor(np.isinf(x)), 0.0),
               lambda t: t.logsumexp(-1), lambda t: t.masked_fill(Tensor(np.isinf(x)), -1e9).softmax(-1)):
        t = Tensor(x, requires_grad=True)
        out = fn(t)
        out.backward(Tensor(g[..., : out.shape[-1]] if out.ndim == 2 else g[:, 0]))
        assert np.all(np.isfinite(t.grad._data)), t.grad
        # masked entries get no gradient, the only live entry of a row gets none either (softmax is 1 there)
        assert np.all(t.grad._data[np.isinf(x)] == 0)
    # finite entries: gradient of softmax on the unmasked part equals the gradient on the row without -inf
    t = Tensor(x, requires_grad=True)
    (t.softmax(-1) * Tensor(g)).sum().backward()
    r = Tensor(x[2, [0, 1, 3]], requires_grad=True)
    (r.softmax(-1) * Tensor(g[2, [0, 1, 3]])).sum().backward()
    assert_close(t.grad[2, [0, 1, 3]], r.grad._data)


@pytest.mark.parametrize("sparse", [False, True])
def test_embedding_padding_row_gets_no_gradient(sparse):
    from tinygrad_lite import sparse as sp
    from tinygrad_lite.nn import functional as F
    w = Tensor(np.arange(8.0).reshape(4, 2), requires_grad=True)
    idx = Tensor(np.array([[0, 2, 2], [1, 0, 3]]))
    out = sp.embedding(w, idx, padding_idx=0) if sparse else F.embedding(idx, w, padding_idx=0)
    assert_close(out, w._data[idx._data])
    (out * Tensor(np.ones((2, 3, 2)))).sum().backward()
    g = np.asarray(w.grad)
    assert_close(g, [[0, 0], [1, 1], [2, 2], [1, 1]])


# --------------------------------------------------------------------------- second order, every op
@pytest.mark.parametrize("name", sorted(OP_CASES))
@settings(max_examples=8)
@given(data=st.data())
def test_op_gradgradcheck(name, data):
    """The vjp rules run on Tensors (create_graph=True) give correct second derivatives, and the
    first derivative they record equals the plain (array) backward's."""
    fn, ref, arrays, kw = data.draw(OP_CASES[name])
    kw.pop("fwd_rtol", None)
    inputs = tuple(Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays)
    out = fn(*inputs)
    g = Tensor(np.random.default_rng(0).standard_normal(out.shape))
    plain = tl.autograd.grad(out, inputs, g, retain_graph=True, allow_unused=True)
    recorded = tl.autograd.grad(out, inputs, g, create_graph=True, allow_unused=True)
    for p, r in zip(plain, recorded):
        assert (p is None) == (r is None)
        if p is not None:
            np.testing.assert_allclose(np.asarray(r._data), np.asarray(p._data), rtol=1e-12, atol=1e-12)
    assert tl.gradgradcheck(fn, inputs, **kw) is True


@pytest.mark.parametrize("name", sorted(set(OP_CASES) - {"cast"}))
@settings(max_examples=5)
@given(data=st.data())
def test_op_keeps_float32(name, data):
    """float32 inputs give float32 results and float32 gradients (no accidental float64)."""
    fn, ref, arrays, kw = data.draw(OP_CASES[name])
    inputs = [Tensor(a.astype(np.float32), requires_grad=True) if a.dtype.kind == "f" else Tensor(a)
              for a in arrays]
    out = fn(*inputs)
    assert out.dtype == np.float32, f"{name}: {out.dtype}"
    np.testing.assert_allclose(out._data, np.asarray(ref(*arrays)), rtol=2e-5, atol=2e-5)
    (out * Tensor(np.ones(out.shape, np.float32))).sum().backward()
    for t in inputs:
        if t.requires_grad:
            assert t.grad is not None and t.grad.dtype == np.float32, f"{name}: grad {t.grad.dtype}"


def test_zero_dim_results_backpropagate():
    """numpy returns 0-d results as numpy scalars; every rule must accept them (regression)."""
    from tinygrad_lite import sparse as sp
    from tinygrad_lite.nn import functional as F
    x = Tensor(np.array([0.5, -1.0], np.float32), requires_grad=True)
    (x[0] * 2).backward()
    assert_close(x.grad, [2.0, 0.0])
    w = Tensor(np.arange(5.0), requires_grad=True)
    (sp.embedding(w, Tensor(3)) * 2).backward()
    assert_close(np.asarray(w.grad), [0, 0, 0, 2, 0])
    s = Tensor(np.float64(0.3), requires_grad=True)
    out = (s.exp() * s.sigmoid() + s.abs() + s.tanh().maximum(s * 0.1) + s.clamp(0, 1)) ** 2
    out = out + F.gelu(s) + F.logsigmoid(s) + F.erf(s) + s.amax() + s.logsumexp() + s.reshape(1).sum()
    (g,) = tl.autograd.grad(out, s, create_graph=True)
    (h,) = tl.autograd.grad(g, s)
    assert isinstance(g, Tensor) and isinstance(h, Tensor) and np.isfinite(h.item())
    check_grad(lambda t: (t.exp() * t.sigmoid() + F.gelu(t) + F.logsigmoid(t)) * t[()], np.float64(0.3))


# ---------------------------------------------------------------------- the rows' metadata
def test_every_row_of_ops_is_registered_at_import():
    """REGISTRY is complete after `import tinygrad_lite`: every Op defined in tinygrad_lite/ops (and sparse.py)."""
    import importlib
    import pkgutil
    import tinygrad_lite.ops as ops_pkg
    from tinygrad_lite.ops import Op
    defined = set()
    for mod in [ops_pkg] + [importlib.import_module(f"tinygrad_lite.ops.{m.name}")
                            for m in pkgutil.iter_modules(ops_pkg.__path__)] + [importlib.import_module("tinygrad_lite.sparse")]:
        defined |= {v.name for v in vars(mod).values() if isinstance(v, Op)}
    assert defined and defined <= set(REGISTRY), sorted(defined - set(REGISTRY))
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "import tinygrad_lite as tl; print(sorted(tl.ops_registry))"],
                         capture_output=True, text=True, check=True).stdout
    assert eval(out) == sorted(REGISTRY)  # nothing registers later, on a lazy import


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_row_states_its_rule_saves_and_input_names(name):
    """The row is the single source of an op's facts: graph.py and viz read them from it."""
    op = REGISTRY[name]
    assert op.math and op.rule, f"{name}: math= and rule= must say what the backward does"
    assert isinstance(op.saves, tuple) and all(isinstance(s, str) and s for s in op.saves)
    if op.reads:
        assert op.saves, f"{name}: a rule that reads saved values must say which (saves=)"
    if op.inputs is None:  # variadic (cat)
        assert "dxᵢ" in op.rule
        return
    assert len(set(op.inputs)) == len(op.inputs)
    n = len(op.inputs)
    with_grad = range(n) if op.joint is not None else [i for i in range(n) if op.vjps[i] is not None]
    for i in with_grad:
        assert f"d{op.inputs[i]}" in op.rule, f"{name}: the rule does not say what d{op.inputs[i]} is"
    if op.joint is None:
        assert len(op.vjps) == n, f"{name}: {len(op.vjps)} vjps for inputs {op.inputs}"


def test_graph_has_no_table_of_op_facts_of_its_own():
    import tinygrad_lite.graph as graph
    for table in ("RULES", "SAVED", "ARG_NAMES"):
        assert not hasattr(graph, table), f"graph.{table} duplicates the registry rows"
