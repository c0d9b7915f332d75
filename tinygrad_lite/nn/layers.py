"""Layers with PyTorch's names, parameters, default initialisations and reprs.

Shapes: N batch, L target length, S source length, E embedding dim, `*` any leading dims.
"""
import math

import numpy as np

from ..device import check_device
from ..dtypes import DEFAULT, to_dtype
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Embedding", "EmbeddingBag", "LayerNorm", "Dropout", "ReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "Identity",
           "Softmax", "LogSoftmax", "MultiheadAttention", "CrossEntropyLoss", "MSELoss"]


def _empty(shape, dtype):
    return Parameter(Tensor._leaf(np.zeros(shape, to_dtype(dtype) or DEFAULT.dtype)))


class Identity(Module):
    """Returns its input unchanged (any extra constructor arguments are ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        """input (any shape) -> the same tensor."""
        return input


class Linear(Module):
    """y = x W^T + b. Input (*, in_features) -> output (*, out_features).

    weight (out_features, in_features) and bias (out_features,) start as PyTorch's:
    U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming_uniform_ with a=sqrt(5))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "Linear")  # the cpu (or None); 'cuda' fails as in PyTorch without CUDA
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = _empty((self.out_features, self.in_features), dtype)
        if bias:
            self.bias = _empty((self.out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw weight and bias with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        """input (*, in_features) -> (*, out_features)."""
        p = self._parameters  # (self.weight goes through Module.__getattr__: ~0.5 us each, on every call)
        w = p["weight"] if "weight" in p else self.weight  # (not a parameter under nn.utils.weight_norm)
        b = p["bias"] if "bias" in p else self.bias
        try:
            return F.linear(input, w, b)  # checks shapes and dtypes itself
        except (TypeError, ValueError):
            self._check_input(input)  # say which module got what (the hot path skips this)
            raise

    def _check_input(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(f"{type(self).__name__}: expected input with last dimension {self.in_features} "
                             f"(in_features), got shape {tuple(input.shape)}")

    def extra_repr(self):
        """in_features, out_features and bias, as PyTorch prints them."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class NonDynamicallyQuantizableLinear(Linear):
    """MultiheadAttention's output projection (named as in PyTorch; a plain Linear)."""


class Embedding(Module):
    """A lookup table: integer indices (*) -> rows of weight, (*, embedding_dim).

    weight (num_embeddings, embedding_dim) starts N(0, 1) with the padding_idx row zeroed; that row
    gets no gradient. sparse=True gives weight a row-sparse gradient (tinygrad_lite.sparse), which
    the optimizers update row by row."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        check_device(device, "Embedding")  # the cpu (or None); 'cuda' fails as in PyTorch without CUDA
        if max_norm is not None or scale_grad_by_freq:
            raise NotImplementedError("Embedding: max_norm and scale_grad_by_freq are not supported")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings "
                                 f"({self.num_embeddings})")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.sparse = bool(sparse)
        if _weight is None:
            self.weight = _empty((self.num_embeddings, self.embedding_dim), dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight must have shape ({self.num_embeddings}, {self.embedding_dim}), "
                                 f"got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        """Re-draw weight from N(0, 1) and zero the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0
            self.weight._bump()

    def forward(self, input):
        """input: integer tensor (*) -> (*, embedding_dim)."""
        return F.embedding(input, self.weight, self.padding_idx, sparse=self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, sparse=False):
        """An Embedding holding a copy-free view of `embeddings` (2-D); frozen by default."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        n, d = embeddings.shape
        return cls(n, d, padding_idx=padding_idx, sparse=sparse, _weight=embeddings, _freeze=freeze)

    def extra_repr(self):
        """num_embeddings, embedding_dim and the options that differ from the defaults."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.sparse:
            s += ", sparse=True"
        return s


class EmbeddingBag(Embedding):
    """Bags of rows of a lookup table reduced to one vector each: F.embedding_bag with this module's
    weight (num_embeddings, embedding_dim), N(0, 1) with the padding_idx row zeroed, as in PyTorch.

    forward(input, offsets=None, per_sample_weights=None): input (B, N) (one bag per row) or (M,)
    with offsets (B,) -> (B, embedding_dim). mode: 'sum', 'mean' (default) or 'max'."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None,
                 device=None, dtype=None, _freeze=False):
        super().__init__(num_embeddings, embedding_dim, padding_idx=padding_idx, max_norm=max_norm,
                         norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
                         _weight=_weight, _freeze=_freeze, device=device, dtype=dtype)
        self.mode, self.include_last_offset = mode, include_last_offset

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, mode=self.mode, sparse=self.sparse,
                               per_sample_weights=per_sample_weights, include_last_offset=self.include_last_offset,
                               padding_idx=self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An EmbeddingBag holding a copy-free view of `embeddings` (2-D); frozen by default."""
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        bag = cls(*embeddings.shape, max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                  mode=mode, sparse=sparse, _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx, _freeze=freeze)
        return bag

    def extra_repr(self):
        return super().extra_repr() + f", mode={self.mode!r}"


class LayerNorm(Module):
    """Normalise over the last len(normalized_shape) dims: input (*, *normalized_shape), same shape out.
    weight starts at ones, bias at zeros (elementwise_affine=True); biased variance, as PyTorch."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "LayerNorm")  # the cpu (or None); 'cuda' fails as in PyTorch without CUDA
        self.normalized_shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
            else tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = _empty(self.normalized_shape, dtype)
            if bias:
                self.bias = _empty(self.normalized_shape, dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """weight <- 1, bias <- 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        """input (*, *normalized_shape) -> same shape."""
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected input with trailing shape {self.normalized_shape} "
                             f"(normalized_shape), got shape {tuple(input.shape)}")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        """normalized_shape, eps, elementwise_affine and bias, as PyTorch prints them."""
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    """Zero elements with probability p and scale the rest by 1/(1-p) in training mode; identity in
    eval mode. Any shape. Seeded by tinygrad_lite.manual_seed."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        """input (any shape) -> same shape (identity in eval mode)."""
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        """p and inplace."""
        return f"p={self.p}, inplace={self.inplace}"


class ReLU(Module):
    """max(x, 0). Any shape."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        """input (any shape) -> same shape."""
        return F.relu(input)

    def extra_repr(self):
        """'inplace=True' when set."""
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """x Phi(x) (approximate='none') or its tanh approximation (approximate='tanh'). Any shape."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        """input (any shape) -> same shape."""
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        """The approximation used."""
        return f"approximate={self.approximate!r}"


class Tanh(Module):
    """tanh(x). Any shape."""

    def forward(self, input):
        """input (any shape) -> same shape."""
        return input.tanh()


class Sigmoid(Module):
    """1 / (1 + exp(-x)). Any shape."""

    def forward(self, input):
        """input (any shape) -> same shape."""
        return input.sigmoid()


class SiLU(Module):
    """x sigmoid(x). Any shape."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, input):
        """input (any shape) -> same shape."""
        return F.silu(input)


class Softmax(Module):
    """softmax along `dim`. Any shape."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """input (any shape) -> same shape, normalised along dim."""
        return F.softmax(input, self.dim)

    def extra_repr(self):
        """The dim."""
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log_softmax along `dim`. Any shape."""

    def forward(self, input):
        """input (any shape) -> same shape, log-normalised along dim."""
        return F.log_softmax(input, self.dim)


class CrossEntropyLoss(Module):
    """Module form of F.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__()
        if weight is not None:
            self.register_buffer("weight", weight)
        else:
            self.weight = None
        self.ignore_index, self.reduction, self.label_smoothing = ignore_index, reduction, label_smoothing

    def forward(self, input, target):
        """input (N, C) / (N, C, d1, ...) / (C,) logits, target class indices -> loss."""
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class MSELoss(Module):
    """Module form of F.mse_loss(input, target, reduction)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        """input and target of the same shape -> loss."""
        return F.mse_loss(input, target, reduction=self.reduction)


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters and semantics (kdim = vdim = embed_dim).

    Parameters: in_proj_weight (3E, E) (xavier_uniform_), in_proj_bias (3E,) (zeros),
    out_proj (Linear E -> E, bias zeros). forward(query (N, L, E), key (N, S, E), value (N, S, E)) with
    batch_first=True (else (L, N, E)); unbatched (L, E) inputs work too. Returns (output (N, L, E),
    attention weights (N, L, S) averaged over heads, or (N, H, L, S), or None if need_weights=False).

    Masks (PyTorch's MHA convention, unlike scaled_dot_product_attention): key_padding_mask (N, S) and
    attn_mask (L, S) or (N*H, L, S) are bool with True = NOT allowed, or float (added to the scores).
    is_causal=True without attn_mask applies the causal mask (PyTorch requires attn_mask as well).
    Query rows with no allowed key give zero output and zero weights (PyTorch gives NaN)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "MultiheadAttention")  # the cpu (or None); 'cuda' fails as in PyTorch without CUDA
        if add_bias_kv or add_zero_attn or (kdim not in (None, embed_dim)) or (vdim not in (None, embed_dim)):
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim != embed_dim "
                                      "are not supported")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim = embed_dim // num_heads
        self.batch_first = batch_first
        self.kdim = self.vdim = embed_dim
        self._qkv_same_embed_dim = True
        self.in_proj_weight = _empty((3 * embed_dim, embed_dim), dtype)
        if bias:
            self.in_proj_bias = _empty((3 * embed_dim,), dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """query (N, L, E), key (N, S, E), value (N, S, E) -> (output (N, L, E), weights (N, L, S) or None)."""
        E, H, D = self.embed_dim, self.num_heads, self.head_dim
        unbatched = query.ndim == 2
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.ndim != query.ndim or t.ndim not in (2, 3) or t.shape[-1] != E:
                raise ValueError(f"MultiheadAttention: expected {name} of shape (N, L, {E}) (or unbatched (L, {E})), "
                                 f"got {tuple(t.shape)}")
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = _arr(key_padding_mask)[None]
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        N, L, S = query.shape[0], query.shape[1], key.shape[1]
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"MultiheadAttention: key {tuple(key.shape)} and value {tuple(value.shape)} must agree "
                             "in batch and sequence dims")
        w, b = self.in_proj_weight, self.in_proj_bias
        if query is key and key is value:
            qkv = F.linear(query, w, b)
            q, k, v = qkv[..., :E], qkv[..., E:2 * E], qkv[..., 2 * E:]
        else:
            q = F.linear(query, w[:E], None if b is None else b[:E])
            k = F.linear(key, w[E:2 * E], None if b is None else b[E:2 * E])
            v = F.linear(value, w[2 * E:], None if b is None else b[2 * E:])
        q = q.reshape(N, L, H, D).transpose(1, 2)
        k = k.reshape(N, S, H, D).transpose(1, 2)
        v = v.reshape(N, S, H, D).transpose(1, 2)

        allowed, add = None, None
        if key_padding_mask is not None:
            kpm = _arr(key_padding_mask)
            if kpm.shape != (N, S):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape ({N}, {S}), got {kpm.shape}")
            allowed, add = _merge(allowed, add, kpm[:, None, None, :], key_padding_mask, (N, 1, 1, S))
        if attn_mask is not None:
            am = _arr(attn_mask)
            if am.shape == (L, S):
                shape = (1, 1, L, S)
            elif am.shape == (N * H, L, S):
                shape = (N, H, L, S)
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must have shape ({L}, {S}) or ({N * H}, {L}, {S}), "
                                 f"got {am.shape}")
            allowed, add = _merge(allowed, add, am.reshape(shape), attn_mask, shape)
        elif is_causal:
            causal = ~np.tri(L, S, 0, dtype=bool)
            allowed, add = _merge(allowed, add, causal[None, None], None, (1, 1, L, S))
        p = self.dropout if self.training else 0.0
        out, attn = _attention(q, k, v, allowed, add, p, 1.0 / math.sqrt(D))
        out = out.transpose(1, 2).reshape(N, L, E)
        out = self.out_proj(out)
        weights = None
        if need_weights:
            weights = attn.mean(1) if average_attn_weights else attn
        if unbatched:
            out = out.squeeze(0)
            weights = None if weights is None else weights.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def extra_repr(self):
        """Nothing beyond the out_proj child (as PyTorch)."""
        return ""


def _arr(m):
    return m._data if isinstance(m, Tensor) else np.asarray(m)


def _merge(allowed, add, m, original, shape):
    """Fold one MHA-convention mask (bool True = hidden, or float added) into (allowed, additive)."""
    if m.dtype == np.bool_:
        ok = ~m
    else:
        t = original.reshape(shape) if isinstance(original, Tensor) else Tensor._leaf(m)
        add = t if add is None else add + t
        ok = ~np.isneginf(m)
        if ok.all():
            return allowed, add
    allowed = ok if allowed is None else allowed & ok
    return allowed, add


def _attention(q, k, v, allowed, add, dropout_p, scale):
    """softmax(q k^T scale + add, restricted to `allowed`) v; returns (output, weights)."""
    scores = (q @ k.transpose(-2, -1)) * scale
    if add is not None:
        scores = scores + add.to(scores.dtype)
    attn = F._allowed_softmax(scores, allowed)
    if dropout_p > 0.0:
        attn = F.dropout(attn, dropout_p, training=True)
    return attn @ v, attn
