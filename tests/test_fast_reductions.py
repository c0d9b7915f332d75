"""The fast reductions of the op registry (`sum_last`, `max_last`, the BLAS path of `sum_to`) give
numpy's results: same shapes, same values (to rounding), same NaN/inf behaviour, for every dtype and
layout, including the cases where they fall back to numpy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import jit, max_last, sum_last, sum_to

from helpers import seeds

float_dtypes = st.sampled_from([np.float32, np.float64])


def _values(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=7), float_dtypes, seeds)
def test_sum_last_and_max_last_match_numpy(shape, dtype, seed):
    x = _values(shape, dtype, seed)
    s, m = sum_last(x), max_last(x)
    assert s.shape == m.shape == shape[:-1] + (1,) and s.dtype == m.dtype == dtype
    np.testing.assert_allclose(s, x.sum(axis=-1, keepdims=True), rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(m, x.max(axis=-1, keepdims=True))


@pytest.mark.parametrize("x", [
    np.array([[1.0, np.nan, 3.0], [-np.inf, -np.inf, -np.inf], [np.inf, 1.0, -np.inf], [2.0, np.nan, np.inf]]),
    np.array([[-np.inf, 0.5, np.nan]], np.float32),
])
def test_nan_and_inf_rows_as_numpy(x):
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(max_last(x), x.max(axis=-1, keepdims=True))
        np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("x", [
    np.arange(12, dtype=np.int64).reshape(3, 4),                    # integers: numpy's own path
    np.ones((3, 4), np.float16),                                    # float16: no BLAS
    np.arange(24.0).reshape(4, 6)[:, ::2],                          # not contiguous
    np.arange(24.0).reshape(4, 6).T,                                # transposed
    np.zeros((3, 0)),                                               # empty rows
    np.zeros((0, 5)),                                               # no rows
    np.array(5.0),                                                  # 0-d
])
def test_fallbacks_give_numpys_answer(x):
    if x.ndim == 0 or x.shape[-1] == 0:
        np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))
        return
    np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))
    np.testing.assert_array_equal(max_last(x), x.max(axis=-1, keepdims=True))


@settings(max_examples=60, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6), st.integers(0, 3), float_dtypes, seeds)
def test_sum_to_over_leading_dims_matches_numpy(shape, keep, dtype, seed):
    keep = min(keep, len(shape))
    target = shape[len(shape) - keep:]
    g = _values(shape, dtype, seed)
    out = sum_to(g, target)
    ref = g.sum(axis=tuple(range(len(shape) - keep))) if len(shape) > keep else g
    assert out.shape == tuple(target) and out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-5)


def test_bias_gradient_is_a_fresh_buffer_not_a_copy_of_a_view():
    # the engine hands an owned buffer straight to .grad; a view would be copied (a wasted pass)
    g = np.ones((128, 10), np.float32)
    out = sum_to(g, (10,))
    assert out.base is None and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.full(10, 128.0, np.float32))


def test_long_rows_keep_numpys_pairwise_sum():
    # beyond 8192 entries per row, float32 sums stay with numpy (pairwise, more accurate than one BLAS dot)
    x = np.full((2, 100_000), 0.1, np.float32)
    np.testing.assert_array_equal(sum_last(x), x.sum(axis=-1, keepdims=True))


def test_cross_entropy_backward_twice_with_retain_graph():
    # the forward's softmax buffer is reused in place by the first backward; a second one recomputes it
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((6, 5)), requires_grad=True)
    loss = F.cross_entropy(x, Tensor(np.array([0, 1, 2, 3, 4, 0])))
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), first, rtol=1e-14)
    xs = x.detach().numpy()
    p = np.exp(xs) / np.exp(xs).sum(1, keepdims=True)
    p[np.arange(6), [0, 1, 2, 3, 4, 0]] -= 1
    np.testing.assert_allclose(first, p / 6, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_equals_the_two_branch_formula(dtype):
    # the fast path (e^x/(1+e^x) in cache-sized pieces) replaced np.where(x >= 0, 1/(1+e), e/(1+e)), which
    # numpy runs 4x slower; the values keep their bits for x < 0 and where exp under- or overflows, and move
    # by at most 4 ulp for x >= 0 (tests/helpers.assert_sigmoid_matches)
    from helpers import assert_sigmoid_matches, kernel_paths
    from tinygrad_lite.ops import elementwise
    x = np.concatenate([np.linspace(-120, 120, 2001), [0.0, -0.0, 1e-30, -1e-30, 800.0, -800.0, np.inf, -np.inf]])
    x = x.astype(dtype)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        ref = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype)
    for compiled, path in kernel_paths(elementwise, "_sigmoid32", "_sigmoid_grad32"):
        with path:
            out = elementwise._sigmoid_fwd(None, x)
        assert out.dtype == dtype
        assert_sigmoid_matches(out, ref, x, same_bits_below_zero=not (compiled and dtype == np.float32))


def test_the_cache_of_ones_vectors_stays_small():
    from tinygrad_lite.ops import _ONES_VEC
    for n in range(1, 300):  # e.g. a bias gradient over batches of every length
        sum_to(np.ones((n, 3), np.float32), (3,))
    assert len(_ONES_VEC) <= 64
    np.testing.assert_array_equal(sum_to(np.ones((299, 3), np.float32), (3,)), np.full(3, 299.0, np.float32))


# ---------------------------------------------------------------------- softmax and log_softmax over the last dim
# (tinygrad_lite/ops/reduce.py: the path for large C-contiguous float arrays against the general one)
def _rows(kind, dtype, shape=(64, 300)):
    x = np.random.default_rng(7).standard_normal(shape) * 3
    if kind == "negative":      # every row maximum below 0: shifted by the row maxima
        x -= 20
    elif kind == "large":       # maxima above what exp can take unshifted
        x += 100 if dtype == np.float32 else 800
    elif kind == "masked":      # -inf entries, one row all -inf, one NaN, one +inf (the general path's rows)
        x[:, ::3] = -np.inf
        x[1] = -np.inf
        x[2, 5] = np.nan
        x[3, 7] = np.inf
    return x.astype(dtype)


PATHS = ["blas"] + (["jit"] if jit.available() else [])  # the last-dim paths: BLAS shifts, compiled kernels


def _on(path):
    """Pin softmax/log_softmax to one path: "general" (numpy, any axis), "blas" or "jit" (the kernels of
    ops/norm_kernels.py; their forward serves float32 only, float64 takes the BLAS one)."""
    from unittest import mock
    from tinygrad_lite.ops import reduce
    big = 1 << 62
    return mock.patch.multiple(reduce, _ROWS_MIN=big if path == "general" else reduce._ROWS_MIN,
                               _ROWS_JIT_MIN=1 if path == "jit" else big)


def _general_path():
    return _on("general")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "negative", "large", "masked"])
def test_last_dim_softmax_equals_the_general_path(kind, dtype):
    from unittest import mock
    from tinygrad_lite.ops import reduce
    x = _rows(kind, dtype)
    g = np.random.default_rng(8).standard_normal(x.shape).astype(dtype)
    shifted = mock.patch.object(reduce, "_exp_shifted", side_effect=reduce._exp_shifted)
    with np.errstate(invalid="ignore"), shifted as spy, _on("blas"):
        s = reduce._softmax_fwd(-1, x)
        d = reduce._softmax_dx(g, s, -1, x)
    assert spy.called == (kind != "normal")  # N(0, 9) rows: every maximum in [0, 80], exp(x) unshifted
    with np.errstate(invalid="ignore"), _general_path():
        s_ref = reduce._softmax_fwd(-1, x)
        d_ref = reduce._softmax_dx(g, s_ref, -1, x)
    assert s.dtype == d.dtype == dtype and s.shape == x.shape
    tol = dict(rtol=2e-6, atol=1e-30) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(s, s_ref, **tol)
    np.testing.assert_allclose(d, d_ref, rtol=tol["rtol"], atol=tol["rtol"] * np.nanmax(np.abs(g)))


@pytest.mark.parametrize("path, dtype", [("blas", np.float32), ("blas", np.float64)]
                         + [("jit", np.float32)] * ("jit" in PATHS))
def test_unshifted_softmax_is_as_accurate_as_the_shifted_one(path, dtype):
    # exp(x) takes x exactly where exp(x - m) takes a rounded x - m; the error left is mostly the row sum's
    # (measured in float32: 7 ulp unshifted, 20 shifted, PyTorch 18)
    from tinygrad_lite.ops import reduce
    x = _rows("normal", dtype, (200, 500))
    xl = x.astype(np.longdouble)
    e = np.exp(xl - xl.max(-1, keepdims=True))
    exact = (e / e.sum(-1, keepdims=True)).astype(dtype)
    ulps = lambda s: (np.abs(s.astype(np.longdouble) - exact) / np.spacing(exact)).max()  # noqa: E731
    with _general_path():
        shifted = reduce._softmax_fwd(-1, x)
    with _on(path):
        assert ulps(reduce._softmax_fwd(-1, x)) <= min(8, ulps(shifted))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "negative", "masked"])
def test_log_softmax_saves_its_exps_and_its_backward_equals_the_reference(kind, dtype, path):
    from tinygrad_lite.ops import reduce
    x = _rows(kind, dtype, (20, 30, 17))
    g = np.random.default_rng(9).standard_normal(x.shape).astype(dtype)
    with np.errstate(invalid="ignore", divide="ignore"), _on(path):
        out, saved = reduce._log_softmax_fwd(-1, x)
        with _general_path():
            out_ref, none = reduce._log_softmax_fwd(-1, x)
        assert saved is not None and none is None
        if path == "jit" and dtype == np.float32:  # the kernel's own exp and float64 row sums: log Σe rounds apart
            np.testing.assert_allclose(out, out_ref, rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(np.isnan(out), np.isnan(out_ref))
        else:
            np.testing.assert_array_equal(out, out_ref)  # the same operations, the shifts by BLAS (one rounding each)
        (d,) = reduce._log_softmax_grads(g, out, -1, saved, (True,), x)
        (d_ref,) = reduce._log_softmax_grads(g, out, -1, None, (True,), x)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(d, d_ref, rtol=tol, atol=tol * np.abs(g).sum(-1).max())
    # through the engine: backward twice (retain_graph) reuses the saved exps unchanged
    t = Tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"), _on(path):
        y = t.log_softmax(-1)
        y.backward(Tensor(g), retain_graph=True)
        first = t.grad.numpy().copy()
        t.grad = None
        y.backward(Tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), first)
    np.testing.assert_array_equal(first, d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(300, 257), (5, 40, 130), (6, 5)])
def test_sub_col_is_numpys_subtraction_bit_for_bit(shape, dtype):
    from tinygrad_lite.ops.numpy_fast import row_dot, sub_col_
    rng = np.random.default_rng(10)
    a = (rng.standard_normal(shape) * 5).astype(dtype)
    c = (rng.standard_normal(shape[:-1] + (1,)) * 5).astype(dtype)
    a.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    c.reshape(-1)[:4] = [0.0, np.inf, np.nan, -0.0]
    with np.errstate(invalid="ignore"):
        want = a - c
        b = a.copy()
        assert sub_col_(b, c) is b
    np.testing.assert_array_equal(b, want)
    np.testing.assert_array_equal(np.signbit(b), np.signbit(want))
    f = np.asfortranarray(a)  # (not C-contiguous: numpy's own subtraction)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(sub_col_(f, c), want)
    a2 = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(row_dot(a2, a2), (a2 * a2).sum(-1, keepdims=True), rtol=1e-5 if dtype == np.float32 else 1e-13)


# ---------------------------------------------------------------------- the compiled path (ops/norm_kernels.py)
needs_jit = pytest.mark.skipif(not jit.available(), reason="numba is not installed")


@needs_jit
def test_the_kernels_exp_is_within_one_ulp_and_keeps_subnormals_overflow_and_nan():
    # rows (v, +inf): the row maximum is not finite, so the shift is 0 and log_softmax's kept e[:, 0] is exp(v)
    from tinygrad_lite.ops.norm_kernels import softmax_rows
    v = np.concatenate([np.linspace(-104, 89, 1 << 18), [np.nan, np.inf, -np.inf, 0.0, -1e30, 1e30]])
    x = np.stack([v, np.full_like(v, np.inf)], 1).astype(np.float32)
    e, out = np.empty_like(x), np.empty_like(x)
    with np.errstate(all="ignore"):
        softmax_rows(x, e, np.empty(len(x), np.float32), out, True)
        exact = np.exp(x[:, 0].astype(np.float64))
    e = e[:, 0]
    normal = (exact > np.finfo(np.float32).tiny) & (exact < np.finfo(np.float32).max)
    ulps = np.abs(e[normal] - exact[normal]) / np.spacing(exact[normal].astype(np.float32))
    assert ulps.max() <= 1.5  # (1.01 measured)
    tiny = exact <= np.finfo(np.float32).tiny  # subnormal results: to within one subnormal step
    assert np.abs(e[tiny] - exact[tiny]).max() <= np.finfo(np.float32).smallest_subnormal
    assert np.isinf(e[exact >= 2.0 ** 128]).all()
    np.testing.assert_array_equal(e[-6:], [np.nan, np.inf, 0.0, 1.0, 0.0, np.inf])  # (the special values above)


@needs_jit
@pytest.mark.parametrize("kind", ["normal", "negative", "large", "masked"])
def test_compiled_softmax_and_log_softmax_equal_the_general_path(kind):
    """float32: the kernels' forward (own exp) and both rules against the general numpy path; float64: the
    rules (the forward stays numpy's). NaN rows and hidden (-inf) entries alike."""
    from unittest import mock
    from tinygrad_lite.ops import reduce
    for dtype in (np.float32, np.float64):
        x = _rows(kind, dtype)
        g = np.random.default_rng(8).standard_normal(x.shape).astype(dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            with _on("jit"), mock.patch.object(reduce, "_rows_jit_dx", wraps=reduce._rows_jit_dx) as rule:
                s = reduce._softmax_fwd(-1, x)
                d = reduce._softmax_dx(g, s, -1, x)
                ls, saved = reduce._log_softmax_fwd(-1, x)
                (dl,) = reduce._log_softmax_grads(g, ls, -1, saved, (True,), x)
            assert rule.call_count == 2
            with _general_path():
                s_ref = reduce._softmax_fwd(-1, x)
                d_ref = reduce._softmax_dx(g, s_ref, -1, x)
                ls_ref, _ = reduce._log_softmax_fwd(-1, x)
                (dl_ref,) = reduce._log_softmax_grads(g, ls_ref, -1, None, (True,), x)
        tol = 2e-6 if dtype == np.float32 else 1e-14
        grad_atol = tol * np.abs(g).sum(-1).max()  # (a rule's terms are as large as Σ|g|)
        for got, ref, atol in ((s, s_ref, 1e-30), (d, d_ref, grad_atol), (ls, ls_ref, tol), (dl, dl_ref, grad_atol)):
            assert got.dtype == dtype and got.shape == x.shape
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
            np.testing.assert_allclose(got, ref, rtol=tol, atol=atol)


_EDGE = [0.0, 1.0, -1.0, 80.0, -80.0, 1e30, -1e30, np.nan, np.inf, -np.inf]


@needs_jit
@settings(max_examples=80, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9), data=st.data())
def test_compiled_softmax_on_edge_values_matches_float64(shape, data):
    """float32 rows mixing normal values with 0, ±80, ±1e30, NaN, ±inf: softmax and log_softmax (forward and
    backward through the engine) have the NaN of the float64 general path and its values to rounding."""
    rng = np.random.default_rng(data.draw(seeds))
    x = rng.standard_normal(shape) * 4
    pick = np.array(data.draw(st.lists(st.sampled_from(_EDGE), min_size=x.size, max_size=x.size))).reshape(shape)
    x = np.where(rng.random(shape) < 0.3, pick, x).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    for name in ("softmax", "log_softmax"):
        res = {}
        for path, dtype in (("jit", np.float32), ("general", np.float64)):
            t = Tensor(x.astype(dtype), requires_grad=True)
            with np.errstate(all="ignore"), _on(path):
                y = getattr(t, name)(-1)
                y.backward(Tensor(g.astype(dtype)))
            res[path] = (y.detach().numpy(), t.grad.numpy())
        if name == "log_softmax":  # a row with +inf: its saved exps overflow (so do the BLAS path's; PyTorch's
            keep = ~np.isposinf(x).any(-1, keepdims=True)  # row is all NaN), the general rule takes exp(-inf) = 0
            res = {k: (y, np.where(keep, d, 0)) for k, (y, d) in res.items()}
        for got, want in zip(res["jit"], res["general"]):
            assert got.dtype == np.float32
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            ok = np.isfinite(want)
            np.testing.assert_array_equal(got[~ok & ~np.isnan(want)], want[~ok & ~np.isnan(want)])
            scale = max(1.0, np.abs(want[ok]).max(initial=0))
            np.testing.assert_allclose(got[ok], want[ok], rtol=2e-5, atol=2e-6 * scale)


_SOFTMAX_OUTPUTS = '''
import numpy as np
from tinygrad_lite import Tensor

def outputs():
    """softmax and log_softmax over the last dim, forward and backward, float32 and float64, small and large."""
    out = {}
    for shape in ((4, 8), (64, 300)):
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(0)
            x, g = (rng.standard_normal(shape).astype(dtype) * 3 for _ in range(2))
            for name in ("softmax", "log_softmax"):
                t = Tensor(x, requires_grad=True)
                y = getattr(t, name)(-1)
                y.backward(Tensor(g))
                key = f"{name}{shape}{np.dtype(dtype).name}"
                out[key], out[key + "dx"] = y.detach().numpy(), t.grad.numpy()
    return out
'''


def test_switched_off_kernels_give_the_numpy_paths_softmax(tmp_path):
    """TINYGRAD_LITE_JIT=0 in a fresh process: softmax and log_softmax take the numpy paths, bit for bit what
    they give here with the kernels bypassed."""
    import os
    import subprocess
    import sys
    code = _SOFTMAX_OUTPUTS + ("import sys\nfrom tinygrad_lite.ops import reduce\n"
                               "assert reduce.softmax_rows is None and not reduce._rows_jit(np.ones((2, 2)), -1)\n"
                               "np.savez(sys.argv[1], **outputs())\n")
    got = subprocess.run([sys.executable, "-c", code, str(tmp_path / "off.npz")], capture_output=True, text=True,
                         env=dict(os.environ, TINYGRAD_LITE_JIT="0"))
    assert got.returncode == 0, got.stderr
    ns = {}
    exec(_SOFTMAX_OUTPUTS, ns)
    from unittest import mock
    from tinygrad_lite.ops import reduce
    with mock.patch.object(reduce, "_ROWS_JIT_MIN", 1 << 62):
        here = ns["outputs"]()
    off = np.load(tmp_path / "off.npz")
    assert sorted(off.files) == sorted(here)
    for k, v in here.items():
        np.testing.assert_array_equal(off[k], v, err_msg=k)


# ---------------------------------------------------------------------- a float32 array's total
@pytest.mark.parametrize("n", [4096, 4097, 100_003, 1 << 20])
def test_compiled_float32_total_is_the_exact_sum_rounded(n):
    """The compiled total adds in float64: the float32 rounding of the exact sum (math.fsum), or one ulp
    from it; numpy's float32 pairwise sum is further off. The numpy path (kernels off) is numpy's sum."""
    import math
    from tinygrad_lite.ops import reduce
    x = (np.random.default_rng(n).standard_normal(n) * 1e3 + 7).astype(np.float32)
    exact = np.float32(math.fsum(x.astype(np.float64)))
    got = reduce.total(x)
    assert got.shape == () and got.dtype == np.float32
    if reduce._total32 is not None:
        assert abs(float(got) - float(exact)) <= float(np.spacing(exact))
    with jit.numpy_kernels(reduce, "_total32"):
        np.testing.assert_array_equal(reduce.total(x), np.add.reduce(x, axis=None))
    x2 = x.reshape(-1, 1)[:, 0][::-1]  # non-contiguous: numpy's sum (the kernel takes C-contiguous arrays)
    np.testing.assert_allclose(reduce.total(x2), exact, rtol=1e-5)


def test_float32_total_through_the_api_nan_inf_keepdim_and_gradient():
    x = np.random.default_rng(0).standard_normal((64, 128)).astype(np.float32)
    t = Tensor(x, requires_grad=True)
    s = t.sum()
    s.backward()
    np.testing.assert_allclose(s.item(), x.astype(np.float64).sum(), rtol=1e-6)
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))
    for kw in (dict(keepdim=True), dict(dim=(0, 1), keepdim=True)):
        kept = Tensor(x).sum(**kw).numpy()
        assert kept.shape == (1, 1)
        np.testing.assert_allclose(kept, x.sum(keepdims=True), rtol=1e-5)
    for bad, want in ((np.nan, np.nan), (np.inf, np.inf), (-np.inf, -np.inf)):
        y = x.copy()
        y[3, 5] = bad
        np.testing.assert_array_equal(Tensor(y).sum().numpy(), want)
    y = x.copy()
    y[0, 0], y[1, 1] = np.inf, -np.inf
    assert np.isnan(Tensor(y).sum().item())
