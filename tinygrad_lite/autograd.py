"""Reverse-mode autodiff: the backward pass, `grad`, hooks, anomaly mode and the custom-op `Function` API.

The backward pass (`_run`) in three lines: pop the newest tensor whose gradient is complete,
apply its op's rules (`apply_rules`, one gradient per input), send each gradient on (to the
pending sum of that input, or straight into a leaf's .grad). Tensors are visited from the
newest to the oldest (by creation number `_seq`), a topological order, with a heap instead of
recursion, so graphs of any depth work. Plain backward runs the rules on numpy arrays;
`create_graph=True` runs the same rules on Tensors with recording on (gradients of gradients).

Each speed trick is one named helper below the loop: direct delivery into a leaf's .grad, owned
buffers accumulated in place, lazy gradients (slices, row-sparse; `ops.LazyGrad`), unrolled input
tuples. `apply_rules` is also what graph.py uses to show each op's gradients.
"""
import sys
import weakref
from heapq import heappop, heappush
from math import prod

import numpy as np

from .grad_mode import GRAD, no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from .autograd_modes import (MODES, _check_finite, detect_anomaly, is_anomaly_enabled, keep_graph,  # noqa: F401
                             set_detect_anomaly)
from .ops import LazyGrad, cast, sum_to
from .ops.numpy_fast import copy_c
from .tensor import Tensor
from .versions import HOOKED_OR_FREED, INPLACE, next_seq

__all__ = ["backward", "grad", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "keep_graph", "apply_rules", "FREED"]

FREED_MSG = ("backward: trying to backward through the graph a second time (its saved tensors were freed by "
             "the first backward); pass retain_graph=True to the first backward if you need to do this")


class _Freed:
    """The `_ctx` of a node after a backward without retain_graph: what its op saved is gone."""
    __slots__ = ()

    def __repr__(self):
        return "FREED"


FREED = _Freed()


BY_BACKWARD = "freed by backward()"
UNREAD = "freed when its module returned: no backward rule reads it (keep_graph() keeps it)"


class FreedValue:
    """Stands in for the array of an intermediate tensor whose value was released, nothing but the graph
    referring to it: by backward (`BY_BACKWARD`), or when the module call that made it returned because no
    backward rule reads it (`UNREAD`, release.py). Its shape and dtype stay, so the graph can still be
    drawn; `reason` says which."""
    __slots__ = ("shape", "dtype", "reason")

    @staticmethod
    def of(arr, reason=BY_BACKWARD):
        v = _new(FreedValue)  # (without __init__: this runs once per released node)
        v.shape, v.dtype, v.reason = arr.shape, arr.dtype, reason
        return v

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: prod(self.shape))
    nbytes = 0  # (it holds no memory)

    def __repr__(self):
        return f"<value {self.reason}: shape {self.shape}, {self.dtype}>"


_new = object.__new__
_leaf = Tensor._leaf
_ndarray = np.ndarray
_ONES = {}  # read-only 0-d seeds per dtype (the seed of loss.backward() is never written to)
for _dt in (np.float16, np.float32, np.float64):
    _ONES[np.dtype(_dt)] = np.ones((), _dt)
    _ONES[np.dtype(_dt)].flags.writeable = False


def _as_grad_array(g, t, what):
    arr = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=t.dtype)
    if arr.shape != t.shape:
        raise RuntimeError(f"{what}: gradient has shape {arr.shape} but the output has shape {t.shape}; "
                           "they must match")
    return arr


def _seed(tensor, gradient):
    """backward's seed: the given gradient as an array of the tensor's shape, or ones for a one-element tensor."""
    if gradient is not None:
        return _as_grad_array(gradient, tensor, "backward")
    if tensor._data.size != 1:
        raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, this one has "
                           f"shape {tensor.shape}; pass gradient= (a tensor of that shape) or reduce it first")
    return np.ones(tensor.shape, tensor.dtype)


def _retain(retain_graph, create_graph):
    """PyTorch's default: retain_graph follows create_graph; keep_graph() (for teaching) keeps every graph."""
    return (create_graph or MODES.keep) if retain_graph is None else retain_graph


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of `tensor` with respect to every leaf that requires grad into
    the leaf's `.grad`. A non-scalar `tensor` needs `gradient` (same shape): the vector in the
    vector-Jacobian product. The values the graph saved are freed unless `retain_graph=True`; its
    structure stays, so it can still be drawn (viz.draw_graph) but not run backward again."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph behind it; "
                           "did you forget requires_grad=True on an input, or compute it under no_grad()?")
    data = tensor._data
    seed = _ONES.get(data.dtype) if gradient is None and not data.ndim else None  # (a loss: the shared seed)
    if seed is None:
        seed = _seed(tensor, gradient)
    only = None if inputs is None else set(inputs if isinstance(inputs, (list, tuple)) else [inputs])
    retain = (create_graph or MODES.keep) if retain_graph is None else retain_graph  # (see _retain)
    if PLANS.enabled and only is None and not create_graph and not MODES.anomaly and tensor._op is not None \
            and PLANS.run(tensor, seed, retain):
        return  # a graph of a shape seen before: its backward written out (backward_plan.py), as _run would do it
    _run([tensor], [seed], retain, create_graph, None, only)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, returned (not stored in .grad).

    outputs: a tensor or a sequence; grad_outputs: matching tensors (may be omitted for scalars).
    With create_graph=True the result is itself differentiable (Hessian-vector products)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    seeds, roots = [], []
    for o, g in zip(outputs, grad_outputs):
        if not o.requires_grad:
            raise RuntimeError("grad: an output does not require grad; it does not depend on the inputs")
        if g is None:
            if o._data.size != 1:
                raise RuntimeError(f"grad: grad_outputs is needed for the non-scalar output of shape {o.shape}")
            g = np.ones(o.shape, o.dtype)
        elif create_graph and isinstance(g, Tensor):
            roots.append(o)
            seeds.append(g)
            continue
        roots.append(o)
        seeds.append(_as_grad_array(g, o, "grad"))
    capture = {t: None for t in inputs}
    shared = _run(roots, seeds, _retain(retain_graph, create_graph), create_graph, capture, None)
    result = []
    for i, t in enumerate(inputs):
        g = capture[t]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            result.append(None)
        elif isinstance(g, Tensor):
            result.append(g)
        elif isinstance(g, LazyGrad):
            result.append(Tensor._leaf(g.dense()))  # grad() returns dense Tensors
        else:
            result.append(Tensor._leaf(np.array(g) if t in shared or type(g) is not np.ndarray else g))
    return tuple(result)


# ---------------------------------------------------------------------- the backward pass
def _run(roots, seeds, retain, create, capture, only):
    """The backward pass over the graphs behind `roots`, seeded with `seeds`.

    grads: the pending gradient of each tensor, complete once the tensor is popped (every consumer
    is newer, so has already sent its part). Returns `shared`: the tensors whose gradient buffer may
    be shared with another tensor or the caller (not "owned": see `owned` in the loop), which must be copied
    before being handed out or written to."""
    grads, shared, uses, heap = {}, set(), {}, []
    for r, s in zip(roots, seeds):
        if create and not isinstance(s, Tensor):
            s = Tensor._leaf(s)
        if r in grads:
            _add_pending(grads, shared, uses, r, grads[r], s)
        else:
            grads[r] = s
            shared.add(r)  # the seed is the caller's
            heappush(heap, (-r._seq, r))
    to_leaf = capture is None and only is None and not create  # leaves may take gradients directly
    anomaly = MODES.anomaly
    if not retain:
        HOOKED_OR_FREED.last = next_seq()
    prev_mode, GRAD.enabled = GRAD.enabled, create
    try:
        while heap:
            t = heappop(heap)[1]                                  # the newest tensor: its gradient is complete
            g = grads.pop(t)
            if type(g) is not _ndarray and isinstance(g, LazyGrad):
                g = _dense(g)
            if t._hooks:
                g = _call_hooks(t, g, create)
                shared.add(t)
            if capture is not None and t in capture:
                capture[t] = g
            if t._op is None:                                     # a leaf: into .grad
                if capture is None and (only is None or t in only):
                    _accumulate(t, g, create, t in shared)
                continue
            out = apply_rules(t, g, create)                       # one gradient per input (None: not needed)
            if anomaly:
                _check_finite(t, out)
            moved = INPLACE.last > t._seq  # an input may have been updated in place since t used it
            for x, gx in zip(t._inputs, out):                     # send each gradient on
                if gx is None:
                    continue
                if moved and x._redirect is not None:
                    x = _before_inplace(x, t._seq)
                owned = gx is not g and type(gx) is _ndarray and gx.base is None
                if to_leaf and x._op is None and x._hooks is None:  # a plain leaf takes it at once (no heap trip)
                    if owned and x._grad is None:
                        x._grad = _leaf(gx)  # our own buffer: the first .grad without a copy
                    else:
                        _to_leaf(x, gx, owned, t._op.views and (t not in shared or any(t is r for r in roots)))
                    continue
                prev = grads.get(x)
                if prev is None:                                  # the first gradient for x: x is queued
                    grads[x] = gx
                    heappush(heap, (-x._seq, x))
                    if not owned:
                        shared.add(x)
                else:
                    _add_pending(grads, shared, uses, x, prev, gx)
            if not retain:
                t._ctx = FREED                                    # what the op saved goes
                if t._data.nbytes > _SMALL:
                    _release_value(t, uses.get(t, 1) + (t in shared))  # (the set holds a reference too)
    finally:
        GRAD.enabled = prev_mode
    return shared


def _before_inplace(x, seq):
    """The tensor that held x's value when the node numbered seq used it: a recorded in-place op gives x
    a new node (and creation number) and hands its earlier node to x._redirect."""
    while x._redirect is not None and seq < x._seq:
        x = x._redirect
    return x


def apply_rules(t, g, create=False, raw_shapes=None):
    """The gradients that t's op sends to its inputs, given g (the gradient flowing into t): the op's
    rules applied, each result summed back to its input's shape (`sum_to`, the one place broadcasting
    is undone) and cast to its dtype. A list with one entry per input, None where no gradient flows.
    Plain backward passes arrays; create_graph passes Tensors (and g as a Tensor), and the rules record.
    raw_shapes: an optional list that receives the shape of each gradient before it was summed (graphs)."""
    op, inputs, ctx = t._op, t._inputs, t._ctx
    if ctx is FREED:
        raise RuntimeError(FREED_MSG)
    if INPLACE.last > t._seq and op.reads:  # something was updated in place since this node was made
        _check_versions(t)
    if not create and op.joint is None:  # most ops, one or two inputs, unrolled: a loop costs more than the rule
        if len(inputs) == 2:
            x, y = inputs
            xd, yd = x._data, y._data
            gx = op.vjps[0](g, t._data, t._args, xd, yd) if x.requires_grad else None
            gy = op.vjps[1](g, t._data, t._args, xd, yd) if y.requires_grad else None
            if gx is not None and (gx.shape != xd.shape or gx.dtype is not xd.dtype):
                gx = _fit(gx, xd, raw_shapes, 0)
            if gy is not None and (gy.shape != yd.shape or gy.dtype is not yd.dtype):
                gy = _fit(gy, yd, raw_shapes, 1)
            return [gx, gy]
        if len(inputs) == 1:
            xd = inputs[0]._data  # (one input: it requires grad, or t would not have been recorded)
            gx = op.vjps[0](g, t._data, t._args, xd)
            return [gx if gx.shape == xd.shape and gx.dtype is xd.dtype else _fit(gx, xd, raw_shapes, 0)]
    if not create and len(inputs) == 1:  # a joint rule of one input (log_softmax, cross_entropy...), unrolled as well
        xd = inputs[0]._data
        gx = op.joint(g, t._data, t._args, ctx, _NEEDS_ONE, xd)[0]
        return [gx if gx is None or gx.shape == xd.shape and gx.dtype is xd.dtype else _fit(gx, xd, raw_shapes, 0)]
    vals, ans = (inputs, t) if create else ([x._data for x in inputs], t._data)
    args = t._args
    if op.joint is not None:
        return _joint_rule(op, g, ans, args, ctx, inputs, vals, raw_shapes)
    out = []
    for x, vjp in zip(inputs, op.vjps):
        if x.requires_grad:
            gx = vjp(g, ans, args, *vals)
            xd = x._data
            if gx.shape != xd.shape or gx.dtype is not xd.dtype:
                gx = _fit(gx, xd, raw_shapes, len(out))
            out.append(gx)
        else:
            out.append(None)
    return out


_NEEDS_ONE = (True,)  # (the one input of a recorded node requires grad)


def _joint_rule(op, g, ans, args, ctx, inputs, vals, raw_shapes):
    """apply_rules for a row with one rule for all its inputs (and maybe saved state in ctx)."""
    raw = op.joint(g, ans, args, ctx, tuple(x.requires_grad for x in inputs), *vals)
    out = []
    for x, gx in zip(inputs, raw):
        if gx is None or not x.requires_grad:  # (a joint rule may compute what nobody asked for)
            gx = None
        elif gx.shape != x._data.shape or gx.dtype is not x._data.dtype:
            gx = _fit(gx, x._data, raw_shapes, len(out))
        out.append(gx)
    out += [None] * (len(inputs) - len(out))
    return out


def _fit(gx, xd, raw_shapes=None, i=0):
    """A gradient made to fit its input: summed over broadcast dims, cast to the input's dtype. The
    shape before (for graphs) goes to raw_shapes[i] when a list is given."""
    if raw_shapes is not None:
        raw_shapes[i] = tuple(gx.shape)
    if gx.shape != xd.shape:
        gx = sum_to(gx, xd.shape)
    if gx.dtype != xd.dtype:
        if xd.dtype.kind not in "fc":  # (x.requires_grad = True set on an int tensor by hand)
            raise RuntimeError(f"backward: a tensor of dtype {xd.dtype} and shape {xd.shape} requires "
                               "grad, but only floating point tensors can have gradients; convert it "
                               "with .float() or .double()")
        gx = cast(gx, xd.dtype)
    return gx


def _dense(g):
    """A lazy gradient made whole before a rule or hook sees it (row-sparse ones stay for a leaf's .grad)."""
    if isinstance(g, LazyGrad) and not g.stays_sparse:
        return g.dense()
    return g


def _add_pending(grads, shared, uses, x, prev, gx):
    """A further gradient for x: added to the pending one (see _summed); the sum is the engine's own."""
    uses[x] = uses.get(x, 1) + 1
    grads[x] = _summed(prev, gx, x in shared)
    shared.discard(x)


def _summed(prev, gx, prev_shared):
    """prev + gx, always a buffer of the engine's own (so not shared): gx added into prev in place when prev
    is our own buffer (not shared: a fresh numpy result, not g passed through, not a view), lazily for lazy
    gradients."""
    if isinstance(gx, LazyGrad) or isinstance(prev, LazyGrad):
        return _add_lazy(prev, gx, prev_shared)
    if prev_shared or type(gx) is not np.ndarray or type(prev) is not np.ndarray:
        return prev + gx  # (also the create_graph case: Tensors, recorded)
    prev += gx  # our own buffer: accumulate in place
    return prev


def _add_lazy(prev, gx, prev_shared):
    """prev + gx where either is lazy: one buffer, lazy gradients added into it in place."""
    if isinstance(prev, LazyGrad):
        if prev.stays_sparse and isinstance(gx, LazyGrad) and gx.stays_sparse:
            return prev + gx  # row-sparse + row-sparse stays row-sparse
        buf = prev.dense()
    elif type(prev) is np.ndarray and not prev_shared:
        buf = prev  # our own buffer
    else:
        buf = np.array(prev, dtype=gx.dtype)
    if isinstance(gx, LazyGrad):
        return gx.add_into(buf)
    buf += gx
    return buf


def _to_leaf(x, gx, owned, may_borrow):
    """Deliver gx into the leaf x's .grad (the loop's own fast case aside: an owned buffer into an empty .grad).
    owned: gx is a buffer of the engine's that nothing else holds. may_borrow: gx comes from a row with
    `views=True` whose incoming gradient is the caller's (a root) or the engine's own (not shared)."""
    if x._grad is None and (owned or (may_borrow and _borrowable_view(gx))):
        x._grad = _leaf(gx)  # our own buffer or a safe view: the first .grad without a copy
    else:
        _accumulate(x, gx, False, not owned)


def _borrowable_view(gx):
    """True when a leaf may keep gx, a view of g (the gradient of a row with `views=True`, g not shared with
    any other tensor's gradient), as its .grad without a copy (PyTorch keeps such views too: a reshape's or
    cat's gradient costs no copy): gx must be a writeable row-major view. A later gradient for the leaf is
    added out of place (_accumulate: a view is never written into by the engine), so the caller's array is
    never changed by us."""
    return type(gx) is np.ndarray and gx.base is not None and gx.flags.c_contiguous and gx.flags.writeable


def _accumulate(t, g, create, is_shared):
    """Add a finished gradient into a leaf's .grad."""
    if create or type(g) is not _ndarray:
        return _accumulate_other(t, g, create)
    if t._grad is None:  # (a transposed view is copied tile by tile: copy_c)
        t._grad = _leaf((g.copy() if g.flags.c_contiguous else copy_c(g)) if is_shared else g)
        return
    old = t.grad._data if isinstance(t.grad, Tensor) else None
    if old is not None and old.base is None and old.flags.writeable and old.shape == g.shape \
            and old.dtype == g.dtype:  # (our own buffer: a view, as _to_leaf keeps, may be someone else's)
        old += g
        t.grad._bump()
    else:
        t.grad = t.grad + Tensor._leaf(g)


def _accumulate_other(t, g, create):
    """_accumulate for a gradient that is not a plain array: a Tensor (create_graph), a lazy gradient
    or a numpy scalar (numpy returns 0-d results as scalars)."""
    if isinstance(g, LazyGrad) and not g.stays_sparse:
        g = g.dense()  # (a fresh buffer: nobody else holds it)
        if not create:
            return _accumulate(t, g, False, False)
    if create:
        gt = g if isinstance(g, Tensor) else Tensor._leaf(g)
        t.grad = gt if t.grad is None else t.grad + gt
    elif isinstance(g, np.generic):  # .grad must be a Tensor of an array
        _accumulate(t, np.array(g), False, False)
    else:
        t.grad = g if t.grad is None else g + t.grad  # a row-sparse gradient: its __add__ takes a dense .grad


_SMALL = 1024  # bytes: smaller values are left in place (releasing them costs more than they weigh)


def _release_value(t, refs):
    """After t's rules ran without retain_graph (t._ctx is FREED: a second backward raises PyTorch's
    error), release t's value too when nothing but the graph refers to it. The node itself stays (op,
    inputs, shape, dtype, args): the graph can still be walked and drawn, as PyTorch's grad_fn chain
    can. `refs`: the references to t that are the engine's own besides _run's variable, this argument
    and getrefcount's argument (`_ENGINE_REFS`): one per consumer that sent t a gradient, one for the
    `shared` set. Any more (the user's variables) and the value is kept."""
    if sys.getrefcount(t) <= _ENGINE_REFS + refs:
        t._data = FreedValue.of(t._data)


def _count_refs(t):
    return sys.getrefcount(t)


def _probe():
    t = FreedValue()  # held by this frame's variable only, as t is in _run
    return _count_refs(t)


# The count getrefcount reports for an object held only by a caller's variable and passed on, measured
# rather than assumed (3 on CPython 3.11: the variable, the argument, getrefcount's own argument), so
# that an interpreter that counts local references differently cannot make us release a user's value.
_ENGINE_REFS = _probe()


def _check_versions(t):
    for x in (t,) + t._inputs:
        if x._version > t._seq:
            raise _modified(x, t._op)


def _modified(x, op):
    return RuntimeError(f"backward: a tensor of shape {x.shape} needed by the gradient of '{op.name}' was modified "
                        "in place after it was used (its version changed); compute with a copy "
                        "(x.clone()) or do the in-place update after backward")


# ---------------------------------------------------------------------- hooks
class _RemovableHandle:
    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self):
        if self.fn in self.hooks:
            self.hooks.remove(self.fn)


def register_hook(t, fn):
    """Register fn(grad) -> grad or None, called with t's total gradient during backward."""
    if not t.requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
    if t._hooks is None:
        t._hooks = []
    t._hooks.append(fn)
    HOOKED_OR_FREED.last = next_seq()
    return _RemovableHandle(t._hooks, fn)


def retain_grad(t):
    """Make a non-leaf keep its gradient in .grad after backward."""
    if t._op is None:
        return
    ref = weakref.ref(t)  # not t itself: t -> its hooks -> keep -> t would be a cycle that outlives backward

    def keep(g):
        s = ref()
        if s is not None:
            s.grad = g if s.grad is None else s.grad + g
    keep.retains_grad = True
    register_hook(t, keep)


def _call_hooks(t, g, create):
    for fn in list(t._hooks):
        gt = g if isinstance(g, Tensor) else Tensor._leaf(g.copy() if getattr(fn, "retains_grad", False) else g)
        r = fn(gt)
        if r is not None:
            if not isinstance(r, Tensor) or r.shape != t.shape:
                raise RuntimeError(f"hook: must return None or a tensor of shape {t.shape}, got {r!r:.60}")
            g = r if create else r._data
    return g


from .function import Function, FunctionCtx  # noqa: E402,F401  (its rule is run by the loop above)
from .backward_plan import PLANS  # noqa: E402  (plans call the helpers above)
