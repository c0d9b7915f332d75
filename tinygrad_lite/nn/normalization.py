"""Batch normalisation: F.batch_norm and BatchNorm1d/2d/3d with running statistics, as PyTorch.

Training mode normalises with the batch's statistics (biased variance) and moves the running
estimates toward them (running_var with the unbiased variance); eval mode uses the running estimates.
The normalisation is composed from engine ops, so autograd derives its gradient.
"""
import numpy as np

from ..dtypes import DEFAULT, to_dtype
from ..grad_mode import no_grad
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = ["batch_norm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1). input (N, C, *).

    training=True: batch statistics over every dim but 1; running_mean/running_var (C,) (if given) are
    updated in place: r = (1 - momentum) r + momentum * batch statistic (unbiased variance for r_var).
    training=False: running_mean and running_var are used (they must be given)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"batch_norm: expected a Tensor input, got {type(input).__name__}")
    x = input
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *), got {tuple(x.shape)}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"batch_norm: {name} must have shape ({C},) for input of shape {tuple(x.shape)}, "
                             f"got {tuple(t.shape)}")
    shape = (1, C) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.numel() // C
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                             f"shape {tuple(x.shape)}")
        mean = x.mean(axes, keepdim=True)
        d = x - mean
        var = (d * d).mean(axes, keepdim=True)
        with no_grad():
            for r, v in ((running_mean, mean._data), (running_var, var._data * (n / (n - 1)))):
                if r is not None:
                    r._data *= 1.0 - momentum
                    r._data += momentum * v.reshape(C).astype(r._data.dtype)
                    r._bump()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
        mean = running_mean.reshape(shape)
        var = running_var.reshape(shape)
        d = x - mean
    y = d * (var + eps).rsqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


class _BatchNorm(Module):
    """BatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True).

    weight (C,) starts at ones, bias (C,) at zeros (affine); buffers running_mean (zeros), running_var
    (ones) and num_batches_tracked (int64) when track_running_stats. momentum=None: a cumulative
    average (1 / num_batches_tracked). Without running statistics, eval mode uses batch statistics."""
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = to_dtype(dtype) or DEFAULT.dtype
        C = self.num_features
        if affine:
            self.weight = Parameter(Tensor._leaf(np.ones(C, dt)))
            if bias:
                self.bias = Parameter(Tensor._leaf(np.zeros(C, dt)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._leaf(np.zeros(C, dt)))
            self.register_buffer("running_var", Tensor._leaf(np.ones(C, dt)))
            self.register_buffer("num_batches_tracked", Tensor._leaf(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        """running_mean <- 0, running_var <- 1, num_batches_tracked <- 0."""
        if self.track_running_stats:
            for t, v in ((self.running_mean, 0), (self.running_var, 1), (self.num_batches_tracked, 0)):
                t._data[...] = v
                t._bump()

    def reset_parameters(self):
        """Reset the running statistics, weight <- 1 and bias <- 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        """input (N, C, *) -> same shape, normalised per channel."""
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in self._dims or input.shape[1] != self.num_features:
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{name}: expected input with {' or '.join(map(str, self._dims))} dims and "
                             f"{self.num_features} channels in dim 1 (num_features), got {shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt._data += 1
            nbt._bump()
            if self.momentum is None:
                factor = 1.0 / float(nbt._data)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self):
        """As PyTorch prints it."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs. See _BatchNorm / F.batch_norm."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs. See _BatchNorm / F.batch_norm."""
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) inputs. See _BatchNorm / F.batch_norm."""
    _dims = (5,)
