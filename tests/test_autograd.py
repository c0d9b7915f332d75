"""The autograd engine: accumulation, retain_graph, grad modes, hooks, higher order, deep graphs,
memory release, in-place detection, custom Functions, gradcheck itself."""
import gc
import sys
import weakref

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.autograd import Function, grad

from helpers import assert_close, check_grad


def t64(values, requires_grad=True):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------- accumulation
def test_grad_accumulates_across_backward_calls():
    x = t64([1.0, 2.0])
    (x * x).sum().backward()
    assert_close(x.grad, [2.0, 4.0])
    (x * 3).sum().backward()
    assert_close(x.grad, [5.0, 7.0])
    x.grad = None
    (x * 3).sum().backward()
    assert_close(x.grad, [3.0, 3.0])


def test_reused_tensor_gets_summed_gradient():
    x = t64([1.0, -2.0, 3.0])
    y = x * 2
    z = (y * y + y.exp() * x + x).sum()  # x and y both used several times
    z.backward()
    xv = np.array([1.0, -2.0, 3.0])
    assert_close(x.grad, 8 * xv + 2 * np.exp(2 * xv) * xv + np.exp(2 * xv) + 1)
    # the same tensor twice as both operands
    a = t64([3.0])
    (a * a * a).backward()
    assert_close(a.grad, [27.0])
    b = t64([2.0])
    (b + b + b).sum().backward()
    assert_close(b.grad, [3.0])


def test_grad_is_not_aliased_between_leaves_or_with_upstream():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    (x + y).sum().backward()
    x.grad._data[0] = 100.0  # must not change y.grad
    assert_close(y.grad, [1.0, 1.0])
    g = Tensor(np.array([1.0, 1.0]))
    x2 = t64([1.0, 2.0])
    (x2 * 1).backward(g)
    x2.grad._data[:] = 7
    assert_close(g, [1.0, 1.0])  # the user's gradient tensor is untouched


def test_non_scalar_backward_needs_gradient():
    x = t64([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar") as e:
        y.backward()
    assert "gradient" in str(e.value) and "(2,)" in str(e.value)
    y.backward(Tensor(np.array([1.0, 10.0])))
    assert_close(x.grad, [2.0, 20.0])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(Tensor(np.ones(3)))
    # a one-element non-0-d output is fine without gradient= (as PyTorch)
    z = t64([[2.0]])
    (z * 3).backward()
    assert_close(z.grad, [[3.0]])


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_backward_inputs_restricts_accumulation():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    (x * y).sum().backward(inputs=[x])
    assert_close(x.grad, [3.0, 4.0])
    assert y.grad is None


def test_slice_gradients_are_added_into_one_buffer(monkeypatch):
    """x.split / shifted windows: each piece's gradient is a lazy SliceGrad; the engine adds them into
    one buffer (one array of zeros, not one per piece), mixing with dense gradients and hooks."""
    from tinygrad_lite.ops import movement
    made = []
    dense = movement.SliceGrad.dense
    monkeypatch.setattr(movement.SliceGrad, "dense", lambda self: made.append(self.shape) or dense(self))
    rng = np.random.default_rng(0)
    x = t64(rng.normal(size=(4, 6)))
    h = x * 1.0                                   # a non-leaf, so its gradient is assembled by the engine
    a, b, c = h.split(2, dim=1)
    w = t64(rng.normal(size=(4, 2)), requires_grad=False)
    loss = (a * w).sum() + (b * b).sum() + c.sum() * 3.0
    loss.backward()
    expect = np.concatenate([w.numpy(), 2 * x.detach().numpy()[:, 2:4], np.full((4, 2), 3.0)], axis=1)
    assert_close(x.grad, expect)
    assert made == [(4, 6)]                        # one full-size buffer for the three pieces
    # slices of a leaf, plus a dense use of it and a hook: the same sums
    y = t64(rng.normal(size=(5,)))
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    (y[1:3].sum() * 2.0 + y[2:].sum() + (y * y).sum() + y[4] * 5.0 + y[4] * 1.0).backward()
    want = 2 * y.detach().numpy() + np.array([0, 2, 3, 1, 7])
    assert_close(y.grad, want)
    assert_close(seen[0], want)
    # autograd.grad of a sliced input
    z = t64(rng.normal(size=(3, 3)))
    (gz,) = grad((z[0] * 2.0).sum() + z[:, 1].sum(), z)
    assert_close(gz, np.array([[2.0, 3.0, 2.0], [0, 1, 0], [0, 1, 0]]))


# --------------------------------------------------------------------------- retain_graph
def test_second_backward_through_freed_graph_raises():
    x = t64([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time") as e:
        loss.backward()
    assert "retain_graph=True" in str(e.value)


def test_retain_graph_allows_two_backwards_that_accumulate():
    x = t64([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    g1 = x.grad._data.copy()
    loss.backward()
    assert_close(x.grad, 2 * g1)
    assert_close(g1, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_grad_frees_graph_unless_retained():
    x = t64([1.0, 2.0])
    y = (x * x).sum()
    (g,) = grad(y, x, retain_graph=True)
    (g2,) = grad(y, x)
    assert_close(g, g2)
    with pytest.raises(RuntimeError, match="second time"):
        grad(y, x)
    assert x.grad is None  # grad() does not touch .grad


# --------------------------------------------------------------------------- grad modes
def test_no_grad_context_and_decorator():
    x = t64([1.0])
    with tl.no_grad():
        y = x * 2
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @tl.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    assert f.__name__ == "f"

    @tl.no_grad  # bare, as PyTorch allows
    def f2(t):
        return t * 3

    assert not f2(x).requires_grad and f2.__name__ == "f2"
    assert (x * 3).requires_grad
    assert tl.is_grad_enabled()
    # nested, and the mode is restored after an exception
    with pytest.raises(ValueError):
        with tl.no_grad():
            with tl.no_grad():
                raise ValueError
    assert tl.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = t64([1.0])
    with tl.no_grad():
        with tl.enable_grad():
            y = x * 2
        z = x * 2

        @tl.enable_grad()
        def g(t):
            return t * 4
        w = g(x)
    assert y.requires_grad and not z.requires_grad and w.requires_grad
    y.backward()
    assert_close(x.grad, [2.0])
    with tl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tl.is_grad_enabled()


def test_detach():
    x = t64([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d._data, y._data)
    z = (d * x).sum()
    z.backward()
    assert_close(x.grad, [2.0, 4.0])  # no gradient through the detached path
    dd = x.data
    assert not dd.requires_grad and np.shares_memory(dd._data, x._data)


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating"):
        Tensor([1, 2]).requires_grad_()
    x = Tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn == "mul"
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)
    # integer results of ops never require grad
    assert not (x > 0).requires_grad and not x.argmax().requires_grad


def test_set_grad_enabled_as_a_decorator_applies_inside_only():
    @tl.set_grad_enabled(False)
    def f(x):
        return x * 2

    assert tl.is_grad_enabled()  # the decorator line did not switch recording off for everyone
    x = t64([1.0])
    assert not f(x).requires_grad and (x * 2).requires_grad


# --------------------------------------------------------------------------- hooks
def test_register_hook_modifies_grad_and_can_be_removed():
    x = t64([1.0, 2.0])
    y = x * 3
    seen = []
    h = y.register_hook(lambda g: seen.append(g._data.copy()))
    h2 = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert_close(seen[0], [1.0, 1.0])
    assert_close(x.grad, [30.0, 30.0])
    h2.remove()
    h.remove()
    x.grad = None
    y = x * 3
    y.sum().backward()
    assert_close(x.grad, [3.0, 3.0])
    # a hook on a leaf changes what is accumulated
    x.grad = None
    hx = x.register_hook(lambda g: g * 0.5)
    (x * 4).sum().backward()
    assert_close(x.grad, [2.0, 2.0])
    hx.remove()
    with pytest.raises(RuntimeError):
        Tensor([1.0]).register_hook(lambda g: g)


def test_hook_sees_total_gradient_once():
    x = t64([1.0])
    y = x * 2
    calls = []
    y.register_hook(lambda g: calls.append(float(g.item())))
    (y * 3 + y * 4).sum().backward()
    assert calls == [7.0]


def test_retain_grad():
    x = t64([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    z = y * y
    z.retain_grad()
    z.sum().backward()
    assert_close(z.grad, [1.0, 1.0])
    assert_close(y.grad, 2 * np.array([3.0, 6.0]))
    assert_close(x.grad, 18 * np.array([1.0, 2.0]))
    w = x * 1
    assert w.grad is None  # not retained


# --------------------------------------------------------------------------- higher order
def test_grad_create_graph_second_derivative():
    x = t64([0.5, -1.5, 2.0])
    y = (x ** 3).sum()
    (g,) = grad(y, x, create_graph=True)
    assert g.requires_grad
    assert_close(g, 3 * x._data ** 2)
    (h,) = grad(g.sum(), x)
    assert_close(h, 6 * x._data)
    # third order
    x = t64([0.7])
    (g1,) = grad(x.tanh(), x, create_graph=True)
    (g2,) = grad(g1, x, create_graph=True)
    (g3,) = grad(g2, x)
    t = np.tanh(0.7)
    assert_close(g3, [-2 * (1 - t * t) * (1 - 3 * t * t)])  # tanh''' = -2 (1 - t^2)(1 - 3 t^2)


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    A = A + A.T
    xv, v = rng.standard_normal(4), rng.standard_normal(4)
    x = t64(xv)
    At = Tensor(A)
    # f(x) = 0.5 x^T A x + sum(exp(x)) + (sum x^2)^2 ; H = A + diag(exp x) + 4 (s I + 2 x x^T), s = sum x^2
    f = 0.5 * (x @ At @ x) + x.exp().sum() + (x * x).sum() ** 2
    (g,) = grad(f, x, create_graph=True)
    (hv,) = grad((g * Tensor(v)).sum(), x)
    s = (xv ** 2).sum()
    H = A + np.diag(np.exp(xv)) + 4 * (s * np.eye(4) + 2 * np.outer(xv, xv))
    assert_close(hv, H @ v, rtol=1e-10)
    # the same through backward(create_graph=True)
    x2 = t64(xv)
    f2 = 0.5 * (x2 @ At @ x2) + x2.exp().sum() + (x2 * x2).sum() ** 2
    f2.backward(create_graph=True)
    gx = x2.grad
    x2.grad = None
    (gx * Tensor(v)).sum().backward()
    assert_close(x2.grad, H @ v, rtol=1e-10)


@pytest.mark.torch
def test_hvp_vs_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xv, wv, v = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 4))

    def f(x, w):
        h = (x @ w).tanh()
        return (h.softmax(-1) * h.sigmoid()).sum() + x.log_softmax(-1).exp().mean() + (x * x).sum().sqrt()

    x, w = t64(xv), Tensor(wv)
    (g,) = grad(f(x, w), x, create_graph=True)
    (hv,) = grad((g * Tensor(v)).sum(), x)
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv)
    (tg,) = torch.autograd.grad(f(tx, tw), tx, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    assert_close(g, tg.detach().numpy(), rtol=1e-11)
    assert_close(hv, thv.numpy(), rtol=1e-10)


_rng = np.random.default_rng(5)


GRADGRAD_CASES = {
    "tanh": (lambda x: x.tanh(), [_rng.standard_normal((2, 3))]),
    "sigmoid": (lambda x: x.sigmoid(), [_rng.standard_normal((3,))]),
    "exp": (lambda x: x.exp(), [_rng.standard_normal((2, 2))]),
    "log": (lambda x: x.log(), [_rng.uniform(0.5, 2, (3,))]),
    "sqrt": (lambda x: x.sqrt(), [_rng.uniform(0.5, 2, (3,))]),
    "mul": (lambda x, y: x * y, [_rng.standard_normal((2, 3)), _rng.standard_normal((3,))]),
    "div": (lambda x, y: x / y, [_rng.standard_normal((2, 3)), _rng.uniform(0.5, 2, (2, 1))]),
    "matmul": (lambda x, y: x @ y, [_rng.standard_normal((2, 3)), _rng.standard_normal((3, 2))]),
    "matmul_batched": (lambda x, y: x @ y, [_rng.standard_normal((2, 2, 3)), _rng.standard_normal((3,))]),
    "softmax": (lambda x: x.softmax(-1), [_rng.standard_normal((2, 3))]),
    "log_softmax": (lambda x: x.log_softmax(0), [_rng.standard_normal((3, 2))]),
    "logsumexp": (lambda x: x.logsumexp(1), [_rng.standard_normal((2, 3))]),
    "sum": (lambda x: (x * x).sum(0), [_rng.standard_normal((2, 3))]),
    "mean_var": (lambda x: x.var(1) + x.mean(), [_rng.standard_normal((2, 3))]),
    "pow": (lambda x, y: x ** y, [_rng.uniform(0.5, 2, (3,)), _rng.standard_normal((3,))]),
    "pow_scalar": (lambda x: x ** 3 + x ** -1.5, [_rng.uniform(0.5, 2, (3,))]),
    "getitem_repeats": (lambda x: x[np.array([0, 0, 2])] ** 2, [_rng.standard_normal((3, 2))]),
    "shape_ops": (lambda x: tl.cat([x.T, x.T], 0).reshape(-1).expand(2, 12) ** 2,
                  [_rng.standard_normal((2, 3))]),
    "where_amax": (lambda x: tl.where(x > 0, x * x, x.exp()).amax(1), [_rng.standard_normal((2, 3))]),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD_CASES))
def test_gradgradcheck(name):
    fn, arrays = GRADGRAD_CASES[name]
    inputs = tuple(t64(a) for a in arrays)
    assert tl.gradgradcheck(fn, inputs) is True


# --------------------------------------------------------------------------- deep graphs, memory
def test_chain_of_100k_ops_has_no_recursion_error():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # the engine must not need recursion at all
    try:
        x = Tensor(np.array([1.0]), requires_grad=True)
        y = x
        for _ in range(100_000):   # (its time is bench/'s business; a hang meets the per-test timeout)
            y = y * 1.00001
        y.sum().backward()
    finally:
        sys.setrecursionlimit(old)
    assert_close(x.grad, [1.00001 ** 100_000], rtol=1e-9)
    del y
    # dropping the chain does not recurse either (deallocation of a deep graph)


def test_deep_graph_is_freed_without_recursion():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    r = weakref.ref(y)
    del y  # not backpropagated: the whole graph is released by reference counting
    assert r() is None


def _graph_refs():
    x = t64(np.ones((3, 3)))
    w = t64(np.ones((3, 3)))
    h = (x @ w).tanh()
    h2 = h.softmax(-1) * x
    loss = (h2 * h2).mean()
    refs = [weakref.ref(t) for t in (h, h2)]
    return x, w, loss, refs


def test_intermediates_are_freed_after_backward_and_del_loss(no_gc):
    x, w, loss, refs = _graph_refs()
    assert all(r() is not None for r in refs)
    loss.backward()
    del loss
    # freed by reference counting alone (no cycles): check before any gc.collect()
    assert all(r() is None for r in refs), "intermediate tensors still alive after backward and del loss"
    assert x.grad is not None and w.grad is not None
    assert x.grad._op is None and x.grad._inputs is None  # gradients hold no graph


def test_intermediates_are_freed_with_retain_graph_once_loss_dropped(no_gc):
    x, w, loss, refs = _graph_refs()
    loss.backward(retain_graph=True)
    assert all(r() is not None for r in refs)  # still reachable from loss
    del loss
    assert all(r() is None for r in refs)


def test_hooked_and_retained_nodes_are_freed_without_gc(no_gc):
    x = t64([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    z = y.exp()
    z.register_hook(lambda g: g * 2)
    loss = (z * y).sum()
    loss.backward()
    assert y.grad is not None
    refs = [weakref.ref(t) for t in (y, z)]
    del y, z, loss
    assert all(r() is None for r in refs), "retain_grad/register_hook keep the graph alive (a reference cycle)"


def test_create_graph_gradient_graph_is_freed(no_gc):
    x = t64([1.0, 2.0])
    y = x.exp()
    ry = weakref.ref(y)
    loss = (y * y).sum()
    (g,) = grad(loss, x, create_graph=True)
    (h,) = grad(g.sum(), x)
    del loss, y, g
    assert ry() is None
    gc.collect()


def test_kept_loss_does_not_hold_saved_arrays_after_backward():
    """A loss tensor kept after backward (losses.append(loss)) must not pin the forward's caches."""
    from tinygrad_lite.nn import functional as F
    x = t64(np.random.default_rng(0).standard_normal((64, 50)))
    t = Tensor(np.arange(64) % 50)
    loss = F.cross_entropy(x, t)
    loss.backward(retain_graph=True)
    g1 = x.grad._data.copy()
    loss.backward()  # a second backward recomputes what it needs
    assert_close(x.grad, 2 * g1)
    from tinygrad_lite.autograd import FREED
    assert loss._ctx is FREED  # the saved softmax is gone; the structure (loss._inputs) stays for drawing
    big = [v for v in (getattr(loss._args, k, None) for k in getattr(type(loss._args), "__slots__", ()))
           if isinstance(v, np.ndarray) and v.size >= x.numel()]
    assert not big, "the loss node keeps an (M, C) array alive after backward"


# --------------------------------------------------------------------------- in-place detection
def test_inplace_on_saved_output_raises():
    x = t64([1.0, 2.0])
    y = x.exp()  # exp's backward uses its output
    z = (y * 2).sum()
    with tl.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified in place") as e:
        z.backward()
    assert "exp" in str(e.value) or "mul" in str(e.value)


def test_inplace_on_weight_between_forward_and_backward_raises():
    w = t64([[1.0, 2.0], [3.0, 4.0]])
    x = Tensor(np.ones((1, 2)))
    loss = (x @ w).tanh().sum()
    with tl.no_grad():
        w.sub_(0.1 * np.ones((2, 2)))  # an optimizer step before backward
    with pytest.raises(RuntimeError, match="modified in place") as e:
        loss.backward()
    assert "matmul" in str(e.value)
    # via .data (which shares storage and is not tracked as an op) + the engine's _bump convention
    w2 = t64([[1.0, 2.0], [3.0, 4.0]])
    loss2 = (x @ w2 * w2).sum()
    w2.data.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss2.backward()
    w3 = t64([1.0, 2.0])
    loss3 = (w3 * w3).sum()
    w3.data = Tensor(np.array([5.0, 5.0]))
    with pytest.raises(RuntimeError, match="modified in place"):
        loss3.backward()


def test_inplace_through_detached_view_raises():
    # detach() shares storage and (as in PyTorch) the version counter
    x = t64([1.0, 2.0])
    y = x.exp()
    loss = (y * 3).sum()
    y.detach().add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()
    x2 = t64([1.0, 2.0])
    loss2 = x2.tanh().sum()
    d = x2.detach().detach()
    d[0] = 5.0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss2.backward()


def test_inplace_after_backward_is_fine():
    w = t64([1.0, 2.0])
    loss = (w * w).sum()
    loss.backward()
    with tl.no_grad():
        w.sub_(w.grad * 0.1)
    assert_close(w, [0.8, 1.6])
    (w * w).sum().backward()  # a new graph uses the new version
    assert_close(w.grad, [2.0 + 1.6, 4.0 + 3.2])


def test_inplace_on_tensor_not_needed_by_backward_is_allowed():
    x = t64([1.0, 2.0])
    y = x + 1  # add's backward needs neither input nor output values... but the version check is
    # conservative as PyTorch's is for saved tensors; here we only check that unrelated tensors are free
    other = Tensor(np.array([3.0]))
    loss = (y * 2).sum()
    other.add_(1)
    loss.backward()
    assert_close(x.grad, [2.0, 2.0])


@pytest.mark.parametrize("make_view", [
    lambda a: a[0:1], lambda a: a.reshape(2, 1), lambda a: a.reshape(1, 2).T.detach()[0],
    lambda a: a.permute(0), lambda a: a.unsqueeze(0).squeeze(0)[1:],
])
def test_inplace_through_an_unrecorded_view_raises(make_view):
    """A view that is not in any graph (of a tensor that needs no grad, or made under no_grad) shares
    its source's memory all the same: writing into it must still be caught (once gave w.grad=[30, 4])."""
    w = t64([1.0, 2.0], requires_grad=True)
    a = t64([3.0, 4.0], requires_grad=False)  # a constant, saved by mul for w's gradient
    loss = (a * w).sum()
    make_view(a).mul_(10)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_inplace_through_a_view_raises():
    """x[0:2], reshape, permute share their input's data: writing into them modifies the input."""
    for view in (lambda y: y[0:2], lambda y: y.reshape(2, 2)[0], lambda y: y.reshape(2, 2).T,
                 lambda y: y[1:].detach()):
        x = t64([1.0, 2.0, 3.0, 4.0])
        y = x.exp()  # exp's backward reads y
        loss = (y * 1.0).sum()
        v = view(y)
        with tl.no_grad():
            v.mul_(2)
        with pytest.raises(RuntimeError, match="modified in place"):
            loss.backward()
    # a copy (advanced indexing) does not share data: no error, correct gradient
    x = t64([1.0, 2.0])
    y = x.exp()
    loss = y.sum()
    c = y[np.array([0, 1])]
    with tl.no_grad():
        c.mul_(2)
    loss.backward()
    assert_close(x.grad, np.exp([1.0, 2.0]))


def test_inplace_change_of_an_input_that_add_does_not_save_is_allowed():
    # add's gradient needs no values: PyTorch lets this through, and so do we
    a, w = t64([1.0, 2.0], requires_grad=False), t64([3.0, 4.0])
    loss = (a + w).sum()
    a.add_(1)
    loss.backward()
    assert_close(w.grad, [1.0, 1.0])
    b = t64([1.0, 2.0], requires_grad=False)
    loss = (b * w).sum()  # mul saves b: still an error
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


# --------------------------------------------------------------------------- custom Function
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class ScaledMul(Function):
    """f(x, y, k) = k * x * y with a non-tensor argument in the middle."""

    @staticmethod
    def forward(ctx, x, k, y):
        ctx.save_for_backward(x, y)
        ctx.k = k
        ctx.flags = ctx.needs_input_grad
        return x * y * k

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y * ctx.k if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.k if ctx.needs_input_grad[2] else None
        return gx, None, gy


class WrongSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x + (x > 1.5).double() * g  # wrong where x > 1.5


def test_custom_function_forward_backward():
    x = t64([1.0, -2.0])
    y = Cube.apply(x)
    assert y.grad_fn == "Cube" and y.requires_grad
    assert_close(y, [1.0, -8.0])
    y.sum().backward()
    assert_close(x.grad, [3.0, 12.0])
    check_grad(lambda t: Cube.apply(t) * 2 + t, np.array([0.5, -1.2, 2.0]))


def test_custom_function_needs_input_grad_and_non_tensor_args():
    x, y = t64([1.0, 2.0]), Tensor(np.array([3.0, 4.0]))
    out = ScaledMul.apply(x, 2.0, y)
    out.sum().backward()
    assert_close(x.grad, [6.0, 8.0])
    assert y.grad is None
    check_grad(lambda a, b: ScaledMul.apply(a, 1.5, b), np.array([1.0, 2.0]), np.array([-1.0, 0.5]))
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["flags"] = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g

    Probe.apply(x, y)
    assert seen["flags"] == (True, False)


def test_custom_function_forward_does_not_record():
    class Rec(Function):
        @staticmethod
        def forward(ctx, x):
            r = x * 2
            seen.append(r.requires_grad)
            return r

        @staticmethod
        def backward(ctx, g):
            return g * 2

    seen = []
    Rec.apply(t64([1.0]))
    assert seen == [False]


def test_custom_function_saved_tensor_modified_in_place_raises():
    x = t64([1.0, 2.0])
    y = Cube.apply(x)
    with tl.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="modified"):
        y.sum().backward()


def test_custom_function_double_backward():
    x = t64([0.5, 1.5])
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    assert_close(h, 6 * x._data)


def test_custom_function_bad_backward_results_are_clear_errors():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return Tensor(np.ones(3))

    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    class Broadcasting(Function):  # a gradient the input broadcasts to is summed back (as PyTorch)
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return Tensor(np.ones((3, 2)))

    class TooSmall(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return Tensor(np.array([2.0]))

    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"BadShape.*\(3,\).*\(2,\)"):
        BadShape.apply(x).sum().backward()
    assert x.grad is None
    with pytest.raises(RuntimeError, match="TooMany.*2 gradients"):
        TooMany.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"TooSmall.*\(1,\)"):
        TooSmall.apply(x).sum().backward()
    Broadcasting.apply(x).sum().backward()
    assert_close(x.grad, [3.0, 3.0])


def test_custom_function_gradient_is_not_aliased_with_the_users_tensor():
    h = t64([5.0, 6.0], requires_grad=False)

    class ReturnsH(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return h

    x = t64([1.0, 2.0])
    ReturnsH.apply(x).sum().backward()
    ReturnsH.apply(x).sum().backward()
    assert_close(x.grad, [10.0, 12.0])
    assert_close(h, [5.0, 6.0])  # (once accumulated into h itself: [10, 12])

    class Shared(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            t = g * 1.0
            return t, t  # the same tensor for both inputs

    a, b = t64([0.0]), t64([0.0])
    Shared.apply(a, b).sum().backward()
    Shared.apply(a, b).sum().backward()
    assert_close(a.grad, [2.0])
    assert_close(b.grad, [2.0])  # (once 3 and 3: both .grad shared one buffer)


def test_custom_function_saved_tensors_are_freed_after_backward():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 1.0
            ctx.save_for_backward(y)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * 2 * y

    x = t64([3.0])
    out = Square.apply(x)
    saved = weakref.ref(out._ctx._saved[0])
    out.sum().backward()
    gc.collect()
    assert saved() is None  # the output is still alive; what backward needed is not
    assert_close(x.grad, [6.0])


def test_custom_function_gradient_count_must_match_its_arguments():
    class TwoGrads(Function):
        @staticmethod
        def forward(ctx, x, eps=1.0):
            return x + eps

        @staticmethod
        def backward(ctx, g):
            return g, None  # a None for the defaulted eps is fine (PyTorch allows extra Nones)

    x = t64([1.0])
    TwoGrads.apply(x).sum().backward()
    assert_close(x.grad, [1.0])

    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match=r"TooMany.backward returned 2 gradients, but forward took 1 arguments"):
        TooMany.apply(t64([1.0])).sum().backward()


# --------------------------------------------------------------------------- gradcheck itself
def test_gradcheck_true_on_correct_functions():
    assert tl.gradcheck(lambda a, b: (a * b.exp()).sum(), (t64([1.0, 2.0]), t64([0.5, -0.5]))) is True
    assert tl.gradcheck(lambda a: a.softmax(-1), t64(np.random.default_rng(0).standard_normal((2, 3)))) is True


def test_gradcheck_names_input_and_element_on_wrong_gradient():
    good = t64([0.3, -0.7])
    bad = t64([[0.5, 1.0], [2.0, -1.0]])
    with pytest.raises(tl.GradcheckError) as e:
        tl.gradcheck(lambda a, b: a.sum() * WrongSquare.apply(b), (good, bad))
    msg = str(e.value)
    assert "input 1" in msg and "(2, 2)" in msg
    assert "input element (1, 0)" in msg, msg  # the element whose gradient is wrong, readable
    assert "analytical" in msg and "numerical" in msg
    assert tl.gradcheck(lambda b: WrongSquare.apply(b), (bad,), raise_exception=False) is False


def test_gradcheck_requires_float64():
    with pytest.raises(tl.GradcheckError, match="float64"):
        tl.gradcheck(lambda a: a * 2, (Tensor(np.ones(2, np.float32), requires_grad=True),))


# --------------------------------------------------------------------------- dtypes of gradients
def test_gradients_have_the_dtype_of_their_leaf():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    b = Tensor(np.ones(3, np.float64), requires_grad=True)
    c = Tensor(np.ones((), np.float64), requires_grad=True)
    out = ((a * b + c) * 2.0).sum()
    out.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64 and c.grad.dtype == np.float64
    assert_close(c.grad, 6.0)
    f = Tensor(np.ones(2, np.float32), requires_grad=True)
    (f.to(tl.float64) * Tensor(np.ones(2))).sum().backward()
    assert f.grad.dtype == np.float32
    # float32 loss: gradient stays float32 through Python-scalar arithmetic
    g = Tensor([1.0, 2.0], requires_grad=True)
    ((g * 0.1 + 1e-3) ** 2).mean().backward()
    assert g.grad.dtype == np.float32


def test_grad_of_0d_leaf_is_a_tensor():
    x = Tensor(2.0, requires_grad=True)
    (x * x).backward()
    assert isinstance(x.grad, Tensor) and x.grad.shape == () and x.grad.item() == 4.0
    (x.exp() * 3).backward()
    assert isinstance(x.grad, Tensor)
    y = Tensor(np.float64(1.5), requires_grad=True)
    (g,) = grad(y.maximum(Tensor(np.float64(1.5))), y)
    assert isinstance(g, Tensor) and g.item() == 0.5


def test_int_tensor_made_to_require_grad_by_assignment_is_refused_at_backward():
    t = Tensor([1, 2])
    t.requires_grad = True  # bypasses requires_grad_()'s check
    with pytest.raises(RuntimeError, match=r"dtype int64 .* only floating point tensors can have gradients"):
        (t * 2.5).sum().backward()  # (once gave a truncated int64 gradient [2, 2])


# --------------------------------------------------------------------------- error messages and edge cases
def test_shape_error_messages():
    a, b = Tensor(np.zeros((2, 3))), Tensor(np.zeros(4))
    with pytest.raises(ValueError) as e:
        a + b
    assert "add" in str(e.value) and "(2, 3)" in str(e.value) and "(4,)" in str(e.value)
    with pytest.raises(ValueError) as e:
        Tensor(np.zeros((2, 3))) @ Tensor(np.zeros((2, 3)))
    assert "matmul" in str(e.value) and "(2, 3)" in str(e.value)
    with pytest.raises(ValueError) as e:
        Tensor(np.zeros(6)).reshape(4, -1)
    assert "reshape" in str(e.value) and "(6,)" in str(e.value)
    with pytest.raises(IndexError) as e:
        Tensor(np.zeros((2, 3))).sum(dim=3)
    assert "sum" in str(e.value) and "3" in str(e.value)


def test_pow_with_zero_base_backward_is_quiet_and_finite():
    import warnings
    x = t64([0.0, 2.0])
    y = t64([2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** y).sum().backward()
    assert_close(x.grad, [0.0, 12.0])
    assert_close(y.grad, [0.0, 8 * np.log(2.0)])
