"""2-D convolution as one row: the fast path of F.conv2d and F.conv_transpose2d (stride 1, and any
stride when the compiled loops are on).

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

Strided (ConvArgs.stride > 1; the rule takes these only with the compiled loops): the padded input is
split into its s1*s2 phase planes (plane (a, b) holds the padded rows a, a + s1, ... and columns b,
b + s2, ...), where every kernel tap of the strided convolution A is a stride-1 tap of one plane; the
same loops then compute A (conv_taps from the planes), its adjoint Aᵀ = conv_transpose2d (conv_taps into
the planes of the result, which are then interleaved) and the weight gradient (weight_grad_taps). No
structural zero is multiplied: only the taps A has. 8 x 16 x 64 x 64, 3x3, stride 2, float32, forward +
backward: 3.1 ms on the general route (windows copies, col2im), ~1.4 ms here. The numpy path of the
strided row is the general route's arithmetic on arrays (windows + product, product + col2im).

Tiny (bench_ops' small case, 1 x 2 x 8 x 8): any stride, the general route's arithmetic in fewer numpy calls,
windows and col2im as gathers by cached index tables (_TINY_ELEMENTS; 24-31 us per forward + backward, as
PyTorch's 20-23 us within 1.4x).

Rows (vjps work on arrays and on Tensors, so create_graph=True records them):
* `conv2d(x, w)`: x (N, C, H, W), w (Cout, C, K1, K2), args a ConvArgs (flipped: the adjoint).
* `conv2d_weight(x, dy)`: the weight gradient as a function of x and dy (its own vjps make the
  second order work: both are convolutions again).
The reference is the general route (windows + matmul / col2im), tested against this one
(tests/test_conv2d_rows.py); the compiled loops are tested against the numpy path
(tests/test_conv_kernels.py); all against PyTorch (tests/torch/test_conv_kernels_vs_torch.py and others).
"""
import functools

import numpy as np

from . import conv_kernels, defop, is_array
from .window import TINY_ELEMENTS, WindowArgs, col2im, tiny_col2im, tiny_windows, windows


# channel counts for the rows: their products are K2*C_in deep (the general route's K1*K2*C_in), too
# shallow for BLAS with fewer than 16 input channels (MNIST's first layer, 1 -> 32 channels, 64 x 28 x 28:
# 6.7 vs 1.5 ms), unless both counts are tiny (at most 8), where the general route's extra numpy calls
# and col2im cost more (bench_ops' small case, 2 -> 2 channels on 8 x 8: 45 vs 73 us; 8 -> 8 on
# 16 x 16 x 16: 0.33 vs 0.55 ms)
_MIN_CHANNELS, _TINY_CHANNELS = 16, 8


def fast_path_applies(x, w, stride, dilation, pads, groups, transposed=False):
    """The rule for the stride-1 rows: 2-D, stride 1, one group, float inputs of one dtype, padding the
    rows handle well and channel counts they handle well.
    * With the compiled loops (float32, float64), at least _MIN_COMPILED input channels and _MIN_PIXELS
      output pixels per image (the convolution's: `transposed` says x is its output): any stride, any
      padding from 0 to d*(K-1) on each side ('valid' 32 -> 64 on 64 x 26 x 26: 33 vs 51 ms on the
      general route). They pad the input channels to a multiple of 8, so fewer channels stay with the rules of
      the numpy path (MNIST's first layer, 1 -> 32 channels, 64 x 28 x 28: 4.6 vs 2.3 ms there).
    * Otherwise: 'same' padding (half the dilated kernel span d*(K-1) on each side, rounded
      either way), and _MIN_CHANNELS. The input gradient is a convolution padded by d*(K-1) - pad: away
      from half the span, one of the two directions multiplies a border of zeros (MNIST's 'valid' 32 -> 64
      layer on 26 x 26: 17-26% more products, 58 vs 50 ms), where the general route, which skips them,
      is faster.
    * Tiny convolutions (up to _TINY_ELEMENTS in the columns): any stride, any padding from 0 to d*(K-1)
      (stride 1; any padding strided), with or without the compiled loops: the row's tiny path.
    w may be in either layout (conv2d's or conv_transpose2d's): its first two dims are C_in and C_out.
    The decision is cached by everything it reads (shapes, dtypes, arguments, the kernels' switch and the
    thresholds): ~5 us per small convolution otherwise."""
    return _rule(tuple(x.shape), tuple(w.shape), x.dtype, w.dtype, tuple(stride), tuple(dilation), tuple(pads),
                 groups, transposed, conv_kernels.conv_taps is not None,
                 (_MIN_COMPILED, _MIN_PIXELS, _MIN_CHANNELS, _TINY_CHANNELS, _TINY_ELEMENTS))


@functools.lru_cache(maxsize=512)
def _rule(x_shape, w_shape, x_dtype, w_dtype, stride, dilation, pads, groups, transposed, kernels_on, thresholds):
    min_compiled, min_pixels, min_channels, tiny_channels, tiny_elements = thresholds
    if not (len(stride) == 2 and groups == 1 and x_dtype == w_dtype and x_dtype.kind == "f"):
        return False
    spans = [(lo, hi, d * (k - 1)) for (lo, hi), d, k in zip(pads, dilation, w_shape[2:])]
    pixels = _output_pixels(x_shape, spans, stride, transposed)
    compiled = kernels_on and x_dtype in _KERNEL_DTYPES and x_shape[1] >= min_compiled and pixels >= min_pixels
    tiny = _tiny_elements(x_shape[0], max(w_shape[:2]), w_shape[2:], pixels) <= tiny_elements
    if stride != (1, 1):  # (the strided row: compiled or tiny only; else the general route is the same code)
        return compiled or tiny
    if compiled or tiny:
        return all(0 <= lo <= s and 0 <= hi <= s for lo, hi, s in spans)
    if not all(abs(2 * lo - s) <= 1 and abs(2 * hi - s) <= 1 for lo, hi, s in spans):
        return False
    return x_shape[1] >= min_channels or max(w_shape[0], w_shape[1]) <= tiny_channels


def _output_pixels(x_shape, spans, stride, transposed):
    """The output pixels per image of the convolution an input of x_shape is the input (or, transposed, the
    output) of."""
    (H, W), ((lo1, hi1, sp1), (lo2, hi2, sp2)), (s1, s2) = x_shape[2:], spans, stride
    if transposed:
        return H * W
    return ((H + lo1 + hi1 - sp1 - 1) // s1 + 1) * ((W + lo2 + hi2 - sp2 - 1) // s2 + 1)


# the compiled loops run one loop per output plane, tap and block of channels: on small images these are
# a few vectors long and their setup costs more than BLAS's products (64 -> 64 channels, 16 x 10 x 10,
# 3x3: 5.3 vs 3.9 ms; 16 x 14 x 14: 6.1 vs 7.2; 32 -> 64 stride 2, 64 x 13 x 13 (7 x 7 out): 9.2 vs
# 7.4 ms; 64 x 21 x 21 (11 x 11 out): 14.0 vs 15.5)
_MIN_COMPILED, _MIN_PIXELS = 8, 144


class ConvArgs(WindowArgs):
    """The geometry of a `conv2d` row: WindowArgs with zero padding, plus `flipped`: the row computes the
    adjoint (the transposed convolution) Aᵀ of the convolution A with the same weight array. With stride
    1, Aᵀ is itself a stride-1 convolution: the weight read as its kernel, (C_in, C_out, K1, K2) flipped
    in both spatial dims, and pads the flipped ones of A (d*(K-1) - pad); `out` is computed as usual.
    With a larger stride, pads are A's own, `size` is A's output size (the row's input) and `out` A's
    input size (which output_padding may make larger than the formula's). The input gradient of the row
    is the row with the flag toggled (adjoint_args), so the rules only toggle it."""
    __slots__ = ("flipped",)

    def __init__(self, kernel, dilation, pads, size, flipped=False, stride=(1, 1)):
        super().__init__(kernel, stride, dilation, pads, 0, size)
        self.flipped = flipped

    def __repr__(self):
        return f"Conv{super().__repr__()[:-1]}, flipped={self.flipped})"


def _conv_args_of(kernel, dilation, pads, size, out, flipped, stride=(1, 1)):
    """A ConvArgs from fields already known (WindowArgs recomputes `out`: a few us per small conv step)."""
    a = ConvArgs.__new__(ConvArgs)
    a.kernel, a.stride, a.dilation, a.pads, a.value, a.size, a.out = kernel, stride, dilation, pads, 0, size, out
    a.flipped = flipped
    return a


def conv_args(a):
    """The ConvArgs of a (zero-padded) WindowArgs: the convolution A itself."""
    return _conv_args_of(a.kernel, a.dilation, a.pads, a.size, a.out, False, a.stride)


def adjoint_args(a):
    """The geometry of the input gradient: a convolution of dy (size a.out) back to size a.size, the
    weight read the other way; with stride 1 the padding flipped (d*(K-1) - pad on each side)."""
    if a.stride != (1, 1):
        return _conv_args_of(a.kernel, a.dilation, a.pads, a.out, a.size, not a.flipped, a.stride)
    pads = tuple((d * (k - 1) - lo, d * (k - 1) - hi) for (lo, hi), d, k in zip(a.pads, a.dilation, a.kernel))
    return _conv_args_of(a.kernel, a.dilation, pads, a.out, a.size, not a.flipped)


def _strided_geometry(a):
    """The WindowArgs of the strided convolution A that a computes (a.flipped: its adjoint)."""
    size = a.out if a.flipped else a.size
    return WindowArgs(a.kernel, a.stride, a.dilation, a.pads, 0, size)


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
    if _tiny(a, x, w):
        return _tiny_conv(a, x, w)
    if a.stride != (1, 1) or a.flipped:
        # the phase planes (strided) and the stride-1 paths of a transposed convolution (conv_transpose2d, every
        # input gradient) pair zero padding with every weight: with an inf or NaN among them, 0 * inf would put
        # NaN where the general route, which never pairs them, has none. Such weights take the general route's
        # arithmetic (the strided numpy path; stride 1: the tiny path's gathers, at any size)
        finite = np.isfinite(w).all()
        if a.stride != (1, 1):
            if finite and _compiled(x, w) and _big_enough(a):
                return _transposed_compiled(a, x, w) if a.flipped else _forward_compiled(a, x, w)
            return _strided_numpy(a, x, w)
        if not finite:
            return _tiny_conv(a, x, w)
    if _compiled(x, w) and _big_enough(a):
        return _conv_compiled(a, x, w)
    return _conv_on(a, _column_copies(a, x), w)


# Tiny convolutions (bench_ops' small case: 1 x 2 x 8 x 8 images, 2 -> 2 channels, 3 x 3): every array is a
# few hundred elements and numpy's cost per call (~1 us) is all there is. There the row computes the general
# route's arithmetic (windows + one product, one product + col2im) with fewer calls: the windows as one
# gather from the flattened image by a cached index table, col2im as one gather of the products plus a sum
# over the (at most K1*K2) windows that meet each input position, in kernel order. Up to _TINY_ELEMENTS
# elements in A's columns (N * max(C_in, C_out) * K1*K2 * A's output pixels). The row is A, or Aᵀ when
# flipped (A = adjoint_args(a), w in A's layout either way), so each pair of values meets as on the general
# route: an inf or NaN reaches the same outputs (the stride-1 numpy path convolves a flipped row's zero
# padding with w instead).
# (forward + backward, float32, tiny path vs before: 2 x 4 x 8 x 8 3x3 padding 1: 36 vs 50 us, stride 2: 31 vs 67,
# conv_transpose2d stride 2: 57 vs 88 (4608 elements); 1 x 4 x 16 x 16 padding 1 (9216): 51 vs 37 us, 1 x 8 x 12 x 12
# (10368, compiled before): 59 vs 40); window.py's windows and col2im rows take their gathers up to the same size
_TINY_ELEMENTS = TINY_ELEMENTS


def _tiny_elements(n, channels, kernel, pixels):
    return n * channels * kernel[0] * kernel[1] * pixels


def _tiny(a, x, w):
    """Whether the row with geometry a on x and w takes the tiny path."""
    pixels = a.size if a.flipped else a.out  # (A's output)
    return _tiny_elements(x.shape[0], max(w.shape[0], w.shape[1]), a.kernel, pixels[0] * pixels[1]) <= _TINY_ELEMENTS


def _tiny_windows(wa, x):
    """windows(x, wa) as (N, C * K1*K2, Ho*Wo): one gather (window.tiny_windows)."""
    N, C = x.shape[:2]
    return tiny_windows(wa, x).reshape(N, C * wa.kernel[0] * wa.kernel[1], wa.out[0] * wa.out[1])


def _tiny_forward(wa, x, w):
    """A x: the convolution with geometry wa of x (N, C, *wa.size) with w (Cout, C, K1, K2)."""
    y = np.matmul(w.reshape(w.shape[0], w[0].size), _tiny_windows(wa, x))
    return y.reshape((x.shape[0], w.shape[0]) + wa.out)


def _tiny_adjoint(wa, v, w):
    """Aᵀ v (col2im of wᵀ v): v (N, Cout, *wa.out) -> (N, C, *wa.size), w (Cout, C, K1, K2)."""
    N, (Cout, C) = v.shape[0], w.shape[:2]
    prods = np.matmul(w.reshape(Cout, C * wa.kernel[0] * wa.kernel[1]).T, v.reshape(N, Cout, wa.out[0] * wa.out[1]))
    return tiny_col2im(wa, prods.reshape((N, C) + wa.kernel + wa.out))


def _tiny_weight_grad(wa, u, v):
    """dW (Cout, C, K1, K2) of A from its input u (N, C, *wa.size) and output gradient v (N, Cout, *wa.out)."""
    N, Cout = v.shape[:2]
    d = np.matmul(v.reshape(N, Cout, wa.out[0] * wa.out[1]), _tiny_windows(wa, u).transpose(0, 2, 1))
    return _sum_images(d).reshape((Cout, u.shape[1]) + wa.kernel)


def _tiny_conv(a, x, w):
    """The row's forward on the tiny path: A x, or Aᵀ x when a.flipped (w then in A's layout as it is)."""
    return _tiny_adjoint(adjoint_args(a), x, w) if a.flipped else _tiny_forward(a, x, w)


def _tiny_weight(a, x, g):
    """The row's weight gradient on the tiny path (in w's layout: A's)."""
    return _tiny_weight_grad(adjoint_args(a), g, x) if a.flipped else _tiny_weight_grad(a, x, g)


def _tiny_input_grad(a, w, g):
    """The row's input gradient on the tiny path."""
    return _tiny_forward(adjoint_args(a), g, w) if a.flipped else _tiny_adjoint(a, g, w)


def _strided_numpy(a, x, w):
    """The strided row's numpy path, as the general route: windows and a product (A), or a product and
    col2im (Aᵀ, a.flipped); w in A's layout (Cout_A, C_A, K1, K2)."""
    wa = _strided_geometry(a)
    N, P = x.shape[0], x.shape[2] * x.shape[3]
    if not a.flipped:
        cols = windows(x, wa).reshape(N, -1, a.out[0] * a.out[1])
        return np.matmul(w.reshape(w.shape[0], -1), cols).reshape((N, w.shape[0]) + a.out)
    cols = np.matmul(w.reshape(w.shape[0], -1).T, x.reshape(N, w.shape[0], P))
    return col2im(cols.reshape((N, w.shape[1]) + a.kernel + a.size), wa)


def _strided_weight_grad(a, x, g, planes=None):
    """dW (A's layout) of the strided row: of A from its input and its output's gradient, which are x
    and g, or g and x when the row is Aᵀ (a.flipped); `planes`: the phase planes of A's input, when the
    caller has them."""
    u, v = (g, x) if a.flipped else (x, g)
    if _compiled(u, v) and _big_enough(a):
        d = _weight_grad_compiled(_strided_geometry(a), u, v, planes)
        if d is not None:
            return d
    wa = _strided_geometry(a)
    N, Cout = v.shape[:2]
    cols = windows(u, wa).reshape(N, -1, v.shape[2] * v.shape[3])
    d = np.matmul(v.reshape(N, Cout, -1), cols.transpose(0, 2, 1))
    return _sum_images(d).reshape((Cout, u.shape[1]) + a.kernel)


def _strided_grads(a, x, w, g, needs):
    """(dx, dw) of the strided row on arrays. When the row is Aᵀ, both gradients read the phase planes of
    g (A's input): made once (conv_transpose2d stride 2 to 8 x 16 x 128 x 128: 1.2 ms per copy)."""
    adj = adjoint_args(a)
    if a.flipped and needs[0] and needs[1] and _compiled(x, w, g) and _big_enough(a) and np.isfinite(w).all():
        planes = _input_planes(adj, g)
        return _forward_compiled(adj, g, w, planes), _strided_weight_grad(a, x, g, planes)
    return (_conv(adj, g, w) if needs[0] else None, _strided_weight_grad(a, x, g) if needs[1] else None)


def _compiled(*arrays):
    """Whether the compiled loops (ops/conv_kernels.py) take arrays of these: kernels on, one dtype,
    float32 or float64."""
    return (conv_kernels.conv_taps is not None and arrays[0].dtype in _KERNEL_DTYPES
            and all(v.dtype == arrays[0].dtype for v in arrays))


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _big_enough(a):
    """Whether the images of a are large enough for the compiled loops (_MIN_PIXELS: the smaller side's)."""
    return min(a.size[0] * a.size[1], a.out[0] * a.out[1]) >= _MIN_PIXELS


def _round_up(n, m):
    return -(-n // m) * m


def _phase_slices(lo, stride, phase, size, plane):
    """(plane slices, image slices) of the positions where phase plane `phase` of an image of `size`,
    zero-padded by lo at the top and left, holds the image: plane (i, j) is image (s1*i + a - lo1,
    s2*j + b - lo2). None, None when nowhere."""
    dst, src = [], []
    for l, s, p, n, m in zip(lo, stride, phase, size, plane):
        i0, i1 = max(0, -(-(l - p) // s)), min(m, (n - 1 + l - p) // s + 1)
        if i1 <= i0:
            return None, None
        dst.append(slice(i0, i1))
        src.append(slice(s * i0 + p - l, s * (i1 - 1) + p - l + 1, s))
    return tuple(dst), tuple(src)


def _planes(v, lo, stride, rows, width, channels):
    """v (N, C, H, W) zero-padded by lo at the top and left, split into its s1*s2 phase planes of rows x width
    (zero where v has nothing), channels zero-padded to `channels`: (N, s1*s2, channels, rows*width)
    C-contiguous, conv_kernels' layout. planes[n, a*s2 + b, c, i*width + j] = v[n, c, s1*i + a - lo1,
    s2*j + b - lo2]; for stride 1 that is the zero-padded image, flattened."""
    N, C, H, W = v.shape
    s1, s2 = stride
    buf = np.zeros((N, s1 * s2, channels, rows, width), v.dtype)
    if s1 == s2 == 1 and lo[0] + H <= rows and lo[1] + W <= width:  # (the common case, without the general slicing)
        buf[:, 0, :C, lo[0]:lo[0] + H, lo[1]:lo[1] + W] = v
        return buf.reshape(N, 1, channels, rows * width)
    for a in range(s1):
        for b in range(s2):
            dst, src = _phase_slices(lo, stride, (a, b), (H, W), (rows, width))
            if dst is not None:
                buf[(slice(None), a * s2 + b, slice(0, C)) + dst] = v[(slice(None), slice(None)) + src]
    return buf.reshape(N, s1 * s2, channels, rows * width)


def _taps(a):
    """For every kernel tap (kh, kw), in that order, of a convolution with a's kernel, dilation and stride:
    the phase plane it reads and its row and column offsets (r, q) in that plane (arrays, not to be
    written to), and the largest offsets R, Q."""
    return _tap_table(a.kernel, a.dilation, a.stride)


@functools.lru_cache(maxsize=256)
def _tap_table(kernel, dilation, stride):
    (K1, K2), (d1, d2), (s1, s2) = kernel, dilation, stride
    kh, kw = np.divmod(np.arange(K1 * K2), K2)
    t1, t2 = kh * d1, kw * d2
    return (t1 % s1) * s2 + t2 % s2, t1 // s1, t2 // s2, (d1 * (K1 - 1)) // s1, (d2 * (K2 - 1)) // s2


def _tap_weights(w, rows, cols):
    """w (Cout, C, K1, K2) -> (K1*K2, rows, cols) C-contiguous, one (Cout, C) matrix per tap, zero-padded."""
    Cout, C, K1, K2 = w.shape
    wt = np.zeros((K1 * K2, rows, cols), w.dtype)
    wt[:, :Cout, :C] = w.transpose(2, 3, 0, 1).reshape(K1 * K2, Cout, C)
    return wt


def _input_planes(a, x):
    """The phase planes of x as the input of the convolution with a's geometry reads them (conv_taps'
    xf, and weight_grad_taps'): padded by a.pads at the top and left, rows and width for a.out."""
    (Ho, Wo), (_, _, _, R, Q) = a.out, _taps(a)
    Wq = Wo + Q
    return _planes(x, (a.pads[0][0], a.pads[1][0]), a.stride, Ho + R + -(-Q // Wq), Wq, _round_up(x.shape[1], 8))


def _forward_compiled(a, x, w, planes=None):
    """y (N, Cout, *a.out) = the convolution of x with w (conv2d's layout), stride a.stride, padding
    a.pads, by conv_taps on the phase planes of x (`planes` when the caller has them)."""
    Cout, C = w.shape[:2]
    N, (Ho, Wo) = x.shape[0], a.out
    phase, r, q, R, Q = _taps(a)
    Wq = Wo + Q
    if planes is None:
        planes = _input_planes(a, x)
    wt = _tap_weights(w, _round_up(Cout, 4), planes.shape[2])
    yb = np.empty((N, 1, wt.shape[1], Ho, Wq), x.dtype)
    conv_kernels.conv_taps(planes, wt, yb.reshape(N, 1, wt.shape[1], Ho * Wq), phase, np.zeros_like(phase), r * Wq + q)
    return np.ascontiguousarray(yb[:, 0, :Cout, :, :Wo])


def _transposed_compiled(a, x, w):
    """y = Aᵀ x by conv_taps: A the strided convolution with weight w (Cout_A, C_A, K1, K2) and padding
    a.pads from size a.out (y's) to a.size (x's). Each phase plane of y sums its own taps over x padded
    by the largest offsets; the planes are then interleaved into y."""
    CoA, CA = w.shape[:2]
    N, (Ho, Wo), (H, W) = x.shape[0], a.size, a.out
    phase, r, q, R, Q = _taps(a)
    Wx, Hq, Wq = Wo + 2 * Q, Ho + R, Wo + Q
    xf = _planes(x, (R, Q), (1, 1), Ho + 2 * R + -(-Q // Wx), Wx, _round_up(CoA, 8))
    wt = _tap_weights(w.swapaxes(0, 1), _round_up(CA, 4), xf.shape[2])
    S = a.stride[0] * a.stride[1]
    yb = np.empty((N, S, wt.shape[1], Hq, Wx), x.dtype)
    conv_kernels.conv_taps(xf, wt, yb.reshape(N, S, wt.shape[1], Hq * Wx), np.zeros_like(phase), phase,
                           (R - r) * Wx + (Q - q))
    y = np.zeros((N, CA, H, W), x.dtype)
    lo = (a.pads[0][0], a.pads[1][0])
    for ph in range(S):
        dst, src = _phase_slices(lo, a.stride, divmod(ph, a.stride[1]), (H, W), (Hq, Wq))
        if dst is not None:
            y[(slice(None), slice(None)) + src] = yb[(slice(None), ph, slice(0, CA)) + dst]
    return y


def _weight_grad_compiled(a, u, v, planes=None):
    """The weight gradient (Cout, C, K1, K2) of the convolution A (stride a.stride, padding a.pads) from its
    input u (its phase planes: `planes` when the caller has them) and output gradient v, by
    weight_grad_taps; None when it is not finite (v's zero columns may have met an inf of u: 0 * inf;
    the caller then computes it exactly)."""
    Cout, C, N, (Ho, Wo), (K1, K2) = v.shape[1], u.shape[1], u.shape[0], v.shape[2:], a.kernel
    phase, r, q, R, Q = _taps(a)
    Wq = Wo + Q
    if planes is None:
        planes = _input_planes(a, u)
    vf = _planes(v, (0, 0), (1, 1), Ho, Wq, _round_up(Cout, 4))
    dw = np.zeros((K1 * K2, vf.shape[2], planes.shape[2]), u.dtype)
    conv_kernels.weight_grad_taps(planes, vf.reshape(N, vf.shape[2], Ho * Wq), dw, phase, r * Wq + q, 0, Ho * Wq)
    dw = dw[:, :Cout, :C]
    if not np.isfinite(dw).all():
        return None
    return np.ascontiguousarray(dw.reshape(K1, K2, Cout, C).transpose(2, 3, 0, 1))


def _conv_compiled(a, x, w, planes=None):
    """_conv (stride 1) by the compiled loops: the forward loop on w read as a.flipped says."""
    return _forward_compiled(a, x, _flip_swap(w) if a.flipped else w, planes)


def _grads_compiled(a, x, w, g, needs):
    """(dx, dw) of the stride-1 row by the compiled loops: one padded copy of g serves both (the weight
    gradient reads it where its padded width is x's), one of x the weight gradient."""
    adj = adjoint_args(a)
    (Ho, Wo), (K1, K2), (d1, d2) = a.out, a.kernel, a.dilation
    (l1, h1), (l2, h2) = adj.pads
    Wg = Wo + l2 + h2
    gf = _planes(g, (l1, l2), (1, 1), Ho + l1 + h1 + -(-(d2 * (K2 - 1)) // Wg), Wg, _round_up(g.shape[1], 8))
    dx = _conv_compiled(adj, g, w, gf) if needs[0] else None
    if not needs[1]:
        return dx, None
    Wp = x.shape[3] + a.pads[1][0] + a.pads[1][1]
    if Wg != Wp:  # (else g sits in gf at rows l1, columns l2 of the adjoint padding, the rest zero: the layout wanted)
        return dx, _weight_grad(a, x, g)
    xf = _planes(x, (a.pads[0][0], a.pads[1][0]), (1, 1), Ho + d1 * (K1 - 1) + -(-(d2 * (K2 - 1)) // Wp), Wp,
                 _round_up(x.shape[1], 4))
    phase, r, q, _, _ = _taps(a)
    dw = np.zeros((K1 * K2, gf.shape[2], xf.shape[2]), x.dtype)
    conv_kernels.weight_grad_taps(xf, gf[:, 0], dw, phase, r * Wp + q, l1 * Wp + l2, Ho * Wp)
    dw = dw[:, :g.shape[1], :x.shape[1]]
    if not np.isfinite(dw).all():  # (the zero columns of g met an inf or NaN of x: see _weight_grad_on)
        return dx, _weight_grad_exact(a, x, g)
    dw = dw.reshape(K1, K2, g.shape[1], x.shape[1]).transpose(2, 3, 0, 1)
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
    given) for C_in >= _WIDE_ENOUGH, else on windows of x (_weight_grad_exact); tiny ones on the tiny path."""
    if _tiny(a, x, g):
        return _tiny_weight(a, x, g)
    if a.stride != (1, 1):
        return _strided_weight_grad(a, x, g)
    if cols_g is None and _compiled(x, g) and _big_enough(a):
        d = _weight_grad_compiled(a, x, g)  # (in conv2d's layout: of the convolution a.flipped reads)
        if d is None:
            return _weight_grad_exact(a, x, g)
        return np.ascontiguousarray(_flip_swap(d)) if a.flipped else d
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
    if _tiny(a, x, w):
        return (_tiny_input_grad(a, w, g) if needs[0] else None, _tiny_weight(a, x, g) if needs[1] else None)
    if a.stride != (1, 1):
        return _strided_grads(a, x, w, g, needs)
    if _compiled(x, w, g) and _big_enough(a):
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
