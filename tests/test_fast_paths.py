"""Fast paths behind the public API (issue 12's per-op outliers) against the plain reference they
replace, on shapes that take the fast path and shapes that do not (minitorch style: the reference
is kept beside the fast path). PyTorch comparisons of the same ops: tests/torch/test_fast_paths_vs_torch.py."""
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_lite as tl
from tinygrad_lite.ops import chunked, elementwise, numpy_fast, special

from helpers import assert_sigmoid_matches, kernel_paths


# ---------------------------------------------------------------------- copy_c: tiled transposed copies
@given(shape=st.lists(st.integers(1, 300), min_size=2, max_size=4), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from([np.float32, np.float64, np.int16, np.complex64]), flip=st.booleans())
def test_copy_c_equals_numpys_copy(shape, seed, dtype, flip):
    rng = np.random.default_rng(seed)
    while np.prod(shape) > 150_000:  # (big enough for the tiled path, small enough to stay quick)
        shape[int(np.argmax(shape))] //= 2
    a = np.arange(np.prod(shape)).astype(dtype).reshape(shape).transpose(rng.permutation(len(shape)))
    if flip:
        a = a[::-1]
    got = numpy_fast.copy_c(a)
    assert got.flags.c_contiguous and got.flags.owndata and got.dtype == a.dtype
    np.testing.assert_array_equal(got, np.ascontiguousarray(a))


@pytest.mark.parametrize("shape,perm", [((1024, 700), (1, 0)), ((6, 300, 260), (0, 2, 1)), ((260, 3, 300), (2, 1, 0))])
def test_copy_c_tiles_large_transposes_and_is_exact(shape, perm):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32).transpose(perm)
    assert numpy_fast._tiled_axis(a) is not None  # the fast path is the one tested
    np.testing.assert_array_equal(numpy_fast.copy_c(a), np.ascontiguousarray(a))


def test_permute_and_contiguous_gradients_are_row_major_copies():
    x = tl.Tensor(np.random.default_rng(1).standard_normal((300, 520)), requires_grad=True)
    g = np.random.default_rng(2).standard_normal((520, 300))
    y = x.permute(1, 0).contiguous()
    assert y._data.flags.c_contiguous
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy().T)
    y.backward(tl.Tensor(g))
    assert x.grad._data.flags.c_contiguous and not np.shares_memory(x.grad._data, g)
    np.testing.assert_array_equal(x.grad.numpy(), g.T)


# ---------------------------------------------------------------------- reshape / cat: views kept as .grad
def test_reshape_gradient_is_a_view_of_the_callers_gradient_as_in_pytorch():
    x = tl.Tensor(np.zeros(12), requires_grad=True)
    gt = tl.Tensor(np.arange(12.0).reshape(3, 4))
    g = gt.numpy()
    x.reshape(3, 4).backward(gt)
    assert np.shares_memory(x.grad._data, g)  # no copy (PyTorch keeps the same view)
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(12.0))
    x.reshape(3, 4).backward(gt)  # the second gradient is added out of place: the caller's is untouched
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(12.0))
    np.testing.assert_array_equal(g, np.arange(12.0).reshape(3, 4))


def test_a_leaf_used_twice_by_cat_gets_the_sum_and_the_callers_gradient_is_untouched():
    x = tl.Tensor(np.ones((2, 3)), requires_grad=True)
    gt = tl.Tensor(np.arange(12.0).reshape(4, 3))
    g = gt.numpy()
    tl.cat([x, x], 0).backward(gt)
    np.testing.assert_array_equal(x.grad.numpy(), g[:2] + g[2:])
    np.testing.assert_array_equal(g, np.arange(12.0).reshape(4, 3))


def test_two_leaves_never_share_a_gradient_buffer():
    """(a.reshape + b.reshape): add passes one buffer to both reshapes; PyTorch lets a.grad and b.grad
    share it (an in-place change of one changes the other); here neither keeps a view of it."""
    a, b = (tl.Tensor(np.zeros(6), requires_grad=True) for _ in range(2))
    g = np.arange(6.0).reshape(2, 3)
    (a.reshape(2, 3) + b.reshape(2, 3)).backward(tl.Tensor(g))
    assert not np.shares_memory(a.grad._data, b.grad._data)
    a.grad.mul_(0.0)
    np.testing.assert_array_equal(b.grad.numpy(), g.reshape(-1))


def test_borrowed_engine_buffer_and_in_place_updates_of_grad():
    """w.reshape's gradient is the engine's own matmul result: w.grad keeps it (a view); in-place
    changes of .grad (zero_grad to zeros, clipping, mul_) and a second backward all give the right sums."""
    rng = np.random.default_rng(0)
    w = tl.Tensor(rng.standard_normal(12), requires_grad=True)
    v = tl.Tensor(rng.standard_normal((4, 5)))

    def loss():
        return (w.reshape(3, 4) @ v).tanh().sum()

    loss().backward()
    first = w.grad.numpy().copy()
    assert w.grad._data.base is not None  # kept as the view (no copy)
    loss().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-15)
    w.grad.mul_(0.5)
    np.testing.assert_allclose(w.grad.numpy(), first, rtol=1e-15)
    opt = tl.optim.SGD([w], lr=0.1)
    opt.zero_grad(set_to_none=False)
    loss().backward()
    np.testing.assert_allclose(w.grad.numpy(), first, rtol=1e-15)
    tl.nn.utils.clip_grad_norm_([w], 1e-3)
    np.testing.assert_allclose(np.linalg.norm(w.grad.numpy()), 1e-3, rtol=1e-5)


@pytest.mark.parametrize("axis", [0, 1])
def test_cat_gradients_on_both_axes(axis):
    rng = np.random.default_rng(axis)
    xs = [tl.Tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(3)]
    out = tl.cat(xs, axis)
    g = rng.standard_normal(out.shape)
    out.backward(tl.Tensor(g))
    for x, piece in zip(xs, np.split(g, 3, axis)):
        np.testing.assert_array_equal(x.grad.numpy(), piece)
        assert x.grad._data.flags.c_contiguous


# ---------------------------------------------------------------------- einsum through BLAS
EINSUMS = [("ij,jk->ik", [(70, 60), (60, 50)]), ("bij,bjk->bik", [(3, 40, 30), (3, 30, 20)]),
           ("ij,ij->", [(60, 50), (60, 50)]), ("ii,ij->j", [(60, 60), (60, 40)]), ("i,j->ij", [(3000,), (4,)]),
           ("...ij,jk->...ik", [(2, 3, 40, 30), (30, 5)]), ("ijk,kj->i", [(50, 20, 30), (30, 20)]),
           ("ij,jk->ik", [(4, 3), (3, 2)])]


@pytest.mark.parametrize("eq,shapes", EINSUMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_einsum_fast_path_equals_numpys_loops(eq, shapes, dtype):
    from tinygrad_lite.ops.extra import np_einsum
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    got, want = np_einsum(eq, *xs), np.einsum(eq, *xs)
    assert np.asarray(got).dtype == np.asarray(want).dtype and np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 2e-5, atol=1e-12 if dtype == np.float64 else 1e-4)


# ---------------------------------------------------------------------- cumsum by slices
@given(shape=st.lists(st.integers(1, 40), min_size=0, max_size=3), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from([np.float32, np.float64, np.int64]), reverse=st.booleans(), wide=st.booleans())
def test_cumsum_equals_numpys_bit_for_bit(shape, seed, dtype, reverse, wide):
    # (the slice-by-slice path; the last dim's blocked scan sums in another order: tested below)
    with mock.patch.object(numpy_fast, "_SCAN_MIN", float("inf")):
        _cumsum_bit_for_bit(shape, seed, dtype, reverse, wide)


def _cumsum_bit_for_bit(shape, seed, dtype, reverse, wide):
    if wide and shape:
        shape = shape + [300]  # long slices: the slice-by-slice path for every axis but the last
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    for axis in range(max(x.ndim, 1)):
        got = numpy_fast.cumsum(x, axis, reverse)
        if x.ndim == 0:
            np.testing.assert_array_equal(got, x)
            continue
        want = np.flip(np.cumsum(np.flip(x, axis), axis, dtype=dtype), axis) if reverse else np.cumsum(x, axis, dtype=dtype)
        assert got.dtype == want.dtype and got.flags.c_contiguous and got.flags.owndata
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(numpy_fast._scan_rows is None, reason="compiled kernels off: numba missing or TINYGRAD_LITE_JIT=0")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1024, 1024), (7, 333), (5, 2, 37), (300, 1), (1, 300), (4, 64), (6, 64)])
def test_compiled_last_dim_scan_is_numpys_loop_bit_for_bit(shape, dtype):
    """The compiled scan (four rows at a time) adds in np.cumsum's order: the same bits, NaN and inf
    included, every row count (the rest after the groups of four), either direction."""
    x = (np.random.default_rng(0).standard_normal(shape) * 100).astype(dtype)
    x.flat[::97] = np.nan
    x.flat[5::89] = np.inf
    for reverse in (False, True):
        got = numpy_fast.cumsum(x, -1, reverse)
        want = np.flip(np.cumsum(np.flip(x, -1), -1, dtype=dtype), -1) if reverse else np.cumsum(x, -1, dtype=dtype)
        np.testing.assert_array_equal(got, want)
        out = np.empty_like(x)
        numpy_fast._scan_rows(x.reshape(-1, shape[-1]), out.reshape(-1, shape[-1]), reverse)
        np.testing.assert_array_equal(out, want)


def test_cumsum_gradient_is_the_reversed_cumsum():
    x = tl.Tensor(np.random.default_rng(0).standard_normal((40, 300)), requires_grad=True)
    g = np.random.default_rng(1).standard_normal((40, 300))
    for axis in (0, 1):
        x.grad = None
        x.cumsum(axis).backward(tl.Tensor(g))
        np.testing.assert_array_equal(x.grad.numpy(), np.flip(np.cumsum(np.flip(g, axis), axis), axis))


# ---------------------------------------------------------------------- scatter through flat indices
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 2 ** 16), add=st.booleans())
def test_scatter_flat_indices_equal_the_index_grids(shape, seed, add):
    from tinygrad_lite.ops.extra import _flat_index, _gather_g, _scatter_fwd, _scatter_index
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    dim = int(rng.integers(0, len(shape)))
    ishape = tuple(int(rng.integers(1, n + 1)) if k != dim else int(rng.integers(1, 8)) for k, n in enumerate(shape))
    index = rng.integers(0, shape[dim], ishape)
    src = rng.standard_normal(tuple(n + int(rng.integers(0, 2)) for n in ishape))  # may be bigger than index
    grids = _scatter_index(index, dim)
    flat = _flat_index(index, dim, x.shape)
    np.testing.assert_array_equal(x.reshape(-1)[flat], x[grids])
    want = x.copy()
    block = src[tuple(slice(0, n) for n in ishape)]
    if add:
        np.add.at(want, grids, block)
    else:
        want[grids] = block
    np.testing.assert_array_equal(_scatter_fwd((dim, index, add), x, src), want)
    np.testing.assert_array_equal(_gather_g(x, index, dim), x[grids])


def test_scatter_gradient_is_exactly_zero_where_overwritten():
    x = tl.Tensor(np.ones((2, 3)), requires_grad=True)
    src = tl.Tensor(np.full((2, 1), 5.0), requires_grad=True)
    y = x.scatter(1, np.array([[2], [0]]), src)
    y.backward(tl.Tensor(np.array([[np.inf, -1.0, np.nan], [-2.0, 3.0, 4.0]])))
    got = x.grad.numpy()
    np.testing.assert_array_equal(got, [[np.inf, -1.0, 0.0], [0.0, 3.0, 4.0]])
    assert not np.signbit(got[1, 0])
    np.testing.assert_array_equal(src.grad.numpy(), [[np.nan], [-2.0]])


# ---------------------------------------------------------------------- logsigmoid's gradient from its result
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 2e-15), (np.float32, 2e-7)])
def test_logsigmoid_gradient_from_the_result_equals_the_sigmoid_reference(dtype, rtol):
    from tinygrad_lite.ops.special import _logsigmoid_dx, _logsigmoid_fwd, _sigmoid
    x = np.concatenate([np.linspace(-60, 60, 4001), [0.0, -0.0, 1e-30, -1e-30, 700.0, -700.0]]).astype(dtype)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        ans = _logsigmoid_fwd(None, x)
        got = _logsigmoid_dx(g, ans, None, x)
        want = g * _sigmoid(-x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=rtol * 8, atol=0)
    special = np.array([np.inf, -np.inf, np.nan], dtype)
    got = _logsigmoid_dx(np.ones(3, dtype), _logsigmoid_fwd(None, special), None, special)
    np.testing.assert_array_equal(got, [0.0, 1.0, np.nan])


# ---------------------------------------------------------------------- cache-sized pieces and row blocks
# (tinygrad_lite/ops/chunked.py). The pieces are shrunk to 37 elements and the size thresholds to 0,
# so small hypothesis shapes cross many piece boundaries (odd sizes); the reference is the plain formula.
@contextmanager
def _small_pieces():
    with mock.patch.object(chunked, "CHUNK", 37), mock.patch.object(numpy_fast, "_SCAN_MIN", 0), \
            mock.patch.object(elementwise, "_SIGMOID_PIECES", 1):
        yield


def _layout(a, kind):
    """a itself, a Fortran-ordered copy, or a strided view: the same values in another memory layout."""
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "step":
        b = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        b[..., ::2] = a
        return b[..., ::2]
    return a


_SHAPES = st.lists(st.integers(1, 70), min_size=1, max_size=3)
_DTYPES = st.sampled_from([np.float32, np.float64])
_LAYOUTS = st.sampled_from(["C", "F", "step"])
_TOL = {np.float32: dict(rtol=2e-6, atol=2e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


def _arrays(shape, dtype, seed, n=2, scale=4.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * scale).astype(dtype) for _ in range(n)]


@given(shape=_SHAPES, dtype=_DTYPES, layout=_LAYOUTS, seed=st.integers(0, 2 ** 16))
def test_chunked_sigmoid_is_the_reference_formula(shape, dtype, layout, seed):
    x, g = _arrays(shape, dtype, seed, scale=20.0)
    x.flat[0] = np.nan
    x.flat[-1] = {np.float32: -95.0, np.float64: -720.0}[dtype]  # the far tail, where exp(-x) overflows
    x = _layout(x, layout)
    with np.errstate(over="ignore", invalid="ignore"):
        want = elementwise._sigmoid_ref(x)
    for compiled, path in kernel_paths(elementwise, "_sigmoid32", "_sigmoid_grad32"):  # (numba's float32 loops)
        with np.errstate(over="ignore", invalid="ignore"), _small_pieces(), path:
            s = elementwise._sigmoid_fwd(None, x)
            d = elementwise._sigmoid_dx(_layout(g, layout), s, None, x)
        assert s.dtype == d.dtype == dtype and s.shape == d.shape == x.shape
        assert_sigmoid_matches(s, want, x, same_bits_below_zero=not (compiled and dtype == np.float32))
        np.testing.assert_array_equal(d, g * (1 - s) * s)  # the backward: PyTorch's formula on the result


@given(shape=_SHAPES, dtype=_DTYPES, layout=_LAYOUTS, seed=st.integers(0, 2 ** 16))
def test_chunked_gelu_tanh_equals_its_formula(shape, dtype, layout, seed):
    x, g = (_layout(a, layout) for a in _arrays(shape, dtype, seed))
    with _small_pieces():
        y = special._gelu_tanh_fwd(None, x)
        d = special._gelu_tanh_dx(g, y, None, x)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)  # (the formula in float64: float32 cancels near -4)
    k = np.sqrt(2 / np.pi)
    t = np.tanh(k * (x64 + 0.044715 * x64 ** 3))
    want_d = g64 * (0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * k * (1 + 3 * 0.044715 * x64 * x64))
    assert y.dtype == d.dtype == dtype
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(y, 0.5 * x64 * (1 + t), **tol)
    np.testing.assert_allclose(d, want_d, **tol)


@given(rows=st.integers(1, 30), blocks=st.integers(2, 40), k=st.sampled_from([16, 32, 48]), dtype=_DTYPES,
       seed=st.integers(0, 2 ** 16), reverse=st.booleans())
def test_blocked_last_dim_cumsum_equals_the_sequential_sum(rows, blocks, k, dtype, seed, reverse):
    x = np.random.default_rng(seed).standard_normal((rows, blocks * k)).astype(dtype)
    with _small_pieces():
        assert numpy_fast._scan_block(x) in (16, 32)  # the blocked path is the one taken
        got = numpy_fast.cumsum(x, 1, reverse)
    x64 = x.astype(np.float64)
    want = np.flip(np.cumsum(np.flip(x64, 1), 1), 1) if reverse else np.cumsum(x64, 1)
    assert got.dtype == dtype and got.flags.c_contiguous
    # to rounding: the sums run in another order (error bound ~ n eps sum|x|)
    bound = (np.cumsum(np.abs(x64), 1) if not reverse else np.flip(np.cumsum(np.flip(np.abs(x64), 1), 1), 1))
    assert np.all(np.abs(got - want) <= bound * x.shape[1] * np.finfo(dtype).eps + 1e-300)
