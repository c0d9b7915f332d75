"""Check analytical gradients against float64 central finite differences."""
import numpy as np

from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when an analytical gradient disagrees with the numerical one."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor)]


def _pos(flat, shape):
    """A flat index as a readable position tuple, e.g. (1, 0)."""
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if len(shape) else ()


def _check_inputs(name, inputs):
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            raise GradcheckError(f"{name}: input {i} has dtype {t.dtype}; finite differences need float64 "
                                 "(use .double())")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare d fn(*inputs) / d input, from backward, with central differences, element by element.

    inputs: a Tensor or a tuple (the float64 tensors with requires_grad=True are checked).
    Returns True, or raises GradcheckError naming the input, the worst element and both values
    (with raise_exception=False: returns False instead). An output that does not require grad
    (detached, made under no_grad) fails the check, as in PyTorch."""
    try:
        return _gradcheck(fn, inputs, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _gradcheck(fn, inputs, eps, atol, rtol):
    from .autograd import grad
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_inputs("gradcheck", inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise GradcheckError("gradcheck: no input requires grad, nothing to check")
    outs = _outputs(fn, inputs)
    checked = [k for k, out in enumerate(outs) if np.issubdtype(out.dtype, np.floating)]
    if not checked:
        raise GradcheckError("gradcheck: the function returned no floating-point tensor, nothing to check")
    if not any(outs[k].requires_grad for k in checked):
        # as PyTorch's: an output cut from the graph (.detach(), no_grad) cannot be checked; say so
        raise GradcheckError("gradcheck: no output requires grad: the function's result is not connected to "
                             "its inputs' graph (was it detached, or computed under no_grad?)")
    for k in checked:
        out = outs[k]
        n_out = out._data.size
        analytic = {i: np.zeros((n_out, inputs[i]._data.size)) for i in wrt}
        # an output that does not require grad has a zero analytical Jacobian: if it does depend on an
        # input, the finite differences below disagree and the check fails, as it must
        for j in range(n_out if out.requires_grad else 0):  # one backward per output element: row j
            seed = np.zeros(out.shape, out.dtype)
            seed.flat[j] = 1
            gs = grad(out, [inputs[i] for i in wrt], Tensor._leaf(seed), retain_graph=True, allow_unused=True)
            for i, g in zip(wrt, gs):
                if g is not None:
                    analytic[i][j] = g._data.ravel()
        for i in wrt:
            x = inputs[i]._data
            numeric = np.zeros_like(analytic[i])
            for e in range(x.size):  # two forwards per input element: column e of the Jacobian
                old = x.flat[e]
                # evaluated with recording on: fn may itself take gradients (gradgradcheck)
                x.flat[e] = old + eps
                plus = _outputs(fn, inputs)[k]._data.astype(np.float64).ravel()
                x.flat[e] = old - eps
                minus = _outputs(fn, inputs)[k]._data.astype(np.float64).ravel()
                x.flat[e] = old
                numeric[:, e] = (plus - minus) / (2 * eps)
            err = np.abs(analytic[i] - numeric) - (atol + rtol * np.abs(numeric))
            if not np.all(err <= 0) or not np.all(np.isfinite(analytic[i]) == np.isfinite(numeric)):
                j, e = np.unravel_index(np.nanargmax(np.where(np.isfinite(err), err, np.inf)), err.shape)
                msg = (f"gradcheck: Jacobian mismatch for output {k} with respect to input {i} "
                       f"(shape {inputs[i].shape}) at input element {_pos(e, x.shape)}, "
                       f"output element {_pos(j, out.shape)}: "
                       f"analytical {analytic[i][j, e]:.10g}, numerical {numeric[j, e]:.10g} "
                       f"(atol={atol}, rtol={rtol})")
                raise GradcheckError(msg)
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check second derivatives: gradcheck the function inputs -> d(fn . grad_outputs)/d inputs,
    whose backward runs the engine's rules recorded with create_graph=True."""
    from .autograd import grad
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_inputs("gradgradcheck", inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True, dtype=np.float64) for o in outs]
    grad_outputs = list(grad_outputs)
    n = len(inputs)

    def first_grads(*args):
        xs, gos = args[:n], args[n:]
        ys = [o for o in _outputs(fn, xs)]
        return grad(ys, [xs[i] for i in wrt], list(gos), create_graph=True, allow_unused=True)

    def first_grads_checked(*args):
        # every first gradient is checked, recorded or not: one that create_graph=True handed back
        # unrecorded (a backward that detaches) has a zero analytical Jacobian and fails below
        grads = first_grads(*args)
        return tuple(g if g is not None else Tensor(np.zeros(args[i].shape)) for i, g in zip(wrt, grads))

    return gradcheck(first_grads_checked, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol, raise_exception)
