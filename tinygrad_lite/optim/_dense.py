"""Shared by the optimizers that take dense gradients only (RMSprop, Adagrad, Adadelta)."""
import numpy as np

from ..tensor import Tensor
from .optimizer import _is_sparse


def dense_grad(name, p, maximize, weight_decay):
    """p's gradient as an array (negated for maximize, plus weight_decay * p), or None if it has none."""
    g = p.grad
    if g is None:
        return None
    if g.__class__ is not Tensor:
        if _is_sparse(g):
            raise RuntimeError(f"{name} does not support sparse gradients (parameter of shape {p.shape}); use "
                               "dense gradients (Embedding(sparse=False)), or SGD / SparseAdam")
        raise TypeError(f"{name}: the gradient of a parameter of shape {p.shape} is a {type(g).__name__}; "
                        "expected a Tensor")
    d = g._data
    if maximize:
        d = -d
    if weight_decay != 0:
        d = d + weight_decay * p._data
    return d


def step_count(state):
    """Increment and return the parameter's step counter (a 0-d float32 Tensor, as torch keeps it)."""
    step = state.get("step")
    if step is None:
        step = state["step"] = Tensor._leaf(np.zeros((), np.float32))
    step._data += 1
    return float(step._data)


def check_nonneg(name, **values):
    for k, v in values.items():
        if not 0.0 <= v:
            raise ValueError(f"{name}: invalid {k} value: {v} (expected >= 0)")
