"""Attention and the GPT against PyTorch on the same weights, forward and gradients, float64."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_lite as tg  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite.ops.fused import layer_norm, masked_softmax  # noqa: E402
from models.attention import MultiHeadAttention, SelfAttentionHead, attention  # noqa: E402
from models.gpt import GPT, GPTConfig  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-12)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def f64():
    old = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    yield
    tg.set_default_dtype(old)


def _pair(rng, *shape):
    a = rng.normal(size=shape)
    return Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _close(ours, theirs, **kw):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), **{**TOL, **kw})


@pytest.mark.parametrize("causal", [False, True])
def test_attention_vs_torch_sdpa(causal):
    rng = np.random.default_rng(0)
    (q, tq), (k, tk), (v, tv) = _pair(rng, 2, 3, 5, 4), _pair(rng, 2, 3, 5, 4), _pair(rng, 2, 3, 5, 6)
    out, w = attention(q, k, v, causal=causal)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    _close(out, ref)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in ((q, tq), (k, tk), (v, tv)):
        _close(a.grad, b.grad)


def test_attention_padding_mask_vs_torch_sdpa():
    rng = np.random.default_rng(1)
    (q, tq), (k, tk), (v, tv) = _pair(rng, 2, 2, 4, 3), _pair(rng, 2, 2, 6, 3), _pair(rng, 2, 2, 6, 3)
    pad = np.array([[False] * 4 + [True] * 2, [False] * 5 + [True]])
    out, w = attention(q, k, v, padding_mask=pad)
    # torch's bool attn_mask means "may attend": the complement of our "hide"
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(~pad)[:, None, None, :])
    _close(out, ref)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in ((q, tq), (k, tk), (v, tv)):
        _close(a.grad, b.grad)
    assert (w.detach().numpy()[0, :, :, 4:] == 0).all()


def _torch_mha(ours):
    E, H = ours.embed_dim, ours.num_heads
    m = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        m.in_proj_weight.copy_(torch.tensor(np.concatenate([ours.q_proj.weight.detach().numpy(),
                                                            ours.k_proj.weight.detach().numpy(),
                                                            ours.v_proj.weight.detach().numpy()])))
        m.in_proj_bias.copy_(torch.tensor(np.concatenate([ours.q_proj.bias.detach().numpy(),
                                                          ours.k_proj.bias.detach().numpy(),
                                                          ours.v_proj.bias.detach().numpy()])))
        m.out_proj.weight.copy_(torch.tensor(ours.out_proj.weight.detach().numpy()))
        m.out_proj.bias.copy_(torch.tensor(ours.out_proj.bias.detach().numpy()))
    return m


@pytest.mark.parametrize("mode", ["self", "causal", "padding", "cross"])
def test_multi_head_attention_vs_torch(mode):
    rng = np.random.default_rng(2)
    tg.manual_seed(2)
    ours = MultiHeadAttention(12, 3)
    theirs = _torch_mha(ours)
    (x, tx) = _pair(rng, 2, 5, 12)
    kw, tkw = {}, {}
    key = tkey = None
    if mode == "causal":
        kw["causal"] = True
        tkw["attn_mask"] = torch.ones(5, 5, dtype=torch.bool).triu(1)   # True = not allowed, as ours
    if mode == "padding":
        pad = np.array([[False] * 3 + [True] * 2, [False] * 5])
        kw["key_padding_mask"], tkw["key_padding_mask"] = pad, torch.tensor(pad)
    if mode == "cross":
        key, tkey = _pair(rng, 2, 7, 12)
    out, w = ours(x, key, key, **kw)
    src = tx if tkey is None else tkey
    ref, tw = theirs(tx, src, src, need_weights=True, average_attn_weights=False, **tkw)
    _close(out, ref)
    _close(w, tw)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    _close(x.grad, tx.grad)
    if key is not None:
        _close(key.grad, tkey.grad)
    E = 12
    wq, wk, wv = theirs.in_proj_weight.grad[:E], theirs.in_proj_weight.grad[E:2 * E], theirs.in_proj_weight.grad[2 * E:]
    for lin, tgrad in ((ours.q_proj, wq), (ours.k_proj, wk), (ours.v_proj, wv)):
        _close(lin.weight.grad, tgrad)
    _close(ours.out_proj.weight.grad, theirs.out_proj.weight.grad)
    _close(ours.v_proj.bias.grad, theirs.in_proj_bias.grad[2 * E:])


def test_single_head_vs_torch_formula():
    rng = np.random.default_rng(3)
    head = SelfAttentionHead(6, 4, causal=True)
    x, tx = _pair(rng, 2, 5, 6)
    Wq, Wk, Wv = (torch.tensor(lin.weight.detach().numpy(), requires_grad=True) for lin in (head.W_q, head.W_k, head.W_v))
    out, w = head(x)
    ref = torch.nn.functional.scaled_dot_product_attention(tx @ Wq.T, tx @ Wk.T, tx @ Wv.T, is_causal=True)
    _close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    _close(x.grad, tx.grad)
    _close(head.W_q.weight.grad, Wq.grad)


def test_fused_layer_norm_and_masked_softmax_vs_torch():
    rng = np.random.default_rng(4)
    (x, tx), (w, tw), (b, tb) = _pair(rng, 3, 4, 8), _pair(rng, 8), _pair(rng, 8)
    out = layer_norm(x, w, b)
    ref = torch.nn.functional.layer_norm(tx, (8,), tw, tb)
    _close(out, ref)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    for a, t in ((x, tx), (w, tw), (b, tb)):
        _close(a.grad, t.grad)
    (s, ts) = _pair(rng, 2, 3, 4, 4)
    hide = np.triu(np.ones((4, 4), bool), 1)
    out = masked_softmax(s, 0.25, hide)
    ref = (ts * 0.25).masked_fill(torch.tensor(hide), float("-inf")).softmax(-1)
    _close(out, ref)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    _close(s.grad, ts.grad)


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpt", ROOT / "bench" / "bench_gpt.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("fused", [False, True])
def test_whole_gpt_vs_torch_twin(fused):
    """The full model (embeddings, 2 pre-LN blocks, tied head, loss with ignored targets) against the
    PyTorch twin used by bench/bench_gpt.py: logits, loss and every parameter's gradient."""
    bench = _bench()
    tg.manual_seed(0)
    cfg = dict(block_size=8, n_layer=2, n_head=2, n_embd=16)
    ours = GPT(GPTConfig(vocab_size=13, **cfg))
    theirs = bench.torch_gpt_class()(13, fused=fused, **cfg).double()
    bench.copy_weights_to_torch(ours, theirs)
    rng = np.random.default_rng(5)
    idx, tgt = rng.integers(0, 13, (3, 8)), rng.integers(0, 13, (3, 8))
    tgt[0, :3] = -1
    logits, loss = ours(idx, tgt)
    tlogits, tloss = theirs(torch.tensor(idx), torch.tensor(tgt))
    _close(logits, tlogits, atol=1e-11)
    assert abs(loss.item() - tloss.item()) < 1e-12
    loss.backward()
    tloss.backward()
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, atol=1e-11)


@pytest.mark.parametrize("causal", [False, True])
def test_grouped_query_attention_vs_torch(causal):
    # enable_gqa: 6 query heads share 2 key/value heads (each serves 3 consecutive query heads)
    rng = np.random.default_rng(3)
    (q, tq), (k, tk), (v, tv) = _pair(rng, 2, 6, 5, 4), _pair(rng, 2, 2, 5, 4), _pair(rng, 2, 2, 5, 3)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal, enable_gqa=True)
    _close(out, ref)
    g = rng.normal(size=out.shape)
    out.backward(Tensor(g))
    ref.backward(torch.tensor(g))
    for a, b in ((q, tq), (k, tk), (v, tv)):
        _close(a.grad, b.grad)
    with pytest.raises(ValueError, match=r"enable_gqa needs the query heads \(6\) to be a multiple of the key/value "
                                         r"heads \(4\)"):
        F.scaled_dot_product_attention(q, Tensor(rng.normal(size=(2, 4, 5, 4))), Tensor(rng.normal(size=(2, 4, 5, 3))),
                                       enable_gqa=True)
