"""Tensor methods, part 2: reductions (sum, mean, var, max...) and the normalisers (softmax, log_softmax)."""
from collections import namedtuple

import numpy as np

from .ops.extra import CUMSUM
from .ops.reduce import AMAX, AMIN, LOG_SOFTMAX, LOGSUMEXP, SOFTMAX, SUM, total
from .tensor_args import ALL_AXES, dim_index, dims_as_written, norm_axes, pick
from .tensor_base import TensorBase
from .tensor_math import where_tensors


MinMax = namedtuple("MinMax", ["values", "indices"])


def _dim_as_written(op, dim, ndim):
    """The checked dim, kept as the user wrote it (-1 stays -1): numpy takes either sign, and graphs and
    explain_backward show the op's argument (`log_softmax dim=-1`) as it appears in the user's code."""
    if not ndim:
        return None
    axis = norm_axes(op, dim, ndim)[0]
    return axis - ndim if isinstance(dim, (int, np.integer)) and dim < 0 else axis


class ReduceMethods:
    __slots__ = ()

    def _reduce(self, op, name, dim, keepdim):
        axes = norm_axes(name, dim, self._data.ndim)  # what the row computes with; graphs show dim as written
        return self._unary(op, (dims_as_written(axes, dim), keepdim))

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        """Sum over `dim` (int or tuple; all dims if None)."""
        if dim is None and axis is None and dtype is None and not keepdim and not keepdims \
                and self._data.dtype.kind == "f":  # the common loss.sum(): skip argument parsing
            return self._make(total(self._data), SUM, (self,), ALL_AXES, self.requires_grad)
        dim, keepdim = pick("sum", dim, axis, keepdim, keepdims)
        x = self if dtype is None and self._data.dtype.kind == "f" else \
            self.to(dtype or (np.int64 if self._data.dtype.kind in "biu" else self.dtype))
        return x._reduce(SUM, "sum", dim, keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Mean over `dim` (int or tuple; all dims if None)."""
        dim, keepdim = pick("mean", dim, axis, keepdim, keepdims)
        if self._data.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating tensor, got {self.dtype}; convert with .float()")
        axes = norm_axes("mean", dim, self.ndim)
        n = self._data.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        return self._reduce(SUM, "mean", dim, keepdim) * (1.0 / n if n else float("nan"))

    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None, axis=None, keepdims=None):
        """Variance over `dim` with Bessel's correction by default (correction=1), as PyTorch."""
        dim, keepdim = pick("var", dim, axis, keepdim, keepdims)
        if unbiased is not None:
            correction = 1 if unbiased else 0
        axes = norm_axes("var", dim, self.ndim)
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
        return where_tensors(nz, where_tensors(nz, v, 1.0).sqrt(), 0.0)

    def _extreme(self, op, name, dim, keepdim, axis, keepdims, argfn):
        if isinstance(dim, TensorBase):
            return self.maximum(dim) if op is AMAX else self.minimum(dim)
        numpy_style = axis is not None  # x.max(axis=1) is numpy's: the values only
        dim, keepdim = pick(name, dim, axis, keepdim, keepdims)
        if self._data.size == 0:
            raise ValueError(f"{name}: cannot reduce an empty tensor of shape {self.shape}")
        if dim is None or numpy_style or not isinstance(dim, (int, np.integer)):
            return self._reduce(op, name, dim, keepdim)
        ax = norm_axes(name, dim, self.ndim)
        ax = ax[0] if ax else 0
        idx = np.expand_dims(argfn(self._data, axis=ax), ax) if self.ndim else np.zeros((), np.int64)
        values = self.gather(ax, self._leaf(idx)) if self.ndim else self
        if not keepdim and self.ndim:
            values, idx = values.squeeze(ax), idx.squeeze(ax)
        return MinMax(values, self._leaf(idx))

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

    def argmax(self, dim=None, keepdim=False):
        return self._leaf(np.asarray(self._data.argmax(axis=dim, keepdims=keepdim)))

    def argmin(self, dim=None, keepdim=False):
        return self._leaf(np.asarray(self._data.argmin(axis=dim, keepdims=keepdim)))

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """log(sum(exp(x))) computed stably (max subtracted first)."""
        dim, keepdim = pick("logsumexp", dim, axis, keepdim, keepdims)
        return self._floating()._reduce(LOGSUMEXP, "logsumexp", dim, keepdim)

    def softmax(self, dim=-1):
        """exp(x) / sum(exp(x)) along dim, stable for large logits and -inf masks."""
        return self._floating()._unary(SOFTMAX, _dim_as_written("softmax", dim, self.ndim))

    def log_softmax(self, dim=-1):
        """x - logsumexp(x) along dim."""
        x, axis = self._floating(), _dim_as_written("log_softmax", dim, self.ndim)
        out, saved = LOG_SOFTMAX.fwd(axis, x._data)  # (saved: what the backward reuses, or None)
        return x._make_saving(out, saved, LOG_SOFTMAX, (x,), axis, x.requires_grad)

    # ------------------------------------------------------------------ scans and orderings
    def cumsum(self, dim, dtype=None):
        """Running sum along dim (int and bool tensors sum to int64, as PyTorch)."""
        d = dim_index("cumsum", dim, self.ndim)
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind != "f":
            return self._leaf(np.cumsum(x._data, d, dtype=np.int64 if dtype is None else x._data.dtype))
        return x._unary(CUMSUM, int(dim) if dim < 0 and self.ndim else d)  # (as written: graphs show dim=-1)

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along dim; equal elements keep their order. The values are differentiable
        (a gather)."""
        if self.ndim == 0:
            return SortResult(self, self._leaf(np.zeros((), np.int64)))
        d = dim_index("sort", dim, self.ndim)
        idx = self._leaf(_order(self._data, d, descending))
        return SortResult(self.gather(d, idx), idx)

    def argsort(self, dim=-1, descending=False, stable=False):
        if self.ndim == 0:
            return self._leaf(np.zeros((), np.int64))
        return self._leaf(_order(self._data, dim_index("argsort", dim, self.ndim), descending))

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002  (PyTorch's parameter name)
        """The k largest (or smallest) elements along dim and their indices, largest (smallest) first."""
        if self.ndim == 0:
            if k not in (0, 1):
                raise RuntimeError(f"topk: k ({k}) is out of range for a 0-d tensor")
            return TopkResult(self, self._leaf(np.zeros((), np.int64)))
        d = dim_index("topk", dim, self.ndim)
        if not 0 <= k <= self.shape[d]:
            raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {self.shape[d]} "
                               f"(shape {tuple(self.shape)})")
        idx = self._leaf(np.take(_order(self._data, d, largest), np.arange(k), axis=d))
        return TopkResult(self.gather(d, idx), idx)


SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


def _order(data, d, descending):
    """int64 indices that sort `data` along axis d; stable, also descending (equal elements keep their order)."""
    key = data.astype(np.int64) if data.dtype == np.bool_ else data
    if not descending:
        return np.argsort(key, axis=d, kind="stable").astype(np.int64)
    n = key.shape[d]
    return (n - 1 - np.flip(np.argsort(np.flip(key, d), axis=d, kind="stable"), d)).astype(np.int64)
