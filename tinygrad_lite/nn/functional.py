"""Functional forms of the layers and losses, with PyTorch's names, arguments and results
(`import tinygrad_lite.nn.functional as F`).

Shapes follow PyTorch: N is the batch, C the number of classes, `*` any extra dims.
Hot-path functions (linear, embedding, gelu, cross_entropy) are single fused primitives
(see tinygrad_lite/ops/nn.py and ops/special.py); the others are composed from engine ops.
"""
import math

import numpy as np

from ..dtypes import DEFAULT
from ..functions import where
from ..random import get_rng
from ..tensor import Tensor
from ..ops.special import ERF, GELU, GELU_TANH, LOGSIGMOID
from ..ops.nn import CEArgs, CROSS_ENTROPY_IDX, EMBEDDING
from ..functions import linear as _tensor_linear

from ..ops.fused import layer_norm as _fused_layer_norm

__all__ = ["relu", "gelu", "silu", "sigmoid", "tanh", "erf", "softmax", "log_softmax", "logsumexp", "dropout",
           "linear", "embedding", "layer_norm", "normalize", "cosine_similarity", "one_hot", "cross_entropy",
           "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "logsigmoid", "scaled_dot_product_attention", "leaky_relu", "softplus"]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x, name="input"):
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"expected a Tensor for {name}, got {type(x).__name__}")


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(op, loss, reduction):
    _check_reduction(op, reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ---------------------------------------------------------------------- activations
def relu(input, inplace=False):
    """max(x, 0), elementwise. Any shape."""
    return _t(input).relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x. Any shape."""
    x = _t(input)
    return where(x > 0, x, x * negative_slope)


def erf(input):
    """The error function, elementwise (a primitive; d/dx = 2/sqrt(pi) exp(-x^2)). Any shape."""
    return _t(input)._unary(ERF)


def gelu(input, approximate="none"):
    """x * Phi(x) (approximate='none', the exact erf form) or the tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate='tanh'). Any shape."""
    x = _t(input)
    if approximate == "none":
        return x._unary(GELU)
    if approximate == "tanh":
        return x._unary(GELU_TANH)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):
    """x * sigmoid(x). Any shape."""
    x = _t(input)
    return x * x.sigmoid()


def sigmoid(input):
    """1 / (1 + exp(-x)), stable for large |x|. Any shape."""
    return _t(input).sigmoid()


def tanh(input):
    """tanh(x). Any shape."""
    return _t(input).tanh()


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|. Any shape."""
    return _t(input)._unary(LOGSIGMOID)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold. Any shape."""
    x = _t(input)
    bx = x * beta
    return where(bx > threshold, x, -logsigmoid(-bx) * (1.0 / beta))


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1  # PyTorch's legacy rule when dim is not given


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along `dim` (stable; -inf entries get probability 0). Any shape."""
    x = _t(input)
    if dtype is not None:
        x = x.to(dtype)
    return x.softmax(_softmax_dim(x.ndim) if dim is None else dim)


def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along `dim`. Any shape."""
    x = _t(input)
    if dtype is not None:
        x = x.to(dtype)
    return x.log_softmax(_softmax_dim(x.ndim) if dim is None else dim)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over `dim` (int or tuple), computed stably."""
    return _t(input).logsumexp(dim, keepdim)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training), identity
    otherwise. The mask comes from the global generator (tinygrad_lite.manual_seed). Any shape."""
    x = _t(input)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = get_rng().random(x.shape) >= p
    dt = x.dtype if x.dtype.kind == "f" else DEFAULT.dtype
    return x * Tensor._leaf((keep * (1.0 / (1.0 - p))).astype(dt))


# ---------------------------------------------------------------------- layers
def linear(input, weight, bias=None):
    """y = x W^T + b. input (*, in_features), weight (out_features, in_features),
    bias (out_features,) or None -> (*, out_features). One fused primitive with a bias."""
    x, w = _t(input), _t(weight, "weight")  # shapes and dtypes are checked by the engine's linear
    return _tensor_linear(x, w, bias)


def _int_index(op, input, num):
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx.max() if idx.max() >= num else idx.min()
        raise IndexError(f"{op}: index {int(bad)} is out of range for {num} rows (expected 0 <= index < {num})")
    return idx


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of `weight` (num_embeddings, embedding_dim) picked by the integer tensor `input` (*)
    -> (*, embedding_dim). The padding row gets no gradient. sparse=True gives weight a row-sparse
    gradient (tinygrad_lite.sparse). max_norm and scale_grad_by_freq are not supported."""
    w = _t(weight, "weight")
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("embedding: max_norm and scale_grad_by_freq are not supported")
    if w.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {tuple(w.shape)}")
    n = w.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} embeddings")
        padding_idx %= n
    idx = _int_index("embedding", input, n)
    if sparse:
        from .. import sparse as _sparse
        return _sparse.embedding(w, input if isinstance(input, Tensor) else Tensor._leaf(idx), padding_idx=padding_idx)
    return w._make(EMBEDDING.fwd((idx, padding_idx), w._data), EMBEDDING, (w,), (idx, padding_idx), w.requires_grad)


def _norm_shape(normalized_shape):
    return (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias, statistics over the last
    len(normalized_shape) dims (biased variance). input (*, *normalized_shape)."""
    x = _t(input)
    shape = _norm_shape(normalized_shape)
    k = len(shape)
    if tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise ValueError(f"layer_norm: expected input with trailing shape {shape} (normalized_shape), "
                         f"got shape {tuple(x.shape)}")
    if k == 1 and x.dtype.kind == "f" \
            and (weight is None or isinstance(weight, Tensor)) and (bias is None or isinstance(bias, Tensor)):
        return _fused_layer_norm(x, weight, bias, eps)  # one graph node (tinygrad_lite/ops/fused.py)
    dims = tuple(range(x.ndim - k, x.ndim))
    d = x - x.mean(dims, keepdim=True)
    var = (d * d).mean(dims, keepdim=True)
    y = d * (var + eps) ** -0.5
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _safe_norm(x, dim):
    """The 2-norm over dim (keepdim) whose gradient is 0 (not NaN) where the norm is 0, as PyTorch's."""
    sq = (x * x).sum(dim, keepdim=True)
    pos = Tensor._leaf(sq._data > 0)
    return where(pos, where(pos, sq, 1.0).sqrt(), 0.0)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along `dim`. Any shape."""
    x = _t(input)
    if p == 2:
        n = _safe_norm(x, dim)
    else:
        a = x.abs()
        s = (a ** p).sum(dim, keepdim=True)
        pos = Tensor._leaf(s._data > 0)
        n = where(pos, where(pos, s, 1.0) ** (1.0 / p), 0.0)
    return x / n.clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1/max(||x1||, eps) * x2/max(||x2||, eps)) along dim; x1 and x2 broadcast. As PyTorch, each
    norm is clamped to eps without affecting its gradient."""
    a, b = _t(x1, "x1"), _t(x2, "x2")
    if a.shape != b.shape:
        shape = np.broadcast_shapes(a.shape, b.shape)
        a, b = a.expand(shape), b.expand(shape)

    def clamped(n):
        c = np.maximum(n._data, eps)
        return n + Tensor._leaf(c - n._data)  # value clamped, gradient that of n

    return ((a / clamped(_safe_norm(a, dim))) * (b / clamped(_safe_norm(b, dim)))).sum(dim)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape (*, num_classes) with a 1 at each index of `tensor` (*)."""
    idx = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor, got {idx.dtype}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got min {idx.min()} max {idx.max()}")
    out = np.zeros(idx.shape + (num_classes,), np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._leaf(out)


# ---------------------------------------------------------------------- losses
def _class_last(op, x, target):
    """Logits (N, C, d1, ...) / (C,) -> (M, C) with the class dim last, plus the flat targets and the
    batch shape of the unreduced loss."""
    shape = x._data.shape  # (the array's: Tensor.shape/.ndim are Python properties, this is the hot path)
    if not shape:
        raise ValueError(f"{op}: input must have at least 1 dimension (C,), got a scalar")
    t = target if type(target) is np.ndarray else np.asarray(target)
    if len(shape) == 1:
        if t.ndim != 0:
            raise ValueError(f"{op}: for input of shape {tuple(x.shape)} (C,) the target must be a scalar, "
                             f"got shape {tuple(t.shape)}")
        return x.reshape(1, -1), t.reshape(1), ()
    expect = (shape[0],) + shape[2:]
    if t.shape != expect:
        raise ValueError(f"{op}: expected target of shape {expect} for input of shape {tuple(x.shape)} "
                         f"(N, C, d1, ...), got {tuple(t.shape)}")
    if len(shape) > 2:
        perm = (0,) + tuple(range(2, x.ndim)) + (1,)
        x = x.permute(perm).reshape(-1, x.shape[1])
    return x, t.reshape(-1), expect


def _check_targets(op, t, C, ignore_index):
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers, got {t.dtype} "
                        "(for class probabilities pass a float target shaped like the input)")
    if t.size and not 0 <= ignore_index < C:
        # the common case, all targets valid and none ignored, in one reduction: seen as unsigned,
        # a negative target is huge, so max < C checks both ends
        u = t if t.dtype.kind == "u" else t.view(f"u{t.dtype.itemsize}")
        if np.maximum.reduce(u, axis=None) < C:  # (the ufunc itself: ndarray.max adds a Python wrapper)
            return None, False
    ignored = t == ignore_index
    has_ignored = bool(ignored.any())
    valid = t[~ignored] if has_ignored else t
    if valid.size and (valid.min() < 0 or valid.max() >= C):
        bad = valid.max() if valid.max() >= C else valid.min()
        raise IndexError(f"{op}: target {int(bad)} is out of bounds for {C} classes "
                         f"(expected 0 <= target < {C}, or ignore_index={ignore_index})")
    return ignored, has_ignored


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits and class targets, as torch.nn.functional.cross_entropy.

    input: (N, C), (N, C, d1, ...) or (C,) logits; target: int64 class indices (N,), (N, d1, ...)
    or () - or class probabilities with the input's shape. weight: (C,) class weights.
    Rows whose target is ignore_index contribute nothing (mean divides by the summed weights of
    the other rows). reduction: 'mean' | 'sum' | 'none' (shape of target). One fused primitive for
    index targets: stable for any finite logits (e.g. +-1e4)."""
    x = _t(input)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    tarr = target._data if isinstance(target, Tensor) else np.asarray(target)
    if tarr.dtype.kind == "f":
        return _cross_entropy_probs(x, target if isinstance(target, Tensor) else Tensor._leaf(tarr), weight,
                                    reduction, label_smoothing)
    x2, t, batch_shape = _class_last("cross_entropy", x, tarr)
    M, C = x2.shape
    if weight is not None:
        w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (C,):
            raise ValueError(f"cross_entropy: weight must have shape ({C},) (one per class), got {tuple(w.shape)}")
        w = w.astype(x.dtype)
    else:
        w = None
    ignored, has_ignored = _check_targets("cross_entropy", t, C, ignore_index)
    t_safe = np.where(ignored, 0, t).astype(np.intp) if has_ignored else t.astype(np.intp, copy=False)
    eps = float(label_smoothing)
    if w is None and not has_ignored and eps == 0.0 and reduction != "none":
        r = (1.0 / M if M else float("nan")) if reduction == "mean" else 1.0  # the hot path: plain mean
        args = CEArgs(t_safe, r, None, None, True)
    else:
        keep = np.ones(t.shape, x.dtype) if ignored is None else (~ignored).astype(x.dtype)
        wt = keep if w is None else keep * w[t_safe]
        scale = 1.0
        if reduction == "mean":
            scale = 1.0 / wt.sum() if wt.sum() != 0 else np.nan
        r = wt * ((1.0 - eps) * scale)
        s = keep * (eps / C * scale) if eps else None
        args = CEArgs(t_safe, r, s, w if eps else None, reduction != "none")
    loss, probs = CROSS_ENTROPY_IDX.fwd(args, x2._data)
    out = x2._make_saving(loss, probs, CROSS_ENTROPY_IDX, (x2,), args, x2.requires_grad)
    if reduction == "none":
        out = out.reshape(batch_shape)
    elif reduction == "mean" and M == 0:
        out = out + float("nan")  # the mean of nothing, as PyTorch
    return out


def _cross_entropy_probs(x, target, weight, reduction, label_smoothing):
    if tuple(target.shape) != tuple(x.shape):
        raise ValueError(f"cross_entropy: probability targets must have the input's shape {tuple(x.shape)}, "
                         f"got {tuple(target.shape)}")
    cdim = 0 if x.ndim == 1 else 1
    C = x.shape[cdim]
    logp = x.log_softmax(cdim)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / C
    if weight is not None:
        wshape = [1] * x.ndim
        wshape[cdim] = C
        logp = logp * weight.reshape(wshape)
    loss = -(logp * target).sum(cdim)
    if reduction == "mean":  # over every position of the batch, (N, d1, ...) as PyTorch, not over N alone
        return loss.mean() if x.ndim > 1 else loss
    return loss.sum() if reduction == "sum" else loss


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood -input[i, target_i] (weighted, ignore_index skipped), as PyTorch.
    input: (N, C), (N, C, d1, ...) or (C,) log-probabilities; target: class indices."""
    x = _t(input)
    _check_reduction("nll_loss", reduction)
    tarr = target._data if isinstance(target, Tensor) else np.asarray(target)
    x2, t, batch_shape = _class_last("nll_loss", x, tarr)
    M, C = x2.shape
    ignored, has_ignored = _check_targets("nll_loss", t, C, ignore_index)
    if ignored is None:
        ignored = np.zeros(t.shape, bool)
    t_safe = np.where(ignored, 0, t).astype(np.intp)
    wt = (~ignored).astype(x.dtype)
    if weight is not None:
        w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (C,):
            raise ValueError(f"nll_loss: weight must have shape ({C},), got {tuple(w.shape)}")
        wt = wt * w.astype(x.dtype)[t_safe]
    picked = x2[np.arange(M), t_safe]
    loss = -(picked * Tensor._leaf(wt))
    if reduction == "none":
        return loss.reshape(batch_shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() * (1.0 / wt.sum() if wt.sum() != 0 else float("nan"))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """(input - target)^2, reduced. input and target broadcast (same shape expected)."""
    d = _t(input) - target
    return _reduce("mse_loss", d * d, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """|input - target|, reduced."""
    return _reduce("l1_loss", (_t(input) - target).abs(), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """-[pos_weight * t * log sigmoid(x) + (1 - t) * log sigmoid(-x)] * weight, stable for any x.
    input and target: same shape (*); weight broadcasts; pos_weight (C,) broadcasts over the last dim."""
    x = _t(input)
    t = target if isinstance(target, Tensor) else Tensor._leaf(np.asarray(target, x.dtype))
    if tuple(t.shape) != tuple(x.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {tuple(t.shape)} must equal "
                         f"input shape {tuple(x.shape)}")
    pos = logsigmoid(x)
    neg = logsigmoid(-x)
    if pos_weight is not None:
        loss = -(pos * t * pos_weight + neg * (1.0 - t))
    else:
        loss = -(pos * t + neg * (1.0 - t))
    if weight is not None:
        loss = loss * weight
    return _reduce("binary_cross_entropy_with_logits", loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-[t log p + (1 - t) log(1 - p)] with logs clamped at -100 as PyTorch. input: probabilities (*)."""
    p = _t(input)
    lp = p.log().clamp(min=-100.0)
    l1p = (1.0 - p).log().clamp(min=-100.0)
    loss = -(lp * target + l1p * (1.0 - target))
    if weight is not None:
        loss = loss * weight
    return _reduce("binary_cross_entropy", loss, reduction)


# ---------------------------------------------------------------------- attention
def _allowed_softmax(scores, allowed):
    """softmax over the last dim of scores (*, L, S), only over keys where the bool array `allowed`
    (broadcastable to scores; None = all) is True. Rows with no allowed key give zeros, not NaN."""
    if allowed is None:
        return scores.softmax(-1)
    allowed = np.broadcast_to(allowed, np.broadcast_shapes(allowed.shape, scores.shape))
    row_ok = allowed.any(axis=-1, keepdims=True)
    a = Tensor._leaf(allowed)
    if row_ok.all():
        return where(a, scores, -np.inf).softmax(-1)
    ok = Tensor._leaf(row_ok)
    # rows without any allowed key: softmax of zeros (finite), then zeroed, so no NaN anywhere
    return where(ok, where(ok, where(a, scores, -np.inf), 0.0).softmax(-1), 0.0)


def _repeat_kv_heads(q, t):
    """(*, Hkv, S, E) -> (*, Hq, S, E), each head repeated Hq/Hkv times in place (repeat_interleave)."""
    hq, hkv = q.shape[-3], t.shape[-3]
    if hkv == 0 or hq % hkv:
        raise ValueError(f"scaled_dot_product_attention: enable_gqa needs the query heads ({hq}) to be a multiple "
                         f"of the key/value heads ({hkv}); got query {tuple(q.shape)} and key/value {tuple(t.shape)}")
    lead, (s, e) = t.shape[:-3], t.shape[-2:]
    return t.unsqueeze(-3).expand(*lead, hkv, hq // hkv, s, e).reshape(*lead, hq, s, e)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(q k^T * scale + mask) v, composed from engine ops (matmul, where, softmax).

    query (*, L, E), key (*, S, E), value (*, S, Ev) -> (*, L, Ev); batch dims broadcast.
    attn_mask: bool (True = may attend, PyTorch's convention) or float (added to the scores),
    broadcastable to (*, L, S). is_causal: query i attends to keys j <= i (top-left aligned).
    scale: default 1/sqrt(E). Rows with no allowed key give zeros (not NaN), in forward and backward.
    enable_gqa: grouped-query attention, query (*, Hq, L, E) with key/value (*, Hkv, S, E) and Hq a
    multiple of Hkv; each key/value head serves Hq/Hkv consecutive query heads (PyTorch's rule)."""
    q, k, v = _t(query, "query"), _t(key, "key"), _t(value, "value")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        k, v = _repeat_kv_heads(q, k), _repeat_kv_heads(q, v)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query and key must have the same last dim, "
                         f"got shapes {tuple(q.shape)} and {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key and value must have the same sequence length, "
                         f"got shapes {tuple(k.shape)} and {tuple(v.shape)}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    L, S = q.shape[-2], k.shape[-2]
    sc = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * sc
    allowed = None
    if is_causal:
        allowed = np.tri(L, S, 0, dtype=bool)
    elif attn_mask is not None:
        m = attn_mask._data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if m.dtype == np.bool_:
            allowed = m
        else:
            scores = scores + (attn_mask if isinstance(attn_mask, Tensor) else Tensor._leaf(m.astype(scores.dtype)))
            if np.isneginf(m).any():
                allowed = ~np.isneginf(m)
    attn = _allowed_softmax(scores, allowed)
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return attn @ v


# ---------------------------------------------------------------------- more losses (nn/loss.py has their modules)
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with d = input - target; reduced.
    beta = 0 is the L1 loss."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = _t(input) - target
    a = d.abs()
    if beta == 0:
        return _reduce("smooth_l1_loss", a, reduction)
    return _reduce("smooth_l1_loss", where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), with d = input - target; reduced."""
    d = _t(input) - target
    a = d.abs()
    return _reduce("huber_loss", where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence target * (log(target) - input), input holding log-probabilities.
    log_target=True: target holds log-probabilities too, exp(target) * (target - input).
    Terms with target == 0 are 0. reduction: 'mean' (over all elements), 'batchmean' (sum / N),
    'sum' or 'none'."""
    x = _t(input)
    t = target if isinstance(target, Tensor) else Tensor._leaf(np.asarray(target, x.dtype))
    if log_target:
        loss = t.exp() * (t - x)
    else:
        pos = Tensor._leaf(t._data > 0)
        loss = where(pos, t * where(pos, t, 1.0).log(), 0.0) - t * x
    if reduction == "batchmean":
        return loss.sum() * (1.0 / x.shape[0]) if x.ndim else loss.sum()
    return _reduce("kl_div", loss, reduction)


# ---------------------------------------------------------------------- layers defined in their own modules
from .activation import elu  # noqa: E402
from .conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d  # noqa: E402
from .dropout import dropout2d  # noqa: E402
from .normalization import batch_norm  # noqa: E402
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, avg_pool1d,  # noqa: E402
                      avg_pool2d, avg_pool3d, max_pool1d, max_pool2d, max_pool3d)
from .padding import interpolate, pad  # noqa: E402
from .fold import fold, unfold  # noqa: E402
from .grid_sample import affine_grid, grid_sample  # noqa: E402
from .more_losses import (cosine_embedding_loss, gaussian_nll_loss, hinge_embedding_loss,  # noqa: E402
                          multi_margin_loss, multilabel_margin_loss, multilabel_soft_margin_loss, poisson_nll_loss,
                          soft_margin_loss)
from .more_layers import (celu, glu, group_norm, hardshrink, hardsigmoid, hardswish, hardtanh, mish,  # noqa: E402
                          pairwise_distance, prelu, relu6, selu, softmin, softshrink, softsign, tanhshrink, threshold)
from .more_layers import (instance_norm, local_response_norm, margin_ranking_loss, pixel_shuffle,  # noqa: E402
                          pixel_unshuffle, triplet_margin_loss)
from .embedding_bag import embedding_bag  # noqa: E402

__all__ += ["smooth_l1_loss", "huber_loss", "kl_div", "elu", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
            "dropout2d", "batch_norm",
            "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "max_pool1d", "max_pool2d"]
__all__ += ["pad", "interpolate", "celu", "glu", "group_norm", "hardshrink", "hardsigmoid", "hardswish", "hardtanh",
            "mish", "pairwise_distance", "prelu", "relu6", "selu", "softmin", "softshrink", "softsign", "tanhshrink",
            "threshold", "instance_norm", "margin_ranking_loss", "pixel_shuffle", "pixel_unshuffle",
            "triplet_margin_loss"]
__all__ += ["embedding_bag", "unfold", "fold", "conv3d", "conv_transpose3d", "cosine_embedding_loss", "gaussian_nll_loss",
            "hinge_embedding_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
            "poisson_nll_loss", "soft_margin_loss", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "grid_sample",
            "affine_grid", "local_response_norm"]
