"""Reverse-mode autodiff: the backward pass, `grad`, hooks, and the custom-op `Function` API.

The backward pass visits tensors from the newest to the oldest (by creation number `_seq`),
which is a topological order, using a heap instead of recursion, so graphs of any depth work.
Gradients wait in a dict until every consumer of a tensor has contributed; then its op's vjp
rules hand them on. Plain backward runs the rules on numpy arrays; `create_graph=True` runs the
same rules on Tensors with recording on, which gives gradients of gradients.
"""
import weakref
from heapq import heappop, heappush

import numpy as np

from .grad_mode import GRAD, no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from .ops import Op, EachInput, cast, sum_to
from .ops.movement import SliceGrad
from .tensor import Tensor
from .versions import INPLACE

__all__ = ["backward", "grad", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

FREED = ("backward: trying to backward through the graph a second time (its saved tensors were freed by "
         "the first backward); pass retain_graph=True to the first backward if you need to do this")


_leaf = Tensor._leaf
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


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of `tensor` with respect to every leaf that requires grad into
    the leaf's `.grad`. A non-scalar `tensor` needs `gradient` (same shape): the vector in the
    vector-Jacobian product. The graph's saved values are freed unless `retain_graph=True`."""
    if not tensor.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph behind it; "
                           "did you forget requires_grad=True on an input, or compute it under no_grad()?")
    if gradient is None:
        if tensor._data.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, this one has "
                               f"shape {tensor.shape}; pass gradient= (a tensor of that shape) or reduce it first")
        seed = _ONES.get(tensor._data.dtype)
        if seed is None or seed.shape != tensor.shape:
            seed = np.ones(tensor.shape, tensor.dtype)
    else:
        seed = _as_grad_array(gradient, tensor, "backward")
    only = None if inputs is None else set(inputs if isinstance(inputs, (list, tuple)) else [inputs])
    _run([tensor], [seed], create_graph if retain_graph is None else retain_graph, create_graph, None, only)


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
    shared = _run(roots, seeds, create_graph if retain_graph is None else retain_graph, create_graph, capture, None)
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
        elif type(g) is not np.ndarray and not isinstance(g, np.generic):  # a row-sparse gradient object
            result.append(Tensor._leaf(np.asarray(g, dtype=t.dtype)))        # grad() returns dense Tensors
        else:
            result.append(Tensor._leaf(np.array(g) if t in shared or type(g) is not np.ndarray else g))
    return tuple(result)


def _run(roots, seeds, retain, create, capture, only):
    """The backward pass over the graphs behind `roots`, seeded with `seeds`.

    Returns the set of tensors whose final gradient may be shared with another tensor (so a
    caller must copy before handing it out). A gradient is "owned" when it is a fresh numpy
    result: not the incoming g passed through, not a view; owned buffers are accumulated in place.
    """
    grads, shared, heap = {}, set(), []
    for r, s in zip(roots, seeds):
        if create and not isinstance(s, Tensor):
            s = Tensor._leaf(s)
        if r in grads:
            grads[r] = grads[r] + s
        else:
            grads[r] = s
            shared.add(r)
            heappush(heap, (-r._seq, r))
    # leaves without hooks take their gradient directly, without a trip through the heap
    direct = capture is None and only is None and not create
    capturing = capture is not None
    prev_mode = GRAD.enabled
    GRAD.enabled = create
    try:
        while heap:
            t = heappop(heap)[1]
            g = grads.pop(t)
            if type(g) is SliceGrad:  # the rules below need it whole
                g = g.dense()
            if t._hooks:
                g = _call_hooks(t, g, create)
                shared.add(t)
            op = t._op
            if capturing and t in capture:
                capture[t] = g
            if op is None:
                if capture is None and (only is None or t in only):
                    _accumulate(t, g, create, t in shared)
                continue
            inputs = t._inputs
            if inputs is None:
                raise RuntimeError(FREED)
            seq = t._seq
            if INPLACE.last > seq and op.reads:  # something was updated in place since this node was made
                _check_versions(t, seq)
            if create:
                vals, ans = inputs, t
            else:
                n = len(inputs)  # (unrolled: list(map(...)) costs 4x more for the usual one or two inputs)
                vals = (inputs[0]._data,) if n == 1 else (inputs[0]._data, inputs[1]._data) if n == 2 \
                    else [x._data for x in inputs]
                ans = t._data
            args = t._args
            for x, vjp in zip(inputs, op.vjps):
                if x._redirect is not None:  # x was updated in place after this node used it
                    x = _before_inplace(x, seq)
                if not x.requires_grad:
                    continue
                gx = vjp(g, ans, args, *vals)
                xd = x._data
                if gx.shape != xd.shape:
                    gx = sum_to(gx, xd.shape)
                if gx.dtype is not xd.dtype and gx.dtype != xd.dtype:
                    if xd.dtype.kind not in "fc":  # (x.requires_grad = True set on an int tensor by hand)
                        raise RuntimeError(f"backward: a tensor of dtype {xd.dtype} and shape {xd.shape} requires "
                                           "grad, but only floating point tensors can have gradients; convert it "
                                           "with .float() or .double()")
                    gx = cast(gx, xd.dtype)
                owned = gx is not g and type(gx) is np.ndarray and gx.base is None
                if direct and x._op is None and x._hooks is None:
                    if x.grad is None and owned:
                        x.grad = _leaf(gx)
                    else:
                        _accumulate(x, gx, False, not owned)
                    continue
                prev = grads.get(x)
                if prev is None:
                    grads[x] = gx
                    heappush(heap, (-x._seq, x))
                    if not owned:
                        shared.add(x)
                elif type(gx) is SliceGrad or type(prev) is SliceGrad:
                    grads[x] = _add_slices(prev, gx, x in shared)
                    shared.discard(x)
                elif create or x in shared or type(gx) is not np.ndarray or type(prev) is not np.ndarray:
                    grads[x] = prev + gx
                    shared.discard(x)
                else:
                    prev += gx  # our own buffer: accumulate in place
            if not retain:
                t._inputs = t._args = None  # (args may hold saved arrays: a Function's ctx, softmax probs)
    finally:
        GRAD.enabled = prev_mode
    return shared


def _before_inplace(x, seq):
    """The tensor that held x's value when the node numbered seq used it: a recorded in-place op gives x
    a new node (and creation number) and hands its earlier node to x._redirect."""
    while x._redirect is not None and seq < x._seq:
        x = x._redirect
    return x


def _add_slices(prev, gx, prev_shared):
    """prev + gx where either is a SliceGrad: one buffer, the slices added into it in place."""
    if type(prev) is SliceGrad:
        buf = prev.dense()
    elif type(prev) is np.ndarray and not prev_shared:
        buf = prev  # our own buffer
    else:
        buf = np.array(prev, dtype=gx.dtype)
    if type(gx) is SliceGrad:
        return gx.add_into(buf)
    buf += gx
    return buf


def _accumulate(t, g, create, is_shared):
    """Add a finished gradient into a leaf's .grad."""
    if type(g) is SliceGrad:
        g, is_shared = g.dense(), False
    if create:
        gt = g if isinstance(g, Tensor) else Tensor._leaf(g)
        t.grad = gt if t.grad is None else t.grad + gt
    elif type(g) is not np.ndarray:  # e.g. a row-sparse gradient object
        if isinstance(g, np.generic):  # numpy returns 0-d results as scalars: .grad must be a Tensor
            return _accumulate(t, np.array(g), False, False)
        t.grad = g if t.grad is None else g + t.grad  # g's __add__ handles a dense Tensor .grad
    elif t.grad is None:
        t.grad = Tensor._leaf(g.copy() if is_shared else g)
    else:
        old = t.grad._data if isinstance(t.grad, Tensor) else None
        if old is not None and old.flags.writeable and old.shape == g.shape and old.dtype == g.dtype:
            old += g
            t.grad._bump()
        else:
            t.grad = t.grad + Tensor._leaf(g)


def _check_versions(t, seq):
    for x in (t,) + t._inputs:
        if x._version > seq:
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


# ---------------------------------------------------------------------- custom ops
def _expands_to(small, shape):
    """True when `small` broadcasts to `shape` (a gradient of shape `shape` for an input of shape `small` is
    summed back by the engine, as PyTorch does)."""
    try:
        return np.broadcast_shapes(small, shape) == tuple(shape)
    except ValueError:
        return False


class FunctionCtx:
    """What `forward` leaves for `backward`: saved tensors and anything set as an attribute."""

    def __init__(self):
        self._saved, self._seq, self.needs_input_grad = (), 0, ()

    def save_for_backward(self, *tensors):
        """Save tensors for backward; modifying them in place afterwards is detected."""
        self._saved = tensors

    @property
    def saved_tensors(self):
        for t in self._saved:
            if isinstance(t, Tensor) and t._version > self._seq:
                raise RuntimeError("saved_tensors: a tensor saved for backward was modified in place since")
        return self._saved


class Function:
    """Define an op with your own forward and backward, as in torch.autograd.Function::

        class Cube(Function):
            @staticmethod
            def forward(ctx, x):            # x: Tensor; runs without recording
                ctx.save_for_backward(x)
                return x * x * x
            @staticmethod
            def backward(ctx, grad):        # grad: Tensor shaped like the output
                (x,) = ctx.saved_tensors
                return grad * 3 * x * x     # one gradient per forward argument (None for non-tensors)

        y = Cube.apply(x)
    """

    @classmethod
    def _rule(cls):
        op = cls.__dict__.get("_op")
        if op is None:
            def vjp(i, g, ans, ctx, *vals):
                if ctx._cache_key is not g:
                    gt = g if isinstance(g, Tensor) else Tensor._leaf(g)
                    out = cls.backward(ctx, gt)
                    out = out if isinstance(out, tuple) else (out,)
                    n = len(ctx.needs_input_grad)
                    if len(out) > n and all(r is None for r in out[n:]):
                        out = out[:n]  # extra Nones (for defaulted arguments) are fine, as in PyTorch
                    if len(out) > n:
                        raise RuntimeError(f"{cls.__name__}.backward returned {len(out)} gradients, but forward "
                                           f"took {len(ctx.needs_input_grad)} arguments (return one per argument, "
                                           "None for non-tensors)")
                    ctx._cache_key, ctx._cache = g, out
                r = ctx._cache[ctx._tensor_pos[i]] if ctx._tensor_pos[i] < len(ctx._cache) else None
                if r is None:
                    return np.zeros(vals[i].shape, vals[i].dtype) if not isinstance(g, Tensor) else vals[i] * 0
                shape = vals[i].shape
                if np.shape(r) != shape and not _expands_to(shape, np.shape(r)):  # bigger: summed back
                    raise RuntimeError(f"{cls.__name__}.backward returned a gradient of shape {np.shape(r)} for "
                                       f"argument {ctx._tensor_pos[i]} of shape {shape}; they must match")
                if isinstance(g, Tensor):
                    return r
                # a view: the user's array is not ours to accumulate into (the engine copies views it keeps)
                return (r._data if isinstance(r, Tensor) else np.asarray(r)).view()
            op = Op(cls.__name__, None, EachInput(vjp), "user-defined (autograd.Function)")
            cls._op = op
        return op

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        ctx._tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = tuple(args[i] for i in ctx._tensor_pos)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx._cache_key = None
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor, got {type(out).__name__}")
        ctx._seq = max([t._seq for t in tensors] + [0])
        req = any(t.requires_grad for t in tensors)
        return out._make(out._data, cls._rule(), tensors, ctx, req)

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must define backward(ctx, grad)")

