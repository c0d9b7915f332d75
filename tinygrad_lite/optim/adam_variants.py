"""Adamax, NAdam and RAdam with torch.optim's update formulas (same operation order, so float64 runs agree
with PyTorch's to the last bits)."""
import numpy as np

from ..dtypes import DEFAULT
from ..tensor import Tensor
from .adam import _check
from .optimizer import Optimizer

__all__ = ["Adamax", "NAdam", "RAdam"]


class _AdamFamily(Optimizer):
    def _each(self):
        """(group, parameter, its gradient array (negated if maximize), its state) for every parameter with a grad."""
        name = type(self).__name__
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.__class__ is not Tensor:
                    raise TypeError(f"{name}: the gradient of a parameter of shape {p.shape} is a "
                                    f"{type(p.grad).__name__}; expected a dense Tensor")
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p._data)
                d = p.grad._data
                yield group, p, (-d if group.get("maximize") else d), state

    @staticmethod
    def _lerp(m, d, w):
        m += (d - m) * w  # torch's lerp_ for a weight below 0.5: m + w * (g - m)

    def _adam_moments(self, group, p, d, state):
        """NAdam's and RAdam's common start: count the step, apply weight decay (decoupled: shrink the
        weights; else: add it to the gradient) and update the two moments in place -> (step, d, m, v)."""
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        state["step"]._data += 1
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p._data *= 1 - lr * wd
            else:
                d = d + wd * p._data
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        self._lerp(m, d, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * d * d
        return float(state["step"]._data), d, m, v


class Adamax(_AdamFamily):
    """Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False): Adam with the
    infinity norm, u = max(beta2 * u, |g| + eps), p -= lr / (1 - beta1^t) * m / u."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False):
        _check("Adamax", lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, pd):
        return {"step": Tensor._leaf(np.zeros((), np.float32)), "exp_avg": Tensor._leaf(np.zeros_like(pd)),
                "exp_inf": Tensor._leaf(np.zeros_like(pd))}

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p, d, state in self._each():
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            state["step"]._data += 1
            pd = p._data
            if wd != 0:
                d = d + wd * pd
            m, u = state["exp_avg"]._data, state["exp_inf"]._data
            self._lerp(m, d, 1 - beta1)
            u *= beta2
            np.maximum(u, np.abs(d) + eps, out=u)
            clr = lr / (1 - beta1 ** float(state["step"]._data))
            pd += (-clr * m) / u
            p._bump()
        return loss


class NAdam(_AdamFamily):
    """NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, maximize=False): Adam with Nesterov momentum (Dozat), PyTorch's mu schedule
    mu_t = beta1 (1 - 0.5 * 0.96^(t momentum_decay)) and its running product kept as a 0-d tensor."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3, *,
                 decoupled_weight_decay=False, maximize=False):
        _check("NAdam", lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"NAdam: invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _init_state(self, pd):
        scalar = np.float64 if DEFAULT.dtype == np.float64 else np.float32  # as torch's step and mu_product
        return {"step": Tensor._leaf(np.zeros((), scalar)), "mu_product": Tensor._leaf(np.ones((), scalar)),
                "exp_avg": Tensor._leaf(np.zeros_like(pd)), "exp_avg_sq": Tensor._leaf(np.zeros_like(pd))}

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p, d, state in self._each():
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            step, d, m, v = self._adam_moments(group, p, d, state)
            pd = p._data
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
            mp = state["mu_product"]._data
            mp *= mp.dtype.type(mu)  # (a 0-d tensor in torch: the product rounds to its dtype at every step)
            mu_product = float(mp)
            denom = np.sqrt(v / (1 - beta2 ** step))
            denom += eps
            pd += ((-lr * (1.0 - mu) / (1.0 - mu_product)) * d) / denom
            pd += ((-lr * mu_next / (1.0 - mu_product * mu_next)) * m) / denom
            p._bump()
        return loss


class RAdam(_AdamFamily):
    """RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
    maximize=False): Adam whose adaptive step is switched on (and rectified) once the variance estimate is
    reliable, rho_t > 5 (Liu et al.); before that, plain momentum SGD with bias correction."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, decoupled_weight_decay=False,
                 maximize=False):
        _check("RAdam", lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _init_state(self, pd):
        return {"step": Tensor._leaf(np.zeros((), np.float32)), "exp_avg": Tensor._leaf(np.zeros_like(pd)),
                "exp_avg_sq": Tensor._leaf(np.zeros_like(pd))}

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p, d, state in self._each():
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            step, d, m, v = self._adam_moments(group, p, d, state)
            pd = p._data
            bias_correction2 = 1 - beta2 ** step
            corrected = m / (1 - beta1 ** step)
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive = (bias_correction2 ** 0.5) / (np.sqrt(v) + eps)
                pd -= corrected * lr * adaptive * rect
            else:
                pd -= corrected * lr
            p._bump()
        return loss
