"""Rows that user scripts need beyond the core set and whose gradient needs a rule of its own:
prod (zeros in the input), log1p and expm1 (accurate near 0, where log(1 + x) and exp(x) - 1 lose
the digits), atan, asin, acos, atan2. Everything else of that surface (norm, diag, outer, pad, trace...) is composed from
rows in tinygrad_lite/tensor_more.py.

`prod`'s args are `(axes, keepdims)` as the other reductions (axes a tuple of non-negative ints, or
None for all axes)."""
import numpy as np

from . import defop, is_array


def _to_last(x, axes):
    """x with the reduced axes moved to the end and flattened into one: (kept..., n), and the kept shape."""
    nd = x.ndim
    red = tuple(range(nd)) if axes is None else axes
    kept = tuple(i for i in range(nd) if i not in red)
    perm = kept + red
    moved = x.transpose(perm) if is_array(x) else x.permute(perm)
    kshape = tuple(x.shape[i] for i in kept)
    n = int(np.prod([x.shape[i] for i in red], dtype=np.int64))
    return moved.reshape(kshape + (n,)), perm, kshape


def _from_last(y, x_shape, perm, kshape):
    """The inverse of _to_last for a result of shape (kept..., n)."""
    moved_shape = kshape + tuple(x_shape[i] for i in perm[len(kshape):])
    y = y.reshape(moved_shape)
    inv = tuple(np.argsort(perm))
    return y.transpose(inv) if is_array(y) else y.permute(inv)


def _others_product_array(x, axes):
    """For each element, the product of the OTHER elements of its reduced slice, exact with zeros:
    the product of everything before it times the product of everything after it."""
    flat, perm, kshape = _to_last(x, axes)
    ones = np.ones(flat.shape[:-1] + (1,), flat.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat[..., 1:], -1)], -1), -1), -1)
    return _from_last(before * after, x.shape, perm, kshape)


def _others_product_tensor(x, axes):
    """The same on Tensors, recorded (create_graph=True): row k of an (n, n) stack is the slice with
    element k replaced by 1, and its product is the product of the others. n^2 memory, exact with zeros,
    differentiable again through this very row."""
    flat, perm, kshape = _to_last(x, axes)
    n = flat.shape[-1]
    eye = flat._leaf(np.eye(n, dtype=bool))
    stacked = flat.unsqueeze(-2).expand(kshape + (n, n))
    others = flat._where(eye, flat._leaf(np.ones((), flat.dtype)), stacked)
    return _from_last(others._unary(PROD, ((len(kshape) + 1,), False)), x.shape, perm, kshape)


def _prod_dx(g, ans, args, x):
    axes, keepdims = args
    kept = tuple(1 if axes is None or i in axes else s for i, s in enumerate(x.shape))
    g = g if keepdims else g.reshape(kept)
    if x.size == 0 if is_array(x) else x.numel() == 0:  # an empty product (1) depends on no element
        return g * x
    if is_array(x):
        if x.size and np.all(x != 0):
            a = np.asarray(ans).reshape(kept)
            return g * (a / x)  # the quick rule, exact when nothing is zero
        return g * _others_product_array(x, axes)
    if x.numel() and bool((x._data != 0).all()):
        return g * (ans.reshape(kept) / x)
    return g * _others_product_tensor(x, axes)


PROD = defop("prod", lambda args, x: np.asarray(np.prod(x, axis=args[0], keepdims=args[1])), _prod_dx,
             forward="prod(x)", math="d prod(x)/dx_i = product of the other elements (exact with zeros in x)",
             rule="dx = dC * (product of the others), prod/x when no element is 0", saves=("x", "result"))


def _log1p_dx(g, ans, args, x):
    return g / (x + 1.0)


def _expm1_dx(g, ans, args, x):
    return g * (ans + 1.0)


LOG1P = defop("log1p", lambda a, x: np.log1p(x), _log1p_dx,
              forward="log(1 + x)", math="d log(1 + x)/dx = 1 / (1 + x)",
              rule="dx = dC / (1 + x)", saves=("x",))
EXPM1 = defop("expm1", lambda a, x: np.expm1(x), _expm1_dx,
              forward="exp(x) - 1", math="d (exp(x) - 1)/dx = exp(x) = result + 1",
              rule="dx = dC * (result + 1)", saves=("result",))


def _asin_dx(g, ans, args, x):
    return g * (1.0 - x * x) ** -0.5


ATAN = defop("atan", lambda a, x: np.arctan(x), lambda g, ans, a, x: g / (x * x + 1.0),
             forward="atan(x)", math="d atan(x)/dx = 1 / (1 + x^2)", rule="dx = dC / (1 + x²)", saves=("x",))
ASIN = defop("asin", lambda a, x: np.arcsin(x), _asin_dx,
             forward="asin(x)", math="d asin(x)/dx = 1 / sqrt(1 - x^2)", rule="dx = dC / sqrt(1 - x²)", saves=("x",))
ACOS = defop("acos", lambda a, x: np.arccos(x), lambda g, ans, a, x: -_asin_dx(g, ans, a, x),
             forward="acos(x)", math="d acos(x)/dx = -1 / sqrt(1 - x^2)", rule="dx = -dC / sqrt(1 - x²)", saves=("x",))


def _atan2_dy(g, ans, args, y, x):
    return g * x / (x * x + y * y)


def _atan2_dx(g, ans, args, y, x):
    return -(g * y) / (x * x + y * y)


ATAN2 = defop("atan2", lambda a, y, x: np.arctan2(y, x), _atan2_dy, _atan2_dx,
              forward="atan2(y, x)", math="d atan2(y, x)/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)",
              rule="dy = dC * x / (x² + y²), dx = -dC * y / (x² + y²)", saves=("y", "x"), inputs=("y", "x"),
              broadcasts=True)
