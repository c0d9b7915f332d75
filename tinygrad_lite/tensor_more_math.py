"""Tensor methods, part 6: elementwise functions users' scripts reach for, composed from rows (log2 = log / ln 2,
sinh from expm1, fmod from trunc...) or rows of their own (atan, asin, acos, atan2: ops/products.py),
comparisons and logical ops, and the in-place forms of the elementwise methods (exp_, sqrt_, pow_...)."""
import numpy as np

from .ops import special_more
from .ops.products import ACOS, ASIN, ATAN, ATAN2
from .tensor_args import norm_axes
from .tensor_base import TensorBase
from .tensor_math import where_tensors

_LN2, _LN10 = float(np.log(2.0)), float(np.log(10.0))


class MoreMathMethods:
    __slots__ = ()

    def log2(self):
        return self.log() * (1.0 / _LN2)

    def log10(self):
        return self.log() * (1.0 / _LN10)

    def exp2(self):
        return (self._floating() * _LN2).exp()

    def tan(self):
        return self.sin() / self.cos()

    def sinh(self):
        """(e^x - e^-x) / 2 through expm1, accurate near 0."""
        return (self.expm1() - (-self).expm1()) * 0.5

    def cosh(self):
        return (self.exp() + (-self).exp()) * 0.5

    def atan(self):
        return self._floating()._unary(ATAN)

    def asin(self):
        return self._floating()._unary(ASIN)

    def acos(self):
        return self._floating()._unary(ACOS)

    arctan, arcsin, arccos = atan, asin, acos

    def erf(self):
        from .ops.special import ERF
        return self._floating()._unary(ERF)

    def erfc(self):
        return self._floating()._unary(special_more.ERFC)

    def erfinv(self):
        return self._floating()._unary(special_more.ERFINV)

    def lgamma(self):
        return self._floating()._unary(special_more.LGAMMA)

    def digamma(self):
        return self.polygamma(0)

    def polygamma(self, n):
        """The n-th derivative of the digamma function (torch.polygamma(n, x) as a method: x.polygamma(n))."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"polygamma: n must be a non-negative int, got {n!r}")
        return self._floating()._unary(special_more.POLYGAMMA, int(n))

    def logit(self, eps=None):
        x = self if eps is None else self.clamp(eps, 1 - eps)
        return (x / (1 - x)).log()

    def lerp(self, end, weight):
        return self + (end - self) * weight

    def addcmul(self, tensor1, tensor2, value=1):
        return self + tensor1 * tensor2 * value

    def addcdiv(self, tensor1, tensor2, value=1):
        return self + tensor1 / tensor2 * value

    def addmm(self, mat1, mat2, beta=1, alpha=1):
        return self * beta + (mat1 @ mat2) * alpha

    def dot(self, other):
        if self.ndim != 1 or other.ndim != 1 or self.shape != other.shape:
            raise ValueError(f"dot: expected two 1-D tensors of the same size, got shapes {tuple(self.shape)} and "
                             f"{tuple(other.shape)}")
        return self @ other

    def mv(self, vec):
        if self.ndim != 2 or vec.ndim != 1:
            raise ValueError(f"mv: expected a 2-D matrix and a 1-D vector, got shapes {tuple(self.shape)} and "
                             f"{tuple(vec.shape)}")
        return self @ vec

    def clamp_min(self, min):  # noqa: A002
        return self.clamp(min=min)

    def clamp_max(self, max):  # noqa: A002
        return self.clamp(max=max)

    def sgn(self):
        return self.sign()

    def negative(self):
        return -self

    def frac(self):
        return self - self.trunc()

    def isinf(self):
        return self._leaf(np.isinf(self._data))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN -> nan, +inf -> posinf, -inf -> neginf (the dtype's largest finite values by default); the
        replaced elements get no gradient."""
        d = self._data
        if d.dtype.kind != "f":
            return self._leaf(d.copy())
        big = np.finfo(d.dtype)
        fill = np.nan_to_num(d, nan=nan, posinf=big.max if posinf is None else posinf,
                             neginf=big.min if neginf is None else neginf)
        bad = self._leaf(~np.isfinite(d))
        return where_tensors(bad, self._leaf(fill), self)

    def logical_not(self):
        return self._leaf(np.logical_not(self._data))

    def logical_and(self, other):
        return self._leaf(np.logical_and(self._data, _raw(other)))

    def logical_or(self, other):
        return self._leaf(np.logical_or(self._data, _raw(other)))

    def logical_xor(self, other):
        return self._leaf(np.logical_xor(self._data, _raw(other)))

    def equal(self, other):
        """True when both tensors have the same shape and elements (a Python bool)."""
        o = _raw(other)
        return bool(self._data.shape == np.shape(o) and np.array_equal(self._data, o))

    def any(self, dim=None, keepdim=False):
        return self._leaf(np.asarray(self._data.any(axis=norm_axes("any", dim, self.ndim), keepdims=keepdim)))

    def all(self, dim=None, keepdim=False):
        return self._leaf(np.asarray(self._data.all(axis=norm_axes("all", dim, self.ndim), keepdims=keepdim)))

    def count_nonzero(self, dim=None):
        return self._leaf(np.asarray(np.count_nonzero(self._data, axis=norm_axes("count_nonzero", dim, self.ndim)),
                                     dtype=np.int64))

    def dist(self, other, p=2):
        return (self - other).norm(p)

    def atan2(self, other):
        """The angle of the point (other, self): atan(self / other) in the right quadrant; broadcasts."""
        x = self._floating()
        o = other if isinstance(other, TensorBase) else x._const(other)
        o = o._floating()
        if o._data.dtype != x._data.dtype:
            dt = np.result_type(x._data.dtype, o._data.dtype)
            x, o = x.to(dt), o.to(dt)
        try:
            out = np.arctan2(x._data, o._data)
        except ValueError:
            raise ValueError(f"atan2: shapes {tuple(self.shape)} and {tuple(o.shape)} cannot be broadcast together") \
                from None
        return x._make(np.asarray(out), ATAN2, (x, o), None, x.requires_grad or o.requires_grad)

    arctan2 = atan2

    def fmod(self, other):
        """x - trunc(x / other) * other: the remainder with the sign of x (C's fmod)."""
        return self - (self / other).detach().trunc() * other

    def hypot(self, other):
        return (self * self + other * other).sqrt()

    def where(self, condition, other):
        """self where condition is True, else other (Tensor.where: torch.where(condition, self, other))."""
        from .functions import where
        return where(condition, self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(np.allclose(self._data, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return self._leaf(np.isclose(self._data, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def _raw(x):
    return x._data if isinstance(x, TensorBase) else np.asarray(x)


def _inplace_form(name, method):
    def f(self, *args, **kwargs):
        if self._recording(name):
            return self._record_inplace(lambda old: getattr(old, method)(*args, **kwargs))
        self._inplace(name)
        from .grad_mode import no_grad
        with no_grad():
            new = getattr(self._leaf(self._data.copy()), method)(*args, **kwargs)
        np.copyto(self._data, new._data, casting="same_kind")
        return self
    f.__name__ = name
    f.__doc__ = f"In-place form of Tensor.{method} (recorded on a non-leaf that requires grad)."
    return f


for _m in ("exp", "log", "sqrt", "rsqrt", "abs", "neg", "relu", "sigmoid", "tanh", "sin", "cos", "square", "reciprocal",
           "floor", "ceil", "round", "trunc", "sign", "log1p", "expm1", "pow", "clip", "tril", "triu", "scatter",
           "scatter_add", "lerp", "addcmul", "addcdiv", "nan_to_num", "clamp_min", "clamp_max", "index_add", "erf",
           "erfc", "erfinv", "lgamma", "digamma", "polygamma"):
    setattr(MoreMathMethods, _m + "_", _inplace_form(_m + "_", _m))
MoreMathMethods.negative_ = MoreMathMethods.neg_

