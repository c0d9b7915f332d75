"""Tensor methods, part 1: arithmetic operators, elementwise functions, comparisons, matmul and where.

Every binary primitive goes through one code path, `binary_methods(op)`: turn a number into a
tensor of the right dtype, promote mixed dtypes, run the row's forward, record the op.
"""
import numpy as np

from .dtypes import DEFAULT
from .ops.elementwise import (ABS, ADD, CLAMP, DIV, EXP, LOG, MAXIMUM, MINIMUM, MUL, NEG, POW, POW_SCALAR, RELU,
                              SIGMOID, SQRT, SUB, TANH, WHERE)
from .ops import numpy_fast
from .ops.extra import COS, REMAINDER, SIN
from .ops.linalg import MATMUL
from .tensor_args import promote, shape_error, to_array
from .tensor_base import TensorBase


def binary_methods(op):
    """The methods `x op y` and `y op x` of a binary primitive row (the other operand may be a number)."""
    fwd, name = op.fwd, op.name

    def method(self, other):
        if other.__class__ is not self.__class__ and not isinstance(other, TensorBase):
            other = self._const(other)
        a, b = self._data, other._data
        if a.dtype is not b.dtype:
            a, b = promote(a, b)
        try:
            out = fwd(None, a, b)
        except ValueError:
            raise shape_error(name, self, other) from None
        return self._make(out, op, (self, other), None, self.requires_grad or other.requires_grad)

    def reflected(self, other):
        return method(self._const(other) if not isinstance(other, TensorBase) else other, self)

    method.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    method.__doc__ = f"Elementwise {name} with broadcasting ({op.math})."
    return method, reflected


_div, _rdiv = binary_methods(DIV)
_pow, _rpow = binary_methods(POW)
_maximum, _ = binary_methods(MAXIMUM)
_minimum, _ = binary_methods(MINIMUM)


def where_tensors(condition, x, y):
    """x where condition else y; x or y is a Tensor (the other may be a number), condition a bool
    Tensor or array. The free function `where` (functions.py) converts its arguments and calls this."""
    t = x if isinstance(x, TensorBase) else y
    c = condition._data if isinstance(condition, TensorBase) else np.asarray(condition)
    if c.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {c.dtype}")
    if not isinstance(x, TensorBase):
        x = t._const(x)
    if not isinstance(y, TensorBase):
        y = t._const(y)
    a, b = x._data, y._data
    if a.dtype is not b.dtype:
        a, b = promote(a, b)
    try:
        out = WHERE.fwd(None, c, a, b)
    except ValueError:
        raise shape_error("where", c, x, y) from None
    cond = condition if isinstance(condition, TensorBase) else t._leaf(c)
    return t._make(out, WHERE, (cond, x, y), None, x.requires_grad or y.requires_grad)


def matmul_tensors(x, y):
    """Matrix product of two Tensors with numpy's rules: 1-D, 2-D and batched (broadcast) operands."""
    xd, yd = x._data, y._data
    if xd.ndim == 0 or yd.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {x.shape} and {y.shape}")
    if xd.dtype is not yd.dtype:
        xd, yd = promote(xd, yd)
    try:
        out = MATMUL.fwd(None, xd, yd)
    except ValueError:
        raise ValueError(f"matmul: shapes {x.shape} and {y.shape} do not match: the last dim of the first "
                         f"({x.shape[-1]}) must equal the {'first' if y.ndim == 1 else 'second-to-last'} dim "
                         f"of the second ({y.shape[0] if y.ndim == 1 else y.shape[-2]}), and batch dims must "
                         "broadcast") from None
    return x._make(out, MATMUL, (x, y), None, x.requires_grad or y.requires_grad)


class MathMethods:
    __slots__ = ()

    # ------------------------------------------------------------------ operators
    __add__, __radd__ = binary_methods(ADD)
    __sub__, __rsub__ = binary_methods(SUB)
    __mul__, __rmul__ = binary_methods(MUL)

    def __truediv__(self, other):
        """Elementwise division; int tensors divide as floats (true division, as PyTorch)."""
        if self._data.dtype.kind != "f" and not (isinstance(other, TensorBase) and other.dtype.kind == "f") \
                and not isinstance(other, float):
            return _div(self.to(DEFAULT.dtype), other)
        return _div(self, other)

    def __rtruediv__(self, other):
        return _rdiv(self if self._data.dtype.kind == "f" else self.to(DEFAULT.dtype), other)

    def __pow__(self, other):
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            if isinstance(other, float) and self._data.dtype.kind != "f":
                return self._floating()._unary(POW_SCALAR, other)  # int ** 0.5 is a float tensor
            return self._unary(POW_SCALAR, other)
        return _pow(self, other)

    def __rpow__(self, other):
        return _rpow(self, other)

    def __neg__(self):
        return self._unary(NEG)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return matmul_tensors(self, other if isinstance(other, TensorBase) else self._leaf(to_array(other, None)))

    def __rmatmul__(self, other):
        return matmul_tensors(self._leaf(to_array(other, None)), self)

    _where = staticmethod(where_tensors)  # (for the rule helpers in ops/, which do not import Tensor)

    mul = __mul__
    div = __truediv__
    pow = __pow__
    neg = __neg__
    matmul = __matmul__

    # ------------------------------------------------------------------ elementwise functions
    def _floating(self):
        """int/bool data as the default float dtype, for ops whose result is a float (as PyTorch:
        exp of an int64 tensor is float32, never int64 or float64)."""
        return self if self._data.dtype.kind == "f" else self._leaf(self._data.astype(DEFAULT.dtype))

    def exp(self):
        return self._unary(EXP) if self._data.dtype.kind == "f" else self._floating()._unary(EXP)

    def log(self):
        return self._unary(LOG) if self._data.dtype.kind == "f" else self._floating()._unary(LOG)

    def sqrt(self):
        return self._unary(SQRT) if self._data.dtype.kind == "f" else self._floating()._unary(SQRT)

    def abs(self):
        return self._unary(ABS)

    def tanh(self):
        return self._unary(TANH) if self._data.dtype.kind == "f" else self._floating()._unary(TANH)

    def sigmoid(self):
        return self._unary(SIGMOID) if self._data.dtype.kind == "f" else self._floating()._unary(SIGMOID)

    def relu(self):
        return self._unary(RELU)

    def rsqrt(self):
        return self.sqrt().reciprocal()

    def reciprocal(self):
        return _rdiv(self, 1.0)

    def square(self):
        return self * self

    def sign(self):
        """Sign of each element (no gradient flows through it)."""
        return self._leaf(np.sign(self._data))

    def maximum(self, other):
        return _maximum(self, other)

    def minimum(self, other):
        return _minimum(self, other)

    def clamp(self, min=None, max=None):
        """Limit values to [min, max]; the gradient is 1 inside and 0 where a bound was applied."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if isinstance(min, TensorBase) or isinstance(max, TensorBase):
            # bounds picked with where, so x exactly at a bound keeps its gradient (as PyTorch; maximum
            # would split it in half on the tie)
            out = self if min is None else where_tensors(self < min, min, self)
            return out if max is None else where_tensors(out > max, max, out)
        if self._data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
            return self._floating()._unary(CLAMP, (min, max))  # an int tensor with float bounds: float result
        return self._unary(CLAMP, (min, max))

    clip = clamp

    # ------------------------------------------------------------------ comparisons (no gradient)
    def _compare(self, other, fn, name):
        o = other._data if isinstance(other, TensorBase) else other
        try:
            return self._leaf(fn(self._data, o))
        except ValueError:
            raise shape_error(name, self, np.shape(o)) from None

    def __lt__(self, other):
        return self._compare(other, np.less, "lt")

    def __le__(self, other):
        return self._compare(other, np.less_equal, "le")

    def __gt__(self, other):
        return self._compare(other, np.greater, "gt")

    def __ge__(self, other):
        return self._compare(other, np.greater_equal, "ge")

    def __eq__(self, other):
        return self._compare(other, np.equal, "eq")

    def __ne__(self, other):
        return self._compare(other, np.not_equal, "ne")

    def __and__(self, other):
        return self._compare(other, np.logical_and, "logical_and")

    def __or__(self, other):
        return self._compare(other, np.logical_or, "logical_or")

    def __invert__(self):
        return self._leaf(~self._data)

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__
    __hash__ = object.__hash__  # (defining __eq__ would otherwise make tensors unhashable)

    def any(self):
        return self._leaf(np.asarray(self._data.any()))

    def all(self):
        return self._leaf(np.asarray(self._data.all()))

    def isnan(self):
        return self._leaf(np.isnan(self._data))

    def isfinite(self):
        return self._leaf(np.isfinite(self._data))

    # ------------------------------------------------------------------ more of PyTorch's elementwise surface
    def sin(self):
        return self._floating()._unary(SIN)

    def cos(self):
        return self._floating()._unary(COS)

    def floor(self):
        """Round down (not recorded: the gradient is zero almost everywhere)."""
        return self._leaf(np.floor(self._data))

    def ceil(self):
        return self._leaf(np.ceil(self._data))

    def trunc(self):
        return self._leaf(np.trunc(self._data))

    def round(self, decimals=0):
        """Round half to even, as PyTorch (not recorded: the gradient is zero almost everywhere)."""
        return self._leaf(np.round(self._data, decimals))

    def _operands(self, other):
        o = other if isinstance(other, TensorBase) else self._const(other)
        a, b = self._data, o._data
        if a.dtype is not b.dtype:
            a, b = promote(a, b)
        return o, a, b

    def floor_divide(self, other):
        """self // other, rounding down (as Python and PyTorch); not differentiable."""
        o, a, b = self._operands(other)
        if a.dtype.kind != "f" and (b == 0).any():
            raise ZeroDivisionError("floor_divide: integer division by zero")
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._leaf(numpy_fast.floor_divide(a, b))  # (np.floor_divide's values; float32 6x faster)

    def __rfloordiv__(self, other):
        return self._const(other).floor_divide(self)

    def remainder(self, other):
        """self % other with the sign of other (Python's and PyTorch's %); differentiable for floats."""
        o, a, b = self._operands(other)
        if a.dtype.kind != "f":
            if (b == 0).any():
                raise ZeroDivisionError("remainder: integer modulo by zero")
            return self._leaf(np.remainder(a, b))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = REMAINDER.fwd(None, a, b)
        return self._make(out, REMAINDER, (self, o), None, self.requires_grad or o.requires_grad)

    def __rmod__(self, other):
        return self._const(other).remainder(self)

    __floordiv__, __mod__ = floor_divide, remainder

    def __abs__(self):
        return self.abs()

    def mm(self, mat2):
        """Matrix product of two 2-D tensors."""
        if self.ndim != 2 or mat2.ndim != 2:
            raise RuntimeError(f"mm: both arguments must be matrices (2-D), got shapes {tuple(self.shape)} and "
                               f"{tuple(mat2.shape)}")
        return matmul_tensors(self, mat2)

    def bmm(self, mat2):
        """Batched matrix product of two 3-D tensors with the same batch size."""
        if self.ndim != 3 or mat2.ndim != 3 or self.shape[0] != mat2.shape[0]:
            raise RuntimeError(f"bmm: expected two 3-D tensors with the same batch size, got shapes "
                               f"{tuple(self.shape)} and {tuple(mat2.shape)}")
        return matmul_tensors(self, mat2)

    def add(self, other, *, alpha=1):
        """self + alpha * other (torch.add's alpha)."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        """self - alpha * other."""
        return self - (other if alpha == 1 else other * alpha)
