"""The Tensor class: how a tensor is made, what it reports, and its autograd surface.

Its methods come in groups, one file each (Tensor inherits them):
  tensor_math.py     operators (+ - * / ** @), elementwise functions, comparisons
  tensor_reduce.py   sum, mean, var, max, softmax ...
  tensor_shape.py    reshape, permute, expand, indexing, masked_fill ...
  tensor_inplace.py  add_, mul_, copy_, fill_, x[i] = v ...
  tensor_more*.py    what users' scripts reach for beyond those: prod, norm, diag, unique (tensor_more),
                     log2, atan2, logical_*, exp_ ... (tensor_more_math), movedim, unfold, quantile ... (tensor_more_shape)
The fields are declared in tensor_base.py; free functions (matmul, where, cat...) are in functions.py.

Every op method ends in `_make(array, op, inputs, args, requires_grad)`: the new tensor records
its op (a row of the registry, tinygrad_lite/ops) and inputs only when recording is on and some
input requires grad. That record is the whole graph; autograd.py walks it backwards.
"""
import numpy as np

from .device import _KNOWN as _DEVICE_TYPES, CPU, CUDA_ERROR, check_device, device as _Device
from .dtypes import DEFAULT, to_dtype
from .grad_mode import GRAD
from .ops.elementwise import CAST
from .ops.extra import CONTIGUOUS
from .size import Size
from .tensor_args import shape_arg, to_array
from .tensor_base import TensorBase
from .tensor_inplace import InplaceMethods
from .tensor_math import MathMethods
from .tensor_more import MoreMethods
from .tensor_more_math import MoreMathMethods
from .tensor_more_shape import MoreShapeMethods
from .tensor_reduce import ReduceMethods
from .tensor_shape import ShapeMethods
from .versions import next_seq, share_version

_new = object.__new__
_ndarray = np.ndarray


class Tensor(MoreMathMethods, MathMethods, ReduceMethods, ShapeMethods, InplaceMethods, MoreMethods, MoreShapeMethods,
             TensorBase):
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    Tensor(data, requires_grad=False, dtype=None): `data` is a number, a nested list or a numpy
    array (copied). Python floats become the default dtype (float32); numpy arrays keep theirs.

    `t.name = "log_p"` (a str, default None) names the tensor for people: graph pictures
    (viz.draw_graph), viz.explain_backward and the explorer call it by that name, and where a
    rule's own letters clash with it (mul's x, y against your `y`), the rule is written with your
    names. It changes nothing in the computation. Names from draw_graph's `params=`/`model=`
    take precedence.
    """
    __slots__ = ()

    def __init__(self, data, requires_grad=False, dtype=None):
        self._data = to_array(data, to_dtype(dtype))
        self._grad = None
        self._op = self._inputs = self._args = self._ctx = self._hooks = self.name = self._base = self._redirect = None
        self._seq = next_seq()
        self._version = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ construction internals
    @staticmethod
    def _leaf(arr, requires_grad=False):
        """Wrap an array without copying (internal fast path)."""
        t = _new(Tensor)
        t._data = arr if arr.__class__ is _ndarray else np.asarray(arr)
        t._grad = t._op = t._inputs = t._args = t._ctx = t._hooks = t.name = t._base = t._redirect = None
        t.requires_grad = requires_grad
        t._seq = next_seq()
        t._version = 0
        return t

    @staticmethod
    def _make(arr, op, inputs, args, req):
        """A new tensor from an op; records the op only when some input requires grad."""
        t = _new(Tensor)
        # numpy hands back 0-d results as scalars: keep _data an ndarray (writable, .base, in place)
        t._data = arr if arr.__class__ is _ndarray else np.asarray(arr)
        t._grad = t._hooks = t.name = t._base = t._ctx = t._redirect = None
        t._seq = next_seq()
        t._version = 0
        if req and GRAD.enabled:
            t.requires_grad = True
            t._op, t._inputs, t._args = op, inputs, args
        else:
            t.requires_grad = False
            t._op = t._inputs = t._args = None
        return t

    @staticmethod
    def _make_saving(arr, saved, op, inputs, args, req):
        """_make for a row that saves state for its backward (its `saves`): `saved` is kept in `_ctx`
        only when the op is recorded."""
        t = Tensor._make(arr, op, inputs, args, req)
        if t._op is not None:
            t._ctx = saved
        return t

    def _unary(self, op, args=None):
        """Apply a one-input row with non-tensor parameters `args`."""
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

    # ------------------------------------------------------------------ properties
    @property
    def data(self):
        """A tensor sharing this one's storage, cut from the graph (as PyTorch's `.data`)."""
        return self._view()

    def _view(self):
        """A leaf sharing storage whose in-place updates also bump this tensor's version (so a pending
        backward that saved this tensor sees them, as PyTorch's detach() shares the version counter)."""
        return share_version(Tensor._leaf(self._data), self)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._bump()

    shape = property(lambda self: Size(self._data.shape), doc="The tensor's shape (a Size: a tuple of ints).")
    ndim = property(lambda self: self._data.ndim, doc="Number of dimensions.")
    dtype = property(lambda self: self._data.dtype, doc="The numpy dtype.")
    is_leaf = property(lambda self: self._op is None, doc="True unless made by a recorded op.")
    grad_fn = property(lambda self: self._op.name if self._op is not None else None,
                       doc="Name of the op that made this tensor (None for leaves).")

    def size(self, dim=None):
        """The shape, or the size of one dimension."""
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    def __len__(self):
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ------------------------------------------------------------------ conversion
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
        from .compat import installed
        if installed():  # under the torch import hook: PyTorch's layout (compat/printing.py)
            from .compat.printing import torch_repr
            return torch_repr(self)
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4, threshold=200)
        return f"tensor({body}{self._repr_tail(str(self._data.dtype), self._data.size == 0)})"

    def _repr_tail(self, dtype_name, show_dtype=False):
        """What follows a repr's numbers: the dtype unless it is the default one (or show_dtype), then
        grad_fn or requires_grad; shared with the torch-style repr (compat/printing.py)."""
        extra = ""
        if show_dtype or self._data.dtype not in (DEFAULT.dtype, np.int64, np.bool_):
            extra += f", dtype={dtype_name}"
        if self._op is not None:
            extra += f", grad_fn=<{self._op.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return extra

    def to(self, *args, dtype=None, non_blocking=False, copy=False, device=None, memory_format=None):
        """to(dtype) | to(device) | to(device, dtype) | to(other tensor): a device must be the cpu ('cuda'
        fails with PyTorch's own error on a machine without it); dtype changes are differentiable between
        float dtypes."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, _Device) or (isinstance(a, str) and a.split(":")[0] in _DEVICE_TYPES):
                check_device(a, "to")
            else:
                dtype = a
        check_device(device, "to")
        out = self if dtype is None else self._cast_to(to_dtype(dtype))
        return out.clone() if copy and out is self else out

    def _cast_to(self, d):
        if d == self._data.dtype:
            return self
        if self.requires_grad and d.kind == "f":
            return self._unary(CAST, d)
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

    def contiguous(self, memory_format=None):
        """This tensor if its memory is in row-major order, else a row-major copy (recorded: gradient passes)."""
        return self if self._data.flags.c_contiguous else self._unary(CONTIGUOUS)

    # ------------------------------------------------------------------ devices (the cpu only)
    device = property(lambda self: CPU, doc="The device holding the tensor: always device('cpu').")
    is_cuda = property(lambda self: False)
    is_cpu = property(lambda self: True)
    is_mps = property(lambda self: False)
    is_meta = property(lambda self: False)

    def cpu(self, memory_format=None):
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """Fails as PyTorch does on a machine without CUDA."""
        raise AssertionError(CUDA_ERROR)

    def pin_memory(self, device=None):
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def type_as(self, other):
        return self.to(other.dtype)

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    def element_size(self):
        return self._data.itemsize

    def nelement(self):
        return self._data.size

    def __format__(self, spec):
        """format(t, '.4f') formats the value of a 0-d tensor, as PyTorch does."""
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {tuple(self.shape)}: only "
                            "0-d tensors format like numbers (use t.item())")
        return str(self)

    # ------------------------------------------------------------------ new tensors like this one
    def _new_filled(self, name, size, fill, dtype, device, requires_grad):
        check_device(device, name)
        arr = np.full(shape_arg((size,) if isinstance(size, int) else size), fill, to_dtype(dtype) or self.dtype)
        return Tensor._leaf(arr).requires_grad_(True) if requires_grad else Tensor._leaf(arr)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        """Zeros with this tensor's dtype (unless given)."""
        return self._new_filled("new_zeros", shape_arg(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        return self._new_filled("new_ones", shape_arg(size), 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        return self._new_filled("new_empty", shape_arg(size), 0, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
                 pin_memory=False):
        return self._new_filled("new_full", size, fill_value, dtype, device, requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        """A copy of data with this tensor's dtype (unless given)."""
        check_device(device, "new_tensor")
        return Tensor(data, requires_grad=requires_grad, dtype=to_dtype(dtype) or self.dtype)

    def __getattr__(self, name):
        """Only reached for a name Tensor does not have: an AttributeError (so hasattr() answers False) that
        names it and the caller's file:line, which `tinygrad-lite run` prints as its one-line error."""
        if name.startswith("_"):
            raise AttributeError(name)
        from .compat import UnsupportedAPI, caller_location
        raise UnsupportedAPI(f"Tensor.{name} is not supported by tinygrad_lite (used at {caller_location()})")

    # ------------------------------------------------------------------ autograd surface
    @property
    def grad(self):
        """The accumulated gradient (a Tensor), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:  # (zero_grad's and every training loop's call: first and cheap)
            self._grad = None
            return
        if not isinstance(value, TensorBase) and not hasattr(value, "indices"):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                            f"{type(value).__name__}")
        if isinstance(value, TensorBase) and value.shape != self._data.shape:
            raise RuntimeError(f"assigned grad has data of a different size: the tensor has shape "
                               f"{tuple(self._data.shape)}, the grad {tuple(value.shape)}")
        self._grad = value

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
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; it may return a replacement."""
        return _autograd.register_hook(self, hook)

    def retain_grad(self):
        """Keep .grad on a non-leaf tensor after backward."""
        _autograd.retain_grad(self)


# The one explicit binding: autograd.py builds on Tensor (it wraps gradients in Tensors), and Tensor's
# backward() calls into autograd, so autograd is imported here, once Tensor exists.
from . import autograd as _autograd  # noqa: E402
