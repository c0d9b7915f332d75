"""Adagrad with PyTorch's update (torch.optim.Adagrad, same operation order)."""
import numpy as np

from ..tensor import Tensor
from ._dense import check_nonneg, dense_grad, step_count
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False).

    Per parameter p with gradient g (same shape), step t = 1, 2, ..., exactly as torch.optim.Adagrad::

        g = -g if maximize;  g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                      (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    State: "step", "sum". Row-sparse gradients are refused.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_nonneg("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                     initial_accumulator_value=initial_accumulator_value)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))
        for group in self.param_groups:  # torch creates the state at construction
            for p in group["params"]:
                self.state[p] = {"step": Tensor._leaf(np.zeros((), np.float32)),
                                 "sum": Tensor._leaf(np.full_like(p._data, group["initial_accumulator_value"]))}

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss (or None)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            for p in group["params"]:
                d = dense_grad("Adagrad", p, group["maximize"], group["weight_decay"])
                if d is None:
                    continue
                state = self._state_of(p)
                if "sum" not in state:
                    state["sum"] = Tensor._leaf(np.full_like(p._data, group["initial_accumulator_value"]))
                step = step_count(state)
                clr = lr / (1 + (step - 1) * lr_decay)
                s = state["sum"]._data
                s += d * d
                std = np.sqrt(s)
                std += eps
                p._data += (-clr) * (d / std)
                p._bump()
        return loss
