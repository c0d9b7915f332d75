"""Convolutions: F.conv1d / F.conv2d and the Conv1d / Conv2d layers, with PyTorch's arguments.

A convolution is im2col plus one matrix product: the `windows` primitive (tinygrad_lite/ops/window.py)
lays every receptive field out as a column, and the weights, reshaped to (groups, C_out/groups,
C_in/groups * prod(kernel)), multiply all columns at once. Autograd derives the gradients: the matmul
rule gives dW and dcols, and the windows rule adds dcols back into dx (col2im).
"""
import math
from math import prod

import numpy as np

from ..dtypes import DEFAULT, to_dtype
from ..ops.window import window_args, windows
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = ["conv1d", "conv2d", "Conv1d", "Conv2d"]


def ntuple(op, name, value, d):
    """An int or a sequence of d ints -> a tuple of d ints (PyTorch's _single / _pair)."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * d
    try:
        t = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {d} ints, got {value!r}") from None
    if len(t) == 1:
        t = t * d
    if len(t) != d:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {d} ints, got {value!r}")
    return t


def _pads(op, padding, kernel, stride, dilation):
    """PyTorch's padding argument (int, tuple, 'valid' or 'same') -> ((lo, hi), ...) per spatial dim."""
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            total = [dl * (k - 1) for dl, k in zip(dilation, kernel)]
            return tuple((t // 2, t - t // 2) for t in total)  # the extra one goes to the end, as PyTorch
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of ints, got {padding!r}")
    return tuple((p, p) for p in ntuple(op, "padding", padding, d))


def _conv(op, d, input, weight, bias, stride, padding, dilation, groups):
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors, got {type(input).__name__} and "
                        f"{type(weight).__name__}")
    x, w = input, weight
    if w.ndim != d + 2:
        raise ValueError(f"{op}: weight must have shape (out_channels, in_channels/groups, {d} kernel dims), "
                         f"got {tuple(w.shape)}")
    unbatched = x.ndim == d + 1
    if unbatched:
        x = x.unsqueeze(0)
    if x.ndim != d + 2:
        raise ValueError(f"{op}: expected input of shape (N, C_in, {d} spatial dims) or unbatched (C_in, ...), "
                         f"got {tuple(input.shape)}")
    groups = int(groups)
    N, C = x.shape[0], x.shape[1]
    Cout, Cg, K = w.shape[0], w.shape[1], tuple(w.shape[2:])
    if groups < 1 or C % groups or Cout % groups or Cg * groups != C:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {C} channels; weight of shape "
                         f"{tuple(w.shape)} with groups={groups} expects {Cg * groups} "
                         f"(in_channels = weight.shape[1] * groups; out_channels divisible by groups)")
    if bias is not None and tuple(bias.shape) != (Cout,):
        raise ValueError(f"{op}: bias must have shape ({Cout},) (out_channels), got {tuple(bias.shape)}")
    stride = ntuple(op, "stride", stride, d)
    dilation = ntuple(op, "dilation", dilation, d)
    a = window_args(op, x.shape, K, stride, dilation, _pads(op, padding, K, stride, dilation))
    cols = windows(x, a)                                             # (N, C, *K, *O)
    cols = cols.reshape(N, groups, Cg * prod(K), prod(a.out))        # one column per output position
    out = w.reshape(groups, Cout // groups, Cg * prod(K)) @ cols     # (N, groups, Cout/groups, prod(O))
    out = out.reshape((N, Cout) + a.out)
    if bias is not None:
        out = out + bias.reshape((Cout,) + (1,) * d)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation, as PyTorch). input (N, C_in, L) or (C_in, L); weight
    (C_out, C_in/groups, K); bias (C_out,) -> (N, C_out, L_out), L_out = (L + 2p - d(K-1) - 1)//s + 1.
    padding: int, tuple, 'valid' or 'same'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch). input (N, C_in, H, W) or (C_in, H, W); weight
    (C_out, C_in/groups, kH, kW); bias (C_out,) -> (N, C_out, H_out, W_out).
    stride, padding, dilation: int or pair; padding also 'valid' or 'same'."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


class _ConvNd(Module):
    """Shared constructor of Conv1d/Conv2d: weight (out, in/groups, *kernel) and bias (out,) start as
    PyTorch's, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in/groups * prod(kernel)."""
    _d = 0
    _fn = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        name, d = type(self).__name__, self._d
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode={padding_mode!r} is not supported (only 'zeros')")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                             f"divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = ntuple(name, "kernel_size", kernel_size, d)
        self.stride = ntuple(name, "stride", stride, d)
        self.dilation = ntuple(name, "dilation", dilation, d)
        if isinstance(padding, str):
            _pads(name, padding, self.kernel_size, self.stride, self.dilation)  # checks the string
            self.padding = padding
        else:
            self.padding = ntuple(name, "padding", padding, d)
        self.padding_mode = padding_mode
        dt = to_dtype(dtype) or DEFAULT.dtype
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(Tensor._leaf(np.zeros(shape, dt)))
        if bias:
            self.bias = Parameter(Tensor._leaf(np.zeros(self.out_channels, dt)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draw weight (kaiming_uniform_, a=sqrt(5)) and bias (U(-1/sqrt(fan_in), 1/sqrt(fan_in)))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        """input (N, C_in, *spatial) or (C_in, *spatial) -> (N, C_out, *spatial_out)."""
        return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        """As PyTorch prints it: channels, kernel_size, stride, and the options that differ from the defaults."""
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._d:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._d:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True).
    input (N, C_in, L) -> (N, C_out, L_out). See F.conv1d."""
    _d = 1
    _fn = staticmethod(conv1d)


class Conv2d(_ConvNd):
    """Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True).
    input (N, C_in, H, W) -> (N, C_out, H_out, W_out). See F.conv2d."""
    _d = 2
    _fn = staticmethod(conv2d)
