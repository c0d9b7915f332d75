"""Loss modules beyond layers.py (module forms of nn.functional's losses), with PyTorch's arguments."""
from . import functional as F
from .module import Module

__all__ = ["BCEWithLogitsLoss", "BCELoss", "NLLLoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            raise NotImplementedError(f"{type(self).__name__}: size_average and reduce are deprecated in PyTorch and "
                                      "not supported; use reduction='mean' | 'sum' | 'none'")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class BCEWithLogitsLoss(_Loss):
    """Module form of F.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        """input logits (*), target (*) in [0, 1] -> loss."""
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class BCELoss(_WeightedLoss):
    """Module form of F.binary_cross_entropy(input, target, weight, reduction)."""

    def forward(self, input, target):
        """input probabilities (*), target (*) -> loss."""
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """Module form of F.nll_loss(input, target, weight, ignore_index, reduction)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        """input log-probabilities (N, C) / (N, C, d1, ...) / (C,), target class indices -> loss."""
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class L1Loss(_Loss):
    """Module form of F.l1_loss(input, target, reduction)."""

    def forward(self, input, target):
        """input and target of the same shape -> loss."""
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Module form of F.smooth_l1_loss(input, target, reduction, beta)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        """input and target of the same shape -> loss."""
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Module form of F.huber_loss(input, target, reduction, delta)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        """input and target of the same shape -> loss."""
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """Module form of F.kl_div(input, target, reduction, log_target)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        """input log-probabilities, target probabilities (or log-probabilities with log_target) -> loss."""
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
