"""The part of PyTorch's tensor surface that real scripts use beyond the core (tensor.py): devices,
sin/cos, sort/topk, cumsum, flip/roll, einsum, mm/bmm, index_select, scatter, repeat, narrow, unbind,
the new_* constructors, `//`, `%`, abs(t), format(t, spec). Differentiable ones are registry rows
(ops/extra.py) or composed from rows. Methods are attached to Tensor in one place at the end
(`_METHODS`); the free functions (torch.sin, torch.topk, ...) are exported by the package."""
from collections import namedtuple

import numpy as np

from .device import _KNOWN as _DEVICE_NAMES, CPU, CUDA_ERROR, check_device, device as _Device
from .dtypes import to_dtype
from .ops.extra import CUMSUM, COS, EINSUM, FLIP, REMAINDER, ROLL, SCATTER, SIN
from .tensor import Tensor, _dim, _promote, _shape_arg, matmul as _matmul

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
_to_dtype_only = Tensor.to  # the core's dtype conversion; `to` below adds devices and `other`


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _idx(op, index):
    a = index._data if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {a.dtype}")
    return a.astype(np.intp, copy=False)


# ------------------------------------------------------------------------------------------- devices
def _device(self):
    """torch's Tensor.device: always the cpu here."""
    return CPU


def to(self, *args, dtype=None, non_blocking=False, copy=False, device=None, memory_format=None):
    """to(dtype) | to(device) | to(device, dtype) | to(other): a device must be the cpu (PyTorch's own
    error for 'cuda' on a machine without it); dtype changes are differentiable between float dtypes."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, _Device) or (isinstance(a, str) and a.split(":")[0] in _DEVICE_NAMES):
            check_device(a, "to")  # the cpu passes; 'cuda' fails with PyTorch's own error
        else:
            dtype = a
    check_device(device, "to")
    out = self if dtype is None else _to_dtype_only(self, dtype)
    if copy and out is self:
        out = self.clone()
    return out


def cpu(self, memory_format=None):
    return self


def cuda(self, device=None, non_blocking=False, memory_format=None):
    raise AssertionError(CUDA_ERROR)


def pin_memory(self, device=None):
    raise RuntimeError("Cannot access accelerator device when none is available.")


# ------------------------------------------------------------------------------------------- elementwise
def sin(self):
    x = self._floating()
    return x._unary(SIN)


def cos(self):
    x = self._floating()
    return x._unary(COS)


def _non_diff(name, fn):
    def method(self):
        return Tensor._leaf(fn(self._data))
    method.__name__ = name
    method.__doc__ = f"{name} of each element (its gradient is zero almost everywhere: none is recorded)."
    return method


floor, ceil, trunc = _non_diff("floor", np.floor), _non_diff("ceil", np.ceil), _non_diff("trunc", np.trunc)


def round(self, decimals=0):  # noqa: A001
    """Round half to even, as PyTorch (not recorded: its gradient is zero almost everywhere)."""
    return Tensor._leaf(np.round(self._data, decimals))


def _operands(self, other):
    o = other if isinstance(other, Tensor) else self._const(other)
    a, b = self._data, o._data
    if a.dtype is not b.dtype:
        a, b = _promote(a, b)
    return o, a, b


def floor_divide(self, other):
    """self // other, rounding down (as Python and PyTorch); not differentiable."""
    o, a, b = _operands(self, other)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor._leaf(np.floor_divide(a, b))


def rfloordiv(self, other):
    return floor_divide(self._const(other), self)


def remainder(self, other):
    """self % other with the sign of other (Python's and PyTorch's %); differentiable for floats."""
    o, a, b = _operands(self, other)
    if a.dtype.kind != "f":
        if (b == 0).any():
            raise ZeroDivisionError("remainder: integer modulo by zero")
        return Tensor._leaf(np.remainder(a, b))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = REMAINDER.fwd(None, a, b)
    return self._make(out, REMAINDER, (self, o), None, self.requires_grad or o.requires_grad)


def rmod(self, other):
    return remainder(self._const(other), self)


def __format__(self, spec):
    """format(t, '.4f') for a 0-d tensor formats its value, as PyTorch does."""
    if self._data.ndim == 0:
        return format(self._data.item(), spec)
    if spec:
        raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {tuple(self.shape)}; "
                        "only 0-d tensors format like numbers (use t.item())")
    return str(self)


# ------------------------------------------------------------------------------------------- scans, order
def cumsum(self, dim, dtype=None):
    """Running sum along dim (int and bool tensors sum to int64, as PyTorch)."""
    d = _dim("cumsum", dim, self.ndim)
    x = self if dtype is None else self.to(dtype)
    if x._data.dtype.kind != "f":
        return Tensor._leaf(np.cumsum(x._data, d, dtype=np.int64 if dtype is None else to_dtype(dtype)))
    return x._unary(CUMSUM, d)


def flip(self, *dims):
    dims = _shape_arg(dims)
    axes = tuple(_dim("flip", d, self.ndim) for d in dims)
    return self._unary(FLIP, axes)


def roll(self, shifts, dims=None):
    """Elements shifted along dims, wrapping around; without dims the flattened tensor is rolled."""
    if dims is None:
        return self.flatten().roll(shifts, 0).reshape(self.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    dims = tuple(_dim("roll", d, self.ndim) for d in dims)
    return self._unary(ROLL, (shifts, dims))


def _order(op, data, d, descending, stable=True):
    key = data.astype(np.int64) if data.dtype == np.bool_ else data
    if descending:
        # a stable descending order keeps equal elements in their original order (as PyTorch's stable sort)
        return (key.shape[d] - 1 - np.flip(np.argsort(np.flip(key, d), axis=d, kind="stable"), d)) \
            if key.ndim else np.zeros((), np.int64)
    return np.argsort(key, axis=d, kind="stable")


def sort(self, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along dim; equal elements keep their order. Values are differentiable."""
    if self.ndim == 0:
        return SortResult(self, Tensor._leaf(np.zeros((), np.int64)))
    d = _dim("sort", dim, self.ndim)
    idx = _order("sort", self._data, d, descending).astype(np.int64)
    return SortResult(self.gather(d, Tensor._leaf(idx)), Tensor._leaf(idx))


def argsort(self, dim=-1, descending=False, stable=False):
    if self.ndim == 0:
        return Tensor._leaf(np.zeros((), np.int64))
    d = _dim("argsort", dim, self.ndim)
    return Tensor._leaf(_order("argsort", self._data, d, descending).astype(np.int64))


def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The k largest (or smallest) elements along dim and their indices, largest first."""
    d = _dim("topk", dim, max(self.ndim, 1)) if self.ndim else 0
    n = self.shape[d] if self.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {n} (shape {tuple(self.shape)})")
    if self.ndim == 0:
        return TopkResult(self, Tensor._leaf(np.zeros((), np.int64)))
    idx = _order("topk", self._data, d, largest)
    idx = np.take(idx, np.arange(k), axis=d).astype(np.int64)
    return TopkResult(self.gather(d, Tensor._leaf(idx)), Tensor._leaf(idx))


# ------------------------------------------------------------------------------------------- indexing, shape
def index_select(self, dim, index):
    """The slices at `index` (1-D int) along dim: a getitem with an index array (repeats accumulate in backward)."""
    d = _dim("index_select", dim, self.ndim)
    idx = _idx("index_select", index)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D (or 0-D), got shape {idx.shape}")
    if idx.size and (idx.min() < -self.shape[d] or idx.max() >= self.shape[d]):
        raise IndexError(f"index_select: index out of range for dim {dim} of size {self.shape[d]}")
    return self[(slice(None),) * d + (idx.reshape(-1),)]


def _scatter(self, name, dim, index, src, add):
    d = _dim(name, dim, self.ndim)
    idx = _idx(name, index)
    if idx.ndim != self.ndim:
        raise ValueError(f"{name}: index must have as many dims as self ({self.ndim}), got shape {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= self.shape[d]):
        raise IndexError(f"{name}: index out of range for dim {dim} of size {self.shape[d]}")
    for i, (n, m) in enumerate(zip(idx.shape, self.shape)):
        if i != d and n > m:
            raise ValueError(f"{name}: index shape {idx.shape} is bigger than self {tuple(self.shape)} in dim {i}")
    if isinstance(src, Tensor):
        if src.ndim != idx.ndim or any(a > b for a, b in zip(idx.shape, src.shape)):
            raise ValueError(f"{name}: src of shape {tuple(src.shape)} must have at least index's shape {idx.shape}")
        s = src if src.dtype == self.dtype else src.to(self.dtype)
    else:
        s = Tensor._leaf(np.array(src, dtype=self.dtype))
    out = SCATTER.fwd((d, idx, add), self._data, s._data)
    return self._make(out, SCATTER, (self, s), (d, idx, add), self.requires_grad or s.requires_grad)


def scatter(self, dim, index, src=None, value=None, reduce=None):
    """out = self with src (a tensor or a number) written at index along dim: out[i][index[i][j]] = src[i][j]."""
    if reduce is not None:
        from .compat import unsupported
        raise unsupported(f"Tensor.scatter(reduce={reduce!r})")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: give src (a tensor or a number) or value")
    return _scatter(self, "scatter", dim, index, src, False)


def scatter_add(self, dim, index, src):
    """out = self plus src added at index along dim (repeated indices accumulate)."""
    return _scatter(self, "scatter_add", dim, index, src, True)


def repeat(self, *sizes):
    """Tile the tensor: repeat(2, 3) on shape (a, b) gives (2a, 3b) (an expand and a reshape)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < self.ndim:
        raise ValueError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than the tensor's "
                         f"number of dims ({self.ndim})")
    shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
    x = self.reshape(tuple(s for n in shape for s in (1, n)))
    x = x.expand(tuple(s for r, n in zip(sizes, shape) for s in (r, n)))
    return x.reshape(tuple(r * n for r, n in zip(sizes, shape)))


def repeat_interleave(self, repeats, dim=None, output_size=None):
    """Each element (or slice along dim) repeated `repeats` times in place: [1, 2] -> [1, 1, 2, 2]."""
    x = self.flatten() if dim is None else self
    d = 0 if dim is None else _dim("repeat_interleave", dim, self.ndim)
    r = repeats._data if isinstance(repeats, Tensor) else repeats
    idx = np.repeat(np.arange(x.shape[d]), r)
    return x[(slice(None),) * d + (idx,)]


def narrow(self, dim, start, length):
    d = _dim("narrow", dim, self.ndim)
    start = int(start) + (self.shape[d] if int(start) < 0 else 0)
    if not (0 <= start and start + length <= self.shape[d]):
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({self.shape[d]})")
    return self[(slice(None),) * d + (slice(start, start + length),)]


def select(self, dim, index):
    d = _dim("select", dim, self.ndim)
    return self[(slice(None),) * d + (int(index),)]


def unbind(self, dim=0):
    d = _dim("unbind", dim, self.ndim)
    return tuple(select(self, d, i) for i in range(self.shape[d]))


def view_as(self, other):
    return self.view(other.shape)


def reshape_as(self, other):
    return self.reshape(other.shape)


def type_as(self, other):
    return self.to(other.dtype)


def mm(self, mat2):
    if self.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: both arguments must be matrices (2-D), got shapes {tuple(self.shape)} and "
                           f"{tuple(mat2.shape)}")
    return _matmul(self, mat2)


def bmm(self, mat2):
    if self.ndim != 3 or mat2.ndim != 3 or self.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: expected two 3-D tensors with the same batch size, got shapes "
                           f"{tuple(self.shape)} and {tuple(mat2.shape)}")
    return _matmul(self, mat2)


# ------------------------------------------------------------------------------------------- new_* constructors
def _new(fill):
    def method(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        check_device(device, f"new_{fill}")
        d = to_dtype(dtype) or self.dtype
        arr = np.zeros(_shape_arg(size), d) if fill == "zeros" else np.ones(_shape_arg(size), d) \
            if fill == "ones" else np.empty(_shape_arg(size), d)
        if fill == "empty":
            arr[...] = 0
        return Tensor._leaf(arr).requires_grad_(True) if requires_grad else Tensor._leaf(arr)
    method.__name__ = f"new_{fill}"
    method.__doc__ = f"A tensor of {fill} with this tensor's dtype (unless given)."
    return method


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    check_device(device, "new_full")
    t = Tensor._leaf(np.full(_shape_arg((size,) if isinstance(size, int) else size), fill_value,
                             to_dtype(dtype) or self.dtype))
    return t.requires_grad_(True) if requires_grad else t


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    check_device(device, "new_tensor")
    t = Tensor(data, dtype=to_dtype(dtype) or self.dtype)
    return t.requires_grad_(True) if requires_grad else t


def is_floating_point(self):
    return self._data.dtype.kind == "f"


def is_contiguous(self, memory_format=None):
    return bool(self._data.flags.c_contiguous)


def data_ptr(self):
    return self._data.__array_interface__["data"][0]


def element_size(self):
    return self._data.itemsize


_METHODS = {
    "device": property(_device, doc="The device holding the tensor: always device('cpu')."),
    "is_cuda": property(lambda self: False), "is_cpu": property(lambda self: True),
    "is_mps": property(lambda self: False), "is_meta": property(lambda self: False),
    "to": to, "cpu": cpu, "cuda": cuda, "pin_memory": pin_memory,
    "sin": sin, "cos": cos, "floor": floor, "ceil": ceil, "trunc": trunc, "round": round,
    "floor_divide": floor_divide, "__floordiv__": floor_divide, "__rfloordiv__": rfloordiv,
    "remainder": remainder, "__mod__": remainder, "__rmod__": rmod, "__abs__": lambda self: self.abs(),
    "__format__": __format__, "cumsum": cumsum, "flip": flip, "roll": roll, "sort": sort, "argsort": argsort,
    "topk": topk, "index_select": index_select, "scatter": scatter, "scatter_add": scatter_add, "repeat": repeat,
    "repeat_interleave": repeat_interleave, "narrow": narrow, "select": select, "unbind": unbind,
    "view_as": view_as, "reshape_as": reshape_as, "type_as": type_as, "mm": mm, "bmm": bmm,
    "new_zeros": _new("zeros"), "new_ones": _new("ones"), "new_empty": _new("empty"), "new_full": new_full,
    "new_tensor": new_tensor, "is_floating_point": is_floating_point, "is_contiguous": is_contiguous,
    "data_ptr": data_ptr, "element_size": element_size, "nelement": Tensor.numel,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)


# ------------------------------------------------------------------------------------------- free functions
def einsum(equation, *operands):
    """torch.einsum('ij,jk->ik', a, b): sums of products over the repeated subscripts (one registry row;
    '...' stands for the leading dims). A subscript repeated inside one operand (a trace) is not supported."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_t(x) for x in operands]
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(xs):
        raise ValueError(f"einsum: the equation {equation!r} has {len(ins)} operands but {len(xs)} tensors were given")
    if "..." in eq:
        ins, out = _expand_ellipsis(equation, ins, out if arrow else None, xs)
    elif not arrow:
        letters = "".join(ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for s, x in zip(ins, xs):
        if len(s) != x.ndim:
            raise ValueError(f"einsum: the subscripts {s!r} name {len(s)} dims but the operand has shape {tuple(x.shape)}")
        if len(set(s)) != len(s):
            from .compat import unsupported
            raise unsupported(f"einsum with a subscript repeated inside one operand ({s!r}, a diagonal or trace)")
    arrays = [x._data for x in xs]
    floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
    dt = np.result_type(*floats) if floats else np.result_type(*arrays)
    arrays = [a.astype(dt, copy=False) for a in arrays]
    try:
        res = EINSUM.fwd((tuple(ins), out), *arrays)
    except ValueError as e:
        raise ValueError(f"einsum {equation!r}: operands of shapes {[tuple(x.shape) for x in xs]} do not fit: {e}") \
            from None
    xs = [x if x.dtype == dt else x.to(dt) for x in xs]
    return xs[0]._make(np.asarray(res), EINSUM, tuple(xs), (tuple(ins), out), any(x.requires_grad for x in xs))


def _expand_ellipsis(equation, ins, out, xs):
    used = set("".join(ins) + (out or ""))
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    n = max(x.ndim - (len(s) - 3) for s, x in zip(ins, xs) if "..." in s)
    ell = "".join(free[:n])
    new_ins = [s.replace("...", ell[n - (x.ndim - (len(s) - 3)):]) if "..." in s else s for s, x in zip(ins, xs)]
    if out is None:
        letters = "".join(s.replace("...", "") for s in ins)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        out = out.replace("...", ell)
    return new_ins, out


def _fn(name, doc):
    method = getattr(Tensor, name)

    def f(input, *args, **kwargs):
        return method(_t(input), *args, **kwargs)
    f.__name__, f.__doc__ = name, doc
    return f


_FUNCTIONS = ("sin", "cos", "floor", "ceil", "trunc", "round", "floor_divide", "remainder", "cumsum", "flip", "roll",
              "sort", "argsort", "topk", "index_select", "scatter", "scatter_add", "repeat_interleave", "narrow",
              "select", "unbind", "mm", "bmm", "is_floating_point")
FUNCTIONS = {n: _fn(n, f"torch.{n}: the function form of Tensor.{n}.") for n in _FUNCTIONS}


def matmul(input, other):
    """torch.matmul(input, other) (keyword forms too)."""
    return _matmul(input, other)


def numel(input):
    return input.numel()


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(_t(input)._data, _t(other)._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._leaf(np.isclose(_t(input)._data, _t(other)._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


FUNCTIONS.update(einsum=einsum, matmul=matmul, numel=numel, allclose=allclose, isclose=isclose)
