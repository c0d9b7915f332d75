"""Optimizers, schedulers and gradient clipping against PyTorch in float64 (same params, same gradients)."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite import optim  # noqa: E402
from tinygrad_lite.nn.utils import clip_grad_norm_, clip_grad_value_  # noqa: E402
from tinygrad_lite.optim import lr_scheduler as tls  # noqa: E402
from tinygrad_lite.sparse import RowSparseGrad  # noqa: E402

SHAPES = [(5, 4), (4,), (3, 2, 2)]
STEPS = 20
RTOL = 1e-12


def _run_pair(make_ours, make_theirs, shapes=SHAPES, steps=STEPS, seed=0, groups=None):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    ours = [tl.Tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    if groups is None:
        o_opt, t_opt = make_ours(ours), make_theirs(theirs)
    else:
        o_opt = make_ours([dict(g, params=[ours[i] for i in idx]) for idx, g in groups])
        t_opt = make_theirs([dict(g, params=[theirs[i] for i in idx]) for idx, g in groups])
    for k in range(steps):
        for p, q, g in zip(ours, theirs, grads[k]):
            p.grad = tl.Tensor(g)
            q.grad = torch.tensor(g)
        o_opt.step()
        t_opt.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=RTOL, atol=1e-14,
                                       err_msg=f"step {k}")
    return o_opt, t_opt


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, momentum=0.8, dampening=0.3),
    dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.02, maximize=True),
    dict(lr=0.1, maximize=True),
]


@pytest.mark.parametrize("kw", SGD_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_sgd_matches_torch(kw):
    o, t = _run_pair(lambda ps: optim.SGD(ps, **kw), lambda ps: torch.optim.SGD(ps, **kw))
    if kw.get("momentum"):
        for p, q in zip(o.param_groups[0]["params"], t.param_groups[0]["params"]):
            np.testing.assert_allclose(o.state[p]["momentum_buffer"].numpy(), t.state[q]["momentum_buffer"].numpy(),
                                       rtol=RTOL, atol=1e-14)


ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, maximize=True),
]


@pytest.mark.parametrize("kw", ADAM_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_adam_matches_torch(cls, kw):
    o, t = _run_pair(lambda ps: getattr(optim, cls)(ps, **kw), lambda ps: getattr(torch.optim, cls)(ps, **kw))
    for p, q in zip(o.param_groups[0]["params"], t.param_groups[0]["params"]):
        for key in ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if kw.get("amsgrad") else ()):
            np.testing.assert_allclose(o.state[p][key].numpy(), t.state[q][key].numpy(), rtol=RTOL, atol=1e-15)
        assert float(o.state[p]["step"].numpy()) == float(t.state[q]["step"]) == STEPS


def test_adamw_default_weight_decay_matches_torch():
    o, t = _run_pair(lambda ps: optim.AdamW(ps), lambda ps: torch.optim.AdamW(ps))
    assert o.param_groups[0]["weight_decay"] == t.param_groups[0]["weight_decay"] == 1e-2


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                     ("AdamW", dict(lr=0.01, weight_decay=0.05))])
def test_param_groups_with_different_lrs_match_torch(name, kw):
    groups = [([0, 2], {"lr": 0.3}), ([1], {})]
    o, t = _run_pair(lambda gs: getattr(optim, name)(gs, **kw), lambda gs: getattr(torch.optim, name)(gs, **kw),
                     groups=groups)
    assert [g["lr"] for g in o.param_groups] == [g["lr"] for g in t.param_groups] == [0.3, kw["lr"]]


def test_state_dict_layout_matches_torch():
    o, t = _run_pair(lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
                     lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True), steps=2)
    so, st = o.state_dict(), t.state_dict()
    assert sorted(so["state"]) == sorted(st["state"]) == [0, 1, 2]
    assert set(so["state"][0]) == set(st["state"][0])
    assert so["param_groups"][0]["params"] == st["param_groups"][0]["params"]
    for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert so["param_groups"][0][k] == st["param_groups"][0][k], k


def test_sparse_adam_matches_torch():
    rng = np.random.default_rng(3)
    V, d = 12, 3
    init = rng.standard_normal((V, d))
    p = tl.Tensor(init, requires_grad=True)
    q = torch.tensor(init, requires_grad=True)
    o, t = optim.SparseAdam([p], lr=0.05), torch.optim.SparseAdam([q], lr=0.05)
    for _ in range(STEPS):
        idx = rng.integers(0, V, size=6)  # repeats included
        vals = rng.standard_normal((6, d))
        p.grad = RowSparseGrad(idx, vals, (V, d))
        q.grad = torch.sparse_coo_tensor(torch.tensor(idx)[None], torch.tensor(vals), (V, d), check_invariants=True)
        o.step()
        t.step()
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=RTOL, atol=1e-14)


def test_sparse_sgd_matches_torch():
    rng = np.random.default_rng(4)
    V, d = 10, 2
    init = rng.standard_normal((V, d))
    p, q = tl.Tensor(init, requires_grad=True), torch.tensor(init, requires_grad=True)
    o, t = optim.SGD([p], lr=0.1), torch.optim.SGD([q], lr=0.1)
    for _ in range(5):
        idx, vals = rng.integers(0, V, size=7), rng.standard_normal((7, d))
        p.grad = RowSparseGrad(idx, vals, (V, d))
        q.grad = torch.sparse_coo_tensor(torch.tensor(idx)[None], torch.tensor(vals), (V, d), check_invariants=True)
        o.step()
        t.step()
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=RTOL, atol=1e-14)


# ------------------------------------------------------------------------------ schedulers
def _lr_sequences(make_ours, make_theirs, n=30, groups=(0.1, 0.02)):
    po = [{"params": [tl.Tensor(np.zeros(1), requires_grad=True)], "lr": lr} for lr in groups]
    pt = [{"params": [torch.zeros(1, dtype=torch.float64, requires_grad=True)], "lr": lr} for lr in groups]
    oo, ot = optim.SGD(po, lr=0.1), torch.optim.SGD(pt, lr=0.1)
    so, st = make_ours(oo), make_theirs(ot)
    seq_o, seq_t = [list(so.get_last_lr())], [list(st.get_last_lr())]
    for _ in range(n):
        oo.step()
        ot.step()
        so.step()
        st.step()
        seq_o.append(list(so.get_last_lr()))
        seq_t.append(list(st.get_last_lr()))
        assert [g["lr"] for g in oo.param_groups] == [g["lr"] for g in ot.param_groups]
    return seq_o, seq_t


SCHEDULERS = {
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e),
    "LambdaLR-list": lambda m, o: m.LambdaLR(o, [lambda e: 1.0 / (e + 1), lambda e: 0.5 ** (e // 4)]),
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.3),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 21], gamma=0.5),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=8),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=25),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "CosineAnnealingLR-long": lambda m, o: m.CosineAnnealingLR(o, T_max=30),
    "SequentialLR-warmup-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.01, total_iters=5), m.CosineAnnealingLR(o, T_max=25, eta_min=1e-4)],
        milestones=[5]),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 3)],
        milestones=[4, 12]),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_matches_torch(name):
    make = SCHEDULERS[name]
    ours, theirs = _lr_sequences(lambda o: make(tls, o), lambda o: make(torch.optim.lr_scheduler, o))
    assert ours == theirs  # exact: same formulas, same order of float operations


def test_warmup_cosine_matches_lambdalr_in_torch():
    def make(m, o):
        return m.LambdaLR(o, tls._WarmupCosine(5, 25, 0.1))
    ours, theirs = _lr_sequences(lambda o: tls.warmup_cosine(o, 5, 25, 0.1),
                                 lambda o: make(torch.optim.lr_scheduler, o))
    assert ours == theirs
    assert ours[0][0] == pytest.approx(0.1 / 5) and ours[4][0] == pytest.approx(0.1)
    assert ours[25][0] == pytest.approx(0.01) and ours[30][0] == pytest.approx(0.01)


# ------------------------------------------------------------------------------ clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(s) for s in SHAPES]
    ours = [tl.Tensor(np.zeros(s), requires_grad=True) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tl.Tensor(g), torch.tensor(g)
    ours.append(tl.Tensor(np.zeros(3), requires_grad=True))  # no grad: skipped
    no = clip_grad_norm_(ours, max_norm, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(no, tl.Tensor) and no.shape == () and no.dtype == np.float64
    np.testing.assert_allclose(no.numpy(), nt.numpy(), rtol=1e-13)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-13)


def test_clip_grad_value_matches_torch():
    rng = np.random.default_rng(8)
    g = rng.standard_normal((6, 5)) * 3
    p, q = tl.Tensor(np.zeros((6, 5)), requires_grad=True), torch.zeros((6, 5), dtype=torch.float64,
                                                                          requires_grad=True)
    p.grad, q.grad = tl.Tensor(g), torch.tensor(g)
    clip_grad_value_([p], 1.5)
    torch.nn.utils.clip_grad_value_([q], 1.5)
    np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
