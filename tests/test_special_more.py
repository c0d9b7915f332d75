"""erfc, erfinv, lgamma, digamma, polygamma (ops/special_more.py) beyond the PyTorch comparisons in
tests/torch: dtypes, argument errors, in-place forms, torch.special under the compat hook."""
import numpy as np
import pytest

import tinygrad_lite as tl
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
