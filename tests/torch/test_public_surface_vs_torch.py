"""Every public function form (`tl.exp`, `tl.sum`, ...), and the Tensor methods, modules and
helpers that had no test, compared with PyTorch's same-named API in float64: values, and gradients
where they exist."""
import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
import tinygrad_lite.nn.functional as F
from tinygrad_lite import optim

RTOL, ATOL = 1e-10, 1e-12


def arr(*shape, seed=0, lo=-2.0, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def both(a, requires_grad=True):
    return (tl.tensor(a, dtype=tl.float64, requires_grad=requires_grad),
            torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad))


def close(ours, theirs, what=""):
    if isinstance(theirs, (tuple, list)) or type(theirs).__name__.endswith("_return_types"):
        theirs = tuple(theirs)
        ours = tuple(ours)
        assert len(ours) == len(theirs), what
        for o, t in zip(ours, theirs):
            close(o, t, what)
        return
    o = ours.detach().numpy() if isinstance(ours, tl.Tensor) else np.asarray(ours)
    t = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert o.shape == t.shape, f"{what}: shape {o.shape} != torch's {t.shape}"
    np.testing.assert_allclose(o, t, rtol=RTOL, atol=ATOL, err_msg=what)


def check_with_grad(name, f_ours, f_torch, *arrays, positive=False, grad=True):
    pairs = [both(np.abs(a) + 0.5 if positive else a, requires_grad=grad) for a in arrays]
    xs, ts = [p[0] for p in pairs], [p[1] for p in pairs]
    y, ty = f_ours(*xs), f_torch(*ts)
    close(y, ty, f"{name}: value")
    if isinstance(ty, torch.Tensor) and ty.dtype.is_floating_point and ty.requires_grad:
        w = arr(*ty.shape, seed=5)
        if not y.requires_grad:   # ours treats a piecewise-constant op (sign) as a constant: torch's grad is 0
            (ty * torch.tensor(w)).sum().backward()
            assert all(t.grad is None or not t.grad.any() for t in ts), f"{name}: torch has a gradient, ours none"
            return
        (y * tl.tensor(w)).sum().backward()
        (ty * torch.tensor(w)).sum().backward()
        for i, (x, t) in enumerate(zip(xs, ts)):
            close(x.grad if x.grad is not None else np.zeros(x.shape), t.grad if t.grad is not None
                  else torch.zeros(t.shape), f"{name}: gradient of input {i}")


# name -> (args builder kwargs): each runs as tl.NAME(x, *extra) and torch.NAME(x, *extra)
UNARY_FORMS = {
    "exp": (), "log": ("positive",), "sqrt": ("positive",), "abs": (), "tanh": (), "sigmoid": (), "relu": (),
    "neg": (), "square": (), "rsqrt": ("positive",), "reciprocal": ("positive",), "sign": (), "t": (),
    "isnan": (), "isfinite": (), "argmax": (), "argmin": (),
}
DIM_FORMS = {"sum": (1,), "mean": (0,), "var": (1,), "std": (0,), "amax": (1,), "amin": (0,), "logsumexp": (1,),
             "softmax": (1,), "log_softmax": (0,), "argmax": (1,), "argmin": (0,)}


def _is_function_form(name):
    return callable(getattr(tl, name, None)) and getattr(getattr(tl, name), "__doc__", "") and \
        getattr(tl, name).__doc__.startswith("Function form")


@pytest.mark.parametrize("name", sorted(UNARY_FORMS))
def test_unary_function_forms(name):
    positive = "positive" in UNARY_FORMS[name]
    check_with_grad(f"tl.{name}", getattr(tl, name), getattr(torch, name), arr(3, 4), positive=positive)


@pytest.mark.parametrize("name", sorted(DIM_FORMS))
def test_function_forms_with_a_dim(name):
    (dim,) = DIM_FORMS[name]
    check_with_grad(f"tl.{name}(x, {dim})", lambda x: getattr(tl, name)(x, dim), lambda x: getattr(torch, name)(x, dim),
                    arr(3, 4))


def test_shape_function_forms():
    a = arr(2, 3, 4)
    cases = [("reshape", ((4, 6),)), ("flatten", ()), ("transpose", (0, 2)), ("permute", ((2, 0, 1),)),
             ("squeeze", ()), ("unsqueeze", (1,)), ("tril", ()), ("triu", (1,))]
    for name, extra in cases:
        x = a[0] if name in ("tril", "triu") else a
        check_with_grad(f"tl.{name}", lambda t: getattr(tl, name)(t, *extra), lambda t: getattr(torch, name)(t, *extra), x)
    check_with_grad("tl.split", lambda t: tl.split(t, 2, 2), lambda t: torch.split(t, 2, 2), a)
    check_with_grad("tl.chunk", lambda t: tl.chunk(t, 3, 1), lambda t: torch.chunk(t, 3, 1), a)


def test_max_min_function_forms():
    a = arr(3, 4)
    check_with_grad("tl.max(x)", tl.max, torch.max, a)
    check_with_grad("tl.max(x, 1)", lambda t: tl.max(t, 1)[0], lambda t: torch.max(t, 1)[0], a)
    close(tl.max(tl.tensor(a), 1)[1], torch.max(torch.tensor(a), 1)[1], "max indices")
    check_with_grad("tl.min(x, 0)", lambda t: tl.min(t, 0)[0], lambda t: torch.min(t, 0)[0], a)
    check_with_grad("tl.maximum", tl.maximum, torch.maximum, a, arr(3, 4, seed=1))
    check_with_grad("tl.minimum", tl.minimum, torch.minimum, a, arr(4, seed=1))
    check_with_grad("tl.clamp", lambda t: tl.clamp(t, -1, 0.5), lambda t: torch.clamp(t, -1, 0.5), a)
    check_with_grad("tl.clip", lambda t: tl.clip(t, min=-0.5), lambda t: torch.clip(t, min=-0.5), a)


def test_masked_fill_and_gather_function_forms():
    a = arr(3, 4)
    mask = arr(3, 4, seed=2) > 0
    check_with_grad("tl.masked_fill", lambda t: tl.masked_fill(t, tl.tensor(mask), 0.5),
                    lambda t: torch.masked_fill(t, torch.tensor(mask), 0.5), a)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    check_with_grad("tl.gather", lambda t: tl.gather(t, 1, tl.tensor(idx)),
                    lambda t: torch.gather(t, 1, torch.tensor(idx)), a)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "true_divide", "pow", "lt", "le", "gt", "ge", "eq", "ne"])
def test_binary_function_forms(name):
    a, b = arr(3, 4), arr(4, seed=1, lo=0.5, hi=2.0)
    if name == "pow":
        a = np.abs(a) + 0.5
    check_with_grad(f"tl.{name}", getattr(tl, name), getattr(torch, name), a, b)


_IDX = np.array([[0, 3], [1, 1], [2, 0]])
COMPAT_FORMS = {  # the surface real scripts use (tinygrad_lite.compat); name -> (args after the tensor, as (ours, torch))
    "sin": ((), ()), "cos": ((), ()), "floor": ((), ()), "ceil": ((), ()), "trunc": ((), ()), "round": ((), ()),
    "floor_divide": ((0.7,), (0.7,)), "remainder": ((0.7,), (0.7,)), "cumsum": ((1,), (1,)), "flip": (((0,),), ((0,),)),
    "roll": ((1, 1), (1, 1)), "sort": ((1,), (1,)), "argsort": ((1,), (1,)), "topk": ((2,), (2,)),
    "index_select": ((1, tl.tensor(np.array([3, 0]))), (1, torch.tensor([3, 0]))),
    "scatter": ((1, tl.tensor(_IDX), 0.5), (1, torch.tensor(_IDX), 0.5)),
    "repeat_interleave": ((2,), (2,)), "narrow": ((1, 1, 2), (1, 1, 2)), "select": ((1, 2), (1, 2)), "unbind": ((0,), (0,)),
    "is_floating_point": ((), ()),
}


@pytest.mark.parametrize("name", sorted(COMPAT_FORMS))
def test_compat_function_forms(name):
    ours_args, torch_args = COMPAT_FORMS[name]
    if name == "floor_divide":  # PyTorch defines no derivative for it: values only
        o, t = both(arr(3, 4), requires_grad=False)
        close(tl.floor_divide(o, *ours_args), torch.floor_divide(t, *torch_args), name)
        return
    check_with_grad(f"tl.{name}", lambda t: getattr(tl, name)(t, *ours_args),
                    lambda t: getattr(torch, name)(t, *torch_args), arr(3, 4))


def test_compat_function_forms_of_two_tensors():
    check_with_grad("tl.mm", tl.mm, torch.mm, arr(3, 4), arr(4, 2, seed=1))
    check_with_grad("tl.bmm", tl.bmm, torch.bmm, arr(2, 3, 4), arr(2, 4, 2, seed=1))
    check_with_grad("tl.scatter_add", lambda t, u: tl.scatter_add(t, 1, tl.tensor(_IDX), u),
                    lambda t, u: torch.scatter_add(t, 1, torch.tensor(_IDX), u), arr(3, 4), arr(3, 2, seed=1))


# the surface added for user scripts (tinygrad_lite/tensor_more.py): name -> (input array, args after the tensor)
_WITH_ZERO = arr(3, 4)
_WITH_ZERO[1, 2] = 0.0
MORE_FORMS = {
    "prod": (_WITH_ZERO, (1,)), "norm": (arr(3, 4), (1, 0)), "log1p": (arr(3, 4, lo=-0.9), ()),
    "expm1": (arr(3, 4), ()), "diag": (arr(3, 4), (1,)), "diagonal": (arr(2, 3, 4), (-1, 0, 2)), "trace": (arr(3, 4), ()),
}


@pytest.mark.parametrize("name", sorted(MORE_FORMS))
def test_function_forms_for_user_scripts(name):
    a, extra = MORE_FORMS[name]
    check_with_grad(f"tl.{name}", lambda t: getattr(tl, name)(t, *extra), lambda t: getattr(torch, name)(t, *extra), a)


def test_outer_unique_bincount_function_forms():
    check_with_grad("tl.outer", tl.outer, torch.outer, arr(3), arr(4, seed=1))
    ints = np.array([[3, 1, 4], [1, 5, 3]])
    ours = tl.unique(tl.tensor(ints), return_inverse=True, return_counts=True)
    close(ours, torch.unique(torch.tensor(ints), return_inverse=True, return_counts=True), "tl.unique")
    assert all(t.dtype == np.int64 for t in ours)
    w = arr(6)
    close(tl.bincount(tl.tensor(ints.ravel()), tl.tensor(w), minlength=8),
          torch.bincount(torch.tensor(ints.ravel()), torch.tensor(w), minlength=8), "tl.bincount (weights)")
    close(tl.bincount(tl.tensor(ints.ravel())), torch.bincount(torch.tensor(ints.ravel())), "tl.bincount")


# name -> (arrays, ours(tl, *tensors), torch's(torch, *tensors)); all inputs get gradients where the result has one
_SMALL = arr(3, 4, lo=-0.9, hi=0.9)
_NAN = arr(3, 4)
_NAN[0, 1], _NAN[1, 2], _NAN[2, 3] = np.nan, np.inf, -np.inf
MORE_FORMS_2 = {
    **{n: ([_SMALL], lambda m, t, n=n: getattr(m, n)(t), lambda m, t, n=n: getattr(m, n)(t))
       for n in ("tan", "sinh", "cosh", "atan", "asin", "acos", "exp2", "erf", "sgn", "frac", "isinf", "logical_not",
                 "any", "all", "count_nonzero", "nonzero", "argwhere", "clone", "negative", "median")},
    **{n: ([np.abs(_SMALL) + 0.1], lambda m, t, n=n: getattr(m, n)(t), lambda m, t, n=n: getattr(m, n)(t))
       for n in ("log2", "log10")},
    "logit": ([np.abs(_SMALL) * 0.5 + 0.1], lambda m, t: m.logit(t), lambda m, t: m.logit(t)),
    # (lgamma on both sides of the poles at 0, -1, -2; digamma and polygamma(1, x) in test_digamma_...)
    **{n: ([_SMALL * 3], lambda m, t, n=n: getattr(m, n)(t), lambda m, t, n=n: getattr(m, n)(t))
       for n in ("erfc", "lgamma")},
    "erfinv": ([_SMALL], lambda m, t: m.erfinv(t), lambda m, t: m.erfinv(t)),
    **{f"polygamma{k}": ([_SMALL * 3], lambda m, t, k=k: m.polygamma(k, t), lambda m, t, k=k: m.polygamma(k, t))
       for k in (2, 3)},
    **{f"special.{n}": ([_SMALL], lambda m, t, n=n: getattr(m.special, n)(t), lambda m, t, n=n: getattr(m.special, n)(t))
       for n in ("erf", "erfc", "erfinv", "gammaln", "expit", "log1p", "expm1", "exp2")},
    "special.logit": ([np.abs(_SMALL) * 0.5 + 0.1], lambda m, t: m.special.logit(t), lambda m, t: m.special.logit(t)),
    **{f"special.{n}": ([_SMALL], lambda m, t, n=n: getattr(m.special, n)(t, 1), lambda m, t, n=n: getattr(m.special, n)(t, 1))
       for n in ("logsumexp", "softmax", "log_softmax")},
    "nan_to_num": ([_NAN], lambda m, t: m.nan_to_num(t, 0.5), lambda m, t: m.nan_to_num(t, 0.5)),
    "clamp_min": ([_SMALL], lambda m, t: m.clamp_min(t, 0.1), lambda m, t: m.clamp_min(t, 0.1)),
    "clamp_max": ([_SMALL], lambda m, t: m.clamp_max(t, 0.1), lambda m, t: m.clamp_max(t, 0.1)),
    "lerp": ([_SMALL, arr(3, 4, seed=1)], lambda m, a, b: m.lerp(a, b, 0.3), lambda m, a, b: m.lerp(a, b, 0.3)),
    "addcmul": ([_SMALL, arr(3, 4, seed=1), arr(4, seed=2)], lambda m, a, b, c: m.addcmul(a, b, c, value=0.5),
                lambda m, a, b, c: m.addcmul(a, b, c, value=0.5)),
    "addcdiv": ([_SMALL, arr(3, 4, seed=1), arr(4, seed=2, lo=0.5)], lambda m, a, b, c: m.addcdiv(a, b, c, value=2),
                lambda m, a, b, c: m.addcdiv(a, b, c, value=2)),
    "addmm": ([arr(3, 2), _SMALL, arr(4, 2, seed=1)], lambda m, a, b, c: m.addmm(a, b, c, beta=0.5, alpha=2),
              lambda m, a, b, c: m.addmm(a, b, c, beta=0.5, alpha=2)),
    "dot": ([arr(4), arr(4, seed=1)], lambda m, a, b: m.dot(a, b), lambda m, a, b: m.dot(a, b)),
    "mv": ([_SMALL, arr(4, seed=1)], lambda m, a, b: m.mv(a, b), lambda m, a, b: m.mv(a, b)),
    "dist": ([_SMALL, arr(3, 4, seed=1)], lambda m, a, b: m.dist(a, b, 3), lambda m, a, b: m.dist(a, b, 3)),
    "logical_and": ([_SMALL, arr(3, 4, seed=1)], lambda m, a, b: m.logical_and(a > 0, b > 0),
                    lambda m, a, b: m.logical_and(a > 0, b > 0)),
    "logical_or": ([_SMALL, arr(3, 4, seed=1)], lambda m, a, b: m.logical_or(a > 0, b > 0),
                   lambda m, a, b: m.logical_or(a > 0, b > 0)),
    "logical_xor": ([_SMALL, arr(3, 4, seed=1)], lambda m, a, b: m.logical_xor(a > 0, b > 0),
                    lambda m, a, b: m.logical_xor(a > 0, b > 0)),
    "equal": ([_SMALL], lambda m, a: (m.equal(a, a * 1), m.equal(a, a + 1), m.equal(a, a[0])),
              lambda m, a: (m.equal(a, a * 1), m.equal(a, a + 1), m.equal(a, a[0]))),
    "masked_select": ([_SMALL], lambda m, a: m.masked_select(a, a[0] > 0), lambda m, a: m.masked_select(a, a[0] > 0)),
    "movedim": ([arr(2, 3, 4)], lambda m, a: m.movedim(a, (0, 2), (2, 0)), lambda m, a: m.movedim(a, (0, 2), (2, 0))),
    "moveaxis": ([arr(2, 3, 4)], lambda m, a: m.moveaxis(a, 0, -1), lambda m, a: m.moveaxis(a, 0, -1)),
    "swapaxes": ([arr(2, 3, 4)], lambda m, a: m.swapaxes(a, 0, 2), lambda m, a: m.swapaxes(a, 0, 2)),
    "broadcast_to": ([arr(3, 1)], lambda m, a: m.broadcast_to(a, (2, 3, 4)), lambda m, a: m.broadcast_to(a, (2, 3, 4))),
    "tile": ([_SMALL], lambda m, a: m.tile(a, (2, 1, 3)), lambda m, a: m.tile(a, (2, 1, 3))),
    "cumprod": ([_WITH_ZERO], lambda m, a: m.cumprod(a, 1), lambda m, a: m.cumprod(a, 1)),
    "std_mean": ([_SMALL], lambda m, a: m.std_mean(a, 1), lambda m, a: m.std_mean(a, 1)),
    "var_mean": ([_SMALL], lambda m, a: m.var_mean(a, 0, keepdim=True), lambda m, a: m.var_mean(a, 0, keepdim=True)),
    "hstack": ([_SMALL, arr(3, 2, seed=1)], lambda m, a, b: m.hstack([a, b]), lambda m, a, b: m.hstack([a, b])),
    "vstack": ([arr(4), _SMALL], lambda m, a, b: m.vstack([a, b]), lambda m, a, b: m.vstack([a, b])),
    "concat": ([_SMALL, _SMALL], lambda m, a, b: m.concat([a, b], 1), lambda m, a, b: m.concat([a, b], 1)),
    "concatenate": ([_SMALL, _SMALL], lambda m, a, b: m.concatenate([a, b]), lambda m, a, b: m.concatenate([a, b])),
    "quantile": ([_SMALL], lambda m, a: m.quantile(a, 0.3, 1, keepdim=True), lambda m, a: m.quantile(a, 0.3, 1, keepdim=True)),
    "index_add": ([_SMALL, arr(3, 2, seed=1)], lambda m, a, b: m.index_add(a, 1, m.tensor([3, 0]), b, alpha=2),
                  lambda m, a, b: m.index_add(a, 1, m.tensor([3, 0]), b, alpha=2)),
    "tensordot": ([arr(2, 3, 4), arr(3, 4, 5, seed=1)], lambda m, a, b: m.tensordot(a, b, 2),
                  lambda m, a, b: m.tensordot(a, b, 2)),
    "atan2": ([_SMALL, arr(4, seed=1)], lambda m, a, b: m.atan2(a, b), lambda m, a, b: m.atan2(a, b)),
    "fmod": ([arr(3, 4, lo=-5, hi=5), arr(4, seed=1, lo=0.5, hi=1.5)], lambda m, a, b: m.fmod(a, b),
             lambda m, a, b: m.fmod(a, b)),
    "hypot": ([_SMALL, arr(3, 4, seed=1)], lambda m, a, b: m.hypot(a, b), lambda m, a, b: m.hypot(a, b)),
    "kthvalue": ([_SMALL], lambda m, a: m.kthvalue(a, 2, 1), lambda m, a: m.kthvalue(a, 2, 1)),
    "diff": ([_SMALL, arr(3, 1, seed=1)], lambda m, a, b: m.diff(a, 2, 1, prepend=b),
             lambda m, a, b: m.diff(a, 2, 1, prepend=b)),
    "take_along_dim": ([_SMALL], lambda m, a: m.take_along_dim(a, m.tensor([[2], [0], [3]]), 1),
                       lambda m, a: m.take_along_dim(a, m.tensor([[2], [0], [3]]), 1)),
    "cross": ([arr(4, 3), arr(4, 3, seed=1)], lambda m, a, b: m.cross(a, b, dim=1), lambda m, a, b: m.cross(a, b, dim=1)),
    "rot90": ([_SMALL], lambda m, a: (m.rot90(a), m.rot90(a, 2), m.rot90(a, -1, (1, 0))),
              lambda m, a: (m.rot90(a), m.rot90(a, 2), m.rot90(a, -1, (1, 0)))),
    "tensor_split": ([arr(7, 2)], lambda m, a: m.tensor_split(a, 3) + m.tensor_split(a, [2, 5]),
                     lambda m, a: m.tensor_split(a, 3) + m.tensor_split(a, [2, 5])),
    "meshgrid": ([arr(3), arr(4, seed=1)], lambda m, a, b: m.meshgrid(a, b * 2, indexing="xy"),
                 lambda m, a, b: m.meshgrid(a, b * 2, indexing="xy")),
}


def test_digamma_and_trigamma_are_exact_to_float64_where_pytorch_is_not():
    # PyTorch's trigamma (polygamma(1, x), also digamma's derivative) is ~5e-10 off in float64 (checked
    # against mpmath below); ours (scipy) agrees with mpmath to ~1e-15, and with PyTorch to 1e-8
    import mpmath
    x = (_SMALL * 3).ravel()
    want = {n: np.array([float(mpmath.polygamma(n, v)) for v in x]) for n in (0, 1, 2)}
    for f, name in ((lambda t: t.digamma(), "digamma"), (tl.special.psi, "special.psi"),
                    (lambda t: tl.polygamma(0, t), "polygamma(0)")):
        t = tl.tensor(x, requires_grad=True)
        y = f(t)
        y.sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), want[0], rtol=1e-14, atol=1e-15, err_msg=name)  # (atol: the root near 1.46)
        np.testing.assert_allclose(t.grad.numpy(), want[1], rtol=1e-14, err_msg=name)
    t = tl.tensor(x, requires_grad=True)
    (g,) = tl.autograd.grad(t.polygamma(1).sum(), t, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), want[2], rtol=1e-13)
    tt = torch.tensor(x, requires_grad=True)
    torch.special.digamma(tt).sum().backward()
    np.testing.assert_allclose(tl.digamma(tl.tensor(x)).numpy(), torch.digamma(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(want[1], tt.grad.numpy(), rtol=1e-8)


@pytest.mark.parametrize("name", sorted(MORE_FORMS_2))
def test_more_function_forms_for_user_scripts(name):
    arrays, ours, theirs = MORE_FORMS_2[name]

    def both_sides(*ts):
        return ours(tl, *ts) if isinstance(ts[0], tl.Tensor) else theirs(torch, *ts)
    pairs = [both(a) for a in arrays]
    y, ty = both_sides(*[p[0] for p in pairs]), both_sides(*[p[1] for p in pairs])
    if isinstance(ty, bool) or (isinstance(ty, tuple) and isinstance(ty[0], bool)):
        assert y == ty, name
        return
    close(y, ty, f"tl.{name}: value")
    outs = [(o, t) for o, t in (zip(y, ty) if isinstance(ty, tuple) else [(y, ty)])
            if t.dtype.is_floating_point and t.requires_grad]
    if not outs:
        return
    loss = sum((o * tl.tensor(arr(*t.shape, seed=5))).sum() for o, t in outs)
    tloss = sum((t * torch.tensor(arr(*t.shape, seed=5))).sum() for o, t in outs)
    tloss.backward()
    if not loss.requires_grad:  # ours treats a piecewise-constant op (sgn) as a constant: torch's gradient is 0
        assert all(p[1].grad is None or not p[1].grad.any() for p in pairs), f"tl.{name}: torch has a gradient"
        return
    loss.backward()
    for (x, _), (_, t) in zip(pairs, pairs):
        close(x.grad if x.grad is not None else np.zeros(x.shape),
              t.grad if t.grad is not None else torch.zeros(t.shape), f"tl.{name}: gradient")


def test_in_place_forms_of_elementwise_methods():
    a = arr(3, 4, lo=0.1, hi=0.9)
    for name, extra in (("exp_", ()), ("log_", ()), ("sqrt_", ()), ("abs_", ()), ("neg_", ()), ("sigmoid_", ()),
                        ("tanh_", ()), ("pow_", (2.5,)), ("clip_", (0.2, 0.5)), ("tril_", ()), ("log1p_", ()),
                        ("square_", ()), ("relu_", ())):
        o, t = both(a)
        yo, yt = o * 2, t * 2
        assert getattr(yo, name)(*extra) is yo  # recorded on a non-leaf, as PyTorch
        getattr(yt, name)(*extra)
        close(yo, yt, name)
        (yo * tl.tensor(a)).sum().backward()
        (yt * torch.tensor(a)).sum().backward()
        close(o.grad, t.grad, f"{name}: gradient")
        with tl.no_grad():
            getattr(o, name)(*extra)
        with torch.no_grad():
            getattr(t, name)(*extra)
        close(o, t, f"{name} on a leaf under no_grad")
    with pytest.raises(RuntimeError, match="exp_: a leaf tensor that requires grad"):
        tl.ones(2, requires_grad=True).exp_()


def test_cdist_searchsorted_bucketize_match_torch():
    check_with_grad("tl.cdist", lambda a, b: tl.cdist(a, b), lambda a, b: torch.cdist(a, b), arr(2, 3, 4), arr(2, 5, 4, seed=1))
    check_with_grad("tl.cdist p=1", lambda a, b: tl.cdist(a, b, 1.0), lambda a, b: torch.cdist(a, b, 1.0), arr(3, 4),
                    arr(5, 4, seed=1))
    seq = np.sort(arr(2, 5), axis=1)
    vals = arr(2, 3, seed=1)
    for right in (False, True):
        close(tl.searchsorted(tl.tensor(seq), tl.tensor(vals), right=right),
              torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right), "searchsorted")
        close(tl.bucketize(tl.tensor(vals), tl.tensor(seq[0]), right=right),
              torch.bucketize(torch.tensor(vals), torch.tensor(seq[0]), right=right), "bucketize")
    close(tl.searchsorted(tl.tensor(seq[0]), tl.tensor(vals)), torch.searchsorted(torch.tensor(seq[0]), torch.tensor(vals)),
          "searchsorted (one sequence)")


def test_where_with_only_a_condition_is_nonzero():
    c = arr(3, 4) > 0
    close(tl.where(tl.tensor(c)), torch.where(torch.tensor(c)), "where(condition)")


def test_every_function_form_is_tested_here():
    tested = set(UNARY_FORMS) | set(DIM_FORMS) | set(COMPAT_FORMS) | {"mm", "bmm", "scatter_add"} | \
        set(MORE_FORMS) | {"outer", "unique", "bincount", "digamma", "polygamma", "mode"} | set(MORE_FORMS_2) | {"reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze",
                                                  "tril", "triu", "split", "chunk", "max", "min", "maximum", "minimum",
                                                  "clamp", "clip", "masked_fill", "gather", "add", "sub", "mul", "div",
                                                  "true_divide", "pow", "lt", "le", "gt", "ge", "eq", "ne"}
    forms = {n for n in dir(tl) if _is_function_form(n)}
    assert forms, "no function forms found"
    assert not forms - tested, f"function forms without a test against torch: {sorted(forms - tested)}"


# ---------------------------------------------------------------------- methods without a test before
def test_tensor_methods_clone_contiguous_expand_as_t():
    check_with_grad("clone", lambda t: t.clone() * t, lambda t: t.clone() * t, arr(3, 4))
    check_with_grad("contiguous", lambda t: t.transpose(0, 1).contiguous() ** 2,
                    lambda t: t.transpose(0, 1).contiguous() ** 2, arr(3, 4))
    check_with_grad("expand_as", lambda t, u: t.expand_as(u) * u, lambda t, u: t.expand_as(u) * u, arr(1, 4), arr(3, 4))
    check_with_grad("t", lambda t: t.t() @ t, lambda t: t.t() @ t, arr(3, 4))
    check_with_grad("argmin", lambda t: t.argmin(1), lambda t: t.argmin(1), arr(3, 4))
    check_with_grad("sign", lambda t: t.sign() * t, lambda t: t.sign() * t, arr(3, 4))
    c = tl.tensor(arr(3, 4)).clone()
    assert not np.shares_memory(c.numpy(), tl.tensor(arr(3, 4)).numpy())


def test_in_place_zero_fill_clamp():
    a = arr(3, 4)
    for name, args in (("zero_", ()), ("fill_", (1.5,)), ("clamp_", (-0.5, 0.5))):
        x, t = both(a, requires_grad=False)
        r, tr = getattr(x, name)(*args), getattr(t, name)(*args)
        assert r is x and tr is t
        close(x, t, name)


def test_leaky_relu_and_activation_modules():
    a = arr(3, 4)
    check_with_grad("F.leaky_relu", lambda t: F.leaky_relu(t, 0.2), lambda t: torch.nn.functional.leaky_relu(t, 0.2), a)
    check_with_grad("nn.SiLU", nn.SiLU(), torch.nn.SiLU(), a)
    check_with_grad("nn.Softmax", nn.Softmax(dim=0), torch.nn.Softmax(dim=0), a)
    check_with_grad("nn.LogSoftmax", nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1), a)
    check_with_grad("nn.MSELoss", lambda x, y: nn.MSELoss()(x, y), lambda x, y: torch.nn.MSELoss()(x, y), a, arr(3, 4, seed=3))
    check_with_grad("nn.MSELoss(sum)", lambda x, y: nn.MSELoss(reduction="sum")(x, y),
                    lambda x, y: torch.nn.MSELoss(reduction="sum")(x, y), a, arr(3, 4, seed=3))


def test_init_eye_():
    x, t = both(np.zeros((3, 5)), requires_grad=False)
    nn.init.eye_(x)
    torch.nn.init.eye_(t)
    close(x, t, "eye_")


def _params_with_grads():
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for shape in ((3, 4), (5,)):
        p, tp = both(rng.standard_normal(shape))
        g = rng.standard_normal(shape) * 3
        p.grad, tp.grad = tl.tensor(g), torch.tensor(g)
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_get_total_norm_and_clip_grads_with_norm_(norm_type):
    ours, theirs = _params_with_grads()
    n = nn.utils.get_total_norm([p.grad for p in ours], norm_type)
    tn = torch.nn.utils.get_total_norm([p.grad for p in theirs], norm_type)
    close(n, tn, "get_total_norm")
    nn.utils.clip_grads_with_norm_(ours, 1.0, n)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, tn)
    for p, tp in zip(ours, theirs):
        close(p.grad, tp.grad, "clip_grads_with_norm_")


def test_multiplicative_lr():
    p, tp = both(arr(2))
    opt, topt = optim.SGD([p], lr=0.5), torch.optim.SGD([tp], lr=0.5)
    s = optim.lr_scheduler.MultiplicativeLR(opt, lambda epoch: 0.9 if epoch % 2 else 0.5)
    ts = torch.optim.lr_scheduler.MultiplicativeLR(topt, lambda epoch: 0.9 if epoch % 2 else 0.5)
    lrs, tlrs = [], []
    for _ in range(5):
        opt.step()
        topt.step()
        s.step()
        ts.step()
        lrs.append(opt.param_groups[0]["lr"])
        tlrs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-15)
    assert s.get_last_lr() == pytest.approx(ts.get_last_lr())
