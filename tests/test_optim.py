"""Optimizers and schedulers without PyTorch: API behaviour, errors, state dicts and resuming."""
import math

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import optim
from tinygrad_lite.nn.utils import clip_grad_norm_, clip_grad_value_
from tinygrad_lite.optim import lr_scheduler as sched

OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.05),
    "SGD-momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "SGD-nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "Adam": lambda ps: optim.Adam(ps, lr=0.05),
    "Adam-amsgrad": lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.05),
}


def _problem(seed=0, dtype=np.float64):
    """Linear least squares: params W (3, 2), b (2,)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((32, 3)).astype(dtype)
    Y = (X @ np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]]) + np.array([0.3, -0.7])).astype(dtype)
    W = tl.Tensor(np.zeros((3, 2), dtype), requires_grad=True)
    b = tl.Tensor(np.zeros(2, dtype), requires_grad=True)
    return tl.Tensor(X), tl.Tensor(Y), [W, b]


def _loss(X, Y, params):
    W, b = params
    return ((X @ W + b - Y) ** 2).mean()


def _train(opt, X, Y, params, steps, scheduler=None):
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = _loss(X, Y, params)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_reduce_a_least_squares_loss(name):
    X, Y, params = _problem()
    losses = _train(OPTIMIZERS[name](params), X, Y, params, 60)
    assert losses[-1] < 0.2 * losses[0], losses[::10]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_params_stay_float32_and_in_place(name):
    X, Y, params = _problem(dtype=np.float32)
    arrays = [p._data for p in params]
    _train(OPTIMIZERS[name](params), X, Y, params, 3)
    for p, a in zip(params, arrays):
        assert p.dtype == np.float32 and p._data is a  # updated in place, same storage


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_bumps_version_so_stale_graphs_are_detected(name):
    X, Y, params = _problem()
    opt = OPTIMIZERS[name](params)
    _loss(X, Y, params).backward()
    stale = (params[0] * params[0]).sum()  # saves W for its backward
    opt.step()
    with pytest.raises(RuntimeError, match="modified"):
        stale.backward()


def test_params_without_grad_are_skipped():
    a = tl.Tensor(np.ones(3), requires_grad=True)
    b = tl.Tensor(np.ones(3), requires_grad=True)
    for make in OPTIMIZERS.values():
        opt = make([a, b])
        a.grad = tl.Tensor(np.ones(3))
        b.grad = None
        opt.step()
        assert b not in opt.state
        np.testing.assert_array_equal(b.detach().numpy(), np.ones(3))
    assert (a.detach().numpy() != 1).all()


def test_zero_grad_set_to_none_and_zeros():
    a = tl.Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    (a * 2).sum().backward()
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is g
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(3))
    (a * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2, 2, 2])
    opt.zero_grad()
    assert a.grad is None


def test_param_groups_defaults_and_add_param_group():
    a, b, c = (tl.Tensor(np.ones(2), requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": b}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0
    for p in (a, b, c):
        p.grad = tl.Tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose([a.detach().numpy()[0], b.detach().numpy()[0], c.detach().numpy()[0]],
                               [0.5, 0.9, 0.9])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_constructor_errors_are_clear():
    a = tl.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"iterable of Tensors.*shape \(2,\)"):
        optim.Adam(a)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([a * 2], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([a], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="same parameter more than once"):
        optim.SGD([a, a], lr=0.1)
    with pytest.raises(TypeError, match="sets"):
        optim.SGD({a}, lr=0.1)


def test_defaults_match_pytorch():
    a = tl.Tensor(np.ones(2), requires_grad=True)
    assert optim.SGD([a]).defaults["lr"] == 1e-3
    d = optim.Adam([a]).defaults
    assert (d["lr"], d["betas"], d["eps"], d["weight_decay"], d["amsgrad"]) == (1e-3, (0.9, 0.999), 1e-8, 0, False)
    assert optim.AdamW([a]).defaults["weight_decay"] == 1e-2


def test_closure_is_called_and_its_loss_returned():
    X, Y, params = _problem()
    opt = optim.SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = _loss(X, Y, params)
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() > 0 and params[0].grad is not None


# ------------------------------------------------------------------------------ state dicts
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_from_checkpoint_gives_identical_trajectory(name, tmp_path):
    X, Y, params = _problem(seed=1)
    opt = OPTIMIZERS[name](params)
    s = sched.StepLR(opt, step_size=4, gamma=0.5)
    _train(opt, X, Y, params, 7, s)
    tl.save({"params": [p.detach() for p in params], "optim": opt.state_dict(), "sched": s.state_dict(),
             "step": 7}, tmp_path / "ck.npz")
    reference = _train(opt, X, Y, params, 8, s)
    final = [p.detach().numpy().copy() for p in params]

    ck = tl.load(tmp_path / "ck.npz")
    assert ck["step"] == 7
    params2 = [tl.Tensor(p.numpy(), requires_grad=True) for p in ck["params"]]
    opt2 = OPTIMIZERS[name](params2)
    s2 = sched.StepLR(opt2, step_size=4, gamma=0.5)
    opt2.load_state_dict(ck["optim"])
    s2.load_state_dict(ck["sched"])
    resumed = _train(opt2, X, Y, params2, 8, s2)
    assert resumed == reference
    for a, b in zip(final, params2):
        np.testing.assert_array_equal(a, b.detach().numpy())


def test_state_dict_layout():
    X, Y, params = _problem()
    opt = optim.Adam([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}], amsgrad=True)
    _train(opt, X, Y, params, 2)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert float(sd["state"][1]["step"].numpy()) == 2.0


def test_load_state_dict_copies_and_casts():
    a = tl.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    sd = {"state": {0: {"momentum_buffer": tl.Tensor(np.full(3, 2.0))}},
          "param_groups": [{"lr": 0.2, "momentum": 0.9, "dampening": 0, "weight_decay": 0, "nesterov": False,
                            "maximize": False, "params": [0]}]}
    opt.load_state_dict(sd)
    buf = opt.state[a]["momentum_buffer"]
    assert buf.dtype == np.float32 and buf._data is not sd["state"][0]["momentum_buffer"]._data
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["params"][0] is a


def test_load_state_dict_mismatch_errors():
    a, b = tl.Tensor(np.ones(3), requires_grad=True), tl.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = tl.Tensor(np.ones(3)), tl.Tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="group 0 has 2 parameters.*has 1"):
        optim.SGD([a], lr=0.1, momentum=0.9).load_state_dict(sd)
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"momentum_buffer.*shape \(3,\).*shape \(2,\)"):
        optim.SGD([b, a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"foo": 1})


# ------------------------------------------------------------------------------ schedulers
def _lrs(make, n=12, lr=1.0):
    a = tl.Tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([a], lr=lr)
    s = make(opt)
    out = [s.get_last_lr()[0]]
    for _ in range(n):
        opt.step()
        s.step()
        out.append(s.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == out[-1]
    return out


def test_step_lr_and_exponential():
    assert _lrs(lambda o: sched.StepLR(o, 3, gamma=0.5), 7) == pytest.approx([1, 1, 1, .5, .5, .5, .25, .25])
    assert _lrs(lambda o: sched.ExponentialLR(o, 0.5), 3) == pytest.approx([1, .5, .25, .125])
    assert _lrs(lambda o: sched.MultiStepLR(o, [2, 4], 0.1), 5) == pytest.approx([1, 1, .1, .1, .01, .01])


def test_linear_warmup_and_cosine_closed_forms():
    lin = _lrs(lambda o: sched.LinearLR(o, start_factor=0.25, total_iters=3), 5)
    assert lin == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    cos = _lrs(lambda o: sched.CosineAnnealingLR(o, T_max=10, eta_min=0.1), 10)
    assert cos == pytest.approx([0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)])
    lam = _lrs(lambda o: sched.LambdaLR(o, lambda e: 1 / (e + 1)), 4)
    assert lam == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])


def test_sequential_warmup_then_cosine():
    def make(o):
        return sched.SequentialLR(o, [sched.LinearLR(o, start_factor=0.5, total_iters=2),
                                      sched.CosineAnnealingLR(o, T_max=4)], milestones=[2])
    lrs = _lrs(make, 6)
    assert lrs == pytest.approx([0.5, 0.75, 1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 0.0])


def test_warmup_cosine_helper_and_state_dict():
    lrs = _lrs(lambda o: sched.warmup_cosine(o, warmup_steps=4, total_steps=12, min_factor=0.0), 14)
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[8] == pytest.approx(0.5) and lrs[12] == pytest.approx(0.0) and lrs[14] == pytest.approx(0.0)
    a = tl.Tensor(np.ones(1), requires_grad=True)
    s = sched.warmup_cosine(optim.SGD([a], lr=1.0), 4, 12)
    sd = s.state_dict()
    assert sd["lr_lambdas"][0] == {"warmup_steps": 4, "total_steps": 12, "min_factor": 0.0}
    with pytest.raises(ValueError, match="warmup_steps"):
        sched.warmup_cosine(optim.SGD([a], lr=1.0), 5, 3)


def test_scheduler_requires_optimizer_and_initial_lr():
    with pytest.raises(TypeError, match="not an Optimizer"):
        sched.StepLR(object(), 3)
    a = tl.Tensor(np.ones(1), requires_grad=True)
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(optim.SGD([a], lr=1.0), 3, last_epoch=5)


# ------------------------------------------------------------------------------ clipping
def test_clip_grad_norm_returns_total_norm_and_scales():
    a, b = tl.Tensor(np.zeros(2), requires_grad=True), tl.Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = tl.Tensor(np.array([3.0, 0.0])), tl.Tensor(np.array([4.0]))
    n = clip_grad_norm_([a, b], max_norm=1.0)
    assert isinstance(n, tl.Tensor) and n.item() == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad.numpy(), b.grad.numpy()]), [0.6, 0, 0.8], rtol=1e-6)
    n2 = clip_grad_norm_(a, max_norm=10.0)  # a single Tensor; under the limit: unchanged
    assert n2.item() == pytest.approx(0.6)
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0], rtol=1e-6)
    assert clip_grad_norm_([tl.Tensor(np.zeros(1), requires_grad=True)], 1.0).item() == 0.0
    a.grad = tl.Tensor(np.array([np.inf, 0.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    a = tl.Tensor(np.zeros(3), requires_grad=True)
    a.grad = tl.Tensor(np.array([-5.0, 0.5, 7.0]))
    clip_grad_value_([a], 1.0)
    np.testing.assert_array_equal(a.grad.numpy(), [-1.0, 0.5, 1.0])


def test_scheduler_state_round_trips_through_a_checkpoint(tmp_path):
    def build():
        a = tl.Tensor(np.ones(1), requires_grad=True)
        o = optim.SGD([a], lr=1.0)
        return o, sched.SequentialLR(o, [sched.LinearLR(o, start_factor=0.1, total_iters=3),
                                         sched.MultiStepLR(o, [5, 8], 0.5)], milestones=[3])
    o1, s1 = build()
    for _ in range(4):
        o1.step()
        s1.step()
    tl.save({"optim": o1.state_dict(), "sched": s1.state_dict()}, tmp_path / "s.ck")
    ref = []
    for _ in range(8):
        o1.step()
        s1.step()
        ref.append(s1.get_last_lr())
    o2, s2 = build()
    ck = tl.load(tmp_path / "s.ck")
    o2.load_state_dict(ck["optim"])
    s2.load_state_dict(ck["sched"])
    out = []
    for _ in range(8):
        o2.step()
        s2.step()
        out.append(s2.get_last_lr())
    assert out == ref
