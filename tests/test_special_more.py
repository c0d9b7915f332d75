"""erfc, erfinv, lgamma, digamma, polygamma (ops/special_more.py) beyond the PyTorch comparisons in
tests/torch: dtypes, argument errors, in-place forms, torch.special under the compat hook."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.ops import special_more

from helpers import kernel_paths
from tinygrad_lite.gradcheck import gradcheck, gradgradcheck


@pytest.mark.parametrize("name", ["erfc", "erfinv", "lgamma", "digamma"])
def test_float32_stays_float32_and_ints_become_floats(name):
    x = tl.tensor(np.array([0.25, 0.5, 0.75], np.float32))
    assert getattr(x, name)().dtype == np.float32
    assert getattr(tl.tensor([1, 2]), name)().dtype == tl.get_default_dtype()
    assert x.polygamma(2).dtype == np.float32


@pytest.mark.parametrize("f", [lambda t: t.erfc(), lambda t: (t * 0.3).erfinv(), lambda t: (t.abs() + 0.5).lgamma(),
                               lambda t: (t.abs() + 0.5).polygamma(1)])
def test_first_and_second_derivatives_by_finite_differences(f):
    x = tl.tensor(np.random.default_rng(0).uniform(-2, 2, (3, 4)), requires_grad=True)
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


@pytest.mark.parametrize("n", [-1, 1.5, True, "2"])
def test_polygamma_rejects_a_bad_order(n):
    with pytest.raises(ValueError, match="polygamma: n must be a non-negative int"):
        tl.polygamma(n, tl.tensor([1.0]))


def test_in_place_erfinv_as_trunc_normal_init_uses_it():
    u = tl.tensor(np.array([0.1, 0.5, 0.9]))
    assert u.erfinv_() is u
    np.testing.assert_allclose(tl.special.erf(u).numpy(), [0.1, 0.5, 0.9], rtol=1e-14)


def test_torch_special_resolves_under_the_compat_hook():
    import subprocess
    import sys
    code = ("import tinygrad_lite.compat as c; c.install(); import torch\n"
            "from torch.special import gammaln\n"
            "x = torch.tensor([3.0])\n"
            "assert type(x).__module__.startswith('tinygrad_lite')\n"
            "print(gammaln(x).item(), torch.special.psi(x).item(), torch.special.erfinv(torch.tensor([0.5])).item())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose([float(v) for v in r.stdout.split()], [np.log(2.0), 0.9227843350984671, 0.4769362762044699],
                               rtol=1e-6)


# ---------------------------------------------------------------------- the float32 fast paths against scipy
def _ulps(got, want):
    want32 = np.abs(want).astype(np.float32)
    return np.abs(got.astype(np.float64) - want) / np.spacing(want32)


@pytest.mark.parametrize("compiled, path", kernel_paths(special_more, "_trigamma32_loop"))
def test_float32_trigamma_is_within_half_an_ulp_of_scipy_with_poles_and_edges(compiled, path):
    from scipy import special
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-8, 12, 100_000), np.geomspace(1e-6, 1e6, 2000), -np.geomspace(1e-6, 1e3, 2000)])
    x = x.astype(np.float32)
    want = special.polygamma(1, x.astype(np.float64))
    ok = np.isfinite(want) & (np.abs(want) < 1e30)
    edges = np.array([0, -1, -2, 1, 0.5, np.inf, -np.inf, np.nan], np.float32)
    with path:
        assert _ulps(special_more.trigamma32(x)[ok], want[ok]).max() <= 0.51
        got_edges = special_more.trigamma32(edges)
        odd = special_more.trigamma32(x[:30000].reshape(100, -1)[:, ::2])  # (any shape and layout)
    np.testing.assert_array_equal(got_edges, special.polygamma(1, edges.astype(np.float64)).astype(np.float32))
    assert _ulps(odd[np.isfinite(odd)], special.polygamma(1, x[:30000].reshape(100, -1)[:, ::2].astype(np.float64))[
        np.isfinite(odd)]).max() <= 0.51


@pytest.mark.skipif(not __import__("tinygrad_lite.ops.jit", fromlist=["x"]).available(), reason="numba is not installed")
def test_float32_erfc_loop_is_accurate_per_range_and_at_the_edges():
    from scipy import special
    from tinygrad_lite.ops import erf_kernels as K
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-6, 11, 200_000), np.linspace(-0.01, 0.01, 1001)]).astype(np.float32)
    got, want = K.erfc(x), special.erfc(x.astype(np.float64))
    normal = want > np.finfo(np.float32).tiny
    assert (np.abs(got[normal] - want[normal]) / want[normal]).max() < 1e-6   # (6.4e-7 measured)
    sub = ~normal  # denormal results: the same relative accuracy, or one denormal step where that is finer
    assert (np.abs(got[sub] - want[sub]) <= np.maximum(1e-6 * want[sub], np.finfo(np.float32).smallest_subnormal)).all()
    edges = np.array([np.inf, -np.inf, np.nan, 16, 40, -40] * 100, np.float32)   # (the loop from 128 elements)
    np.testing.assert_array_equal(K.erfc(edges)[:6], np.array([0, 2, np.nan, 0, 0, 2], np.float32))


def test_float32_erfinv_is_within_three_ulps_of_scipy_up_to_the_last_float_below_one():
    from scipy import special
    from tinygrad_lite.ops.special_more import erfinv
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-1, 1, 100_000), 1 - np.geomspace(6e-8, 0.1, 3000), -1 + np.geomspace(6e-8, 0.1, 3000),
                        np.linspace(-1e-3, 1e-3, 2001)]).astype(np.float32)
    want = special.erfinv(x.astype(np.float64))
    nonzero = want != 0
    assert _ulps(erfinv(x)[nonzero], want[nonzero]).max() <= 3   # (2.8 measured: float32 Horner steps)
    edges = np.array([1, -1, 0, 1.5, -2, np.nan] * 200, np.float32)
    np.testing.assert_array_equal(erfinv(edges)[:6], np.array([np.inf, -np.inf, 0, np.nan, np.nan, np.nan], np.float32))


def test_the_fitted_erfinv_constants_are_what_the_fit_script_prints():
    import importlib.util
    import pathlib
    from tinygrad_lite.ops import special_more
    spec = importlib.util.spec_from_file_location("fit_erfinv", pathlib.Path(__file__).parents[1] / "bench" / "fit_erfinv.py")
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    p1, p2 = fit.main()
    np.testing.assert_allclose(special_more._ERFINV_P1, p1, rtol=1e-9)
    np.testing.assert_allclose(special_more._ERFINV_P2, p2, rtol=1e-9)
