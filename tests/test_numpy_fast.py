"""The fast spellings of slow numpy calls (ops/numpy_fast.py, elementwise._ipow) give numpy's plain
results exactly, on the shapes that take the fast path and on those that do not."""
import math
import os
from unittest import mock

import numpy as np
import pytest

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import numpy_fast
from tinygrad_lite.ops.elementwise import _ipow
from tinygrad_lite.ops.numpy_fast import maximum0, minimum0

SHAPES = [(8, 8), (3, 64), (2, 5, 130), (1000,), (4096, 3), ()]


def _arr(shape, dtype, seed=0):
    a = np.asarray(np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    if a.size > 4:
        a.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    return a


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
def test_maximum0_minimum0_equal_numpy(shape, dtype):
    with np.errstate(invalid="ignore"):
        x = _arr(shape, np.float64).astype(dtype) if dtype is not np.int64 else \
            np.random.default_rng(1).integers(-5, 5, shape)
    for fast, ref in ((maximum0, np.maximum), (minimum0, np.minimum)):
        got, want = fast(x), ref(x, 0)
        assert got.dtype == np.asarray(want).dtype and got.shape == np.shape(want)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("p", [3, 4, 5, 7, 8, -3, -4, 3.0, 9, 2.5, -1, 2])
@pytest.mark.parametrize("shape", [(2, 70), (5,), ()])
def test_ipow_equals_power(p, shape):
    x = np.abs(_arr(shape, np.float64, seed=2)) + 0.25 if shape else np.array(1.7)
    with np.errstate(invalid="ignore"):
        want = x ** p
        got = _ipow(x, p)
    np.testing.assert_allclose(got, want, rtol=4e-15)
    assert np.asarray(got).dtype == np.asarray(want).dtype


def test_large_relu_sigmoid_logsigmoid_against_float64():
    x64 = np.random.default_rng(3).standard_normal((300, 257)) * 8
    x = Tensor(x64.astype(np.float32))
    np.testing.assert_array_equal(x.relu().numpy(), np.maximum(x64.astype(np.float32), 0))
    np.testing.assert_allclose(x.sigmoid().numpy(), 1 / (1 + np.exp(-x64.astype(np.float32).astype(np.float64))),
                               rtol=3e-7, atol=1e-30)
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), -np.logaddexp(0, -x64.astype(np.float32).astype(np.float64)),
                               rtol=3e-7, atol=1e-7)


def test_pow_scalar_gradient_uses_the_same_products():
    x = Tensor(np.linspace(0.5, 2.0, 130).reshape(2, 65), requires_grad=True)
    (x ** 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 5 * np.linspace(0.5, 2.0, 130).reshape(2, 65) ** 4, rtol=1e-14)
    assert math.isclose(float((Tensor(np.array([2.0])) ** -3).numpy()[0]), 0.125, rel_tol=1e-15)


@pytest.mark.parametrize("n,k,m", [(7, 50, 3), (1024, 1500, 64), (5, 1, 9), (300, 40, 200)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_index_add_rows_equals_add_at(n, k, m, dtype):
    from tinygrad_lite.ops.numpy_fast import index_add_rows
    rng = np.random.default_rng(k)
    idx = rng.integers(-n, n, k)
    g = rng.standard_normal((k, m)).astype(dtype)
    want = np.zeros((n, m), dtype)
    np.add.at(want, idx, g)
    got = index_add_rows(n, idx, g)
    assert got.dtype == dtype and got.flags.c_contiguous and type(got) is np.ndarray
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)


def test_row_gather_and_embedding_gradients_on_the_sparse_path():
    rng = np.random.default_rng(5)
    w64 = rng.standard_normal((50, 100))
    idx = rng.integers(-50, 50, (20, 30))  # 60000 gathered elements: the fast path
    x = Tensor(w64, requires_grad=True)
    g = rng.standard_normal((20, 30, 100))
    x[idx].backward(Tensor(g))
    want = np.zeros_like(w64)
    np.add.at(want, idx, g)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-13, atol=1e-13)
    e = Tensor(w64, requires_grad=True)
    pos = idx % 50
    F.embedding(Tensor(pos), e, padding_idx=3).backward(Tensor(g))
    want = np.zeros_like(w64)
    np.add.at(want, pos, g)
    want[3] = 0
    np.testing.assert_allclose(e.grad.numpy(), want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_is_the_two_branch_formula(dtype):
    # bit for bit for x < 0 and the tails, 4 ulp for x >= 0 (tests/helpers.assert_sigmoid_matches)
    from helpers import assert_sigmoid_matches, kernel_paths
    from tinygrad_lite.ops import elementwise
    x = (np.random.default_rng(4).standard_normal((300, 70)) * 20).astype(dtype)
    x.flat[:5] = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    with np.errstate(over="ignore", invalid="ignore"):
        want = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x))).astype(dtype)
    for compiled, path in kernel_paths(elementwise, "_sigmoid32", "_sigmoid_grad32"):  # (numba's float32 loops)
        with np.errstate(over="ignore", invalid="ignore"), path:
            got = elementwise._sigmoid_fwd(None, x)
        assert got.dtype == dtype
        assert_sigmoid_matches(got, want, x, same_bits_below_zero=not (compiled and dtype == np.float32))


# ---------------------------------------------------------------------- remainder and floor_divide in float64
def _bits(a):
    """a's bit patterns (NaNs made one pattern: their sign and payload are not specified)."""
    a = np.where(np.isnan(a), np.float32(np.nan), a).astype(np.float32)
    return a.view(np.uint32)


def _float32_pairs(n=1 << 16, seed=0):
    """(x, y) float32 pairs where a rounded quotient is most likely to floor wrongly: random bit patterns
    (every exponent, subnormals, inf, NaN), wide magnitudes, exact and off-by-one-ulp multiples k*y with
    |k| up to 2^25 (around the 2^22 and 2^24 limits), small integers with zero remainders and negative y."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    sign = lambda: rng.choice([-1.0, 1.0], n)  # noqa: E731
    y = rng.standard_normal(n).astype(f32)
    ky = (rng.integers(-2 ** 25, 2 ** 25, n).astype(f32) * y).astype(f32)
    yi = rng.integers(-50, 50, n).astype(f32)
    return [(rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(f32),
             rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(f32)),
            ((np.exp2(rng.uniform(-40, 40, n)) * sign()).astype(f32), (np.exp2(rng.uniform(-40, 40, n)) * sign()).astype(f32)),
            ((rng.standard_normal(n) * 100).astype(f32), y),
            (ky, y), (np.nextafter(ky, f32(np.inf)), y), (np.nextafter(ky, f32(-np.inf)), y),
            (rng.integers(-1000, 1000, n).astype(f32) * yi, yi)]


def _torch_remainder(x, y):
    """PyTorch's remainder: np.remainder's values, but a zero result keeps the sign of x (not of y)."""
    r = np.asarray(np.remainder(x, y))
    return np.where(r == 0, np.copysign(np.zeros_like(r), x), r).astype(r.dtype)


def _specials():
    v = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-45, -1e-45, 3e38, -3e38, 0.5, 7.0, -7.0], np.float32)
    return np.meshgrid(v, v)


@pytest.mark.parametrize("fast,ref", [("remainder", _torch_remainder), ("floor_divide", np.floor_divide)])
def test_float32_remainder_and_floor_divide_are_numpys_bit_for_bit(fast, ref):
    from unittest import mock
    from tinygrad_lite.ops import numpy_fast
    cases = _float32_pairs() + [_specials()]
    with np.errstate(all="ignore"), mock.patch.object(numpy_fast, "_PAIR_MIN", 0):
        for x, y in cases:
            got, want = getattr(numpy_fast, fast)(x, y), ref(x, y)
            assert got.dtype == want.dtype == np.float32
            np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("fast,ref", [("remainder", _torch_remainder), ("floor_divide", np.floor_divide)])
def test_the_float64_path_serves_ordinary_inputs_without_numpy(fast, ref):
    # numpy's own loop is only for the elements outside the exact range: here there are none
    from unittest import mock
    from tinygrad_lite.ops import numpy_fast
    rng = np.random.default_rng(3)
    x, y = (rng.standard_normal((300, 200)) * 50).astype(np.float32), rng.standard_normal((300, 200)).astype(np.float32)
    want = ref(x, y)
    with mock.patch.object(np, fast, side_effect=AssertionError("numpy's loop was called")):
        got = getattr(numpy_fast, fast)(x, y)
    np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("fast,ref", [("remainder", _torch_remainder), ("floor_divide", np.floor_divide)])
def test_remainder_floor_divide_shapes_layouts_and_other_dtypes(fast, ref):
    from unittest import mock
    from tinygrad_lite.ops import chunked, numpy_fast
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((50, 30)) * 9).astype(np.float32)
    y = rng.standard_normal((50, 30)).astype(np.float32)
    pairs = [(x, np.array(0.7, np.float32)), (x, np.array(-0.7, np.float32)), (x.T, x.T[:1]), (x[:, :1], y[:1]),
             (x[:0], y[:0]), (np.array(3.5, np.float32), np.array(-2.0, np.float32)), (x[::2, ::3], y[::2, ::3]),
             (x.astype(np.float64), y.astype(np.float64)), (x.astype(np.float16), y.astype(np.float16)),
             (x, y.astype(np.float64))]
    with mock.patch.object(chunked, "CHUNK", 37), mock.patch.object(numpy_fast, "_PAIR_MIN", 0), \
            np.errstate(all="ignore"):  # many pieces, odd lengths; every size on the fast path
        for a, b in pairs + [_specials()]:
            got, want = getattr(numpy_fast, fast)(a, b), ref(a, b)
            assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == np.asarray(want).dtype
            np.testing.assert_array_equal(got, want)
            num = ~np.isnan(want)  # (a NaN's sign is not specified)
            np.testing.assert_array_equal(np.signbit(got)[num], np.signbit(want)[num])


@pytest.mark.parametrize("create_graph", [False, True])
def test_remainder_gradient_for_the_divisor_is_the_floor_division(create_graph):
    # dy = -g * floor_divide(x, y) (PyTorch's rule); np.floor(x / y) in float32 was one off where x / y
    # rounds up to a whole number (44 of these 2^16 elements), on arrays and, with create_graph, on Tensors
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(1 << 16) * 100).astype(np.float32)
    y = rng.standard_normal(1 << 16).astype(np.float32)
    assert (np.floor(x / y) != np.floor_divide(x, y)).any()  # the case this test is about is present
    a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    a.remainder(b).backward(Tensor(np.ones_like(x)), create_graph=create_graph)
    np.testing.assert_array_equal(b.grad.detach().numpy(), -np.floor_divide(x, y))
    np.testing.assert_array_equal(a.grad.detach().numpy(), np.ones_like(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (300, 2)])
def test_add_outer_is_a_rank_one_update_in_place(dtype, shape):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(dtype)
    u, v = rng.standard_normal(shape[0]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    want = a.astype(np.float64) - 2.5 * np.outer(u, v)
    got = numpy_fast.add_outer(a, u, v, -2.5)
    assert got is a
    np.testing.assert_allclose(a, want, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-5)


def test_add_outer_on_a_view_it_cannot_hand_to_blas_still_updates_it():
    """A row-major slice with a row stride longer than a row (every other column) is no Fortran matrix
    BLAS can take: f2py works on a copy, which is written back."""
    rng = np.random.default_rng(1)
    base = rng.standard_normal((6, 10))
    a = base[:, ::2]
    want = a + np.outer(np.ones(6), np.arange(5.0))
    numpy_fast.add_outer(a, np.ones(6), np.arange(5.0))
    np.testing.assert_allclose(base[:, ::2], want, rtol=1e-12)


def test_scipys_blas_gets_numpys_thread_count_on_first_use():
    """scipy's own OpenBLAS (a wheel's, beside numpy's) is given numpy's BLAS thread count before our first
    call through it, so that a cap the caller set before importing us also holds for those calls."""
    from threadpoolctl import ThreadpoolController
    import scipy
    libs = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    ours = [c for c in libs if c.filepath.startswith(os.path.dirname(np.__file__))]
    theirs = [c for c in libs if c.filepath.startswith(os.path.dirname(scipy.__file__)) and c not in ours]
    before = [c.num_threads for c in libs]             # (theirs is empty when numpy and scipy share one BLAS)
    try:
        for c in libs:
            c.set_num_threads(2)
        for c in ours:
            c.set_num_threads(1)
        with mock.patch.object(numpy_fast, "_GER", {}):
            numpy_fast.add_outer(np.zeros((2, 3)), np.ones(2), np.ones(3))
        assert [c.num_threads for c in ours + theirs] == [1] * len(ours + theirs)
    finally:
        for c, k in zip(libs, before):
            c.set_num_threads(k)
