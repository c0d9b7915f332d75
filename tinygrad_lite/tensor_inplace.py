"""Tensor methods, part 4: in-place updates (add_, mul_, copy_, fill_, x[i] = v ...).

Each update bumps the tensor's version (versions.bump), so a backward pass that saved the old
value raises a clear error instead of computing a wrong gradient.
"""
import numpy as np

from .grad_mode import GRAD
from .random import get_rng
from .tensor_args import bool_mask, index_arg
from .tensor_base import TensorBase
from .ops.movement import index_scatter
from .tensor_math import where_tensors
from .versions import bump, next_seq


def _put(old, idx, value):
    """old with value written at idx, out of place and differentiable: old keeps its gradient off idx,
    value gets the gradient at idx (summed over its broadcast)."""
    mask = np.zeros(old.shape, bool)
    mask[idx] = True
    target = mask[idx].shape
    v = value if value.dtype == old.dtype else value.to(old.dtype)
    placed = index_scatter(v.expand(target) if v.shape != target else v, old.shape, idx)
    return where_tensors(mask, placed, old)


def _data_of(other):
    return other._data if isinstance(other, TensorBase) else other


class InplaceMethods:
    __slots__ = ()

    def _inplace(self, name):
        if self.requires_grad and GRAD.enabled:
            raise RuntimeError(f"{name}: in-place update of a tensor that requires grad while recording; "
                               "wrap the update in `with tinygrad_lite.no_grad():` or write `x = x op y`")
        bump(self)  # saved copies of the old value are now stale

    def _recording(self, name):
        """True when this in-place op must be recorded in the graph (a non-leaf that requires grad, while
        recording); a leaf that requires grad cannot be updated in place then, as in PyTorch."""
        if not (self.requires_grad and GRAD.enabled):
            return False
        if self._op is None:
            raise RuntimeError(f"{name}: a leaf tensor that requires grad is being used in an in-place operation "
                               "(as in PyTorch); wrap the update in `with tinygrad_lite.no_grad():` or write "
                               "`x = x op y`")
        if self._base is not None:
            raise RuntimeError(f"{name}: in-place update of a view of a tensor that requires grad, while recording, "
                               "is not supported by tinygrad_lite; write it out of place (e.g. with torch.where "
                               "or torch.cat)")
        return True

    def _record_inplace(self, compute):
        """A recorded in-place op on a non-leaf: `compute(old)` builds the new value out of place from `old`,
        a tensor that takes over this tensor's node (with a copy of the values about to be overwritten, so
        that node's own rule still sees its result); the new value is written into this tensor's memory
        (views and detached copies see it) and this tensor becomes the new node. Nodes made before the
        update send their gradient to `old` (autograd follows `_redirect`); one of them that saved this
        tensor as an input fails at backward (its version changed), as in PyTorch."""
        old = self._leaf(self._data.copy())
        old.requires_grad = True
        old._op, old._inputs, old._args, old._seq, old._version = self._op, self._inputs, self._args, self._seq, \
            self._version
        old._hooks, old._redirect, old.name, old._ctx = self._hooks, self._redirect, self.name, self._ctx
        new = compute(old)
        if new.dtype != self.dtype:
            new = new.to(self.dtype)
        np.copyto(self._data, new._data)
        bump(self)
        self._op, self._inputs, self._args, self._ctx = new._op, new._inputs, new._args, new._ctx
        self._hooks, self._redirect = None, old
        self._seq = next_seq()  # after the bump, so the new node is not taken for stale itself
        return self

    def _as_operand(self, other):
        return other if isinstance(other, TensorBase) else self._const(other)

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

    def _fits(self, name, other):
        shape = np.shape(_data_of(other))
        try:
            ok = np.broadcast_shapes(shape, self.shape) == self.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{name}: an operand of shape {tuple(shape)} cannot be applied in place to a tensor of "
                             f"shape {self.shape}; it must broadcast to that shape")

    def add_(self, other, alpha=1):
        if self._recording("add_"):
            self._fits("add_", other)
            return self._record_inplace(lambda old: old + (other if alpha == 1 else self._as_operand(other) * alpha))
        return self._update("add_", np.add, other if alpha == 1 else alpha * _data_of(other))

    def sub_(self, other, alpha=1):
        if self._recording("sub_"):
            self._fits("sub_", other)
            return self._record_inplace(lambda old: old - (other if alpha == 1 else self._as_operand(other) * alpha))
        return self._update("sub_", np.subtract, other if alpha == 1 else alpha * _data_of(other))

    def mul_(self, other):
        if self._recording("mul_"):
            self._fits("mul_", other)
            return self._record_inplace(lambda old: old * other)
        return self._update("mul_", np.multiply, other)

    def div_(self, other):
        if self._recording("div_"):
            self._fits("div_", other)
            return self._record_inplace(lambda old: old / other)
        return self._update("div_", np.true_divide, other)

    def copy_(self, src):
        if self._recording("copy_"):
            self._fits("copy_", src)
            return self._record_inplace(lambda old: where_tensors(np.ones(self.shape, bool), self._as_operand(src), old))
        return self._update("copy_", lambda a, b, out, casting: np.copyto(out, b, casting=casting), src)

    def fill_(self, value):
        if self._recording("fill_"):
            return self._record_inplace(lambda old: where_tensors(np.ones(self.shape, bool), self._as_operand(value), old))
        self._inplace("fill_")
        self._data.fill(value)
        return self

    def zero_(self):
        return self.fill_(0)

    def clamp_(self, min=None, max=None):
        if self._recording("clamp_"):
            return self._record_inplace(lambda old: old.clamp(min, max))
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

    def _fill_random(self, op, draw, generator):
        self._inplace(op)
        self._data[...] = draw(generator or get_rng(), self.shape)
        return self

    def exponential_(self, lambd=1.0, *, generator=None):
        """Exponential samples with rate lambd (mean 1 / lambd)."""
        if not lambd > 0:
            raise ValueError(f"exponential_: expects lambd > 0.0, but found lambd={lambd}")
        return self._fill_random("exponential_", lambda r, s: r.exponential(1.0 / lambd, s), generator)

    def geometric_(self, p, *, generator=None):
        """The number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
        if not 0 < p < 1:
            raise ValueError(f"geometric_: expects p to be in (0, 1), but got p={p}")
        return self._fill_random("geometric_", lambda r, s: r.geometric(p, s), generator)

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        return self._fill_random("cauchy_", lambda r, s: median + sigma * r.standard_cauchy(s), generator)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """exp of Normal(mean, std) samples."""
        if not std > 0:
            raise ValueError(f"log_normal_: expects std > 0.0, but found std={std}")
        return self._fill_random("log_normal_", lambda r, s: r.lognormal(mean, std, s), generator)

    def bernoulli(self, p=None, *, generator=None):
        """A new tensor of 0/1 samples: 1 with probability self (or p when given), in self's dtype."""
        prob = _probabilities("bernoulli", self if p is None else p)
        return self._leaf(((generator or get_rng()).random(self.shape) < prob).astype(self.dtype))

    def bernoulli_(self, p=0.5, *, generator=None):
        """1 with probability p (a number or a tensor of probabilities broadcast to this shape), else 0."""
        prob = _probabilities("bernoulli_", p)
        return self._fill_random("bernoulli_", lambda r, s: r.random(s) < prob, generator)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def masked_fill_(self, mask, value):
        """Write value where mask is True (in place; recorded on a non-leaf that requires grad)."""
        m = bool_mask("masked_fill_", mask, self.shape)
        if self._recording("masked_fill_"):
            return self._record_inplace(lambda old: old.masked_fill(m, value))
        self._inplace("masked_fill_")
        np.copyto(self._data, np.asarray(_data_of(value), dtype=self.dtype), where=np.broadcast_to(m, self.shape))
        return self

    def __setitem__(self, idx, value):
        if self._recording("__setitem__"):
            self._record_inplace(lambda old: _put(old, index_arg(idx), self._as_operand(value)))
            return
        self._inplace("__setitem__")
        self._data[index_arg(idx)] = _data_of(value)


def _probabilities(op, p):
    """p (a number, array or Tensor) as float64 probabilities; an error naming op if one is outside [0, 1]."""
    prob = np.asarray(p._data if isinstance(p, TensorBase) else p, dtype=np.float64)
    if ((prob < 0) | (prob > 1) | np.isnan(prob)).any():
        raise ValueError(f"{op}: expects all the probabilities to be in [0, 1]")
    return prob
