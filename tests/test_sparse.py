"""Row-sparse embedding gradients: equality with dense gradients, accumulation, and sparse optimizer steps."""
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import autograd, optim
from tinygrad_lite.nn.utils import clip_grad_norm_, clip_grad_value_
from tinygrad_lite.ops import REGISTRY
from tinygrad_lite.sparse import RowSparseGrad, embedding, is_sparse


def _w(V=10, d=3, seed=0, dtype=np.float64):
    return tl.Tensor(np.random.default_rng(seed).standard_normal((V, d)).astype(dtype), requires_grad=True)


def _dense_grad(w, idx, upstream, padding_idx=None):
    """Reference: the gradient of sum(upstream * w[idx]) computed with plain numpy."""
    g = np.zeros(w.shape, w.dtype)
    np.add.at(g, idx, upstream)
    if padding_idx is not None:
        g[padding_idx] = 0
    return g


# ------------------------------------------------------------------------------ RowSparseGrad
def test_coalesce_sums_duplicates_and_sorts():
    g = RowSparseGrad(np.array([5, 1, 5, 3, 1, 5]), np.arange(12.0).reshape(6, 2), (8, 2))
    c = g.coalesce()
    assert c.is_coalesced and c.coalesce() is c
    np.testing.assert_array_equal(c.indices, [1, 3, 5])
    np.testing.assert_array_equal(c.values, [[2 + 8, 3 + 9], [6, 7], [0 + 4 + 10, 1 + 5 + 11]])
    np.testing.assert_array_equal(c.to_dense().numpy(), g.to_dense().numpy())
    assert g.shape == (8, 2) and g.dtype == np.float64 and g.is_sparse and is_sparse(g)


def test_coalesce_of_unique_and_empty():
    g = RowSparseGrad(np.array([4, 0, 2]), np.ones((3, 1)), (5, 1))
    np.testing.assert_array_equal(g.coalesce().indices, [0, 2, 4])
    e = RowSparseGrad(np.zeros(0, np.int64), np.zeros((0, 3)), (4, 3))
    assert e.coalesce().nnz() == 0
    np.testing.assert_array_equal(e.to_dense().numpy(), np.zeros((4, 3)))


def test_add_sparse_sparse_concatenates_and_sparse_dense_is_dense():
    a = RowSparseGrad([1, 2], np.ones((2, 2)), (4, 2))
    b = RowSparseGrad([2, 3], 2 * np.ones((2, 2)), (4, 2))
    s = a + b
    assert isinstance(s, RowSparseGrad) and s.nnz() == 4
    np.testing.assert_array_equal(s.to_dense().numpy(), a.to_dense().numpy() + b.to_dense().numpy())
    d = tl.Tensor(np.arange(8.0).reshape(4, 2))
    r = a + d  # (Tensor + RowSparseGrad is not supported by Tensor's operators: write sparse + dense)
    assert isinstance(r, tl.Tensor)
    np.testing.assert_array_equal(r.numpy(), d.numpy() + a.to_dense().numpy())
    arr = np.ones((4, 2))
    for r in (arr + a, a + arr):
        assert type(r) is np.ndarray
        np.testing.assert_array_equal(r, arr + a.to_dense().numpy())
    np.testing.assert_array_equal(arr, np.ones((4, 2)))  # operands untouched
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(5, 2\)"):
        a + RowSparseGrad([0], np.ones((1, 2)), (5, 2))


def test_row_sparse_grad_validates_shapes():
    with pytest.raises(ValueError, match="values must have shape"):
        RowSparseGrad([0, 1], np.ones((3, 2)), (4, 2))
    with pytest.raises(TypeError, match="1-d integer"):
        RowSparseGrad(np.array([0.0]), np.ones((1, 2)), (4, 2))


# ------------------------------------------------------------------------------ embedding op
def test_embedding_is_registered_and_forward_matches_indexing():
    assert "embedding_sparse" in REGISTRY
    w = _w()
    idx = np.array([[1, 2, 2], [9, 0, 1]])
    out = embedding(w, tl.tensor(idx))
    assert out.shape == (2, 3, 3) and out.grad_fn == "embedding_sparse"
    np.testing.assert_array_equal(out.detach().numpy(), w.detach().numpy()[idx])


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_sparse_grad_equals_dense_grad_with_duplicates(padding_idx):
    w = _w()
    idx = np.array([[1, 2, 2], [9, 0, 1], [2, 2, 2]])  # duplicates must accumulate
    up = np.random.default_rng(1).standard_normal(idx.shape + (3,))
    (embedding(w, idx, padding_idx=padding_idx) * tl.Tensor(up)).sum().backward()
    assert isinstance(w.grad, RowSparseGrad)
    pad = None if padding_idx is None else padding_idx % 10
    expected = _dense_grad(w, idx, up, pad)
    np.testing.assert_allclose(w.grad.to_dense().numpy(), expected, rtol=1e-15, atol=0)
    # and equal to the engine's dense path (indexing)
    w2 = tl.Tensor(w.detach().numpy(), requires_grad=True)
    (w2[tl.tensor(idx)] * tl.Tensor(up)).sum().backward()
    if pad is None:
        np.testing.assert_allclose(w.grad.to_dense().numpy(), w2.grad.numpy(), rtol=1e-15)


def test_sparse_matches_nn_functional_dense_embedding():
    import tinygrad_lite.nn.functional as F
    w1, w2 = _w(seed=3), _w(seed=3)
    idx = tl.tensor(np.array([3, 3, 7, 0]))
    F.embedding(idx, w1, padding_idx=0).pow(2).sum().backward()
    F.embedding(idx, w2, padding_idx=0, sparse=True).pow(2).sum().backward()
    assert isinstance(w2.grad, RowSparseGrad) and isinstance(w1.grad, tl.Tensor)
    np.testing.assert_allclose(w2.grad.to_dense().numpy(), w1.grad.numpy(), rtol=1e-15)


def test_gradients_accumulate_across_backward_calls_and_with_dense_uses():
    w = _w()
    embedding(w, [1, 2]).sum().backward()
    embedding(w, [2, 3]).sum().backward()  # sparse + sparse stays sparse
    assert isinstance(w.grad, RowSparseGrad)
    np.testing.assert_array_equal(w.grad.to_dense().numpy()[:, 0], [0, 1, 2, 1, 0, 0, 0, 0, 0, 0])
    # a dense gradient already in .grad, then a sparse one (regression: Tensor + RowSparseGrad raised TypeError)
    (w * 1.0).sum().backward()
    embedding(w, [4, 4]).sum().backward()
    assert isinstance(w.grad, tl.Tensor)
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 2, 3, 2, 3, 1, 1, 1, 1, 1])


def test_weight_tying_sparse_and_dense_in_one_backward():
    w = _w()
    idx = np.array([0, 0, 5])
    h = embedding(w, idx)                      # (3, 3): sparse use of w
    logits = h @ w.T                           # (3, 10): dense use of the same w
    logits.sum().backward()
    w2 = tl.Tensor(w.detach().numpy(), requires_grad=True)
    (w2[tl.tensor(idx)] @ w2.T).sum().backward()
    assert isinstance(w.grad, tl.Tensor)
    np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-14)


def test_autograd_grad_returns_dense_and_create_graph_is_dense_and_differentiable():
    w = _w()
    idx = np.array([1, 1, 4])
    (g,) = autograd.grad(embedding(w, idx).sum(), [w])
    assert isinstance(g, tl.Tensor)
    np.testing.assert_array_equal(g.numpy(), _dense_grad(w, idx, np.ones((3, 3))))
    # create_graph: the first gradient is a recorded dense Tensor, differentiable again
    y = (embedding(w, idx, padding_idx=4) ** 2).sum()
    (g1,) = autograd.grad(y, [w], create_graph=True)
    assert isinstance(g1, tl.Tensor) and g1.requires_grad
    expected = np.zeros((10, 3))
    wd = w.detach().numpy()
    expected[1] = 2 * 2 * wd[1]
    np.testing.assert_allclose(g1.detach().numpy(), expected, rtol=1e-15)
    (g2,) = autograd.grad(g1.sum(), [w])
    exp2 = np.zeros((10, 3))
    exp2[1] = 4
    np.testing.assert_allclose(g2.numpy(), exp2)


def test_embedding_errors_name_shapes():
    w = _w()
    with pytest.raises(IndexError, match=r"index 10 .*\(10, 3\)"):
        embedding(w, [1, 10])
    with pytest.raises(IndexError, match="index -1"):
        embedding(w, [-1])
    with pytest.raises(TypeError, match="integer"):
        embedding(w, np.array([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        embedding(w, [1], padding_idx=10)


# ------------------------------------------------------------------------------ optimizers
def test_sgd_sparse_step_equals_dense_step_and_touches_only_rows():
    w_s, w_d = _w(20, 4, seed=5), _w(20, 4, seed=5)
    before = w_s.detach().numpy().copy()
    idx = np.array([[3, 7, 3], [19, 7, 3]])
    up = np.random.default_rng(2).standard_normal((2, 3, 4))
    (embedding(w_s, idx) * tl.Tensor(up)).sum().backward()
    (w_d[tl.tensor(idx)] * tl.Tensor(up)).sum().backward()
    optim.SGD([w_s], lr=0.1).step()
    optim.SGD([w_d], lr=0.1).step()
    np.testing.assert_allclose(w_s.detach().numpy(), w_d.detach().numpy(), rtol=1e-15, atol=1e-16)
    changed = np.flatnonzero((w_s.detach().numpy() != before).any(axis=1))
    np.testing.assert_array_equal(changed, [3, 7, 19])


def _big_vocab_step(V, d, idx, sparse=True):
    """One SGD step on a (V, d) float32 table through `idx`; returns (w, seconds, peak bytes
    allocated during the step (tracemalloc; the table itself is allocated before))."""
    w = tl.Tensor(np.full((V, d), 0.5, np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        out = embedding(w, idx) if sparse else w[tl.tensor(idx)]
        out.sum().backward()
        opt.step()
        opt.zero_grad()
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return w, seconds, peak


def test_big_vocabulary_step_touches_only_batch_rows():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 1000, size=(32, 16))
    V, d = 1_000_000, 16
    table = V * d * 4  # 64 MB
    w_big, t_big, peak_big = _big_vocab_step(V, d, idx)
    w_small, t_small, peak_small = _big_vocab_step(1_000, d, idx)
    print(f"sparse SGD step: V=1e6 {t_big * 1e3:.2f} ms {peak_big / 1e3:.0f} kB, "
          f"V=1e3 {t_small * 1e3:.2f} ms {peak_small / 1e3:.0f} kB")
    # the step's memory does not grow with the vocabulary: no (V, d) gradient or update is made
    assert peak_big < table / 50, peak_big
    assert peak_big < 4 * peak_small + 256 * 1024, (peak_big, peak_small)
    big = w_big.detach().numpy()
    changed = np.flatnonzero((big != 0.5).any(axis=1))
    np.testing.assert_array_equal(changed, np.unique(idx))
    np.testing.assert_array_equal(big[:1000], w_small.detach().numpy())
    counts = np.bincount(idx.ravel(), minlength=1000).astype(np.float32)
    np.testing.assert_allclose(big[:1000, 0], 0.5 - 0.5 * counts, rtol=1e-6)


def test_big_vocabulary_measurement_sees_a_dense_gradient():
    """Control for the test above: the same step through dense indexing makes a (V, d) gradient,
    and tracemalloc sees it (so the bound above can fail)."""
    idx = np.random.default_rng(0).integers(0, 1000, size=(32, 16))
    V, d = 200_000, 16
    w, _, peak = _big_vocab_step(V, d, idx, sparse=False)
    assert peak >= V * d * 4  # at least one (V, d) float32 array during the dense step
    w_s, _, peak_s = _big_vocab_step(V, d, idx)
    assert peak_s * 10 < peak
    np.testing.assert_allclose(w_s.detach().numpy(), w.detach().numpy(), rtol=1e-6)


def test_sgd_sparse_with_momentum_or_weight_decay_is_a_clear_error():
    for kw in (dict(momentum=0.9), dict(weight_decay=0.1)):
        w = _w()
        embedding(w, [1]).sum().backward()
        with pytest.raises(RuntimeError, match=r"SGD: parameter of shape \(10, 3\) has a row-sparse"):
            optim.SGD([w], lr=0.1, **kw).step()


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_refuses_sparse_gradients(cls):
    w = _w()
    embedding(w, [1]).sum().backward()
    with pytest.raises(RuntimeError, match=f"{cls.__name__} does not support sparse gradients.*SparseAdam"):
        cls([w]).step()


def test_sparse_adam_lazy_rows_and_refuses_dense():
    w = _w(50, 2)
    before = w.detach().numpy().copy()
    opt = optim.SparseAdam([w], lr=0.1)
    embedding(w, [4, 4, 9]).sum().backward()
    opt.step()
    changed = np.flatnonzero((w.detach().numpy() != before).any(axis=1))
    np.testing.assert_array_equal(changed, [4, 9])
    st = opt.state[w]
    assert st["step"] == 1
    assert np.count_nonzero(st["exp_avg"].numpy().any(axis=1)) == 2
    # first Adam step moves each touched element by lr * sign(g)
    np.testing.assert_allclose(w.detach().numpy()[[4, 9]], before[[4, 9]] - 0.1, rtol=1e-6)
    w.grad = tl.Tensor(np.ones((50, 2)))
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        opt.step()


def test_zero_grad_on_sparse_gradients():
    w = _w()
    opt = optim.SGD([w], lr=0.1)
    embedding(w, [1, 2]).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert isinstance(w.grad, RowSparseGrad) and w.grad.nnz() == 0
    embedding(w, [3]).sum().backward()
    np.testing.assert_array_equal(np.flatnonzero(w.grad.to_dense().numpy()[:, 0]), [3])
    opt.zero_grad()
    assert w.grad is None


def test_clipping_sparse_gradients_equals_dense():
    idx = np.array([1, 1, 5, 7])
    ws, wd = _w(seed=9), _w(seed=9)
    (embedding(ws, idx) * 3).sum().backward()
    (wd[tl.tensor(idx)] * 3).sum().backward()
    ns, nd = clip_grad_norm_([ws], 1.0), clip_grad_norm_([wd], 1.0)
    np.testing.assert_allclose(ns.numpy(), nd.numpy(), rtol=1e-14)
    np.testing.assert_allclose(ws.grad.to_dense().numpy(), wd.grad.numpy(), rtol=1e-14)
    clip_grad_value_([ws], 0.1)
    clip_grad_value_([wd], 0.1)
    np.testing.assert_allclose(ws.grad.to_dense().numpy(), wd.grad.numpy(), rtol=1e-14)


def test_nn_embedding_sparse_trains_with_sgd():
    import tinygrad_lite.nn as nn
    tl.manual_seed(0)
    emb = nn.Embedding(100, 8, sparse=True)
    opt = optim.SGD(emb.parameters(), lr=0.5)
    idx = tl.tensor(np.array([[1, 2], [3, 1]]))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = (emb(idx) ** 2).mean()
        loss.backward()
        assert isinstance(emb.weight.grad, RowSparseGrad)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@given(st.lists(st.integers(0, 9), min_size=0, max_size=30), st.integers(1, 3))
def test_coalesce_property_matches_add_at(rows, d):
    idx = np.array(rows, dtype=np.int64)
    vals = np.arange(len(rows) * d, dtype=np.float64).reshape(len(rows), d) - 7.5
    g = RowSparseGrad(idx, vals, (10, d))
    expected = np.zeros((10, d))
    np.add.at(expected, idx, vals)
    c = g.coalesce()
    assert (np.diff(c.indices) > 0).all()
    np.testing.assert_array_equal(c.to_dense().numpy(), expected)
    np.testing.assert_array_equal((g + np.zeros((10, d))), expected)
