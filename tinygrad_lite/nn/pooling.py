"""Pooling: max / average / adaptive average over 1-D, 2-D and 3-D windows, functional forms and layers.

Max and average pooling reduce the `windows` primitive's columns (tinygrad_lite/ops/window.py) over
the kernel axes, so autograd derives their gradients (max: to the window's maximum; mean: spread
evenly). Adaptive average pooling is linear along each axis: one matrix product per pooled axis.
"""
from math import prod

import numpy as np

from ..ops.window import window_args, windows
from ..functions import where
from ..tensor import Tensor
from .conv import ntuple
from .module import Module

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d",
           "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"]


def _input(op, input, d):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (d + 1, d + 2):
        raise ValueError(f"{op}: expected input of shape (N, C, {d} spatial dims) or (C, {d} spatial dims), "
                         f"got {tuple(input.shape)}")
    return input


def _geometry(op, d, x, kernel_size, stride, padding, dilation, ceil_mode, value):
    """WindowArgs for a pooling: stride defaults to the kernel; ceil_mode adds padding at the end so the
    last partial window counts (if it starts inside the input or the left padding, PyTorch's rule)."""
    k = ntuple(op, "kernel_size", kernel_size, d)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else ntuple(op, "stride", stride, d)
    p = ntuple(op, "padding", padding, d)
    dl = ntuple(op, "dilation", dilation, d)
    if any(pi < 0 or 2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(f"{op}: padding should be at most half of the kernel size, got padding={p} and "
                         f"kernel_size={k}")
    pads, outs = [], []
    for S, K, st, P, D in zip(x.shape[-d:], k, s, p, dl):
        eff = D * (K - 1) + 1
        if ceil_mode:
            O = -(-(S + 2 * P - eff) // st) + 1
            if (O - 1) * st >= S + P:
                O -= 1
        else:
            O = (S + 2 * P - eff) // st + 1
        pads.append((P, max(0, (O - 1) * st + eff - S - P)))
        outs.append(O)
    a = window_args(op, x.shape, k, s, dl, pads, value)
    assert a.out == tuple(outs), (a.out, outs)
    return a


def _first_max(c, axis):
    """A mask of c with one True per window along `axis`: the first maximum (PyTorch's choice among ties).
    c must be free of NaN and infinities."""
    m = np.maximum.reduce(c, axis=axis)  # (numpy's argmax over a middle axis is ~5x slower than this loop)
    first = np.empty(c.shape, bool)
    taken = np.zeros(m.shape, bool)
    for k in range(c.shape[axis]):
        e = np.take(c, k, axis=axis) == m
        e &= ~taken
        first[(slice(None),) * axis + (k,)] = e
        taken |= e
    return first


def _max_pool(op, d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if return_indices:
        raise NotImplementedError(f"{op}: return_indices=True is not supported")
    x = _input(op, input, d)
    finite = x.dtype.kind == "f" and bool(np.isfinite(x._data).all())
    # padding holds the lowest value (finite on the fast path; padding <= kernel / 2 leaves a real element
    # in every window)
    low = (np.finfo(x.dtype).min if finite else -np.inf) if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    a = _geometry(op, d, x, kernel_size, stride, padding, dilation, ceil_mode, low)
    lead = x.ndim - d
    cols = windows(x, a).reshape(tuple(x.shape[:lead]) + (prod(a.kernel),) + a.out)  # (*lead, K, *O)
    # the maximum as a masked sum, so the gradient goes to the first maximum of each window, as PyTorch's
    # (amax would split it among ties: after a relu, whole windows of zeros)
    if finite:
        first = _first_max(cols._data, lead)
        return (cols * Tensor._leaf(first.astype(x.dtype))).sum(lead)  # (a product: 50x faster than np.where)
    first = np.expand_dims(cols._data.argmax(lead), lead) == np.arange(prod(a.kernel)).reshape((-1,) + (1,) * d)
    return where(first, cols, 0).sum(lead)  # NaN or infinities: argmax's rule (NaN wins), no 0 * inf


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over windows of the last dim: (N, C, L) or (C, L) -> (N, C, L_out). Padding is never the maximum."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over windows of the last two dims: (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out).
    stride defaults to kernel_size; padding is never the maximum (as PyTorch's -inf)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over windows of the last three dims: (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out)."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _divisor(a, count_include_pad):
    """The number of elements each window averages (PyTorch's rule: windows are clipped to the padded
    input, and with count_include_pad=False to the input itself), shape a.out."""
    out = np.ones((), np.float64)
    for S, K, st, (P, _), O in zip(a.size, a.kernel, a.stride, a.pads, a.out):
        start = np.arange(O) * st - P
        end = np.minimum(start + K, S + P)
        n = end - start if count_include_pad else np.minimum(end, S) - np.maximum(start, 0)
        out = np.multiply.outer(out, n)
    return out


def _avg_pool(op, d, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x = _input(op, input, d)
    a = _geometry(op, d, x, kernel_size, stride, padding, 1, ceil_mode, 0.0)
    lead = x.ndim - d
    cols = windows(x, a)
    total = cols.reshape(tuple(x.shape[:lead]) + (prod(a.kernel),) + a.out).sum(lead)
    if divisor_override:
        return total * (1.0 / divisor_override)
    scale = 1.0 / _divisor(a, count_include_pad)
    return total * Tensor._leaf(scale.astype(x.dtype))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of the last dim: (N, C, L) or (C, L) -> (N, C, L_out)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over windows of the last two dims: (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out).
    count_include_pad: zero padding counts in the divisor; divisor_override replaces the divisor."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over windows of the last three dims: (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out)."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_matrix(S, O, dtype):
    """(S, O): column i averages the input range [floor(i S / O), ceil((i + 1) S / O)), PyTorch's cells."""
    m = np.zeros((S, O), dtype)
    for i in range(O):
        lo, hi = (i * S) // O, -(-((i + 1) * S) // O)
        m[lo:hi, i] = 1.0 / (hi - lo)
    return m


def _adaptive_avg(op, d, input, output_size):
    x = _input(op, input, d)
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * d
    sizes = tuple(output_size)
    if len(sizes) != d:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {d}, got {output_size!r}")
    sizes = tuple(S if O is None else int(O) for S, O in zip(x.shape[-d:], sizes))
    if any(O < 1 for O in sizes):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    dt = x.dtype if x.dtype.kind == "f" else np.float64
    out = x
    for axis in range(1, d + 1):  # pool the last axis, then the one before it, ...
        S, O = x.shape[-axis], sizes[-axis]
        if S == O:
            continue
        if O == 1:  # global average: a mean (cheaper than a product with a column of 1/S)
            out = out.mean(x.ndim - axis, keepdim=True)
            continue
        m = Tensor._leaf(_adaptive_matrix(S, O, dt))
        out = matmul_along(out, -axis, m)
    return out


def matmul_along(x, dim, m):
    """x with its dim `dim` (of size S) replaced by m's columns: (..., S, ...) @ m (S, O) along that dim, by
    one matrix product (the dim moved last and back), so the gradient is the transposed product."""
    if dim in (-1, x.ndim - 1):
        return x @ m
    return (x.transpose(-1, dim) @ m).transpose(-1, dim)


def adaptive_avg_pool1d(input, output_size):
    """Average over output_size adaptive cells of the last dim: (N, C, L) -> (N, C, output_size)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average over adaptive cells of the last two dims: (N, C, H, W) -> (N, C, *output_size);
    output_size an int, a pair, or a pair with None (keep that dim)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Average over adaptive cells of the last three dims: (N, C, D, H, W) -> (N, C, *output_size)."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


class _MaxPoolNd(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        if return_indices:
            raise NotImplementedError(f"{type(self).__name__}: return_indices=True is not supported")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        """input (N, C, *spatial) or (C, *spatial) -> pooled."""
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        """As PyTorch prints it."""
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """MaxPool1d(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False). See F.max_pool1d."""
    _fn = staticmethod(max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False). See F.max_pool2d."""
    _fn = staticmethod(max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """MaxPool3d(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False). See F.max_pool3d."""
    _fn = staticmethod(max_pool3d)


class AvgPool1d(Module):
    """AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True). See F.avg_pool1d."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride = ntuple("AvgPool1d", "kernel_size", kernel_size, 1), None
        self.stride = self.kernel_size if stride is None else ntuple("AvgPool1d", "stride", stride, 1)
        self.padding = ntuple("AvgPool1d", "padding", padding, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        """input (N, C, L) or (C, L) -> (N, C, L_out)."""
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    """Shared by AvgPool2d and AvgPool3d."""
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        """input (N, C, *spatial) or (C, *spatial) -> pooled."""
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None). See F.avg_pool2d."""
    _fn = staticmethod(avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """AvgPool3d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None). See F.avg_pool3d."""
    _fn = staticmethod(avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    _fn = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        """input (N, C, *spatial) -> (N, C, *output_size)."""
        return type(self)._fn(input, self.output_size)

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """AdaptiveAvgPool1d(output_size). See F.adaptive_avg_pool1d."""
    _fn = staticmethod(adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """AdaptiveAvgPool2d(output_size). See F.adaptive_avg_pool2d."""
    _fn = staticmethod(adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """AdaptiveAvgPool3d(output_size). See F.adaptive_avg_pool3d."""
    _fn = staticmethod(adaptive_avg_pool3d)
