"""The compiled float32 loops of erf and exact GELU (ops/erf_kernels.py: gelu32, gelu_grad32, erf32, on
ops/compiled_math.py's exp) against the numpy kernels they replace, on the same inputs in one process,
and against float64 per range; the switch TINYGRAD_LITE_JIT=0 gives the numpy results (sigmoid's too:
its compiled loops are tested against its numpy path in test_fast_paths.py and test_fast_reductions.py)."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import compiled_math, jit
from tinygrad_lite.ops import elementwise as E
from tinygrad_lite.ops import erf_kernels as K

from helpers import numpy_kernels

pytestmark = pytest.mark.skipif(not jit.available(), reason="compiled kernels off: numba missing or TINYGRAD_LITE_JIT=0")

_KERNELS = ("gelu32", "gelu_grad32", "gelu_grad32_one_g", "erf32")
EDGE = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 3.4e38, -3.4e38, 1e-40, -1e-40, 1e-30, -1e-30,
        13.2, -13.2, -14.3, -16.0, 3.92, -3.92, 0.7518, -0.7518]


def numpy_path(fn, *args):
    """fn(*args) with the compiled loops off: the numpy / scipy reference."""
    with numpy_kernels(K, *_KERNELS):
        return fn(*args)


def compiled_path(fn, *args):
    """fn(*args) with the compiled loops taken at every size."""
    saved, K._JIT_MIN = K._JIT_MIN, 1
    try:
        return fn(*args)
    finally:
        K._JIT_MIN = saved


def _gelu64(x):
    return x * sc.ndtr(x)


def _dgelu64(x):
    return sc.ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _same_specials(a, b):
    """NaN in the same places, and the same sign of every zero."""
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    zero = (a == 0) & (b == 0)
    np.testing.assert_array_equal(np.signbit(a[zero]), np.signbit(b[zero]))


_values = st.one_of(st.sampled_from(EDGE), st.floats(-20, 20, width=32), st.floats(width=32))


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=70), elements=_values))
def test_compiled_matches_the_numpy_kernels(x):
    ref, got = numpy_path(K.gelu, x), compiled_path(K.gelu, x)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.isnan(got[np.isinf(x)]).all()  # as PyTorch's float32 GELU and the chunked kernel (scipy's: inf at inf)
    same = np.isfinite(x) | (x.size >= K._SMALL)
    _same_specials(got[same], ref[same])
    np.testing.assert_allclose(got[same], ref[same], rtol=1e-5, atol=1e-37)  # (the numpy kernel: 4.3e-6 below -5)
    if x.size >= K._SMALL:  # (scipy's erf below: a different algorithm)
        np.testing.assert_array_equal(K.erf(x), numpy_path(K.erf, x))  # the same operations in the same order
    g = np.linspace(-2, 2, x.size, dtype=np.float32).reshape(x.shape)
    d, dref = compiled_path(K.gelu_grad, g, x, got), numpy_path(K.gelu_grad, g, x, got)
    assert d.dtype == np.float32 and d.shape == x.shape
    _same_specials(d, dref)
    np.testing.assert_allclose(d, dref, rtol=1e-5, atol=1e-6)


def _dense(lo, hi, n=400_003):
    return np.linspace(lo, hi, n).astype(np.float32)


# (lo, hi, max relative error) of the compiled float32 GELU against float64: measured 1.4e-7, 6.8e-7, 6.2e-7
# and 8.8e-7 (exact x^2 inside exp; the numpy kernel: 1.3e-7, 7.3e-7, 9.4e-7, 4.3e-6)
@pytest.mark.parametrize("lo,hi,tol", [(1.0, 14.0, 2e-7), (-3.0, 1.0, 8e-7), (-5.0, -3.0, 8e-7), (-13.1, -5.0, 1e-6)])
def test_compiled_gelu_relative_error_per_range(lo, hi, tol):
    x = _dense(lo, hi)
    got, ref = K.gelu(x), _gelu64(x.astype(np.float64))
    assert np.abs(ref).min() > np.finfo(np.float32).tiny
    assert (np.abs(got - ref) / np.abs(ref)).max() < tol


def test_compiled_gelu_below_minus_13_keeps_the_denormal_tail():
    x = _dense(-14.5, -13.1, 20_001)
    got, ref = K.gelu(x), _gelu64(x.astype(np.float64))
    tol = np.maximum(1e-6 * np.abs(ref), 3e-45)  # normal values to 1e-6, denormals to two of their last bits
    assert (np.abs(got - ref) <= tol).all() and (got <= 0).all()


def test_compiled_gelu_gradient_against_float64():
    x = np.concatenate([_dense(-13, 13), np.float32(EDGE)])
    g = np.random.default_rng(2).standard_normal(x.size).astype(np.float32)
    got = K.gelu_grad(g, x, K.gelu(x))
    fin = np.isfinite(x) & (np.abs(x) < 1e30)
    with np.errstate(all="ignore"):
        ref = g * _dgelu64(x.astype(np.float64))
    assert np.abs(got - ref)[fin].max() < 3e-7 * np.abs(g).max()


@pytest.mark.parametrize("path", [compiled_path, numpy_path])
@pytest.mark.parametrize("n", [1, 5, 300, 5000])
def test_gelu_of_negative_zero_is_negative_zero_as_pytorch(path, n):
    """It was +0.0 on float32 arrays of 1024 elements or more (numpy's maximum(-0.0, 0.0) is +0.0)."""
    x = np.full(n, -0.0, np.float32)
    y = path(K.gelu, x)
    assert np.all(y == 0) and np.signbit(y).all()
    assert np.all(path(K.gelu_grad, np.ones_like(x), x, y) == 0.5)
    assert np.signbit(path(lambda: F.gelu(Tensor(x)).numpy())).all()


@pytest.mark.parametrize("path", [compiled_path, numpy_path])
@pytest.mark.parametrize("zero_at", [-0.0, -14.5, -20.0, -1e30, -3.4e38])
def test_gelu_keeps_the_sign_of_x_where_it_rounds_to_zero(path, zero_at):
    """-0.0 as PyTorch, in the middle of ordinary values (the numpy kernel mends signs only when a
    floating-point flag says a wrong one may be there)."""
    x = (np.random.default_rng(5).standard_normal(5000) * 3).astype(np.float32)
    x[::97] = zero_at
    y = path(K.gelu, x)
    assert np.all(y[::97] == 0) and np.signbit(y[::97]).all()
    np.testing.assert_array_equal(np.signbit(y), np.signbit(x))


def test_broadcast_and_non_contiguous_inputs_match_the_numpy_path():
    x = (np.random.default_rng(4).standard_normal((300, 2 * 257)) * 4).astype(np.float32)
    for view in (x[:, ::2], x.T, x[::3, 5]):
        assert not view.flags.c_contiguous
        y = K.gelu(view)
        np.testing.assert_array_equal(y, K.gelu(np.ascontiguousarray(view)))
        np.testing.assert_array_equal(K.erf(view), numpy_path(K.erf, view))
        for g in (np.float32(1.5), np.full(view.shape[-1:], 1.5, np.float32), np.full(view.shape, 1.5, np.float32),
                  np.broadcast_to(np.float32(1.5), view.shape)):
            d = K.gelu_grad(g, view, y)
            np.testing.assert_allclose(d, numpy_path(K.gelu_grad, g, view, y), rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(d, K.gelu_grad(np.float32(1.5), np.ascontiguousarray(view), y))


def test_compiled_exp_is_within_one_ulp_and_right_at_the_edges():
    @jit.kernel
    def exp_loop(x, out):
        for i in range(x.size):
            out[i] = exp32(x[i], np.float32(0.0))
    x = np.concatenate([np.linspace(-104, 89, 1_000_003, dtype=np.float32),
                        np.float32([0, -0.0, np.inf, -np.inf, np.nan, -87.5, -103.9, -104.5, 88.72, 88.73, 1e-40])])
    got = np.empty_like(x)
    exp_loop(x, got)
    with np.errstate(over="ignore"):
        ref = np.exp(x.astype(np.float64))
        want = ref.astype(np.float32)
    normal = (ref > np.finfo(np.float32).tiny) & (ref < np.finfo(np.float32).max)
    assert (np.abs(got - ref)[normal] / np.spacing(want[normal])).max() <= 1.0
    assert (np.abs(got - want)[ref <= np.finfo(np.float32).tiny] <= np.float32(1.5e-45)).all()  # denormals
    np.testing.assert_allclose(got[-11:], np.exp(x[-11:]), rtol=1.2e-7, atol=0)  # (inf, 0 and NaN exactly)


exp32 = compiled_math.exp32


def test_bit_casts_in_python_and_compiled_agree():
    @jit.kernel
    def round_trip(x, bits, back):
        for i in range(x.size):
            bits[i] = jit_bits(x[i])
            back[i] = jit_float(bits[i])
    x = np.float32([1.0, -0.0, np.inf, 1e-40, -3.5])
    bits, back = np.empty(x.size, np.int32), np.empty_like(x)
    round_trip(x, bits, back)
    np.testing.assert_array_equal(bits, x.view(np.int32))
    np.testing.assert_array_equal(back.view(np.int32), x.view(np.int32))
    assert [jit.bits_of_float32(v) for v in x] == list(bits)
    assert jit.float32_from_bits(int(bits[4])) == np.float32(-3.5)


jit_bits, jit_float = jit.bits_of_float32, jit.float32_from_bits


def test_the_disk_cache_is_keyed_on_the_sources_of_called_kernels():
    files = jit._source_files(K.gelu32.fn)
    assert {os.path.basename(f) for f in files} == {"erf_kernels.py", "compiled_math.py", "jit.py"}


_SWITCHED_OFF = """
import sys
import numpy as np
from tinygrad_lite.ops import elementwise as E, erf_kernels as K
x = np.linspace(-15, 15, 5003, dtype=np.float32)
y = K.gelu(x)
s = E._sigmoid_fwd(None, x)
out = np.concatenate([y, K.gelu_grad(np.float32(0.5), x, y), K.erf(x), s, E._sigmoid_dx(x, s, None, x)])
assert K.gelu32 is None and E._sigmoid32 is None and 'numba' not in sys.modules
sys.stdout.write(out.tobytes().hex())
"""


def test_switched_off_gives_the_numpy_results():
    env = dict(os.environ, TINYGRAD_LITE_JIT="0")
    r = subprocess.run([sys.executable, "-c", _SWITCHED_OFF], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = np.frombuffer(bytes.fromhex(r.stdout), np.float32)
    x = np.linspace(-15, 15, 5003, dtype=np.float32)
    y = numpy_path(K.gelu, x)
    with numpy_kernels(E, "_sigmoid32", "_sigmoid_grad32"):
        s = E._sigmoid_fwd(None, x)
        ds = E._sigmoid_dx(x, s, None, x)
    want = np.concatenate([y, numpy_path(K.gelu_grad, np.float32(0.5), x, y), numpy_path(K.erf, x), s, ds])
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(want[:x.size], K.gelu(x))  # (in this process the compiled loop runs: not the same)
    assert not np.array_equal(s, E._sigmoid_fwd(None, x))
