"""Layers and functions user scripts reach for beyond the core set, composed from engine ops with
PyTorch's arguments and gradients: the hard/smooth activations (relu6, hardtanh, hardsigmoid, hardswish,
mish, selu, celu, softsign, glu, softmin, threshold, tanhshrink, hardshrink, softshrink, prelu),
group_norm, pairwise_distance, and ParameterList / ParameterDict."""
import numpy as np

from ..dtypes import DEFAULT
from ..functions import where
from ..tensor import Tensor
from .module import Module, Parameter

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _t(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    return x


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 elsewhere (PyTorch's)."""
    x = _t(input, "hardtanh")
    return where(x <= min_val, min_val, where(x >= max_val, max_val, x))


def relu6(input, inplace=False):
    return hardtanh(_t(input, "relu6"), 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """0 below -3, 1 above 3, x / 6 + 1/2 between."""
    return hardtanh(_t(input, "hardsigmoid") * (1.0 / 6) + 0.5, 0.0, 1.0)


def hardswish(input, inplace=False):
    x = _t(input, "hardswish")
    return where(x <= -3.0, 0.0, where(x >= 3.0, x, x * (x + 3.0) * (1.0 / 6)))


def mish(input, inplace=False):
    """x tanh(softplus(x))."""
    from .functional import softplus
    x = _t(input, "mish")
    return x * softplus(x).tanh()


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)); exp taken of min(x, 0) so it cannot overflow."""
    x = _t(input, "celu")
    return where(x > 0, x, ((x.clamp(max=0.0) * (1.0 / alpha)).expm1()) * alpha)


def selu(input, inplace=False):
    x = _t(input, "selu")
    return where(x > 0, x, x.clamp(max=0.0).expm1() * _SELU_ALPHA) * _SELU_SCALE


def softsign(input):
    x = _t(input, "softsign")
    return x / (x.abs() + 1.0)


def tanhshrink(input):
    x = _t(input, "tanhshrink")
    return x - x.tanh()


def hardshrink(input, lambd=0.5):
    x = _t(input, "hardshrink")
    return where((x > lambd) | (x < -lambd), x, 0.0)


def softshrink(input, lambd=0.5):
    x = _t(input, "softshrink")
    return where(x > lambd, x - lambd, where(x < -lambd, x + lambd, 0.0))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    x = _t(input, "threshold")
    return where(x > threshold, x, value)


def glu(input, dim=-1):
    """a * sigmoid(b), a and b the two halves of `input` along dim."""
    x = _t(input, "glu")
    n = x.shape[dim]
    if n % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} is size {n} (shape {tuple(x.shape)})")
    a, b = x.chunk(2, dim)
    return a * b.sigmoid()


def softmin(input, dim=None, dtype=None):
    from .functional import softmax
    return softmax(-_t(input, "softmin"), dim)


def prelu(input, weight):
    """x if x > 0 else weight * x, weight one value or one per channel (dim 1)."""
    x = _t(input, "prelu")
    w = weight
    if w.numel() != 1:
        if x.ndim < 2 or x.shape[1] != w.numel():
            raise ValueError(f"prelu: {w.numel()} weights need an input with {w.numel()} channels in dim 1, got shape "
                             f"{tuple(x.shape)}")
        w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    return where(x > 0, x, x * w)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of num_groups channels (dim 1) over its channels and positions, then scale and
    shift per channel: input (N, C, *)."""
    x = _t(input, "group_norm")
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: expected an input (N, C, *) with C divisible by num_groups={num_groups}, "
                         f"got shape {tuple(x.shape)}")
    n = x.shape[0]
    g = x.reshape(n, num_groups, -1)
    mean = g.mean(-1, keepdim=True)
    var = g.var(-1, keepdim=True, unbiased=False)
    y = ((g - mean) * (var + eps).rsqrt()).reshape(x.shape)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its positions: input (N, C, *). With use_input_stats
    (training), running_mean / running_var (C,), when given, move towards the batch's average of the
    per-sample statistics (unbiased variance), as PyTorch's; without it they normalise instead (eval)."""
    x = _t(input, "instance_norm")
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input (N, C, *) with at least one spatial dim, got shape "
                         f"{tuple(x.shape)}")
    from .normalization import batch_norm
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is not None or running_var is not None:
        from ..grad_mode import no_grad
        a = x.detach().numpy().reshape(x.shape[0], x.shape[1], -1)
        n = a.shape[-1]
        with no_grad():
            for r, stat in ((running_mean, a.mean(-1)), (running_var, a.var(-1) * (n / max(n - 1, 1)))):
                if r is not None:
                    r._data *= 1.0 - momentum
                    r._data += momentum * stat.mean(0).astype(r._data.dtype)
                    r._bump()
    return group_norm(x, x.shape[1], weight, bias, eps)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x² over `size` neighbouring channels)^beta, input (N, C, *); the window is
    centred on each channel (size // 2 before it, (size - 1) // 2 after), zero beyond the ends."""
    x = _t(input, "local_response_norm")
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input (N, C, *) with at least one spatial dim, got "
                         f"shape {tuple(x.shape)}")
    c = x.shape[1]
    sq = x * x
    pads = (0, 0) * (x.ndim - 2) + (size // 2, (size - 1) // 2)
    from .padding import pad
    padded = pad(sq, pads)
    window = sum(padded[:, i:i + c] for i in range(size)) * (1.0 / size)
    return x / (window * alpha + k) ** beta


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    x = _t(input, "pixel_shuffle")
    r = int(upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected an input (*, C*{r * r}, H, W), got shape {tuple(x.shape)}")
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    x = _t(input, "pixel_unshuffle")
    r = int(downscale_factor)
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: expected an input (*, C, H, W) with H and W divisible by {r}, got shape "
                         f"{tuple(x.shape)}")
    *lead, c, h, w = x.shape
    n = len(lead)
    y = x.reshape(*lead, c, h // r, r, w // r, r).permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def _reduce(op, loss, reduction):
    from .functional import _reduce as reduce_
    return reduce_(op, loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target (input1 - input2) + margin), target in {1, -1}."""
    loss = (-target * (_t(input1, "margin_ranking_loss") - input2) + margin).clamp(min=0.0)
    return _reduce("margin_ranking_loss", loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(d(anchor, positive) - d(anchor, negative) + margin, 0), d the pairwise p-distance over the last dim."""
    a = _t(anchor, "triplet_margin_loss")
    d_pos = pairwise_distance(a, positive, p, eps)
    d_neg = pairwise_distance(a, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce("triplet_margin_loss", (d_pos - d_neg + margin).clamp(min=0.0), reduction)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    return (_t(x1, "pairwise_distance") - x2 + eps).norm(p, -1, keepdim)


def _module(name, fn, doc, args=(), defaults=()):
    """A layer class whose forward is fn(input, *its arguments)."""
    def __init__(self, *a, **kw):
        Module.__init__(self)
        vals = dict(zip(args, defaults))
        vals.update(zip(args, a))
        vals.update({k: v for k, v in kw.items() if k in args})
        for k in args:
            setattr(self, k, vals[k])
        if "inplace" in kw:
            self.inplace = kw["inplace"]

    def forward(self, input):
        return fn(input, *[getattr(self, k) for k in args])

    def extra_repr(self):
        return ", ".join(f"{k}={getattr(self, k)}" for k in args)
    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr,
                                  "__doc__": f"nn.{name}: {doc}"})


def _softplus(input, beta, threshold_):
    from .functional import softplus
    return softplus(input, beta, threshold_)


ReLU6 = _module("ReLU6", relu6, "min(max(x, 0), 6).")
Hardtanh = _module("Hardtanh", hardtanh, "x clipped to [min_val, max_val].", ("min_val", "max_val"), (-1.0, 1.0))
Hardsigmoid = _module("Hardsigmoid", hardsigmoid, "relu6(x + 3) / 6.")
Hardswish = _module("Hardswish", hardswish, "x relu6(x + 3) / 6.")
Mish = _module("Mish", mish, "x tanh(softplus(x)).")
SELU = _module("SELU", selu, "scale (max(0, x) + min(0, alpha (exp(x) - 1))).")
CELU = _module("CELU", celu, "max(0, x) + min(0, alpha (exp(x / alpha) - 1)).", ("alpha",), (1.0,))
Softsign = _module("Softsign", softsign, "x / (1 + |x|).")
Tanhshrink = _module("Tanhshrink", tanhshrink, "x - tanh(x).")
Hardshrink = _module("Hardshrink", hardshrink, "x where |x| > lambd, else 0.", ("lambd",), (0.5,))
Softshrink = _module("Softshrink", softshrink, "x shrunk towards 0 by lambd.", ("lambd",), (0.5,))
Threshold = _module("Threshold", threshold, "x where x > threshold, else value.", ("threshold", "value"), (None, None))
GLU = _module("GLU", glu, "a * sigmoid(b) for the halves a, b of the input along dim.", ("dim",), (-1,))
Softmin = _module("Softmin", softmin, "softmax(-x) along dim.", ("dim",), (None,))
Softplus = _module("Softplus", _softplus, "log(1 + exp(beta x)) / beta, linear above threshold.",
                   ("beta", "threshold"), (1.0, 20.0))
class _InstanceNorm(Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        self.track_running_stats = track_running_stats
        dt = DEFAULT.dtype if dtype is None else np.dtype(dtype)
        self.weight = Parameter(Tensor._leaf(np.ones(num_features, dt))) if affine else None
        self.bias = Parameter(Tensor._leaf(np.zeros(num_features, dt))) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._leaf(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor._leaf(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", Tensor._leaf(np.array(0, np.int64)))
        else:
            self.running_mean = self.running_var = None

    def forward(self, input):
        if input.ndim != self._dims + 2 or input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected an input (N, {self.num_features}, "
                             f"{', '.join('*' * self._dims)}), got shape {tuple(input.shape)}")
        return instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                             self.training or not self.track_running_stats,
                             0.0 if self.momentum is None else self.momentum, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, " \
               f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"


class InstanceNorm1d(_InstanceNorm):
    """nn.InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, bias=True):
    input (N, C, L)."""
    _dims = 1


class InstanceNorm2d(_InstanceNorm):
    """nn.InstanceNorm2d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
    input (N, C, H, W)."""
    _dims = 2


class InstanceNorm3d(_InstanceNorm):
    """nn.InstanceNorm3d(num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False):
    input (N, C, D, H, W)."""
    _dims = 3


PixelShuffle = _module("PixelShuffle", pixel_shuffle, "(*, C r^2, H, W) -> (*, C, H r, W r).", ("upscale_factor",),
                       (None,))
PixelUnshuffle = _module("PixelUnshuffle", pixel_unshuffle, "(*, C, H r, W r) -> (*, C r^2, H, W).",
                         ("downscale_factor",), (None,))


class LocalResponseNorm(Module):
    """nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0). See F.local_response_norm."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class MarginRankingLoss(Module):
    """nn.MarginRankingLoss(margin=0.0, reduction='mean')."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.margin, self.reduction = margin, reduction

    def forward(self, input1, input2, target):
        return margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


class TripletMarginLoss(Module):
    """nn.TripletMarginLoss(margin=1.0, p=2.0, eps=1e-6, swap=False, reduction='mean')."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.margin, self.p, self.eps, self.swap, self.reduction = margin, p, eps, swap, reduction

    def forward(self, anchor, positive, negative):
        return triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                   reduction=self.reduction)


class PairwiseDistance(Module):
    """nn.PairwiseDistance(p=2.0, eps=1e-6, keepdim=False)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """nn.CosineSimilarity(dim=1, eps=1e-8)."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        from .functional import cosine_similarity
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PReLU(Module):
    """nn.PReLU(num_parameters=1, init=0.25): a learned slope for negative inputs (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(Tensor._leaf(np.full(num_parameters, init, DEFAULT.dtype)))

    def forward(self, input):
        return prelu(input, self.weight)


class GroupNorm(Module):
    """nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(Tensor._leaf(np.ones(num_channels, DEFAULT.dtype)))
            self.bias = Parameter(Tensor._leaf(np.zeros(num_channels, DEFAULT.dtype)))
        else:
            self.weight = self.bias = None

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class ParameterList(Module):
    """A list of Parameters registered under '0', '1', ... (so optimizers and state_dict find them)."""

    def __init__(self, values=None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def _as_param(self, v):
        return v if isinstance(v, Parameter) else Parameter(v)

    def append(self, value):
        self.register_parameter(str(len(self._parameters)), self._as_param(value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, idx):
        items = list(self._parameters.values())
        return ParameterList(items[idx]) if isinstance(idx, slice) else items[idx]

    def __setitem__(self, idx, value):
        self.register_parameter(str(idx % len(self)), self._as_param(value))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())


class ParameterDict(Module):
    """A dict of Parameters registered under their keys."""

    def __init__(self, parameters=None):
        super().__init__()
        for k, v in dict(parameters or {}).items():
            self[k] = v

    def __setitem__(self, key, value):
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def __getitem__(self, key):
        return self._parameters[key]

    def __contains__(self, key):
        return key in self._parameters

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def update(self, parameters):
        for k, v in dict(parameters).items():
            self[k] = v
