"""`explore`: one self-contained HTML page to walk the forward and the backward pass of a graph.

    from viz import explore
    page = explore(loss, model=model)          # writes explorer.html, returns an Explorer
    page                                       # in Jupyter: the explorer inline (sandboxed iframe)

The page holds the graph `draw_graph` draws (same names, module clusters, collapse options) laid
out by Graphviz as SVG, a panel for the selected node (op, its math from the op registry, its
backward rule, shapes, values and gradients as numbers for small tensors and heat maps for larger
ones), and a stepper: every op forward in creation order, then every op backward in the order the
engine runs them (step 1 = `draw_graph(backward=True)`'s 1). A backward step shows the gradient
arriving, the rule applied to the actual numbers (small tensors), the gradients leaving, and the
running sum where several uses of a tensor add their gradients up. Collapsed modules expand on
click (each expansion is laid out in advance: the file needs no server and no network).

All numbers come from the engine: values are the tensors' data, gradients come from
`autograd.grad` on the retained graph and from each op's own vjp rules (`_engine_arrays`, the one
function that reads engine internals). After a plain `backward()` (saved values freed) the page
shows what was kept (held values, `.grad`, retain_grad()) and marks the rest as freed, as draw_graph.
"""
import base64
import html
import json
import os
import re
from pathlib import Path

import graphviz
import numpy as np

from tinygrad_lite.graph import build_graph, total_gradients

from .dot import INSTALL_HELP, GraphvizNotInstalled, box_finder, draw_graph

__all__ = ["explore", "explore_step", "Explorer", "SMALL", "FORMULA_MAX"]

SMALL = 36          # tensors with at most this many numbers are shown as numbers, larger ones as heat maps
FORMULA_MAX = 12    # the rule is written out with the numbers when every operand has at most this many
HEAT = 64           # heat maps have at most HEAT x HEAT cells (larger tensors are sampled)
MAX_LAYOUTS = 40    # laid-out expansions of collapsed modules
ASSETS = Path(__file__).with_name("explore_assets")


# ------------------------------------------------------------------ the adapter to the engine
def _engine_arrays(view, root):
    """Values, total gradients and each op's per-input gradients as numpy arrays.

    Returns (values, totals, sent): values[tid] is the tensor's data (a `Freed` marker where a plain
    backward released it); totals[tid] its gradient (d root / d tensor, root seeded with ones; None
    where no gradient flows), computed by the engine's `autograd.grad` on the retained graph without
    touching any `.grad` or calling hooks; sent[op id][i] = (the gradient the op's rules send to input
    i, summed to the input's shape: the engine's own `autograd.apply_rules`, the shape before that sum)
    or None when input i needs no gradient.

    After a plain backward (the ops' saved values are freed, their rules cannot run again) the page
    shows what was kept, as draw_graph does: values still held, each `.grad` (leaves, retain_grad()),
    the seed; everything else is a `Freed` marker, and no op has per-input gradients.
    """
    from tinygrad_lite.autograd import FreedValue, apply_rules
    from tinygrad_lite.grad_mode import no_grad
    tensors = {n.id: n.tensor for n in view.tensors}
    values = {tid: Freed(t._data, "value " + t._data.reason) if type(t._data) is FreedValue else t._data
              for tid, t in tensors.items()}
    totals = {tid: None for tid in tensors}
    sent = {}
    if not root.requires_grad:
        return values, totals, sent
    if any(o.freed for o in view.ops):
        for tid, t in tensors.items():
            if t.grad is not None:
                totals[tid] = _dense(t.grad)
            elif t is root:
                totals[tid] = np.ones(root.shape, root.dtype)  # the seed: d root / d root
            elif t.requires_grad:
                totals[tid] = Freed(t._data, "gradient not kept by backward() (retain_grad() or "
                                             "backward(retain_graph=True) keeps it)")
        return values, totals, sent
    by_obj = total_gradients(root, [n.tensor for n in view.tensors])
    for tid, t in tensors.items():
        g = by_obj.get(id(t))
        totals[tid] = None if g is None else np.asarray(g._data)
    with no_grad():
        for o in view.ops:
            t = tensors[o.output]
            g = totals[o.output]
            if g is None:
                continue
            raw = [None] * len(t._inputs)
            try:
                outs = apply_rules(t, g, raw_shapes=raw)
            except Exception as e:
                raise RuntimeError(f"explore: the backward rule of op {t._op.name!r} failed when run again on the "
                                   f"retained graph: {type(e).__name__}: {e}") from e
            row = []
            for i, (x, gx) in enumerate(zip(t._inputs, outs)):
                if gx is None or not x.requires_grad:
                    row.append(None)
                    continue
                if not isinstance(gx, np.ndarray) and hasattr(gx, "dense"):  # a lazy (slice, row-sparse) gradient
                    gx = gx.dense()
                row.append((np.asarray(gx), tuple(raw[i] or x.shape)))
            sent[o.id] = row
    return values, totals, sent


class Freed:
    """What the page shows for a value or gradient that a plain backward did not keep: shape, dtype, why."""

    def __init__(self, like, why):
        self.shape, self.dtype, self.why = tuple(like.shape), like.dtype, why


def _dense(g):
    """A .grad as a numpy array (a Tensor's data; a row-sparse gradient made whole)."""
    if hasattr(g, "_data"):
        return np.asarray(g._data)
    return np.asarray(g.dense() if hasattr(g, "dense") else g)


# ------------------------------------------------------------------ arrays as page data
def _num(v):
    v = float(v)
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _enc(a):
    """An array as page data: shape, stats, the numbers (<= SMALL) or a quantised heat map."""
    if a is None:
        return None
    if isinstance(a, Freed):
        return {"shape": list(a.shape), "n": int(np.prod(a.shape)), "dtype": str(a.dtype), "freed": a.why}
    a = np.asarray(a)
    d = {"shape": list(a.shape), "n": int(a.size), "dtype": str(a.dtype)}
    f = a.astype(np.float64)
    with np.errstate(all="ignore"):
        fin = np.isfinite(f)
        good = f[fin]
        if good.size:
            lo, mean, hi = good.min(), good.mean(), good.max()
            if abs(mean) <= 1e-6 * max(abs(lo), abs(hi)):  # rounding noise next to the data's scale
                mean = 0.0
            d["min"], d["mean"], d["max"] = _num(lo), _num(mean), _num(hi)
            d["norm"] = _num(np.sqrt(np.sum(np.square(good))))
    d["nonfinite"] = int((~fin).sum())
    if d["nonfinite"]:
        d["norm"] = "NaN"
    if a.size <= SMALL:
        d["v"] = [_num(v) for v in f.reshape(-1)]
        return d
    m = f.reshape(1, -1) if f.ndim <= 1 else f.reshape(-1, f.shape[-1])
    rows = np.unique(np.linspace(0, m.shape[0] - 1, min(HEAT, m.shape[0])).round().astype(int))
    cols = np.unique(np.linspace(0, m.shape[1] - 1, min(HEAT, m.shape[1])).round().astype(int))
    m = m[np.ix_(rows, cols)]
    with np.errstate(all="ignore"):
        finite = np.isfinite(m)
        scale = float(np.abs(m[finite]).max()) if finite.any() else 0.0
        q = np.zeros(m.shape, np.uint8)  # 0 marks NaN/Inf; 1..255 map -scale..scale
        if scale > 0:
            q[finite] = np.clip(np.round(m[finite] / scale * 127) + 128, 1, 255).astype(np.uint8)
        else:
            q[finite] = 128
    d["heat"] = {"rows": int(m.shape[0]), "cols": int(m.shape[1]), "scale": _num(scale),
                 "sampled": [int(rows.size) < (a.size // max(1, a.shape[-1]) if a.ndim > 1 else 1),
                             int(cols.size) < (a.shape[-1] if a.ndim else 1)],
                 "q": base64.b64encode(q.tobytes()).decode("ascii")}
    return d


def _fmt(v):
    v = float(v)
    if v != v:
        return "nan"
    if abs(v) == float("inf"):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    return f"{v:.4g}"


def _text(a):
    """Numbers of a small array as nested brackets: 2, [1, 2], [[1, 2], [3, 4]]."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _fmt(a)
    return "[" + ", ".join(_text(x) for x in a) + "]"


# ------------------------------------------------------------------ rules written with numbers
# The formulas are the op's registry row's: its `forward` text and the per-input clauses of its `rule`
# (OpNode.forward / .input_rules), the same text draw_graph and explain_backward show. Where every
# operand is small, each symbol with a value (the inputs' names, dC, C, and an argument such as pow's
# p=2) is replaced by its numbers; `x.shape` and `x's` name a property, not the value, and stay.
def _symbol(name):
    return re.compile(r"(?<![A-Za-z0-9_.])" + re.escape(name) + r"(?![A-Za-z0-9_\u0302.'’])")


def _substitute(formula, env):
    """formula with each symbol that env knows replaced by its numbers (all at once: no chaining)."""
    if not env:
        return formula
    names = sorted(env, key=len, reverse=True)
    pattern = "|".join(_symbol(n).pattern for n in names)
    return re.sub(pattern, lambda m: env[m.group(0)], formula)


def _uses(formula, name):
    return _symbol(name).search(formula) is not None


def _small(*arrays):
    return all(a is not None and not isinstance(a, Freed) and np.asarray(a).size <= FORMULA_MAX for a in arrays)


def _arg_values(o):
    """The op's arguments that its formulas name (pow_scalar's `p=2` -> {"p": "2"})."""
    found = dict(re.findall(r"(\w+)=([^,\s]+)", o.args or ""))
    return {k: v for k, v in found.items() if k in o.symbols}


def _forward_text(o, names, values):
    f = o.forward
    if not f:
        return None
    line = f"C = {f}"
    arrays = {n: values[t] for n, t in zip(names, o.inputs)}
    used = [v for n, v in arrays.items() if _uses(f, n)]
    out = values[o.output]
    if used and _small(out, *used):  # (numbers only where every value is kept and small)
        env = {n: _text(v) for n, v in arrays.items()}
        env.update(_arg_values(o))
        line += f" = {_substitute(f, env)} = {_text(out)}"
    return line


def _backward_text(o, i, names, values, dC, gx):
    rules = o.input_rules
    f = rules[i] if i < len(rules) else None
    if f is None or dC is None or isinstance(dC, Freed):
        return None
    line = f"d{names[i]} = {f}"
    arrays = {n: values[t] for n, t in zip(names, o.inputs)}
    arrays["dC"], arrays["C"] = dC, values[o.output]
    used = [v for n, v in arrays.items() if _uses(f, n)]
    if _uses(f, "dC") and _small(gx, *used):
        env = {n: _text(v) for n, v in arrays.items()}
        env.update(_arg_values(o))
        line += f" = {_substitute(f, env)} = {_text(gx)}"
    return line


# ------------------------------------------------------------------ layouts (collapsed modules)
def _parent(path):
    return path.rsplit(".", 1)[0] if "." in path else None


def _node_owner(view, box_of):
    """tensor/op id -> (drawn node id or a box path marked ('box', path)); hidden constants absent."""
    owner = {}
    for n in view.tensors:
        if n.producer is not None:
            continue
        if n.is_scalar_constant and n.consumers:
            continue  # draw_graph writes these into their consumer's label
        b = box_of(n.module)
        owner[n.id] = ("box", b) if b else n.id
    for o in view.ops:
        b = box_of(o.module)
        owner[o.id] = owner[o.output] = ("box", b) if b else o.id
    return owner


_BOX_LABEL = re.compile(r"\b(box\d+) \[label=<<TABLE[^>]*><TR><TD><FONT[^>]*><B>([^<]*)</B>")


def _svg(dot):
    try:
        svg = graphviz.Source(dot.source).pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise GraphvizNotInstalled("explore: " + INSTALL_HELP.format(fmt="SVG (the explorer's layout)")) from None
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def _layout(view, root, draw_kw, collapse, collapse_depth):
    dot = draw_graph(root, collapse=collapse, collapse_depth=collapse_depth, **draw_kw)
    box_ids = {html.unescape(label).split(" (")[0]: bid for bid, label in _BOX_LABEL.findall(dot.source)}
    owner = _node_owner(view, box_finder(collapse, collapse_depth))
    node_of = {}
    for k, v in owner.items():
        if isinstance(v, tuple):
            if v[1] in box_ids:
                node_of[k] = box_ids[v[1]]
        else:
            node_of[k] = v
    return {"svg": _svg(dot), "node_of": node_of, "boxes": {bid: p for p, bid in box_ids.items()}}


def _expanded_collapse(base_boxes, children, path):
    """The collapse list that shows `path` and its ancestors open, everything else as in the base."""
    opened = set()
    p = path
    while p:
        opened.add(p)
        p = _parent(p)
    todo, out = list(base_boxes), set()
    while todo:
        m = todo.pop()
        if m in opened:
            todo.extend(children.get(m, ()))
        else:
            out.add(m)
    return sorted(out)


def _layouts(view, root, draw_kw, collapse, collapse_depth):
    """The base layout (the user's collapse options) and one per expandable collapsed module."""
    base = _layout(view, root, draw_kw, collapse, collapse_depth)
    layouts = {"base": base}
    base["parent"] = None
    if not base["boxes"]:
        return layouts
    children = {}
    for m in view.modules:
        if _parent(m) is not None:
            children.setdefault(_parent(m), []).append(m)
    base_boxes = sorted(base["boxes"].values())
    queue = [("base", bid, p) for bid, p in base["boxes"].items()]
    key_of = {}
    while queue:
        from_key, bid, path = queue.pop(0)
        if path not in key_of and len(layouts) >= MAX_LAYOUTS:
            key_of[path] = None
            layouts[from_key].setdefault("closed_why", {})[bid] = (
                f"only {MAX_LAYOUTS} module views fit in one page: explore it with collapse=[...] "
                "naming the modules to keep closed")
        elif path not in key_of:
            try:
                lay = _layout(view, root, draw_kw, _expanded_collapse(base_boxes, children, path), None)
            except ValueError as e:  # too many nodes to draw this module open
                key_of[path] = None
                layouts[from_key].setdefault("closed_why", {})[bid] = str(e)
            else:
                key = f"L{len(layouts)}"
                lay["parent"], lay["opened"] = from_key, path
                layouts[key] = lay
                key_of[path] = key
                queue.extend((key, b, p) for b, p in lay["boxes"].items())
        layouts[from_key].setdefault("expand", {})[bid] = key_of.get(path)
    return layouts


# ------------------------------------------------------------------ the page data
def _input_names(o):
    """The names the op's rule gives its inputs (x, y / A, B / x0, x1 ...), from its registry row."""
    names = list(o.input_names or ())
    if len(names) != len(o.inputs):
        names = ["x"] if len(o.inputs) == 1 else [f"x{i}" for i in range(len(o.inputs))]
    return names


def _label(n, view):
    if n.name:
        return n.name
    if n.producer is not None:
        o = view.op(n.producer)
        return f"{o.name} result ({n.id})"
    if n.is_scalar_constant:
        return f"constant {_fmt(n.tensor._data.reshape(-1)[0])}"
    return f"{n.kind} {n.id}"


def _page_data(view, root, layouts, title):
    values, totals, sent = _engine_arrays(view, root)
    tensors = {}
    for n in view.tensors:
        tensors[n.id] = {"id": n.id, "label": _label(n, view), "name": n.name, "kind": n.kind, "module": n.module,
                         "shape": list(n.shape), "dtype": n.dtype, "requires_grad": n.requires_grad,
                         "producer": n.producer, "consumers": [c for c, _ in n.consumers],
                         "uses": n.grad_uses, "value": _enc(values[n.id]), "grad": _enc(totals[n.id])}
    ops, backward = {}, view.backward_order()
    for o in view.ops:
        names = _input_names(o)
        row = sent.get(o.id)
        outs = []
        for i, tid in enumerate(o.inputs):
            got = row[i] if row else None
            outs.append(None if got is None else {
                "to": tid, "arg": names[i], "grad": _enc(got[0]), "raw_shape": list(got[1]),
                "summed": tuple(got[1]) != tuple(view.tensor(tid).shape),
                "text": _backward_text(o, i, names, values, totals[o.output], got[0])})
        ops[o.id] = {"id": o.id, "name": o.name, "args": o.args, "module": o.module, "math": o.math,
                     "rule": o.rule, "inputs": list(o.inputs), "arg_names": names, "output": o.output,
                     "backward_step": o.backward_step, "freed": o.freed, "forward_text": _forward_text(o, names, values),
                     "sends": outs}
    # the running sums: where a tensor receives gradients from several uses, in execution order
    partial = {}
    steps = []
    for o in backward:
        acc = []
        for i, s in enumerate(ops[o.id]["sends"]):
            if s is None:
                continue
            tid = s["to"]
            n = view.tensor(tid)
            if n.grad_uses < 2:
                continue
            g = sent[o.id][i][0]
            before = partial.get(tid)
            after = g.astype(np.float64) if before is None else before[0] + g
            k = 1 if before is None else before[1] + 1
            partial[tid] = (after, k, (before[2] if before else []) + [(o.backward_step, o.id, i)])
            acc.append({"to": tid, "k": k, "of": n.grad_uses, "before": _enc(before[0].astype(g.dtype)) if before else None,
                        "add": _enc(g), "after": _enc(after.astype(g.dtype)),
                        "from": [{"step": st, "op": oid, "arg": a} for st, oid, a in partial[tid][2]],
                        "complete": k == n.grad_uses})
        steps.append({"op": o.id, "accum": acc})
    forward = [o.id for o in reversed(backward)]   # creation order: the order forward made them
    return {"title": title or "", "root": view.root, "tensors": tensors, "ops": ops, "forward": forward,
            "backward": steps, "layouts": layouts, "small": SMALL, "formula_max": FORMULA_MAX}


def _page(data):
    css = (ASSETS / "explorer.css").read_text(encoding="utf-8")
    js = (ASSETS / "explorer.js").read_text(encoding="utf-8")
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    title = html.escape(data["title"] or "backprop explorer")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title>\n<style>\n{css}\n</style></head>\n<body>\n"
            f"<script id=\"explorer-data\" type=\"application/json\">{blob}</script>\n"
            f"<script>\n{js}\n</script>\n</body></html>\n")


class Explorer:
    """The explorer page of one graph: `.path` (the HTML file written), `.html` (its text).
    Displays inline in Jupyter (a sandboxed iframe holding the page)."""

    def __init__(self, html_text, path, steps):
        self.html, self.path, self.steps = html_text, path, steps

    def save(self, path):
        """Write the page to `path` (returns it as a Path)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.html, encoding="utf-8")
        return p

    def _repr_html_(self):
        doc = html.escape(self.html, quote=True)
        return (f'<iframe sandbox="allow-scripts" srcdoc="{doc}" style="width:100%;height:640px;'
                'border:1px solid #ccc" title="tinygrad_lite backprop explorer"></iframe>')

    def __repr__(self):
        return f"Explorer({str(self.path)!r}, {self.steps} steps forward and {self.steps} backward)"


def explore(root, path="explorer.html", model=None, params=None, collapse=None, collapse_depth=None,
            title=None, trace=None, max_nodes=500, rankdir="TB", group_modules=True, show_values=False,
            legend=True):
    """Write a self-contained HTML page exploring the forward and backward pass behind `root`.

    root:   the tensor (usually a scalar loss; a non-scalar root is seeded with ones). Before backward,
            or after backward(retain_graph=True), every value and gradient is shown; after a plain
            backward() the page shows what was kept (held values, .grad, retain_grad()) and marks the
            rest as freed.
    path:   the HTML file to write (None: write nothing; `.html` still holds the page).
    model/params/trace, collapse/collapse_depth, max_nodes, rankdir, group_modules, show_values,
    legend, title: as in draw_graph (the page shows the graph draw_graph draws).
    Returns an Explorer (`.path`, `.html`; shows inline in Jupyter). No `.grad` is modified.
    Raises GraphvizNotInstalled when Graphviz's `dot` is missing (the layout needs it),
    ValueError when more than max_nodes would be drawn.
    """
    if not hasattr(root, "_data") or not hasattr(root, "requires_grad"):
        raise TypeError(f"explore: expected a tinygrad_lite Tensor (the loss), got {type(root).__name__}")
    draw_kw = dict(model=model, params=params, trace=trace, max_nodes=max_nodes, rankdir=rankdir, compact=True,
                   group_modules=group_modules, show_values=show_values, legend=legend, title=None)
    with np.errstate(all="ignore"):
        view = build_graph(root, model=model, params=params, trace=trace)
        layouts = _layouts(view, root, draw_kw, collapse, collapse_depth)
        data = _page_data(view, root, layouts, title)
    page = Explorer(_page(data), None, len(view.ops))
    if path is not None:
        page.path = page.save(path)
    return page


def explore_step(name, out, seed=0, collapse_depth=None):
    """Write the explorer page of one example training step (a key of viz.steps.STEPS: mlp,
    skipgram, attention, gpt) to `out`; the GPT's blocks are collapsed unless collapse_depth says
    otherwise (0 = every op). Returns the Explorer. Raises ValueError for an unknown example."""
    from .steps import STEPS
    if name not in STEPS:
        raise ValueError(f"unknown example {name!r}; choose from {', '.join(STEPS)}")
    loss, naming, title = STEPS[name](seed)
    if collapse_depth is None and name == "gpt":
        collapse_depth = 2
    return explore(loss, out, collapse_depth=collapse_depth or None, title=title, **naming)
