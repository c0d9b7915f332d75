"""A small model built from tinygrad_lite.nn follows PyTorch's loss trajectory over 20 AdamW steps (float64)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn as nn  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import optim  # noqa: E402
from tinygrad_lite.nn.utils import clip_grad_norm_  # noqa: E402

V, D, H, C = 50, 16, 32, 7  # vocabulary, embedding, hidden, classes
B, T = 4, 6
STEPS = 20


class Ours(nn.Module):
    def __init__(self, sparse=False):
        super().__init__()
        self.emb = nn.Embedding(V, D, padding_idx=0, sparse=sparse)
        self.fc1 = nn.Linear(D, H)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(H)
        self.fc2 = nn.Linear(H, C)

    def forward(self, idx):
        return self.fc2(self.norm(self.act(self.fc1(self.emb(idx)))))


class Theirs(torch.nn.Module):
    def __init__(self, sparse=False):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D, padding_idx=0, sparse=sparse)
        self.fc1 = torch.nn.Linear(D, H)
        self.act = torch.nn.GELU()
        self.norm = torch.nn.LayerNorm(H)
        self.fc2 = torch.nn.Linear(H, C)

    def forward(self, idx):
        return self.fc2(self.norm(self.act(self.fc1(self.emb(idx)))))


def _pair(sparse=False):
    tl.manual_seed(0)
    ours = Ours(sparse).double()
    theirs = Theirs(sparse).double()
    rng = np.random.default_rng(0)
    sd = {}
    for name, p in ours.named_parameters():  # fresh random weights (not the defaults: LayerNorm would be 1/0)
        sd[name] = rng.standard_normal(p.shape) * (0.5 if p.ndim > 1 else 0.2)
    sd["emb.weight"][0] = 0.0
    ours.load_state_dict({k: tl.Tensor(v) for k, v in sd.items()})
    theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    return ours, theirs


def _data(step):
    rng = np.random.default_rng(100 + step)
    idx = rng.integers(0, V, size=(B, T))
    idx[:, -1] = 0  # padding positions
    tgt = rng.integers(0, C, size=(B, T))
    tgt[0, 0] = -100  # ignored
    return idx, tgt


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


@pytest.mark.parametrize("clip", [None, 0.5])
def test_adamw_training_trajectory_matches_torch(clip):
    ours, theirs = _pair()
    o_opt = optim.AdamW(ours.parameters(), lr=3e-2, weight_decay=0.05)
    t_opt = torch.optim.AdamW(theirs.parameters(), lr=3e-2, weight_decay=0.05)
    o_losses, t_losses = [], []
    for step in range(STEPS):
        idx, tgt = _data(step)
        o_opt.zero_grad()
        t_opt.zero_grad()
        lo = F.cross_entropy(ours(tl.tensor(idx)).reshape(B * T, C), tl.tensor(tgt.reshape(-1)),
                             label_smoothing=0.1)
        lt = torch.nn.functional.cross_entropy(theirs(torch.tensor(idx)).reshape(B * T, C),
                                               torch.tensor(tgt.reshape(-1)), label_smoothing=0.1)
        lo.backward()
        lt.backward()
        if clip is not None:
            no = clip_grad_norm_(ours.parameters(), clip)
            nt = torch.nn.utils.clip_grad_norm_(theirs.parameters(), clip)
            assert _rel(no.item(), nt.item()) < 1e-10
        o_opt.step()
        t_opt.step()
        o_losses.append(lo.item())
        t_losses.append(lt.item())
        assert _rel(o_losses[-1], t_losses[-1]) < 1e-8, (step, o_losses[-1], t_losses[-1])
    assert o_losses[-1] < o_losses[0]
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), tp[name].detach().numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)


def test_sparse_embedding_with_sgd_and_sparse_adam_matches_torch():
    ours, theirs = _pair(sparse=True)
    emb_o, emb_t = [ours.emb.weight], [theirs.emb.weight]
    rest_o = [p for n, p in ours.named_parameters() if not n.startswith("emb.")]
    rest_t = [p for n, p in theirs.named_parameters() if not n.startswith("emb.")]
    o_opts = [optim.SparseAdam(emb_o, lr=2e-2), optim.SGD(rest_o, lr=0.1)]
    t_opts = [torch.optim.SparseAdam(emb_t, lr=2e-2), torch.optim.SGD(rest_t, lr=0.1)]
    for step in range(10):
        idx, tgt = _data(step)
        for o in o_opts + t_opts:
            o.zero_grad()
        lo = F.cross_entropy(ours(tl.tensor(idx)).reshape(B * T, C), tl.tensor(tgt.reshape(-1)))
        lt = torch.nn.functional.cross_entropy(theirs(torch.tensor(idx)).reshape(B * T, C),
                                               torch.tensor(tgt.reshape(-1)))
        lo.backward()
        lt.backward()
        assert getattr(ours.emb.weight.grad, "is_sparse", False) and theirs.emb.weight.grad.is_sparse
        for o in o_opts + t_opts:
            o.step()
        assert _rel(lo.item(), lt.item()) < 1e-8, step
    np.testing.assert_allclose(ours.emb.weight.detach().numpy(), theirs.emb.weight.detach().numpy(), rtol=1e-8,
                               atol=1e-10)
