"""Fused primitives for the transformer's hot path: layer norm and the attention softmax.

Composed from primitives, LayerNorm is ~9 graph nodes (mean, sub, mul, mean, add, sqrt, div,
mul, add) and the masked attention softmax 3 (mul, where, softmax), each allocating a full-size
temporary that the graph keeps alive until backward. As one row each they cost one forward
pass over memory, keep only what the gradient needs, and run one numpy expression in backward.

Rows (vjps work on arrays and on Tensors, so `create_graph=True` still works):

* `layer_norm(x, w, b)`, args `eps`: y = (x - mean) / sqrt(var + eps) * w + b over the last dim
  (biased variance, as PyTorch). The forward saves only (μ, 1/σ), of shape (..., 1); the one
  rule for all three inputs rebuilds x̂ once; the Tensor (double-backward) path recomputes all from x.
* `layer_norm_nobias(x, w)`: the same without b.
* `masked_softmax(x)`, args `(scale, hide)`: softmax over the last dim of scale * x with the
  positions where the bool array `hide` (broadcast against x) is True set to -inf first.
  d/dx = scale * s * (g - sum(g * s)); hidden positions have s = 0 and get no gradient.

Use the wrappers `layer_norm(x, w, b, eps)` and `masked_softmax(x, scale, hide)` below.
"""
import numpy as np

from . import _ones, defop, is_array, max_last, sum_last
from .norm_kernels import ln_backward, ln_forward
from .numpy_fast import add_outer
from .reduce import _rows_jit, _rows_jit_dx, _rows_jit_fwd, as_rows, softmax_dx_rows
from .sparse_matmul import csr_matmul


# ---------------------------------------------------------------------- layer norm
def _ln_stats(x, eps):
    """x̂ and 1/σ over the last dim; works on arrays and on Tensors."""
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    rstd = ((xc * xc).mean(axis=-1, keepdims=True) + eps) ** -0.5
    return xc * rstd, rstd


def _ln_fwd(args, x, w, b=None):
    """-> (y, (μ, 1/σ)): the small (..., 1) statistics are saved; x̂ is recomputed in backward."""
    if _ln_jit_ok(x, w):
        return _ln_fwd_jit(args, x, w, b)
    if _ln_fast_ok(x, w):
        return _ln_fwd_fast(args, x, w, b)
    eps, n = args, x.shape[-1]
    mu = sum_last(x) * (1.0 / n if n else np.nan)
    xc = x - mu
    var = np.einsum("...i,...i->...", xc, xc)[..., None] * (1.0 / n)
    rstd = 1.0 / np.sqrt(var + eps)
    xc *= rstd                                  # xc is now x̂ (in place: one temporary less)
    xc *= w
    if b is not None:
        xc += b
    return xc, (mu, rstd)


def _ln_grads(g, ans, args, saved, needs, x, w, b=None):
    """The one rule of layer_norm for x, w (and b): x̂ is computed once for all of them."""
    n = x.shape[-1]
    if not is_array(g):  # create_graph: the same math on Tensors, recorded
        xhat, rstd = _ln_stats(x, args)
        dxhat = g * w
        dx = (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)) * rstd
        return dx, g * xhat, (g if b is not None else None)  # (the engine sums dw, db over the leading dims)
    mu, rstd = saved
    if g.dtype == x.dtype and g.shape == x.shape and _ln_jit_ok(x, w):
        return _ln_grads_jit(g, x, w, rstd, needs, b is not None)
    if _ln_fast_ok(x, w) and g.dtype == x.dtype and g.shape == x.shape:
        return _ln_grads_fast(g, x, w, mu, rstd, needs, b is not None)
    xhat = x - mu
    xhat *= rstd                                # (in place: one full-size temporary, reused below)
    dx = dw = None
    if needs[1]:
        dw = np.einsum("ij,ij->j", g.reshape(-1, n), xhat.reshape(-1, n))
    if needs[0]:
        # d x̂/dx projects out the mean and the x̂ direction: (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / σ
        dx = g * w
        m1 = sum_last(dx) * (1.0 / n if n else np.nan)
        m2 = np.einsum("...i,...i->...", dx, xhat)[..., None] * (1.0 / n)
        dx -= m1
        xhat *= m2                              # (x̂ is not needed after this: dw took it above)
        dx -= xhat
        dx *= rstd
    return (dx, dw) if b is None else (dx, dw, g)  # db = g: the engine sums it over the batch dims


# The fast path (large float arrays): the same formulas, with numpy's broadcasts against a per-row (μ, 1/σ)
# or per-column (w, b) vector, which cost ~100 ns a row on top of the pass, replaced by BLAS rank-1 updates
# (numpy_fast.add_outer) and, for "each row its own multiple of x - μ", a diagonal sparse matrix times x - μ
# (sparse_matmul.csr_matmul, one pass). x is centred exactly (x - μ, as above), never split into x and μ
# terms. 1024x1024 float32, forward + backward: 2.3 -> 1.4 ms (bench/RESULTS.md, issue 12).
_LN_FAST_MIN = 1 << 14  # elements: below this the BLAS and sparse calls' own cost outweighs the passes saved


def _ln_fast_ok(x, w):
    """True when the fast path serves layer norm of the array x with gain w."""
    return type(x) is np.ndarray and 0 < x.size and x.size >= _LN_FAST_MIN \
        and (x.dtype == np.float32 or x.dtype == np.float64) and w.dtype == x.dtype


def _ln_centered(x, mu=None):
    """-> (xc, μ): xc (R, n) = x - μ for x's rows (any layout), μ (R,) the rows' means (computed here when
    not given)."""
    n = x.shape[-1]
    xc = np.empty((x.size // n, n), x.dtype)
    np.copyto(xc.reshape(x.shape), x)
    if mu is None:
        mu = xc @ _ones(n, x.dtype)
        mu *= 1.0 / n
    add_outer(xc, mu, _ones(n, x.dtype), -1.0)
    return xc, mu


def _ln_fwd_fast(eps, x, w, b=None):
    """_ln_fwd for a large float array: y = (1/σ ⊗ w) ∘ (x - μ) + 1 ⊗ b."""
    n = x.shape[-1]
    xc, mu = _ln_centered(x)
    var = np.matmul(xc[:, None, :], xc[:, :, None]).reshape(-1)  # the rows' x·x: BLAS dots, 2x einsum's speed
    var *= 1.0 / n
    var += eps
    rstd = np.sqrt(var, out=var)
    np.divide(1.0, rstd, out=rstd)
    # (y in its own buffer beside xc: 5-10% faster, measured, than scaling xc in place block by block)
    y = np.zeros(x.shape, x.dtype)              # (x's shape: a buffer of its own, no view, for the engine)
    y2 = add_outer(y.reshape(xc.shape), rstd, w)
    y2 *= xc
    if b is not None:
        add_outer(y2, _ones(y2.shape[0], y.dtype), b)
    stat = x.shape[:-1] + (1,)
    return y, (mu.reshape(stat), rstd.reshape(stat))


def _ln_grads_fast(g, x, w, mu, rstd, needs, bias):
    """The array rule for a large float array, with xc = x - μ and k1 = mean(g w)/σ, k2 = mean(g w xc)/σ³:
    dx = (1/σ ⊗ w) ∘ g - k2 xc - k1, dw = Σ g xc/σ (= Σ g x̂), db = g (the engine sums it)."""
    if not (needs[0] or needs[1]):
        return None, None, g
    n = x.shape[-1]
    r = x.size // n
    xc, _ = _ln_centered(x, mu.reshape(r))
    g2 = np.ascontiguousarray(g).reshape(r, n)
    rs = rstd.reshape(r)
    buf = np.empty(x.shape, x.dtype)            # g xc, then dx (a buffer of its own: the engine hands it to .grad)
    p = np.multiply(g2, xc, out=buf.reshape(r, n))
    dx = dw = None
    if needs[1]:
        dw = rs @ p
    if needs[0]:
        # the per-row factors in float64: 1/σ³ overflows float32 for σ < 1e-13 (eps = 0)
        r64 = rs.astype(np.float64)
        k2 = (p @ w) * r64 ** 3 * (1.0 / n)
        k1 = (g2 @ w) * r64 * (1.0 / n)
        dx, dx2 = buf, p
        dx2.fill(0)
        add_outer(dx2, rs, w)
        dx2 *= g2
        # dx -= k2 xc: a diagonal sparse matrix times xc (one pass, where numpy's k2[:, None] * xc broadcasts)
        csr_matmul(np.negative(k2, dtype=x.dtype), *_diagonal(r), (r, r), xc, out=dx2)
        add_outer(dx2, np.negative(k1, dtype=x.dtype), _ones(n, x.dtype))
    return (dx, dw) if not bias else (dx, dw, g)


# The compiled path (numba, ops/norm_kernels.py, when installed and on): one loop over the rows, each row
# (in L1) walked 3 times forward and 3 times backward, x and g read once from memory. Forward + backward
# through F.layer_norm, float32 and float64 (measured, bench/RESULTS.md): 2.2-2.9x faster than the better
# numpy path from 1x1 to 1024x1024 (8x8: 13 against 29 us; 1024x1024 float32: 0.63 against 1.5 ms), even
# (1.0x) on 4096 rows of 1, so it serves every non-empty array.
_LN_JIT_MIN = 1  # elements


def _ln_jit_ok(x, w):
    """True when the compiled kernels serve layer norm of the array x with gain w."""
    return ln_forward is not None and type(x) is np.ndarray and x.size >= _LN_JIT_MIN \
        and (x.dtype == np.float32 or x.dtype == np.float64) and w.dtype == x.dtype


def _ln_fwd_jit(eps, x, w, b=None):
    """_ln_fwd by the compiled kernel."""
    n = x.shape[-1]
    x2 = as_rows(x, n)
    r = x2.shape[0]
    y = np.empty(x.shape, x.dtype)
    stat = x.shape[:-1] + (1,)
    mu, rstd = np.empty(stat, x.dtype), np.empty(stat, x.dtype)
    w = np.ascontiguousarray(w)
    ln_forward(x2, w, w if b is None else np.ascontiguousarray(b), eps, y.reshape(r, n), mu.reshape(r),
               rstd.reshape(r), b is not None)
    return y, (mu, rstd)


def _ln_grads_jit(g, x, w, rstd, needs, bias):
    """_ln_grads' array rule by the compiled kernel: dx, dw and db in one pass over x and g."""
    if not (needs[0] or needs[1]):
        return None, None, g
    n = x.shape[-1]
    x2 = as_rows(x, n)
    r = x2.shape[0]
    need_db = bias and needs[2]
    dx = np.empty(x.shape, x.dtype) if needs[0] else None
    dw = np.zeros(n if needs[1] else 0)         # float64 sums over the rows
    db = np.zeros(n if need_db else 0)
    ln_backward(as_rows(g, n), x2, np.ascontiguousarray(w), rstd.reshape(r),
                np.empty((0, n), x.dtype) if dx is None else dx.reshape(r, n), dw, db, needs[0], needs[1], need_db)
    dw = dw.astype(x.dtype, copy=False) if needs[1] else None
    if not bias:
        return dx, dw
    return dx, dw, (db.astype(x.dtype, copy=False) if need_db else None)


_DIAGONALS = {}


def _diagonal(r):
    """CSR column indices and row pointers of an (r, r) diagonal matrix, cached for the last few r (the
    batch's row count: the same every step)."""
    got = _DIAGONALS.get(r)
    if got is None:
        if len(_DIAGONALS) >= 8:
            _DIAGONALS.clear()
        dt = np.int32 if r < 2 ** 31 - 1 else np.int64
        got = _DIAGONALS[r] = (np.arange(r, dtype=dt), np.arange(r + 1, dtype=dt))
    return got


_LN_MATH = ("y = x̂ w + b, x̂ = (x - μ)/σ: dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂))/σ with dx̂ = g w, "
            "dw = Σ g x̂, db = Σ g")
_LN_SYMBOLS = {"μ": "the mean of x over the normalised (last) dims", "σ": "sqrt(variance of x + eps) over them",
               "x̂": "the normalised input (x - μ)/σ", "Σ": "summed over the batch (every dim but the normalised ones)"}
LAYER_NORM = defop("layer_norm", _ln_fwd, joint=_ln_grads, forward="x̂ w + b", math=_LN_MATH,
                   rule="dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / σ with dx̂ = dC w; dw = Σ dC x̂, db = Σ dC",
                   saves=("x", "μ", "σ", "w"), inputs=("x", "w", "b"), symbols=_LN_SYMBOLS)
LAYER_NORM_NOBIAS = defop("layer_norm_nobias", _ln_fwd, joint=_ln_grads,
                          forward="x̂ w", math="layer_norm without the bias input",
                          rule="dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)) / σ with dx̂ = dC w; dw = Σ dC x̂",
                          saves=("x", "μ", "σ", "w"), inputs=("x", "w"), symbols=_LN_SYMBOLS)


def layer_norm(x, weight, bias=None, eps=1e-5):
    """LayerNorm over the last dim as one graph node: x (..., C), weight (C,), bias (C,) or None -> (..., C).

    weight=None means a gain of 1 (pass ones)."""
    if weight is None:
        weight = x._leaf(np.ones(x.shape[-1], dtype=x.dtype))
    if x.shape[-1:] != weight.shape or (bias is not None and bias.shape != weight.shape):
        raise ValueError(f"layer_norm: input of shape {x.shape} needs weight/bias of shape ({x.shape[-1]},), got "
                         f"{weight.shape} and {None if bias is None else bias.shape}")
    eps = float(eps)
    req = x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    xd, wd = x._data, weight._data
    if wd.dtype != xd.dtype:
        wd = wd.astype(xd.dtype)
    if bias is None:
        op, inputs, (out, saved) = LAYER_NORM_NOBIAS, (x, weight), _ln_fwd(eps, xd, wd)
    else:
        bd = bias._data if bias._data.dtype == xd.dtype else bias._data.astype(xd.dtype)
        op, inputs, (out, saved) = LAYER_NORM, (x, weight, bias), _ln_fwd(eps, xd, wd, bd)
    return x._make_saving(out, saved, op, inputs, eps, req)


# ---------------------------------------------------------------------- masked, scaled softmax
def _msm_fwd(args, x):
    scale, hide = args
    s = x * scale if scale != 1.0 else x.copy()
    if hide is not None:
        np.copyto(s, -np.inf, where=hide)            # exp(-inf) = 0: hidden keys get no weight
    if _rows_jit(s, -1, forward=True):               # the compiled softmax (ops/reduce.py), when on
        return _rows_jit_fwd(s, False)[0]
    m = max_last(s)
    m[~np.isfinite(m)] = 0                           # a fully hidden row stays NaN (0/0), as in PyTorch
    s -= m
    np.exp(s, out=s)
    s /= sum_last(s)
    return s


def _msm_dx(g, ans, args, x):
    scale = args[0]  # args: (scale, hide)
    if is_array(g):
        if type(g) is np.ndarray and g.shape == ans.shape and g.dtype == ans.dtype and _rows_jit(ans, -1):
            gs = _rows_jit_dx(softmax_dx_rows, g, ans)
        else:
            gs = g * ans
            gs -= ans * sum_last(gs)
        if scale != 1.0:
            gs *= scale
        return gs
    return ans * (g - (g * ans).sum(axis=-1, keepdims=True)) * scale


MASKED_SOFTMAX = defop("masked_softmax", _msm_fwd, _msm_dx,
                       forward="softmax(scale x) (hidden entries get 0)",
                       math="s = softmax(scale x, hidden -> -inf): dx = scale s (g - Σ g s)",
                       rule="dx = scale * s * (dC - Σ dC s), s = softmax(scale x) (hidden entries get 0)",
                       saves=("result",),
                       symbols={"scale": "the factor applied before the softmax (1/sqrt(head size) in attention)",
                                "hidden": "the positions the mask hides: they count as -inf, so s is 0 there"})


def masked_softmax(x, scale=1.0, hide=None):
    """softmax(scale * x) over the last dim, with positions where `hide` is True excluded.

    x (..., T, S) float Tensor; hide: bool array/Tensor broadcastable to x (e.g. the causal mask
    (T, S) or a padding mask (B, 1, 1, S)), True = hidden. Returns (..., T, S), rows sum to 1."""
    from ..tensor_args import bool_mask
    if hide is not None:
        hide = bool_mask("masked_softmax", hide, x.shape)
    return x._unary(MASKED_SOFTMAX, (float(scale), hide))


