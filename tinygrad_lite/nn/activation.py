"""Activation layers beyond layers.py: LeakyReLU and ELU (and F.elu), with PyTorch's arguments."""
from ..functions import where
from ..tensor import Tensor
from .module import Module

__all__ = ["elu", "LeakyReLU", "ELU"]


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1). Any shape. (exp is taken of min(x, 0), so a large positive
    x cannot overflow into the unused branch and make its gradient NaN.)"""
    if not isinstance(input, Tensor):
        raise TypeError(f"elu: expected a Tensor input, got {type(input).__name__}")
    x = input
    return where(x > 0, x, (x.clamp(max=0.0).exp() - 1.0) * alpha)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x. Any shape."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        """input (any shape) -> same shape."""
        from .functional import leaky_relu
        return leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1). Any shape."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        """input (any shape) -> same shape."""
        return elu(input, self.alpha)

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")
