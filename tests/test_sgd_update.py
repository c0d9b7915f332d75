"""SGD's update p -= lr * g (optim._dense.subtract_scaled): BLAS axpy where the layout allows, numpy
otherwise; both against the plain numpy reference, within one rounding (axpy rounds the multiply-add once)."""
import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.optim as optim
from tinygrad_lite.optim._dense import subtract_scaled


def _reference(p, g, lr):
    out = p.copy()
    with np.errstate(invalid="ignore"):  # (inf - inf in the NaN test)
        out -= lr * g
    return out


def _assert_one_rounding_apart(got, want, g, lr):
    """got and want differ at most by the rounding of the product lr * g (which axpy does not round apart,
    using a fused multiply-add) and then one unit in the last place of the result."""
    step = np.abs(np.asarray(lr * g, dtype=got.dtype))
    assert np.all(np.abs(got - want) <= np.spacing(step) + np.spacing(np.abs(want)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 4), (256, 64), (2, 3, 5)])
@pytest.mark.parametrize("lr", [0.1, 1, 1e-30, 3e4])
def test_matches_numpy_within_one_rounding(dtype, shape, lr):
    rng = np.random.default_rng(len(shape))
    p, g = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    want = _reference(p, g, lr)
    got = p.copy()
    subtract_scaled(got, g, lr)
    assert got.dtype == dtype and got.shape == shape
    _assert_one_rounding_apart(got, want, g, lr)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_propagate(dtype):
    p = np.array([1.0, np.inf, np.nan, 0.0, -np.inf], dtype)
    g = np.array([np.nan, 1.0, 1.0, np.inf, -np.inf], dtype)
    got = p.copy()
    subtract_scaled(got, g, 0.5)
    np.testing.assert_array_equal(got, _reference(p, g, 0.5))  # (NaN == NaN here)


def test_non_contiguous_and_mixed_layouts_take_numpy():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 8)).astype(np.float32)
    g = rng.standard_normal((8, 6)).astype(np.float32)
    for p, grad in ((base.copy().T, g), (base.copy()[:, ::2], g.T[:, ::2]), (base.copy(), g.T)):
        want = _reference(p, grad, 0.25)
        subtract_scaled(p, grad, 0.25)
        np.testing.assert_array_equal(p, want)  # the numpy path: bit for bit


def test_the_update_is_in_place_and_a_view_updates_its_base():
    base = np.ones((4, 4), np.float32)
    view = base[1:3]  # C-contiguous rows of base
    subtract_scaled(view, np.full((2, 4), 2.0, np.float32), 0.5)
    np.testing.assert_array_equal(base, [[1] * 4, [0] * 4, [0] * 4, [1] * 4])


def test_a_read_only_parameter_raises_as_numpy_does():
    p = np.ones(4, np.float32)
    p.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        subtract_scaled(p, np.ones(4, np.float32), 0.1)
    np.testing.assert_array_equal(p, np.ones(4))


def test_a_tensor_learning_rate_takes_numpy():
    p = np.ones(3)
    subtract_scaled(p, np.full(3, 2.0), np.float64(0.25))
    np.testing.assert_array_equal(p, [0.5, 0.5, 0.5])


def test_sgd_steps_match_the_written_out_update():
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((5, 3)).astype(np.float32)
    w = tl.Tensor(w0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        before, g = w.detach().numpy().copy(), w.grad.numpy()
        opt.step()
        _assert_one_rounding_apart(w.detach().numpy(), _reference(before, g, 0.05), g, 0.05)
