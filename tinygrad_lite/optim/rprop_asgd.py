"""Rprop and ASGD with torch.optim's update formulas (same operation order: float64 runs agree with
PyTorch's to the last bits)."""
import numpy as np

from ..tensor import Tensor
from ._dense import check_nonneg, dense_grad, step_count
from .optimizer import Optimizer

__all__ = ["Rprop", "ASGD"]


class Rprop(Optimizer):
    """Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False): per weight, a step
    size that grows by etas[1] while the gradient keeps its sign and shrinks by etas[0] when it flips
    (that step then skips the weight); the update is -sign(g) * step size. Only the gradient's sign counts.
    State: "step", "prev" (the last gradient used), "step_size"."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False):
        check_nonneg("Rprop", lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid eta values: {etas} (expected 0 < etaminus < 1 < etaplus)")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss (or None)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            (shrink, grow), (low, high) = group["etas"], group["step_sizes"]
            for p in group["params"]:
                d = dense_grad("Rprop", p, group["maximize"], 0)
                if d is None:
                    continue
                state = self._state_of(p)
                if "prev" not in state:
                    state["prev"] = Tensor._leaf(np.zeros_like(p._data))
                    state["step_size"] = Tensor._leaf(np.full_like(p._data, group["lr"]))
                step_count(state)
                prev, size = state["prev"]._data, state["step_size"]._data
                agree = np.sign(d * prev)
                size *= np.where(agree > 0, grow, np.where(agree < 0, shrink, 1.0)).astype(size.dtype)
                np.clip(size, low, high, out=size)
                d = np.where(agree < 0, 0, d).astype(d.dtype)  # a flipped sign: no step, and no flip next time
                p._data -= np.sign(d) * size
                prev[...] = d
                p._bump()
        return loss


class ASGD(Optimizer):
    """ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False): SGD with a decaying
    step eta = lr / (1 + lambd lr t)^alpha and weight shrinking by lambd eta, keeping in state["ax"] the
    average of the weights since step t0 (Polyak averaging). State: "step", "eta", "mu", "ax"; step, eta and
    mu are float32 scalars, as PyTorch keeps them (its float64 runs see their rounding)."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False):
        check_nonneg("ASGD", lr=lr, weight_decay=weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss (or None)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
            for p in group["params"]:
                d = dense_grad("ASGD", p, group["maximize"], group["weight_decay"])
                if d is None:
                    continue
                state = self._state_of(p)
                if "ax" not in state:
                    state["eta"] = Tensor._leaf(np.array(lr, np.float32))
                    state["mu"] = Tensor._leaf(np.ones((), np.float32))
                    state["ax"] = Tensor._leaf(np.zeros_like(p._data))
                t = step_count(state)
                pd, ax = p._data, state["ax"]._data
                eta, mu = float(state["eta"]._data), float(state["mu"]._data)
                pd *= 1 - lambd * eta
                pd -= eta * d
                if mu != 1:
                    ax += (pd - ax) * mu
                else:
                    ax[...] = pd
                state["eta"]._data[...] = lr / ((1 + lambd * lr * t) ** alpha)  # (in float64, kept in float32)
                state["mu"]._data[...] = 1 / max(1, t - t0)
                p._bump()
        return loss
