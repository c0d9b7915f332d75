"""Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_)."""
import math

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _params(name, parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        return list(parameters)
    except TypeError:
        raise TypeError(f"{name}: parameters must be a Tensor or an iterable of Tensors, got "
                        f"{type(parameters).__name__}") from None


def _is_sparse(g):
    return getattr(g, "is_sparse", False) is True


def _grad_values(g):
    """The stored numbers of a gradient: the array of a dense grad, the coalesced rows of a sparse one."""
    if _is_sparse(g):
        return g.coalesce().values
    return g._data


def _norm(a, p):
    """Vector p-norm of all elements of array `a` (in a's dtype)."""
    if a.size == 0:
        return a.dtype.type(0)
    if p == 2:
        v = a.reshape(-1)
        return np.sqrt(np.dot(v, v))
    if p == math.inf:
        return np.abs(a).max()
    if p == -math.inf:
        return np.abs(a).min()
    if p == 0:
        return a.dtype.type(np.count_nonzero(a))
    if p == 1:
        return np.abs(a).sum()
    return (np.abs(a) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The norm of the norms of `tensors` (Tensors or gradient objects of any shapes), as a 0-d Tensor
    in the first tensor's dtype: equals the p-norm of all their elements concatenated."""
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._leaf(np.zeros((), np.float32))
    vals = [_grad_values(t) for t in tensors]
    dt = vals[0].dtype
    norms = np.array([_norm(v, norm_type) for v in vals], dtype=dt)
    total = np.asarray(_norm(norms, norm_type), dtype=dt)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"get_total_norm: the total norm of order {norm_type} for gradients from "
                           f"{len(tensors)} tensors is non-finite ({float(total)}), so it cannot be clipped; "
                           "set error_if_nonfinite=False to clip anyway (giving non-finite gradients)")
    return Tensor._leaf(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm):
    """Scale every .grad in place by min(1, max_norm / (total_norm + 1e-6))."""
    params = _params("clip_grads_with_norm_", parameters)
    total = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    dt = total.dtype
    coef = np.minimum(np.asarray(max_norm, dt) / (total + np.asarray(1e-6, dt)), np.asarray(1.0, dt))
    for p in params:
        g = p.grad
        if g is None:
            continue
        if _is_sparse(g):  # new value array: the old one may be a view of someone else's buffer
            p.grad = type(g)(g.indices, g.values * coef.astype(g.dtype), g.shape, g.is_coalesced)
        elif g.requires_grad or not g._data.flags.writeable:
            p.grad = Tensor._leaf(g._data * coef.astype(g.dtype))
        else:
            g._data *= coef.astype(g.dtype)
            g._bump()


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale the gradients of `parameters` (a Tensor or an iterable of Tensors, any shapes) in place
    so that their total `norm_type`-norm (over all elements together) is at most `max_norm`:
    each grad is multiplied by min(1, max_norm / (total_norm + 1e-6)), as torch does.

    Returns the total norm before clipping as a 0-d Tensor (dtype of the first gradient).
    Parameters without a gradient are skipped; row-sparse gradients count their stored rows.
    `foreach` is accepted for PyTorch compatibility and ignored."""
    params = _params("clip_grad_norm_", parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of `parameters` (a Tensor or an iterable) in place to
    [-clip_value, clip_value]. Returns None."""
    params = _params("clip_grad_value_", parameters)
    c = float(clip_value)
    for p in params:
        g = p.grad
        if g is None:
            continue
        if _is_sparse(g):
            g = g.coalesce()  # clamp the summed rows, not the pieces
            p.grad = type(g)(g.indices, np.clip(g.values, -c, c), g.shape, True)
        elif g.requires_grad or not g._data.flags.writeable:
            p.grad = Tensor._leaf(np.clip(g._data, -c, c))
        else:
            np.clip(g._data, -c, c, out=g._data)
            g._bump()


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-D tensor (differentiable)."""
    from ..functions import cat
    return cat([p.reshape(-1) for p in _params("parameters_to_vector", parameters)])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D `vec` into the parameters (in place, not recorded)."""
    params = _params("vector_to_parameters", parameters)
    n = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {n} elements, got shape {tuple(vec.shape)}")
    start = 0
    for p in params:
        p._data[...] = vec._data[start:start + p.numel()].reshape(p.shape)
        p._bump()
        start += p.numel()


__all__ += ["parameters_to_vector", "vector_to_parameters"]

from .weight_norm import remove_weight_norm, weight_norm  # noqa: E402

__all__ += ["weight_norm", "remove_weight_norm"]
