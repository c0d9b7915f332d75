"""Shared test helpers: CI detection, hypothesis strategies for shapes and values, and a float64
gradcheck wrapper."""
import contextlib
import os

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite import Tensor

MAX_SIDE = 4


def in_ci():
    """True when the environment variable CI is set (as CI services do, and `.ci/run` does): the one
    test of "are we in CI" (missing tools fail there instead of skipping)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=MAX_SIDE):
    """Array shapes with small sides (size-1 dims included)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=MAX_SIDE):
    """A tuple of `num_shapes` shapes that broadcast together (different ranks, size-1 dims)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=1, max_side=max_side).map(lambda b: b.input_shapes)


seeds = st.integers(0, 2**31 - 1)


def rng_values(shape, lo=-2.0, hi=2.0, seed=0, away=None, dtype=np.float64):
    """Uniform values in [lo, hi) (distinct almost surely, so no ties); with `away=d` the values
    are at least d away from zero (for abs/relu/division kinks)."""
    rng = np.random.default_rng(seed)
    if away is None:
        v = rng.uniform(lo, hi, shape)
    else:
        v = rng.uniform(away, hi, shape) * rng.choice([-1.0, 1.0], shape)
    return np.asarray(v, dtype=dtype)


def values(shape, lo=-2.0, hi=2.0, away=None):
    """Strategy: a float64 array of `shape` from a hypothesis-chosen seed."""
    return seeds.map(lambda s: rng_values(shape, lo, hi, s, away))


def t64(arr, requires_grad=True):
    """A float64 leaf tensor (copy) from an array."""
    return Tensor(np.asarray(arr, dtype=np.float64), requires_grad=requires_grad)


def check_grad(fn, *arrays, eps=1e-6, atol=1e-5, rtol=1e-3):
    """gradcheck `fn` in float64 at `arrays`: float arrays become float64 tensors that require grad,
    other arrays (ints, bools) and Tensors are passed as they are. Returns the input tensors."""
    inputs = []
    for a in arrays:
        if isinstance(a, Tensor):
            inputs.append(a)
        else:
            a = np.asarray(a)
            inputs.append(t64(a) if a.dtype.kind == "f" else Tensor(a))
    assert tl.gradcheck(fn, tuple(inputs), eps=eps, atol=atol, rtol=rtol) is True
    return inputs


def assert_close(actual, expected, rtol=1e-10, atol=1e-12):
    a = actual._data if isinstance(actual, Tensor) else np.asarray(actual)
    np.testing.assert_allclose(a, np.asarray(expected), rtol=rtol, atol=atol)


def assert_sigmoid_matches(got, ref, x, same_bits_below_zero=True):
    """Sigmoid's fast path (e^x / (1 + e^x), tinygrad_lite/ops/elementwise.py) against the two-branch
    formula `ref`: the same bits for x < 0 (where ref is that formula too), non-finite x and where e^x
    overflows (above 88.7 in float32, 709.8 in float64: both give 1.0); elsewhere (x >= 0) within 4 ulp of
    the correctly rounded sigmoid (computed in long double), as is the two-branch formula (measured at
    <= 1.7 and 1.5 ulp in float32). The compiled float32 loop (an exp of its own: measured <= 2 ulp) is
    checked with same_bits_below_zero=False: within 4 ulp for x < 0 too."""
    x = np.asarray(x)
    with np.errstate(invalid="ignore", over="ignore"):
        over = np.isinf(np.exp(x)) if x.dtype in (np.float32, np.float64) else np.zeros(x.shape, bool)
        same = ((x < 0) & same_bits_below_zero) | over | ~np.isfinite(x)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got[same], ref[same])
    xs = x[~same].astype(np.longdouble)
    true = (1 / (1 + np.exp(-xs))).astype(x.dtype)
    np.testing.assert_array_max_ulp(got[~same], true, maxulp=4)
    np.testing.assert_array_max_ulp(ref[~same], true, maxulp=4)


from tinygrad_lite.ops.jit import numpy_kernels  # noqa: E402  (re-exported for the tests)


def kernel_paths(module, *names):
    """(compiled, context) for the numpy path and, when compiled kernels are on, the compiled one."""
    from tinygrad_lite.ops import jit
    paths = [(False, numpy_kernels(module, *names))]
    if jit.available():
        paths.append((True, contextlib.nullcontext()))
    return paths


@pytest.fixture(autouse=True)
def small_images_on_the_rows(monkeypatch):
    """For the conv2d row's tests (imported there as an autouse fixture): the rule leaves images under
    _MIN_PIXELS output pixels to the numpy paths (faster there) and tiny convolutions to the tiny path; the
    tests use small images, so both thresholds are off: the compiled loops (or the numpy path) take them.
    The tiny path has tests of its own (test_conv2d_rows.py)."""
    from tinygrad_lite.ops import conv2d as rows
    monkeypatch.setattr(rows, "_MIN_PIXELS", 0)
    monkeypatch.setattr(rows, "_TINY_ELEMENTS", 0)


def conv_case(rng, transpose, n, c, co, h, w, k, pad, dilation):
    """F.conv2d or F.conv_transpose2d with random x and weight for the conv2d row's tests: (fn, x, w), the
    image grown so that the kernel fits (conv2d) or the output is not empty (conv_transpose2d)."""
    import tinygrad_lite.nn.functional as F
    if transpose:
        fn, shape_w = F.conv_transpose2d, (c, co) + tuple(k)
        h, w = h + 2 * pad[0], w + 2 * pad[1]
    else:
        fn, shape_w = F.conv2d, (co, c) + tuple(k)
        h, w = h + dilation[0] * (k[0] - 1), w + dilation[1] * (k[1] - 1)
    return fn, rng.standard_normal((n, c, h, w)), rng.standard_normal(shape_w)


def assert_same_nonfinite(fast, ref, tol=1e-11):
    """Pairs of results with NaN and inf at the same places (some finite values among them) and equal to
    tol elsewhere."""
    for f, r in zip(fast, ref):
        np.testing.assert_array_equal(np.isnan(f), np.isnan(r))
        np.testing.assert_array_equal(np.isinf(f), np.isinf(r))
        ok = np.isfinite(r)
        assert ok.any()
        np.testing.assert_allclose(f[ok], r[ok], rtol=tol, atol=tol)
