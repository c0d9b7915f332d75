"""F.pad and the padding layers (ZeroPad2d, ConstantPad1d/2d, ReflectionPad1d/2d, ReplicationPad1d/2d,
CircularPad1d/2d), with PyTorch's argument order: `pad` lists (left, right) for the last dim, then
(top, bottom) for the one before it, and so on.

Constant padding writes the input into a block of zeros (the registry's index_scatter row, whose
gradient is the slice back) and adds the fill value outside it; negative pads crop. The other modes
pick, per padded dim, which input element each output position copies (an index_select): reflect
mirrors without repeating the edge, replicate repeats the edge, circular wraps around. The
gradients are those of the rows they are built on."""
import numpy as np

from ..ops.movement import INDEX_SCATTER
from ..tensor import Tensor
from .module import Module

_MODES = ("constant", "reflect", "replicate", "circular")


def _pairs(op, pad, ndim):
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"{op}: pad must have an even number of entries (left, right, top, bottom, ...), got {pad}")
    if len(pad) // 2 > ndim:
        raise ValueError(f"{op}: pad {pad} pads {len(pad) // 2} dims but the input has only {ndim}")
    return {ndim - 1 - i: (pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)}


def _constant(x, pairs, value):
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) if d in pairs else slice(None)
                 for d, (lo, hi) in ((d, pairs.get(d, (0, 0))) for d in range(x.ndim)))
    if any(lo < 0 or hi < 0 for lo, hi in pairs.values()):
        x = x[crop]
    grow = {d: (max(lo, 0), max(hi, 0)) for d, (lo, hi) in pairs.items()}
    shape = tuple(n + sum(grow.get(d, (0, 0))) for d, n in enumerate(x.shape))
    if any(s < 0 for s in shape):
        raise ValueError(f"pad: the pads crop more than the input's shape {tuple(x.shape)} holds")
    place = tuple(slice(grow[d][0], grow[d][0] + n) if d in grow else slice(None) for d, n in enumerate(x.shape))
    out = x._unary(INDEX_SCATTER, (shape, place))
    if value:
        fill = np.full(shape, value, x._data.dtype)
        fill[place] = 0
        out = out + Tensor._leaf(fill)
    return out


def _source_index(mode, n, lo, hi):
    """For each output position along one dim, the input position it copies."""
    pos = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    if mode == "circular":
        return pos % n
    period = 2 * (n - 1)  # reflect: ... 2 1 [0 1 2 ... n-1] n-2 n-3 ...
    pos = np.abs(pos) % period if period else np.zeros_like(pos)
    return np.where(pos >= n, period - pos, pos)


def pad(input, pad, mode="constant", value=None):
    """Pad `input` (any shape for 'constant'; the last 1-3 dims of a batched input for the other modes)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected a Tensor for input, got {type(input).__name__}")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    pairs = _pairs("pad", pad, input.ndim)
    if mode == "constant":
        return _constant(input, pairs, 0 if value is None else value)
    if value:
        raise ValueError(f"pad: a fill value ({value}) only applies to mode='constant', not {mode!r}")
    k = len(pairs)
    if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
        raise ValueError(f"pad: mode {mode!r} pads the last 1-3 dims of a (C, *) or (N, C, *) input; "
                         f"got pad {tuple(pad)} ({k} dims) for an input of shape {tuple(input.shape)}")
    out = input
    for d, (lo, hi) in sorted(pairs.items()):
        n = input.shape[d]
        if min(lo, hi) < 0:
            raise ValueError(f"pad: negative pads are only supported by mode='constant', got {tuple(pad)}")
        limit = n - 1 if mode == "reflect" else n if mode == "circular" else None
        if limit is not None and max(lo, hi) > limit:
            raise ValueError(f"pad: {mode} padding of ({lo}, {hi}) needs each pad <= {limit} for dim {d} of size "
                             f"{n} (input shape {tuple(input.shape)})")
        if lo or hi:
            out = out.index_select(d, Tensor._leaf(_source_index(mode, n, lo, hi)))
    return out


class _Pad(Module):
    mode, n = "constant", 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = (int(padding),) * (2 * self.n) if isinstance(padding, (int, np.integer)) else tuple(padding)
        if len(self.padding) != 2 * self.n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {2 * self.n} ints, got {padding!r}")
        self.value = value

    def forward(self, x):
        return pad(x, self.padding, self.mode, self.value if self.mode == "constant" else None)

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" and self.value else "")


def _layer(name, mode, n):
    return type(name, (_Pad,), {"mode": mode, "n": n, "__doc__": f"nn.{name}: F.pad(x, padding, {mode!r})."})


class ConstantPad1d(_Pad):
    """nn.ConstantPad1d(padding, value)."""
    n = 1

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ConstantPad2d(ConstantPad1d):
    """nn.ConstantPad2d(padding, value)."""
    n = 2


class ZeroPad1d(_Pad):
    """nn.ZeroPad1d(padding)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    """nn.ZeroPad2d(padding)."""
    n = 2


ReflectionPad1d = _layer("ReflectionPad1d", "reflect", 1)
ReflectionPad2d = _layer("ReflectionPad2d", "reflect", 2)
ReplicationPad1d = _layer("ReplicationPad1d", "replicate", 1)
ReplicationPad2d = _layer("ReplicationPad2d", "replicate", 2)
CircularPad1d = _layer("CircularPad1d", "circular", 1)
CircularPad2d = _layer("CircularPad2d", "circular", 2)


# ---------------------------------------------------------------------- nearest-neighbour resizing
_INTERP_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75  # PyTorch's bicubic coefficient


def _source(o, n, scale, align_corners, cubic):
    """Where output positions 0..o-1 of a dim read the input (of length n), in input coordinates, as PyTorch's
    area_pixel_compute_source_index: align_corners maps the end pixels' centres onto each other."""
    i = np.arange(o, dtype=np.float64)
    if align_corners:
        return i * ((n - 1) / (o - 1) if o > 1 else 0.0)
    src = (i + 0.5) * scale - 0.5
    return src if cubic else np.maximum(src, 0.0)


def _cubic_weights(t):
    """Keys' cubic convolution weights of the four taps at offsets -1, 0, 1, 2 from floor(src), t = src - floor."""
    a = _CUBIC_A
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1  # noqa: E731  (|x| <= 1)
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # noqa: E731  (1 < |x| < 2)
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def interpolation_matrix(n, o, scale, mode, align_corners):
    """The (o, n) matrix A of one dim's linear or cubic interpolation: output = A @ input along that dim."""
    src = _source(o, n, scale, align_corners, mode == "bicubic")
    base = np.floor(src).astype(np.int64)
    t = src - base
    if mode == "bicubic":
        taps = [(np.clip(base + k - 1, 0, n - 1), w) for k, w in enumerate(_cubic_weights(t))]
    else:
        t = np.clip(t, 0.0, 1.0)
        taps = [(base, 1.0 - t), (np.minimum(base + 1, n - 1), t)]
    a = np.zeros((o, n))
    for idx, w in taps:
        np.add.at(a, (np.arange(o), idx), w)  # (taps clamped onto the same edge pixel add up)
    return a


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """F.interpolate on (N, C, *spatial) inputs with 1-3 spatial dims, as PyTorch.

    'nearest': output position i of a dim copies input position min(floor(i * scale), in - 1), scale =
    1 / scale_factor (in / out when `size` is given); 'nearest-exact' copies min(floor((i + 0.5) * scale), in - 1).
    'linear' (3-D input), 'bilinear' and 'bicubic' (4-D), 'trilinear' (5-D) interpolate each spatial dim in turn:
    one matrix product per dim with the (out, in) matrix of interpolation weights (`interpolation_matrix`),
    so the gradient is the transposed product. 'area' is adaptive average pooling to the output size.
    antialias=True is not supported."""
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: expected a Tensor for input, got {type(input).__name__}")
    k = input.ndim - 2
    if mode not in ("nearest", "nearest-exact", "area") and mode not in _INTERP_DIMS:
        from ..compat import unsupported
        raise unsupported(f"interpolate(mode={mode!r}) (modes: nearest, nearest-exact, area, linear, bilinear, "
                          "bicubic, trilinear)")
    if antialias:
        from ..compat import unsupported
        raise unsupported("interpolate(antialias=True)")
    if mode in _INTERP_DIMS and k != _INTERP_DIMS[mode]:
        raise ValueError(f"interpolate: mode {mode!r} needs a {_INTERP_DIMS[mode] + 2}-D input (N, C, *spatial), "
                         f"got shape {tuple(input.shape)}")
    if mode not in _INTERP_DIMS and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if not 1 <= k <= 3:
        raise ValueError(f"interpolate: expected a (N, C, *spatial) input with 1-3 spatial dims, got shape "
                         f"{tuple(input.shape)}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    spatial = input.shape[2:]

    def per_dim(v, name):
        v = tuple(v) if isinstance(v, (tuple, list)) else (v,) * k
        if len(v) != k:
            raise ValueError(f"interpolate: {name} {v} must have {k} entries for input of shape {tuple(input.shape)}")
        return v
    if size is not None:
        out = tuple(int(s) for s in per_dim(size, "size"))
        scales = [n / o for n, o in zip(spatial, out)]
    else:
        sf = per_dim(scale_factor, "scale_factor")
        out = tuple(int(n * f) for n, f in zip(spatial, sf))
        scales = [n / o for n, o in zip(spatial, out)] if recompute_scale_factor else [1.0 / f for f in sf]
    from . import pooling
    if mode == "area":
        return getattr(pooling, f"adaptive_avg_pool{k}d")(input, out)
    y = input
    for d, (n, o, s) in enumerate(zip(spatial, out, scales)):
        if mode in _INTERP_DIMS:
            a = interpolation_matrix(n, o, s, mode, bool(align_corners)).astype(input.dtype)
            y = pooling.matmul_along(y, d + 2, Tensor._leaf(np.ascontiguousarray(a.T)))
        elif o != n or s != 1.0:
            shift = 0.5 if mode == "nearest-exact" else 0.0
            src = np.minimum(np.floor((np.arange(o) + shift) * np.float32(s)).astype(np.int64), n - 1)
            y = y.index_select(d + 2, Tensor._leaf(src))
    return y


class Upsample(Module):
    """nn.Upsample(size=None, scale_factor=None, mode='nearest'): F.interpolate as a layer (any of its modes)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners, self.recompute_scale_factor)
