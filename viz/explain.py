"""`explain_backward`: the backward pass told step by step (the textual twin of the picture).

For every op, in the order the engine runs them (newest tensor first), it prints the rule the op
applies, the shapes, and summaries of the gradient flowing in (dC) and of each gradient flowing
out. The numbers are computed for real: `tinygrad_lite.autograd.grad` on the retained graph gives
each tensor's total gradient, and each op's own rules give its contribution to each input.
"""
import numpy as np

from tinygrad_lite.graph import _fmt, build_graph

from .dot import shown_numbers
from .names import grad_symbol, input_labels, rule_with_names

__all__ = ["explain_backward", "print_backward"]


def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


FREED_NOTE = "freed by backward (retain_graph=True or autograd.keep_graph() keeps it)"


def _gsum(s, freed=False):
    """‖g‖ norm, min, max (or the numbers themselves when tiny) of a gradient Summary."""
    if s is None:
        return FREED_NOTE if freed else "no gradient"
    if s.numel == 0:
        return "empty"
    if s.numel == 1 and s.values is not None:
        return f"value {_fmt(s.values[0])}" + ("  (not finite!)" if s.nonfinite else "")
    parts = [f"‖g‖ = {_fmt(s.norm) if s.norm is not None else '?'}"]
    if s.values is not None and s.numel > 1:
        parts.append("values " + _nested(s))
    elif s.numel > 1:
        parts.append(f"min {_fmt(s.min)}, max {_fmt(s.max)}")
    if s.nonfinite:
        parts.append("contains " + " and ".join(f for f, on in (("NaN", s.has_nan), ("Inf", s.has_inf)) if on) + "!")
    return ", ".join(parts)


def _nested(s):
    """Every number of a small Summary, nested by rows: [[0.004, 0.004], [0, 0]]."""
    vals = shown_numbers(s)
    if len(s.shape) < 2:
        return "[" + ", ".join(vals) + "]"
    n = s.shape[-1]
    return "[" + ", ".join("[" + ", ".join(vals[i:i + n]) + "]" for i in range(0, len(vals), n)) + "]"


def _module_runs(keys, ops):
    """[(key, first step, last step)] for the runs of consecutive backward steps with one key."""
    runs = []
    for o in ops:
        k = keys[o.id]
        if runs and runs[-1][0] == k:
            runs[-1][2] = o.backward_step
        else:
            runs.append([k, o.backward_step, o.backward_step])
    return [tuple(r) for r in runs]


def _module_keys(view, ops, model):
    """op id -> the module path that ran it, ROOT for the model's own forward outside its submodules
    (nn.Module records its calls), None for ops outside the model (a loss computed on its output)."""
    calls = []
    if model is not None and hasattr(model, "named_modules"):
        from tinygrad_lite.nn.module import module_calls
        calls = [(a, b) for mid, a, b in module_calls() if mid == id(model)]
    keys = {}
    for o in ops:
        seq = view.tensor(o.output).seq
        keys[o.id] = o.module or (ROOT if any(a < seq < b for a, b in calls) else None)
    return keys


ROOT = "<the model itself>"


def explain_backward(loss, model=None, params=None, trace=None, full_numbers=36, steps=None):
    """A step-by-step account of the backward pass of `loss` (a tensor, usually a scalar).

    loss:   the tensor backward starts from. After a plain loss.backward() the steps, shapes, rules
            and the kept gradients (.grad) are shown, the others marked as freed; explain before
            backward, or after backward(retain_graph=True), to see every number.
    model/params: name the parameters (see draw_graph); tensors also go by their own `Tensor.name`.
    trace:  a ModuleTrace from `viz.trace_modules(model)`; by default the module calls nn.Module
            recorded. With `model=`, the steps are grouped under the module whose forward ran them
            (the same grouping as draw_graph's clusters), the model's own forward, or "outside the
            model" (the loss).
    full_numbers: gradients of at most this many elements are listed in full (36: up to 6 x 6,
            row by row), larger ones as norm, min and max.
    steps:  show only the first `steps` backward steps (whole steps; a line says how many more
            there are), then the leaf gradients; None (default) shows every step.
    Returns a multi-line string: one block per op in execution order with the step number, op
    name and its arguments as written (`log_softmax dim=-1`), rule (e.g. `matmul: dA = dC @ Bᵀ,
    dB = Aᵀ @ dC`) and the meaning of every other symbol it uses, input and output shapes, and
    the incoming gradient and each outgoing gradient. Inputs go by the rule's names (x, y, A, B)
    unless the user named tensors with the same letters: then by the user's names, the rule
    rewritten with them. Gradients summed over broadcast dimensions and gradients that accumulate
    into a tensor used several times are marked. No `.grad` is modified.
    """
    with np.errstate(all="ignore"):  # NaN/Inf are reported in the text, not as numpy RuntimeWarnings
        view = build_graph(loss, model=model, params=params, grads=True, trace=trace, tiny=full_numbers)
    tn = {n.id: n for n in view.tensors}

    def who(n):
        if n.name:
            return n.name
        if n.producer is not None:
            return f"{n.id} (result of {view.op(n.producer).name})"
        if n.is_scalar_constant:
            return f"constant {_fmt(n.tensor._data.reshape(-1)[0])}"
        return f"{n.id} ({n.kind})"

    root = tn[view.root]
    lines = [f"Backward pass of {who(root)}: shape {_shape(root.shape)}, {root.dtype}"
             + (f", value {_fmt(root.tensor._data.reshape(-1)[0], 6)}"
                if root.tensor._data.size == 1 and not root.value_freed else ""),
             f"Seed: the output's gradient with respect to itself is {'1' if root.tensor._data.size == 1 else 'ones'}. "
             f"The engine runs {len(view.ops)} op rules, newest result first "
             "(decreasing creation order, a topological order).",
             "dC is the gradient flowing into an op's result C (g in the math lines); d<input> is the "
             "gradient an op sends to that input; each arrow is one.",
             ""]
    freed = any(o.freed for o in view.ops)
    if freed:
        lines[-1:-1] = ["This graph has been through backward(): its structure is kept, the values it saved are "
                        "freed, so the gradients between ops are shown only where they were kept "
                        "(retain_grad(), .grad of leaves)."]
    ops = view.backward_order()
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"explain_backward: steps must be None or an int >= 0, got {steps!r}")
        hidden_steps, ops = len(ops) - min(steps, len(ops)), ops[:steps]
    else:
        hidden_steps = 0
    runs = {}
    if any(o.module for o in ops):
        keys = _module_keys(view, ops, model)
        runs = {first: (m, last) for m, first, last in _module_runs(keys, ops)}
    for o in ops:
        if o.backward_step in runs:
            m, last = runs[o.backward_step]
            span = f"step {last}" if last == o.backward_step else f"steps {o.backward_step}-{last}"
            if m == ROOT:
                where = f"the model's own forward ({type(model).__name__}), outside its submodules"
            elif m:
                cls = view.modules.get(m, "")
                where = f"module {m}" + (f" ({cls})" if cls else "")
            else:
                where = "outside the model (computed from its output, e.g. the loss)"
            lines.append(f"── {where}: {span} ──")
        out = tn[o.output]
        labels, renamed = input_labels(o.input_names, [tn[t].name for t in o.inputs])
        head = f"Step {o.backward_step}: {o.name}" + (f" {o.args}" if o.args else "")
        lines.append(head)
        rule = rule_with_names(o.rule, o.input_names, labels)
        lines.append(f"  rule:   {o.name}: {rule}")
        if o.math and o.math != o.rule:
            lines.append(f"  math:   {rule_with_names(o.math, o.input_names, labels)}")
        if renamed:
            lines.append("          (the inputs go by your tensor names: the rule's own letters "
                         + ", ".join(o.input_names) + " would clash with them)")
        for sym, meaning in o.symbols.items():
            lines.append(f"  where:  {sym} = {meaning}")
        ins = ", ".join(f"{labels[i]} = {who(tn[t])} {_shape(tn[t].shape)}" if labels[i] != tn[t].name
                        else f"{labels[i]} {_shape(tn[t].shape)}" for i, t in enumerate(o.inputs))
        lines.append(f"  shapes: {ins} -> C {_shape(out.shape)}")
        lines.append(f"  in:     dC {_shape(out.shape)}: {_gsum(o.grad_in if o.grad_in or not freed else out.grad, freed)}")
        for i, tid in enumerate(o.inputs):
            x = tn[tid]
            d = grad_symbol(labels[i])
            if not x.requires_grad:
                lines.append(f"  out:    {d} -> {who(x)}: none ({x.kind}, does not require grad)")
                continue
            s = o.grad_out[i] if o.grad_out else None
            line = f"  out:    {d} -> {who(x)} {_shape(x.shape)}: {_gsum(s, freed)}"
            marks = []
            if i in o.broadcast:
                raw = o.grad_out_raw_shape[i] if o.grad_out_raw_shape else None
                if raw is not None and tuple(raw) != tuple(x.shape):
                    marks.append(f"Σ summed over broadcast dims {_shape(raw)} -> {_shape(x.shape)}")
                else:
                    marks.append(f"Σ summed over the broadcast/batch dims to {_shape(x.shape)}")
            if x.accumulates:
                k = sum(1 for c in x.consumers)
                marks.append(f"⊕ accumulates: {who(x)} is used {k} times, its total gradient is the sum "
                             f"({_gsum(x.grad)})")
            lines.append(line)
            for m in marks:
                lines.append(f"          {m}")
        lines.append("")
    if hidden_steps:
        lines += [f"... {hidden_steps} more step{'s' if hidden_steps > 1 else ''} (steps=None shows them all)", ""]
    leaves = [n for n in view.tensors if n.producer is None and n.requires_grad]
    if leaves:
        lines.append("Leaf gradients (what backward() adds into .grad):")
        for n in leaves:
            lines.append(f"  {who(n)} {_shape(n.shape)}: {_gsum(n.grad, n.grad_freed)}")
    return "\n".join(lines).rstrip() + "\n"


def print_backward(loss, model=None, params=None, **kw):
    """Print explain_backward(loss, model, params, ...)."""
    print(explain_backward(loss, model=model, params=params, **kw), end="")
