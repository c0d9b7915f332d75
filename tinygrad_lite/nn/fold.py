"""F.unfold / F.fold and nn.Unfold / nn.Fold: PyTorch's names for im2col and col2im on (N, C, H, W) images.

unfold cuts every block a kernel visits out of the padded image: (N, C, H, W) -> (N, C * kH * kW, L), one
column per block (L blocks, row-major), entries ordered (channel, kernel row, kernel column). It is the
`windows` row (tinygrad_lite/ops/window.py) reshaped; fold is its adjoint, the `col2im` row: each column's
values added back where the block was cut from, overlaps summed (so fold(unfold(x)) counts every pixel
once per block that covers it)."""
from math import prod

from ..ops.window import col2im, window_args, windows
from ..tensor import Tensor
from .conv import ntuple
from .module import Module

__all__ = ["unfold", "fold", "Unfold", "Fold"]


def _window(op, shape, kernel_size, dilation, padding, stride):
    k = ntuple(op, "kernel_size", kernel_size, 2)
    pads = tuple((p, p) for p in ntuple(op, "padding", padding, 2))
    return window_args(op, shape, k, ntuple(op, "stride", stride, 2), ntuple(op, "dilation", dilation, 2), pads)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) or unbatched (C, H, W) -> (N, C * kH * kW, L) (or (C * kH * kW, L)), L the number of blocks."""
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ValueError(f"unfold: expected a 3-D (C, H, W) or 4-D (N, C, H, W) Tensor, got "
                         f"{tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    x = input.unsqueeze(0) if input.ndim == 3 else input
    a = _window("unfold", x.shape, kernel_size, dilation, padding, stride)
    cols = windows(x, a).reshape(x.shape[0], x.shape[1] * prod(a.kernel), prod(a.out))
    return cols.squeeze(0) if input.ndim == 3 else cols


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * kH * kW, L) or unbatched (C * kH * kW, L) -> (N, C, *output_size): blocks summed into place."""
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ValueError(f"fold: expected a 2-D (C * kH * kW, L) or 3-D (N, C * kH * kW, L) Tensor, got "
                         f"{tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    cols = input.unsqueeze(0) if input.ndim == 2 else input
    size = ntuple("fold", "output_size", output_size, 2)
    a = _window("fold", size, kernel_size, dilation, padding, stride)
    n, rows, blocks = cols.shape
    if rows % prod(a.kernel) or blocks != prod(a.out):
        raise ValueError(f"fold: input of shape {tuple(input.shape)} does not fit kernel_size={a.kernel} and "
                         f"output_size={size}: expected (N, C * {prod(a.kernel)}, {prod(a.out)}) "
                         f"({a.out[0]} x {a.out[1]} blocks)")
    out = col2im(cols.reshape((n, rows // prod(a.kernel)) + a.kernel + a.out), a)
    return out.squeeze(0) if input.ndim == 2 else out


class Unfold(Module):
    """nn.Unfold(kernel_size, dilation=1, padding=0, stride=1): F.unfold as a layer."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x):
        return unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(Module):
    """nn.Fold(output_size, kernel_size, dilation=1, padding=0, stride=1): F.fold as a layer."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x):
        return fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)
