"""L-BFGS with torch.optim.LBFGS's arguments and iteration: step(closure) runs up to max_iter quasi-Newton
iterations, each a direction from the last history_size curvature pairs (the two-loop recursion) and a
step along it, either of fixed length lr or found by a strong-Wolfe line search.

All parameters are one flat vector (one parameter group, as PyTorch requires). Without a line search the
iterates are PyTorch's; the strong-Wolfe search is Nocedal and Wright's (algorithms 3.5 and 3.6, cubic
interpolation) with PyTorch's constants; on the tests' problems it takes the same trial steps and evaluations
as PyTorch's (tests/torch/test_lbfgs_vs_torch.py), but that is measured, not promised.
"""
import numpy as np

from ..grad_mode import enable_grad
from .optimizer import Optimizer, _is_sparse

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """LBFGS(params, lr=1, max_iter=20, max_eval=None (max_iter * 5 // 4), tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None or 'strong_wolfe').
    step(closure) needs a closure that zeroes the gradients, computes the loss, calls backward() and
    returns the loss; it returns the loss of the first evaluation."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if lr < 0.0:
            raise ValueError(f"LBFGS: invalid learning rate: {lr} (expected lr >= 0)")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---------------------------------------------------------------- the flat vector of all parameters
    def _flat_grad(self):
        def flat(p):
            g = p.grad
            if g is None:
                return np.zeros(p._data.size, p._data.dtype)
            return (g.to_dense() if _is_sparse(g) else g)._data.ravel()
        return np.concatenate([flat(p) for p in self._params])

    def _flat_params(self):
        return np.concatenate([p._data.ravel() for p in self._params])

    def _set_params(self, flat):
        i = 0
        for p in self._params:
            p._data[...] = flat[i:i + p._data.size].reshape(p._data.shape)
            p._bump()
            i += p._data.size

    def _add_to_params(self, t, d):
        self._set_params(self._flat_params() + t * d)

    def _evaluate(self, closure, x, t, d):
        """Loss and flat gradient at x + t d (the parameters are left at x + t d)."""
        self._set_params(x + t * d)
        with enable_grad():
            loss = float(closure())
        return loss, self._flat_grad()

    # ---------------------------------------------------------------- the quasi-Newton direction
    @staticmethod
    def _direction(g, pairs, h_diag):
        """-H g by the two-loop recursion over the curvature pairs (s, y, 1 / y.s), oldest first."""
        q = -g
        alphas = []
        for s, y, rho in reversed(pairs):
            a = rho * s.dot(q)
            q = q - a * y
            alphas.append(a)
        r = q * h_diag
        for (s, y, rho), a in zip(pairs, reversed(alphas)):
            r = r + (a - rho * y.dot(r)) * s
        return r

    def step(self, closure):
        """Run up to max_iter iterations on the loss `closure` computes; returns its first value."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that reevaluates the model and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change, history = group["tolerance_grad"], group["tolerance_change"], group["history_size"]
        state = self.state.setdefault(self._params[0], {"func_evals": 0, "n_iter": 0})
        with enable_grad():
            first = closure()
        loss, evals = float(first), 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if np.abs(g).max() <= tol_grad:
            return first
        d, t = state.get("d"), state.get("t")
        pairs, h_diag = state.get("pairs", []), state.get("H_diag", 1.0)
        g_prev, loss_prev = state.get("prev_flat_grad"), state.get("prev_loss")
        n = 0
        while n < max_iter:
            n += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, pairs, h_diag = -g, [], 1.0
            else:
                y, s = g - g_prev, d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep only pairs of positive curvature (H stays positive definite)
                    pairs = (pairs + [(s, y, 1.0 / ys)])[-history:]
                    h_diag = ys / y.dot(y)
                d = self._direction(g, pairs, h_diag)
            g_prev, loss_prev = g.copy(), loss
            t = min(1.0, 1.0 / np.abs(g).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = g.dot(d)
            if gtd > -tol_change:  # not a descent direction any more
                break
            used = 0
            if group["line_search_fn"] == "strong_wolfe":
                x = self._flat_params()
                loss, g, t, used = _strong_wolfe(lambda step: self._evaluate(closure, x, step, d), t, d, loss, g,
                                                 gtd, tol_change)
                self._set_params(x + t * d)
                done = np.abs(g).max() <= tol_grad
            else:
                self._add_to_params(t, d)
                done = False
                if n != max_iter:  # (the last iteration's step is taken without evaluating it)
                    with enable_grad():
                        loss = float(closure())
                    g = self._flat_grad()
                    done, used = np.abs(g).max() <= tol_grad, 1
            evals += used
            state["func_evals"] += used
            if n == max_iter or evals >= max_eval or done or np.abs(d * t).max() <= tol_change \
                    or abs(loss - loss_prev) < tol_change:
                break
        state.update(d=d, t=t, pairs=pairs, H_diag=h_diag, prev_flat_grad=g_prev, prev_loss=loss_prev)
        return first


def _cubic_min(a, fa, ga, b, fb, gb):
    """The minimiser in [min(a, b), max(a, b)] of the cubic through (a, fa, ga) and (b, fb, gb); the
    interval's midpoint when the cubic has no real minimiser."""
    lo, hi = min(a, b), max(a, b)
    d1 = ga + gb - 3 * (fa - fb) / (a - b)
    disc = d1 * d1 - ga * gb
    if disc < 0:
        return (lo + hi) / 2
    d2 = np.sqrt(disc) * np.sign(b - a)
    x = b - (b - a) * (gb + d2 - d1) / (gb - ga + 2 * d2)
    return float(min(max(x, lo), hi))


def _strong_wolfe(phi, t, d, f0, g0, gtd0, tol_change, c1=1e-4, c2=0.9, max_ls=25):
    """A step t along d meeting the strong Wolfe conditions (sufficient decrease c1, curvature c2), by
    bracketing then zooming with cubic interpolation. phi(t) -> (loss, flat gradient) at x + t d.
    Returns (loss, gradient, t, evaluations)."""
    f, g = phi(t)
    evals, gtd = 1, g.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f0, g0, gtd0
    bracket = None
    for i in range(max_ls):
        if f > f0 + c1 * t * gtd0 or (i > 0 and f >= f_prev):
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
            break
        if abs(gtd) <= -c2 * gtd0:
            return f, g, t, evals
        if gtd >= 0:
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
            break
        # extrapolate: a cubic step between 1.01 t and 10 t beyond the last two points
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f, gtd)
        t_next = min(max(t_next, lo), hi) if t_next > t else hi
        t_prev, f_prev, g_prev, gtd_prev = t, f, g, gtd
        t = t_next
        f, g = phi(t)
        evals += 1
        gtd = g.dot(d)
    if bracket is None:
        return f, g, t, evals
    # zoom: the bracket's low end always has the lower loss and satisfies sufficient decrease
    low, high = sorted(bracket, key=lambda p: p[1])
    for _ in range(max_ls - evals + 1):
        if abs(high[0] - low[0]) * np.abs(d).max() < tol_change:
            break
        t = _cubic_min(low[0], low[1], low[3], high[0], high[1], high[3])
        span = abs(high[0] - low[0])
        edge = min(abs(t - low[0]), abs(t - high[0]))
        if edge < 0.1 * span:  # too close to an end: the interval would hardly shrink
            t = (low[0] + high[0]) / 2
        f, g = phi(t)
        evals += 1
        gtd = g.dot(d)
        if f > f0 + c1 * t * gtd0 or f >= low[1]:
            high = (t, f, g, gtd)
        else:
            if abs(gtd) <= -c2 * gtd0:
                return f, g, t, evals
            if gtd * (high[0] - low[0]) >= 0:
                high = low
            low = (t, f, g, gtd)
    return low[1], low[2], low[0], evals
