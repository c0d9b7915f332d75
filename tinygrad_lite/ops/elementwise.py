"""Elementwise primitives. Each row: forward, then d(result)/d(input) applied to the incoming g."""
import numpy as np

from . import cast, defop, is_array, log, sign, where
from .chunked import chunked
from .compiled_math import exp32
from .jit import elementwise32, kernel
from .numpy_fast import maximum0, minimum0, zero_of


def _relu_fwd(args, x):
    return maximum0(x)  # (against a row of zeros: 7x faster than np.maximum(x, 0) on big float32 arrays)


def _sigmoid_ref(x):
    """The plain formula: exp never overflows, exp(min(x, 0)) / (1 + exp(-|x|)) is 1/(1+e^-x) for x >= 0
    and e^x/(1+e^x) otherwise (the reference the fast path is tested against)."""
    return (np.exp(minimum0(x)) / (np.exp(-np.abs(x)) + 1.0)).astype(x.dtype, copy=False)


def _sigmoid_chunk(o, x, s):
    # e^x / (1 + e^x): 3 passes instead of the reference's 7 (no |x|, no mask, no negation); it is the
    # reference bit for bit for x < 0 (subnormal and underflowing tails included) and within 4 ulp for
    # x >= 0 (no cancellation: both roundings are relative). Where e^x = inf (x > 88.7 in float32, 709.8 in
    # float64, or +inf) inf / inf is NaN: the caller's errstate raises there (after the whole piece is
    # written), and sigmoid is 1.0 to the last bit.
    e = s[0]
    try:
        np.exp(x, out=o)
    except FloatingPointError:  # (overflow: e^x = inf, found again below)
        pass
    np.add(o, 1.0, out=e)
    try:
        np.divide(o, e, out=o)
    except FloatingPointError:  # (invalid: inf / inf)
        o[np.isinf(e)] = 1.0


def _fast_float(x):
    """A float32/float64 array worth the chunked kernels (0-d results and ints take the plain formula)."""
    return type(x) is np.ndarray and x.ndim > 0 and (x.dtype == np.float32 or x.dtype == np.float64)


# Sigmoid's passes are light (exp is the one heavy pass): pieces of CHUNK elements cost ~1 us of Python per
# numpy call, 20% of sigmoid on 1024x1024 float32 (forward 0.73 ms; 0.61 ms in one piece, measured), so
# they run on pieces of _SIGMOID_PIECES CHUNKs (4 MiB of float32 arrays in one piece, larger ones in pieces
# that still fit the L3 cache)
_SIGMOID_PIECES = 32


_ZERO32, _ONE32 = np.float32(0.0), np.float32(1.0)


@kernel
def _sigmoid32(x, out):
    """out <- sigmoid(x) over 1-d float32 arrays: (1 or e) / (1 + e), e = exp(-|x|) (no overflow; within
    2 ulp of the correctly rounded value, measured)."""
    for i in range(x.size):
        v = x[i]
        e = exp32(-abs(v), _ZERO32)
        out[i] = (_ONE32 if v >= _ZERO32 else e) / (_ONE32 + e)


@kernel
def _sigmoid_grad32(g, ans, out):
    """out <- (g (1 - s)) s over 1-d float32 arrays: the chunked kernel's operations in its order."""
    for i in range(ans.size):
        s = ans[i]
        out[i] = g[i] * (_ONE32 - s) * s


def _jit_float32(x):
    """A float32 array for sigmoid's compiled loops: they beat the chunked passes at every size (measured:
    1.0 vs 4.9 us forward at 64 elements, 0.57 vs 1.1 ms at 1M); 0-d arrays keep the plain formula."""
    return type(x) is np.ndarray and x.dtype == np.float32 and x.ndim > 0


def _sigmoid_fwd(args, x):
    if _sigmoid32 is not None and _jit_float32(x):
        return elementwise32(_sigmoid32, x)
    if not _fast_float(x):
        return _sigmoid_ref(x)
    with np.errstate(over="raise", invalid="raise"):  # (e^x = inf: handled in the chunk, found by the flags)
        return chunked(_sigmoid_chunk, np.empty(x.shape, x.dtype), x, scratch=1, size=_SIGMOID_PIECES)


def _sigmoid_grad_chunk(o, ans, g, s):
    np.subtract(1.0, ans, out=o)  # (g (1 - s)) s in PyTorch's order
    o *= g
    o *= ans


def _sigmoid_dx(g, ans, args, x):
    if (_sigmoid_grad32 is not None and _jit_float32(ans) and type(g) is np.ndarray and g.dtype == np.float32
            and g.shape == ans.shape):
        return elementwise32(_sigmoid_grad32, g, ans)
    if _fast_float(ans) and is_array(g) and np.shape(g) == ans.shape:
        return chunked(_sigmoid_grad_chunk, np.empty(ans.shape, ans.dtype), ans, g, scratch=0, size=_SIGMOID_PIECES)
    return g * (1 - ans) * ans


def _pow_tensor_dy(g, ans, args, x, y):
    # d(x^y)/dy = x^y log x; PyTorch defines it as 0 where x == 0 and y >= 0 (instead of 0 * -inf)
    if is_array(x):
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) is masked out: no warning
            return np.where((x == 0) & (y >= 0), 0.0, g * ans * np.log(x))
    return where((x == 0) & (y >= 0), 0.0, g * ans * log(x))


def _ipow(x, p):
    """x ** p; for an array and a whole p with 2 < |p| <= 8, by products: numpy's power loop runs
    only 2, 0.5 and -1 fast (x**3 on 1024x1024 float32: 3.5 ms; x*x*x: 0.18 ms)."""
    if type(x) is not np.ndarray or x.ndim == 0 or x.dtype.kind != "f" or not isinstance(p, (int, float)) \
            or not float(p).is_integer() or not 2 < abs(p) <= 8:
        return x ** p
    k = int(abs(p))
    out = x * x                  # x^2
    if k >= 4:
        out *= out               # x^4
    if k >= 8:
        out *= out               # x^8
    for _ in range(k - (8 if k >= 8 else 4 if k >= 4 else 2)):
        out *= x
    if p < 0:
        np.divide(1.0, out, out=out)
    return out


def _pow_scalar_dx(g, ans, args, x):
    p = args  # the constant exponent
    if p == 0:
        return g * 0
    return g * (p * _ipow(x, p - 1))


def _max_dx(g, ans, args, x, y):
    # ties split the gradient in half, as PyTorch does
    return where(x == y, g * 0.5, where(x > y, g, 0.0))


def _max_dy(g, ans, args, x, y):
    return where(x == y, g * 0.5, where(x < y, g, 0.0))


def _clamp_fwd(args, x):
    lo, hi = args
    return np.clip(x, lo, hi)


def _clamp_dx(g, ans, args, x):
    lo, hi = args
    inside = x >= lo if hi is None else (x <= hi if lo is None else (x >= lo) & (x <= hi))
    return where(inside, g, 0.0)


def unchanged(g, ans, args, *inputs):
    """The rule d<input> = dC: the gradient passes on as it is (backward plans write it as an assignment)."""
    return g


ADD = defop("add", lambda args, x, y: x + y, unchanged, unchanged, forward="x + y", math="d(x+y)/dx = 1, d(x+y)/dy = 1", reads=False,
            rule="dx = dC, dy = dC", broadcasts=True)
SUB = defop("sub", lambda args, x, y: x - y, unchanged,
            lambda g, ans, args, x, y: -g, forward="x - y", math="d(x-y)/dx = 1, d(x-y)/dy = -1", reads=False,
            rule="dx = dC, dy = -dC", broadcasts=True)
MUL = defop("mul", lambda args, x, y: x * y,
            lambda g, ans, args, x, y: g * y,
            lambda g, ans, args, x, y: g * x, forward="x * y", math="d(x*y)/dx = y, d(x*y)/dy = x",
            rule="dx = dC * y, dy = dC * x", saves=("x", "y"), broadcasts=True)
DIV = defop("div", lambda args, x, y: x / y,
            lambda g, ans, args, x, y: g / y,
            lambda g, ans, args, x, y: -g * x / (y * y), forward="x / y", math="d(x/y)/dx = 1/y, d(x/y)/dy = -x/y^2",
            rule="dx = dC / y, dy = -dC * x / y²", saves=("x", "y"), broadcasts=True)
POW = defop("pow", lambda args, x, y: x ** y,
            lambda g, ans, args, x, y: g * y * x ** (y - 1),
            _pow_tensor_dy, forward="x^y", math="d(x^y)/dx = y x^(y-1), d(x^y)/dy = x^y log x",
            rule="dx = dC * y * x^(y-1), dy = dC * x^y * log x", saves=("x", "y", "result"), broadcasts=True)
POW_SCALAR = defop("pow_scalar", lambda args, x: _ipow(x, args), _pow_scalar_dx,
                   forward="x^p",
                   math="d(x^p)/dx = p x^(p-1) for a constant p", rule="dx = dC * p * x^(p-1)", saves=("x",),
                   symbols={"p": "the constant exponent (x ** p)"})
MAXIMUM = defop("maximum", lambda args, x, y: np.maximum(x, y), _max_dx, _max_dy,
                forward="max(x, y)", math="d max(x,y)/dx = [x>y] (+1/2 on ties)",
                rule="dx = dC * [x > y], dy = dC * [y > x] (ties split)", saves=("x", "y"), broadcasts=True)
MINIMUM = defop("minimum", lambda args, x, y: np.minimum(x, y),
                lambda g, ans, args, x, y: where(x == y, g * 0.5, where(x < y, g, 0.0)),
                lambda g, ans, args, x, y: where(x == y, g * 0.5, where(y < x, g, 0.0)),
                forward="min(x, y)", math="d min(x,y)/dx = [x<y] (+1/2 on ties)",
                rule="dx = dC * [x < y], dy = dC * [y < x] (ties split)", saves=("x", "y"), broadcasts=True)
NEG = defop("neg", lambda args, x: -x, lambda g, ans, args, x: -g,
            forward="-x", math="d(-x)/dx = -1", reads=False, rule="dx = -dC")
EXP = defop("exp", lambda args, x: np.exp(x), lambda g, ans, args, x: g * ans,
            forward="exp(x)", math="d exp(x)/dx = exp(x)",
            rule="dx = dC * exp(x)", saves=("result",))
LOG = defop("log", lambda args, x: np.log(x), lambda g, ans, args, x: g / x, forward="log(x)", math="d log(x)/dx = 1/x",
            rule="dx = dC / x", saves=("x",))
SQRT = defop("sqrt", lambda args, x: np.sqrt(x), lambda g, ans, args, x: g / (2 * ans),
             forward="sqrt(x)", math="d sqrt(x)/dx = 1/(2 sqrt(x))", rule="dx = dC / (2 sqrt(x))", saves=("result",))
ABS = defop("abs", lambda args, x: np.abs(x), lambda g, ans, args, x: g * sign(x),
            forward="|x|", math="d|x|/dx = sign(x)",
            rule="dx = dC * sign(x)", saves=("x",))
TANH = defop("tanh", lambda args, x: np.tanh(x), lambda g, ans, args, x: g * (1 - ans * ans),
             forward="tanh(x)", math="d tanh(x)/dx = 1 - tanh(x)^2", rule="dx = dC * (1 - tanh(x)²)", saves=("result",))
SIGMOID = defop("sigmoid", _sigmoid_fwd, _sigmoid_dx,
                forward="σ(x)",
                math="d σ(x)/dx = σ(x)(1 - σ(x))", rule="dx = dC * σ(x) * (1 - σ(x))", saves=("result",),
                symbols={"σ": "the sigmoid 1 / (1 + exp(-x)), the result"})


# relu's gradient is PyTorch's select, dC where C > 0 and 0 where C <= 0: a NaN result passes dC on, and an
# infinite dC where C is 0 gives 0 (a product with the mask would give inf * 0 = NaN there).
@kernel
def _relu_grad_loop(g, ans, out):
    """out <- 0 where ans <= 0, else g: C-contiguous arrays of one shape and float dtype (any ndim: flattened
    here, a view, so the caller makes no copies), one vectorised select (1024x1024 float32: 0.10 vs 0.22 ms
    for the mask product; 8x8: 0.5 vs 1.1 us)."""
    g, ans, o = g.reshape(-1), ans.reshape(-1), out.reshape(-1)
    for i in range(o.size):
        o[i] = 0 if ans[i] <= 0 else g[i]


def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _relu_grad_numpy(g, ans):
    """The select with numpy: the mask (not C <= 0: NaN passes) as floats times dC (a same-dtype product:
    numpy's bool * float32 product is slower; 8x8: 1.3 vs 2.9 us), then np.where where that product made a
    NaN (inf or NaN dC times a 0 of the mask; np.where throughout would be 17x slower on big arrays)."""
    m = (ans <= zero_of(ans.dtype)).astype(g.dtype)
    np.subtract(1, m, out=m)
    with np.errstate(invalid="ignore"):  # (inf * 0: replaced below)
        m *= g
    if not np.isfinite(np.add.reduce(m, axis=None)) and np.isnan(m).any():  # (one pass when all is finite)
        return np.where(ans <= 0, zero_of(g.dtype), g)
    return m


def _relu_dx(g, ans, args, x):
    if type(g) is np.ndarray and g.dtype == ans.dtype and g.dtype.kind == "f":
        if _relu_grad_loop is not None and g.shape == ans.shape:
            out = np.empty(ans.shape, ans.dtype)
            _relu_grad_loop(_c(g), _c(ans), out)  # (ans: relu's fresh result; of a transposed x, not C-ordered)
            return out
        return _relu_grad_numpy(g, ans)
    if is_array(g):  # (arrays of mixed dtypes)
        return np.where(ans <= 0, zero_of(np.result_type(g)), g)
    return g._where(ans <= 0, 0.0, g)  # create_graph: recorded (where's own rules: second order)


RELU = defop("relu", _relu_fwd, _relu_dx, forward="max(x, 0)", math="d relu(x)/dx = [x > 0]", rule="dx = dC * [x > 0]",
             saves=("result",))
CLAMP = defop("clamp", _clamp_fwd, _clamp_dx,
              forward="min(max(x, lo), hi)", math="d clamp(x,lo,hi)/dx = [lo <= x <= hi]",
              rule="dx = dC * [lo ≤ x ≤ hi]", saves=("x",),
              symbols={"lo": "the lower bound (min=)", "hi": "the upper bound (max=)"})
WHERE = defop("where", lambda args, c, x, y: np.where(c, x, y), None,
              lambda g, ans, args, c, x, y: where(c, g, 0.0),
              lambda g, ans, args, c, x, y: where(c, 0.0, g),
              forward="where(c, x, y)", math="d where(c,x,y)/dx = [c], /dy = [not c]",
              rule="dx = where(c, dC, 0), dy = where(c, 0, dC)", saves=("c",), inputs=("c", "x", "y"), broadcasts=True)
CAST = defop("cast", lambda args, x: x.astype(args), lambda g, ans, args, x: cast(g, x.dtype),
             forward="cast(x, dtype)",
             math="gradient cast back to the input dtype", reads=False, rule="dx = cast(dC, x.dtype)")
