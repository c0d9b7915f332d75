"""The erf / exact-GELU kernels (tinygrad_lite/ops/erf_kernels.py): float64 through scipy equal to
PyTorch to double precision; the chunked float32 algorithms against a float64 reference, on arrays
large enough to take that path (and not a whole number of chunks); edge values; dtypes. Each test runs
twice: on the numpy kernels and on the compiled loops (when numba is installed)."""
import math

import numpy as np
import pytest
import scipy.special as sc

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import chunked, erf_kernels as K, jit

N_BIG = chunked.CHUNK + 7231  # > one chunk, not a multiple of it, above the scipy threshold


@pytest.fixture(autouse=True, params=["numpy"] + (["compiled"] if jit.available() else []))
def kernels(request, monkeypatch):
    """Every test on both paths: the chunked numpy kernels (compiled loops off) and the compiled loops."""
    if request.param == "numpy":
        for name in ("gelu32", "gelu_grad32", "gelu_grad32_one_g", "erf32"):
            monkeypatch.setattr(K, name, None)
    return request.param


def _gelu64(x):
    return x * sc.ndtr(x)


def _dgelu64(x):
    return sc.ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _grid(lo, hi, n=N_BIG):
    return np.linspace(lo, hi, n).astype(np.float32)


def test_float32_gelu_is_accurate_to_a_few_ulp_where_it_matters():
    x = _grid(-9, 12)
    assert x.size >= K._SMALL
    got, ref = K.gelu(x), _gelu64(x.astype(np.float64))
    assert got.dtype == np.float32
    rel = np.abs(got - ref) / np.abs(ref).clip(1e-37)
    assert rel[x > 0].max() < 6e-7
    assert rel[(x < 0) & (x > -5)].max() < 2e-6
    assert rel[x <= -5].max() < 1e-5  # values < 1.5e-6 there; PyTorch's float32 gives 0
    assert np.abs(got - ref).max() < 2e-6  # absolute, over the whole range (values up to 12)


def test_float32_gelu_gradient_against_float64():
    x = _grid(-9, 12)
    g = np.random.default_rng(0).standard_normal(x.size).astype(np.float32)
    y = K.gelu(x)
    got = K.gelu_grad(g, x, y)
    ref = g * _dgelu64(x.astype(np.float64))
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() < 4e-6 * np.abs(g).max()


def test_float32_gelu_gradient_at_zero_is_one_half():
    x = np.zeros(N_BIG, np.float32)
    x[::3] = _grid(-2, 2)[::3]
    got = K.gelu_grad(np.float32(1.0), x, K.gelu(x))
    assert np.all(got[x == 0] == 0.5)
    assert np.abs(got - _dgelu64(x.astype(np.float64))).max() < 1e-6


def test_float32_erf_against_float64():
    x = np.concatenate([_grid(-6, 6), np.float32([0, -0.0, 1e-30, -1e-6, 3.92, 5, np.inf, -np.inf])])
    got, ref = K.erf(x), sc.erf(x.astype(np.float64))
    assert got.dtype == np.float32
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert (np.abs(got - ref) / ulp).max() <= 8
    assert np.isnan(K.erf(np.full(N_BIG, np.nan, np.float32))).all()


def test_nan_propagates_through_the_float32_kernels():
    x = _grid(-3, 3)
    x[100] = np.nan
    y = K.gelu(x)
    assert np.isnan(y[100]) and np.isfinite(np.delete(y, 100)).all()
    d = K.gelu_grad(np.float32(1.0), x, y)
    assert np.isnan(d[100]) and np.isfinite(np.delete(d, 100)).all()


@pytest.mark.parametrize("n", [5, N_BIG])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_is_kept(n, dtype):
    x = Tensor(np.linspace(-3, 3, n).astype(dtype), requires_grad=True)
    y = F.gelu(x)
    y.sum().backward()
    assert y.dtype == x.dtype and x.grad.dtype == x.dtype and F.erf(x).dtype == x.dtype


def test_public_api_takes_the_fast_path_and_gives_the_float64_values():
    xs = np.random.default_rng(1).standard_normal((37, 1031)).astype(np.float32) * 3
    x = Tensor(xs, requires_grad=True)
    F.gelu(x).sum().backward()
    ref = _dgelu64(xs.astype(np.float64))
    assert np.abs(x.grad.numpy() - ref).max() < 4e-6
    m = tl.nn.GELU()
    np.testing.assert_allclose(m(Tensor(xs)).detach().numpy(), _gelu64(xs.astype(np.float64)), rtol=2e-6, atol=1e-6)


def test_gelu_float64_gradcheck_through_zero_and_the_tails():
    x = Tensor(np.array([-7.5, -3.0, -0.75, -1e-3, 0.0, 1e-3, 0.5, 2.0, 8.0]), requires_grad=True)
    assert tl.gradcheck(F.gelu, (x,))
    assert tl.gradgradcheck(F.gelu, (x,))


# ---- the continued-fraction GELU kernel (float32): a dense grid, its tails and its edge values ----

def _dense(lo, hi, n=400_003):
    return np.linspace(lo, hi, n).astype(np.float32)


# (lo, hi, max relative error) of the float32 forward against float64: measured 1.3e-7, 6.8e-7, 1.0e-6 and
# 4.3e-6 (the rounding of x^2 inside exp dominates far out, where the values are below 1e-6)
_GELU_BANDS = [(1.0, 14.0, 3e-7), (-3.0, 1.0, 1.2e-6), (-5.0, -3.0, 2e-6), (-13.1, -5.0, 8e-6)]


@pytest.mark.parametrize("lo,hi,tol", _GELU_BANDS)
def test_float32_gelu_relative_error_on_a_dense_grid(lo, hi, tol):
    x = _dense(lo, hi)
    got, ref = K.gelu(x), _gelu64(x.astype(np.float64))
    assert np.abs(ref).min() > np.finfo(np.float32).tiny  # (every value normal: relative error is meaningful)
    assert (np.abs(got - ref) / np.abs(ref)).max() < tol


def test_float32_gelu_near_zero_where_the_deepest_level_is_infinite():
    """The continued fraction's deepest level b3 / |x| is inf at x = 0 (and overflows for denormal x); it
    passes through to the right value, and the kernel silences its own division by zero."""
    tiny = np.logspace(-37.5, 0, 20_000).astype(np.float32)
    x = np.concatenate([tiny, -tiny, np.float32([0.0, -0.0])])
    with np.errstate(all="raise"):
        got = K.gelu(x)
    ref = _gelu64(x[:-2].astype(np.float64))
    assert (np.abs(got[:-2] - ref) / np.abs(ref)).max() < 1e-6
    assert np.all(got[-2:] == 0)


def test_float32_gelu_edge_values_as_pytorch_gives_them():
    edge = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 3.4e38, -3.4e38, 1e-40, -1e-40, 1e-30, -1e-30])
    x = np.tile(edge, K._SMALL // edge.size + 1)
    got = K.gelu(x)[:edge.size]
    assert got[0] == 0 and got[1] == 0 and np.signbit(got[1])
    assert np.isnan(got[2:5]).all()  # +-inf: inf - inf as in PyTorch's float32 GELU; NaN stays NaN
    assert got[5] == np.float32(1e30) and got[6] == 0 and got[7] == np.float32(3.4e38) and got[8] == 0
    np.testing.assert_allclose(got[9:], edge[9:] / 2, rtol=1e-5, atol=0)  # denormals: x Phi(x) = x/2 to their precision


def test_float32_gelu_gradient_on_a_dense_grid_and_edge_values():
    x = np.concatenate([_dense(-13, 13), np.float32([0.0, -0.0, 1e30, -1e30, 1e-40, -1e-40, np.inf, np.nan])])
    g = np.random.default_rng(2).standard_normal(x.size).astype(np.float32)
    got = K.gelu_grad(g, x, K.gelu(x))
    with np.errstate(invalid="ignore", over="ignore"):  # (the float64 reference at inf and 1e30)
        ref = g * _dgelu64(x.astype(np.float64))
    fin = np.isfinite(x)
    assert np.abs(got - ref)[fin].max() < 5e-7 * np.abs(g).max()
    assert np.all(got[-8:-6] == 0.5 * g[-8:-6]) and got[-6] == g[-6] and got[-5] == 0
    np.testing.assert_allclose(got[-4:-2], 0.5 * g[-4:-2], rtol=1e-5)
    assert np.isnan(got[-2:]).all()


def test_gelu_gradient_mends_zeros_without_hiding_nan_for_any_g():
    x = _grid(-2, 2)
    x[::5] = 0.0
    x[7] = np.nan
    y = K.gelu(x)
    for g in (np.float32(3.0), np.full(x.size, 3.0, np.float32), np.float64(3.0)):
        with np.errstate(all="raise"):  # (a caller's setting: the kernel sets its own)
            d = K.gelu_grad(g, x, y)
        assert d.dtype == np.float32
        assert np.all(d[::5] == 1.5) and np.isnan(d[7])
        assert np.isfinite(np.delete(d, 7)).all()


def test_float32_kernels_take_non_contiguous_inputs():
    x = (np.random.default_rng(4).standard_normal((300, 2 * 257)) * 4).astype(np.float32)
    view = x[:, ::2]
    assert not view.flags.c_contiguous and view.size >= K._SMALL
    np.testing.assert_array_equal(K.gelu(view), K.gelu(np.ascontiguousarray(view)))
    np.testing.assert_array_equal(K.erf(view), K.erf(np.ascontiguousarray(view)))
    y = K.gelu(view)
    np.testing.assert_array_equal(K.gelu_grad(np.float32(1), view, y),
                                  K.gelu_grad(np.float32(1), np.ascontiguousarray(view), y))


def test_float32_erf_on_a_dense_grid_tails_and_edge_values():
    x = np.concatenate([_dense(-8, 8), np.float32([0, -0.0, 1e-40, -1e-40, 1e-30, 1e30, -1e30, np.inf, -np.inf])])
    got, ref = K.erf(x), sc.erf(x.astype(np.float64))
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert (np.abs(got - ref) / ulp).max() <= 8
    assert np.signbit(got[-8]) and not np.signbit(got[-9])  # erf(-0.0) = -0.0


def test_the_gelu_constants_are_what_the_fitting_script_gives():
    """bench/fit_erf_kernels.py reproduces the kernel's continued fraction (its origin, in float64)."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / "fit_erf_kernels.py"
    spec = importlib.util.spec_from_file_location("fit_erf_kernels", path)
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    (_, _, err), b0, levels = fit.gelu_constants()
    assert err < 4.5e-7
    np.testing.assert_allclose([b0, *np.ravel(levels)], [K._GELU_B0, *np.ravel(K._GELU_LEVELS)], rtol=1e-6, atol=1e-9)
