"""The registry of primitive ops: each op's forward and its vector-Jacobian products side by side.

A primitive is a row: `defop(name, fwd, vjp_for_input_0, vjp_for_input_1, ..., forward=..., math=..., rule=...)`:
the numpy code and every text about the op (its formula, derivative, backward rule, symbols) in one
place, which graphs, explain_backward and the explorer read.

* `fwd(args, *arrays) -> array` computes the result with numpy; `args` holds the op's
  non-tensor parameters (an axis, a shape, an exponent) or None. Rows never write into `args`.
* `vjp_i(g, ans, args, *inputs) -> gradient for input i`: `g` is the gradient flowing into the
  result, `ans` the result itself. The rules are written once with operators and the helpers
  below, which work on numpy arrays and on Tensors alike: a plain backward pass runs them on raw
  arrays, `create_graph=True` runs the same rule on Tensors so that it is itself recorded.
  Every rule is pure: it reads its arguments, never state left by another rule.
* A row whose backward needs more than its inputs and result (layer norm's statistics, the
  softmax of cross-entropy, a custom Function's ctx) declares `saves=`, its forward returns
  `(result, saved)`, and the tensor keeps `saved` in its `_ctx` slot (PyTorch's ctx) until
  backward frees it. Such rows, and rows whose input gradients share work, give ONE rule for all
  inputs: `defop(name, fwd, joint=rule)` with `rule(g, ans, args, saved, needs, *inputs) -> tuple`
  (`needs[i]`: whether input i wants a gradient; None in the result where it does not).
* A vjp may return a gradient whose shape broadcasts to its input's shape; the engine sums it
  back to the input's shape in one place (`sum_to`), so no rule handles broadcasting itself.

Everything else (sub, mean, var, softmax's cousins, layer norm, attention...) is composed from
these rows, so composed ops get correct gradients for free.
"""
import re
from functools import lru_cache
from math import prod

import numpy as np

REGISTRY = {}


# The symbols every row's `math` and `rule` may use without defining them (besides its inputs' names
# and `d<input>`, the gradient sent to that input); explain_backward states them once.
COMMON_SYMBOLS = {
    "C": "the op's result",
    "dC": "the gradient flowing into the result C (from the ops that used C)",
    "g": "the same as dC (in the math lines)",
    "i, j, k": "indices (x_i is the i-th entry of x; ᵀ transposes, Σ sums)",
}


class Op:
    """One primitive, every fact about it in one place:

    name    the registry key (also the op's name in errors, graphs and `grad_fn`)
    fwd     the numpy forward, `fwd(args, *arrays)`
    vjps    one rule per tensor input (None: that input never gets a gradient), or
    joint   one rule for all inputs (see the module docstring); then `vjps` is empty
    forward the forward formula in the inputs' names, `x * y` (shown as `C = x * y`)
    math    the derivative in words, `d(x*y)/dx = y`
    rule    the backward rule as the engine applies it, with dC for the gradient of the result, one
            clause `d<input> = formula` per input (`dx = dC * y, dy = dC * x`; `input_rules` splits it)
    saves   what the backward keeps alive from the forward (a teaching aid for memory use)
    inputs  the names the rule gives the inputs (`("A", "B")` for matmul); `None` for variadic ops
    reads   False when the rules use only g and shapes (add, reshape, sum...): an in-place change
            of an input cannot corrupt their gradient, so the version check skips them
    broadcasts  True when the inputs broadcast against each other (add, mul, where, expand...): the
            engine then sums an input's gradient back over the broadcast dims (graphs mark it)
    symbols {symbol: meaning} for every symbol `math` and `rule` use beyond the inputs' names, dC,
            C and the common functions (`r_i`: "row i's weight in the reduction"); explain_backward
            prints them, and a test checks that no row's text uses a symbol it does not define
    views   True when the rules hand each input a view of dC, views of different inputs never
            overlapping (reshape, cat): a leaf may then keep a row-major view as its .grad without a
            copy, as PyTorch does, when dC is the caller's gradient or the engine's own buffer
            (autograd._to_leaf); a later gradient is added out of place, never into the view
    """
    __slots__ = ("name", "fwd", "vjps", "joint", "math", "rule", "saves", "inputs", "reads", "broadcasts",
                 "symbols", "views", "forward")

    def __init__(self, name, fwd, vjps, math, reads=True, joint=None, rule="", saves=(), inputs=None,
                 broadcasts=False, symbols=None, views=False, forward=""):
        self.name, self.fwd, self.vjps, self.math, self.reads = name, fwd, vjps, math, reads
        self.joint, self.rule, self.saves, self.inputs = joint, rule or math, tuple(saves), inputs
        self.broadcasts, self.symbols, self.views, self.forward = broadcasts, dict(symbols or {}), views, forward

    def __repr__(self):
        return f"Op({self.name}: {self.math})"

    def input_names(self, n):
        """The names of the op's n inputs as its rule calls them (x, y / A, B / x0, x1, ...)."""
        if self.inputs is not None and len(self.inputs) == n:
            return self.inputs
        return ("x",) if n == 1 else tuple(f"x{i}" for i in range(n))

    def input_rules(self, n):
        """Each of the n inputs' gradient formula, read from `rule`: ("dC * y", "dC * x") for mul's
        `dx = dC * y, dy = dC * x`; None for an input the rule has no `d<input> = ...` clause for.
        Clauses that define a helper symbol (`s = ...`, `with dx̂ = ...`) are left out (the whole rule
        shows them); a variadic rule's `dxᵢ = ...` serves every input, xᵢ written as its name."""
        return _input_rules(self.rule, self.input_names(n), self.inputs is None)


@lru_cache(maxsize=1024)
def _input_rules(rule, names, variadic):
    found, current = {}, None
    for sep, clause in _clauses(rule):
        m = _GRAD_CLAUSE.match(clause)
        if m and (m.group(1) in names or variadic and m.group(1) == "xᵢ"):
            current = m.group(1)
            found[current] = m.group(2).strip()
        elif _DEFINITION.match(clause):
            current = None
        elif current is not None:  # a continuation: `zeros(W.shape) with the rows of dC added ...`
            found[current] += sep + clause
    if variadic and "xᵢ" in found:
        return tuple(found["xᵢ"].replace("xᵢ", nm) for nm in names)
    return tuple(found.get(nm) for nm in names)


# a rule's clauses: split at ", ", "; ", ": " and " with " outside brackets (where(c, dC, 0) stays whole)
_SEPARATORS = (", ", "; ", ": ", " with ")
_GRAD_CLAUSE = re.compile(r"d([^\W\d]\w*)\s*=(?!=)(.*)", re.S)  # `dx = ...` (not `dx̂ = ...`: \u0302 is no \w)
_DEFINITION = re.compile(r"[^\W\d][\w\u0302]*\s*(?:\([^)]*\)|\[[^\]]*\])?\s*=(?!=)")  # s = / Φ(x) = / cols[k, o] =


def _clauses(text):
    """[(separator before it, clause)] of a rule text, split at its top-level separators."""
    out, depth, start, sep, i = [], 0, 0, "", 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            hit = next((s for s in _SEPARATORS if text.startswith(s, i)), None)
            if hit:
                out.append((sep, text[start:i].strip()))
                sep, start = hit, i + len(hit)
                i = start
                continue
        i += 1
    out.append((sep, text[start:].strip()))
    return [(s, c) for s, c in out if c]


def defop(name, fwd, *vjps, math="", rule="", saves=(), inputs=None, reads=True, joint=None, broadcasts=False,
          symbols=None, views=False, forward=""):
    """Register a primitive (see the module docstring and `Op` for the fields)."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is already registered")
    if len(vjps) == 1 and isinstance(vjps[0], EachInput):  # a variadic op: one rule serves every input
        vjps = vjps[0]
    if inputs is None and not isinstance(vjps, EachInput):
        n = len(vjps)
        inputs = ("x",) if n == 1 else ("x", "y") if n == 2 else None
    op = REGISTRY[name] = Op(name, fwd, vjps, math, reads, joint, rule, saves, inputs, broadcasts, symbols, views,
                             forward)
    return op


class EachInput:
    """vjps of a variadic op (cat): `rule(i, g, ans, args, *inputs)` serves input number i."""
    __slots__ = ("rule",)

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        rule = self.rule
        return lambda g, ans, args, *xs: rule(i, g, ans, args, *xs)

    def __len__(self):
        return 1 << 30


class LazyGrad:
    """A gradient kept in a compact form until the engine needs it whole: the slice gradient of
    x[1:3] (ops/movement.SliceGrad), the row-sparse gradient of an embedding (sparse.RowSparseGrad).
    The engine uses two methods: `dense()` -> a fresh ndarray of the full shape, and
    `add_into(buf)` -> buf with this gradient added in place. `stays_sparse` is True when a leaf's
    .grad keeps the compact object (optimizers that update only the touched rows)."""
    __slots__ = ()
    stays_sparse = False

    def dense(self):
        raise NotImplementedError

    def add_into(self, buf):
        raise NotImplementedError


# ---- helpers that work on numpy arrays and on Tensors (the Tensor versions are recorded) ----
# They tell the two apart by the array types (numpy arrays, numpy scalars), so this package never
# needs the Tensor class; for a Tensor they call its methods.
_ARRAYS = (np.ndarray, np.generic, float, int)


def is_array(x):
    """True for a numpy array or scalar (numpy returns 0-d results as scalars), False for a Tensor."""
    return type(x) is np.ndarray or isinstance(x, _ARRAYS)


def exp(x):
    return np.exp(x) if is_array(x) else x.exp()


def log(x):
    return np.log(x) if is_array(x) else x.log()


def sign(x):
    return np.sign(x) if is_array(x) else x.sign()


def where(cond, a, b):
    """np.where for arrays; for Tensors the recorded `where` op (via the Tensor at hand)."""
    if is_array(a) and is_array(b):
        return np.where(cond if is_array(cond) else np.asarray(cond), a, b)
    t = b if is_array(a) else a
    return t._where(cond, a, b)


def broadcast_to(x, shape):
    """x repeated along its size-1 dims (a read-only view for arrays: no memory is written)."""
    if type(x) is not np.ndarray:
        if not is_array(x):
            return x.expand(shape)
        x = np.asarray(x)  # a numpy scalar: numpy returns 0-d results as scalars
    if x.flags.c_contiguous and (x.ndim == 0 or (x.ndim == len(shape) and
                                                 all(s == 1 or s == n for s, n in zip(x.shape, shape)))):
        # np.broadcast_to costs ~2 us in Python; building the zero-stride view directly ~0.3 us
        st = (0,) * len(shape) if x.ndim == 0 else \
            tuple(0 if s != n else t for s, n, t in zip(x.shape, shape, x.strides))
        v = np.ndarray(shape, x.dtype, x, 0, st)
        v.flags.writeable = False
        return v
    return np.broadcast_to(x, shape)


def permute(x, axes):
    return x.transpose(axes) if is_array(x) else x.permute(axes)


def swap_last(x):
    return x.swapaxes(-1, -2) if type(x) is np.ndarray else x.transpose(-1, -2)


def cast(x, dtype):
    return x.astype(dtype, copy=False) if is_array(x) else x.to(dtype)


# ---- fast reductions over the last axis / the leading axes (numpy arrays; Tensors take the plain route)
# numpy reduces a short contiguous axis slowly (x.sum(-1) on (128, 10) 3.7 us, on (32, 4, 64, 64) 248 us);
# a BLAS matrix-vector product with a vector of ones gives the same sums 3-5x faster (1.1 us, 51 us), and
# argmax plus a gather finds row maxima ~2x faster than x.max(-1) (3.2 vs 10 us; 451 vs 902 us). Rows
# longer than _BLAS_ROW keep numpy's pairwise summation, which is more accurate for long float32 sums.
_BLAS_ROW = 8192
_ONES_VEC = {}


def _ones(n, dtype):
    """A read-only vector of n ones, cached (a few sizes recur: row lengths, batch sizes)."""
    v = _ONES_VEC.get((n, dtype))
    if v is None:
        if len(_ONES_VEC) >= 64:  # many distinct sizes (varying batch lengths): start over, stay small
            _ONES_VEC.clear()
        v = _ONES_VEC[(n, dtype)] = np.ones(n, dtype)
        v.flags.writeable = False
    return v


def _blas_ok(x):
    return type(x) is np.ndarray and (x.dtype == np.float32 or x.dtype == np.float64) and x.flags.c_contiguous \
        and x.ndim > 0 and x.size > 0


def sum_last(x):
    """x.sum(axis=-1, keepdims=True): (..., n) -> (..., 1); a BLAS product with ones for float arrays."""
    n = x.shape[-1] if x.ndim else 0
    if not _blas_ok(x) or n > _BLAS_ROW:
        return x.sum(axis=-1, keepdims=True)
    return (x.reshape(-1, n) @ _ones(n, x.dtype)).reshape(x.shape[:-1] + (1,))


def max_last(x):
    """x.max(axis=-1, keepdims=True): (..., n) -> (..., 1); argmax and a gather for float arrays (NaN wins, as in max)."""
    if not _blas_ok(x):
        return x.max(axis=-1, keepdims=True)
    n = x.shape[-1]
    x2 = x.reshape(-1, n)
    return x2[np.arange(x2.shape[0]), x2.argmax(axis=1)].reshape(x.shape[:-1] + (1,))


def sum_to(g, shape):
    """Sum a gradient over the dimensions that broadcasting added or stretched, back to `shape`.

    This is the single place where broadcasting is undone; ops never do it themselves."""
    lead = g.ndim - len(shape)
    if lead:
        n = prod(g.shape[:lead])
        if n <= _BLAS_ROW and _blas_ok(g):  # e.g. a bias gradient: ones @ g over the batch rows
            rest = g.shape[lead:]
            g = _ones(n, g.dtype) @ g.reshape(n, -1)
            if len(rest) != 1:
                g = g.reshape(rest)  # (a 1-D result needs no reshape, so it stays a fresh, owned buffer)
        else:
            g = g.sum(axis=tuple(range(lead)))  # dims broadcasting added in front
    if 1 in shape:
        axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)  # size-1 dims that broadcasting stretched
    return g


def _load():
    from . import elementwise, reduce, movement, linalg, special, nn, fused  # noqa: F401  (registers the rows)
    from . import extra  # noqa: F401  (sin, cos, cumsum, flip, roll, einsum, scatter)
    from . import products  # noqa: F401  (prod, log1p, expm1)
    from . import embedding_bag  # noqa: F401  (F.embedding_bag's row)
    from . import embedding_dot  # noqa: F401  (tinygrad_lite.sparse.embedding_dot's row)
    from . import special_more  # noqa: F401  (erfc, erfinv, lgamma, polygamma)


_load()
