"""Creation numbers, version counters and views: how in-place updates are caught before they corrupt backward.

Every tensor gets a creation number `_seq` from one counter: the backward pass uses it as its
topological order, and the in-place check as a time stamp. An in-place update gives the tensor a
new `_version` from the same counter; a graph node whose inputs have a version newer than the
node itself would compute a wrong gradient, so backward raises instead (PyTorch's `_version`).
A view (x[1:], x.reshape(..), x.T, x.detach()) shares memory with its source, so an update of
the view bumps the source's version too.
"""
import itertools
from weakref import ref as _weakref

import numpy as np

_counter = itertools.count(1)
next_seq = _counter.__next__  # the next creation number (also used as a version stamp)


class _LastInplace:
    """The stamp of the most recent in-place update anywhere: while it is older than a graph node,
    nothing that node saved can have changed, and backward skips the per-input version checks."""
    __slots__ = ("last",)

    def __init__(self):
        self.last = 0


INPLACE = _LastInplace()
# The same kind of stamp for the most recent hook registration or backward pass that freed what its graph
# saved: a node newer than it has no hooks and is not freed (a backward plan checks this one number instead
# of every node: autograd.register_hook and autograd._run / backward_plan stamp it).
HOOKED_OR_FREED = _LastInplace()


def share_version(t, src):
    """A view op's result `t` of `src` (x[1:], x.reshape(..), x.T ...): when it shares src's memory,
    remember src and src's own sources, so that an in-place write into t bumps all their versions
    (PyTorch's views share one version counter). Recorded or not: a view made under no_grad, or of
    a tensor that needs no grad, can still corrupt a pending backward that saved its source. Returns t."""
    if t is not src and np.may_share_memory(t._data, src._data):
        t._base = (_weakref(src),) + (src._base or ())
    return t


def bump(t):
    """Mark `t` as modified in place (its raw array was written to directly), and the tensors it is a view of."""
    v = t._version = INPLACE.last = next_seq()
    base = t._base
    if base is not None:
        for r in base:
            s = r()
            if s is not None:
                s._version = v
