"""F.grid_sample and F.affine_grid against PyTorch in float64: values, and gradients for the input, the grid
and theta; points outside the image, exactly on its edges, and clamped to the border."""
import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F

_RNG = np.random.default_rng(0)
_X = _RNG.standard_normal((2, 3, 5, 6))
_GRID = _RNG.uniform(-3.5, 3.5, (2, 4, 7, 2))  # (far outside too: several reflections)
_GRID[0, 0, :4] = [[1.0, -1.0], [-1.0, 1.0], [0.2, 0.5], [1.0, 1.0]]  # corners and edges, exactly


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners):
    a, g = tl.tensor(_X, requires_grad=True), tl.tensor(_GRID, requires_grad=True)
    ta, tg = torch.tensor(_X, requires_grad=True), torch.tensor(_GRID, requires_grad=True)
    y = F.grid_sample(a, g, mode, padding_mode, align_corners)
    ty = torch.nn.functional.grid_sample(ta, tg, mode, padding_mode, align_corners)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    w = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * tl.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-14)
    want = tg.grad.numpy()
    got = np.zeros_like(want) if g.grad is None else g.grad.numpy()  # (nearest: PyTorch's zeros, ours None)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch_and_the_identity_samples_the_image_back(align_corners):
    theta = _RNG.standard_normal((2, 2, 3))
    a, ta = tl.tensor(theta, requires_grad=True), torch.tensor(theta, requires_grad=True)
    y = F.affine_grid(a, (2, 3, 4, 5), align_corners)
    ty = torch.nn.functional.affine_grid(ta, (2, 3, 4, 5), align_corners)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-15)
    w = np.random.default_rng(2).standard_normal(tuple(ty.shape))
    (y * tl.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-14)
    eye = tl.tensor(np.tile(np.eye(2, 3), (2, 1, 1)))
    back = F.grid_sample(tl.tensor(_X), F.affine_grid(eye, _X.shape, align_corners), align_corners=align_corners)
    np.testing.assert_allclose(back.numpy(), _X, atol=1e-12)


def test_grid_sample_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"grid_sample: expected input \(N, C, H, W\) and grid \(N, H_out, W_out, 2\) "
                                         r"with the same N, got \(2, 3, 5, 6\) and \(1, 4, 7, 2\)"):
        F.grid_sample(tl.tensor(_X), tl.tensor(_GRID[:1]))
    with pytest.raises(ValueError, match=r"grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got 'wrap'"):
        F.grid_sample(tl.tensor(_X), tl.tensor(_GRID), padding_mode="wrap")
    with pytest.raises(ValueError, match=r"affine_grid: expected theta of shape \(N, 2, 3\), got \(2, 3, 3\)"):
        F.affine_grid(tl.zeros(2, 3, 3), (2, 1, 4, 4))


@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_reflection_on_a_one_pixel_wide_image(align_corners):
    x, g = _X[:, :, :, :1], _GRID[:, :, :, :]
    a, t = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.grid_sample(a, tl.tensor(g), padding_mode="reflection", align_corners=align_corners)
    ty = torch.nn.functional.grid_sample(t, torch.tensor(g), padding_mode="reflection", align_corners=align_corners)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)
