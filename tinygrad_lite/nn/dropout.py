"""Channel dropout and flattening layers: F.dropout2d, Dropout2d, Flatten, Unflatten."""
import numpy as np

from ..dtypes import DEFAULT
from ..random import get_rng
from ..tensor import Tensor
from .module import Module

__all__ = ["dropout2d", "Dropout2d", "Flatten", "Unflatten"]


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels with probability p, scale the rest by 1/(1-p) (training); identity otherwise.
    input (N, C, H, W) or (C, H, W); a 3-D input is taken as (N, C, L), PyTorch's current behaviour.
    The mask (N, C, 1, 1) comes from the global generator (tinygrad_lite.manual_seed)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout2d: expected a Tensor input, got {type(input).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: probability has to be between 0 and 1, but got {p}")
    x = input
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected input of shape (N, C, H, W) or (N, C, L), got {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    mask_shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2)
    keep = get_rng().random(mask_shape) >= p
    dt = x.dtype if x.dtype.kind == "f" else DEFAULT.dtype
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return x * Tensor._leaf((keep * scale).astype(dt))


class Dropout2d(Module):
    """Dropout2d(p=0.5): zero whole channels of (N, C, H, W) in training mode. See F.dropout2d."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        """input (N, C, H, W) -> same shape."""
        return dropout2d(input, self.p, self.training)

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Flatten(start_dim=1, end_dim=-1): (N, *dims) -> (N, prod(dims)) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        """input (*) -> dims start_dim..end_dim merged into one."""
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Unflatten(dim, unflattened_size): dim of size prod(unflattened_size) -> unflattened_size."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        """input (*) -> dim split into unflattened_size."""
        d = self.dim % input.ndim
        shape = tuple(input.shape)
        if int(np.prod(self.unflattened_size)) != shape[d] and -1 not in self.unflattened_size:
            raise ValueError(f"Unflatten: dim {self.dim} of input shape {shape} has size {shape[d]}, which is not "
                             f"the product of unflattened_size {self.unflattened_size}")
        return input.reshape(shape[:d] + self.unflattened_size + shape[d + 1:])

    def extra_repr(self):
        """As PyTorch prints it."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
