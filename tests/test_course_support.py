"""Engine behaviour the course (docs/course) relies on, tested on its own."""
import numpy as np
import pytest

from tinygrad_lite import Tensor
from tinygrad_lite.graph import build_graph


def test_masked_fill_keeps_the_users_mask_tensor():
    """masked_fill records the mask Tensor the user passed (not a copy), so its name labels the graph;
    an array mask still works, a non-bool one is still refused."""
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    mask = Tensor(np.array([[False, True, True], [False, False, True]]))
    mask.name = "causal mask"
    out = x.masked_fill(mask, float("-inf"))
    assert any(t is mask for t in out._inputs)
    names = {n.name for n in build_graph(out.sum()).tensors}
    assert "causal mask" in names
    out.softmax(dim=-1).sum().backward()
    assert (x.grad.numpy()[mask.numpy()] == 0.0).all()
    same = x.detach().masked_fill(mask.numpy(), -1.0)
    np.testing.assert_array_equal(same.numpy(), np.where(mask.numpy(), -1.0, x.detach().numpy()))
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor"):
        x.masked_fill(Tensor(np.ones((2, 3))), 0.0)
