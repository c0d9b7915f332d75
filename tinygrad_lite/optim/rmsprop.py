"""RMSprop with PyTorch's update (torch.optim.RMSprop, same operation order)."""
import numpy as np

from ..tensor import Tensor
from ._dense import check_nonneg, dense_grad, step_count
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False).

    Per parameter p with gradient g (same shape), exactly as torch.optim.RMSprop::

        g = -g if maximize;  g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - m * m) + eps  with  m = m + (1 - alpha) * (g - m)   if centered
        avg = sqrt(v) + eps                                                otherwise
        b = momentum * b + g / avg;  p = p - lr * b                        if momentum > 0
        p = p - lr * g / avg                                               otherwise

    State: "step", "square_avg", "momentum_buffer" (momentum > 0), "grad_avg" (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_nonneg("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss (or None)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            momentum, centered = group["momentum"], group["centered"]
            for p in group["params"]:
                d = dense_grad("RMSprop", p, group["maximize"], group["weight_decay"])
                if d is None:
                    continue
                pd = p._data
                state = self._state_of(p)
                if "square_avg" not in state:
                    state["square_avg"] = Tensor._leaf(np.zeros_like(pd))
                    if momentum > 0:
                        state["momentum_buffer"] = Tensor._leaf(np.zeros_like(pd))
                    if centered:
                        state["grad_avg"] = Tensor._leaf(np.zeros_like(pd))
                step_count(state)
                v = state["square_avg"]._data
                v *= alpha
                v += (1 - alpha) * d * d
                if centered:
                    m = state["grad_avg"]._data
                    m += (1 - alpha) * (d - m)         # m.lerp_(g, 1 - alpha)
                    avg = np.sqrt(v - m * m)
                else:
                    avg = np.sqrt(v)
                avg += eps
                if momentum > 0:
                    b = state["momentum_buffer"]._data
                    b *= momentum
                    b += d / avg
                    pd -= lr * b
                else:
                    pd += (-lr) * (d / avg)
                p._bump()
        return loss
