"""Tensor methods, part 4: in-place updates (add_, mul_, copy_, fill_, x[i] = v ...).

Each update bumps the tensor's version (versions.bump), so a backward pass that saved the old
value raises a clear error instead of computing a wrong gradient.
"""
import numpy as np

from .grad_mode import GRAD
from .random import get_rng
from .tensor_args import index_arg
from .tensor_base import TensorBase
from .versions import bump


def _data_of(other):
    return other._data if isinstance(other, TensorBase) else other


class InplaceMethods:
    __slots__ = ()

    def _inplace(self, name):
        if self.requires_grad and GRAD.enabled:
            raise RuntimeError(f"{name}: in-place update of a tensor that requires grad while recording; "
                               "wrap the update in `with tinygrad_lite.no_grad():` or write `x = x op y`")
        bump(self)  # saved copies of the old value are now stale

    def _bump(self):
        """Mark this tensor as modified in place (its raw array was written to directly)."""
        bump(self)

    def _update(self, name, ufunc, other):
        """self = ufunc(self, other) in place, with errors that name the op, the shapes and the dtypes."""
        self._inplace(name)
        o = _data_of(other)
        shape = np.shape(o)
        try:
            fits = np.broadcast_shapes(shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{name}: an operand of shape {tuple(shape)} cannot be applied in place to a tensor of "
                             f"shape {self.shape}; it must broadcast to that shape")
        try:
            ufunc(self._data, o, out=self._data, casting="same_kind")
        except TypeError:  # numpy's UFuncTypeError: e.g. a float operand into an int tensor
            raise TypeError(f"{name}: cannot update a {self.dtype} tensor in place with a "
                            f"{np.result_type(o)} operand; convert one of them first") from None
        return self

    def add_(self, other, alpha=1):
        return self._update("add_", np.add, other if alpha == 1 else alpha * _data_of(other))

    def sub_(self, other, alpha=1):
        return self._update("sub_", np.subtract, other if alpha == 1 else alpha * _data_of(other))

    def mul_(self, other):
        return self._update("mul_", np.multiply, other)

    def div_(self, other):
        return self._update("div_", np.true_divide, other)

    def copy_(self, src):
        return self._update("copy_", lambda a, b, out, casting: np.copyto(out, b, casting=casting), src)

    def fill_(self, value):
        self._inplace("fill_")
        self._data.fill(value)
        return self

    def zero_(self):
        return self.fill_(0)

    def clamp_(self, min=None, max=None):
        self._inplace("clamp_")
        np.clip(self._data, min, max, out=self._data)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        self._inplace("uniform_")
        self._data[...] = (generator or get_rng()).uniform(a, b, self.shape)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        self._inplace("normal_")
        self._data[...] = (generator or get_rng()).normal(mean, std, self.shape)
        return self

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __setitem__(self, idx, value):
        self._inplace("__setitem__")
        self._data[index_arg(idx)] = _data_of(value)
