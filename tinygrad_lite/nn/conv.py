"""Convolutions: F.conv1d / F.conv2d and the Conv1d / Conv2d layers, with PyTorch's arguments.

A convolution is im2col plus one matrix product: the `windows` primitive (tinygrad_lite/ops/window.py)
lays every receptive field out as a column, and the weights, reshaped to (groups, C_out/groups,
C_in/groups * prod(kernel)), multiply all columns at once. Autograd derives the gradients: the matmul
rule gives dW and dcols, and the windows rule adds dcols back into dx (col2im).
A transposed convolution is the same two steps the other way round: one matrix product spreads every
input position over a kernel-sized patch, and col2im adds the overlapping patches up; its gradient
needs no new rule either (col2im's vjp is `windows`).
Stride-1 2-D convolutions (one group, padding at most dilation * (kernel - 1)) and the transposed
convolutions that are their input gradients take the `conv2d` row instead (tinygrad_lite/ops/conv2d.py):
a copy K2 times the input instead of K1*K2, and no col2im scatter; with the compiled loops on
(ops/jit.py), strided 2-D convolutions and transposed convolutions of one group take it too (phase
planes instead of windows and col2im). rows.fast_path_applies is the rule.
"""
import math
from math import prod

import numpy as np

from ..dtypes import DEFAULT, to_dtype
from ..ops import conv2d as rows
from ..ops.window import col2im, window_args, windows
from ..tensor import Tensor
from . import init
from .module import Module, Parameter
from .padding import pad as zero_pad

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "Conv1d", "Conv2d",
           "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


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


def _checked_input(op, d, input, weight):
    """The checks every convolution makes on every call: Tensors; the input batched (a batch dim added
    when unbatched). The shape checks are _batched_shape's and the geometry's (cached by shapes)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors, got {type(input).__name__} and "
                        f"{type(weight).__name__}")
    return input.unsqueeze(0) if input.ndim == d + 1 else input


def _batched_shape(op, d, shape):
    """The input's shape with its batch dim (1 when unbatched); an error unless it has d + 1 or d + 2 dims."""
    if len(shape) not in (d + 1, d + 2):
        raise ValueError(f"{op}: expected input of shape (N, C_in, {d} spatial dims) or unbatched (C_in, ...), "
                         f"got {shape}")
    return shape if len(shape) == d + 2 else (1,) + shape


def _check_bias(op, bias, Cout):
    if bias is not None and tuple(bias.shape) != (Cout,):
        raise ValueError(f"{op}: bias must have shape ({Cout},) (out_channels), got {tuple(bias.shape)}")


def _with_bias(out, bias, Cout, d, input):
    """out + bias (one per output channel), the batch dim dropped again when the input had none."""
    if bias is not None:
        out = out + bias.reshape((Cout,) + (1,) * d)
    return out.squeeze(0) if input.ndim == d + 1 else out


# the geometry of a convolution (parsed arguments, checks, WindowArgs) by its shapes and arguments: a training
# loop computes it once (~10 us per small step otherwise). Only a function of the key, which holds each
# argument with its type (stride=1.0, an error, is not stride=1); unhashable arguments (lists) are not cached.
_GEOMETRY, _GEOMETRY_SIZE = {}, 256


def _cached(geometry, op, d, input, weight, *args):
    try:
        key = (geometry, op, d, input._data.shape, weight._data.shape) + tuple((type(v), v) for v in args)
        hit = _GEOMETRY.get(key)
    except TypeError:  # (an unhashable argument)
        return geometry(op, d, input._data.shape, weight._data.shape, *args)
    if hit is None:
        if len(_GEOMETRY) >= _GEOMETRY_SIZE:
            _GEOMETRY.clear()
        hit = _GEOMETRY[key] = geometry(op, d, input._data.shape, weight._data.shape, *args)
    return hit


def _conv(op, d, input, weight, bias, stride, padding, dilation, groups):
    x, w = _checked_input(op, d, input, weight), weight
    a, row_args, groups, Cout = _cached(_conv_geometry, op, d, input, weight, stride, padding, dilation, groups)
    _check_bias(op, bias, Cout)
    if row_args is not None and rows.fast_path_applies(x, w, a.stride, a.dilation, a.pads, groups):
        out = rows.conv2d(x, w, row_args)
    else:
        out = _conv_general(x, w, a, groups)
    return _with_bias(out, bias, Cout, d, input)


def _conv_geometry(op, d, x_shape, w_shape, stride, padding, dilation, groups):
    """(WindowArgs, the conv2d row's ConvArgs or None (not 2-D), groups, C_out) of a convolution, checked."""
    if len(w_shape) != d + 2:
        raise ValueError(f"{op}: weight must have shape (out_channels, in_channels/groups, {d} kernel dims), "
                         f"got {w_shape}")
    shape, x_shape = x_shape, _batched_shape(op, d, x_shape)
    groups = int(groups)
    C, (Cout, Cg), K = x_shape[1], w_shape[:2], w_shape[2:]
    if groups < 1 or C % groups or Cout % groups or Cg * groups != C:
        raise ValueError(f"{op}: input of shape {shape} has {C} channels; weight of shape "
                         f"{w_shape} with groups={groups} expects {Cg * groups} "
                         f"(in_channels = weight.shape[1] * groups; out_channels divisible by groups)")
    stride = ntuple(op, "stride", stride, d)
    dilation = ntuple(op, "dilation", dilation, d)
    a = window_args(op, x_shape, K, stride, dilation, _pads(op, padding, K, stride, dilation))
    return a, (rows.conv_args(a) if d == 2 else None), groups, Cout


def _conv_general(x, w, a, groups):
    """Any convolution: every window copied out (windows), one matrix product per image and group."""
    N, Cout, Cg, K = x.shape[0], w.shape[0], w.shape[1], tuple(w.shape[2:])
    cols = windows(x, a)                                             # (N, C, *K, *O)
    cols = cols.reshape(N, groups, Cg * prod(K), prod(a.out))        # one column per output position
    out = w.reshape(groups, Cout // groups, Cg * prod(K)) @ cols     # (N, groups, Cout/groups, prod(O))
    return out.reshape((N, Cout) + a.out)


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


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation, as PyTorch). input (N, C_in, D, H, W) or (C_in, D, H, W); weight
    (C_out, C_in/groups, kD, kH, kW); bias (C_out,) -> (N, C_out, D_out, H_out, W_out).
    stride, padding, dilation: int or triple; padding also 'valid' or 'same'."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op, d, input, weight, bias, stride, padding, output_padding, groups, dilation):
    x, w = _checked_input(op, d, input, weight), weight
    a, row_args, groups, Cout, x_pads = _cached(_conv_transpose_geometry, op, d, input, weight, stride, padding,
                                                output_padding, groups, dilation)
    _check_bias(op, bias, Cout)
    if x_pads is not None:
        # output_padding of a stride or more (allowed below the dilation) reaches windows past x's last
        # position: the transpose of that convolution reads x followed by zeros
        x = zero_pad(x, x_pads)
    if row_args is not None and rows.fast_path_applies(x, w, a.stride, a.dilation, a.pads, groups, True):
        out = rows.conv2d(x, w, row_args)  # the input gradient of that convolution
    else:
        out = _conv_transpose_general(x, w, a, groups)
    return _with_bias(out, bias, Cout, d, input)


def _conv_transpose_geometry(op, d, x_shape, w_shape, stride, padding, output_padding, groups, dilation):
    """(WindowArgs of the convolution this one is the transpose of, the conv2d row's ConvArgs or None (not
    2-D, or output_padding with stride 1), groups, C_out, the padding that x needs or None), checked."""
    if len(w_shape) != d + 2:
        raise ValueError(f"{op}: weight must have shape (in_channels, out_channels/groups, {d} kernel dims), "
                         f"got {w_shape}")
    shape, x_shape = x_shape, _batched_shape(op, d, x_shape)
    groups = int(groups)
    N, C = x_shape[:2]
    Cg_out, K = w_shape[1], w_shape[2:]
    if groups < 1 or w_shape[0] != C or C % groups:
        raise ValueError(f"{op}: input of shape {shape} has {C} channels; weight of shape "
                         f"{w_shape} expects weight.shape[0] = in_channels, divisible by groups={groups}")
    Cout = Cg_out * groups
    stride = ntuple(op, "stride", stride, d)
    dilation = ntuple(op, "dilation", dilation, d)
    pad = ntuple(op, "padding", padding, d)
    out_pad = ntuple(op, "output_padding", output_padding, d)
    if any(op_ >= max(s, dl) for op_, s, dl in zip(out_pad, stride, dilation)):
        raise ValueError(f"{op}: output_padding {out_pad} must be smaller than either stride {stride} or "
                         f"dilation {dilation}")
    size = tuple((n - 1) * s - 2 * p + dl * (k - 1) + o + 1
                 for n, s, p, dl, k, o in zip(x_shape[2:], stride, pad, dilation, K, out_pad))
    if any(n < 1 for n in size):
        raise ValueError(f"{op}: input of shape {shape} gives a non-positive output size {size}")
    # the geometry of the convolution this one is the transpose of: it maps the output back onto the input
    a = window_args(op, (N, Cout) + size, K, stride, dilation, tuple((p, p) for p in pad))
    x_pads = None
    if a.out != tuple(x_shape[2:]):
        x_pads = [e for n, o in zip(x_shape[:1:-1], a.out[::-1]) for e in (0, o - n)]
    rowable = d == 2 and (not any(out_pad) or stride != (1,) * d)
    return a, (rows.adjoint_args(rows.conv_args(a)) if rowable else None), groups, Cout, x_pads


def _conv_transpose_general(x, w, a, groups):
    """Any transposed convolution: one matrix product spreads each input position over a kernel-sized
    patch (per image and group), col2im adds the overlapping patches up."""
    N, C, Cg_out, K = x.shape[0], x.shape[1], w.shape[1], tuple(w.shape[2:])
    Cout = Cg_out * groups
    P = prod(a.out)
    wt = w.reshape(groups, C // groups, Cg_out * prod(K)).transpose(-1, -2)  # (groups, Cout/groups * K, C/groups)
    cols = wt @ x.reshape(N, groups, C // groups, P)                         # (N, groups, Cout/groups * K, P)
    return col2im(cols.reshape((N, Cout) + K + a.out), a)                     # (N, Cout, *size)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution (the gradient of conv1d with respect to its input). input (N, C_in, L);
    weight (C_in, C_out/groups, K) -> (N, C_out, (L - 1) s - 2p + d (K - 1) + output_padding + 1)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the gradient of conv2d with respect to its input). input (N, C_in, H, W);
    weight (C_in, C_out/groups, kH, kW) -> (N, C_out, H_out, W_out),
    H_out = (H - 1) s - 2p + d (kH - 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution (the gradient of conv3d with respect to its input). input (N, C_in, D, H, W);
    weight (C_in, C_out/groups, kD, kH, kW) -> (N, C_out, D_out, H_out, W_out), each as in conv_transpose2d."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


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
            s += f", padding={self.padding}"  # (padding=same, unquoted, as PyTorch prints it)
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


class _ConvTransposeNd(_ConvNd):
    """Shared by ConvTranspose1d/2d: weight (in, out/groups, *kernel), bias (out,), initialised as PyTorch's
    (fan_in = weight.shape[1] * prod(kernel))."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        name, d = type(self).__name__, self._d
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)
        self.output_padding = ntuple(name, "output_padding", output_padding, d)
        dt = self.weight.dtype
        shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        self.weight = Parameter(Tensor._leaf(np.zeros(shape, dt)))
        self.reset_parameters()

    def forward(self, input, output_size=None):
        """input (N, C_in, *spatial) -> (N, C_out, *spatial_out); output_size picks output_padding."""
        out_pad = self.output_padding
        if output_size is not None:
            d = self._d
            want = tuple(int(v) for v in output_size)[-d:]
            base = tuple((n - 1) * s - 2 * p + dl * (k - 1) + 1 for n, s, p, dl, k in
                         zip(input.shape[-d:], self.stride, self.padding, self.dilation, self.kernel_size))
            out_pad = tuple(w - b for w, b in zip(want, base))
            if any(o < 0 or o >= max(s, dl) for o, s, dl in zip(out_pad, self.stride, self.dilation)):
                raise ValueError(f"{type(self).__name__}: requested output_size {tuple(output_size)} is not reachable "
                                 f"from input of shape {tuple(input.shape)} (smallest {base})")
        return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding, out_pad, self.groups,
                              self.dilation)

    def extra_repr(self):
        """As PyTorch prints it."""
        s = super().extra_repr()
        if self.output_padding != (0,) * self._d:
            i = next((s.find(k) for k in (", groups", ", bias") if k in s), len(s))  # PyTorch's order
            s = s[:i] + f", output_padding={self.output_padding}" + s[i:]
        return s


class ConvTranspose1d(_ConvTransposeNd):
    """ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1). input (N, C_in, L) -> (N, C_out, L_out). See F.conv_transpose1d."""
    _d = 1
    _fn = staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1). input (N, C_in, H, W) -> (N, C_out, H_out, W_out). See F.conv_transpose2d."""
    _d = 2
    _fn = staticmethod(conv_transpose2d)


class Conv3d(_ConvNd):
    """Conv3d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True).
    input (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out). See F.conv3d."""
    _d = 3
    _fn = staticmethod(conv3d)


class ConvTranspose3d(_ConvTransposeNd):
    """ConvTranspose3d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1). input (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out). See F.conv_transpose3d."""
    _d = 3
    _fn = staticmethod(conv_transpose3d)
