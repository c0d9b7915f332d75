"""Adam, AdamW and SparseAdam with PyTorch's update formulas (same operation order)."""
import math

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _is_sparse

__all__ = ["Adam", "AdamW", "SparseAdam"]


def _check(name, lr, betas, eps, weight_decay):
    if not 0.0 <= lr:
        raise ValueError(f"{name}: invalid learning rate: {lr} (expected lr >= 0)")
    if not 0.0 <= eps:
        raise ValueError(f"{name}: invalid epsilon value: {eps} (expected eps >= 0)")
    if len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"{name}: invalid beta parameter at index 0: {betas[0]} (expected 0 <= beta1 < 1)")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"{name}: invalid beta parameter at index 1: {betas[1]} (expected 0 <= beta2 < 1)")
    if not 0.0 <= weight_decay:
        raise ValueError(f"{name}: invalid weight_decay value: {weight_decay} (expected >= 0)")


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False).

    Per parameter p with gradient g (same shape), step t = 1, 2, ..., exactly as torch.optim.Adam::

        g = -g if maximize
        g = g + weight_decay * p                 (Adam; AdamW instead does p = p * (1 - lr * weight_decay))
        m = m + (1 - beta1) * (g - m)            (torch: m.lerp_(g, 1 - beta1))
        v = v * beta2 + (1 - beta2) * g * g
        vmax = max(vmax, v)                      if amsgrad (then used in place of v)
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p + (-lr / (1 - beta1**t)) * m / denom

    State per parameter: "step" (0-d float32 Tensor, as torch), "exp_avg", "exp_avg_sq",
    "max_exp_avg_sq" (amsgrad). Row-sparse gradients are refused (use SparseAdam).
    """
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False):
        _check(type(self).__name__, lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss (or None)."""
        loss = self._closure(closure)
        name = type(self).__name__
        decoupled = self._decoupled
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.__class__ is not Tensor:
                    if _is_sparse(g):
                        raise RuntimeError(f"{name} does not support sparse gradients (parameter of shape "
                                           f"{p.shape}), please consider SparseAdam instead")
                    raise TypeError(f"{name}: the gradient of a parameter of shape {p.shape} is a "
                                    f"{type(g).__name__}; expected a Tensor")
                pd = p._data
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {"step": Tensor._leaf(np.zeros((), np.float32)),
                                             "exp_avg": Tensor._leaf(np.zeros_like(pd)),
                                             "exp_avg_sq": Tensor._leaf(np.zeros_like(pd))}
                    if amsgrad:
                        state["max_exp_avg_sq"] = Tensor._leaf(np.zeros_like(pd))
                step_t = state["step"]
                step_t._data += 1
                step = float(step_t._data)
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                d = g._data
                if maximize:
                    d = -d
                if weight_decay != 0:
                    if decoupled:
                        pd *= 1 - lr * weight_decay
                    else:
                        d = d + weight_decay * pd
                tmp = np.subtract(d, m)               # m.lerp_(g, 1 - beta1) = m + (1 - beta1) * (g - m)
                tmp *= 1 - beta1
                m += tmp
                v *= beta2                             # v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                np.multiply(d, 1 - beta2, out=tmp)
                tmp *= d
                v += tmp
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    vmax = state["max_exp_avg_sq"]._data
                    np.maximum(vmax, v, out=vmax)
                    denom = np.sqrt(vmax)
                else:
                    denom = np.sqrt(v)
                denom /= bias_correction2_sqrt
                denom += eps
                np.multiply(m, -step_size, out=tmp)   # p.addcdiv_(m, denom, value=-step_size)
                tmp /= denom
                pd += tmp
                p._bump()
        return loss


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False).

    Adam with decoupled weight decay: p = p * (1 - lr * weight_decay) before the Adam update
    (torch.optim.AdamW). Shapes and state as Adam.
    """
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class SparseAdam(Optimizer):
    """SparseAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False): lazy Adam for
    row-sparse gradients (torch.optim.SparseAdam).

    Only the rows present in the gradient (indices (k,), values (k, d...)) have their moments and
    values updated, so a step costs O(k d) whatever the vocabulary size::

        m[r] += (1 - beta1) * (g[r] - m[r]);  v[r] += (1 - beta2) * (g[r]**2 - v[r])
        p[r] += -(lr * sqrt(1 - beta2**t) / (1 - beta1**t)) * (m[r] / (sqrt(v[r]) + eps))

    Dense gradients are refused (use Adam). State: "step" (int), "exp_avg", "exp_avg_sq".
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"SparseAdam: invalid learning rate: {lr} (expected lr > 0)")
        if not 0.0 < eps:
            raise ValueError(f"SparseAdam: invalid epsilon value: {eps} (expected eps > 0)")
        _check("SparseAdam", lr, betas, eps, 0.0)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize))

    def step(self, closure=None):
        """Update the touched rows of every parameter that has a gradient; returns closure's loss."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, maximize = group["lr"], group["betas"], group["eps"], group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if not _is_sparse(g):
                    raise RuntimeError(f"SparseAdam does not support dense gradients (parameter of shape {p.shape}),"
                                       " please consider Adam instead")
                if g.shape != p.shape:
                    raise ValueError(f"SparseAdam: row-sparse gradient of shape {g.shape} does not match its "
                                     f"parameter's shape {p.shape}")
                pd = p._data
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {"step": 0, "exp_avg": Tensor._leaf(np.zeros_like(pd)),
                                             "exp_avg_sq": Tensor._leaf(np.zeros_like(pd))}
                state["step"] += 1
                c = g.coalesce()
                rows, vals = c.indices, c.values
                if maximize:
                    vals = -vals
                if rows.shape[0] == 0:
                    continue
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                old_m = m[rows]
                upd_m = vals - old_m
                upd_m *= 1 - beta1
                m[rows] = old_m + upd_m
                old_v = v[rows]
                upd_v = vals * vals
                upd_v -= old_v
                upd_v *= 1 - beta2
                v[rows] = old_v + upd_v
                numer = upd_m
                numer += old_m
                upd_v += old_v
                denom = np.sqrt(upd_v, out=upd_v)
                denom += eps
                step = state["step"]
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr * math.sqrt(bias_correction2) / bias_correction1
                numer /= denom
                numer *= -step_size
                pd[rows] += numer
                p._bump()
        return loss
