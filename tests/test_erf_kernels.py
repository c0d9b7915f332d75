"""The erf / exact-GELU kernels (tinygrad_lite/ops/erf_kernels.py): float64 through scipy equal to
PyTorch to double precision; the chunked float32 algorithms against a float64 reference, on arrays
large enough to take that path (and not a whole number of chunks); edge values; dtypes."""
import math

import numpy as np
import pytest
import scipy.special as sc

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import chunked, erf_kernels as K

N_BIG = chunked.CHUNK + 7231  # > one chunk, not a multiple of it, above the scipy threshold


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
