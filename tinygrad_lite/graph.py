"""A neutral, drawing-agnostic view of the computation graph behind a tensor.

`build_graph(root, ...)` walks the graph that produced `root` (usually a loss) ONCE, without
recursion (graphs of any depth work), and returns a `GraphView`:

* `view.tensors`: one `TensorNode` per tensor (leaves, intermediates, the root), ids `t0, t1, ...`
  numbered in walk order (a post-order walk from the root, inputs in argument order: every tensor
  comes after the tensors it was computed from). Ids never depend on `id()` or on the global
  creation counter, so the same program gives the same view.
* `view.ops`: one `OpNode` per recorded op (ids `op0, op1, ...`, same order), with its name, its
  forward formula, the op's `.math` text, its backward rule (whole and per input), what it saves and
  its inputs' names (all read from the op's registry row, the single source of these facts), its
  arguments as the user wrote them (`dim=-1`), its input tensor ids in argument order, its output
  tensor id, the step at which the backward pass visits it (the engine visits tensors in
  decreasing creation order `_seq`), the argument positions whose gradient is summed over
  broadcast dimensions, and (if asked) summaries of the gradient flowing in and out.

Names come from `params={name: tensor}` or `model=` (anything with `named_parameters()`, and
optionally `named_buffers()`/`named_modules()`), else from a tensor's own `.name`. Module
clusters: with `model=`, each op belongs to the innermost of the model's modules whose forward
call made it (nn.Module records its calls, `module_calls`; or pass `trace=` from trace_modules).
Without call records the module path of a parameter is its name without the last component
(`blocks.0.attn.c_attn.weight` -> `blocks.0.attn.c_attn`); an op then belongs to the deepest
module whose parameters it consumes directly, other ops to the longest common module path of the
nearest param-consuming ops upstream and downstream.

After a plain backward() the graph is still walked: the structure stays (as PyTorch's grad_fn
chain), the values that backward freed are marked (`TensorNode.value_freed`, `OpNode.freed`), and
gradients are shown where they were kept (leaves' .grad, retain_grad(), retain_graph=True, or
`autograd.keep_graph()`), marked `grad_freed` otherwise.
"""
from dataclasses import dataclass, field

import numpy as np

from .autograd import FREED, FreedValue
from .graph_modules import (ModuleTrace, _depth, _module_of_name, assign_modules,  # noqa: F401
                            constants_follow_consumers, trace_from_calls, trace_modules)
from .tensor import Tensor

__all__ = ["build_graph", "trace_modules", "ModuleTrace", "GraphView", "TensorNode", "OpNode", "Summary",
           "GraphFreedError", "summarize"]

class GraphFreedError(RuntimeError):
    """Kept for code that catches it: a graph is no longer an error to walk after backward (values the
    backward freed are marked as freed in the view instead)."""


def _fmt(v, digits=4):
    """A number in `digits` significant digits (compact, deterministic). Exact values drop trailing
    zeros (0.5); rounded ones keep them, so a rounded number never looks exact (1.100, not 1.1)."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    short = f"{v:.{digits}g}"
    if abs(float(short) - v) > 1e-6 * abs(v):  # rounded: keep its trailing zeros (-1.09981 -> -1.100, not
        return f"{v:#.{digits}g}".rstrip(".")   # -1.1, which would look exact); 0.1 in float32 stays 0.1
    return short


@dataclass
class Summary:
    """Numbers describing an array: the values themselves when tiny (<= 6 elements), else
    min/mean/max; always the L2 norm (floats) and NaN/Inf flags."""
    shape: tuple
    numel: int
    values: list = None
    min: float = None
    mean: float = None
    max: float = None
    norm: float = None
    has_nan: bool = False
    has_inf: bool = False

    @property
    def nonfinite(self):
        return self.has_nan or self.has_inf

    def text(self, norm=False):
        """One short line: `[0.5, -1]` or `min -1.2 mean 0.03 max 2.1` (+ NaN/Inf flags)."""
        if self.values is not None:
            s = "[" + ", ".join(_fmt(v) for v in self.values) + "]" if self.shape != () else _fmt(self.values[0])
        elif self.numel == 0:
            s = "empty"
        else:
            s = f"min {_fmt(self.min)} mean {_fmt(self.mean)} max {_fmt(self.max)}"
        if norm and self.norm is not None and self.values is None:
            s = f"‖·‖ {_fmt(self.norm)}  " + s
        flags = [f for f, on in (("NaN", self.has_nan), ("Inf", self.has_inf)) if on]
        if flags:
            s += "  (" + " & ".join(flags) + "!)"
        return s


def summarize(arr, tiny=6):
    """Summary of a numpy array (or Tensor / gradient object with `_data`/`toarray`)."""
    if isinstance(arr, Tensor):
        arr = arr._data
    elif not isinstance(arr, np.ndarray):
        if hasattr(arr, "toarray"):
            arr = arr.toarray()
        elif hasattr(arr, "_data"):
            arr = arr._data
        arr = np.asarray(arr)
    s = Summary(tuple(arr.shape), int(arr.size))
    if arr.dtype.kind in "fc":
        with np.errstate(all="ignore"):
            finite = np.isfinite(arr)
            if not finite.all():
                s.has_nan = bool(np.isnan(arr).any())
                s.has_inf = bool(np.isinf(arr).any())
            a64 = arr.astype(np.float64)
            if arr.size:
                fin = a64[finite] if (s.has_nan or s.has_inf) else a64
                s.norm = float(np.sqrt(np.sum(np.square(a64)))) if not s.nonfinite else float("nan")
                if fin.size:
                    s.min, s.mean, s.max = float(fin.min()), float(fin.mean()), float(fin.max())
                    # a mean that is rounding noise next to the data's scale is shown as 0 (stable text)
                    if abs(s.mean) <= 1e-6 * max(abs(s.min), abs(s.max)):
                        s.mean = 0.0
    elif arr.size:
        s.min, s.max = arr.min().item(), arr.max().item()
        s.mean = float(np.mean(arr)) if arr.dtype.kind != "b" else float(arr.mean())
    if arr.size <= tiny:
        s.values = [v.item() if hasattr(v, "item") else v for v in arr.reshape(-1)]
    return s


@dataclass
class TensorNode:
    """A tensor in the view. kind: parameter | input | constant | output | intermediate."""
    id: str
    index: int
    shape: tuple
    dtype: str
    kind: str
    name: str = None
    module: str = None
    requires_grad: bool = False
    producer: str = None                              # id of the op that made it (None for leaves)
    consumers: list = field(default_factory=list)     # [(op id, argument position)] in walk order
    value: Summary = None                             # filled when values=True
    grad: Summary = None                              # total gradient, when grads=True
    has_nan: bool = False
    has_inf: bool = False
    seq: int = 0                                      # the engine's creation number (backward order)
    tensor: Tensor = field(default=None, repr=False, compare=False)
    value_freed: bool = False                         # its value was released (nothing else held it)
    freed_why: str = ""                               # by whom: autograd.BY_BACKWARD or UNREAD
    grad_freed: bool = False                          # grads asked for, but its gradient was not kept

    @property
    def nonfinite(self):
        return self.has_nan or self.has_inf

    @property
    def grad_uses(self):
        """How many op inputs send a gradient back into this tensor (>1: they accumulate)."""
        return len(self.consumers) if self.requires_grad else 0

    @property
    def accumulates(self):
        """True when several gradients are added up into this tensor."""
        return self.grad_uses > 1

    @property
    def is_scalar_constant(self):
        return self.kind == "constant" and self.name is None and int(np.prod(self.shape)) == 1


@dataclass
class OpNode:
    """A recorded op: inputs are tensor ids in argument order; `backward_step` is 1 for the op
    the backward pass runs first. `broadcast` lists argument positions whose gradient is summed
    over broadcast dimensions; `grad_out[i]` summarises the gradient this op sends to input i
    (None where no gradient flows), `grad_out_raw_shape[i]` its shape before that sum."""
    id: str
    index: int
    name: str
    math: str
    rule: str
    inputs: list
    output: str
    args: str = ""
    module: str = None
    backward_step: int = 0
    broadcast: list = field(default_factory=list)
    saved: tuple = ()
    input_names: tuple = ()                           # the inputs' names in the rule (x, y / A, B ...)
    forward: str = ""                                 # the forward formula in those names (x * y)
    input_rules: tuple = ()                           # each input's gradient formula from the rule (None: none)
    symbols: dict = field(default_factory=dict)       # the rule's other symbols and their meaning
    freed: bool = False                               # a backward without retain_graph freed what it saved
    grad_in: Summary = None
    grad_out: list = None
    grad_out_raw_shape: list = None


@dataclass
class GraphView:
    """The walked graph: tensors and ops in walk order, plus lookup helpers."""
    tensors: list
    ops: list
    root: str
    modules: dict = field(default_factory=dict)   # module path -> class name ('' if unknown)
    grads_computed: bool = False

    def __post_init__(self):
        self._t = {n.id: n for n in self.tensors}
        self._o = {n.id: n for n in self.ops}

    def tensor(self, tid):
        """The TensorNode with this id."""
        return self._t[tid]

    def op(self, oid):
        """The OpNode with this id."""
        return self._o[oid]

    def node_of(self, t):
        """The TensorNode of a Tensor object in this graph (None if absent)."""
        for n in self.tensors:
            if n.tensor is t:
                return n
        return None

    def backward_order(self):
        """Op nodes in the order the backward pass visits them (step 1 first)."""
        return sorted(self.ops, key=lambda o: o.backward_step)

    def __len__(self):
        return len(self.tensors) + len(self.ops)

    def as_dict(self):
        """The view as plain JSON-serialisable data (for other front ends): {'root', 'modules',
        'tensors': [...], 'ops': [...]} with summaries as dicts and shapes as lists."""
        def summ(s):
            if s is None:
                return None
            d = dict(s.__dict__)
            d["shape"] = list(s.shape)
            return d

        tensors = [{"id": n.id, "kind": n.kind, "name": n.name, "module": n.module, "shape": list(n.shape),
                    "dtype": n.dtype, "requires_grad": n.requires_grad, "producer": n.producer,
                    "consumers": [list(c) for c in n.consumers], "grad_uses": n.grad_uses,
                    "has_nan": n.has_nan, "has_inf": n.has_inf, "value": summ(n.value), "grad": summ(n.grad)}
                   for n in self.tensors]
        ops = [{"id": o.id, "name": o.name, "forward": o.forward, "math": o.math, "rule": o.rule,
                "input_rules": list(o.input_rules), "inputs": list(o.inputs),
                "output": o.output, "args": o.args, "module": o.module, "backward_step": o.backward_step,
                "broadcast": list(o.broadcast), "saved": list(o.saved), "grad_in": summ(o.grad_in),
                "grad_out": None if o.grad_out is None else [summ(g) for g in o.grad_out]}
               for o in self.ops]
        return {"root": self.root, "modules": dict(self.modules), "tensors": tensors, "ops": ops}


def _short_args(op_name, args):
    """A short, deterministic text for an op's non-tensor arguments, dims as the user wrote them."""
    if args is None or op_name in ("cat",):
        return ""
    if op_name in ("sum", "amax", "amin", "logsumexp", "prod"):
        axes, keep = args
        if axes is None:
            return ""
        written = getattr(axes, "written", None)  # the dims as the user wrote them (tensor_args.Dims)
        shown = written if written is not None else axes[0] if len(axes) == 1 else tuple(axes)
        return f"dim={shown}" + (", keepdim" if keep else "")
    if op_name in ("softmax", "log_softmax", "cumsum"):
        return f"dim={args}"
    if op_name in ("reshape", "expand"):
        return str(tuple(args))
    if op_name == "permute":
        return str(tuple(int(a) for a in args))
    if op_name == "pow_scalar":
        return f"p={_fmt(args)}"
    if op_name == "clamp":
        return f"[{args[0]}, {args[1]}]"
    if op_name == "cast":
        return str(np.dtype(args))
    if op_name == "getitem":
        items = args if isinstance(args, tuple) else (args,)
        parts = []
        for it in items:
            if isinstance(it, slice):
                parts.append(f"{'' if it.start is None else it.start}:{'' if it.stop is None else it.stop}"
                             + ("" if it.step is None else f":{it.step}"))
            elif it is None:
                parts.append("None")
            elif it is Ellipsis:
                parts.append("...")
            elif isinstance(it, np.ndarray):
                parts.append(str(it.tolist()) if it.size <= 4 and it.ndim <= 1 else f"<{it.dtype} {tuple(it.shape)}>")
            else:
                parts.append(repr(it))
        return "[" + ", ".join(parts) + "]"
    return ""


def _collect_names(model, params):
    names, buffers, modules = {}, set(), {}
    if model is not None:
        if hasattr(model, "named_modules"):
            for path, m in model.named_modules():
                modules[path] = type(m).__name__
        if hasattr(model, "named_parameters"):
            for n, p in model.named_parameters():
                names.setdefault(id(p), n)
        if hasattr(model, "named_buffers"):
            for n, b in model.named_buffers():
                if isinstance(b, Tensor):
                    names.setdefault(id(b), n)
                    buffers.add(id(b))
    if params is not None:
        items = params.items() if hasattr(params, "items") else params
        for n, p in items:
            names[id(p)] = n
    return names, buffers, modules


def _walk(root):
    """Post-order iterative DFS: every tensor after its inputs, inputs in argument order."""
    order, seen = [], {id(root): root}
    stack = [(root, 0)]
    while stack:
        t, i = stack.pop()
        ins = t._inputs if t._op is not None else ()
        while i < len(ins) and id(ins[i]) in seen:
            i += 1
        if i < len(ins):
            stack.append((t, i + 1))
            child = ins[i]
            seen[id(child)] = child
            stack.append((child, 0))
        else:
            order.append(t)
    return order


def build_graph(root, model=None, params=None, values=False, grads=False, tiny=6, trace=None):
    """Walk the graph behind `root` and return a GraphView.

    root:   the tensor to start from (usually a scalar loss; any tensor works).
    model:  optional module with `named_parameters()` (and `named_buffers()`, `named_modules()`)
            to name parameters (`blocks.0.attn.c_attn.weight`) and derive module paths.
    params: optional {name: tensor} (or (name, tensor) pairs) to name tensors; overrides model.
    values: summarise every tensor's values (numbers when <= `tiny` elements, else min/mean/max).
    grads:  summarise gradients: leaves show `.grad` when set; while the graph's values are kept
            (before backward, retain_graph=True, keep_graph()) every other tensor's gradient and each
            op's per-input contribution are computed with the engine's own `autograd.grad` and
            `autograd.apply_rules` (no `.grad` is modified, hooks are not called; a non-scalar root
            is seeded with ones). After a plain backward: `.grad` where it was kept (leaves,
            retain_grad()), `grad_freed` elsewhere.
    trace:  a ModuleTrace from `trace_modules(model)`; by default the calls nn.Module recorded
            (`module_calls`) group the ops by the module whose forward made them.
    """
    order = _walk(root)
    names, buffers, module_classes = _collect_names(model, params)
    idx = {id(t): i for i, t in enumerate(order)}
    tnodes, onodes, op_of = [], [], {}
    dtype_names = {}
    err = np.seterr(all="ignore")
    try:
        _make_nodes(order, root, names, buffers, idx, tnodes, onodes, op_of, dtype_names, values, tiny)
    finally:
        np.seterr(**err)
    _finish(tnodes, onodes, op_of)
    if trace is None and model is not None and hasattr(model, "named_modules"):
        trace = trace_from_calls(model, tnodes)
    if trace is not None:
        for o in onodes:
            m = trace.module_at(tnodes[int(o.output[1:])].seq)
            if m is not None or not any(tnodes[int(i[1:])].kind == "parameter" for i in o.inputs):
                o.module = m
        module_classes = {**trace.classes, **module_classes}
        for n in tnodes:
            if n.producer is not None:
                n.module = op_of[n.id].module
        constants_follow_consumers(tnodes, onodes)
    modules = {}
    for n in list(tnodes) + list(onodes):
        m = n.module
        while m:
            modules.setdefault(m, module_classes.get(m, ""))
            m = _module_of_name(m) if "." in m else ""
    view = GraphView(tnodes, onodes, tnodes[-1].id, dict(sorted(modules.items())))
    if grads:
        _compute_grads(view, root, order, tiny)
    return view


def _make_nodes(order, root, names, buffers, idx, tnodes, onodes, op_of, dtype_names, values, tiny):
    for i, t in enumerate(order):
        leaf = t._op is None
        name = names.get(id(t)) or (t.name if isinstance(t.name, str) else None)
        if t is root:
            kind = "output"
        elif not leaf:
            kind = "intermediate"
        elif t.requires_grad:  # a leaf that requires grad: a parameter unless model/params say otherwise
            kind = "parameter" if not names or id(t) in names else "input"
        elif id(t) in buffers or t._data.dtype.kind == "b" or (t._data.size == 1 and name is None):
            kind = "constant"
        else:
            kind = "input"
        dt = t._data.dtype
        dname = dtype_names.get(dt)
        if dname is None:
            dname = dtype_names[dt] = str(dt)
        n = TensorNode(f"t{i}", i, t._data.shape, dname, kind, name, None, bool(t.requires_grad),
                       seq=t._seq, tensor=t)
        if id(t) in names and (kind == "parameter" or id(t) in buffers):
            n.module = _module_of_name(names[id(t)])
        if type(t._data) is FreedValue:
            n.value_freed, n.freed_why = True, t._data.reason
        else:
            if dt.kind in "fc" and not np.isfinite(t._data).all():
                n.has_nan = bool(np.isnan(t._data).any())
                n.has_inf = bool(np.isinf(t._data).any())
            if values:
                n.value = summarize(t._data, tiny)
        tnodes.append(n)
        if not leaf:
            op = t._op
            o = OpNode(f"op{len(onodes)}", len(onodes), op.name, op.math or "", op.rule or op.math or "",
                       [f"t{idx[id(x)]}" for x in t._inputs], n.id, _short_args(op.name, t._args),
                       saved=op.saves, input_names=op.input_names(len(t._inputs)), freed=t._ctx is FREED,
                       symbols=getattr(op, "symbols", None) or {}, forward=op.forward,
                       input_rules=op.input_rules(len(t._inputs)))
            n.producer = o.id
            for pos, x in enumerate(t._inputs):
                tnodes[idx[id(x)]].consumers.append((o.id, pos))
            if t._op.broadcasts:
                o.broadcast = [p for p, x in enumerate(t._inputs) if x.requires_grad and tuple(x.shape) != n.shape]
            elif t._op.name == "matmul":
                o.broadcast = _matmul_broadcast(t)
            o.broadcast = sorted(set(o.broadcast) | set(_fused_reductions(t)))
            onodes.append(o)
            op_of[n.id] = o


def _finish(tnodes, onodes, op_of):
    # backward visiting order: decreasing creation number of the op's output
    for step, o in enumerate(sorted(onodes, key=lambda o: -tnodes[int(o.output[1:])].seq), 1):
        o.backward_step = step
    assign_modules(tnodes, onodes)
    for n in tnodes:
        if n.producer is not None:
            n.module = op_of[n.id].module


def _matmul_broadcast(t):
    a, b = t._inputs
    out = t.shape
    if a.ndim >= 2 and b.ndim >= 2:
        ob = out[:-2]
    else:
        ob = out[:-1] if (a.ndim >= 2 or b.ndim >= 2) else ()
    res = []
    for p, x in enumerate((a, b)):
        xb = tuple(x.shape[:-2]) if x.ndim >= 2 else ()
        if x.requires_grad and xb != tuple(ob):
            res.append(p)
    return res


def _fused_reductions(t):
    """Inputs whose gradient a fused rule sums over the batch itself (linear's bias, layer norm's
    weight and bias; linear's weight when the input has batch dims beyond one matrix)."""
    name, ins = t._op.name, t._inputs
    out = []
    if name in ("linear", "linear_nobias"):
        if ins[0].ndim > 2 and ins[1].requires_grad:
            out.append(1)
        if name == "linear" and len(ins) == 3 and ins[2].requires_grad and t._data.size > ins[2]._data.size:
            out.append(2)
    elif name in ("layer_norm", "layer_norm_nobias"):
        out = [i for i in range(1, len(ins)) if ins[i].requires_grad and t._data.size > ins[i]._data.size]
    return out


def total_gradients(root, order):
    """{id(t): d root / d t (a Tensor, or None where root does not depend on t)} for each tensor of
    `order` that requires grad, by autograd.grad on the retained graph (a non-scalar root is seeded
    with ones). Hooks are not called and no `.grad` is touched: looking must not change anything."""
    from .autograd import grad as _grad
    targets = [t for t in order if t.requires_grad]
    saved_hooks = [t._hooks for t in order]
    for t in order:
        t._hooks = None
    try:
        seed = None if root._data.size == 1 else Tensor._leaf(np.ones(root.shape, root.dtype))
        totals = _grad(root, targets, grad_outputs=seed, retain_graph=True, allow_unused=True)
    finally:
        for t, h in zip(order, saved_hooks):
            t._hooks = h
    return {id(t): g for t, g in zip(targets, totals)}


def _compute_grads(view, root, order, tiny):
    """Gradients for the view. While the graph's values are kept: the total gradient of root w.r.t. every
    tensor (autograd.grad on the retained graph), then each op's contribution to each input with the
    engine's own `apply_rules`. After a plain backward: the gradients that were kept (.grad)."""
    from .autograd import grad as _grad, apply_rules
    from .grad_mode import no_grad
    view.grads_computed = True
    if not root.requires_grad:
        return
    if any(t._op is not None and t._ctx is FREED for t in order):
        for n, t in zip(view.tensors, order):
            if t.grad is not None:
                n.grad = summarize(t.grad, tiny)
            elif t is root:  # the seed: d root / d root = 1
                n.grad = summarize(np.ones(root.shape, root.dtype), tiny)
            elif t.requires_grad:
                n.grad_freed = True
        return
    total = total_gradients(root, order)
    for n, t in zip(view.tensors, order):
        g = total.get(id(t))
        if t._op is None and t.grad is not None:
            n.grad = summarize(t.grad, tiny)
        elif g is not None:
            n.grad = summarize(g._data, tiny)
    with no_grad():
        for o in view.ops:
            t = order[int(o.output[1:])]
            g = total.get(id(t))
            if g is None:
                continue
            o.grad_in = summarize(g._data, tiny)
            raw = [None] * len(t._inputs)
            try:
                outs = apply_rules(t, g._data, raw_shapes=raw)
            except Exception:  # a user-defined rule that cannot run twice: show each input's total
                outs = [total.get(id(x)) for x in t._inputs]
                outs = [None if gx is None else gx._data for gx in outs]
            o.grad_out = [None if gx is None else summarize(gx, tiny) for gx in outs]
            o.grad_out_raw_shape = [None if gx is None else (raw[i] or tuple(x.shape))
                                    for i, (x, gx) in enumerate(zip(t._inputs, outs))]
            # exact broadcast marks from the rules themselves
            o.broadcast = sorted({i for i, r in enumerate(raw) if r is not None and r != tuple(t._inputs[i].shape)}
                                 | set(_fused_reductions(t)))
