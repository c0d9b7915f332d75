"""Backward plans (tinygrad_lite/backward_plan.py) against the plain loop (autograd._run): the same
gradients, bit for bit, on random graphs, and every case a plan must leave to the loop (hooks, in-place
updates, freed graphs, a changed shape) still behaves as the loop makes it."""
import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.autograd import FreedValue
from tinygrad_lite.backward_plan import PLANS


@pytest.fixture
def plans():
    """PLANS on (written when a shape repeats), emptied before and after the test."""
    enabled, eager = PLANS.enabled, PLANS.eager
    PLANS.enabled, PLANS.eager = True, False
    PLANS.clear()
    yield PLANS
    PLANS.enabled, PLANS.eager = enabled, eager
    PLANS.clear()


def _leaves(seed, dtype):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (3, 4), (1, 4), (4, 4)]
    out = [tl.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    out.append(tl.tensor(rng.standard_normal((3, 4)).astype(dtype)))  # a constant: no gradient
    return out


def _random_graph(seed, leaves):
    """A random program over `leaves`, the same one for the same seed: binary ops with broadcasting,
    unary ops, a tensor used twice, views (reshape, slices), cat, a joint rule (log_softmax), matmul."""
    rng = np.random.default_rng(seed)
    pool = [leaves[0], leaves[2], leaves[5], leaves[0] + leaves[1]]  # (3, 4) tensors
    rows = [leaves[3]]                                                # (1, 4) tensors
    for _ in range(int(rng.integers(4, 12))):
        x, y = (pool[int(i)] for i in rng.integers(0, len(pool), 2))
        r = rows[int(rng.integers(0, len(rows)))]
        kind = int(rng.integers(0, 12))
        if kind == 0:
            z = x + y
        elif kind == 1:
            z = x * y
        elif kind == 2:
            z = x - r * 0.5
        elif kind == 3:
            z = x.relu() + x.tanh()
        elif kind == 4:
            z = x * x
        elif kind == 5:
            z = x.reshape(12).reshape(3, 4)
        elif kind == 6:
            z = tl.cat([x, r])[1:]
        elif kind == 7:
            z = F.log_softmax(x, dim=-1)
        elif kind == 8:
            z = x @ leaves[4]
        elif kind == 9:
            rows.append(x.sum(0, keepdim=True))
            continue
        elif kind == 10:
            z = x.sigmoid() * leaves[1]
        else:
            z = tl.maximum(x, y) / 2.0
        pool.append(z)
    return sum(t.sum() for t in pool[-3:]) + rows[-1].sum()


def _grads(seed, dtype, steps, clear=True):
    leaves = _leaves(seed, dtype)
    for _ in range(steps):
        if clear:
            for t in leaves:
                t.grad = None
        _random_graph(seed, leaves).backward()
    return [None if t.grad is None else t.grad.numpy() for t in leaves]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(40))
def test_plan_gives_the_loops_gradients_bit_for_bit(plans, seed, dtype):
    plans.enabled = False
    expected = _grads(seed, dtype, 1)
    accumulated = _grads(seed, dtype, 4, clear=False)
    plans.enabled = True
    got = _grads(seed, dtype, 3)  # the third backward runs the plan written at the second
    assert sum(p.runs for entry in plans._by_op.values() for p in entry.plans) == 1
    for g, e in zip(got, expected):
        assert (g is None) == (e is None)
        if g is not None:
            assert g.dtype == e.dtype and np.array_equal(g, e)
    for g, e in zip(_grads(seed, dtype, 4, clear=False), accumulated):  # .grad accumulated over steps
        if g is not None:
            assert np.array_equal(g, e)


def _chain(n=8):
    rng = np.random.default_rng(0)
    a, b, c, d = (tl.tensor(rng.standard_normal((n, n)).astype(np.float32), requires_grad=True) for _ in range(4))
    return (a, b, c, d), lambda: ((a * b + c).relu() * d).sum()


def _plan_ran(loss):
    return sum(p.runs for p in PLANS.plans_for(loss._op))


def test_the_scorecard_chain_runs_its_plan_from_the_third_step(plans):
    leaves, f = _chain()
    runs = []
    for _ in range(4):
        for t in leaves:
            t.grad = None
        loss = f()
        loss.backward()
        runs.append(_plan_ran(loss))
    assert runs == [0, 0, 1, 2]
    assert "def backward_plan" in plans.plans_for(loss._op)[0].source


def _after_plan(f, leaves):
    for _ in range(3):
        for t in leaves:
            t.grad = None
        f().backward()
    for t in leaves:
        t.grad = None


def test_a_hook_on_a_node_leaves_the_graph_to_the_loop(plans):
    leaves, _ = _chain()
    a, b, c, d = leaves
    _after_plan(lambda: ((a * b + c).relu() * d).sum(), leaves)
    seen = []
    h = a * b + c
    h.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2)
    loss = (h.relu() * d).sum()
    loss.backward()
    assert len(seen) == 1 and _plan_ran(loss) == 1  # (the plan's run at the third step only)
    mask = (a.detach().numpy() * b.detach().numpy() + c.detach().numpy()) > 0
    np.testing.assert_allclose(c.grad.numpy(), 2 * d.detach().numpy() * mask, rtol=1e-6)


def test_retain_grad_and_a_leaf_hook_are_kept(plans):
    leaves, f = _chain()
    a, b, c, d = leaves
    _after_plan(f, leaves)
    calls = []
    handle = d.register_hook(lambda g: calls.append(1))
    h = a * b
    h.retain_grad()
    (((h + c).relu()) * d).sum().backward()
    assert calls == [1] and h.grad is not None
    handle.remove()


def test_an_in_place_update_after_the_forward_still_raises(plans):
    leaves, _ = _chain()
    a, b, c, d = leaves
    k = tl.tensor(np.ones((8, 8), np.float32))
    f = lambda: ((a * k + c).relu() * d).sum()  # noqa: E731
    _after_plan(f, leaves)
    loss = f()
    k.add_(1.0)
    with pytest.raises(RuntimeError, match="modified"):
        loss.backward()


def test_a_second_backward_through_a_freed_graph_still_raises(plans):
    leaves, f = _chain()
    _after_plan(f, leaves)
    loss = f()
    loss.backward()
    assert _plan_ran(loss) == 2
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_retain_graph_lets_the_plan_run_twice(plans):
    leaves, f = _chain()
    _after_plan(f, leaves)
    loss = f()
    loss.backward(retain_graph=True)
    first = leaves[0].grad.numpy().copy()
    loss.backward()
    np.testing.assert_array_equal(leaves[0].grad.numpy(), 2 * first)
    assert _plan_ran(loss) == 3


@pytest.mark.parametrize("use_plans", [False, True])
def test_a_plan_frees_values_as_the_loop_does(plans, use_plans):
    plans.enabled = use_plans
    leaves, f = _chain(64)  # (values under 1 KiB stay)
    _after_plan(f, leaves)
    a, b, c, d = leaves
    h = a * b
    loss = ((h + c).relu() * d).sum()
    loss.backward()
    assert _plan_ran(loss) == (2 if use_plans else 0)
    assert isinstance(loss._inputs[0]._data, FreedValue)  # nothing but the graph held it
    assert isinstance(loss._inputs[0]._inputs[0]._data, FreedValue)
    assert not isinstance(h._data, FreedValue)  # the user's variable holds it
    assert loss._inputs[0]._ctx is not None  # (FREED)


def test_another_shape_under_the_same_root_op_uses_the_loop(plans):
    leaves, f = _chain()
    a, b, c, d = leaves
    _after_plan(f, leaves)
    loss = ((a * b - c).relu() * d).sum()  # sub where the plan has add
    loss.backward()
    assert _plan_ran(loss) == 1
    mask = (a.detach().numpy() * b.detach().numpy() - c.detach().numpy()) > 0
    np.testing.assert_allclose(c.grad.numpy(), -d.detach().numpy() * mask, rtol=1e-6)


def test_a_graph_that_changes_every_step_is_given_up(plans):
    a = tl.tensor(np.ones(3), requires_grad=True)
    for n in range(40):
        x = a
        for _ in range(n % 7 + n // 7):
            x = x * 1.5 if n % 2 else x + 1.0
        (x * a).sum().backward()
    entry = plans._by_op[(x * a).sum()._op]
    assert entry.plans == [] and entry.misses > 32
