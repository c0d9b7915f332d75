"""F.embedding_bag against torch.nn.functional.embedding_bag in float64: forward, the weight's gradient
(dense and row-sparse) and per_sample_weights' gradient, for hypothesis-drawn bags."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402

pytestmark = pytest.mark.torch


def _run(idx, W, g, offsets, mode, padding_idx, psw, include_last, sparse):
    """(out, dW, dpsw) of ours and of torch for the same float64 data; loss = sum(out * g)."""
    wt, wo = torch.tensor(W, requires_grad=True), Tensor(W, requires_grad=True)
    pt = None if psw is None else torch.tensor(psw, requires_grad=True)
    po = None if psw is None else Tensor(psw, requires_grad=True)
    ot = TF.embedding_bag(torch.tensor(idx), wt, None if offsets is None else torch.tensor(offsets), mode=mode,
                          per_sample_weights=pt, padding_idx=padding_idx, include_last_offset=include_last)
    oo = F.embedding_bag(idx, wo, offsets, mode=mode, per_sample_weights=po, padding_idx=padding_idx,
                         include_last_offset=include_last, sparse=sparse)
    (ot * torch.tensor(g)).sum().backward()
    (oo * Tensor(g)).sum().backward()
    grad = wo.grad.numpy() if not sparse else np.asarray(wo.grad.dense())
    return ((oo.detach().numpy(), grad, None if po is None else po.grad.numpy()),
            (ot.detach().numpy(), wt.grad.numpy(), None if pt is None else pt.grad.numpy()))


@st.composite
def bags(draw):
    V = draw(st.integers(1, 7))
    d = draw(st.integers(1, 4))
    two_d = draw(st.booleans())
    if two_d:
        B, N = draw(st.integers(0, 5)), draw(st.integers(1, 4))  # (torch refuses N = 0)
        idx = np.array(draw(st.lists(st.integers(0, V - 1), min_size=B * N, max_size=B * N)), np.int64).reshape(B, N)
        offsets = None
    else:
        M = draw(st.integers(0, 10))
        idx = np.array(draw(st.lists(st.integers(0, V - 1), min_size=M, max_size=M)), np.int64)
        cuts = sorted(draw(st.lists(st.integers(0, M), min_size=0, max_size=4)))
        offsets = np.array([0] + cuts, np.int64)
    mode = draw(st.sampled_from(["sum", "mean", "max"]))
    padding_idx = draw(st.one_of(st.none(), st.integers(0, V - 1)))
    seed = draw(st.integers(0, 2 ** 16))
    return V, d, idx, offsets, mode, padding_idx, seed


@settings(max_examples=150, deadline=None)
@given(bags(), st.booleans(), st.booleans(), st.booleans())
def test_embedding_bag_matches_torch(case, use_psw, include_last, sparse):
    V, d, idx, offsets, mode, padding_idx, seed = case
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((V, d))
    if offsets is None:
        include_last = False
    elif include_last:
        offsets = np.r_[offsets, idx.shape[0]]
    psw = rng.standard_normal(idx.shape) if (use_psw and mode == "sum") else None
    B = idx.shape[0] if offsets is None else offsets.shape[0] - (1 if include_last else 0)
    g = rng.standard_normal((B, d))
    ours, theirs = _run(idx, W, g, offsets, mode, padding_idx, psw, include_last, sparse)
    for a, b, what in zip(ours, theirs, ("forward", "d weight", "d per_sample_weights")):
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(a, b, atol=1e-12, rtol=1e-12, err_msg=f"{what} (mode {mode}, idx {idx.tolist()}, "
                                   f"offsets {offsets}, padding_idx {padding_idx})")


def test_embedding_bag_max_gradient_goes_to_one_entry_per_column():
    W = np.array([[1.0, 5.0], [3.0, 2.0], [0.0, 0.0]])
    idx = np.array([[0, 1, 2, 1]])
    g = np.array([[10.0, 20.0]])
    ours, theirs = _run(idx, W, g, None, "max", None, None, False, False)
    np.testing.assert_allclose(ours[0], [[3.0, 5.0]])
    np.testing.assert_allclose(ours[1], theirs[1])
    np.testing.assert_allclose(ours[1], [[0, 20], [10, 0], [0, 0]])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 5), st.integers(1, 5), st.integers(1, 4), st.booleans(), st.integers(0, 2 ** 16))
def test_embedding_dot_matches_torch(V, B, T, d, use_pad, seed):
    """tinygrad_lite.sparse.embedding_dot against torch's embedding (padding_idx) then a batched dot."""
    from tinygrad_lite.sparse import embedding_dot
    rng = np.random.default_rng(seed)
    W, x, g = rng.standard_normal((V, d)), rng.standard_normal((B, d)), rng.standard_normal((B, T))
    idx = rng.integers(0, V, (B, T))
    pad = int(rng.integers(0, V)) if use_pad else None
    wt, xt = torch.tensor(W, requires_grad=True), torch.tensor(x, requires_grad=True)
    ref = (TF.embedding(torch.tensor(idx), wt, padding_idx=pad) * xt[:, None, :]).sum(-1)
    (ref * torch.tensor(g)).sum().backward()
    wo, xo = Tensor(W, requires_grad=True), Tensor(x, requires_grad=True)
    out = embedding_dot(wo, idx, xo, padding_idx=pad)
    (out * Tensor(g)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(np.asarray(wo.grad.dense()), wt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_the_module_matches_torch_nn_embedding_bag(mode):
    """nn.EmbeddingBag: PyTorch's constructor (padding row zeroed, from_pretrained frozen by default) and
    forward with offsets; the same weights give the same bags and the same weight gradient."""
    import tinygrad_lite.nn as nn
    ours = nn.EmbeddingBag(7, 3, mode=mode, padding_idx=2)
    assert np.all(ours.weight.detach().numpy()[2] == 0) and tuple(ours.weight.shape) == (7, 3)
    W = np.random.default_rng(1).standard_normal((7, 3))
    ours = nn.EmbeddingBag.from_pretrained(Tensor(W), freeze=False, mode=mode, padding_idx=2)
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(W), freeze=False, mode=mode, padding_idx=2)
    idx, offsets = np.array([1, 2, 4, 4, 0, 6, 2]), np.array([0, 3, 3, 5])   # an empty bag and a padded entry
    o, t = ours(Tensor(idx), Tensor(offsets)), theirs(torch.tensor(idx), torch.tensor(offsets))
    np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-15)
    g = np.random.default_rng(2).standard_normal(o.shape)
    (o * Tensor(g)).sum().backward()
    (t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert not nn.EmbeddingBag.from_pretrained(Tensor(W)).weight.requires_grad
    assert repr(ours).startswith("EmbeddingBag(7, 3, padding_idx=2")
