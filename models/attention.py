"""Attention, spelled out the way it is taught, plus positional encodings.

Shapes: B batch, T query positions, S key positions (S = T for self-attention), C model width,
H heads, D = C // H width of one head.

* `attention(q, k, v, ...)`: scaled dot-product attention, softmax(Q Kᵀ / √D + mask) V,
  returning the output *and* the attention weights (so they can be shown).
* `SelfAttentionHead`: one head with its own W_q, W_k, W_v (Q = X W_q, K = X W_k, V = X W_v).
* `MultiHeadAttention`: H heads in parallel, concatenated, then an output projection; the
  same computation as `torch.nn.MultiheadAttention` (checked in tests/torch/).
* `sinusoidal_encoding` / `SinusoidalPositionalEncoding` (fixed, "Attention is all you need")
  and `LearnedPositionalEmbedding` (a trained table, as GPT-2 uses).

Everything is composed from differentiable Tensor ops: no gradient is written by hand.
"""
import math

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn
from tinygrad_lite.ops.fused import masked_softmax

_CAUSAL = {}


def causal_mask(T, S=None):
    """Bool array (T, S): True where query i must NOT see key j (j > i, the future). Cached."""
    S = T if S is None else S
    m = _CAUSAL.get((T, S))
    if m is None:
        m = _CAUSAL[(T, S)] = ~np.tri(T, S, 0, dtype=bool)
        m.flags.writeable = False
    return m


def attention(q, k, v, causal=False, padding_mask=None, attn_mask=None):
    """Scaled dot-product attention that also returns the weights.

    q: (..., T, D), k: (..., S, D), v: (..., S, Dv).
    causal: hide future keys (key j > query i) by setting their scores to -inf before softmax.
    padding_mask: bool (B, S), True marks padding keys that no query may attend to.
    attn_mask: bool (T, S) or broadcastable, True = hide (the same convention as padding_mask).
    Returns (out (..., T, Dv), weights (..., T, S)); each row of weights sums to 1.
    A query whose keys are all hidden has no defined softmax (its row is NaN, as in PyTorch).
    """
    D = q.shape[-1]
    scores = q @ k.transpose(-2, -1)                                  # (..., T, S): how well query i matches key j
    hide = None
    if causal:
        hide = causal_mask(q.shape[-2], k.shape[-2])
    if attn_mask is not None:
        am = attn_mask._data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        hide = am if hide is None else (hide | am)
    if padding_mask is not None:
        pm = padding_mask._data if isinstance(padding_mask, Tensor) else np.asarray(padding_mask)
        pm = pm.reshape((pm.shape[0],) + (1,) * (scores.ndim - 2) + (pm.shape[-1],))  # (B, 1.., 1, S)
        hide = pm if hide is None else (hide | pm)
    # softmax(scores / sqrt(D)) with hidden keys set to -inf first (exp(-inf) = 0), as one fused op;
    # the same as (scores / math.sqrt(D)).masked_fill(hide, -inf).softmax(-1), which the tests check
    weights = masked_softmax(scores, 1.0 / math.sqrt(D), hide)      # each query's distribution over keys
    return weights @ v, weights                                       # a weighted average of the values


class SelfAttentionHead(nn.Module):
    """One head of self-attention: Q = X W_q, K = X W_k, V = X W_v, softmax(Q Kᵀ/√d) V.

    SelfAttentionHead(n_embd, head_size, causal=False); forward(x (B, T, C), padding_mask=None
    (B, T) bool, True = pad) -> (out (B, T, head_size), weights (B, T, T)).
    """

    def __init__(self, n_embd, head_size, causal=False):
        super().__init__()
        # the three projections have no bias, as in the textbook formulation
        self.W_q = nn.Linear(n_embd, head_size, bias=False)
        self.W_k = nn.Linear(n_embd, head_size, bias=False)
        self.W_v = nn.Linear(n_embd, head_size, bias=False)
        self.causal = causal

    def forward(self, x, padding_mask=None):
        Q, K, V = self.W_q(x), self.W_k(x), self.W_v(x)               # (B, T, d) each
        return attention(Q, K, V, causal=self.causal, padding_mask=padding_mask)


class MultiHeadAttention(nn.Module):
    """H heads of attention in parallel, concatenated and mixed by an output projection.

    MultiHeadAttention(embed_dim, num_heads, bias=True, dropout=0.0);
    forward(query (B, T, C), key=None (B, S, C), value=None (B, S, C), causal=False,
            key_padding_mask=None (B, S) bool True = pad, attn_mask=None (T, S) bool True = hide)
    -> (out (B, T, C), weights (B, H, T, S)).  key/value default to query (self-attention).

    The heads' W_q are stored side by side in one Linear `q_proj` (C -> H*D) and split afterwards:
    the same numbers as H separate (C -> D) projections, computed with one matrix product.
    """

    def __init__(self, embed_dim, num_heads, bias=True, dropout=0.0):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.attn_drop = nn.Dropout(dropout)

    def _heads(self, x):
        """(B, T, H*D) -> (B, H, T, D): give each head its own slice of the features."""
        B, T, _ = x.shape
        return x.reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key=None, value=None, causal=False, key_padding_mask=None, attn_mask=None):
        key = query if key is None else key
        value = key if value is None else value
        B, T, C = query.shape
        if C != self.embed_dim:
            raise ValueError(f"MultiHeadAttention: input has {C} features, expected embed_dim={self.embed_dim}")
        q, k, v = self._heads(self.q_proj(query)), self._heads(self.k_proj(key)), self._heads(self.v_proj(value))
        out, weights = attention(q, k, v, causal=causal, padding_mask=key_padding_mask, attn_mask=attn_mask)
        if self.attn_drop.p > 0 and self.training:
            out = self.attn_drop(weights) @ v                          # dropout on the weights, as PyTorch does
        out = out.transpose(1, 2).reshape(B, T, C)                     # concatenate the heads
        return self.out_proj(out), weights


def sinusoidal_encoding(num_positions, dim, base=10000.0, dtype=None):
    """Fixed position codes (Vaswani et al. 2017), a Tensor (num_positions, dim):
    PE[p, 2i] = sin(p / base^(2i/dim)), PE[p, 2i+1] = cos(p / base^(2i/dim)).
    Each dimension pair is a clock at its own frequency, so relative offsets are linear maps."""
    pos = np.arange(num_positions, dtype=np.float64)[:, None]
    freq = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)    # (ceil(dim/2),)
    pe = np.zeros((num_positions, dim))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq[: dim // 2])
    return Tensor._leaf(pe.astype(dtype or tg.get_default_dtype()))


class SinusoidalPositionalEncoding(nn.Module):
    """Adds fixed sinusoidal position codes: forward(x (B, T, C)) -> x + PE[:T] (B, T, C).
    Nothing is learned; inputs longer than max_len raise a ValueError."""

    def __init__(self, dim, max_len=4096):
        super().__init__()
        self.dim, self.max_len = dim, max_len
        self._pe = sinusoidal_encoding(max_len, dim)

    def forward(self, x):
        T = x.shape[-2]
        if T > self.max_len:
            raise ValueError(f"SinusoidalPositionalEncoding: sequence of length {T} is longer than max_len={self.max_len}")
        pe = self._pe if self._pe.dtype == x.dtype else self._pe.to(x.dtype)
        return x + pe[:T]


class LearnedPositionalEmbedding(nn.Module):
    """A trained vector per position (GPT's wpe): forward(x (B, T, C)) -> x + E[0..T-1]."""

    def __init__(self, max_len, dim):
        super().__init__()
        self.max_len = max_len
        self.emb = nn.Embedding(max_len, dim)

    def forward(self, x):
        T = x.shape[-2]
        if T > self.max_len:
            raise ValueError(f"LearnedPositionalEmbedding: sequence of length {T} is longer than max_len={self.max_len}")
        return x + self.emb(tg.arange(T))
