"""Attention (models/attention.py) and the fused primitives it runs on (tinygrad_lite/ops/fused.py):
gradchecks of layer_norm, layer_norm_nobias and masked_softmax; masks; positional encodings."""
import math

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor
from tinygrad_lite.nn import functional as F
from tinygrad_lite.ops.fused import layer_norm, masked_softmax
from tinygrad_lite.ops import jit
from models.attention import (LearnedPositionalEmbedding, MultiHeadAttention, SelfAttentionHead,
                              SinusoidalPositionalEncoding, attention, causal_mask, sinusoidal_encoding)


@pytest.fixture
def f64():
    old = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    yield
    tg.set_default_dtype(old)


def _t(rng, *shape, grad=True):
    return Tensor(rng.normal(size=shape), dtype=tg.float64, requires_grad=grad)


# ------------------------------------------------------------------ fused primitives: gradcheck
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 6)])
def test_layer_norm_gradcheck(shape):
    rng = np.random.default_rng(0)
    x, w, b = _t(rng, *shape), _t(rng, shape[-1]), _t(rng, shape[-1])
    assert tg.gradcheck(lambda x, w, b: layer_norm(x, w, b), (x, w, b))
    assert tg.gradgradcheck(lambda x, w, b: layer_norm(x, w, b), (x, w, b))


def test_layer_norm_nobias_gradcheck():
    rng = np.random.default_rng(1)
    x, w = _t(rng, 3, 5), _t(rng, 5)
    assert tg.gradcheck(lambda x, w: layer_norm(x, w), (x, w))
    assert tg.gradgradcheck(lambda x, w: layer_norm(x, w), (x, w))


def test_layer_norm_matches_composition():
    rng = np.random.default_rng(2)
    x, w, b = _t(rng, 4, 7), _t(rng, 7), _t(rng, 7)
    mu = x.mean(-1, keepdim=True)
    ref = (x - mu) / ((x - mu).square().mean(-1, keepdim=True) + 1e-5).sqrt() * w + b
    out = layer_norm(x, w, b)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    g = rng.normal(size=(4, 7))
    gs = tg.autograd.grad(out, [x, w, b], Tensor(g))
    gr = tg.autograd.grad(ref, [x, w, b], Tensor(g))
    for a, r in zip(gs, gr):
        np.testing.assert_allclose(a.numpy(), r.numpy(), atol=1e-10)


def test_layer_norm_float32_and_no_grad_keeps_nothing():
    x = Tensor(np.random.default_rng(3).normal(size=(2, 8)).astype(np.float32))
    w, b = tg.ones(8), tg.zeros(8)
    out = layer_norm(x, w, b)
    assert out.dtype == np.float32 and out._op is None
    np.testing.assert_allclose(out.numpy().mean(-1), 0, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 0.37])
def test_masked_softmax_gradcheck(scale):
    rng = np.random.default_rng(4)
    s = _t(rng, 2, 3, 4, 4)
    hide = causal_mask(4)
    assert tg.gradcheck(lambda s: masked_softmax(s, scale, hide), (s,))
    assert tg.gradgradcheck(lambda s: masked_softmax(s, scale, hide), (s,))
    assert tg.gradcheck(lambda s: masked_softmax(s, scale), (s,))


def test_masked_softmax_matches_composition_and_hides():
    rng = np.random.default_rng(5)
    s = _t(rng, 2, 4, 5)
    hide = rng.random((2, 1, 5)) < 0.4
    hide[..., 0] = False                                     # keep one key visible in every row
    ref = (s * 0.5).masked_fill(Tensor(hide), float("-inf")).softmax(-1)
    out = masked_softmax(s, 0.5, hide)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-14)
    assert (out.detach().numpy()[np.broadcast_to(hide, out.shape)] == 0).all()
    g = rng.normal(size=s.shape)
    np.testing.assert_allclose(tg.autograd.grad(out, s, Tensor(g))[0].numpy(),
                               tg.autograd.grad(ref, s, Tensor(g))[0].numpy(), atol=1e-12)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_softmax_compiled_path_equals_the_numpy_path(dtype):
    """The row with numba's kernels (ops/reduce.py: float32 forward, both dtypes' rule) against its numpy
    spelling, a fully hidden row (NaN, as PyTorch) and a NaN input included."""
    from unittest import mock
    from tinygrad_lite.ops import fused, reduce
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((3, 5, 33)) * 4).astype(dtype)
    x[0, 1, 2] = np.nan
    hide = rng.random((3, 1, 33)) < 0.3
    hide[0, 0, 2] = False                                    # (the NaN stays visible)
    hide[1] = True
    g = rng.standard_normal(x.shape).astype(dtype)
    res = {}
    for bound in (1, 1 << 62):  # the compiled path, then the numpy one
        spy = mock.patch.object(fused, "_rows_jit_dx", wraps=fused._rows_jit_dx)
        with mock.patch.object(reduce, "_ROWS_JIT_MIN", bound), spy as rule, np.errstate(invalid="ignore"):
            s = fused.MASKED_SOFTMAX.fwd((0.125, hide), x)
            res[bound] = (s, fused._msm_dx(g, s, (0.125, hide), x))
        assert rule.called == (bound == 1)
    for got, want in zip(res[1], res[1 << 62]):
        assert got.dtype == dtype
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert np.isnan(got[1]).all() and np.isnan(got[0, 1]).all() and not np.isnan(got[2]).any()
        np.testing.assert_allclose(got, want, rtol=2e-6 if dtype == np.float32 else 1e-14, atol=1e-7)


def test_masked_softmax_bad_mask():
    s = Tensor(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="does not broadcast"):
        masked_softmax(s, 1.0, np.zeros((4, 3), bool))
    with pytest.raises(TypeError, match="bool"):
        masked_softmax(s, 1.0, np.zeros((3, 3)))


# ------------------------------------------------------------------ attention as taught
def test_single_head_is_the_textbook_formula(f64):
    rng = np.random.default_rng(6)
    head = SelfAttentionHead(8, 4, causal=True)
    x = _t(rng, 2, 5, 8)
    out, w = head(x)
    X, Wq, Wk, Wv = x.detach().numpy(), head.W_q.weight.detach().numpy(), head.W_k.weight.detach().numpy(), \
        head.W_v.weight.detach().numpy()
    Q, K, V = X @ Wq.T, X @ Wk.T, X @ Wv.T
    S = Q @ K.transpose(0, 2, 1) / math.sqrt(4)
    S[:, np.triu(np.ones((5, 5), bool), 1)] = -np.inf
    A = np.exp(S - S.max(-1, keepdims=True))
    A /= A.sum(-1, keepdims=True)
    np.testing.assert_allclose(w.detach().numpy(), A, atol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), A @ V, atol=1e-12)
    assert out.shape == (2, 5, 4) and w.shape == (2, 5, 5)
    np.testing.assert_allclose(w.detach().numpy().sum(-1), 1, atol=1e-12)
    assert (w.detach().numpy()[:, np.triu(np.ones((5, 5), bool), 1)] == 0).all()


def test_padding_mask_gives_padded_keys_no_weight(f64):
    rng = np.random.default_rng(7)
    head = SelfAttentionHead(6, 6)
    x = _t(rng, 2, 4, 6)
    pad = np.array([[False, False, True, True], [False, False, False, True]])
    out, w = head(x, padding_mask=pad)
    wn = w.detach().numpy()
    assert (wn[0, :, 2:] == 0).all() and (wn[1, :, 3] == 0).all()
    np.testing.assert_allclose(wn.sum(-1), 1, atol=1e-12)
    # the padded positions' content does not matter to the real (unpadded) positions
    x2 = x.detach().numpy().copy()
    x2[0, 2:] = 100.0
    out2, _ = head(Tensor(x2), padding_mask=pad)
    np.testing.assert_allclose(out2.detach().numpy()[0, :2], out.detach().numpy()[0, :2], atol=1e-12)


def test_attention_matches_F_sdpa_forward_and_grad(f64):
    rng = np.random.default_rng(8)
    q, k, v = _t(rng, 2, 3, 5, 4), _t(rng, 2, 3, 5, 4), _t(rng, 2, 3, 5, 4)
    for causal in (False, True):
        out, _ = attention(q, k, v, causal=causal)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
        g = Tensor(rng.normal(size=out.shape))
        for a, r in zip(tg.autograd.grad(out, [q, k, v], g), tg.autograd.grad(ref, [q, k, v], g)):
            np.testing.assert_allclose(a.numpy(), r.numpy(), atol=1e-12)


def test_attention_gradcheck(f64):
    rng = np.random.default_rng(9)
    q, k, v = _t(rng, 1, 2, 3, 2), _t(rng, 1, 2, 3, 2), _t(rng, 1, 2, 3, 2)
    assert tg.gradcheck(lambda q, k, v: attention(q, k, v, causal=True)[0], (q, k, v))


def test_multi_head_equals_heads_run_separately_then_concatenated(f64):
    """The split-into-heads reshape really gives each head its own W_q, W_k, W_v slice."""
    rng = np.random.default_rng(10)
    mha = MultiHeadAttention(8, 2)
    x = _t(rng, 2, 4, 8, grad=False)
    out, w = mha(x, causal=True)
    assert out.shape == (2, 4, 8) and w.shape == (2, 2, 4, 4)
    heads = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        proj = lambda lin: x @ lin.weight[sl].transpose(0, 1) + lin.bias[sl]  # noqa: E731
        heads.append(attention(proj(mha.q_proj), proj(mha.k_proj), proj(mha.v_proj), causal=True)[0])
    ref = mha.out_proj(tg.cat(heads, dim=-1))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)


def test_causal_mha_has_no_future_leakage(f64):
    rng = np.random.default_rng(11)
    mha = MultiHeadAttention(8, 4)
    x = rng.normal(size=(1, 6, 8))
    base = mha(Tensor(x), causal=True)[0].detach().numpy()
    for t in range(6):
        x2 = x.copy()
        x2[0, t] += rng.normal(size=8) * 3
        out = mha(Tensor(x2), causal=True)[0].detach().numpy()
        np.testing.assert_array_equal(out[0, :t], base[0, :t])    # earlier positions: bit-identical
        assert np.abs(out[0, t:] - base[0, t:]).max() > 0


def test_mha_bad_width():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="embed_dim"):
        mha(tg.zeros(1, 3, 6))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)


# ------------------------------------------------------------------ positions
def test_sinusoidal_encoding_formula():
    pe = sinusoidal_encoding(10, 6, dtype=np.float64).numpy()
    p, i = 7, 2
    assert pe.shape == (10, 6)
    assert math.isclose(pe[p, 2 * i], math.sin(p / 10000 ** (2 * i / 6)), abs_tol=1e-12)
    assert math.isclose(pe[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 6)), abs_tol=1e-12)
    assert sinusoidal_encoding(4, 5).shape == (4, 5)                 # odd widths work too


def test_positional_modules(f64):
    x = tg.zeros(2, 5, 6, requires_grad=True)
    sin = SinusoidalPositionalEncoding(6, max_len=16)
    np.testing.assert_allclose(sin(x).detach().numpy()[1], sinusoidal_encoding(5, 6).numpy())
    assert list(sin.parameters()) == []
    learned = LearnedPositionalEmbedding(16, 6)
    out = learned(x)
    out.sum().backward()
    g = learned.emb.weight.grad.numpy()
    assert (g[:5] == 2).all() and (g[5:] == 0).all()                 # rows 0..4 used once per batch row
    with pytest.raises(ValueError, match="max_len"):
        sin(tg.zeros(1, 17, 6))
    with pytest.raises(ValueError, match="max_len"):
        learned(tg.zeros(1, 17, 6))
