"""Random fills and samplers with PyTorch's names: exponential_, geometric_, cauchy_, log_normal_, bernoulli_,
bernoulli, poisson, normal. Their moments (fixed seeds, 200,000 draws), dtypes, generators and errors."""
import numpy as np
import pytest

import tinygrad_lite as tl

N = 200_000


def _fill(method, *args, dtype=np.float64, **kw):
    t = tl.zeros(N, dtype=dtype)
    assert getattr(t, method)(*args, generator=tl.Generator().manual_seed(0), **kw) is t
    return t.numpy()


@pytest.mark.parametrize("method,args,mean,var", [
    ("exponential_", (2.0,), 0.5, 0.25), ("geometric_", (0.25,), 4.0, 12.0),
    ("log_normal_", (0.5, 0.4), np.exp(0.5 + 0.08), (np.exp(0.16) - 1) * np.exp(1.16)),
    ("bernoulli_", (0.3,), 0.3, 0.21)])
def test_fills_have_the_distributions_moments(method, args, mean, var):
    x = _fill(method, *args)
    assert abs(x.mean() - mean) < 4 * np.sqrt(var / N)
    assert abs(x.var() / var - 1) < 0.05


def test_cauchy_median_and_quartiles():
    x = _fill("cauchy_", 1.0, 2.0)
    np.testing.assert_allclose(np.percentile(x, [25, 50, 75]), [-1.0, 1.0, 3.0], atol=0.05)


def test_fills_keep_the_dtype_and_follow_the_generator():
    assert _fill("exponential_", dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(_fill("geometric_", 0.5), _fill("geometric_", 0.5))
    assert set(np.unique(_fill("bernoulli_", 0.5))) == {0.0, 1.0}


def test_bernoulli_poisson_normal_functions():
    g = tl.Generator().manual_seed(1)
    probs = tl.tensor(np.array([0.0, 1.0, 0.25], np.float32)).expand(N, 3)
    b = tl.bernoulli(probs, generator=g).numpy()
    assert b.dtype == np.float32 and b[:, 0].max() == 0 and b[:, 1].min() == 1
    assert abs(b[:, 2].mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / N)
    assert abs(probs.bernoulli(0.75, generator=g).numpy().mean() - 0.75) < 0.01
    p = tl.poisson(tl.full((N,), 3.0), generator=g).numpy()
    assert abs(p.mean() - 3.0) < 0.02 and abs(p.var() - 3.0) < 0.06
    n = tl.normal(tl.tensor([0.0, 10.0]), tl.tensor([1.0, 0.1]), generator=g)
    assert n.shape == (2,)
    m = tl.normal(2.0, 3.0, (N,), generator=g).numpy()
    assert m.dtype == tl.get_default_dtype() and abs(m.mean() - 2.0) < 0.03 and abs(m.std() - 3.0) < 0.03


def test_bad_parameters_name_the_op():
    t = tl.zeros(3)
    with pytest.raises(ValueError, match="exponential_: expects lambd > 0.0"):
        t.exponential_(0.0)
    with pytest.raises(ValueError, match="geometric_: expects p to be in"):
        t.geometric_(1.5)
    with pytest.raises(ValueError, match="bernoulli_: expects all the probabilities to be in"):
        t.bernoulli_(tl.tensor([0.5, 2.0, 0.1]))
    with pytest.raises(ValueError, match="bernoulli: expects all the probabilities"):
        tl.bernoulli(tl.tensor([0.5, -0.1]))
    with pytest.raises(ValueError, match="poisson: the rates must be non-negative"):
        tl.poisson(tl.tensor([-1.0]))
    with pytest.raises(RuntimeError, match="exponential_: in-place update of a tensor that requires grad"):
        tl.zeros(3, requires_grad=True).exponential_()
