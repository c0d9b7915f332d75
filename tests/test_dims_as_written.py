"""Graphs, draw_graph and explain_backward show a reduction's dim as the user wrote it (`sum dim=-1`
for `x.sum(-1)`, `dim=(0, -1)` for a tuple), while the computation and the gradients are exactly those
of the same reduction written with non-negative dims (issue 19)."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.graph import build_graph
from tinygrad_lite.tensor_args import Dims, dims_as_written, norm_axes

X = np.random.default_rng(0).standard_normal((2, 3, 4))
X[0, 1, 2] = X[0, 1, 3]  # a tie for max/min: their gradient is shared among ties

# (method, dim as written, the same dim written with non-negative dims, the op whose label shows it)
CASES = [
    ("sum", -1, 2, "sum"),
    ("sum", (0, -1), (0, 2), "sum"),
    ("sum", (-1, 0), (0, 2), "sum"),
    ("sum", [2, -3], (0, 2), "sum"),
    ("mean", -2, 1, "sum"),
    ("amax", -1, 2, "amax"),
    ("amin", (-1, -2), (1, 2), "amin"),
    ("max_axis", -1, 2, "amax"),
    ("min_axis", (0, -1), (0, 2), "amin"),
    ("logsumexp", -1, 2, "logsumexp"),
    ("var", -1, 2, "sum"),
    ("std", (-1, 0), (0, 2), "sum"),
    ("prod", -1, 2, "prod"),
    ("cumsum", -1, 2, "cumsum"),
    ("cumsum", -3, 0, "cumsum"),
    ("softmax", -2, 1, "softmax"),
    ("log_softmax", -1, 2, "log_softmax"),
]


def _apply(t, method, dim, keepdim):
    if method == "max_axis":
        return t.max(axis=dim, keepdims=keepdim)
    if method == "min_axis":
        return t.min(axis=dim, keepdims=keepdim)
    if method in NO_KEEPDIM:
        return getattr(t, method)(dim)
    return getattr(t, method)(dim, keepdim=keepdim)


def _run(method, dim, keepdim):
    x = tl.tensor(X.copy(), requires_grad=True)
    y = _apply(x, method, dim, keepdim)
    w = tl.tensor(np.linspace(-1, 2, y.numel()).reshape(y.shape))  # a non-uniform upstream gradient
    loss = (y * w).sum()
    return x, y, loss


def _shown(dim):
    return f"dim={dim}"


NO_KEEPDIM = ("cumsum", "softmax", "log_softmax")


@pytest.mark.parametrize("method,written,positive,op,keepdim",
                         [c + (k,) for c in CASES for k in (False, True) if not (k and c[0] in NO_KEEPDIM)])
def test_same_numbers_and_gradients_and_the_label_shows_the_dim_as_written(method, written, positive, op, keepdim):
    x1, y1, loss1 = _run(method, written, keepdim)
    x2, y2, loss2 = _run(method, positive, keepdim)
    assert y1.shape == y2.shape
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())
    # the label: the dim as written, never the normalised one (var/std: a keepdim mean, then the sum)
    labels = [o.args for o in build_graph(loss1).ops if o.name == op and o.args]  # (not the loss's total sum)
    assert labels and all(lab.startswith(_shown(written)) for lab in labels), labels
    if method not in ("var", "std"):
        assert labels == [_shown(written) + (", keepdim" if keepdim else "")]
    if written != positive:
        assert not any(lab.startswith(_shown(positive)) for lab in labels)
    loss1.backward()
    loss2.backward()
    np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())


def test_values_and_gradients_against_numpy_and_finite_differences():
    """The negative-dim forms compute what numpy computes, and their gradients match central differences."""
    x = tl.tensor(X.copy(), requires_grad=True)
    np.testing.assert_allclose(x.sum((0, -1)).detach().numpy(), X.sum(axis=(0, 2)), rtol=1e-14)
    np.testing.assert_allclose(x.cumsum(-1).detach().numpy(), np.cumsum(X, -1), rtol=1e-14)
    np.testing.assert_allclose(x.amax(-1).detach().numpy(), X.max(-1))
    from tinygrad_lite.gradcheck import gradcheck
    for f in (lambda t: t.logsumexp(-1), lambda t: t.var((-1, 0)), lambda t: t.cumsum(-2), lambda t: t.mean(-1)):
        assert gradcheck(f, (tl.tensor(X.copy(), requires_grad=True),))


def test_cumsum_second_order_with_a_negative_dim():
    """create_graph runs cumsum's rule on Tensors (flip/cumsum/flip) with the dim as written."""
    x = tl.tensor(X.copy(), requires_grad=True)
    w = tl.tensor(np.arange(24.0).reshape(2, 3, 4))
    (g,) = tl.autograd.grad(((x * x).cumsum(-1) * w).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * X * np.flip(np.cumsum(np.flip(w.numpy(), -1), -1), -1), rtol=1e-13)
    (h,) = tl.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 2 * np.flip(np.cumsum(np.flip(w.numpy(), -1), -1), -1), rtol=1e-13)


def test_explain_backward_and_draw_graph_show_the_dim_as_written():
    from viz import draw_graph, explain_backward
    x = tl.tensor(X.copy(), requires_grad=True)
    loss = x.logsumexp(-1).sum((0, -1))
    text = explain_backward(loss)
    assert "logsumexp dim=-1" in text and "sum dim=(0, -1)" in text
    assert "dim=2" not in text and "dim=(0, 1)" not in text
    src = draw_graph(loss).source
    assert "dim=-1" in src and "dim=(0, -1)" in src


def test_dims_keep_the_normalised_tuple_for_the_rows():
    d = dims_as_written(norm_axes("sum", (-1, 0), 3), (-1, 0))
    assert isinstance(d, Dims) and d == (0, 2) and d.written == (-1, 0) and hash(d) == hash((0, 2))
    assert np.array_equal(X.sum(axis=d), X.sum(axis=(0, 2)))
    assert dims_as_written(norm_axes("sum", 1, 3), 1) == (1,) and not isinstance(dims_as_written((1,), 1), Dims)
    assert dims_as_written(None, None) is None
    with pytest.raises(IndexError, match="sum: dim -4 is out of range"):
        tl.tensor(X).sum(-4)
