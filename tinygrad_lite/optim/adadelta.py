"""Adadelta with PyTorch's update (torch.optim.Adadelta, same operation order)."""
import numpy as np

from ..tensor import Tensor
from ._dense import check_nonneg, dense_grad, step_count
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False).

    Per parameter p with gradient g (same shape), exactly as torch.optim.Adadelta::

        g = -g if maximize;  g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    State: "step", "square_avg" (v), "acc_delta" (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_nonneg("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value: {rho} (expected 0 <= rho <= 1)")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss (or None)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for p in group["params"]:
                d = dense_grad("Adadelta", p, group["maximize"], group["weight_decay"])
                if d is None:
                    continue
                state = self._state_of(p)
                if "square_avg" not in state:
                    state["square_avg"] = Tensor._leaf(np.zeros_like(p._data))
                    state["acc_delta"] = Tensor._leaf(np.zeros_like(p._data))
                step_count(state)
                v, u = state["square_avg"]._data, state["acc_delta"]._data
                v *= rho
                v += (1 - rho) * d * d
                std = np.sqrt(v + eps)
                delta = np.sqrt(u + eps)
                delta /= std
                delta *= d
                u *= rho
                u += (1 - rho) * delta * delta
                p._data += (-lr) * delta
                p._bump()
        return loss
