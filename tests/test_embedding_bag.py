"""F.embedding_bag (tinygrad_lite/ops/embedding_bag.py) and sparse.embedding_dot (ops/embedding_dot.py):
gradients by finite differences, the composed reference, second order, row-sparse gradients with SGD, and
their errors. PyTorch's values are checked in tests/torch/test_embedding_bag_vs_torch.py."""
import numpy as np
import pytest

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.gradcheck import gradcheck
from tinygrad_lite.sparse import embedding, embedding_dot, is_sparse

IDX = np.array([[0, 3, 3, 5], [5, 5, 5, 5], [1, 2, 4, 0]])
FLAT = np.array([4, 0, 0, 2, 5, 1, 3])
OFFS = np.array([0, 3, 3, 5])  # bags [4 0 0], [], [2 5], [1 3]


def _w(seed=0, shape=(6, 3)):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 5])
def test_gradcheck_2d_and_offsets(mode, padding_idx):
    w = _w()
    assert gradcheck(lambda w: F.embedding_bag(IDX, w, mode=mode, padding_idx=padding_idx), (w,))
    assert gradcheck(lambda w: F.embedding_bag(FLAT, w, OFFS, mode=mode, padding_idx=padding_idx), (w,))


def test_gradcheck_per_sample_weights():
    w, p = _w(), Tensor(np.random.default_rng(1).standard_normal(IDX.shape), requires_grad=True)
    assert gradcheck(lambda w, p: F.embedding_bag(IDX, w, mode="sum", per_sample_weights=p, padding_idx=5), (w, p))


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_equals_the_composed_reference(mode):
    """sum/mean of masked embedding rows, written with the engine's plain ops."""
    w1, w2 = _w(2), _w(2)
    g = np.random.default_rng(3).standard_normal((IDX.shape[0], 3))
    out = F.embedding_bag(IDX, w1, mode=mode, padding_idx=5)
    keep = (IDX != 5).astype(np.float64)[..., None]
    ref = (F.embedding(IDX, w2) * keep).sum(1)
    if mode == "mean":
        ref = ref / np.maximum(keep.sum(1), 1)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-14)
    (out * Tensor(g)).sum().backward()
    (ref * Tensor(g)).sum().backward()
    np.testing.assert_allclose(w1.grad.numpy(), w2.grad.numpy(), atol=1e-14)


def test_second_order_through_create_graph():
    w = _w()
    p = Tensor(np.random.default_rng(1).standard_normal(IDX.shape), requires_grad=True)
    out = F.embedding_bag(IDX, w, mode="sum", per_sample_weights=p)
    (gw,) = tg.autograd.grad((out * out).sum(), [w], create_graph=True)
    # d/dp of sum(gw * c) by finite differences against the engine's second-order gradient
    c = Tensor(np.random.default_rng(4).standard_normal(w.shape))
    (gp,) = tg.autograd.grad((gw * c).sum(), [p])

    def f(pv):
        w2 = Tensor(w.detach().numpy(), requires_grad=True)
        o = F.embedding_bag(IDX, w2, mode="sum", per_sample_weights=Tensor(pv))
        (o * o).sum().backward()
        return float((w2.grad.numpy() * c.numpy()).sum())
    eps, pv = 1e-6, p.detach().numpy()
    num = np.zeros_like(pv)
    for i in np.ndindex(pv.shape):
        a, b = pv.copy(), pv.copy()
        a[i] += eps
        b[i] -= eps
        num[i] = (f(a) - f(b)) / (2 * eps)
    np.testing.assert_allclose(gp.numpy(), num, atol=1e-6)


def test_sparse_gradient_and_sgd_update_only_the_bags_rows():
    w = _w(shape=(50, 4))
    before = w.detach().numpy().copy()
    out = F.embedding_bag(np.array([[3, 7, 7], [9, 49, 3]]), w, mode="mean", sparse=True, padding_idx=49)
    out.sum().backward()
    assert is_sparse(w.grad) and set(w.grad.coalesce().indices.tolist()) == {3, 7, 9}
    tg.optim.SGD([w], lr=0.5).step()
    changed = np.flatnonzero(np.any(w.detach().numpy() != before, axis=1)).tolist()
    assert changed == [3, 7, 9]
    # row 7 is twice in a bag of 3: 2/3 of the bag's gradient
    np.testing.assert_allclose(before[7] - w.detach().numpy()[7], 0.5 * 2 / 3, atol=1e-12)


def test_matches_sparse_embedding_sum_in_float32():
    rng = np.random.default_rng(5)
    w1 = Tensor(rng.standard_normal((30, 8)).astype(np.float32), requires_grad=True)
    w2 = Tensor(w1.detach().numpy().copy(), requires_grad=True)
    idx = rng.integers(0, 30, (64, 10))
    a = F.embedding_bag(idx, w1, mode="sum", sparse=True, padding_idx=0)
    b = embedding(w2, idx, padding_idx=0)
    b = (b * (idx != 0)[..., None].astype(np.float32)).sum(1)
    assert a.dtype == np.float32
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-5)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(w1.grad.numpy(), w2.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_errors_name_the_op_and_shapes():
    w = _w()
    with pytest.raises(ValueError, match="embedding_bag: mode must be one of"):
        F.embedding_bag(IDX, w, mode="median")
    with pytest.raises(ValueError, match=r"1-D input of shape \(7,\) needs offsets"):
        F.embedding_bag(FLAT, w)
    with pytest.raises(ValueError, match="offsets must be None when input is 2-D"):
        F.embedding_bag(IDX, w, np.array([0, 2]))
    with pytest.raises(ValueError, match="offsets must start at 0"):
        F.embedding_bag(FLAT, w, np.array([1, 3]))
    with pytest.raises(IndexError, match=r"index 9 is out of range for a weight of shape \(6, 3\)"):
        F.embedding_bag(np.array([[0, 9]]), w)
    with pytest.raises(TypeError, match="input must be an integer tensor"):
        F.embedding_bag(np.array([[0.0, 1.0]]), w)
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(IDX, w, per_sample_weights=Tensor(np.ones(IDX.shape)))
    with pytest.raises(ValueError, match="per_sample_weights must have the input's shape"):
        F.embedding_bag(IDX, w, mode="sum", per_sample_weights=Tensor(np.ones((3, 3))))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.embedding_bag(IDX, Tensor(np.ones(6)))


# ---------------------------------------------------------------- embedding_dot
def test_embedding_dot_gradcheck_and_second_order():
    rng = np.random.default_rng(7)
    w, x = _w(7, (6, 3)), Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    idx = rng.integers(0, 6, (4, 5))
    assert gradcheck(lambda w, x: embedding_dot(w, idx, x), (w, x))
    # create_graph: the rules run on Tensors; d/dx of sum(dL/dW * c) against the composed version's
    c = Tensor(rng.standard_normal((6, 3)))
    outs = []
    for f in (lambda w, x: embedding_dot(w, idx, x, padding_idx=2),
              lambda w, x: (embedding(w, idx, padding_idx=2) * x.reshape(4, 1, 3)).sum(-1)):
        w2, x2 = Tensor(w.detach().numpy(), requires_grad=True), Tensor(x.detach().numpy(), requires_grad=True)
        (gw,) = tg.autograd.grad((f(w2, x2) ** 2).sum(), [w2], create_graph=True)
        (gx,) = tg.autograd.grad((gw * c).sum(), [x2])
        outs.append(gx.numpy())
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-12)


def test_embedding_dot_sparse_step_and_errors():
    rng = np.random.default_rng(8)
    w = Tensor(rng.standard_normal((40, 4)).astype(np.float32), requires_grad=True)
    x = Tensor(rng.standard_normal((2, 4)).astype(np.float32), requires_grad=True)
    embedding_dot(w, np.array([[3, 3, 39], [5, 39, 3]]), x, padding_idx=39).sum().backward()
    assert is_sparse(w.grad) and w.grad.is_coalesced and w.grad.indices.tolist() == [3, 5]
    np.testing.assert_allclose(w.grad.values[0], 2 * x.detach().numpy()[0] + x.detach().numpy()[1], rtol=1e-6)
    with pytest.raises(ValueError, match=r"embedding_dot: expected weight \(V, d\), indices \(B, T\) and x \(B, d\)"):
        embedding_dot(w, np.zeros((3, 2), np.int64), x)
    with pytest.raises(IndexError, match="embedding_dot: index 40 is out of range"):
        embedding_dot(w, np.array([[40]]), x[:1])
    with pytest.raises(TypeError, match="share a float32 or float64 dtype"):
        embedding_dot(w, np.array([[1]]), Tensor(np.ones((1, 4))))


@pytest.mark.parametrize("mode, psw", [("sum", False), ("mean", False), ("sum", True)])  # (psw: mode='sum' only)
@pytest.mark.parametrize("pad_row", ["finite", "inf", "nan"])
def test_padding_entries_never_touch_the_result_whatever_the_padding_row_holds(mode, pad_row, psw):
    """The forward keeps padding entries in its sparse product with coefficient 0 when the padding row
    is finite (no masking work) and leaves them out otherwise (0 * inf would be nan): both must give
    the reference, which reads only the real entries."""
    wd = np.random.default_rng(4).standard_normal((6, 3))
    wd[5] = {"finite": 7.0, "inf": np.inf, "nan": np.nan}[pad_row]
    p = np.random.default_rng(5).standard_normal(IDX.shape)
    keep = IDX != 5
    want = np.zeros((IDX.shape[0], 3))
    for b in range(IDX.shape[0]):
        for e in range(IDX.shape[1]):
            if keep[b, e]:
                want[b] += (p[b, e] if psw else 1.0) * wd[IDX[b, e]]
    if mode == "mean":
        want /= np.maximum(keep.sum(1), 1)[:, None]
    for idx, offs in ((IDX, None), (IDX.reshape(-1), np.arange(0, IDX.size, IDX.shape[1]))):
        w = Tensor(wd.copy(), requires_grad=True)
        kw = {"per_sample_weights": Tensor(p.reshape(idx.shape))} if psw else {}
        out = F.embedding_bag(idx, w, offs, mode=mode, padding_idx=5, sparse=True, **kw)
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-14, atol=1e-14)
        out.sum().backward()
        assert 5 not in w.grad.coalesce().indices.tolist()
