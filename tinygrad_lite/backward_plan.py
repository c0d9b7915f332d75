"""Backward plans: the plain backward pass (`autograd._run`) written out for a graph shape that repeats.

A training step builds the same graph every time: the same ops in the same order on new tensors. The
second time in a row that `backward()` meets a graph of one shape, the shape's backward pass is
written out as straight-line Python, one block per node in the order `_run` visits them (newest
first), calling the same rules and the same helpers (`_fit`, `_to_leaf`, `_accumulate`, `_summed`,
`_release_value`), and compiled (a rule that passes dC on unchanged, `ops.elementwise.unchanged`, becomes
an assignment). Later backward passes over a graph of that shape run it: no heap, no pending dict, no
per-node dispatch. The plain loop stays the reference; `tests/test_backward_plan.py` checks on random
graphs that both give bit-identical gradients.

A plan first checks, before it touches anything, that the graph is the shape it was written for and
that nothing needs the general loop: every node the same op, inputs that are the same nodes or leaves,
creation order as recorded, no hooks on a leaf, and every node newer than the last in-place update,
hook registration and freeing backward (versions.INPLACE, HOOKED_OR_FREED: so no node has hooks, a
changed input or freed values). If anything differs it returns False and `_run` does the work (and
raises its errors).
Only plain `backward()` calls use plans: not `grad()`, `create_graph=True`, `inputs=` or anomaly mode.

    from tinygrad_lite.backward_plan import PLANS
    PLANS.enabled = False          # every backward through _run (TINYGRAD_LITE_PLANS=0 at start-up;
                                   # TINYGRAD_LITE_PLANS=always writes a plan at the first sight of a shape)
    print(PLANS.plans_for(loss._op)[0].source)   # the code written for a graph
"""
import os

import numpy as np

from .autograd import (FREED, _NEEDS_ONE, _SMALL, _accumulate, _dense, _fit, _joint_rule, _release_value,
                       _summed, _to_leaf)
from .grad_mode import GRAD
from .ops import REGISTRY, EachInput
from .ops.elementwise import unchanged
from .tensor import Tensor
from .versions import HOOKED_OR_FREED, INPLACE, next_seq

MAX_NODES = 1000      # larger graphs stay with the loop (the code to compile grows with the graph)
PLANS_PER_ROOT = 4    # plans kept per root op (a model with a few step shapes)
GIVE_UP_AFTER = 32    # misses beyond the hits after which a root op is left to the loop (graphs that change)


class Plans:
    """The plans, per root op: `run(root, seed, retain)` runs a matching plan (True) or returns False."""

    def __init__(self):
        choice = os.environ.get("TINYGRAD_LITE_PLANS", "1").strip()
        self.enabled = choice != "0"
        self.eager = choice == "always"  # write a plan the first time a shape is seen (to test plans everywhere)
        self._by_op = {}

    def run(self, root, seed, retain):
        entry = self._by_op.get(root._op)
        if entry is None:
            entry = self._by_op[root._op] = _Entry()
        for plan in entry.plans:
            if plan.fn(root, seed, retain):
                plan.runs += 1
                return True
        entry.missed(root, self.eager)
        return False

    def plans_for(self, op):
        entry = self._by_op.get(op)
        return list(entry.plans) if entry is not None else []

    def clear(self):
        self._by_op.clear()


class _Entry:
    """The plans of one root op and the last shape seen without one (a plan is written when it repeats)."""
    __slots__ = ("plans", "last_shape", "misses")

    def __init__(self):
        self.plans, self.last_shape, self.misses = [], None, 0

    def missed(self, root, eager=False):
        """No plan served root's graph: write one if its shape is the last one missed (or eager)."""
        self.misses += 1
        if self.misses > GIVE_UP_AFTER + sum(p.runs for p in self.plans):  # (more misses than hits)
            self.plans, self.last_shape = [], None
            return
        shape = graph_shape(root)
        if shape is not None and (eager or shape == self.last_shape):
            self.plans = [Plan(shape)] + self.plans[:PLANS_PER_ROOT - 1]
            self.last_shape = None
        else:
            self.last_shape = shape


def graph_shape(root):
    """The shape of the graph behind root as _run walks it: per node, newest first, (op, number of
    inputs, each input as the position of its node or -1 for a leaf). None when a plan cannot serve it."""
    nodes, stack, seen = [], [root], {root}
    while stack:
        t = stack.pop()
        if not _plannable(t) or len(seen) > MAX_NODES:
            return None
        nodes.append(t)
        for x in t._inputs:
            if x._op is not None and x not in seen:
                seen.add(x)
                stack.append(x)
            elif x._op is None and x._hooks is not None:
                return None
    nodes.sort(key=lambda t: -t._seq)
    where = {t: i for i, t in enumerate(nodes)}
    return tuple((t._op, len(t._inputs), tuple(where.get(x, -1) if x._op is not None else -1 for x in t._inputs))
                 for t in nodes)


def _plannable(t):
    op = t._op
    return REGISTRY.get(op.name) is op and max(INPLACE.last, HOOKED_OR_FREED.last) < t._seq


class Plan:
    """The backward pass of one graph shape, as code: `fn(root, seed, retain) -> bool`, `source`."""

    def __init__(self, shape):
        self.shape, self.runs = shape, 0
        self.source, names = _write(shape)
        namespace = {"FREED": FREED, "INPLACE": INPLACE, "HOOKED_OR_FREED": HOOKED_OR_FREED, "GRAD": GRAD,
                     "_next_seq": next_seq, "_ndarray": np.ndarray, "_SMALL": _SMALL, "_NEEDS_ONE": _NEEDS_ONE,
                     "_leaf": Tensor._leaf, "_fit": _fit, "_dense": _dense, "_to_leaf": _to_leaf, "_pend": _pend,
                     "_accumulate": _accumulate,
                     "_release_value": _release_value,
                     "_joint_rule": _joint_rule, **names}
        exec(compile(self.source, f"<backward plan: {len(shape)} nodes>", "exec"), namespace)
        self.fn = namespace["backward_plan"]


def _pend(prev, prev_shared, gx, g):
    """A gradient gx sent by a node whose own gradient is g, added to the pending prev: (sum, shared)."""
    if gx is None:
        return prev, prev_shared
    if prev is None:
        return gx, not (gx is not g and type(gx) is np.ndarray and gx.base is None)
    return _summed(prev, gx, prev_shared), False  # (a sum is the engine's own buffer)


def _write(shape):
    """The source of a plan for `shape` and the names it uses (ops, rules)."""
    names, run = {}, []
    users = {}                                          # node -> [(user, position)]
    for c, (op, n, refs) in enumerate(shape):
        for p, k in enumerate(refs):
            if k >= 0:
                users.setdefault(k, []).append((c, p))
    pending = set()  # nodes whose gradient is summed by _pend: it may come in parts, or not at all (a joint
    for k in sorted(users):  # rule may send None; then the node's block and those it feeds are skipped)
        if len(users[k]) > 1 or any(shape[c][0].joint is not None or c in pending for c, _ in users[k]):
            pending.add(k)
    needs_shared = pending | {c for c, (op, n, refs) in enumerate(shape) if op.views and -1 in refs}
    check, leaves, same = [], {}, []
    for c, (op, n, refs) in enumerate(shape):          # the checks: nothing runs until they all pass
        names[f"OP{c}"] = op
        check.append(f"    if n{c}._op is not OP{c}:\n        return False")
        if op.joint is not None or isinstance(op.vjps, EachInput):  # (rows of any number of inputs)
            check.append(f"    if len(n{c}._inputs) != {n}:\n        return False")
        unpacked = []
        for p, k in enumerate(refs):
            if k < 0:
                unpacked.append(leaves.setdefault((c, p), f"l{c}_{p}"))
            elif users[k][0] == (c, p):
                unpacked.append(f"n{k}")
            else:
                unpacked.append(f"u{c}_{p}")
                same.append(f"u{c}_{p} is not n{k}")
        check.append(f"    {', '.join(unpacked)}{',' if n == 1 else ''} = n{c}._inputs")
    # newest first, as recorded, and all newer than the last in-place update, hook and freeing backward
    check.append(f"    if not last < {' < '.join(f'n{c}._seq' for c in reversed(range(len(shape))))}:\n"
                 "        return False")
    fails = same + [f"{x}._op is not None or {x}._hooks is not None" for x in leaves.values()]
    if fails:
        check.append("    if (" + "\n            or ".join(fails) + "):\n        return False")
    run += [f"g{k} = None\ns{k} = False" for k in sorted(pending)] + (["s0 = True"] if 0 in needs_shared else [])
    for c, (op, n, refs) in enumerate(shape):
        run += _node_block(c, op, n, refs, names, leaves, users, pending, needs_shared)
    return ("def backward_plan(n0, g0, retain):\n    last = max(INPLACE.last, HOOKED_OR_FREED.last)\n" +
            "\n".join(check) +
            "\n    if not retain:\n        HOOKED_OR_FREED.last = _next_seq()\n"
            "    mode = GRAD.enabled\n    GRAD.enabled = False\n    try:\n" + _indent("\n".join(run), " " * 8) +
            "\n    finally:\n        GRAD.enabled = mode\n    return True\n"), names


def _node_block(c, op, n, refs, names, leaves, users, pending, needs_shared):
    """The code of one node: its rules on its gradient g{c}, each result sent on, what it saved freed."""
    g, vals, head = f"g{c}", ", ".join(f"a{p}" for p in range(n)), f"g{c}, n{c}._data, n{c}._args"
    # (the root's gradient is backward's seed, an array; no node needs _run's version check: the plan's checks
    # found every node newer than the last in-place update, and rules update nothing in place)
    out = [f"if type({g}) is not _ndarray:\n    {g} = _dense({g})"] if c else []
    inputs = [leaves[c, p] if k < 0 else f"n{k}" for p, k in enumerate(refs)]
    out += [f"a{p} = {x}._data" for p, x in enumerate(inputs)]
    if op.joint is not None and n == 1:
        out.append(f"r0 = OP{c}.joint({head}, n{c}._ctx, _NEEDS_ONE, a0)[0]")
    elif op.joint is not None:
        out.append(f"{', '.join(f'r{p}' for p in range(n))}, = _joint_rule(OP{c}, {head}, n{c}._ctx, "
                   f"n{c}._inputs, ({vals},), None)")
    else:
        for p in range(n):
            names[f"V{c}_{p}"] = op.vjps[p]
            call = g if op.vjps[p] is unchanged else f"V{c}_{p}({head}, {vals})"
            # (an input that is a node requires grad: it was recorded; only a leaf may not)
            maybe = n > 1 and refs[p] < 0
            out.append(f"r{p} = {call} if {inputs[p]}.requires_grad else None" if maybe else f"r{p} = {call}")
    maybe_none = [op.joint is not None or (n > 1 and k < 0) for k in refs]
    for p in range(n):
        misfit = f"r{p}.shape != a{p}.shape or r{p}.dtype is not a{p}.dtype"  # (summed back, cast: _fit)
        misfit = f"r{p} is not None and ({misfit})" if maybe_none[p] else misfit
        out.append(f"if {misfit}:\n    r{p} = _fit(r{p}, a{p})")
    for p, k in enumerate(refs):                        # send each gradient on, in input order as _run does
        r, x = f"r{p}", inputs[p]
        owned = f"{r} is not {g} and type({r}) is _ndarray and {r}.base is None"
        if k < 0:
            send = _to_leaf_code(c, op, x, r, owned)
            out.append(f"if {r} is not None:\n" + _indent(send) if maybe_none[p] else send)
        elif k in pending:
            out.append(f"g{k}, s{k} = _pend(g{k}, s{k}, {r}, {g})")
        else:
            out.append(f"g{k} = {r}" + (f"\ns{k} = not ({owned})" if k in needs_shared else ""))
    # the references to n{c} _release_value may count besides the plan's own: its users' inputs; the root's
    # caller (backward's argument) and Plans.run's, as _run counts the roots list and the shared set
    refs_held = 2 if c == 0 else len(users[c])
    out.append(f"if not retain:\n    n{c}._ctx = FREED\n    if n{c}._data.nbytes > _SMALL:\n"
               f"        _release_value(n{c}, {refs_held})")
    out.append(f"{g} = None")
    body = "\n".join(out)
    return [f"# {op.name}", f"if {g} is not None:\n" + _indent(body) if c in pending else body]


def _to_leaf_code(c, op, x, r, owned):
    """The code that delivers r into the leaf x's .grad: _to_leaf's first case written out."""
    if op.views:
        borrow = "True" if c == 0 else f"not s{c}"
        return f"if {x}._grad is None and {owned}:\n    {x}._grad = _leaf({r})\n" \
               f"else:\n    _to_leaf({x}, {r}, {owned}, {borrow})"
    # (a row that hands out no views: nothing to borrow, and what _to_leaf does in its other cases is _accumulate)
    return f"o = {owned}\nif o and {x}._grad is None:\n    {x}._grad = _leaf({r})\n" \
           f"else:\n    _accumulate({x}, {r}, False, not o)"


def _indent(text, by="    "):
    return "\n".join(by + ln for ln in text.split("\n"))


PLANS = Plans()
