"""TransformerEncoderLayer/Encoder, TransformerDecoderLayer/Decoder and Transformer against PyTorch in
float64: a PyTorch state_dict loads into ours (same names and shapes), and outputs and every gradient agree,
for batch_first / sequence-first, post- and pre-norm, relu / gelu / a callable, masks and padding masks."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn as nn  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402

ATOL, RTOL = 1e-10, 1e-9
E, H = 8, 2


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def close(a, b, what=""):
    a = a.detach().numpy() if isinstance(a, Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.shape == b.shape, (what, a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL, err_msg=what)


def twins(make_ours, make_theirs):
    torch.manual_seed(0)
    theirs = make_theirs().double().eval()  # eval: dropout off (the weights' gradients still flow)
    ours = make_ours().double().eval()
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    res = ours.load_state_dict({k: Tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys
    return ours, theirs


def run_both(ours, theirs, inputs, kw_ours=None, kw_theirs=None, seed=3):
    xa = [Tensor(x, requires_grad=True) for x in inputs]
    xb = [torch.tensor(x, requires_grad=True) for x in inputs]
    out_a, out_b = ours(*xa, **(kw_ours or {})), theirs(*xb, **(kw_theirs or {}))
    close(out_a, out_b, "output")
    w = rnd(*out_b.shape, seed=seed)
    (out_a * Tensor(w)).sum().backward()
    (out_b * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(xa, xb)):
        close(a.grad, b.grad, f"grad of input {i}")
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, q.grad, n)


def masks(S, N, lib, seed=0):
    """A causal float mask (S, S) and a key padding mask (N, S) hiding the end of batch row 0."""
    causal = np.triu(np.full((S, S), -np.inf), 1)
    kpm = np.zeros((N, S), bool)
    kpm[0, S - 2:] = True
    wrap = Tensor if lib == "ours" else torch.tensor
    return wrap(causal), wrap(kpm)


LAYER_CASES = [dict(), dict(batch_first=True), dict(norm_first=True), dict(activation="gelu", batch_first=True),
               dict(norm_first=True, batch_first=True, bias=False)]


@pytest.mark.parametrize("kw", LAYER_CASES, ids=[str(k) for k in LAYER_CASES])
def test_encoder_layer(kw):
    ours, theirs = twins(lambda: nn.TransformerEncoderLayer(E, H, 16, dropout=0.1, **kw),
                         lambda: torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.1, **kw))
    S, N = 5, 3
    x = rnd(N, S, E) if kw.get("batch_first") else rnd(S, N, E)
    run_both(ours, theirs, [x])
    ma, ka = masks(S, N, "ours")
    mb, kb = masks(S, N, "torch")
    for p in list(ours.parameters()) + list(theirs.parameters()):
        p.grad = None
    run_both(ours, theirs, [x], dict(src_mask=ma, src_key_padding_mask=ka), dict(src_mask=mb, src_key_padding_mask=kb))


@pytest.mark.parametrize("kw", LAYER_CASES, ids=[str(k) for k in LAYER_CASES])
def test_decoder_layer(kw):
    ours, theirs = twins(lambda: nn.TransformerDecoderLayer(E, H, 16, dropout=0.1, **kw),
                         lambda: torch.nn.TransformerDecoderLayer(E, H, 16, dropout=0.1, **kw))
    T, S, N = 4, 5, 3
    bf = kw.get("batch_first")
    tgt, mem = (rnd(N, T, E), rnd(N, S, E, seed=1)) if bf else (rnd(T, N, E), rnd(S, N, E, seed=1))
    ma, _ = masks(T, N, "ours")
    mb, _ = masks(T, N, "torch")
    _, ka = masks(S, N, "ours")
    _, kb = masks(S, N, "torch")
    run_both(ours, theirs, [tgt, mem], dict(tgt_mask=ma, memory_key_padding_mask=ka),
             dict(tgt_mask=mb, memory_key_padding_mask=kb))


def test_encoder_and_decoder_stacks_with_final_norm():
    S, N = 6, 2
    ours, theirs = twins(
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, 16), 2, norm=nn.LayerNorm(E)),
        lambda: torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, 16), 2, norm=torch.nn.LayerNorm(E),
                                            enable_nested_tensor=False))
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight  # deep copies
    ma, ka = masks(S, N, "ours")
    mb, kb = masks(S, N, "torch")
    run_both(ours, theirs, [rnd(S, N, E)], dict(mask=ma, src_key_padding_mask=ka),
             dict(mask=mb, src_key_padding_mask=kb))
    ours, theirs = twins(lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, 16, batch_first=True), 2),
                         lambda: torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, 16,
                                                                                              batch_first=True), 2))
    run_both(ours, theirs, [rnd(N, 4, E), rnd(N, S, E, seed=2)])


@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True, norm_first=True), dict(activation="gelu")])
def test_transformer(kw):
    ours, theirs = twins(lambda: nn.Transformer(E, H, 1, 2, 16, **kw), lambda: torch.nn.Transformer(E, H, 1, 2, 16, **kw))
    S, T, N = 5, 4, 3
    bf = kw.get("batch_first")
    src, tgt = (rnd(N, S, E), rnd(N, T, E, seed=1)) if bf else (rnd(S, N, E), rnd(T, N, E, seed=1))
    tm_a = nn.Transformer.generate_square_subsequent_mask(T, dtype=tl.float64)
    tm_b = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    close(tm_a, tm_b, "generate_square_subsequent_mask")
    _, ka = masks(S, N, "ours")
    _, kb = masks(S, N, "torch")
    run_both(ours, theirs, [src, tgt], dict(tgt_mask=tm_a, src_key_padding_mask=ka, memory_key_padding_mask=ka),
             dict(tgt_mask=tm_b, src_key_padding_mask=kb, memory_key_padding_mask=kb))


def test_transformer_init_is_xavier_and_unbatched_works():
    tl.manual_seed(0)
    m = nn.Transformer(16, 4, 1, 1, 32, dropout=0.0)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6.0 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    out = m(Tensor(rnd(5, 16).astype(np.float32)), Tensor(rnd(3, 16, seed=1).astype(np.float32)))
    assert out.shape == (3, 16)


def test_training_mode_dropout_and_callable_activation():
    tl.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 16, dropout=0.5, activation=F.gelu)
    x = Tensor(rnd(4, 2, E))
    a, b = layer(x).detach().numpy(), layer(x).detach().numpy()
    assert not np.allclose(a, b)
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_errors():
    with pytest.raises(ValueError, match="d_model=8"):
        nn.TransformerEncoderLayer(E, H)(Tensor(rnd(4, 2, 6)))
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        nn.Transformer(E, H, 1, 1, 16)(Tensor(rnd(4, 2, E)), Tensor(rnd(4, 3, E)))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
