"""The Tensor surface: creation, dtypes and promotion, repr, item/numpy, indexing, comparisons, errors."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor

from helpers import assert_close


@pytest.fixture
def default_float64():
    old = tl.get_default_dtype()
    tl.set_default_dtype(tl.float64)
    try:
        yield
    finally:
        tl.set_default_dtype(old)


# --------------------------------------------------------------------------- dtypes
def test_python_data_dtypes():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor([[1, 2.5]]).dtype == np.float32
    assert Tensor(3).dtype == np.int64
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor([True, False]).dtype == np.bool_
    assert tl.tensor([1.0]).dtype == np.float32


def test_numpy_data_keeps_dtype_and_is_copied():
    a = np.arange(3.0)
    t = Tensor(a)
    assert t.dtype == np.float64
    a[0] = 99
    assert t._data[0] == 0  # Tensor(x) copies
    assert Tensor(np.arange(3)).dtype == np.int64
    assert Tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32


def test_dtype_argument_converts():
    assert Tensor([1, 2], dtype=tl.float64).dtype == np.float64
    assert Tensor(np.arange(3.0), dtype=tl.float32).dtype == np.float32
    assert Tensor([1.7, -2.2], dtype="int64").tolist() == [1, -2]
    assert Tensor(1, dtype="torch.float64").dtype == np.float64
    assert tl.zeros(2, 3, dtype=tl.float64).dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1.0], dtype="complex128")


def test_set_default_dtype(default_float64):
    assert Tensor(1.5).dtype == np.float64
    assert Tensor([1.0]).dtype == np.float64
    assert tl.zeros(2).dtype == tl.ones(2).dtype == tl.randn(2).dtype == tl.rand(2).dtype == np.float64
    assert tl.arange(0, 1, 0.5).dtype == np.float64
    assert (Tensor([1, 2]) / 2).dtype == np.float64
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32  # numpy data keeps its dtype
    with pytest.raises(TypeError):
        tl.set_default_dtype(tl.int64)


def test_default_dtype_restored_by_fixture():
    assert tl.get_default_dtype() == np.float32
    assert Tensor(1.0).dtype == np.float32


def test_float32_stays_float32_with_python_scalars():
    x = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    y = ((x * 2.5 + 1) / 3.0 - 0.5) ** 2
    y = (1.0 - y).exp().log().sqrt() * 1e-3 + x.tanh().sigmoid().relu().clamp(0.1, 0.9)
    y = y.maximum(0.2).minimum(0.8) + (2 ** x) + 1 / (x + 1)
    y = y.softmax(-1) + y.log_softmax(0) + y.mean() + y.var() + y.logsumexp(0)
    y = tl.where(x > 0.5, y, 0.0).masked_fill(x > 10, 1.0) @ x
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_float_promotion_and_grad_dtypes():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    b = Tensor(np.ones(3, np.float64), requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    # a 0-d float64 tensor behaves as a scalar: float32 stays float32
    assert (Tensor(np.ones(3, np.float32)) + Tensor(np.array(1.0))).dtype == np.float32
    # int with float
    assert (Tensor([1, 2]) + 0.5).dtype == np.float32
    assert (Tensor([1, 2]) * Tensor(np.ones(2))).dtype == np.float64
    assert (Tensor([1, 2]) + 1).dtype == np.int64
    assert (Tensor([1, 2]) / Tensor([2, 2])).dtype == np.float32
    assert_close(Tensor([1, 2]) / Tensor([2, 2]), [0.5, 1.0])


def test_to_and_conversions():
    x = Tensor([1.5, -2.5])
    assert x.double().dtype == np.float64 and x.float().dtype == np.float32
    assert x.long().dtype == np.int64 and x.long().tolist() == [1, -2]
    assert x.to(tl.float32) is x
    assert (x > 0).dtype == np.bool_
    assert (x > 0).float().tolist() == [1.0, 0.0]


# --------------------------------------------------------------------------- creation
def test_creation_functions():
    assert tl.zeros(2, 3).shape == (2, 3) and tl.zeros((2, 3)).shape == (2, 3)
    assert tl.zeros(2).dtype == np.float32
    assert tl.ones(4).tolist() == [1.0] * 4
    f = tl.full((2, 2), 7.0)
    assert f.dtype == np.float32 and f.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert tl.full((2,), 3).dtype == np.int64
    assert tl.full((2,), True).dtype == np.bool_
    a = tl.arange(5)
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert tl.arange(1, 7, 2).tolist() == [1, 3, 5]
    b = tl.arange(0, 1, 0.25)
    assert b.dtype == np.float32 and b.tolist() == [0, 0.25, 0.5, 0.75]
    e = tl.eye(3)
    assert e.dtype == np.float32 and np.array_equal(e.numpy(), np.eye(3))
    assert tl.eye(2, 3).shape == (2, 3)
    z = tl.zeros(2, requires_grad=True)
    assert z.requires_grad and z.is_leaf
    x = Tensor(np.ones((2, 3), np.float64))
    for like, val in ((tl.zeros_like, 0), (tl.ones_like, 1)):
        y = like(x)
        assert y.shape == (2, 3) and y.dtype == np.float64 and np.all(y.numpy() == val)
    assert tl.full_like(x, 2.0).tolist() == [[2.0] * 3] * 2
    assert tl.randn_like(x).shape == (2, 3) and tl.rand_like(x).dtype == np.float64


def test_random_is_seedable():
    tl.manual_seed(123)
    a, b = tl.randn(3, 4), tl.rand(5)
    tl.manual_seed(123)
    c, d = tl.randn(3, 4), tl.rand(5)
    assert np.array_equal(a.numpy(), c.numpy()) and np.array_equal(b.numpy(), d.numpy())
    assert a.dtype == np.float32 and np.all((b.numpy() >= 0) & (b.numpy() < 1))
    tl.manual_seed(124)
    assert not np.array_equal(tl.randn(3, 4).numpy(), a.numpy())


def test_properties():
    x = Tensor(np.zeros((2, 3, 4)))
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert len(x) == 2
    with pytest.raises(TypeError):
        len(Tensor(1.0))


# --------------------------------------------------------------------------- repr, item, numpy
def test_repr():
    assert repr(Tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(Tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=float64" in repr(Tensor(np.ones(2)))
    assert "dtype" not in repr(Tensor([1.0]))
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<mul>" in repr(x * 2)
    assert repr(Tensor(3.5)) == "tensor(3.5000)" or repr(Tensor(3.5)) == "tensor(3.5)"
    assert repr(Tensor([True, False])) == "tensor([ True, False])"  # as PyTorch prints it
    big = repr(tl.zeros(1000))
    assert len(big) < 500 and "..." in big


def test_item_numpy_tolist():
    assert Tensor(2.5).item() == 2.5 and isinstance(Tensor(2.5).item(), float)
    assert Tensor([[7]]).item() == 7 and isinstance(Tensor([7]).item(), int)
    with pytest.raises(ValueError, match="one-element"):
        Tensor([1.0, 2.0]).item()
    t = Tensor([1.0, 2.0])
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().dtype == np.float32
    t.numpy()[0] = 5  # shares storage
    assert t.tolist() == [5.0, 2.0]
    r = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        r.numpy()
    assert r.detach().numpy().tolist() == [1.0]
    assert float(Tensor(1.5)) == 1.5 and int(Tensor(3)) == 3
    assert np.asarray(Tensor([1, 2])).tolist() == [1, 2]
    # results of ops on 0-d tensors are still arrays
    s = (Tensor(2.0) * 3).exp()
    assert isinstance(s.numpy(), np.ndarray) and s.shape == () and s.numpy().dtype == np.float32


def test_bool_of_tensor():
    assert bool(Tensor(1.0)) and not bool(Tensor([0]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


# --------------------------------------------------------------------------- indexing
def test_getitem_forward():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(a)
    for idx in [0, -1, (1, -1), slice(0, 1), slice(None, None, -1), (Ellipsis, 2), (None, 0),
                np.array([1, 0, 1]), (slice(None), np.array([2, 0])), a > 10, (0, a[0] > 3)]:
        assert np.array_equal(t[idx].numpy(), a[idx]), idx
    assert t[Tensor([1, 1])].shape == (2, 3, 4)
    assert t[Tensor(a > 10)].shape == (13,)
    assert t[[0, 1]].shape == (2, 3, 4)
    i = Tensor(1)
    assert np.array_equal(t[i].numpy(), a[1])


def test_setitem_and_inplace():
    t = tl.zeros(3, 2)
    t[1] = 5.0
    t[:, 0] = Tensor([1.0, 2.0, 3.0])
    assert t.tolist() == [[1, 0], [2, 5], [3, 0]]
    t.add_(1).mul_(2).sub_(Tensor(np.ones((3, 2), np.float32)))
    assert t.tolist() == [[3, 1], [5, 11], [7, 1]]
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x.add_(1)
    with pytest.raises(RuntimeError):
        x[0] = 2.0
    with tl.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0]


def test_getitem_errors():
    t = Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"\(2, 3\)"):
        t[5]
    with pytest.raises(IndexError):
        t[0, 0, 0]


# --------------------------------------------------------------------------- comparisons
def test_comparisons_return_bool_tensors_without_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([3.0, 2.0, 1.0])
    for r, exp in [(x < y, [1, 0, 0]), (x <= y, [1, 1, 0]), (x > y, [0, 0, 1]), (x >= y, [0, 1, 1]),
                   (x == y, [0, 1, 0]), (x != y, [1, 0, 1]), (x > 1.5, [0, 1, 1]), (x == 2, [0, 1, 0]),
                   (2.0 < x, [0, 0, 1])]:
        assert r.dtype == np.bool_ and not r.requires_grad
        assert r.tolist() == [bool(e) for e in exp]
    m = Tensor(np.array([[1.0], [2.0]])) < Tensor([1.5, 0.5, 2.5])
    assert m.shape == (2, 3)
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 1.5) | (x > 2.5)).tolist() == [True, False, True]
    assert (~(x > 1)).tolist() == [True, False, False]
    assert (x > 0).all().item() and not (x > 2).all().item() and (x > 2).any().item()


def test_comparison_shape_error():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        Tensor(np.zeros((2, 3))) < Tensor(np.zeros(4))


# --------------------------------------------------------------------------- errors
def test_int_and_bool_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating"):
        Tensor([True]).requires_grad_(True)
    with pytest.raises(RuntimeError):
        tl.arange(3, requires_grad=True)
    assert Tensor([1, 2]).requires_grad_(False).requires_grad is False


def test_broadcast_error_names_op_and_shapes():
    a, b = Tensor(np.zeros((2, 3))), Tensor(np.zeros(4))
    for fn, name in [(lambda: a + b, "add"), (lambda: a - b, "sub"), (lambda: a * b, "mul"), (lambda: a / b, "div"),
                     (lambda: a ** b, "pow"), (lambda: a.maximum(b), "maximum"), (lambda: b + a, "add")]:
        with pytest.raises(ValueError) as e:
            fn()
        msg = str(e.value)
        assert name in msg and "(2, 3)" in msg and "(4,)" in msg, msg
    with pytest.raises(ValueError, match=r"where.*\(2, 3\)"):
        tl.where(Tensor(np.ones((2, 3), bool)), a, b)


def test_matmul_reshape_dim_errors():
    with pytest.raises(ValueError) as e:
        Tensor(np.zeros((2, 3))) @ Tensor(np.zeros((4, 5)))
    assert "matmul" in str(e.value) and "(2, 3)" in str(e.value) and "(4, 5)" in str(e.value)
    with pytest.raises(ValueError, match="matmul"):
        Tensor(np.zeros(3)) @ Tensor(np.zeros(4))
    with pytest.raises(ValueError, match="matmul"):
        Tensor(np.zeros(())) @ Tensor(np.zeros(4))
    with pytest.raises(ValueError) as e:
        Tensor(np.zeros((2, 3))).reshape(4, 2)
    assert "reshape" in str(e.value) and "(2, 3)" in str(e.value) and "(4, 2)" in str(e.value)
    x = Tensor(np.zeros((2, 3)))
    for fn in (lambda: x.sum(2), lambda: x.mean(-3), lambda: x.softmax(5), lambda: x.max(3), lambda: x.var(2),
               lambda: x.logsumexp(7), lambda: x.squeeze(4)):
        with pytest.raises(IndexError, match="dim"):
            fn()
    with pytest.raises(ValueError, match="permute"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="expand"):
        x.expand(4, 3)
    with pytest.raises(ValueError, match="cat"):
        tl.cat([x, Tensor(np.zeros((3, 3)))], 1)
    with pytest.raises(ValueError, match="stack"):
        tl.stack([x, Tensor(np.zeros((3, 3)))])
    with pytest.raises(ValueError, match="split"):
        x.split([1, 1], 1)


def test_unsupported_operand():
    with pytest.raises(TypeError):
        Tensor([1.0]) + "a"
    with pytest.raises(TypeError, match="bool"):
        tl.where(Tensor([1.0]), Tensor([1.0]), Tensor([2.0]))


@pytest.mark.parametrize("dt", ["int64", "int32", "bool"])
def test_float_valued_ops_on_int_tensors_give_default_float(dt):
    """exp/log/sqrt/tanh/sigmoid/softmax... of an int or bool tensor is float32 (PyTorch), never an
    int result (sigmoid of int64 was truncated to 0/1) nor float64."""
    a = np.array([1, 2, 0, 3]).astype(dt)
    t = Tensor(a)
    x = a.astype(np.float64)
    for fn, ref in [(lambda v: v.exp(), np.exp(x)), (lambda v: v.sqrt(), np.sqrt(x)),
                    (lambda v: v.tanh(), np.tanh(x)), (lambda v: v.sigmoid(), 1 / (1 + np.exp(-x))),
                    (lambda v: v ** 0.5, x ** 0.5), (lambda v: v.clamp(0.5, 1.5), np.clip(x, 0.5, 1.5)),
                    (lambda v: v.logsumexp(0), np.log(np.exp(x).sum())),
                    (lambda v: v.softmax(0), np.exp(x) / np.exp(x).sum()),
                    (lambda v: v.log_softmax(0), x - np.log(np.exp(x).sum())), (lambda v: v.rsqrt(), None)]:
        out = fn(t)
        assert out.dtype == np.float32, (fn, out.dtype)
        if ref is not None:
            assert_close(out, ref, rtol=1e-6, atol=1e-6)
    with np.errstate(divide="ignore"):
        assert t.log().dtype == np.float32
    assert (t.long() ** 2).dtype == np.int64 and (t.long() ** 2).tolist() == (a.astype(np.int64) ** 2).tolist()
    assert Tensor(np.array([1, 2])).clamp(0, 1).dtype == np.int64


def test_bad_dims_are_clear_errors():
    """Out-of-range dims raise (they used to wrap around silently for cat/unsqueeze/flatten/gather...)."""
    x = Tensor(np.ones((2, 3)))
    for op, fn in [("unsqueeze", lambda: x.unsqueeze(3)), ("unsqueeze", lambda: x.unsqueeze(-4)),
                   ("transpose", lambda: x.transpose(0, 5)), ("flatten", lambda: x.flatten(0, 5)),
                   ("split", lambda: x.split(1, 4)), ("chunk", lambda: x.chunk(2, 3)),
                   ("cat", lambda: tl.cat([x, x], 2)), ("cat", lambda: tl.cat([x, x], -3)),
                   ("stack", lambda: tl.stack([x, x], 3)), ("gather", lambda: x.gather(3, Tensor(np.zeros((2, 1), int)))),
                   ("softmax", lambda: x.softmax(2)), ("sum", lambda: x.sum(-3)), ("max", lambda: x.max(2)),
                   ("squeeze", lambda: x.squeeze(2))]:
        with pytest.raises(IndexError, match=rf"{op}: dim -?\d+ is out of range for a tensor with 2 dimensions"):
            fn()
    assert x.unsqueeze(2).shape == (2, 3, 1) and x.unsqueeze(-3).shape == (1, 2, 3)
    assert tl.stack([x, x], -3).shape == (2, 2, 3) and tl.stack([x, x], 2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="expand"):
        Tensor(np.ones(3)).expand(-1, 3)
    with pytest.raises(ValueError, match="tril"):
        Tensor(np.ones(3)).tril()
    with pytest.raises(ValueError, match="triu"):
        Tensor(np.ones(3)).triu()


def test_transpose_checks_dims_even_on_1d_tensors():
    with pytest.raises(IndexError, match=r"transpose: dim 5 is out of range for a tensor with 1 dimensions"):
        Tensor([1.0, 2.0]).transpose(0, 5)


def test_masked_fill_errors_name_masked_fill():
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2,\) does not broadcast to the tensor's "
                                         r"shape \(2, 3\)"):
        Tensor(np.ones((2, 3))).masked_fill(Tensor(np.array([True, False])), 0.0)
    with pytest.raises(TypeError, match=r"masked_fill: mask must be a bool tensor, got int64"):
        Tensor(np.ones(2)).masked_fill(Tensor([1, 0]), 0.0)


def test_inplace_update_errors_name_the_op_shapes_and_dtypes():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"add_: an operand of shape \(4,\) cannot be applied in place to a tensor "
                                         r"of shape \(2, 3\)"):
        x.add_(Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"copy_: an operand of shape \(3, 3\)"):
        x.copy_(np.ones((3, 3)))
    with pytest.raises(TypeError, match=r"add_: cannot update a int64 tensor in place with a float64 operand"):
        Tensor([1, 2]).add_(0.5)
    y = Tensor(np.ones((2, 3)))  # and the updates themselves
    y.add_(1.5).mul_(Tensor(np.arange(3.0))).sub_(1, alpha=2).div_(2)
    np.testing.assert_allclose(y.numpy(), (2.5 * np.arange(3.0) - 2) / 2 * np.ones((2, 3)))
