"""Custom ops with your own forward and backward: `Function` and its `ctx`, as torch.autograd.Function.

A Function becomes a row like the registry's (ops/__init__.Op) with one rule for all its inputs:
its ctx is the saved state the engine keeps in the result's `_ctx` until backward frees it.
"""
import numpy as np

from .grad_mode import no_grad
from .ops import Op
from .tensor import Tensor


def _expands_to(small, shape):
    """True when `small` broadcasts to `shape` (a gradient of shape `shape` for an input of shape `small` is
    summed back by the engine, as PyTorch does)."""
    try:
        return np.broadcast_shapes(small, shape) == tuple(shape)
    except ValueError:
        return False


class FunctionCtx:
    """What `forward` leaves for `backward`: saved tensors and anything set as an attribute."""

    def __init__(self):
        self._saved, self._seq, self.needs_input_grad = (), 0, ()

    def save_for_backward(self, *tensors):
        """Save tensors for backward; modifying them in place afterwards is detected."""
        self._saved = tensors

    @property
    def saved_tensors(self):
        for t in self._saved:
            if isinstance(t, Tensor) and t._version > self._seq:
                raise RuntimeError("saved_tensors: a tensor saved for backward was modified in place since")
        return self._saved


class Function:
    """Define an op with your own forward and backward, as in torch.autograd.Function::

        class Cube(Function):
            @staticmethod
            def forward(ctx, x):            # x: Tensor; runs without recording
                ctx.save_for_backward(x)
                return x * x * x
            @staticmethod
            def backward(ctx, grad):        # grad: Tensor shaped like the output
                (x,) = ctx.saved_tensors
                return grad * 3 * x * x     # one gradient per forward argument (None for non-tensors)

        y = Cube.apply(x)
    """

    @classmethod
    def _rule(cls):
        """The registry-style row of this Function: its ctx is the saved state, backward its one rule."""
        op = cls.__dict__.get("_op")
        if op is None:
            op = Op(cls.__name__, None, (), "user-defined (autograd.Function)", joint=cls._grads,
                    rule=f"{cls.__name__}.backward(ctx, dC)", saves=("ctx",))
            cls._op = op
        return op

    @classmethod
    def _grads(cls, g, ans, args, ctx, needs, *vals):
        """Call backward once; one gradient per tensor input, checked against its shape."""
        gt = g if isinstance(g, Tensor) else Tensor._leaf(g)
        out = cls.backward(ctx, gt)
        out = out if isinstance(out, tuple) else (out,)
        n = len(ctx.needs_input_grad)
        if len(out) > n and all(r is None for r in out[n:]):
            out = out[:n]  # extra Nones (for defaulted arguments) are fine, as in PyTorch
        if len(out) > n:
            raise RuntimeError(f"{cls.__name__}.backward returned {len(out)} gradients, but forward "
                               f"took {n} arguments (return one per argument, None for non-tensors)")
        result = []
        for i, pos in enumerate(ctx._tensor_pos):
            r = out[pos] if pos < len(out) else None
            if r is None:
                result.append(np.zeros(vals[i].shape, vals[i].dtype) if not isinstance(g, Tensor) else vals[i] * 0)
                continue
            shape = vals[i].shape
            if np.shape(r) != shape and not _expands_to(shape, np.shape(r)):  # bigger: summed back
                raise RuntimeError(f"{cls.__name__}.backward returned a gradient of shape {np.shape(r)} for "
                                   f"argument {pos} of shape {shape}; they must match")
            if isinstance(g, Tensor):
                result.append(r)
            else:  # a view: the user's array is not ours to accumulate into (the engine copies views it keeps)
                result.append((r._data if isinstance(r, Tensor) else np.asarray(r)).view())
        return result

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        ctx._tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = tuple(args[i] for i in ctx._tensor_pos)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor, got {type(out).__name__}")
        ctx._seq = max([t._seq for t in tensors] + [0])
        req = any(t.requires_grad for t in tensors)
        return Tensor._make_saving(out._data, ctx, cls._rule(), tensors, None, req)

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must define backward(ctx, grad)")
