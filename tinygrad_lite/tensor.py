"""The Tensor: a numpy array plus the record of the op that made it (for reverse-mode autograd).

A tensor made by an op keeps `_op` (its row in the op registry), `_inputs` (the tensors it was
made from) and `_args` (the op's non-tensor parameters): that is the whole graph. Leaves have
`_op = None`. `_seq` numbers tensors in creation order, which the backward pass uses as its
topological order and the in-place check uses as a time stamp.
"""
import itertools
from weakref import ref as _weakref
from collections import namedtuple

import numpy as np

from . import ops as _ops
from .dtypes import DEFAULT, to_dtype
from .grad_mode import GRAD
from .ops.elementwise import (ABS, ADD, CAST, CLAMP, DIV, EXP, LOG, MAXIMUM, MINIMUM, MUL, NEG, POW, POW_SCALAR,
                              RELU, SIGMOID, SQRT, SUB, TANH, WHERE)
from .ops.linalg import LINEAR, MATMUL
from .ops.movement import CAT, EXPAND, GETITEM, PERMUTE, RESHAPE
from .ops.reduce import AMAX, AMIN, LOG_SOFTMAX, LOGSUMEXP, SOFTMAX, SUM

_counter = itertools.count(1)


class _LastInplace:
    """The stamp of the most recent in-place update anywhere: while it is older than a graph node,
    nothing that node saved can have changed, and backward skips the per-input version checks."""
    __slots__ = ("last",)

    def __init__(self):
        self.last = 0


INPLACE = _LastInplace()


def _shared(t, src):
    """A view op's result `t` of `src` (x[1:], x.reshape(..), x.T ...): when it shares src's memory,
    remember src and src's own sources, so that an in-place write into t bumps all their versions
    (PyTorch's views share one version counter). Recorded or not: a view made under no_grad, or of
    a tensor that needs no grad, can still corrupt a pending backward that saved its source."""
    if t is not src and np.may_share_memory(t._data, src._data):
        t._base = (_weakref(src),) + (src._base or ())
    return t
_ALL = (None, False)  # reduction args: all axes, no keepdims
_autograd_backward = None  # set by autograd.py (avoids an import on every backward call)
_new = object.__new__
MinMax = namedtuple("MinMax", ["values", "indices"])


def _to_array(data, dtype):
    """numpy array for `data` with PyTorch's dtype rules (Python floats -> default float dtype)."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ndarray):
        return np.array(data, dtype=dtype)  # a copy, as torch.tensor makes one
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [d._data if isinstance(d, Tensor) else d for d in data]
    arr = np.array(data, dtype=dtype)
    if dtype is None:
        if arr.dtype.kind == "f" and not isinstance(data, np.generic):  # numpy scalars keep their dtype
            arr = arr.astype(DEFAULT.dtype, copy=False)
        elif arr.dtype.kind in "iu" and arr.dtype != np.int64 and not isinstance(data, np.generic):
            arr = arr.astype(np.int64)
        elif arr.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} data of dtype {arr.dtype}")
    return arr


def _shape_error(op, *tensors, detail=""):
    shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
    return ValueError(f"{op}: shapes {shapes} cannot be broadcast together{detail}; "
                      "sizes must match or be 1 in every dimension, counted from the right")


def _norm_axes(op, axis, ndim):
    """Normalise dim/axis arguments to a sorted tuple of non-negative ints (None = all)."""
    if axis is None:
        return None
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not items:
        return None  # dim=() or [] means every dim, as in PyTorch
    out = []
    for a in items:
        a = int(a)
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"{op}: dim {a} is out of range for a tensor with {ndim} dimensions "
                             f"(expected a dim in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
        out.append(a % max(ndim, 1))
    return tuple(sorted(set(out))) if ndim else None


def _pick(op, dim, axis, keepdim, keepdims):
    """Accept both PyTorch's dim/keepdim and numpy's axis/keepdims."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: give either dim or axis, not both")
        dim = axis
    return dim, bool(keepdim if keepdims is None else keepdims)


def _binop(op):
    """The methods `x op y` and `y op x` of a binary primitive (the other operand may be a number)."""
    fwd, name = op.fwd, op.name

    def method(self, other):
        if other.__class__ is not Tensor:
            other = self._const(other)
        a, b = self._data, other._data
        if a.dtype is not b.dtype:
            a, b = _promote(a, b)
        try:
            out = fwd(None, a, b)
        except ValueError:
            raise _shape_error(name, self, other) from None
        return _make(out, op, (self, other), None, self.requires_grad or other.requires_grad)

    def reflected(self, other):
        return method(self._const(other) if other.__class__ is not Tensor else other, self)

    method.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    method.__doc__ = f"Elementwise {name} with broadcasting ({op.math})."
    return method, reflected


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    Tensor(data, requires_grad=False, dtype=None): `data` is a number, a nested list or a numpy
    array (copied). Python floats become the default dtype (float32); numpy arrays keep theirs.
    """
    __slots__ = ("_data", "grad", "requires_grad", "_op", "_inputs", "_args", "_seq", "_version",
                 "_hooks", "name", "_base", "__weakref__")  # _base: the sources of a view (else None)
    __array_priority__ = 1000  # so that ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        self._data = _to_array(data, to_dtype(dtype))
        self.grad = None
        self._op = self._inputs = self._args = self._hooks = self.name = self._base = None
        self._seq = next(_counter)
        self._version = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ construction internals
    @staticmethod
    def _leaf(arr, requires_grad=False):
        """Wrap an array without copying (internal fast path)."""
        t = _new(Tensor)
        t._data = arr if arr.__class__ is np.ndarray else np.asarray(arr)
        t.grad = t._op = t._inputs = t._args = t._hooks = t.name = t._base = None
        t.requires_grad = requires_grad
        t._seq = next(_counter)
        t._version = 0
        return t

    @staticmethod
    def _make(arr, op, inputs, args, req):
        """A new tensor from an op; records the op only when some input requires grad."""
        t = _new(Tensor)
        # numpy hands back 0-d results as scalars: keep _data an ndarray (writable, .base, in place)
        t._data = arr if arr.__class__ is np.ndarray else np.asarray(arr)
        t.grad = t._hooks = t.name = t._base = None
        t._seq = next(_counter)
        t._version = 0
        if req and GRAD.enabled:
            t.requires_grad = True
            t._op, t._inputs, t._args = op, inputs, args
        else:
            t.requires_grad = False
            t._op = t._inputs = t._args = None
        return t

    def _unary(self, op, args=None):
        return self._make(op.fwd(args, self._data), op, (self,), args, self.requires_grad)

    def _const(self, value):
        """A Python number as a tensor whose dtype follows PyTorch's scalar promotion."""
        k = self._data.dtype.kind
        if isinstance(value, bool):
            dt = self._data.dtype if k != "b" else np.bool_
        elif isinstance(value, (int, np.integer)):
            dt = self._data.dtype if k in "fiu" else np.int64
        elif isinstance(value, (float, np.floating)):
            dt = self._data.dtype if k == "f" else DEFAULT.dtype
        elif isinstance(value, np.ndarray):
            return Tensor._leaf(value)
        else:
            raise TypeError(f"unsupported operand: {type(value).__name__} (expected a Tensor or a number)")
        return Tensor._leaf(np.array(value, dtype=dt))

    def _binary(self, op, other, name, reverse=False):
        if other.__class__ is not Tensor:
            other = self._const(other)
        x, y = (other, self) if reverse else (self, other)
        a, b = x._data, y._data
        if a.dtype is not b.dtype:
            a, b = _promote(a, b)
        try:
            out = op.fwd(None, a, b)
        except ValueError:
            raise _shape_error(name, x, y) from None
        return self._make(out, op, (x, y), None, x.requires_grad or y.requires_grad)

    # ------------------------------------------------------------------ properties
    @property
    def data(self):
        """A tensor sharing this one's storage, cut from the graph (as PyTorch's `.data`)."""
        return self._view()

    def _view(self):
        """A leaf sharing storage whose in-place updates also bump this tensor's version (so a pending
        backward that saved this tensor sees them, as PyTorch's detach() shares the version counter)."""
        return _shared(Tensor._leaf(self._data), self)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._bump()

    shape = property(lambda self: self._data.shape, doc="The tensor's shape (a tuple).")
    ndim = property(lambda self: self._data.ndim, doc="Number of dimensions.")
    dtype = property(lambda self: self._data.dtype, doc="The numpy dtype.")
    is_leaf = property(lambda self: self._op is None, doc="True unless made by a recorded op.")
    grad_fn = property(lambda self: self._op.name if self._op is not None else None,
                       doc="Name of the op that made this tensor (None for leaves).")
    T = property(lambda self: self.permute(tuple(range(self.ndim))[::-1]), doc="All dims reversed.")
    mT = property(lambda self: self.transpose(-2, -1), doc="Last two dims swapped.")

    def size(self, dim=None):
        """The shape, or the size of one dimension."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    def __len__(self):
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def numpy(self):
        """The underlying numpy array (shared, not copied). Fails on a tensor that requires grad,
        as in PyTorch; call .detach().numpy()."""
        if self.requires_grad:
            raise RuntimeError("numpy(): this tensor requires grad; call tensor.detach().numpy() instead")
        d = self._data
        return d if type(d) is np.ndarray else np.asarray(d)  # 0-d op results are stored as numpy scalars

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python number, "
                             f"got shape {self.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with shape {self.shape} is ambiguous; "
                               "use .any() or .all()")
        return bool(self._data)

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self._data)

    __hash__ = object.__hash__

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4, threshold=200)
        extra = ""
        if self._data.dtype not in (DEFAULT.dtype, np.int64, np.bool_) or self._data.size == 0:
            extra += f", dtype={self._data.dtype}"
        if self._op is not None:
            extra += f", grad_fn=<{self._op.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------------ autograd surface
    def requires_grad_(self, requires_grad=True):
        """Mark a leaf as needing gradients (floating dtypes only)."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating dtype can require gradients, this one is "
                               f"{self._data.dtype}; convert it first, e.g. t.to(tinygrad_lite.float32)")
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf; use .detach() to cut it from the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """The same values (shared storage) with no history and requires_grad=False."""
        return self._view()

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's .grad (see autograd.backward)."""
        _autograd_backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; it may return a replacement."""
        from .autograd import register_hook
        return register_hook(self, hook)

    def retain_grad(self):
        """Keep .grad on a non-leaf tensor after backward."""
        from .autograd import retain_grad
        retain_grad(self)

    # ------------------------------------------------------------------ in-place updates
    def _inplace(self, name):
        if self.requires_grad and GRAD.enabled:
            raise RuntimeError(f"{name}: in-place update of a tensor that requires grad while recording; "
                               "wrap the update in `with tinygrad_lite.no_grad():` or write `x = x op y`")
        self._bump()  # saved copies of the old value are now stale

    def _bump(self):
        """Mark this tensor as modified in place (its raw array was written to directly)."""
        v = self._version = INPLACE.last = next(_counter)
        base = self._base  # a view: the tensors whose memory it shares changed too
        if base is not None:
            for r in base:
                t = r()
                if t is not None:
                    t._version = v

    def _other_data(self, other):
        return other._data if isinstance(other, Tensor) else other

    def _update(self, name, ufunc, other):
        """self = ufunc(self, other) in place, with errors that name the op, the shapes and the dtypes."""
        self._inplace(name)
        o = self._other_data(other)
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
        return self._update("add_", np.add, other if alpha == 1 else alpha * self._other_data(other))

    def sub_(self, other, alpha=1):
        return self._update("sub_", np.subtract, other if alpha == 1 else alpha * self._other_data(other))

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
        from .random import get_rng
        self._inplace("uniform_")
        self._data[...] = (generator or get_rng()).uniform(a, b, self.shape)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from .random import get_rng
        self._inplace("normal_")
        self._data[...] = (generator or get_rng()).normal(mean, std, self.shape)
        return self

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __setitem__(self, idx, value):
        self._inplace("__setitem__")
        self._data[_index(idx)] = self._other_data(value)

    # ------------------------------------------------------------------ elementwise
    __add__, __radd__ = _binop(ADD)
    __sub__, __rsub__ = _binop(SUB)
    __mul__, __rmul__ = _binop(MUL)

    def __truediv__(self, other):
        if self._data.dtype.kind != "f" and not (isinstance(other, Tensor) and other.dtype.kind == "f") \
                and not isinstance(other, float):
            return self.to(DEFAULT.dtype)._binary(DIV, other, "div")
        return self._binary(DIV, other, "div")

    def __rtruediv__(self, other):
        x = self if self._data.dtype.kind == "f" else self.to(DEFAULT.dtype)
        return x._binary(DIV, other, "div", True)

    def __pow__(self, other):
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            if isinstance(other, float) and self._data.dtype.kind != "f":
                return self._floating()._unary(POW_SCALAR, other)  # int ** 0.5 is a float tensor
            return self._unary(POW_SCALAR, other)
        return self._binary(POW, other, "pow")

    def __rpow__(self, other):
        return self._binary(POW, other, "pow", True)

    def __neg__(self):
        return self._unary(NEG)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other if isinstance(other, Tensor) else Tensor(other), self)

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    pow = __pow__
    neg = __neg__

    def _floating(self):
        """int/bool data as the default float dtype, for ops whose result is a float (as PyTorch:
        exp of an int64 tensor is float32, never int64 or float64)."""
        return self if self._data.dtype.kind == "f" else Tensor._leaf(self._data.astype(DEFAULT.dtype))

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
        return self._binary(DIV, 1.0, "div", True)

    def square(self):
        return self * self

    def sign(self):
        """Sign of each element (no gradient flows through it)."""
        return Tensor._leaf(np.sign(self._data))

    def maximum(self, other):
        return self._binary(MAXIMUM, other, "maximum")

    def minimum(self, other):
        return self._binary(MINIMUM, other, "minimum")

    def clamp(self, min=None, max=None):
        """Limit values to [min, max]; the gradient is 1 inside and 0 where a bound was applied."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            # bounds picked with where, so x exactly at a bound keeps its gradient (as PyTorch; maximum
            # would split it in half on the tie)
            out = self if min is None else where(self < min, min, self)
            return out if max is None else where(out > max, max, out)
        if self._data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
            return self._floating()._unary(CLAMP, (min, max))  # an int tensor with float bounds: float result
        return self._unary(CLAMP, (min, max))

    clip = clamp

    # ------------------------------------------------------------------ comparisons (no gradient)
    def _compare(self, other, fn, name):
        o = other._data if isinstance(other, Tensor) else other
        try:
            return Tensor._leaf(fn(self._data, o))
        except ValueError:
            raise _shape_error(name, self, other if isinstance(other, Tensor) else Tensor(o)) from None

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
        return Tensor._leaf(~self._data)

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    def any(self):
        return Tensor._leaf(np.asarray(self._data.any()))

    def all(self):
        return Tensor._leaf(np.asarray(self._data.all()))

    def isnan(self):
        return Tensor._leaf(np.isnan(self._data))

    def isfinite(self):
        return Tensor._leaf(np.isfinite(self._data))

    def argmax(self, dim=None, keepdim=False):
        return Tensor._leaf(np.asarray(self._data.argmax(axis=dim, keepdims=keepdim)))

    def argmin(self, dim=None, keepdim=False):
        return Tensor._leaf(np.asarray(self._data.argmin(axis=dim, keepdims=keepdim)))

    # ------------------------------------------------------------------ reductions
    def _reduce(self, op, name, dim, keepdim):
        axes = _norm_axes(name, dim, self._data.ndim)
        return self._unary(op, (axes, keepdim))

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        """Sum over `dim` (int or tuple; all dims if None)."""
        if dim is None and axis is None and dtype is None and not keepdim and not keepdims \
                and self._data.dtype.kind == "f":  # the common loss.sum(): skip argument parsing
            return self._make(np.asarray(self._data.sum()), SUM, (self,), _ALL, self.requires_grad)
        dim, keepdim = _pick("sum", dim, axis, keepdim, keepdims)
        x = self if dtype is None and self._data.dtype.kind == "f" else \
            self.to(dtype or (np.int64 if self._data.dtype.kind in "biu" else self.dtype))
        return x._reduce(SUM, "sum", dim, keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Mean over `dim` (int or tuple; all dims if None)."""
        dim, keepdim = _pick("mean", dim, axis, keepdim, keepdims)
        if self._data.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating tensor, got {self.dtype}; convert with .float()")
        axes = _norm_axes("mean", dim, self.ndim)
        n = self._data.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        return self._reduce(SUM, "mean", dim, keepdim) * (1.0 / n if n else float("nan"))

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None):
        """Variance over `dim` with Bessel's correction by default (correction=1), as PyTorch."""
        dim, keepdim = _pick("var", dim, axis, keepdim, keepdims)
        if unbiased is not None:
            correction = 1 if unbiased else 0
        axes = _norm_axes("var", dim, self.ndim)
        n = self._data.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        d = self - self.mean(dim, keepdim=True)
        # no degrees of freedom left: divide by 0 as PyTorch does (inf, or nan for 0/0)
        return (d * d).sum(dim, keepdim) * (1.0 / (n - correction) if n - correction > 0 else float("inf"))

    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        """Standard deviation (sqrt of var). Where it is 0 (constant data) its gradient is 0, as in
        PyTorch, instead of 0 * inf = nan."""
        v = self.var(dim, keepdim, correction=correction, unbiased=unbiased)
        if not v.requires_grad:
            return v.sqrt()
        nz = v != 0
        return where(nz, where(nz, v, 1.0).sqrt(), 0.0)

    def _extreme(self, op, name, dim, keepdim, axis, keepdims, argfn):
        if isinstance(dim, Tensor):
            return self.maximum(dim) if op is AMAX else self.minimum(dim)
        numpy_style = axis is not None  # x.max(axis=1) is numpy's: the values only
        dim, keepdim = _pick(name, dim, axis, keepdim, keepdims)
        if self._data.size == 0:
            raise ValueError(f"{name}: cannot reduce an empty tensor of shape {self.shape}")
        if dim is None or numpy_style or not isinstance(dim, (int, np.integer)):
            return self._reduce(op, name, dim, keepdim)
        ax = _norm_axes(name, dim, self.ndim)
        ax = ax[0] if ax else 0
        idx = np.expand_dims(argfn(self._data, axis=ax), ax) if self.ndim else np.zeros((), np.int64)
        values = self.gather(ax, Tensor._leaf(idx)) if self.ndim else self
        if not keepdim and self.ndim:
            values, idx = values.squeeze(ax), idx.squeeze(ax)
        return MinMax(values, Tensor._leaf(idx))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """max over everything (a tensor), or over an int `dim`: (values, indices) as in PyTorch.
        With a tuple of dims (or `axis=`), the values only, like amax."""
        return self._extreme(AMAX, "max", dim, keepdim, axis, keepdims, np.argmax)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """min, the mirror of max."""
        return self._extreme(AMIN, "min", dim, keepdim, axis, keepdims, np.argmin)

    def amax(self, dim=None, keepdim=False):
        return self._reduce(AMAX, "amax", dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        return self._reduce(AMIN, "amin", dim, keepdim)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """log(sum(exp(x))) computed stably (max subtracted first)."""
        dim, keepdim = _pick("logsumexp", dim, axis, keepdim, keepdims)
        return self._floating()._reduce(LOGSUMEXP, "logsumexp", dim, keepdim)

    def softmax(self, dim=-1):
        """exp(x) / sum(exp(x)) along dim, stable for large logits and -inf masks."""
        return self._floating()._unary(SOFTMAX, _norm_axes("softmax", dim, self.ndim)[0] if self.ndim else None)

    def log_softmax(self, dim=-1):
        """x - logsumexp(x) along dim."""
        axis = _norm_axes("log_softmax", dim, self.ndim)[0] if self.ndim else None
        return self._floating()._unary(LOG_SOFTMAX, axis)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        """Same data in a new shape; one dimension may be -1."""
        shape = _shape_arg(shape)
        try:
            out = self._data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {self.shape} "
                             f"({self._data.size} elements) into {shape}") from None
        if out.shape == self._data.shape:
            return self
        return _shared(self._make(out, RESHAPE, (self,), out.shape, self.requires_grad), self)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _dim("flatten", start_dim, self.ndim), _dim("flatten", end_dim, self.ndim)
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims):
        """Reorder dimensions: permute(2, 0, 1)."""
        dims = _shape_arg(dims)
        if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of shape {self.shape}")
        dims = tuple(d % self.ndim for d in dims)
        return _shared(self._unary(PERMUTE, dims), self)

    def transpose(self, dim0, dim1):
        """Swap two dimensions."""
        dim0, dim1 = _dim("transpose", dim0, self.ndim), _dim("transpose", dim1, self.ndim)
        if self.ndim < 2:
            return self
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(dims)

    def t(self):
        return self.transpose(0, 1)

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        axes = _norm_axes("squeeze", dim, self.ndim) or ()
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if not (i in axes and s == 1)))

    def unsqueeze(self, dim):
        d = _dim("unsqueeze", dim, self.ndim, new=1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def expand(self, *sizes):
        """Broadcast to a bigger shape without copying (-1 keeps a dimension)."""
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: cannot expand shape {self.shape} to fewer dimensions {sizes}")
        if -1 in sizes[:lead]:
            raise ValueError(f"expand: -1 (keep the size) is not allowed for the new leading dims of {sizes}")
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        if shape == self.shape:
            return self
        try:
            out = np.broadcast_to(self._data, shape)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {shape}; only size-1 "
                             "dimensions can grow") from None
        return _shared(self._make(out, EXPAND, (self,), shape, self.requires_grad), self)

    def expand_as(self, other):
        return self.expand(other.shape)

    def split(self, split_size_or_sections, dim=0):
        """Pieces of `split_size` along dim (the last may be smaller), or of the listed sizes."""
        n = self.shape[_dim("split", dim, self.ndim)]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0:
                raise ValueError("split: split_size must be positive")
            sizes = [min(split_size_or_sections, n - i) for i in range(0, n, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the size of dim {dim}")
        out, start = [], 0
        d = dim % self.ndim
        for s in sizes:
            out.append(self[(slice(None),) * d + (slice(start, start + s),)])
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        n = self.shape[_dim("chunk", dim, self.ndim)]
        return self.split(-(-n // chunks), dim)

    def __getitem__(self, idx):
        idx = _index(idx)
        try:
            out = self._data[idx]
        except IndexError as e:
            raise IndexError(f"getitem: index {idx!r} is invalid for a tensor of shape {self.shape}: {e}") from None
        return _shared(self._make(out, GETITEM, (self,), idx, self.requires_grad), self)

    def gather(self, dim, index):
        """out[i][j] = self[i][index[i][j]] along `dim` (torch.gather)."""
        d = _dim("gather", dim, self.ndim)
        idx = index._data if isinstance(index, Tensor) else np.asarray(index)
        grids = np.ix_(*[np.arange(s) for s in idx.shape])
        full = tuple(idx if i == d else grids[i] for i in range(self.ndim))
        return self[full]

    def masked_fill(self, mask, value):
        """Replace the elements where mask is True by `value`; no gradient flows to them. The result keeps
        this tensor's dtype (value is cast to it, as in PyTorch)."""
        m = Tensor._leaf(bool_mask("masked_fill", mask, self.shape))
        if not isinstance(value, Tensor):
            value = Tensor._leaf(np.array(value).astype(self._data.dtype))
        return where(m, value, self)

    def tril(self, diagonal=0):
        """Keep the lower triangle of the last two dims, zero above it."""
        _need_2d("tril", self)
        keep = np.tri(self.shape[-2], self.shape[-1], diagonal, dtype=bool)
        return where(Tensor._leaf(keep), self, Tensor._leaf(np.zeros((), self._data.dtype)))

    def triu(self, diagonal=0):
        """Keep the upper triangle of the last two dims, zero below it."""
        _need_2d("triu", self)
        keep = ~np.tri(self.shape[-2], self.shape[-1], diagonal - 1, dtype=bool)
        return where(Tensor._leaf(keep), self, Tensor._leaf(np.zeros((), self._data.dtype)))

    # ------------------------------------------------------------------ dtype
    def to(self, dtype):
        """Convert to another dtype (differentiable between float dtypes)."""
        d = to_dtype(dtype)
        if d == self._data.dtype:
            return self
        if self.requires_grad and d.kind == "f":
            return _cast(self, d)
        return Tensor._leaf(self._data.astype(d))

    type = to

    def astype(self, dtype):
        return self.to(dtype)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def clone(self):
        return self * 1 if self.requires_grad else Tensor._leaf(self._data.copy())

    def contiguous(self):
        return self


# ---------------------------------------------------------------------- helpers and functions
def bool_mask(op, mask, shape):
    """The array of a bool mask (a Tensor or array-like) that must broadcast to `shape`, or a clear error."""
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor, got {m.dtype}")
    try:
        np.broadcast_shapes(m.shape, shape)
    except ValueError:
        raise ValueError(f"{op}: mask of shape {m.shape} does not broadcast to the tensor's shape {shape}") from None
    return m


def _promote(a, b):
    """Mixed-dtype operands: int with float takes the float dtype; a 0-d float operand does not
    widen a float tensor (PyTorch treats it as a scalar); otherwise numpy's rules."""
    ka, kb = a.dtype.kind, b.dtype.kind
    if ka == "f" and kb != "f":
        return a, b.astype(a.dtype)
    if kb == "f" and ka != "f":
        return a.astype(b.dtype), b
    if ka == kb or (ka in "iu" and kb in "iu"):  # same category: a 0-d operand acts as a scalar
        if a.ndim == 0 and b.ndim:
            return a.astype(b.dtype), b
        if b.ndim == 0 and a.ndim:
            return a, b.astype(a.dtype)
    return a, b


def _dim(op, dim, ndim, new=0):
    """One dim (negative counts from the end) as an index in [0, ndim + new), or a clear IndexError;
    new=1 for ops that insert a dim (unsqueeze, stack)."""
    n = max(ndim + new, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return dim % n


def _need_2d(op, t):
    if t.ndim < 2:
        raise ValueError(f"{op}: needs a tensor with at least 2 dimensions, got shape {t.shape}")


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _index(idx):
    """Convert Tensors inside an index to numpy arrays (so they index, never broadcast)."""
    if isinstance(idx, Tensor):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def _cast(x, d):
    return x._unary(CAST, d)


def matmul(a, b):
    """Matrix product with numpy's rules: 1-D, 2-D and batched (broadcast) operands."""
    if not isinstance(a, Tensor):
        a = Tensor(a)
    if not isinstance(b, Tensor):
        b = Tensor(b)
    x, y = a._data, b._data
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if x.dtype is not y.dtype:
        x, y = _promote(x, y)
    try:
        out = MATMUL.fwd(None, x, y)
    except ValueError:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match: the last dim of the first "
                         f"({a.shape[-1]}) must equal the {'first' if b.ndim == 1 else 'second-to-last'} dim "
                         f"of the second ({b.shape[0] if b.ndim == 1 else b.shape[-2]}), and batch dims must "
                         "broadcast") from None
    return a._make(out, MATMUL, (a, b), None, a.requires_grad or b.requires_grad)


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias, for x (..., in_features), weight (out, in), bias (out,).

    With a bias this is one fused graph node (the registry's `linear` row)."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    a, w = x._data, weight._data  # (checks on the arrays: Tensor.shape/.ndim are Python properties)
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if a.ndim == 0 or a.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: expected input with last dimension {w.shape[1]} (in_features), "
                         f"got shape {x.shape}")
    if a.dtype.kind != "f":
        raise TypeError(f"linear: input must be floating point, got {x.dtype}")
    if bias is None:
        return matmul(x, weight.T)
    b = bias._data
    if b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},) (out_features), got {bias.shape}")
    if not (a.dtype is w.dtype is b.dtype):
        return matmul(x, weight.T) + bias
    return x._make(LINEAR.fwd(None, a, w, b), LINEAR, (x, weight, bias), None,
                   x.requires_grad or weight.requires_grad or bias.requires_grad)


def where(condition, x, y):
    """x where condition is True, else y; condition is a bool tensor (no gradient), x/y broadcast."""
    c = condition if isinstance(condition, Tensor) else Tensor._leaf(np.asarray(condition))
    if c._data.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {c.dtype}")
    if not isinstance(x, Tensor):
        x = y._const(x) if isinstance(y, Tensor) else Tensor(x)
    if not isinstance(y, Tensor):
        y = x._const(y)
    a, b = x._data, y._data
    if a.dtype is not b.dtype:
        a, b = _promote(a, b)
    try:
        out = WHERE.fwd(None, c._data, a, b)
    except ValueError:
        raise _shape_error("where", c, x, y) from None
    return x._make(out, WHERE, (c, x, y), None, x.requires_grad or y.requires_grad)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension; all other dims must match."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    d = _dim("cat", dim, tensors[0].ndim)
    arrays = [t._data for t in tensors]
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    dt = np.result_type(*floats) if floats else np.result_type(*arrays)  # an int never widens a float (PyTorch)
    try:
        out = np.concatenate([a.astype(dt, copy=False) for a in arrays], axis=d)
    except ValueError:
        raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {dim}") from None
    bounds = tuple(itertools.accumulate([0] + [t.shape[d] for t in tensors]))
    return tensors[0]._make(out, CAT, tuple(tensors), (d, bounds), any(t.requires_grad for t in tensors))


def stack(tensors, dim=0):
    """Join tensors of equal shape along a new dimension."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    if tensors:
        _dim("stack", dim, tensors[0].ndim, new=1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


_ops._TENSOR[:] = [Tensor, where]
_make = Tensor._make
