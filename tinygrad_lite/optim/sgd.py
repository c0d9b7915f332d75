"""Stochastic gradient descent, with PyTorch's update (momentum, dampening, nesterov, weight decay)."""
import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _is_sparse, required

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False).

    Per parameter p with gradient g (any shape, same as p), exactly as torch.optim.SGD::

        g = -g if maximize
        g = g + weight_decay * p                              if weight_decay != 0
        b = g (first step) or b = momentum * b + (1 - dampening) * g   if momentum != 0
        g = g + momentum * b if nesterov else b                if momentum != 0
        p = p - lr * g

    Row-sparse gradients (sparse embeddings) are supported when momentum == 0 and weight_decay == 0:
    only the touched rows are updated.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
        if lr is not required and lr < 0.0:
            raise ValueError(f"SGD: invalid learning rate: {lr} (expected lr >= 0)")
        if momentum < 0.0:
            raise ValueError(f"SGD: invalid momentum value: {momentum} (expected >= 0)")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: invalid weight_decay value: {weight_decay} (expected >= 0)")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure's loss (or None)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = group["lr"]
            momentum, dampening = group["momentum"], group["dampening"]
            weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            if momentum == 0 and weight_decay == 0 and not maximize:
                for p in group["params"]:  # hot path: p -= lr * g
                    g = p.grad
                    if g is None:
                        continue
                    if g.__class__ is Tensor:
                        pd = p._data
                        pd -= lr * g._data
                    else:
                        self._sparse_step(p, g, lr, False)
                    p._bump()
                continue
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if _is_sparse(g):
                    if momentum != 0 or weight_decay != 0:
                        raise RuntimeError(
                            f"SGD: parameter of shape {p.shape} has a row-sparse gradient, which SGD supports only "
                            f"with momentum=0 and weight_decay=0 (got momentum={momentum}, "
                            f"weight_decay={weight_decay}); use dense gradients (Embedding(sparse=False)) or "
                            "SparseAdam")
                    self._sparse_step(p, g, lr, maximize)
                    p._bump()
                    continue
                pd = p._data
                d = g._data
                if maximize:
                    d = -d
                if weight_decay != 0:
                    d = d + weight_decay * pd
                if momentum != 0:
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = {}
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = Tensor._leaf(np.array(d, copy=True))
                        b = buf._data
                    else:
                        b = buf._data
                        b *= momentum
                        if dampening == 0:
                            b += d
                        else:
                            b += (1 - dampening) * d
                    d = d + momentum * b if nesterov else b
                pd -= lr * d
                p._bump()
        return loss

    @staticmethod
    def _sparse_step(p, g, lr, maximize):
        """p[rows] -= lr * values for a row-sparse gradient (coalesced first: rows unique)."""
        if not _is_sparse(g):
            raise TypeError(f"SGD: the gradient of a parameter of shape {p.shape} is a {type(g).__name__}; "
                            "expected a Tensor or a RowSparseGrad")
        if g.shape != p.shape:
            raise ValueError(f"SGD: row-sparse gradient of shape {g.shape} does not match its parameter's shape "
                             f"{p.shape}")
        c = g.coalesce()
        if c.indices.shape[0] == 0:
            return
        pd = p._data
        rows = np.take(pd, c.indices, axis=0)  # the rows are unique: read, update, write back (np.take: a
        rows -= c.values * (-lr if maximize else lr)  # faster gather than pd[indices] -= ...)
        pd[c.indices] = rows
