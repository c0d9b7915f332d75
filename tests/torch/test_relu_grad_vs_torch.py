"""relu's gradient is PyTorch's select (dC where the result > 0, else 0), not a product with a mask: a NaN
input passes dC on and an infinite dC where the result is 0 gives 0. Both paths (the compiled loop and the
numpy form), float32 and float64, any layout of dC, and the second order."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite.ops import elementwise  # noqa: E402

from helpers import kernel_paths  # noqa: E402

PATHS = [c for c, _ in kernel_paths(elementwise, "_relu_grad_loop")]  # (False: numpy; True: compiled, when on)


def _path(compiled):
    """A fresh context for the path (numpy_kernels' context managers are used once)."""
    return dict(kernel_paths(elementwise, "_relu_grad_loop"))[compiled]

SPECIAL = [-1.0, 0.0, 2.0, np.nan, 3.0, -0.0, np.inf, -np.inf]
GRADS = [np.inf, np.inf, 1.0, 5.0, np.nan, -2.0, 7.0, -np.inf]


def _both(x, reduce):
    a = tl.Tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    reduce(a.relu(), tl).backward()
    reduce(t.relu(), torch).backward()
    return a.grad.numpy(), t.grad.numpy()


@pytest.mark.parametrize("compiled", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_gradient_at_nan_inf_and_zeros_is_pytorchs(compiled, dtype):
    x = np.array(SPECIAL * 40, dtype).reshape(20, 16)
    g = np.array(GRADS * 40, dtype).reshape(20, 16)
    with _path(compiled):
        a = tl.Tensor(x, requires_grad=True)
        a.relu().backward(tl.Tensor(g))
    t = torch.tensor(x, requires_grad=True)
    t.relu().backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
    if compiled:  # PyTorch's zeros are +0.0 whatever dC's sign, as the select's (the numpy form's product
        assert not np.signbit(a.grad.numpy()[x <= 0]).any()  # gives -0.0 where dC < 0: equal, not identical)


@pytest.mark.parametrize("compiled", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_gradient_for_any_layout_of_dc(compiled, dtype):
    x = np.random.default_rng(0).standard_normal((64, 48)).astype(dtype)
    with _path(compiled):
        for reduce in (lambda r, lib: r.sum(), lambda r, lib: r.sum(0).sum(),  # dC filled; a zero-stride view
                       lambda r, lib: (r.T * (r.T.detach() + 1.0)).sum(),    # a transposed dC
                       lambda r, lib: (r[:, ::2] * 3.0).sum()):               # dC of a strided slice
            for inp in (x, x.T, x[::2, ::3]):  # (relu's result of a transposed x is not C-ordered)
                ours, theirs = _both(inp, reduce)
                np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_relu_second_order_is_pytorchs():
    x = np.array([-1.0, 0.5, 2.0, np.nan, 0.0, 3.0])
    a, t = tl.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ga,) = tl.autograd.grad((a.relu() ** 2).sum(), a, create_graph=True)
    (gt,) = torch.autograd.grad((t.relu() ** 2).sum(), t, create_graph=True)
    np.testing.assert_array_equal(ga.detach().numpy(), gt.detach().numpy())
    ga.sum().backward()
    gt.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
