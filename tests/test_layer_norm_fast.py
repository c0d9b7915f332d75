"""layer_norm's two fast paths for large float arrays (ops/fused.py): "fast" (_ln_fwd_fast, _ln_grads_fast;
BLAS rank-1 updates and one sparse-times-dense pass) and "jit" (_ln_fwd_jit, _ln_grads_jit: the numba kernels
of ops/norm_kernels.py, when numba is installed), against the reference spelling (_ln_fwd, _ln_grads' plain
array rule), all measured against the same maths in float64: a fast path must be no less accurate. Every
test here lowers the path's size bound so that small shapes take it, and checks that it was taken. The
same against PyTorch: tests/torch/test_fast_paths_vs_torch.py."""
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.ops import fused, jit

EPS = {np.float32: np.finfo(np.float32).eps, np.float64: np.finfo(np.float64).eps}
FAST = ["fast"] + (["jit"] if jit.available() else [])  # the paths to test against the reference
_BOUNDS = {"reference": (float("inf"), float("inf")), "fast": (0, float("inf")), "jit": (float("inf"), 0)}


@contextmanager
def path(kind):
    """Run layer norm on the path `kind` ("reference", "fast" or "jit") at every size; yields the spies on
    that path's forward and backward (the fast path's for "reference"), to check that it was the one taken."""
    fwd_name, grads_name = ("_ln_fwd_jit", "_ln_grads_jit") if kind == "jit" else ("_ln_fwd_fast", "_ln_grads_fast")
    fast_min, jit_min = _BOUNDS[kind]
    with mock.patch.object(fused, "_LN_FAST_MIN", fast_min), mock.patch.object(fused, "_LN_JIT_MIN", jit_min), \
            mock.patch.object(fused, fwd_name, wraps=getattr(fused, fwd_name)) as fwd, \
            mock.patch.object(fused, grads_name, wraps=getattr(fused, grads_name)) as grads:
        yield fwd, grads


def _run(x, w, b, g, eps, needs):
    """(y, dx, dw, db) of the row on arrays, on the path in force; db summed over the batch dims as the
    engine sums it (the reference rule returns g for it, the compiled one the sum)."""
    y, saved = fused._ln_fwd(eps, x, w, b)
    grads = fused._ln_grads(g, y, eps, saved, needs, x, w, b)
    if b is None:
        return (y,) + tuple(grads) + (None,)
    dx, dw, db = grads
    return y, dx, dw, (None if db is None else db.reshape(-1, db.shape[-1]).sum(0))


def _exact(x, w, b, g, eps, needs):
    """The reference path in a wider type on the same inputs (float64 for float32, long double for float64:
    80-bit on x86): the values the paths approximate."""
    wide = np.float64 if x.dtype == np.float32 else np.longdouble
    f64 = [None if a is None else a.astype(wide) for a in (x, w, b, g)]
    with path("reference"):
        return _run(f64[0], f64[1], f64[2], f64[3], eps, needs)


def _layouts(rng, shape, dtype, transposed):
    """An array of `shape`, C-contiguous or a transposed view of another array (non-contiguous)."""
    if not transposed or len(shape) < 2:
        return rng.standard_normal(shape).astype(dtype)
    return np.swapaxes(rng.standard_normal(shape[:-2] + shape[-1:] + shape[-2:-1]).astype(dtype), -1, -2)


@pytest.mark.parametrize("kind", FAST)
@settings(max_examples=60, deadline=None)
@given(lead=st.lists(st.integers(1, 9), min_size=1, max_size=3), n=st.integers(1, 70),
       dtype=st.sampled_from([np.float32, np.float64]), bias=st.booleans(), shift=st.sampled_from([0.0, 30.0]),
       scale=st.sampled_from([1.0, 1e-3]), eps=st.sampled_from([1e-5, 0.1]), x_t=st.booleans(), g_t=st.booleans(),
       needs=st.sampled_from([(True, True, True), (True, False, True), (False, True, False)]),
       seed=st.integers(0, 2 ** 16))
def test_fast_path_is_as_accurate_as_the_reference(kind, lead, n, dtype, bias, shift, scale, eps, x_t, g_t, needs,
                                                   seed):
    rng = np.random.default_rng(seed)
    shape = tuple(lead) + (n,)
    x = (_layouts(rng, shape, dtype, x_t) * scale + shift).astype(dtype)  # a mean far from 0: cancellation
    w = (1 + 0.5 * rng.standard_normal(n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype) if bias else None
    g = _layouts(rng, shape, dtype, g_t)
    with path(kind) as (fwd, grads):
        fast = _run(x, w, b, g, eps, needs)
    assert fwd.called and grads.called
    with path("reference"):
        ref = _run(x, w, b, g, eps, needs)
    exact = _exact(x, w, b, g, eps, needs)
    for i, (f, r, e, size) in enumerate(zip(fast, ref, exact, _term_sizes(x, w, b, g, eps))):
        if i and not needs[i - 1]:  # (an input that needs no gradient may get anything)
            continue
        if e is None:
            assert f is None and r is None, i
            continue
        assert f.shape == e.shape and f.dtype == dtype, i
        tol = 4 * np.abs(r - e).max() + 64 * EPS[dtype] * size
        assert np.abs(f - e).max() <= tol, (i, np.abs(f - e).max(), np.abs(r - e).max())


def _term_sizes(x, w, b, g, eps):
    """The size of the terms each output is a sum of (rounding errors scale with them, not with the
    result: dx of a one-element row is rstd (g w - g w) = 0), for y, dx, dw, db."""
    x, w, g = (a.astype(np.float64) for a in (x, w, g))
    n = x.shape[-1]
    xc = x - x.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    xhat = np.abs(xc * rstd)
    rows = (np.abs(g) * np.abs(w)).sum(-1, keepdims=True)
    dx = rstd * (np.abs(g * w) + rows / n + xhat * (rows * xhat.max(-1, keepdims=True)) / n)
    lead = tuple(range(x.ndim - 1))
    return (np.max(xhat * np.abs(w) + (0 if b is None else np.abs(b))), dx.max(),
            np.max((np.abs(g) * xhat).sum(lead)), np.max(np.abs(g).sum(lead)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", FAST)
def test_fast_path_float64_agrees_with_the_reference_to_rounding(kind, dtype):
    rng = np.random.default_rng(3)
    x, g = rng.standard_normal((2, 33, 257)).astype(dtype), rng.standard_normal((2, 33, 257)).astype(dtype)
    w, b = rng.standard_normal(257).astype(dtype), rng.standard_normal(257).astype(dtype)
    with path(kind):
        fast = _run(x, w, b, g, 1e-5, (True, True, True))
    with path("reference"):
        ref = _run(x, w, b, g, 1e-5, (True, True, True))
    for f, r in zip(fast, ref):
        np.testing.assert_allclose(f, r, rtol=0, atol=(1e-12 if dtype == np.float64 else 2e-5) * np.abs(r).max())


@pytest.mark.parametrize("kind", FAST)
def test_fast_path_special_values_as_the_reference(kind):
    """NaN and inf in a row spoil that row only, on both paths alike; eps = 0 on a constant row gives NaN (0/0)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 40))
    x[1, 3], x[2, 5], x[3] = np.nan, np.inf, 2.5
    w, b, g = rng.standard_normal(40), rng.standard_normal(40), rng.standard_normal((6, 40))
    for eps in (1e-5, 0.0):
        with np.errstate(all="ignore"):
            with path(kind):
                fast = _run(x, w, b, g, eps, (True, True, True))
            with path("reference"):
                ref = _run(x, w, b, g, eps, (True, True, True))
        for f, r in zip(fast, ref):
            np.testing.assert_array_equal(np.isnan(f), np.isnan(r))
            ok = np.isfinite(r)
            np.testing.assert_allclose(f[ok], r[ok], rtol=1e-10, atol=1e-10)
        assert np.isnan(fast[0][1:3]).all() and np.isfinite(fast[0][[0, 4, 5]]).all()
        assert np.isnan(fast[0][3]).all() == (eps == 0.0)


@pytest.mark.parametrize("kind", FAST)
def test_fast_path_gradients_own_their_buffers(kind):
    """dx and dw are fresh arrays (no view): the engine hands such a gradient to .grad without a copy."""
    rng = np.random.default_rng(5)
    x, g, w = rng.standard_normal((4, 3, 8)), rng.standard_normal((4, 3, 8)), rng.standard_normal(8)
    with path(kind):
        y, saved = fused._ln_fwd(1e-5, x, w)
        dx, dw = fused._ln_grads(g, y, 1e-5, saved, (True, True), x, w)
    assert y.base is None and dx.base is None and dw.base is None
    assert dx.shape == x.shape and dw.shape == w.shape


def _t(rng, *shape):
    return tl.Tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 6), (4, 1)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", FAST)
def test_fast_path_gradcheck(kind, shape, bias):
    rng = np.random.default_rng(6)
    x, w, b = _t(rng, *shape), _t(rng, shape[-1]), _t(rng, shape[-1])
    n = shape[-1]
    with path(kind) as (fwd, grads):
        if bias:
            assert tl.gradcheck(lambda x, w, b: F.layer_norm(x, (n,), w, b, eps=0.1), (x, w, b))
        else:
            assert tl.gradcheck(lambda x, w: F.layer_norm(x, (n,), w), (x, w))
    assert fwd.called and grads.called


@pytest.mark.parametrize("kind", FAST)
def test_fast_path_gradcheck_without_weight_and_on_a_transposed_input(kind):
    rng = np.random.default_rng(7)
    x = _t(rng, 6, 4)
    with path(kind) as (_, grads):
        assert tl.gradcheck(lambda x: F.layer_norm(x.t(), (6,)), (x,))
        assert tl.gradcheck(lambda x: F.layer_norm(x.permute(1, 0), 6, eps=1e-3), (x,))
    assert grads.called


@pytest.mark.parametrize("kind", FAST)
def test_fast_path_second_order_is_the_reference_one(kind):
    """create_graph=True runs the Tensor rule (the same on both paths): Hessian-vector products agree."""
    rng = np.random.default_rng(8)
    x, w, b = _t(rng, 3, 7), _t(rng, 7), _t(rng, 7)
    with path(kind):
        assert tl.gradgradcheck(lambda x, w, b: F.layer_norm(x, (7,), w, b), (x, w, b))


@pytest.mark.parametrize("kind", FAST)
def test_fast_path_is_not_taken_for_mixed_dtypes(kind):
    """A float32 input with a float64 weight keeps the reference path (its dtype promotions)."""
    ok = fused._ln_jit_ok if kind == "jit" else fused._ln_fast_ok
    x = np.ones((4, 8), np.float32)
    with path(kind):
        assert ok(x, np.ones(8, np.float32)) and not ok(x, np.ones(8))
    # the default bounds: small arrays take the compiled path (it wins at every size) or the reference one
    assert ok(x, np.ones(8, np.float32)) == (kind == "jit")


# ---------------------------------------------------------------------- the compiled path only
needs_jit = pytest.mark.skipif(not jit.available(), reason="numba is not installed")


@needs_jit
def test_compiled_path_centres_float32_rows_in_float64():
    """Rows whose mean is 3e4 standard deviations from 0: the kernels' float64 mean and x - μ give x̂ (and y,
    dx) to float32 rounding, where a float32 mean is off by ~1e-3 (the reference path: 2.6e-3, measured)."""
    rng = np.random.default_rng(9)
    x = (30 + 1e-3 * rng.standard_normal((16, 512))).astype(np.float32)
    w = np.ones(512, np.float32)
    g = rng.standard_normal((16, 512)).astype(np.float32)
    with path("jit") as (fwd, grads):
        y, dx, dw = _run(x, w, None, g, 1e-12, (True, True))[:3]
    assert fwd.called and grads.called
    e_y, e_dx, e_dw = _exact(x, w, None, g, 1e-12, (True, True))[:3]
    assert np.abs(y - e_y).max() < 2e-6 * np.abs(e_y).max()
    assert np.abs(dw - e_dw).max() < 2e-6 * np.abs(e_dw).max()
    assert np.abs(dx - e_dx).max() < 2e-5 * np.abs(e_dx).max()


_EDGE = [0.0, 1.0, -1.0, 1e-20, -1e-20, 1e20, -1e20, np.nan, np.inf, -np.inf]


@needs_jit
@settings(max_examples=80, deadline=None)
@given(rows=st.integers(1, 5), n=st.integers(1, 9), dtype=st.sampled_from([np.float32, np.float64]),
       eps=st.sampled_from([1e-5, 0.0]), bias=st.booleans(), data=st.data())
def test_compiled_path_on_edge_values_matches_the_exact_values(rows, n, dtype, eps, bias, data):
    """Values 0, ±1e-20, ±1e20, NaN, ±inf mixed with normal ones: the NaN of every output where the exact
    (wider) computation has one, and its values elsewhere to rounding. (A float32 row of ±1e20 overflows the
    reference path's float32 x·x; the kernels' float64 sums do not.)"""
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    x = rng.standard_normal((rows, n))
    pick = data.draw(st.lists(st.sampled_from(_EDGE), min_size=x.size, max_size=x.size))
    use = rng.random(x.shape) < 0.4
    x = np.where(use, np.array(pick).reshape(x.shape), x).astype(dtype)
    w = (1 + 0.5 * rng.standard_normal(n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype) if bias else None
    g = rng.standard_normal((rows, n)).astype(dtype)
    with np.errstate(all="ignore"):
        with path("jit"):
            got = _run(x, w, b, g, eps, (True, True, True))
        exact = _exact(x, w, b, g, eps, (True, True, True))
    ok_rows = np.isfinite(np.asarray(exact[0], np.float64)).all(-1)  # rows the exact values keep finite
    sizes = _term_sizes(x[ok_rows], w, b, g[ok_rows], eps) if ok_rows.any() else (0, 0, 0, 0)
    sizes = sizes[:3] + (np.abs(g.astype(np.float64)).sum(0).max(),)  # (db sums g over every row)
    for i, (f, e, size) in enumerate(zip(got, exact, sizes)):
        if e is None:
            assert f is None
            continue
        e = np.asarray(e, np.float64)
        assert f.shape == e.shape and f.dtype == dtype, i
        np.testing.assert_array_equal(np.isnan(f), np.isnan(e), err_msg=str(i))
        fin = np.isfinite(e)
        assert np.abs(f[fin] - e[fin]).max(initial=0) <= 64 * EPS[dtype] * size, i


_OUTPUTS = '''
import numpy as np, tinygrad_lite as tl, tinygrad_lite.nn.functional as F

def outputs():
    """F.layer_norm's output and gradients, float32, at a size below _LN_FAST_MIN and one above it."""
    out = {}
    for name, shape in (("small", (4, 8)), ("large", (64, 300))):
        rng = np.random.default_rng(0)
        x, w, b, g = (tl.Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
                      for s in (shape, shape[-1:], shape[-1:], shape))
        y = F.layer_norm(x, shape[-1:], w, b)
        y.backward(g.detach())
        pairs = (("y", y), ("dx", x.grad), ("dw", w.grad), ("db", b.grad))
        out.update({name + k: t.detach().numpy() for k, t in pairs})
    return out
'''


def test_switched_off_kernels_give_the_numpy_paths_results(tmp_path):
    """TINYGRAD_LITE_JIT=0 in a fresh process: layer norm takes the numpy paths (the reference one for a small
    array, the BLAS one for a large one), bit for bit what those paths give here with the kernels bypassed."""
    import os
    import subprocess
    import sys
    code = _OUTPUTS + ("import sys\nfrom tinygrad_lite.ops import fused\n"
                       "assert fused.ln_forward is None and not fused._ln_jit_ok(np.ones((2, 2)), np.ones(2))\n"
                       "np.savez(sys.argv[1], **outputs())\n")
    got = subprocess.run([sys.executable, "-c", code, str(tmp_path / "off.npz")], capture_output=True, text=True,
                         env=dict(os.environ, TINYGRAD_LITE_JIT="0"))
    assert got.returncode == 0, got.stderr
    ns = {}
    exec(_OUTPUTS, ns)
    with mock.patch.object(fused, "_LN_JIT_MIN", float("inf")):
        here = ns["outputs"]()
    off = np.load(tmp_path / "off.npz")
    assert sorted(off.files) == sorted(here)
    for k, v in here.items():
        np.testing.assert_array_equal(off[k], v, err_msg=k)
