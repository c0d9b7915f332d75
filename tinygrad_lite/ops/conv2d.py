"""Stride-1 2-D convolution as one row: the fast path of F.conv2d and F.conv_transpose2d.

The general route (nn/conv.py) copies every window out (im2col, 9x the input for a 3x3 kernel), does
one matrix product per image and, backward, adds every window's gradient back (col2im). This row
computes the same convolution two ways, both without a col2im scatter:

* compiled (float32 and float64 when ops/jit.py's kernels are on: ops/conv_kernels.py). The input is
  copied once, zero-padded and flattened ("padded-flat"); every kernel tap is then one contiguous loop
  over the output pixels at a constant offset, 4 output channels from 8 input channels per pass
  (conv_flat), and the weight gradient a 4 x 4 block of sums held in registers over the pixels
  (weight_grad_flat). Input channels are padded to multiples of 8, output channels to 4, with zeros;
  the extra columns of each padded-width output row are dropped. The backward pads g once for both
  gradients. (8 x 16 x 64 x 64, 3x3, float32: forward 0.9 ms, as PyTorch's; the numpy path 1.8 ms.)
* numpy (the reference; also float16 and the kernels off): copy the zero-padded input K2 times, shifted
  by each column offset kj, into `cols` (N, K2*C, Hp*Wo) (row-major over the padded rows hp and output
  columns wo). The windows of kernel row ki are then the rows of `cols` shifted by ki*dilation: the
  contiguous column range cols[:, :, ki*d*Wo : ki*d*Wo + Ho*Wo], a view. So

    y = Σ_ki W_ki @ cols_ki          W_ki = w[:, :, ki, :] as (Cout, K2*C), ordered (kj, c)

  computed as one product (K1*Cout, K2*C) @ cols per image whose K1 row blocks are added shifted, on a
  copy K2 (not K1*K2) times the input. The weight gradient reads the same column copies of dy with x
  itself (_weight_grad), so the backward makes one copy K2 times dy.

Either way the input gradient is a convolution of dy with the flipped kernel (channels swapped, the
padding flipped: d*(K-1) - pad on each side), the same code, and the forward saves nothing but x and w.

Rows (vjps work on arrays and on Tensors, so create_graph=True records them):
* `conv2d(x, w)`: x (N, C, H, W), w (Cout, C, K1, K2), args a WindowArgs with stride 1, value 0.
* `conv2d_weight(x, dy)`: the weight gradient as a function of x and dy (its own vjps make the
  second order work: both are convolutions again).
The reference is the general route (windows + matmul / col2im), tested against this one
(tests/test_conv2d_rows.py); the compiled loops are tested against the numpy path
(tests/test_conv_kernels.py); all against PyTorch (tests/torch/test_conv_kernels_vs_torch.py and others).
"""
import numpy as np

from . import conv_kernels, defop, is_array
from .window import WindowArgs


# channel counts for the rows: their products are K2*C_in deep (the general route's K1*K2*C_in), too
# shallow for BLAS with fewer than 16 input channels (MNIST's first layer, 1 -> 32 channels, 64 x 28 x 28:
# 6.7 vs 1.5 ms), unless both counts are tiny (at most 8), where the general route's extra numpy calls
# and col2im cost more (bench_ops' small case, 2 -> 2 channels on 8 x 8: 45 vs 73 us; 8 -> 8 on
# 16 x 16 x 16: 0.33 vs 0.55 ms)
_MIN_CHANNELS, _TINY_CHANNELS = 16, 8


def fast_path_applies(x, w, stride, dilation, pads, groups):
    """The rule for the stride-1 rows: 2-D, stride 1, one group, float inputs of one dtype, padding the
    rows handle well and channel counts they handle well.
    * With the compiled loops (float32, float64) and at least _MIN_COMPILED input channels: any padding
      from 0 to d*(K-1) on each side ('valid' 32 -> 64 on 64 x 26 x 26: 33 vs 51 ms on the general
      route). They pad the input channels to a multiple of 8, so fewer channels stay with the rules of
      the numpy path (MNIST's first layer, 1 -> 32 channels, 64 x 28 x 28: 4.6 vs 2.3 ms there).
    * Otherwise: 'same' padding (half the dilated kernel span d*(K-1) on each side, rounded
      either way), and _MIN_CHANNELS. The input gradient is a convolution padded by d*(K-1) - pad: away
      from half the span, one of the two directions multiplies a border of zeros (MNIST's 'valid' 32 -> 64
      layer on 26 x 26: 17-26% more products, 58 vs 50 ms), where the general route, which skips them,
      is faster.
    w may be in either layout (conv2d's or conv_transpose2d's): its first two dims are C_in and C_out."""
    if not (len(stride) == 2 and stride == (1, 1) and groups == 1 and x.dtype == w.dtype and x.dtype.kind == "f"):
        return False
    spans = [(lo, hi, d * (k - 1)) for (lo, hi), d, k in zip(pads, dilation, w.shape[2:])]
    if _compiled(x, w) and x.shape[1] >= _MIN_COMPILED:
        return all(0 <= lo <= s and 0 <= hi <= s for lo, hi, s in spans)
    if not all(abs(2 * lo - s) <= 1 and abs(2 * hi - s) <= 1 for lo, hi, s in spans):
        return False
    return x.shape[1] >= _MIN_CHANNELS or max(w.shape[0], w.shape[1]) <= _TINY_CHANNELS


_MIN_COMPILED = 8


class ConvArgs(WindowArgs):
    """The geometry of a `conv2d` row: WindowArgs with stride 1 and zero padding, plus `flipped`: the
    weight is given as the kernel of the adjoint convolution, (C_in, C_out, K1, K2) flipped in both
    spatial dims (conv_transpose2d's layout). The input gradient of a convolution is a convolution
    with the same weight array read the other way, so the rules only toggle the flag."""
    __slots__ = ("flipped",)

    def __init__(self, kernel, dilation, pads, size, flipped=False):
        super().__init__(kernel, (1, 1), dilation, pads, 0, size)
        self.flipped = flipped

    def __repr__(self):
        return f"Conv{super().__repr__()[:-1]}, flipped={self.flipped})"


def _conv_args_of(kernel, dilation, pads, size, out, flipped):
    """A ConvArgs from fields already known (WindowArgs recomputes `out`: a few us per small conv step)."""
    a = ConvArgs.__new__(ConvArgs)
    a.kernel, a.stride, a.dilation, a.pads, a.value, a.size, a.out = kernel, (1, 1), dilation, pads, 0, size, out
    a.flipped = flipped
    return a


def conv_args(a):
    """The ConvArgs of a (stride-1, zero-padded) WindowArgs."""
    return _conv_args_of(a.kernel, a.dilation, a.pads, a.size, a.out, False)


def adjoint_args(a):
    """The geometry of the input gradient: a convolution of dy (size a.out) back to size a.size, the
    padding flipped (d*(K-1) - pad on each side), the weight read the other way."""
    pads = tuple((d * (k - 1) - lo, d * (k - 1) - hi) for (lo, hi), d, k in zip(a.pads, a.dilation, a.kernel))
    return _conv_args_of(a.kernel, a.dilation, pads, a.out, a.size, not a.flipped)


def _flip_swap(w):
    """w flipped in both spatial dims, dims 0 and 1 swapped (a view): the kernel of the adjoint convolution."""
    return w[:, :, ::-1, ::-1].swapaxes(0, 1)


def _column_copies(a, x):
    """x (N, C, H, W) -> cols (N, K2*C, Hp*Wo): cols[n, kj*C + c, hp*Wo + wo] = x_padded[n, c, hp, wo + kj*d2]."""
    N, C, H, W = x.shape
    K2, d2 = a.kernel[1], a.dilation[1]
    (lo1, hi1), (lo2, _) = a.pads
    Wo = a.out[1]
    cols = np.zeros((N, K2, C, H + lo1 + hi1, Wo), x.dtype)
    for kj in range(K2):
        shift = kj * d2 - lo2  # input column = output column + shift
        o0, o1 = max(0, -shift), min(Wo, W - shift)
        if o1 > o0:
            cols[:, kj, :, lo1:lo1 + H, o0:o1] = x[:, :, :, o0 + shift:o1 + shift]
    return cols.reshape(N, K2 * C, cols.shape[3] * Wo)


def _row_step(a):
    """How far apart in `cols` (along its last dim) two consecutive kernel rows read."""
    return a.dilation[0] * a.out[1]


def _conv(a, x, w):
    """The convolution of x (N, C, H, W) with w as a.flipped says -> y (N, Cout, Ho, Wo)."""
    if _compiled(x, w):
        return _conv_compiled(a, x, w)
    return _conv_on(a, _column_copies(a, x), w)


def _compiled(*arrays):
    """Whether the compiled loops (ops/conv_kernels.py) take arrays of these: kernels on, one dtype,
    float32 or float64."""
    return (conv_kernels.conv_flat is not None and arrays[0].dtype in _KERNEL_DTYPES
            and all(v.dtype == arrays[0].dtype for v in arrays))


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _round_up(n, m):
    return -(-n // m) * m


def _padded_flat(v, pads, channels, reach):
    """v (N, C, H, W) zero-padded by pads ((lo1, hi1), (lo2, hi2)) and to `channels` channels, with enough
    zero rows below that the flat index (last row + 1) * Wp - 1 + reach is inside: (N, channels, rows * Wp)
    C-contiguous (conv_kernels' padded-flat layout), and Wp."""
    N, C, H, W = v.shape
    (lo1, hi1), (lo2, hi2) = pads
    Wp = W + lo2 + hi2
    buf = np.zeros((N, channels, H + lo1 + hi1 + -(-reach // Wp), Wp), v.dtype)
    buf[:, :C, lo1:lo1 + H, lo2:lo2 + W] = v
    return buf.reshape(N, channels, buf.shape[2] * Wp), Wp


def _reach(a):
    """How far right of its row a flat read of a padded-flat image may go: the last kernel column's offset."""
    return (a.kernel[1] - 1) * a.dilation[1]


def _kernel_weight(a, w):
    """w in conv2d's layout (flipped back when a.flipped), zero-padded to multiples of 4 output and 8 input
    channels, C-contiguous: conv_flat's weight."""
    if a.flipped:
        w = _flip_swap(w)
    Cout, C = w.shape[:2]
    wk = np.zeros((_round_up(Cout, 4), _round_up(C, 8)) + w.shape[2:], w.dtype)
    wk[:Cout, :C] = w
    return wk


def _conv_compiled(a, x, w, xf=None):
    """_conv by conv_flat on the padded-flat x (xf, when the caller has it; its channels a multiple of 8)."""
    wk = _kernel_weight(a, w)
    Cout = w.shape[1] if a.flipped else w.shape[0]
    if xf is None:
        xf, Wp = _padded_flat(x, a.pads, wk.shape[1], _reach(a))
    else:
        Wp = x.shape[3] + a.pads[1][0] + a.pads[1][1]
    N, (Ho, Wo) = x.shape[0], a.out
    yb = np.empty((N, wk.shape[0], Ho, Wp), x.dtype)
    conv_kernels.conv_flat(xf, wk, yb.reshape(N, wk.shape[0], Ho * Wp), Wp, *a.dilation)
    return np.ascontiguousarray(yb[:, :Cout, :, :Wo])


def _grads_compiled(a, x, w, g, needs):
    """(dx, dw) by the compiled loops: one padded-flat copy of g serves both (the weight gradient reads it
    where its padded width is x's), one of x the weight gradient."""
    adj = adjoint_args(a)
    gf, Wg = _padded_flat(g, adj.pads, _round_up(g.shape[1], 8), _reach(adj))
    dx = _conv_compiled(adj, g, w, gf) if needs[0] else None
    if not needs[1]:
        return dx, None
    xf, Wp = _padded_flat(x, a.pads, _round_up(x.shape[1], 4), _reach(a))
    (Ho, Wo), (K1, K2) = a.out, a.kernel
    if Wg == Wp:  # (g sits in gf at rows lo1', columns lo2' of the adjoint padding; the rest is zero)
        base = adj.pads[0][0] * Wp + adj.pads[1][0]
    else:
        gf, base = _padded_flat(g, ((0, 0), (0, Wp - Wo)), _round_up(g.shape[1], 4), 0)[0], 0
    dw = np.zeros((gf.shape[1], xf.shape[1], K1, K2), x.dtype)
    conv_kernels.weight_grad_flat(xf, gf, dw, Wp, *a.dilation, base, Ho * Wp)
    dw = dw[:g.shape[1], :x.shape[1]]
    if not np.isfinite(dw).all():  # (the zero columns of g met an inf or NaN of x: see _weight_grad_on)
        return dx, _weight_grad_exact(a, x, g)
    return dx, np.ascontiguousarray(_flip_swap(dw) if a.flipped else dw)


def _conv_on(a, cols, w):
    """y from the column copies of x. One matrix product for all kernel rows at once, (K1*Cout, K2*C)
    @ cols per image: a taller left side runs OpenBLAS's kernels faster than K1 products with Cout
    rows each (16 channels: 1.45 vs 1.58 ms), then K1 shifted blocks of its result are added. y is a
    fresh array, not a view (the engine then hands it to a leaf's .grad without a copy)."""
    if a.flipped:
        w = _flip_swap(w)
    N, Cout, (K1, K2), (Ho, Wo) = cols.shape[0], w.shape[0], a.kernel, a.out
    P, step = Ho * Wo, _row_step(a)
    ws = w.transpose(2, 0, 3, 1).reshape(K1 * Cout, -1)  # rows (ki, co), columns (kj, c) as in cols
    y = np.empty((N, Cout, Ho, Wo), np.result_type(cols, w))
    flat = y.reshape(N, Cout, P)
    if K1 == 1:  # (then cols has exactly the P output columns)
        np.matmul(ws, cols, out=flat)
        return y
    prods = np.matmul(ws, cols)  # (N, K1*Cout, Hp*Wo)
    np.add(prods[:, :Cout, :P], prods[:, Cout:2 * Cout, step:step + P], out=flat)
    for ki in range(2, K1):
        flat += prods[:, ki * Cout:(ki + 1) * Cout, ki * step:ki * step + P]
    return y


# input channels from which the weight gradient reads the column copies of g: its products have C
# columns, and OpenBLAS runs products with fewer than 16 columns several times slower per flop
# ((96 x 784) @ (784 x 4) per image: 7 GF/s); below, the products on windows of x have K2*C columns
_WIDE_ENOUGH = 16


def _weight_grad(a, x, g, cols_g=None):
    """dW in w's layout: by the compiled loops when they are on, else on cols_g (built here when not
    given) for C_in >= _WIDE_ENOUGH, else on windows of x (_weight_grad_exact)."""
    if cols_g is None and _compiled(x, g):
        return _grads_compiled(a, x, None, g, (False, True))[1]
    if x.shape[1] < _WIDE_ENOUGH:
        return _weight_grad_exact(a, x, g)
    return _weight_grad_on(a, x, g, _column_copies(adjoint_args(a), g) if cols_g is None else cols_g)


def _weight_grad_on(a, x, g, cols_g):
    """dW in w's layout, from the column copies of g that the input gradient reads (cols_g, for the
    geometry adjoint_args(a)): with r = K1-1-ki and s = K2-1-kj,

        dW[co, c, ki, kj] = Σ_n Σ_hw cols_g[n, s*Cout + co, r*d*W + hw] x[n, c, hw]

    one (K2*Cout, H*W) @ (H*W, C) product per kernel row and image, on views: no copy of x, and the
    backward builds one set of column copies (of g) for both gradients. The padding of g in cols_g
    meets every position of x, so an inf or NaN in x would make NaN where the gradient is finite
    (0 * inf): a non-finite result is computed again on windows of x (_weight_grad_exact)."""
    (K1, K2), (N, C, H, W), Cout = a.kernel, x.shape, g.shape[1]
    P, step = H * W, a.dilation[0] * W
    xt = x.reshape(N, C, P).transpose(0, 2, 1)
    with np.errstate(invalid="ignore"):  # (0 * inf: handled below)
        d = np.stack([_sum_images(np.matmul(cols_g[:, :, r * step:r * step + P], xt)) for r in range(K1)])
    if not np.isfinite(d).all():
        return _weight_grad_exact(a, x, g)
    d = d.reshape(K1, K2, Cout, C)  # (r, s, co, c)
    return np.ascontiguousarray(d.transpose(3, 2, 0, 1) if a.flipped else d[::-1, ::-1].transpose(2, 3, 0, 1))


def _weight_grad_exact(a, x, g):
    """dW on the windows of x, one product per kernel row ki: Σ_n g_n @ (the columns row ki reads)ᵀ."""
    cols = _column_copies(a, x)
    (K1, K2), N, Cout, P, step = a.kernel, g.shape[0], g.shape[1], a.out[0] * a.out[1], _row_step(a)
    gf = g.reshape(N, Cout, P)
    dw = np.stack([_sum_images(np.matmul(gf, cols[:, :, ki * step:ki * step + P].transpose(0, 2, 1)))
                   for ki in range(K1)])  # (ki, co, (kj, c))
    dw = dw.reshape(K1, Cout, K2, -1).transpose(1, 3, 0, 2)
    return np.ascontiguousarray(_flip_swap(dw) if a.flipped else dw)


def _sum_images(prods):
    return prods[0] if prods.shape[0] == 1 else prods.sum(0)


def conv2d(x, w, a):
    """The `conv2d` row: x (N, C, H, W), w (Cout, C, K1, K2) (or (C, Cout, K1, K2) flipped when
    a.flipped) -> (N, Cout, Ho, Wo); arrays or Tensors."""
    if is_array(x) and is_array(w):
        return _conv(a, x, w)
    x, w = _as_tensor(x, w), _as_tensor(w, x)
    return x._make(_conv(a, x._data, w._data), CONV2D, (x, w), a, x.requires_grad or w.requires_grad)


def conv2d_weight(x, g, a):
    """The `conv2d_weight` row: the weight gradient of conv2d(x, ., a) for the output gradient g (in
    the weight's layout, flipped when a.flipped)."""
    if is_array(x) and is_array(g):
        return _weight_grad(a, x, g)
    x, g = _as_tensor(x, g), _as_tensor(g, x)
    return x._make(_weight_grad(a, x._data, g._data), CONV2D_WEIGHT, (x, g), a, x.requires_grad or g.requires_grad)


def _as_tensor(v, other):
    """v as a Tensor (a leaf around it when v is an array and `other` is a Tensor)."""
    return other._leaf(v) if is_array(v) else v


def _conv_grads(g, ans, a, saved, needs, x, w):
    if not is_array(g):  # create_graph: the same math through the rows, recorded
        return (conv2d(g, w, adjoint_args(a)) if needs[0] else None,
                conv2d_weight(x, g, a) if needs[1] else None)
    if _compiled(x, w, g):
        return _grads_compiled(a, x, w, g, needs)
    adj = adjoint_args(a)
    cols_g = _column_copies(adj, g) if needs[0] else None  # (the weight gradient may read it too)
    return (_conv_on(adj, cols_g, w) if needs[0] else None,
            _weight_grad(a, x, g, cols_g) if needs[1] else None)


_SYMBOLS = {"r": "a kernel row (0 .. K1 - 1)", "n": "an image of the batch",
            "W_r": "kernel row r of W as a (C_out, K2 C_in) matrix, columns ordered (kernel column, channel)",
            "cols": "the padded input copied K2 times, shifted by each kernel column: (K2 C_in, padded rows x W_out)",
            "cols_r": "the columns of cols that kernel row r reads (cols shifted by r rows, a view)",
            "W̃": "W flipped in both spatial dims, in and out channels swapped (the same array read the other "
                  "way: the adjoint geometry's flag, no copy)",
            "conv2d": "this row (a stride-1 convolution)", "conv2d_weight": "the weight gradient row",
            "C_out": "the number of output channels", "C_in": "the number of input channels",
            "K1": "the kernel's height", "K2": "the kernel's width", "pad": "the padding of the convolution",
            "pad̃": "the flipped padding, dilation (K - 1) - pad", "dilation": "the spacing inside a window",
            "K": "the kernel size", "dC_n": "image n's part of dC", "g_n": "image n's part of g"}
CONV2D = defop("conv2d", lambda a, x, w: _conv(a, x, w), joint=_conv_grads,
               forward="Σ over r of W_r @ cols_r",
               math="C = Σ over r of W_r @ cols_r: dx = conv2d(dC, W̃) with padding pad̃, "
                    "dW_r = Σ over n of dC_n @ cols_rᵀ",
               rule="dx = conv2d(dC, W̃, pad̃), dW = conv2d_weight(x, dC)", saves=("x", "W"),
               inputs=("x", "W"), symbols=_SYMBOLS)
CONV2D_WEIGHT = defop("conv2d_weight", lambda a, x, g: _weight_grad(a, x, g),
                      lambda D, ans, a, x, g: conv2d(g, D, adjoint_args(a)),
                      lambda D, ans, a, x, g: conv2d(x, D, a),
                      forward="dW of conv2d(x, W) for the output gradient g: its row r is Σ over n of "
                              "g_n @ cols_rᵀ",
                      math="C = dW of conv2d(x, W) for its output gradient g: dx = conv2d(g, dC̃) with padding "
                           "pad̃, dg = conv2d(x, dC)",
                      rule="dx = conv2d(g, dC̃, pad̃), dg = conv2d(x, dC)", saves=("x", "g"), inputs=("x", "g"),
                      symbols=dict(_SYMBOLS, **{"dC̃": "dC flipped in both spatial dims, in and out channels "
                                                      "swapped", "W": "the weight of that convolution"}))
