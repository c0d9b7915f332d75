"""erf and exact GELU against PyTorch on arrays big enough for the fast kernels: float64 to double
precision, float32 within float32's precision (ours is the more accurate in the negative tail)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402
from tinygrad_lite.ops import chunked, erf_kernels as K  # noqa: E402

SHAPE = (41, chunked.CHUNK // 40 + 3)  # more than one chunk


def _both(dtype, seed=0):
    x = (np.random.default_rng(seed).standard_normal(SHAPE) * 3).astype(dtype)
    g = np.random.default_rng(seed + 1).standard_normal(SHAPE).astype(dtype)
    return x, g


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-14), (np.float32, 2e-6)])
def test_gelu_forward_backward_vs_torch(dtype, tol):
    x, g = _both(dtype)
    ours = Tensor(x, requires_grad=True)
    y = F.gelu(ours)
    y.backward(Tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(theirs)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol * 4)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-15), (np.float32, 1e-6)])
def test_erf_forward_backward_vs_torch(dtype, tol):
    x, g = _both(dtype, seed=3)
    ours = Tensor(x, requires_grad=True)
    y = F.erf(ours)
    y.backward(Tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    ty = torch.erf(theirs)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol * 4, atol=tol * 4)
