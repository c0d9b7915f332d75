"""Which module made each op of a graph view: module clusters for graph pictures (used by graph.py).

Exact when the calls are known: nn.Module records every forward call as an interval of the
engine's creation counter (`module_calls`), and `trace_modules(model)` records them with hooks;
an op belongs to the innermost module call during which its result was made. Without call
records, a heuristic: an op belongs to the deepest module whose parameters it consumes, other ops
to the common module path of the nearest such ops upstream and downstream.
"""
__all__ = ["ModuleTrace", "trace_modules", "trace_from_calls", "assign_modules", "constants_follow_consumers"]


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


def constants_follow_consumers(tnodes, onodes):
    """Constants that are not module buffers (e.g. masks made in forward) go with their consumers."""
    omap = {o.id: o for o in onodes}
    for n in tnodes:
        if n.kind == "constant" and n.consumers and not (n.name and n.module):
            m = None
            for cid, _ in n.consumers:
                m = _lcp(m, omap[cid].module or "")
            n.module = m or None


def assign_modules(tnodes, onodes):
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
    constants_follow_consumers(tnodes, onodes)
    for n in tnodes:
        if n.module == "":
            n.module = None
    for o in onodes:
        if o.module == "":
            o.module = None


def trace_from_calls(model, tnodes):
    """A ModuleTrace from the forward calls nn.Module recorded (module_calls), for the model's modules."""
    from .nn.module import module_calls  # (nn imports the engine; imported here, when a graph is drawn)
    paths = {id(m): p for p, m in model.named_modules() if p}
    if not paths or not tnodes:
        return None
    lo, hi = min(n.seq for n in tnodes), max(n.seq for n in tnodes)
    tr = ModuleTrace()
    for mid, a, b in module_calls():
        p = paths.get(mid)
        if p is not None and b > lo and a < hi:
            tr.intervals.append((p, a, b))
    if not tr.intervals:
        return None
    tr.classes = {p: type(m).__name__ for p, m in model.named_modules() if p}
    return tr
