"""Sliding windows (im2col) and their adjoint (col2im): the primitive behind convolution and pooling.

`windows` cuts every window a kernel visits out of the last d dims of x and lays them side by side:

    x (*lead, S1..Sd)  ->  cols (*lead, K1..Kd, O1..Od)
    cols[..., k, o] = x_padded[..., o * stride + k * dilation]          (per spatial dim)
    O = (S + pad_lo + pad_hi - dilation * (K - 1) - 1) // stride + 1

A convolution is then one matrix product of the weights with cols, a pooling one reduction of cols
over its K axes, and autograd derives both of their gradients. Every input element lands in zero or
more windows, so the vjp adds each window's gradient back where it came from (`col2im`, a
scatter-add); col2im is linear, and its own vjp is `windows` again, so create_graph works as well.
"""
import functools
from math import prod

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import defop, is_array


class WindowArgs:
    """Non-tensor parameters of a `windows` / `col2im` row; all tuples have one entry per spatial dim.
    pads: ((lo, hi), ...); value: what the padding holds (0 for conv/avg pooling, -inf for max pooling);
    size: the spatial shape of x (unpadded), out: the number of windows per dim."""
    __slots__ = ("kernel", "stride", "dilation", "pads", "value", "size", "out")

    def __init__(self, kernel, stride, dilation, pads, value, size):
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.pads, self.value, self.size = tuple(tuple(p) for p in pads), value, tuple(size)
        self.out = tuple((s + lo + hi - d * (k - 1) - 1) // st + 1
                         for s, (lo, hi), d, k, st in zip(self.size, self.pads, self.dilation, self.kernel, self.stride))

    def __repr__(self):
        return (f"WindowArgs(kernel={self.kernel}, stride={self.stride}, dilation={self.dilation}, "
                f"pads={self.pads}, out={self.out})")


def _padded(a, x):
    d = len(a.kernel)
    if not any(lo or hi for lo, hi in a.pads):
        return x
    if a.value != 0 and x.dtype.kind != "f":  # (np.pad's own error for -inf padding of an integer array)
        return np.pad(x, ((0, 0),) * (x.ndim - d) + a.pads, constant_values=a.value)
    # a filled buffer and one copy into its middle: np.pad does the same behind ~15 us of Python per call
    shape = x.shape[:-d] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[-d:], a.pads))
    out = np.zeros(shape, x.dtype) if a.value == 0 else np.full(shape, a.value, x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[-d:], a.pads))] = x
    return out


def _windows_ref(a, x):
    """The reference im2col: one copy of a strided view of every window (any number of dims)."""
    d = len(a.kernel)
    xp = _padded(a, x)
    st = xp.strides
    view = as_strided(xp, xp.shape[:-d] + a.kernel + a.out,
                      st[:-d] + tuple(s * dl for s, dl in zip(st[-d:], a.dilation))
                      + tuple(s * sd for s, sd in zip(st[-d:], a.stride)), writeable=False)
    return np.ascontiguousarray(view)  # (the copy is what one GEMM then reads row by row)


# Why 2-D col2im takes another route: numpy pays ~10-20 ns for every inner loop it runs, and an add
# that moves one window row at a time runs K1*K2 inner loops of only O2 elements per output row (24-64
# elements in a small CNN): the loop overhead, more than the memory, is the cost. Two stages keep the
# short rows to K2 passes instead of K1*K2: for each column offset k2, a buffer O2 wide with one row
# per padded row sums the K1 row offsets as whole contiguous O1 x O2 blocks (one long loop per image
# and channel when stride[0] == 1), then one strided add puts it in place. _col2im_ref is kept beside
# it and tested against it (tests/test_window_fast.py). The same split for the windows copy measured
# slower (8 x 16 x 64 x 64, 3x3: 0.54 -> 0.67 ms), so windows keeps its one strided copy.

def _row_slice(a, k1):
    """The padded rows that row offset k1 reads, one per window row."""
    return slice(k1 * a.dilation[0], k1 * a.dilation[0] + a.stride[0] * (a.out[0] - 1) + 1, a.stride[0])


def _col_slice(a, k2):
    """The padded columns that column offset k2 reads, one per window column."""
    return slice(k2 * a.dilation[1], k2 * a.dilation[1] + a.stride[1] * (a.out[1] - 1) + 1, a.stride[1])


def _windows_fwd(a, x):
    if _tiny(a, x.shape, x.shape[:x.ndim - 2]):
        return tiny_windows(a, x)
    return _windows_ref(a, x)  # (the two-stage route measured slower for the copy: 0.54 -> 0.67 ms, see RESULTS)


# Tiny 2-D windows and col2im (bench_ops' small case: 1 x 2 x 8 x 8): numpy's ~1 us per call is the whole cost,
# and the routes above make 10-20 calls (padding, strided view, copy; col2im's K1*K2 adds). Up to TINY_ELEMENTS
# elements of cols they are one gather each by cached index tables (gather_tables): windows reads x flattened,
# followed by the padding's value; col2im sums, for each input position, the columns that read it, in kernel
# order (the routes above add in another order: equal to rounding). conv2d.py's tiny path uses the same tables.
# (F.unfold of 1 x 2 x 8 x 8, 3x3 stride 2, forward + backward: 46 -> 22 us.) The limit is the one conv2d.py
# measured for its tiny convolutions (it counts the same columns).
TINY_ELEMENTS = 6144


def _tiny(a, shape, lead):
    return len(a.kernel) == 2 and len(shape) >= 2 and prod(lead) * prod(a.kernel) * prod(a.out) <= TINY_ELEMENTS


def gather_tables(a):
    """Index tables of the windows of geometry a (2-D): `win` (K1*K2*O1*O2,), for each column (k, o) its
    pixel of the flattened input, H*W where it reads the padding; `back` (H*W, hits), for each input pixel
    the columns that read it, in increasing order, padded with K1*K2*O1*O2 (a column past the last)."""
    return _gather_tables(a.size, a.out, a.kernel, a.stride, a.dilation, a.pads)


@functools.lru_cache(maxsize=256)
def _gather_tables(size, out, kernel, stride, dilation, pads):
    (H, W), (Ho, Wo), (K1, K2), (s1, s2), (d1, d2), ((lo1, _), (lo2, _)) = size, out, kernel, stride, dilation, pads
    kh, kw, oh, ow = np.meshgrid(np.arange(K1), np.arange(K2), np.arange(Ho), np.arange(Wo), indexing="ij")
    ih, iw = (oh * s1 + kh * d1 - lo1).ravel(), (ow * s2 + kw * d2 - lo2).ravel()
    inside = (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
    win = np.where(inside, ih * W + iw, H * W)
    cols = np.flatnonzero(inside)  # (increasing: a stable sort keeps each pixel's columns in kernel order)
    pixel = win[cols]
    order = np.argsort(pixel, kind="stable")
    pixel, cols = pixel[order], cols[order]
    rank = np.arange(pixel.size) - np.searchsorted(pixel, pixel)
    back = np.full((H * W, int(rank.max()) + 1 if rank.size else 1), win.size)
    back[pixel, rank] = cols
    win.flags.writeable = back.flags.writeable = False  # (shared by every call with this geometry)
    return win, back


def tiny_windows(a, x):
    """windows(x, a) for 2-D windows: one gather from x flattened, followed by the padding's value."""
    lead, (H, W) = x.shape[:-2], x.shape[-2:]
    xe = np.empty(lead + (H * W + 1,), x.dtype)
    xe[..., :-1] = x.reshape(lead + (H * W,))
    xe[..., -1] = a.value
    return np.take(xe, gather_tables(a)[0], axis=-1).reshape(lead + a.kernel + a.out)  # (take: 1.3 vs 4.6 us)


def tiny_col2im(a, cols):
    """col2im(cols, a) for 2-D windows: each input position sums the columns that read it (one gather)."""
    lead, n = cols.shape[:-4], prod(cols.shape[-4:])
    ce = np.zeros(lead + (n + 1,), cols.dtype)  # (a zero after the columns: what `back` pads with)
    ce[..., :-1] = cols.reshape(lead + (n,))
    return np.take(ce, gather_tables(a)[1], axis=-1).sum(-1).reshape(lead + a.size)


def _window_slices(a, k):
    """The slices of the padded input that kernel offset k (one index per dim) visits, one per window."""
    return tuple(slice(ki * dl, ki * dl + st * (o - 1) + 1, st)
                 for ki, dl, st, o in zip(k, a.dilation, a.stride, a.out))


_CHUNK_BYTES = 1 << 19  # the per-column-offset buffer of one chunk of images stays in the L2 cache


def _col2im_2d(a, cols):
    lead = cols.shape[:cols.ndim - 4]
    K1, K2 = a.kernel
    (lo1, hi1), (lo2, hi2) = a.pads
    rows = a.size[0] + lo1 + hi1
    n = prod(lead)
    c = cols.reshape((n,) + cols.shape[-4:])
    out = np.zeros((n, rows, a.size[1] + lo2 + hi2), cols.dtype)
    step = max(1, _CHUNK_BYTES // (rows * a.out[1] * cols.itemsize))  # images per chunk
    acc = np.empty((min(step, n), rows, a.out[1]), cols.dtype)
    for i in range(0, n, step):  # in chunks: out of cache, the extra passes over acc would cost memory traffic
        ci, oi, ai = c[i:i + step], out[i:i + step], acc[:min(step, n - i)]
        for k2 in range(K2):
            ai.fill(0)
            for k1 in range(K1):  # whole O1 x O2 blocks (stride[0] == 1): one long loop per image and channel
                dst = ai[:, _row_slice(a, k1), :]
                np.add(dst, ci[:, k1, k2], out=dst)
            dst = oi[:, :, _col_slice(a, k2)]  # the short rows: K2 passes instead of K1 * K2
            np.add(dst, ai, out=dst)
    out = out.reshape(lead + out.shape[1:])
    if lo1 or hi1 or lo2 or hi2:
        out = out[..., lo1:lo1 + a.size[0], lo2:lo2 + a.size[1]]
    return out


def _col2im_fwd(a, cols):
    if len(a.kernel) == 2 and cols.ndim >= 4:
        if _tiny(a, cols.shape, cols.shape[:-4]):
            return tiny_col2im(a, cols)
        return _col2im_2d(a, cols)
    return _col2im_ref(a, cols)


def _col2im_ref(a, cols):
    """The reference col2im: one strided add per kernel offset (any number of dims)."""
    d = len(a.kernel)
    lead = cols.shape[:cols.ndim - 2 * d]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(a.size, a.pads))
    out = np.zeros(lead + padded, cols.dtype)
    for k in np.ndindex(*a.kernel):  # one strided add per kernel offset (9 for a 3x3 kernel)
        dst = out[(Ellipsis,) + _window_slices(a, k)]
        np.add(dst, cols[(Ellipsis,) + k + (slice(None),) * d], out=dst)
    if any(lo or hi for lo, hi in a.pads):
        out = out[(Ellipsis,) + tuple(slice(lo, lo + s) for (lo, _), s in zip(a.pads, a.size))]
    return out


def col2im(g, a):
    """cols (*lead, *K, *O) -> (*lead, *size): each window's values added back where it was cut from."""
    if is_array(g):
        return _col2im_fwd(a, g)
    return g._unary(COL2IM, a)


def windows(x, a):
    """The `windows` row applied to a Tensor x (or an array): (*lead, *size) -> (*lead, *K, *O)."""
    if is_array(x):
        return _windows_fwd(a, x)
    return x._unary(WINDOWS, a)


def _zero_pad(a):
    """The same windows with zero padding (the adjoint of col2im never reads the padding's value)."""
    if a.value == 0:
        return a
    return WindowArgs(a.kernel, a.stride, a.dilation, a.pads, 0, a.size)


WINDOWS = defop("windows", _windows_fwd, lambda g, ans, a, x: col2im(g, a),
                forward="cols", math="cols[k, o] = x[o*stride + k*dilation - pad]: dx = col2im(dcols), "
                     "each window's gradient added back where it was cut from", reads=False,
                symbols={"cols": "the result: every window of x laid out as columns", "o": "an output position",
                         "stride": "the step between windows", "dilation": "the spacing inside a window",
                         "pad": "the padding added before the first window"})
COL2IM = defop("col2im", _col2im_fwd, lambda g, ans, a, cols: windows(g, _zero_pad(a)),
               forward="the windows in cols added back in place",
               math="C = the windows in cols added back in place: dcols = windows(dC) (the adjoint of windows)",
               reads=False, inputs=("cols",))


def window_args(op, x_shape, kernel, stride, dilation, pads, value=0.0):
    """Checked WindowArgs for the last len(kernel) dims of x_shape; errors name the op and shapes."""
    d = len(kernel)
    size = tuple(x_shape[-d:])
    a = WindowArgs(kernel, stride, dilation, pads, value, size)
    if any(k < 1 for k in a.kernel) or any(s < 1 for s in a.stride) or any(dl < 1 for dl in a.dilation):
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive, got kernel_size={a.kernel}, "
                         f"stride={a.stride}, dilation={a.dilation}")
    if any(lo < 0 or hi < 0 for lo, hi in a.pads):
        raise ValueError(f"{op}: padding must be non-negative, got {a.pads}")
    if any(o < 1 for o in a.out):
        eff = tuple(dl * (k - 1) + 1 for dl, k in zip(a.dilation, a.kernel))
        raise ValueError(f"{op}: input of shape {tuple(x_shape)} is too small: padded spatial size "
                         f"{tuple(s + lo + hi for s, (lo, hi) in zip(size, a.pads))} is smaller than the "
                         f"(dilated) kernel size {eff}")
    return a

