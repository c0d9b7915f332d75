"""A neutral, drawing-agnostic view of the computation graph behind a tensor.

`build_graph(root, ...)` walks the graph that produced `root` (usually a loss) ONCE, without
recursion (graphs of any depth work), and returns a `GraphView`:

* `view.tensors`: one `TensorNode` per tensor (leaves, intermediates, the root), ids `t0, t1, ...`
  numbered in walk order (a post-order walk from the root, inputs in argument order: every tensor
  comes after the tensors it was computed from). Ids never depend on `id()` or on the global
  creation counter, so the same program gives the same view.
* `view.ops`: one `OpNode` per recorded op (ids `op0, op1, ...`, same order), with its name, the
  op's `.math` text, a readable backward rule, its input tensor ids in argument order, its output
  tensor id, the step at which the backward pass visits it (the engine visits tensors in
  decreasing creation order `_seq`), the argument positions whose gradient is summed over
  broadcast dimensions, and (if asked) summaries of the gradient flowing in and out.

Names come from `params={name: tensor}` or `model=` (anything with `named_parameters()`, and
optionally `named_buffers()`/`named_modules()`), else from a tensor's own `.name`. The module path
of a parameter is its name without the last component (`blocks.0.attn.c_attn.weight` ->
`blocks.0.attn.c_attn`); an op belongs to the deepest module whose parameters it consumes
directly; other ops get the longest common module path of the nearest param-consuming ops
upstream and downstream (falling back to the downstream one), so layer-norm statistics land
in their layer norm and attention scores in their attention block.
"""
from dataclasses import dataclass, field

import numpy as np

from .tensor import Tensor

__all__ = ["build_graph", "trace_modules", "ModuleTrace", "GraphView", "TensorNode", "OpNode", "Summary", "GraphFreedError", "RULES",
           "ARG_NAMES", "SAVED", "summarize"]

FREED_MSG = ("the graph behind this tensor was freed by backward(), so it cannot be walked; call "
             "loss.backward(retain_graph=True) before drawing gradients, or draw before backward")


class GraphFreedError(RuntimeError):
    """The graph was freed by a backward pass without retain_graph=True."""


# Readable backward rule per op name, written with dC for the gradient flowing into the op's result.
RULES = {
    "add": "dx = dC, dy = dC",
    "sub": "dx = dC, dy = -dC",
    "mul": "dx = dC * y, dy = dC * x",
    "div": "dx = dC / y, dy = -dC * x / y²",
    "pow": "dx = dC * y * x^(y-1), dy = dC * x^y * log x",
    "pow_scalar": "dx = dC * p * x^(p-1)",
    "maximum": "dx = dC * [x > y], dy = dC * [y > x] (ties split)",
    "minimum": "dx = dC * [x < y], dy = dC * [y < x] (ties split)",
    "neg": "dx = -dC",
    "exp": "dx = dC * exp(x)",
    "log": "dx = dC / x",
    "sqrt": "dx = dC / (2 sqrt(x))",
    "abs": "dx = dC * sign(x)",
    "tanh": "dx = dC * (1 - tanh(x)²)",
    "sigmoid": "dx = dC * σ(x) * (1 - σ(x))",
    "relu": "dx = dC * [x > 0]",
    "clamp": "dx = dC * [lo ≤ x ≤ hi]",
    "where": "dx = where(c, dC, 0), dy = where(c, 0, dC)",
    "cast": "dx = cast(dC, x.dtype)",
    "matmul": "dA = dC @ Bᵀ, dB = Aᵀ @ dC",
    "sum": "dx = dC broadcast back to x's shape",
    "amax": "dx = dC at the maximum positions (shared among ties)",
    "amin": "dx = dC at the minimum positions (shared among ties)",
    "logsumexp": "dx = dC * softmax(x)",
    "softmax": "dx = s * (dC - Σ(dC * s)), s = softmax(x)",
    "log_softmax": "dx = dC - softmax(x) * Σ dC",
    "reshape": "dx = reshape(dC, x.shape)",
    "permute": "dx = permute(dC, inverse axes)",
    "expand": "dx = Σ dC over the expanded dims",
    "getitem": "dx = zeros(x.shape) with dC added at the index (repeats accumulate)",
    "index_scatter": "dx = dC[index]",
    "cat": "dxᵢ = the slice of dC that xᵢ occupied",
    "linear": "C = x Wᵀ + b: dx = dC @ W, dW = dCᵀ @ x, db = Σ dC over the batch",
    "linear_nobias": "C = x Wᵀ: dx = dC @ W, dW = dCᵀ @ x",
    "embedding": "dW = zeros(W.shape) with the rows of dC added at the indices (repeats accumulate)",
    "cross_entropy_idx": "dx = (softmax(x) - onehot(target)) * dC  (per row, with the reduction's weights)",
    "gelu": "dx = dC * (Φ(x) + x φ(x))",
    "logsigmoid": "dx = dC * σ(-x)",
    "erf": "dx = dC * 2/√π exp(-x²)",
    "layer_norm": "dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / σ with dx̂ = dC w; dw = Σ dC x̂, db = Σ dC",
    "layer_norm_nobias": "dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / σ with dx̂ = dC w; dw = Σ dC x̂",
    "masked_softmax": "dx = scale * s * (dC - Σ dC s), s = softmax(scale x) (hidden entries get 0)",
}

# Names of the inputs as the rules above call them.
ARG_NAMES = {"matmul": ("A", "B"), "where": ("c", "x", "y"), "linear": ("x", "W", "b"),
             "linear_nobias": ("x", "W"), "embedding": ("W",), "layer_norm": ("x", "w", "b"),
             "layer_norm_nobias": ("x", "w")}
_BINARY = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"}
for _n in _BINARY:
    ARG_NAMES[_n] = ("x", "y")

# What each op keeps for its backward rule (teaching aid for memory use).
SAVED = {
    "add": (), "sub": (), "neg": (), "reshape": (), "permute": (), "expand": (), "cat": (), "sum": ("x.shape",),
    "mul": ("x", "y"), "div": ("x", "y"), "pow": ("x", "y", "result"), "pow_scalar": ("x",),
    "maximum": ("x", "y"), "minimum": ("x", "y"), "exp": ("result",), "log": ("x",), "sqrt": ("result",),
    "abs": ("x",), "tanh": ("result",), "sigmoid": ("result",), "relu": ("result",), "clamp": ("x",),
    "where": ("c",), "cast": (), "matmul": ("A", "B"), "amax": ("x", "result"), "amin": ("x", "result"),
    "logsumexp": ("x", "result"), "softmax": ("result",), "log_softmax": ("result",), "getitem": ("index",),
    "index_scatter": ("index",), "linear": ("x", "W"), "linear_nobias": ("x", "W"), "embedding": ("index",),
    "cross_entropy_idx": ("softmax(x)",), "layer_norm": ("x̂", "σ", "w"), "layer_norm_nobias": ("x̂", "σ", "w"),
    "masked_softmax": ("result",), "gelu": ("x",), "logsigmoid": ("x",), "erf": ("x",),
}

# Ops whose gradient the engine sums back over broadcast dims when input and output shapes differ.
_BROADCASTING = _BINARY | {"where", "expand"}


def arg_names(op_name, n):
    """The names of an op's n inputs as used in its rule (x, y / A, B / x0, x1, ...)."""
    names = ARG_NAMES.get(op_name)
    if names is not None and len(names) == n:
        return names
    if n == 1:
        return ("x",)
    return tuple(f"x{i}" for i in range(n))


def _fmt(v):
    """A number in 4 significant digits (compact, deterministic)."""
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
    return f"{v:.4g}"


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
        ops = [{"id": o.id, "name": o.name, "math": o.math, "rule": o.rule, "inputs": list(o.inputs),
                "output": o.output, "args": o.args, "module": o.module, "backward_step": o.backward_step,
                "broadcast": list(o.broadcast), "saved": list(o.saved), "grad_in": summ(o.grad_in),
                "grad_out": None if o.grad_out is None else [summ(g) for g in o.grad_out]}
               for o in self.ops]
        return {"root": self.root, "modules": dict(self.modules), "tensors": tensors, "ops": ops}


class ModuleTrace:
    """Which module was running when each tensor was made: a list of (path, start, end) intervals
    of the engine's creation counter, recorded by `trace_modules`. Pass it as `trace=`."""

    def __init__(self):
        self.intervals = []   # (path, start_seq, end_seq), in call order
        self.classes = {}

    def module_at(self, seq):
        """The deepest (innermost) module whose forward was running when tensor `seq` was made."""
        best, width = None, None
        for path, a, b in self.intervals:
            if a < seq < b and (width is None or b - a < width):
                best, width = path, b - a
        return best


class trace_modules:
    """Context manager recording module forward calls, for exact module grouping::

        with trace_modules(model) as trace:
            loss = model(x, y)
        draw_graph(loss, model=model, trace=trace)

    Uses forward pre/post hooks of every module from `model.named_modules()` (removed on exit)."""

    def __init__(self, model):
        self.model, self.trace, self._handles = model, ModuleTrace(), []

    def __enter__(self):
        from .versions import next_seq
        tr = self.trace
        for path, m in self.model.named_modules():
            if not path or not hasattr(m, "register_forward_hook"):
                continue
            tr.classes[path] = type(m).__name__
            starts = []

            def pre(mod, args, _s=starts):
                _s.append(next_seq())

            def post(mod, args, out, _s=starts, _p=path):
                tr.intervals.append((_p, _s.pop(), next_seq()))

            self._handles.append(m.register_forward_pre_hook(pre))
            self._handles.append(m.register_forward_hook(post))
        return tr

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        return False


def _module_of_name(name):
    return name.rsplit(".", 1)[0] if "." in name else ""


def _lcp(a, b):
    """Longest common module path of two dotted paths (None means 'no information')."""
    if a is None:
        return b
    if b is None:
        return a
    if a == b:
        return a
    pa, pb = a.split(".") if a else [], b.split(".") if b else []
    out = []
    for x, y in zip(pa, pb):
        if x != y:
            break
        out.append(x)
    return ".".join(out)


def _depth(path):
    return 0 if not path else path.count(".") + 1


def _short_args(op_name, args):
    """A short, deterministic text for an op's non-tensor arguments."""
    if args is None or op_name in ("cat",):
        return ""
    if op_name in ("sum", "amax", "amin", "logsumexp"):
        axes, keep = args
        return "" if axes is None else f"dim={axes[0] if len(axes) == 1 else axes}" + (", keepdim" if keep else "")
    if op_name in ("softmax", "log_softmax"):
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
        if t._op is not None and t._inputs is None:
            raise GraphFreedError(FREED_MSG)
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
    grads:  summarise gradients: leaves show `.grad` when set; every other tensor's gradient (and
            each op's per-input contribution) is computed by running the backward rules on the
            retained graph with `autograd.grad` (no `.grad` is modified, hooks are not called).
            A non-scalar root is seeded with ones.
    trace:  a ModuleTrace from `trace_modules(model)`: ops are then grouped by the module whose
            forward made them (exact), instead of being derived from parameter names.
    Raises GraphFreedError if the graph was freed by backward() without retain_graph=True.
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
    if trace is not None:
        for o in onodes:
            m = trace.module_at(tnodes[int(o.output[1:])].seq)
            if m is not None or not any(tnodes[int(i[1:])].kind == "parameter" for i in o.inputs):
                o.module = m
        module_classes = {**trace.classes, **module_classes}
        for n in tnodes:
            if n.producer is not None:
                n.module = op_of[n.id].module
        _constants_follow_consumers(tnodes, onodes)
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
        if dt.kind in "fc" and not np.isfinite(t._data).all():
            n.has_nan = bool(np.isnan(t._data).any())
            n.has_inf = bool(np.isinf(t._data).any())
        if values:
            n.value = summarize(t._data, tiny)
        tnodes.append(n)
        if not leaf:
            o = OpNode(f"op{len(onodes)}", len(onodes), t._op.name, t._op.math or "",
                       RULES.get(t._op.name) or t._op.math or "", [f"t{idx[id(x)]}" for x in t._inputs], n.id,
                       _short_args(t._op.name, t._args), saved=SAVED.get(t._op.name, ()))
            n.producer = o.id
            for pos, x in enumerate(t._inputs):
                tnodes[idx[id(x)]].consumers.append((o.id, pos))
            if t._op.name in _BROADCASTING:
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
    _assign_modules(tnodes, onodes)
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


def _constants_follow_consumers(tnodes, onodes):
    """Constants that are not module buffers (e.g. masks made in forward) go with their consumers."""
    omap = {o.id: o for o in onodes}
    for n in tnodes:
        if n.kind == "constant" and n.consumers and not (n.name and n.module):
            m = None
            for cid, _ in n.consumers:
                m = _lcp(m, omap[cid].module or "")
            n.module = m or None


def _assign_modules(tnodes, onodes):
    """Op module = deepest module of the parameters it consumes directly; otherwise the common
    path of the nearest such ops upstream and downstream (downstream if that is empty)."""
    tmap = {n.id: n for n in tnodes}
    own = {}
    for o in onodes:
        best = None
        for tid in o.inputs:
            x = tmap[tid]
            if x.kind == "parameter" and x.module is not None and (best is None or _depth(x.module) > _depth(best)):
                best = x.module
        own[o.id] = best
    producer_op = {n.id: n.producer for n in tnodes}
    up = {}
    for o in onodes:  # walk order = topological
        if own[o.id] is not None:
            up[o.id] = own[o.id]
            continue
        u = None
        for tid in o.inputs:
            p = producer_op[tid]
            if p is not None and up.get(p) is not None:
                u = _lcp(u, up[p])
        up[o.id] = u
    down = {}
    for o in reversed(onodes):
        if own[o.id] is not None:
            down[o.id] = own[o.id]
            continue
        d = None
        for cid, _ in tmap[o.output].consumers:
            if down.get(cid) is not None:
                d = _lcp(d, down[cid])
        down[o.id] = d
    for o in onodes:
        if own[o.id] is not None:
            o.module = own[o.id]
            continue
        u, d = up[o.id], down[o.id]
        if u is not None and d is not None:
            m = _lcp(u, d)
            o.module = m if m else d
        else:
            o.module = d if d is not None else ""
    _constants_follow_consumers(tnodes, onodes)
    for n in tnodes:
        if n.module == "":
            n.module = None
    for o in onodes:
        if o.module == "":
            o.module = None


def _compute_grads(view, root, order, tiny):
    """Total gradient of root w.r.t. every tensor (autograd.grad on the retained graph), then
    each op's per-input contributions by applying its vjp rules to the total output gradient."""
    from .autograd import grad as _grad
    from .grad_mode import no_grad
    from .ops import sum_to, cast
    view.grads_computed = True
    if not root.requires_grad:
        return
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
    total = {id(t): g for t, g in zip(targets, totals)}
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
            g = g._data
            o.grad_in = summarize(g, tiny)
            o.grad_out, o.grad_out_raw_shape = [], []
            vals = [x._data for x in t._inputs]
            for i, x in enumerate(t._inputs):
                if not x.requires_grad:
                    o.grad_out.append(None)
                    o.grad_out_raw_shape.append(None)
                    continue
                try:
                    gx = t._op.vjps[i](g, t._data, t._args, *vals)
                    if not isinstance(gx, np.ndarray) and hasattr(gx, "dense"):  # a lazy slice gradient
                        gx = gx.dense()
                    raw = tuple(gx.shape)
                    if raw != tuple(x.shape):
                        gx = sum_to(gx, x.shape)
                    if gx.dtype != x.dtype:
                        gx = cast(gx, x.dtype)
                    o.grad_out.append(summarize(gx, tiny))
                    o.grad_out_raw_shape.append(raw)
                except Exception:  # a user-defined rule that cannot be replayed: show the total
                    tg = total.get(id(x))
                    o.grad_out.append(summarize(tg._data, tiny) if tg is not None else None)
                    o.grad_out_raw_shape.append(tuple(x.shape))
            # exact broadcast marks from the rules themselves
            o.broadcast = sorted({i for i, r in enumerate(o.grad_out_raw_shape)
                                  if r is not None and r != view.tensor(o.inputs[i]).shape}
                                 | set(_fused_reductions(t)))
