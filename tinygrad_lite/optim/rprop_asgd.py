"""Rprop and ASGD with torch.optim's update formulas (same operation order: float64 runs agree with
PyTorch's to the last bits)."""
import numpy as np

from ..tensor import Tensor
from .adam_variants import _AdamFamily

__all__ = ["Rprop", "ASGD"]


class Rprop(_AdamFamily):
    """Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False): per weight, a step
    size that grows by etas[1] while the gradient keeps its sign and shrinks by etas[0] when it flips
    (that step then skips the weight); the update is -sign(g) * step size. Only the gradient's sign counts."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Rprop: invalid learning rate: {lr} (expected lr >= 0)")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid eta values: {etas} (expected 0 < etaminus < 1 < etaplus)")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize))

    def _init_state(self, pd):
        return {"step": Tensor._leaf(np.zeros((), np.float32)), "prev": Tensor._leaf(np.zeros_like(pd)),
                "step_size": None}

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p, d, state in self._each():
            (shrink, grow), (low, high) = group["etas"], group["step_sizes"]
            if state["step_size"] is None:
                state["step_size"] = Tensor._leaf(np.full_like(p._data, group["lr"]))
            state["step"]._data += 1
            prev, size = state["prev"]._data, state["step_size"]._data
            agree = np.sign(d * prev)
            factor = np.where(agree > 0, grow, np.where(agree < 0, shrink, 1.0)).astype(size.dtype)
            size *= factor
            np.clip(size, low, high, out=size)
            d = np.where(agree < 0, 0, d).astype(d.dtype)  # a flipped sign: no step, and no flip next time
            p._data -= np.sign(d) * size
            prev[...] = d
            p._bump()
        return loss


class ASGD(_AdamFamily):
    """ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False): SGD with a decaying
    step eta = lr / (1 + lambd lr t)^alpha and weight shrinking by lambd eta, keeping in state["ax"] the
    average of the weights since step t0 (Polyak averaging)."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False):
        if lr < 0.0 or weight_decay < 0.0:
            raise ValueError(f"ASGD: invalid learning rate {lr} or weight_decay {weight_decay} (expected >= 0)")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, pd):
        # step, eta and mu are float32 scalars, as PyTorch keeps them (its float64 runs see their rounding)
        return {"step": Tensor._leaf(np.zeros((), np.float32)), "eta": None, "mu": Tensor._leaf(np.ones((), np.float32)),
                "ax": Tensor._leaf(np.zeros_like(pd))}

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p, d, state in self._each():
            lr, lambd, alpha, t0, wd = group["lr"], group["lambd"], group["alpha"], group["t0"], group["weight_decay"]
            if state["eta"] is None:
                state["eta"] = Tensor._leaf(np.array(lr, np.float32))
            state["step"]._data += 1
            t = float(state["step"]._data)
            pd = p._data
            if wd != 0:
                d = d + wd * pd
            eta, mu = float(state["eta"]._data), float(state["mu"]._data)
            pd *= 1 - lambd * eta
            pd -= eta * d
            ax = state["ax"]._data
            if mu != 1:
                ax += (pd - ax) * mu
            else:
                ax[...] = pd
            state["eta"]._data[...] = lr / ((1 + lambd * lr * t) ** alpha)  # (computed in float64, kept in float32)
            state["mu"]._data[...] = 1 / max(1, t - t0)
            p._bump()
        return loss
