"""`draw_graph`: a Graphviz picture of the computation graph behind a tensor, and `render`.

The picture is built from the neutral view in `tinygrad_lite.graph` (one walk, stable ids), so
the DOT text is deterministic: the same graph gives the same `.source`, which tests snapshot.
"""
import html
import math
import os
import re

import graphviz
import numpy as np

from tinygrad_lite.autograd import BY_BACKWARD
from tinygrad_lite.graph import build_graph, _fmt, _depth

from .names import input_labels, rule_with_names

__all__ = ["draw_graph", "render", "GraphvizNotInstalled", "Drawing", "KIND_STYLE", "SCALE", "grad_scale_bounds"]

FONT = "Helvetica"

# kind -> (fill colour, border colour, node shape, extra style)
KIND_STYLE = {
    "parameter": ("#cfe2ff", "#1c5fb8", "box", "filled"),
    "input": ("#d3f2cf", "#2f7d32", "box", "filled"),
    "constant": ("#eeeeee", "#777777", "box", "filled,dashed"),
    "output": ("#ffe08a", "#a66d00", "box", "filled,rounded,bold"),
    "intermediate": ("#ffffff", "#555555", "box", "filled,rounded"),
}
COLLAPSED_STYLE = ("#efe4ff", "#6a3fb5")
NAN_COLOR = "#d00000"
FREED_COLOR = "#999999"  # values and gradients that backward did not keep
BCAST_COLOR = "#d9480f"
ACCUM_COLOR = "#7b2cbf"
NOGRAD_COLOR = "#9a9a9a"
# Gradient-norm fills (small -> large): one hue (rose to red), unlike any node-kind fill above (blue
# parameter, green input, gold output, grey constant, white op, lilac collapsed module), so a
# gradient colour is never read as a kind; light enough for black text. Zero gradients are white.
SCALE = ["#fdf1f1", "#fbe0df", "#f8cdcb", "#f5b8b5", "#f1a29e", "#ec8b86", "#e6736d", "#df5b55", "#d6433d"]
ZERO_GRAD = "#ffffff"
# The default scale is absolute: log10 of ‖grad‖ between fixed bounds, one colour per decade, so the
# same gradient has the same colour in every picture and healthy gradients do not look "exploding".
GRAD_SCALES = ("log", "auto")
DEFAULT_GRAD_BOUNDS = (1e-6, 1e3)
FULL_NUMBERS = 36  # tensors with at most this many elements show every value and gradient (6 x 6)


class GraphvizNotInstalled(RuntimeError):
    """Graphviz's `dot` program is missing, so a graph cannot be rendered to an image."""


INSTALL_HELP = ("Graphviz's 'dot' program was not found on PATH, so the graph cannot be rendered to {fmt}. "
                "The DOT text is still available (dot.source, or save it as a .dot/.gv file). "
                "Install Graphviz with: sudo apt-get install graphviz (Debian/Ubuntu), "
                "brew install graphviz (macOS), or conda install -c conda-forge graphviz; "
                "then check that `dot -V` works.")


def render(dot, path):
    """Render a Digraph (or DOT text) to `path`; the format comes from the extension:
    .svg, .png, .pdf (via Graphviz's `dot`), or .dot/.gv (the DOT text itself, no Graphviz needed).

    Returns `path`. Raises GraphvizNotInstalled (a RuntimeError) when `dot` is missing."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    source = dot.source if hasattr(dot, "source") else str(dot)
    if ext in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        return path
    if ext not in ("svg", "png", "pdf", "jpg", "jpeg"):
        raise ValueError(f"render: unsupported file extension {ext!r} in {path!r}; use .svg, .png, .pdf or .dot")
    src = dot if isinstance(dot, (graphviz.Digraph, graphviz.Graph, graphviz.Source)) else graphviz.Source(source)
    try:
        data = src.pipe(format=ext)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotInstalled(INSTALL_HELP.format(fmt=ext.upper())) from None
    except graphviz.CalledProcessError as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip() if isinstance(e.stderr, bytes) else str(e.stderr)
        raise RuntimeError(f"render: Graphviz failed to render {path!r}: {err}") from None
    with open(path, "wb") as f:
        f.write(data)
    return path


class Drawing(graphviz.Digraph):
    """The graphviz.Digraph that draw_graph returns, with `render_to(path)`. In Jupyter it displays
    inline; without Graphviz's `dot` program it shows the install hint instead of a traceback."""

    def render_to(self, path):
        """viz.render(self, path): .svg / .png / .pdf / .dot, format from the extension."""
        return render(self, path)

    def _repr_mimebundle_(self, include=None, exclude=None, **kw):
        try:
            return super()._repr_mimebundle_(include, exclude, **kw)
        except graphviz.ExecutableNotFound:
            return {"text/plain": INSTALL_HELP.format(fmt="an image")}


# ------------------------------------------------------------------ label helpers
def _e(s):
    return html.escape(str(s), quote=True)


def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _row(text, size=None, color=None, bold=False):
    t = _e(text)
    if bold:
        t = f"<B>{t}</B>"
    attrs = ""
    if size:
        attrs += f' POINT-SIZE="{size}"'
    if color:
        attrs += f' COLOR="{color}"'
    if attrs:
        t = f"<FONT{attrs}>{t}</FONT>"
    return f"<TR><TD>{t}</TD></TR>"


def _table(rows):
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _grad_color(norm, lo, hi):
    """The fill of a gradient norm on the log10 scale [lo, hi] (norms outside are clamped to the ends)."""
    if norm is None or not math.isfinite(norm):
        return None
    if norm == 0:
        return ZERO_GRAD
    if hi <= lo:
        return SCALE[len(SCALE) // 2]
    f = (math.log10(norm) - lo) / (hi - lo)
    return SCALE[min(len(SCALE) - 1, max(0, int(math.floor(f * len(SCALE) + 1e-9))))]


def grad_scale_bounds(grad_scale, grad_bounds, norms):
    """(lo, hi) in log10 units for the gradient fills, checking the arguments.

    grad_scale="log" (the default): fixed bounds `grad_bounds` (a (low, high) pair of positive norms,
    default 1e-6 .. 1e3), the same in every picture. grad_scale="auto": this graph's smallest and
    largest non-zero norm (colours compare nodes within one picture only)."""
    if grad_scale not in GRAD_SCALES:
        raise ValueError(f"draw_graph: grad_scale={grad_scale!r} is not one of {', '.join(map(repr, GRAD_SCALES))}")
    if grad_scale == "auto":
        if grad_bounds is not None:
            raise ValueError("draw_graph: grad_bounds= is used only with grad_scale='log' "
                             "(grad_scale='auto' takes the bounds from the graph itself)")
        logs = [math.log10(v) for v in norms if v is not None and math.isfinite(v) and v > 0]
        return (min(logs), max(logs)) if logs else (0.0, 0.0)
    try:
        low, high = DEFAULT_GRAD_BOUNDS if grad_bounds is None else grad_bounds
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise ValueError(f"draw_graph: grad_bounds must be two positive numbers (low, high), got {grad_bounds!r}") \
            from None
    if not (0 < low < high) or not math.isfinite(high):
        raise ValueError(f"draw_graph: grad_bounds must satisfy 0 < low < high (finite), got {grad_bounds!r}")
    return math.log10(low), math.log10(high)


def shown_numbers(s):
    """The numbers of a small Summary as text; an entry that is rounding noise next to the tensor's
    largest (|v| <= 1e-12 max|v|: -4.9e-19 beside 0.03) is shown as 0, as the exact result would be."""
    vals = [float(v) if isinstance(v, (float, np.floating)) else v for v in s.values]
    floats = [abs(v) for v in vals if isinstance(v, float) and math.isfinite(v)]
    tol = 1e-12 * max(floats) if floats else 0.0
    return [_fmt(0.0 if isinstance(v, float) and abs(v) <= tol else v) for v in vals]


def _value_lines(prefix, s, per_line=8):
    """A Summary as text lines: every number of a small tensor, one line per row of a matrix
    (a learner sees which rows of an embedding got a gradient), long rows wrapped after `per_line`
    numbers; else one summary line. A single number (a loss) gets 6 significant digits: 1.09981,
    not 1.1."""
    flags = [f for f, on in (("NaN", s.has_nan), ("Inf", s.has_inf)) if on]
    tail = "  (" + " & ".join(flags) + "!)" if flags else ""
    if s.values is None:
        return [prefix + s.text(norm=prefix.startswith("grad"))]
    if s.numel == 1:
        return [prefix + _fmt(s.values[0], 6) + tail]
    vals = shown_numbers(s)
    n = s.shape[-1] if s.shape else 1
    texts = []
    for r in range(0, len(vals), n):
        row = vals[r:r + n]
        chunks = [", ".join(row[c:c + per_line]) for c in range(0, len(row), per_line)]
        texts += ["[" * (k == 0) + (" " * (k > 0)) + ch + ("," if k < len(chunks) - 1 else "]")
                  for k, ch in enumerate(chunks)]
    head = prefix + _shape(s.shape) + ":" if len(s.shape) > 2 else None
    pad = " " * len(prefix)
    lines = ([head] if head else []) + [(prefix if i == 0 and not head else pad) + t for i, t in enumerate(texts)]
    lines[-1] += tail
    return lines


def _flag_text(n):
    flags = [f for f, on in (("NaN", n.has_nan), ("Inf", n.has_inf)) if on]
    return "contains " + " and ".join(flags) if flags else None


# ------------------------------------------------------------------ main entry point
def box_finder(collapse, collapse_depth):
    """The rule of `collapse=` / `collapse_depth=`: a function giving the collapsed module box a
    module path is drawn inside (its ancestor at depth collapse_depth, or the first listed
    ancestor), or None when the module is drawn open. The explorer uses the same rule."""
    collapsed = set(collapse or ())

    def box_of(module):
        if not module:
            return None
        parts = module.split(".")
        if collapse_depth is not None and len(parts) >= collapse_depth >= 1:
            return ".".join(parts[:collapse_depth])
        for k in range(1, len(parts) + 1):
            p = ".".join(parts[:k])
            if p in collapsed:
                return p
        return None
    return box_of


def draw_graph(root, model=None, params=None, show_values=False, show_grads=False, show_saved=False,
               backward=False, group_modules=True, collapse=None, collapse_depth=None, max_nodes=500,
               rankdir="TB", compact=True, legend=True, title=None, trace=None, grad_scale="log",
               grad_bounds=None, full_numbers=FULL_NUMBERS):
    """Draw the computation graph behind `root` (usually a loss) as a graphviz.Digraph.

    root:        the tensor whose history is drawn.
    model/params: a module (named_parameters()) or {name: tensor} naming the tensors; parameter
                 names give the module clusters (`blocks.0.attn.c_attn.weight` -> blocks.0.attn.c_attn).
    show_values: print each tensor's numbers: all of them for tensors of at most `full_numbers`
                 elements (36: up to 6 x 6, a matrix row by row), else min/mean/max.
    show_grads:  print each tensor's gradient the same way (leaves: `.grad`; others computed on
                 the retained graph; call loss.backward(retain_graph=True) or draw before backward).
    show_saved:  list what each op keeps for its backward rule.
    backward:    the backward view: ops numbered in the order the backward pass visits them, the
                 rule each applies, and nodes filled by their gradient's L2 norm on a log10 scale
                 in shades of red (no node-kind colour is red), white for a zero gradient
                 (implies gradients are computed).
    grad_scale:  "log" (default): an absolute scale, one colour per decade between `grad_bounds`
                 (default (1e-6, 1e3)); norms outside are drawn in the end colours. The same norm
                 gets the same colour in every picture, so healthy gradients do not look large.
                 "auto": relative, from this graph's smallest to its largest non-zero norm (the
                 largest gradient is always the darkest). The legend states the scale and bounds.
    group_modules: draw Graphviz clusters per module path.
    collapse:    list of module paths drawn as single boxes; collapse_depth: collapse every module
                 at that depth (1 = top-level children like `blocks`, 2 = `blocks.0`, ...).
    max_nodes:   raise ValueError if more nodes would be drawn (suggesting collapse_depth).
    rankdir:     "TB" (top to bottom) or "LR".
    compact:     draw each op and its result as one node (False: separate op and tensor nodes).
    legend:      add a small legend node. title: optional caption.
    trace:       a ModuleTrace from `viz.trace_modules(model)` for exact module grouping.
    full_numbers: the largest tensor (in elements) whose numbers are all printed (default 36).

    Returns a Drawing (a graphviz.Digraph subclass: displays inline in Jupyter, `.source` is the DOT
    text; `viz.render(dot, "g.svg")` or `dot.render_to("g.svg")` saves it).
    NaN/Inf values are outlined in red; a Σ on an edge marks a gradient summed over broadcast
    dimensions; "⊕ n grads" marks a tensor whose gradient accumulates from n uses.
    """
    need_grads = bool(show_grads or backward)
    if collapse is None and collapse_depth is None:  # cheap early check before summarising a huge graph
        from tinygrad_lite.graph import _walk
        n_ops = sum(1 for t in _walk(root) if t._op is not None)
        if n_ops > max_nodes:
            raise ValueError(_too_many(n_ops, max_nodes, None))
    # NaN/Inf are reported in the picture (red outline, legend), not as numpy RuntimeWarnings raised
    # while the values and gradients are summarised or the gradients replayed
    with np.errstate(all="ignore"):
        view = build_graph(root, model=model, params=params, values=show_values, grads=need_grads, trace=trace,
                           tiny=full_numbers)
    tn = {n.id: n for n in view.tensors}

    # ---- which module boxes are collapsed
    box_of = box_finder(collapse, collapse_depth)

    inline_consts = compact
    # ---- assign every view node to a drawn node
    drawn = []          # ordered ids of drawn nodes
    owner = {}          # view node id -> drawn node id
    boxes = {}          # box path -> {"ops": n, "params": [...], "id": ...}
    hidden = set()
    for n in view.tensors:
        if n.producer is not None:
            continue  # drawn with its op (compact) or below
        if inline_consts and n.is_scalar_constant and n.consumers:
            hidden.add(n.id)
            continue
        b = box_of(n.module)
        if b is not None:
            bx = boxes.setdefault(b, {"ops": 0, "params": [], "id": f"box{len(boxes)}", "tensors": []})
            owner[n.id] = bx["id"]
            bx["tensors"].append(n)
            if n.kind == "parameter":
                bx["params"].append(n)
            if bx["id"] not in drawn:
                drawn.append(bx["id"])
        else:
            owner[n.id] = n.id
            drawn.append(n.id)
    for o in view.ops:
        out = tn[o.output]
        b = box_of(o.module)
        if b is not None:
            bx = boxes.setdefault(b, {"ops": 0, "params": [], "id": f"box{len(boxes)}", "tensors": []})
            bx["ops"] += 1
            bx["tensors"].append(out)
            owner[o.id] = owner[o.output] = bx["id"]
            if bx["id"] not in drawn:
                drawn.append(bx["id"])
        else:
            owner[o.id] = o.id
            drawn.append(o.id)
            if compact:
                owner[o.output] = o.id
            else:
                owner[o.output] = o.output
                drawn.append(o.output)
    if len(drawn) > max_nodes:
        raise ValueError(_too_many(len(drawn), max_nodes, view.modules))

    # ---- gradient colour range (log10 of L2 norms)
    lo, hi = grad_scale_bounds(grad_scale, grad_bounds,
                               [n.grad.norm for n in view.tensors if n.grad is not None] if backward else [])

    g = Drawing(name="tinygrad_lite", format="svg")
    g.attr("graph", rankdir=rankdir, fontname=FONT, fontsize="11", nodesep="0.25", ranksep="0.35",
           newrank="true", compound="true")
    g.attr("node", fontname=FONT, fontsize="11", margin="0.08,0.04", height="0.3", penwidth="1.2")
    g.attr("edge", fontname=FONT, fontsize="9", arrowsize="0.6", color="#555555")
    if title:
        g.attr("graph", label=title, labelloc="t", fontsize="13")

    # ---- node statements, grouped per cluster
    stmts = {}  # module path (or None) -> list of (kind, id, attrs)

    def place(module, node_id, attrs):
        stmts.setdefault(module if group_modules else None, []).append((node_id, attrs))

    def grad_rows(n, rows):
        if n.grad is not None and (show_grads or backward):
            for line in _value_lines("grad ", n.grad):
                rows.append(_row(line, 9, NAN_COLOR if n.grad.nonfinite else "#8a3b00"))
        elif n.grad_freed and (show_grads or backward):
            rows.append(_row("grad not kept (retain_grad() keeps it)", 9, FREED_COLOR))

    def tensor_rows(n, rows, with_name=True):
        if with_name and n.name:
            rows.append(_row(n.name, None, None, True))
        rows.append(_row(f"{_shape(n.shape)} {n.dtype}", 10 if with_name and n.name else None))
        if n.value is not None:
            for line in _value_lines("data ", n.value):
                rows.append(_row(line, 9, NAN_COLOR if n.value.nonfinite else "#444444"))
        elif n.value_freed and show_values:
            rows.append(_row("data freed by backward" if n.freed_why == BY_BACKWARD else
                             "data freed: no backward rule reads it", 9, FREED_COLOR))
        ft = _flag_text(n)
        if ft and (n.value is None or not n.value.nonfinite):
            rows.append(_row(ft + "!", 9, NAN_COLOR, True))
        grad_rows(n, rows)
        if n.accumulates:
            rows.append(_row(f"⊕ grads from {n.grad_uses} uses add up", 9, ACCUM_COLOR))

    def style_attrs(kind, n, fill_override=None):
        fill, border, shape, style = KIND_STYLE[kind]
        a = {"shape": shape, "style": style, "fillcolor": fill, "color": border}
        if kind in ("parameter", "input", "output"):
            a["penwidth"] = "1.6"
        if backward and n is not None and n.requires_grad:
            c = _grad_color(n.grad.norm if n.grad is not None else None, lo, hi)
            if c:
                a["fillcolor"] = c
        if fill_override:
            a["fillcolor"] = fill_override
        if n is not None and (n.nonfinite or (n.grad is not None and n.grad.nonfinite)):
            a["color"] = NAN_COLOR
            a["penwidth"] = "3"
        return a

    for n in view.tensors:
        if owner.get(n.id) != n.id:
            continue
        rows = []
        if n.kind == "constant" and n.name is None and n.value is None and int(_prod(n.shape)) == 1:
            rows.append(_row(_fmt(n.tensor._data.reshape(-1)[0])))
            rows.append(_row(f"{_shape(n.shape)} {n.dtype}", 9))
        else:
            if not n.name:
                label = {"input": "input", "constant": "constant", "parameter": "leaf (requires grad)",
                         "output": "output"}.get(n.kind)
                if label and n.kind != "intermediate":
                    rows.append(_row(label, None, "#555555"))
            tensor_rows(n, rows)
            if n.kind == "input" and n.requires_grad:
                rows.insert(2 if n.name else 1, _row("input, requires grad", 9, "#2f7d32"))
        place(n.module, n.id, dict(label=_table(rows), **style_attrs(n.kind, n)))

    for o in view.ops:
        if owner.get(o.id) != o.id:
            continue
        out = tn[o.output]
        rows = []
        head = f"{o.backward_step}. {o.name}" if backward else o.name
        if o.args:
            head += f" {o.args}"
        rows.append(_row(head, 12, None, True))
        labels = input_labels(o.input_names, [tn[t].name for t in o.inputs])[0]
        consts = [(i, tn[i2]) for i, i2 in enumerate(o.inputs) if i2 in hidden]
        for i, c in consts:
            nm = labels[i]
            rows.append(_row(f"{nm} = {_fmt(c.tensor._data.reshape(-1)[0])}", 10, "#555555"))
        if backward and o.rule:
            rule = rule_with_names(o.rule, o.input_names, labels)
            rows.append(_row(rule, 9, "#1d4e89"))
            for sym, meaning in o.symbols.items():  # define the rule's other symbols
                if re.search(r"(?<!\w)" + re.escape(sym) + r"(?!\w)", rule):
                    rows.append(_row(f"{sym}: {meaning}", 8, "#1d4e89"))
        if show_saved:
            rows.append(_row("saves: " + (", ".join(o.saved) if o.saved else "nothing"), 9, "#666666"))
        if compact:
            if out.name:
                rows.append(_row(out.name, 10, None, True))
            tensor_rows(out, rows, with_name=False)
            kind = "output" if out.kind == "output" else "intermediate"
            attrs = style_attrs(kind, out)
        else:
            kind = "intermediate"
            attrs = style_attrs(kind, out if backward else None)
            attrs.update(shape="ellipse", style="filled")
        if o.module and group_modules:
            attrs["tooltip"] = _e(o.module)
        place(o.module, o.id, dict(label=_table(rows), **attrs))
        if not compact:
            rows = []
            if out.kind == "output":
                rows.append(_row(out.name or "output", None, "#555555"))
            tensor_rows(out, rows)
            place(out.module, out.id, dict(label=_table(rows), **style_attrs(out.kind, out)))

    for path, bx in boxes.items():
        params = bx["params"]
        numel = sum(int(_prod(p.shape)) for p in params)
        cls = view.modules.get(path, "")
        rows = [_row(path + (f" ({cls})" if cls else ""), 12, None, True),
                _row(f"{bx['ops']} ops · {len(params)} params ({_human(numel)} numbers)", 9, "#444444")]
        fill = COLLAPSED_STYLE[0]
        if backward:
            gn = [p.grad.norm for p in params if p.grad is not None and p.grad.norm is not None]
            if gn:
                total = math.sqrt(sum(v * v for v in gn)) if all(math.isfinite(v) for v in gn) else float("nan")
                rows.append(_row(f"param grad ‖·‖ {_fmt(total)}", 9, "#8a3b00"))
                fill = _grad_color(total, lo, hi) or fill
        bad = any(t.nonfinite or (t.grad is not None and t.grad.nonfinite) for t in bx["tensors"])
        if bad:
            rows.append(_row("contains NaN/Inf!", 9, NAN_COLOR, True))
        attrs = dict(label=_table(rows), shape="box3d", style="filled", fillcolor=fill,
                     color=NAN_COLOR if bad else COLLAPSED_STYLE[1], penwidth="3" if bad else "1.6")
        parent = path.rsplit(".", 1)[0] if "." in path else None
        place(parent, bx["id"], attrs)

    _emit_clusters(g, stmts, view.modules, group_modules)

    # ---- edges
    seen_edges = set()
    for o in view.ops:
        dst = owner[o.id]
        multi = len(o.inputs) > 1
        names = input_labels(o.input_names, [tn[t].name for t in o.inputs])[0]
        for pos, tid in enumerate(o.inputs):
            if tid in hidden:
                continue
            x = tn[tid]
            src = owner[x.producer] if (x.producer is not None and compact) else owner[tid]
            if src == dst:
                continue
            attrs = {}
            label = names[pos] if multi else ""
            if dst.startswith("box"):
                key = (src, dst)
                if key in seen_edges:
                    continue
                seen_edges.add(key)
                label = ""
            if pos in o.broadcast:
                gshape = x.shape
                label = (label + " " if label else "") + f"Σ→{_shape(gshape)}"
                attrs.update(color=BCAST_COLOR, fontcolor=BCAST_COLOR, penwidth="1.8")
            if not x.requires_grad:
                attrs.update(style="dashed", color=NOGRAD_COLOR)
            if label:
                attrs["label"] = _e(label)
            g.edge(src, dst, **attrs)
        if not compact and owner[o.id] == o.id and owner[o.output] == o.output:
            g.edge(o.id, o.output)
    if legend:
        _legend(g, view, backward, lo, hi, bool(boxes), grad_scale)
    return g


def _too_many(n, max_nodes, modules):
    if modules:
        deepest = max(_depth(m) for m in modules)
        hint = (f"pass collapse_depth=1 or 2 (modules found up to depth {deepest}) or collapse=[module paths] "
                "to draw modules as single boxes, ")
    else:
        hint = ("pass model= or params= to name the parameters and collapse_depth=1 or 2 (or collapse=[module "
                "paths]) to draw modules as single boxes, ")
    return (f"draw_graph: the graph has at least {n} nodes to draw, more than max_nodes={max_nodes}; "
            f"{hint}or raise max_nodes")


def _prod(shape):
    p = 1
    for s in shape:
        p *= s
    return p


def _human(n):
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def _emit_clusters(g, stmts, modules, group):
    """Nested `subgraph cluster_*` blocks, one per module path, in sorted (deterministic) order."""
    paths = sorted(p for p in stmts if p)
    all_paths = set()
    for p in paths:
        parts = p.split(".")
        for k in range(1, len(parts) + 1):
            all_paths.add(".".join(parts[:k]))
    children = {}
    for p in sorted(all_paths):
        parent = p.rsplit(".", 1)[0] if "." in p else None
        children.setdefault(parent, []).append(p)
    numbering = {p: i for i, p in enumerate(sorted(all_paths))}

    def fill(graph, path):
        for nid, attrs in stmts.get(path, []):
            graph.node(nid, **attrs)
        for c in children.get(path, []):
            cls = modules.get(c, "")
            with graph.subgraph(name=f"cluster_m{numbering[c]}") as sg:
                sg.attr(label=f"{c}" + (f" ({cls})" if cls else ""), style="rounded,dashed", color="#8c8c8c",
                        fontcolor="#555555", fontsize="10", labeljust="l", margin="6")
                fill(sg, c)

    fill(g, None)


def _bound(log10_value):
    """A scale bound: 0.001 .. 1000 written out, powers of ten beyond as 1e-6 (4 digits otherwise)."""
    k = round(log10_value)
    if abs(log10_value - k) > 1e-9:
        return _fmt(10 ** log10_value)
    return _fmt(10.0 ** k) if -3 <= k <= 3 else f"1e{k}"


def _legend(g, view, backward, lo, hi, has_boxes, grad_scale="log"):
    rows = []

    def cell(text, fill, border, style=""):
        return (f'<TR><TD BGCOLOR="{fill}" BORDER="1" COLOR="{border}" {style}><FONT POINT-SIZE="9">{_e(text)}'
                "</FONT></TD></TR>")
    kinds = {n.kind for n in view.tensors}
    for k, text in (("parameter", "parameter"), ("input", "input"), ("constant", "constant"),
                    ("intermediate", "op → result"), ("output", "output")):
        if k in kinds:
            fill, border, _, _ = KIND_STYLE[k]
            rows.append(cell(text, fill, border))
    if has_boxes:
        rows.append(cell("collapsed module", *COLLAPSED_STYLE))
    if any(o.broadcast for o in view.ops):
        rows.append(f'<TR><TD><FONT POINT-SIZE="9" COLOR="{BCAST_COLOR}">Σ→shape: grad summed over broadcast dims'
                    "</FONT></TD></TR>")
    if any(n.accumulates for n in view.tensors):
        rows.append(f'<TR><TD><FONT POINT-SIZE="9" COLOR="{ACCUM_COLOR}">⊕: grads of several uses add up'
                    "</FONT></TD></TR>")
    if any(not n.requires_grad and n.consumers for n in view.tensors):
        rows.append('<TR><TD><FONT POINT-SIZE="9" COLOR="#777777">dashed edge: no gradient</FONT></TD></TR>')
    if any(n.nonfinite or (n.grad is not None and n.grad.nonfinite) for n in view.tensors):
        rows.append(f'<TR><TD BORDER="2" COLOR="{NAN_COLOR}"><FONT POINT-SIZE="9">NaN / Inf (value or grad)'
                    '</FONT></TD></TR>')
    if backward:
        rows.append('<TR><TD><FONT POINT-SIZE="9">n. = backward step; border = kind, fill = ‖grad‖ (L2 norm)'
                    '</FONT></TD></TR>')
        if grad_scale == "log":
            rows.append(f'<TR><TD><FONT POINT-SIZE="9">absolute log scale, fixed bounds {_bound(lo)} – '
                        f'{_bound(hi)}</FONT></TD></TR>')
        else:
            rows.append('<TR><TD><FONT POINT-SIZE="9">relative scale: this graph\'s smallest to largest'
                        '</FONT></TD></TR>')
        k = len(SCALE)
        for i in range(k):
            a = lo + (hi - lo) * i / k
            b = lo + (hi - lo) * (i + 1) / k
            text = f"{_bound(a)} – {_bound(b)}"
            if grad_scale == "log" and i == 0:
                text = f"≤ {_bound(b)}"
            elif grad_scale == "log" and i == k - 1:
                text = f"≥ {_bound(a)}"
            rows.append(cell(text, SCALE[i], "#999999"))
            if hi <= lo:
                break
        rows.append(cell("grad = 0", ZERO_GRAD, "#999999"))
    label = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
             '<TR><TD><FONT POINT-SIZE="10"><B>legend</B></FONT></TD></TR>' + "".join(rows) + "</TABLE>>")
    g.node("legend", label=label, shape="plaintext")
