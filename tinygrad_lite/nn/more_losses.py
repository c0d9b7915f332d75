"""More losses with PyTorch's formulas and arguments, composed from engine ops (autograd derives their
gradients): soft margin, hinge embedding, cosine embedding, multi-class margin, multi-label soft margin,
Poisson and Gaussian negative log likelihood; each with its module form."""
import math

import numpy as np

from ..functions import where
from ..tensor import Tensor
from .functional import _reduce, logsigmoid
from .loss import _Loss, _WeightedLoss

__all__ = ["soft_margin_loss", "hinge_embedding_loss", "cosine_embedding_loss", "multi_margin_loss",
           "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
           "SoftMarginLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
           "MultiLabelSoftMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss"]

_COSINE_EPS = 1e-12  # added to each squared norm, as PyTorch's cosine_embedding_loss


def _pair(op, input, target):
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: expected Tensors for input and target, got {type(input).__name__} and "
                        f"{type(target).__name__}")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} and target of shape {tuple(target.shape)} "
                         "must have the same shape")
    return input, target


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), target in {1, -1}."""
    x, y = _pair("soft_margin_loss", input, target)
    return _reduce("soft_margin_loss", -logsigmoid(y * x), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """input where target == 1, max(0, margin - input) where target == -1 (0 for other target values)."""
    x, y = _pair("hinge_embedding_loss", input, target)
    loss = where(y != 1, (margin - x).clamp(min=0.0), 0.0) + where(y != -1, x, 0.0)
    return _reduce("hinge_embedding_loss", loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1; cos over the last
    dim of (N, D) or (D,) inputs, target (N,) or ()."""
    x1, x2 = _pair("cosine_embedding_loss", input1, input2)
    if not isinstance(target, Tensor) or target.ndim != x1.ndim - 1:
        raise ValueError(f"cosine_embedding_loss: target must be a Tensor with one dim less than the inputs "
                         f"{tuple(x1.shape)}, got {tuple(getattr(target, 'shape', ())) or type(target).__name__}")
    dot = (x1 * x2).sum(-1)
    cos = dot / ((x1 * x1).sum(-1) + _COSINE_EPS).mul((x2 * x2).sum(-1) + _COSINE_EPS).sqrt()
    loss = where(target == 1, 1.0 - cos, 0.0) + where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce("cosine_embedding_loss", loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Per sample: Σ over classes i != y of w[y] max(0, margin - x[y] + x[i])^p, divided by the number of
    classes. input (N, C) or (C,), target (N,) or () class indices."""
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported (as PyTorch), got {p!r}")
    if not isinstance(input, Tensor) or input.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: expected a (N, C) or (C,) Tensor input, got "
                         f"{tuple(getattr(input, 'shape', ())) or type(input).__name__}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    idx = (target if isinstance(target, Tensor) else Tensor(target)).long().reshape(-1, 1)
    if idx.shape[0] != x.shape[0]:
        raise ValueError(f"multi_margin_loss: target of shape {tuple(target.shape)} does not match input of shape "
                         f"{tuple(input.shape)} (one class index per sample)")
    z = (x - x.gather(1, idx) + margin).clamp(min=0.0)
    z = z * z if p == 2 else z
    if weight is not None:
        z = z * weight[idx.reshape(-1)].unsqueeze(1)
    others = Tensor._leaf(idx.numpy() != np.arange(x.shape[1]))  # class y itself does not count
    loss = where(others, z, 0.0).sum(1) / x.shape[1]
    return _reduce("multi_margin_loss", loss if input.ndim == 2 else loss.squeeze(0), reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Per sample: Σ over its target classes j and the other classes i of max(0, 1 - (x[j] - x[i])), divided
    by the number of classes. target (N, C) or (C,) holds class indices, ended by the first -1 (a class
    listed twice counts twice, as in PyTorch)."""
    if not isinstance(input, Tensor) or input.ndim not in (1, 2):
        raise ValueError(f"multilabel_margin_loss: expected a (N, C) or (C,) Tensor input, got "
                         f"{tuple(getattr(input, 'shape', ())) or type(input).__name__}")
    t = np.asarray(target.numpy() if isinstance(target, Tensor) else target).astype(np.int64)
    if t.shape != tuple(input.shape):
        raise ValueError(f"multilabel_margin_loss: target of shape {t.shape} must have the input's shape "
                         f"{tuple(input.shape)}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    t = t.reshape(x.shape)
    n, c = x.shape
    counts = np.zeros((n, c))
    for row, labels in enumerate(t):
        for j in labels:
            if j < 0:
                break
            if j >= c:
                raise ValueError(f"multilabel_margin_loss: target class {j} is out of range for {c} classes")
            counts[row, j] += 1
    pairs = counts[:, :, None] * (counts == 0)[:, None, :]   # (n, j, i): how often j counts against i
    hinge = (1.0 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0.0)
    loss = (hinge * Tensor._leaf(pairs.astype(x.dtype))).sum((1, 2)) / c
    return _reduce("multilabel_margin_loss", loss if input.ndim == 2 else loss.squeeze(0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per sample: the mean over classes of -(y log σ(x) + (1 - y) log σ(-x)) (times weight per class)."""
    x, y = _pair("multilabel_soft_margin_loss", input, target)
    loss = -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * weight
    return _reduce("multilabel_soft_margin_loss", loss.mean(-1), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input), else input - target * log(input + eps); full adds Stirling's
    term target log(target) - target + log(2π target) / 2 where target > 1."""
    x, y = _pair("poisson_nll_loss", input, target)
    loss = x.exp() - y * x if log_input else x - y * (x + eps).log()
    if full:
        ys = where(y > 1, y, 1.0)  # (the term is 0 at and below 1: keep log away from 0)
        loss = loss + where(y > 1, ys * ys.log() - ys + 0.5 * (2 * math.pi * ys).log(), 0.0)
    return _reduce("poisson_nll_loss", loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(max(var, eps)) + (input - target)² / max(var, eps)) / 2 (+ log(2π) / 2 when full). var has
    input's shape, or one dim of size 1 (or missing at the end) to share a variance. The clamp at eps
    changes values only: the gradient reaches var as if unclamped, as in PyTorch."""
    if not isinstance(var, Tensor):
        var = Tensor(var)
    x, y = _pair("gaussian_nll_loss", input, target)
    if tuple(var.shape) != tuple(x.shape):
        if var.ndim == x.ndim - 1 and tuple(var.shape) == tuple(x.shape[:-1]):
            var = var.unsqueeze(-1)
        elif not (var.ndim == x.ndim and sum(a != b for a, b in zip(var.shape, x.shape)) == 1
                  and all(a == b or a == 1 for a, b in zip(var.shape, x.shape))):
            raise ValueError(f"gaussian_nll_loss: var of shape {tuple(var.shape)} does not fit input of shape "
                             f"{tuple(x.shape)}: give the same shape, or one dim of size 1 (or the last dim left out)")
    if (var.detach().numpy() < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    var = var + (var.clamp(min=eps) - var).detach()
    loss = 0.5 * (var.log() + (x - y) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce("gaussian_nll_loss", loss, reduction)


class SoftMarginLoss(_Loss):
    """nn.SoftMarginLoss(reduction='mean'). See F.soft_margin_loss."""

    def forward(self, input, target):
        return soft_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """nn.HingeEmbeddingLoss(margin=1.0, reduction='mean'). See F.hinge_embedding_loss."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """nn.CosineEmbeddingLoss(margin=0.0, reduction='mean'). See F.cosine_embedding_loss."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """nn.MultiMarginLoss(p=1, margin=1.0, weight=None, reduction='mean'). See F.multi_margin_loss."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """nn.MultiLabelMarginLoss(reduction='mean'). See F.multilabel_margin_loss."""

    def forward(self, input, target):
        return multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """nn.MultiLabelSoftMarginLoss(weight=None, reduction='mean'). See F.multilabel_soft_margin_loss."""

    def forward(self, input, target):
        return multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """nn.PoissonNLLLoss(log_input=True, full=False, eps=1e-8, reduction='mean'). See F.poisson_nll_loss."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """nn.GaussianNLLLoss(full=False, eps=1e-6, reduction='mean'). See F.gaussian_nll_loss."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)
