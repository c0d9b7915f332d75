"""Values no backward reads, released when the module call that made them returns.

PyTorch keeps alive after a forward only what its backward will read (each op's saved tensors): an
intermediate result nobody saved dies with the user's variable. Here a graph node is its Tensor, so
without this every intermediate value would live as long as the graph. When an `nn.Module`'s forward
returns, `release_unread(out, start)` walks the tensors made during the call (from the output back to
tensors made before it) and releases the value of each one that

* nothing but the graph refers to: the forward's local variables are gone (sys.getrefcount, the
  check autograd._release_value makes during backward),
* no rule that will run reads: a rule runs for each input that requires grad, and `value_reads`
  reads in its code which of its arguments it loads (the result `ans`, input j); an argument used
  only for its .shape, .dtype, .ndim or .size does not count (a FreedValue keeps those),
* has no hooks (retain_grad keeps the value shown) and no in-place history.

A released value becomes a `FreedValue` (shape and dtype: graphs draw it as freed, as after a
backward). `keep_graph()` (for teaching) keeps every value. A model written as plain functions
instead of Modules keeps its values until backward, as before.
"""
import dis
import inspect
import sys

from .autograd import _SMALL, UNREAD, FreedValue
from .autograd_modes import MODES
from .grad_mode import GRAD
from .ops import EachInput
from .tensor import Tensor

_SHAPE_ONLY = frozenset({"shape", "dtype", "ndim", "size"})
ALL = "all"  # an input set meaning every input (a rule that reads *inputs)


def value_reads(op):
    """What op's rules read: (one_rule, reads). reads holds one (reads_ans, inputs_read) per input (None
    where that input never gets a rule) or, when one_rule (a joint or variadic row), a single one that
    serves every input. inputs_read: a frozenset of input positions, or ALL."""
    if op.joint is not None:
        return True, (_reads(op.joint, first_input=5),)
    if isinstance(op.vjps, EachInput):
        return True, (_reads(op.vjps.rule, first_input=4, ans_at=2),)
    return False, tuple(None if v is None else _reads(v, first_input=3) for v in op.vjps)


def _reads(fn, first_input, ans_at=1):
    """(reads ans, inputs read) of a rule whose parameters are (..., ans at ans_at, ..., inputs from first_input)."""
    code = getattr(fn, "__code__", None)
    if code is None or inspect.ismethod(fn):
        return True, ALL  # not plain Python code we can read: assume it reads everything
    n = code.co_argcount
    names = code.co_varnames[:n]
    star = code.co_varnames[n + code.co_kwonlyargcount] if code.co_flags & inspect.CO_VARARGS else None
    used = _loaded_as_values(code)
    ans = len(names) > ans_at and names[ans_at] in used
    if star is not None and star in used:
        return ans, ALL
    return ans, frozenset(i - first_input for i in range(first_input, n) if names[i] in used)


def _loaded_as_values(code):
    """The local names the code loads other than to read .shape/.dtype/.ndim/.size (cells count as loaded:
    a nested function may read them)."""
    out = set(code.co_cellvars)
    ins = list(dis.get_instructions(code))
    for k, i in enumerate(ins):
        if i.opname.startswith("LOAD_FAST") or i.opname in ("LOAD_DEREF", "LOAD_CLOSURE"):
            nxt = ins[k + 1] if k + 1 < len(ins) else None
            if nxt is not None and nxt.opname == "LOAD_ATTR" and nxt.argval in _SHAPE_ONLY:
                continue
            out.update(i.argval if isinstance(i.argval, tuple) else (i.argval,))
    return out


def release_unread(out, start):
    """Release the values of the tensors made after creation number `start` that `out` (a Tensor, or a
    tuple / list / dict of them) depends on and that neither the user nor a backward rule needs."""
    if not GRAD.enabled or MODES.keep:
        return
    if type(out) is Tensor:
        if out._op is None or out._seq <= start or not _any_made_after(out._inputs, start):
            return  # (a module of one op, Linear, ReLU: no intermediate of its own)
        roots = [out]
    else:
        roots = [t for t in _tensors_in(out) if t._op is not None and t._seq > start]
    made, uses, needed = _walk(roots, start)
    for key, t in made.items():
        if key not in needed and t._hooks is None and t._redirect is None and t._version == 0 \
                and type(t._data) is not FreedValue and t._data.nbytes > _SMALL \
                and sys.getrefcount(t) <= _HELD + uses.get(key, 0):
            t._data = FreedValue.of(t._data, UNREAD)


def _any_made_after(inputs, start):
    """True when one of the inputs is a node made after `start` (a function: its loop variable must not
    outlive it, or it would count as a reference)."""
    for x in inputs:
        if x._seq > start and x._op is not None:
            return True
    return False


def _walk(roots, start):
    """The tensors made after `start` that roots depend on ({id: tensor}), how many times each tensor is
    an input of one of them ({id: count}), and the ids of the tensors their rules will read."""
    made, uses, needed = {}, {}, set()
    stack = roots
    while stack:
        t = stack.pop()
        if id(t) in made:
            continue
        made[id(t)] = t
        inputs = t._inputs
        for x in inputs:
            if x._seq > start and x._op is not None:  # (only these may be released: count their uses)
                uses[id(x)] = uses.get(id(x), 0) + 1
                stack.append(x)
        plan = _PLANS.get(t._op)
        for k, ans, which in (_plan(t._op) if plan is None else plan):
            if k >= 0 and not inputs[k].requires_grad:
                continue  # (that input's rule does not run)
            if ans:
                needed.add(id(t))
            for j in (range(len(inputs)) if which == ALL else which):
                if j < len(inputs):
                    needed.add(id(inputs[j]))
    return made, uses, needed


_PLANS = {}


def _plan(op):
    """value_reads(op) as the rules that read something, kept in _PLANS (read once per op): (input whose rule
    it is, or -1 for a rule that serves every input; reads ans; inputs read)."""
    one_rule, reads = value_reads(op)
    plan = _PLANS[op] = tuple((-1 if one_rule else k, ans, which) for k, r in enumerate(reads)
                              if r is not None for ans, which in (r,) if ans or which)
    return plan


def _tensors_in(out):
    """The tensors a forward returned: itself, or those in a tuple, list or dict (anything else: none,
    and nothing is released)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    return [t for t in out if isinstance(t, Tensor)] if isinstance(out, (tuple, list)) else []


def _probe():
    made = {0: object()}
    for key, t in made.items():
        return sys.getrefcount(t)


# The references release_unread's own frames hold to a tensor it checks (the `made` dict, the loop variable,
# getrefcount's argument), measured the same way rather than assumed, so that an interpreter counting
# differently cannot make us release a value the user still holds.
_HELD = _probe()
