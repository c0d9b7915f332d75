"""The registry of primitive ops: each op's forward and its vector-Jacobian products side by side.

A primitive is a row: `defop(name, forward, vjp_for_input_0, vjp_for_input_1, ..., math=...)`.

* `forward(args, *arrays) -> array` computes the result with numpy; `args` holds the op's
  non-tensor parameters (an axis, a shape, an exponent) or None.
* `vjp_i(g, ans, args, *inputs) -> gradient for input i`: `g` is the gradient flowing into the
  result, `ans` the result itself. The rules are written once with operators and the helpers
  below, which work on numpy arrays and on Tensors alike: a plain backward pass runs them on raw
  arrays, `create_graph=True` runs the same rule on Tensors so that it is itself recorded.
* A vjp may return a gradient whose shape broadcasts to its input's shape; the engine sums it
  back to the input's shape in one place (`sum_to`), so no rule handles broadcasting itself.

Everything else (sub, mean, var, softmax's cousins, layer norm, attention...) is composed from
these rows, so composed ops get correct gradients for free.
"""
import numpy as np

REGISTRY = {}


class Op:
    """One primitive: name, numpy forward, one vjp per tensor input, and the math in words."""
    __slots__ = ("name", "fwd", "vjps", "math")

    def __init__(self, name, fwd, vjps, math):
        self.name, self.fwd, self.vjps, self.math = name, fwd, vjps, math

    def __repr__(self):
        return f"Op({self.name}: {self.math})"


def defop(name, fwd, *vjps, math=""):
    """Register a primitive; `None` in place of a vjp marks an input that never gets a gradient."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is already registered")
    op = REGISTRY[name] = Op(name, fwd, vjps, math)
    return op


class EachInput:
    """vjps of a variadic op (cat): `rule(i, g, ans, args, *inputs)` serves input number i."""
    __slots__ = ("rule",)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        rule = self.rule
        return lambda g, ans, args, *xs: rule(i, g, ans, args, *xs)

    def __len__(self):
        return 1 << 30


# ---- helpers that work on numpy arrays and on Tensors (the Tensor versions are recorded) ----
def is_array(x):
    return type(x) is np.ndarray


def exp(x):
    return np.exp(x) if type(x) is np.ndarray else x.exp()


def log(x):
    return np.log(x) if type(x) is np.ndarray else x.log()


def sign(x):
    return np.sign(x) if type(x) is np.ndarray else x.sign()


def where(cond, a, b):
    if type(cond) is np.ndarray and type(a) is not _TENSOR[0] and type(b) is not _TENSOR[0]:
        return np.where(cond, a, b)
    return _TENSOR[1](cond, a, b)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape) if type(x) is np.ndarray else x.expand(shape)


def permute(x, axes):
    return x.transpose(axes) if type(x) is np.ndarray else x.permute(axes)


def swap_last(x):
    return x.swapaxes(-1, -2) if type(x) is np.ndarray else x.transpose(-1, -2)


def cast(x, dtype):
    return x.astype(dtype, copy=False) if type(x) is np.ndarray else x.to(dtype)


def sum_to(g, shape):
    """Sum a gradient over the dimensions that broadcasting added or stretched, back to `shape`.

    This is the single place where broadcasting is undone; ops never do it themselves."""
    lead = g.ndim - len(shape)
    gshape = g.shape
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead or g.shape != shape:
        g = g.reshape(shape)
    return g


_TENSOR = [None, None]  # [Tensor, where], filled by tensor.py, so the helpers can build Tensors without an import cycle


def _load():
    from . import elementwise, reduce, movement, linalg  # noqa: F401  (registers the rows)


_load()
