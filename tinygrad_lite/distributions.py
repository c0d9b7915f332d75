"""torch.distributions' most used members: Normal, Categorical, Bernoulli, Uniform and kl_divergence between
two Normals, composed from engine ops (log_prob, entropy and rsample are differentiable, so a VAE's or a
policy gradient's loss backpropagates through them). Samples come from tinygrad_lite's generator."""
import math

import numpy as np

from .random import get_rng
from .size import Size
from .tensor import Tensor

__all__ = ["Distribution", "Normal", "Categorical", "Bernoulli", "Uniform", "kl_divergence"]


def _t(x, like=None):
    """x as a Tensor; with `like`, in like's float dtype (PyTorch promotes a float32 value against float64
    parameters to float64)."""
    if isinstance(x, Tensor):
        if isinstance(like, Tensor) and like.dtype.kind == "f" and x.dtype != like.dtype and \
                (x.dtype.kind != "f" or x.dtype.itemsize < like.dtype.itemsize):
            return x.to(like.dtype)
        return x
    dt = like.dtype if isinstance(like, Tensor) and like.dtype.kind == "f" else None
    return Tensor(x, dtype=dt) if dt is not None else Tensor(float(x) if np.ndim(x) == 0 else x)


def _shape(sample_shape):
    return tuple(sample_shape) if isinstance(sample_shape, (tuple, list)) else (int(sample_shape),)


class Distribution:
    """What every distribution has: batch_shape, sample/rsample over a sample_shape, log_prob, entropy."""
    has_rsample = False

    @property
    def batch_shape(self):
        return Size(self._batch)

    def sample(self, sample_shape=()):
        from .grad_mode import no_grad
        with no_grad():
            return self.rsample(sample_shape).detach() if self.has_rsample else self._sample(_shape(sample_shape))

    def rsample(self, sample_shape=()):
        from .compat import unsupported
        raise unsupported(f"{type(self).__name__}.rsample (not reparameterisable)")

    def __repr__(self):
        return f"{type(self).__name__}(batch_shape={tuple(self._batch)})"


class Normal(Distribution):
    """Normal(loc, scale): rsample is loc + scale * eps (the reparameterisation trick)."""
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc = _t(loc)
        self.scale = _t(scale, self.loc)
        if self.loc.dtype != self.scale.dtype and isinstance(loc, Tensor) is False:
            self.loc = self.loc.to(self.scale.dtype)
        self._batch = np.broadcast_shapes(tuple(self.loc.shape), tuple(self.scale.shape))
        if validate_args and bool((self.scale._data <= 0).any()):
            raise ValueError(f"Normal: scale must be positive, got {self.scale}")

    mean = property(lambda self: self.loc.expand(*self._batch))
    stddev = property(lambda self: self.scale.expand(*self._batch))
    variance = property(lambda self: self.stddev ** 2)

    def rsample(self, sample_shape=()):
        shape = _shape(sample_shape) + tuple(self._batch)
        eps = Tensor._leaf(get_rng().standard_normal(shape).astype(self.loc._data.dtype
                                                                    if self.loc.dtype.kind == "f" else np.float32))
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = _t(value, self.loc)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        return (0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()).expand(*self._batch)

    def cdf(self, value):
        from .nn.functional import erf
        return 0.5 * (1 + erf((_t(value, self.loc) - self.loc) * self.scale.reciprocal() / math.sqrt(2)))


class Uniform(Distribution):
    """Uniform(low, high): rsample is low + (high - low) * u."""
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = _t(low), _t(high, _t(low))
        self._batch = np.broadcast_shapes(tuple(self.low.shape), tuple(self.high.shape))

    mean = property(lambda self: ((self.high + self.low) / 2).expand(*self._batch))

    def rsample(self, sample_shape=()):
        shape = _shape(sample_shape) + tuple(self._batch)
        u = Tensor._leaf(get_rng().random(shape).astype(self.low._data.dtype if self.low.dtype.kind == "f"
                                                        else np.float32))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        value = _t(value, self.low)
        inside = Tensor._leaf((value._data >= self.low._data) & (value._data < self.high._data))
        from .functions import where
        return where(inside, -(self.high - self.low).log(), float("-inf"))

    def entropy(self):
        return (self.high - self.low).log()


class Categorical(Distribution):
    """Categorical(probs=None, logits=None) over the last dim: sample() gives int64 indices."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: either `probs` or `logits` must be specified, but not both")
        if probs is not None:
            probs = _t(probs)
            self.probs = probs / probs.sum(-1, keepdim=True)
            self.logits = self.probs.clamp(min=np.finfo(self.probs.dtype).tiny).log()
        else:
            logits = _t(logits)
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self.probs = self.logits.softmax(-1)
        if self.probs.ndim < 1:
            raise ValueError(f"Categorical: probs/logits must have at least one dimension, got shape "
                             f"{tuple(self.probs.shape)}")
        self._batch = tuple(self.probs.shape[:-1])
        self._num_events = self.probs.shape[-1]

    def _sample(self, shape):
        p = self.probs._data.astype(np.float64).reshape(-1, self._num_events)
        rng = get_rng()
        n = int(np.prod(shape, dtype=np.int64))
        cum = np.cumsum(p, axis=1)
        u = rng.random((n, p.shape[0])) * cum[:, -1]
        idx = np.stack([np.searchsorted(cum[r], u[:, r], side="right") for r in range(p.shape[0])], axis=1)
        return Tensor._leaf(np.minimum(idx, self._num_events - 1).reshape(shape + self._batch).astype(np.int64))

    def log_prob(self, value):
        v = value._data if isinstance(value, Tensor) else np.asarray(value)
        v = v.astype(np.int64)
        shape = np.broadcast_shapes(v.shape, self._batch)
        logits = self.logits.expand(*(shape + (self._num_events,)))
        return logits.gather(-1, Tensor._leaf(np.broadcast_to(v, shape)[..., None])).squeeze(-1)

    def entropy(self):
        p_log_p = self.logits.clamp(min=np.finfo(self.logits.dtype).min) * self.probs
        return -p_log_p.sum(-1)

    mean = property(lambda self: Tensor._leaf(np.full(self._batch, np.nan, self.probs._data.dtype)))


class Bernoulli(Distribution):
    """Bernoulli(probs=None, logits=None): log_prob is -BCE-with-logits, stable for large logits."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: either `probs` or `logits` must be specified, but not both")
        if probs is not None:
            self.probs = _t(probs)
            eps = np.finfo(self.probs.dtype).eps
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (-p).log1p()
        else:
            self.logits = _t(logits)
            self.probs = self.logits.sigmoid()
        self._batch = tuple(self.probs.shape)

    mean = property(lambda self: self.probs)

    def _sample(self, shape):
        u = get_rng().random(shape + self._batch)
        return Tensor._leaf((u < self.probs._data).astype(self.probs._data.dtype))

    def log_prob(self, value):
        from .nn.functional import binary_cross_entropy_with_logits
        value = _t(value, self.logits)
        shape = np.broadcast_shapes(tuple(value.shape), self._batch)
        return -binary_cross_entropy_with_logits(self.logits.expand(*shape), value.expand(*shape), reduction="none")

    def entropy(self):
        from .nn.functional import binary_cross_entropy_with_logits
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


def kl_divergence(p, q):
    """KL(p || q) for two Normals (elementwise), two Categoricals (over the last dim) or two Bernoullis."""
    if isinstance(p, Normal) and isinstance(q, Normal):
        var_ratio = (p.scale / q.scale) ** 2
        t1 = ((p.loc - q.loc) / q.scale) ** 2
        return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        return (p.probs * (p.logits - q.logits)).sum(-1)
    if isinstance(p, Bernoulli) and isinstance(q, Bernoulli):
        from .nn.functional import softplus
        return p.probs * (softplus(-q.logits) - softplus(-p.logits)) + \
            (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    from .compat import unsupported
    raise unsupported(f"kl_divergence({type(p).__name__}, {type(q).__name__})")
