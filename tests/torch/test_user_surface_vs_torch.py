"""The surface added for users' own scripts (F.pad, norm and torch.linalg's norms, diag/diagonal, outer,
unique, bincount, interpolate, the padding layers, OneCycleLR, Size) against PyTorch in float64: values and
gradients over hypothesis shapes, and the errors for bad input."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
import tinygrad_lite.nn.functional as F

TF = torch.nn.functional


def _check(ours, theirs, a, seed=0, grad_rtol=1e-10):
    x = tl.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, z = ours(x), theirs(t)
    assert tuple(y.shape) == tuple(z.shape)
    np.testing.assert_allclose(y.detach().numpy(), z.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(seed).standard_normal(tuple(z.shape))
    (y * tl.tensor(w)).sum().backward()
    (z * torch.tensor(w)).sum().backward()
    tg = t.grad.numpy() if t.grad is not None else np.zeros(a.shape)
    np.testing.assert_allclose(x.grad.numpy(), tg, rtol=grad_rtol, atol=1e-12)
    return x.grad.numpy(), w


def _arr(shape, seed):
    return np.random.default_rng(seed).uniform(-2, 2, shape)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_pad_all_modes_match_torch(data):
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = data.draw(st.integers(1, 3))
    spatial = tuple(data.draw(st.integers(2, 5)) for _ in range(k))
    shape = (2,) * data.draw(st.integers(1, 2)) + spatial
    limit = [n - 1 if mode == "reflect" else n for n in reversed(spatial)]
    lo_bound = (lambda n: -n // 2) if mode == "constant" else (lambda n: 0)
    pads = tuple(data.draw(st.integers(lo_bound(m), m)) for m in limit for _ in range(2))
    value = data.draw(st.sampled_from([None, 0.0, 1.5])) if mode == "constant" else None
    _check(lambda x: F.pad(x, pads, mode, value), lambda t: TF.pad(t, pads, mode, value),
           _arr(shape, data.draw(st.integers(0, 99))))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_norms_match_torch(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    p = data.draw(st.sampled_from(["fro", 1, 2, 3, 0.5, float("inf"), float("-inf")]))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keep = data.draw(st.booleans())
    a = _arr(shape, data.draw(st.integers(0, 99)))
    if data.draw(st.booleans()):
        a[(0,) * len(shape)] = 0.0  # a zero element (and with a size-1 dim, a zero vector: gradient 0)
    _check(lambda x: x.norm(p, dim, keep), lambda t: t.norm(p, dim, keep), a)
    if p != "fro":
        _check(lambda x: tl.linalg.vector_norm(x, p, dim, keep), lambda t: torch.linalg.vector_norm(t, p, dim, keep), a)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, float("inf"), float("-inf")])
def test_matrix_norms_match_torch(ord):
    a = _arr((2, 3, 4), 1)
    _check(lambda x: tl.linalg.norm(x[0], ord), lambda t: torch.linalg.norm(t[0], ord), a)
    _check(lambda x: tl.linalg.norm(x, ord, dim=(0, 2), keepdim=True),
           lambda t: torch.linalg.norm(t, ord, dim=(0, 2), keepdim=True), a)
    if ord is not None:
        _check(lambda x: tl.linalg.matrix_norm(x, ord), lambda t: torch.linalg.matrix_norm(t, ord), a)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), m=st.integers(1, 5), k=st.integers(-6, 6), seed=st.integers(0, 99))
def test_diag_diagonal_outer_match_torch(n, m, k, seed):
    a = _arr((n, m), seed)
    _check(lambda x: x.diag(k), lambda t: t.diag(k), a)
    _check(lambda x: tl.diag(x[0], k), lambda t: torch.diag(t[0], k), a)
    _check(lambda x: x[None].diagonal(k, 1, -1), lambda t: t[None].diagonal(k, 1, -1), a)
    _check(lambda x: tl.outer(x[:, 0], x[0]), lambda t: torch.outer(t[:, 0], t[0]), a)


def test_unique_bincount_interpolate_and_layers():
    ints = np.random.default_rng(0).integers(0, 6, (4, 5))
    for kw in ({}, {"return_inverse": True}, {"return_counts": True}, {"return_inverse": True, "return_counts": True},
               {"dim": 0, "return_inverse": True}):
        ours = tl.tensor(ints).unique(**kw)
        theirs = torch.tensor(ints).unique(**kw)
        for o, t in zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,)):
            np.testing.assert_array_equal(o.numpy(), t.numpy())
    np.testing.assert_array_equal(tl.tensor(ints[0]).bincount(minlength=9).numpy(),
                                  torch.tensor(ints[0]).bincount(minlength=9).numpy())
    a = _arr((2, 3, 4, 5), 2)
    for kw in ({"scale_factor": 2}, {"scale_factor": 1.5}, {"size": (3, 7)}, {"scale_factor": (0.5, 2.7)}):
        _check(lambda x, kw=kw: F.interpolate(x, **kw), lambda t, kw=kw: TF.interpolate(t, **kw), a)
    for ours, theirs in ((nn.ZeroPad2d(2), torch.nn.ZeroPad2d(2)), (nn.ConstantPad1d((1, 2), 0.5), torch.nn.ConstantPad1d((1, 2), 0.5)),
                         (nn.ReflectionPad2d((1, 2, 0, 1)), torch.nn.ReflectionPad2d((1, 2, 0, 1))),
                         (lambda x: nn.ReplicationPad1d(3)(x[0]), lambda t: torch.nn.ReplicationPad1d(3)(t[0])),
                         (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2))):
        _check(ours, theirs, a)


def test_one_cycle_lr_matches_torch():
    for opt_name, kw in (("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {})):
        for three, strat in ((False, "cos"), (True, "linear")):
            seqs = []
            for lib in (tl, torch):
                p = lib.tensor(np.ones(3), requires_grad=True)
                opt = getattr(lib.optim, opt_name)([p], **kw)
                s = lib.optim.lr_scheduler.OneCycleLR(opt, 0.05, epochs=2, steps_per_epoch=5, three_phase=three,
                                                      anneal_strategy=strat)
                seq = []
                for _ in range(10):
                    (p * p).sum().backward()
                    opt.step()
                    opt.zero_grad()
                    s.step()
                    g = opt.param_groups[0]
                    seq.append((s.get_last_lr()[0], g["momentum"] if "momentum" in g else g["betas"][0]))
                seqs.append((seq, p.detach().numpy().copy()))
            assert seqs[0][0] == seqs[1][0]
            np.testing.assert_allclose(seqs[0][1], seqs[1][1], rtol=1e-12)
            with pytest.raises(ValueError, match="tried to step 11 times"):
                s_ours = tl.optim.lr_scheduler.OneCycleLR(tl.optim.SGD([tl.tensor([1.0], requires_grad=True)], lr=0.1,
                                                                       momentum=0.9), 0.1, total_steps=10)
                for _ in range(11):
                    s_ours.step()


def test_size_is_a_tuple_that_prints_as_torch_under_the_hook(monkeypatch):
    import tinygrad_lite.compat as compat
    x = tl.zeros(4, 5)
    assert x.shape == (4, 5) and isinstance(x.shape, tuple) and hash(x.shape) == hash((4, 5))
    assert x.shape[1:] == (5,) and isinstance(x.shape[1:], tl.Size) and x.size().numel() == 20
    assert repr(x.shape) == "(4, 5)"
    monkeypatch.setattr(compat, "installed", lambda: True)  # (the real torch is imported here: the hook cannot be)
    assert repr(x.shape) == str(torch.zeros(4, 5).shape) == "torch.Size([4, 5])"
    assert str(x[0].shape) == str(torch.zeros(4, 5)[0].shape) and repr(x.sum().shape) == "torch.Size([])"
    import pickle
    assert type(pickle.loads(pickle.dumps(x.shape))) is tuple


def test_bad_input_gets_an_error_naming_the_op_and_shapes():
    x = tl.zeros(2, 3)
    with pytest.raises(ValueError, match=r"pad: reflect padding of \(3, 0\) needs each pad <= 2 .*\(1, 2, 3\)"):
        F.pad(x[None], (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: pad must have an even number"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: mode must be one of"):
        F.pad(x, (1, 1), mode="edge")
    with pytest.raises(ValueError, match=r"outer: expected 1-D tensors, got self of shape \(2, 3\)"):
        tl.outer(x, x[0])
    with pytest.raises(ValueError, match=r"diag: expected a 1-D or 2-D tensor, got shape \(1, 2, 3\)"):
        x[None].diag()
    with pytest.raises(ValueError, match=r"bincount: the input must be non-negative"):
        tl.tensor([1, -1]).bincount()
    with pytest.raises(ValueError, match=r"bincount: expected a 1-D tensor of non-negative ints, got shape \(2, 3\)"):
        x.long().bincount()
    with pytest.raises(TypeError, match="vector_norm: expected a floating point tensor"):
        tl.tensor([1, 2]).norm()
    with pytest.raises(TypeError, match="prod: dim must be an int"):
        x.prod((0, 1))
    with pytest.raises(AttributeError, match="matrix_norm.ord='nuc'. .needs singular values. is not supported"):
        tl.linalg.norm(x, "nuc")
    with pytest.raises(ValueError, match=r"linalg.norm: with ord=1 and dim=None the input must be 1-D or 2-D, got shape"):
        tl.linalg.norm(x[None], 1)
    with pytest.raises(AttributeError, match=r"interpolate\(mode='box'\) .*is not supported"):
        F.interpolate(x[None, None], scale_factor=2, mode="box")
    with pytest.raises(AttributeError, match=r"interpolate\(antialias=True\) is not supported"):
        F.interpolate(x[None, None], scale_factor=0.5, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' needs a 4-D input \(N, C, \*spatial\), got shape \(1, 2, 3\)"):
        F.interpolate(tl.ones(1, 2, 3), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners can only be set with the interpolating modes"):
        F.interpolate(x[None, None], scale_factor=2, align_corners=True)


_INTERP_SIZES = [dict(scale_factor=2), dict(scale_factor=1.7), dict(scale_factor=0.5, recompute_scale_factor=True),
                 dict(size=3), dict(size=9), dict(size=1)]


@pytest.mark.parametrize("mode,shape", [("linear", (2, 3, 7)), ("bilinear", (2, 3, 5, 7)), ("bicubic", (2, 3, 5, 7)),
                                        ("trilinear", (1, 2, 3, 4, 5))])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_linear_modes_match_torch(mode, shape, align_corners):
    # upsampling, downsampling, a fractional scale, a single output pixel; values and gradients in float64
    a = _arr(shape, 0)
    for kw in _INTERP_SIZES:
        _check(lambda x, kw=kw: F.interpolate(x, mode=mode, align_corners=align_corners, **kw),
               lambda t, kw=kw: TF.interpolate(t, mode=mode, align_corners=align_corners, **kw), a)
    up = tl.nn.Upsample(scale_factor=2, mode=mode, align_corners=align_corners)
    _check(up, torch.nn.Upsample(scale_factor=2, mode=mode, align_corners=align_corners), a)


def test_interpolate_nearest_exact_area_and_float32_bicubic_match_torch():
    a = _arr((2, 3, 5, 7), 1)
    for mode in ("nearest-exact", "area"):
        for kw in _INTERP_SIZES:
            _check(lambda x, kw=kw: F.interpolate(x, mode=mode, **kw),
                   lambda t, kw=kw: TF.interpolate(t, mode=mode, **kw), a)
    x = a.astype(np.float32)
    ours = F.interpolate(tl.tensor(x), scale_factor=1.5, mode="bicubic")
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), TF.interpolate(torch.tensor(x), scale_factor=1.5, mode="bicubic").numpy(),
                               rtol=1e-5, atol=1e-6)


_ACT = [("relu6", (), 4.0), ("hardtanh", (-0.5, 1.2), 1.0), ("hardsigmoid", (), 4.0), ("hardswish", (), 4.0),
        ("mish", (), 3.0), ("selu", (), 3.0), ("celu", (0.7,), 3.0), ("softsign", (), 3.0), ("tanhshrink", (), 3.0),
        ("hardshrink", (0.4,), 2.0), ("softshrink", (0.4,), 2.0), ("threshold", (0.1, -2.0), 2.0), ("glu", (1,), 2.0),
        ("softmin", (1,), 2.0)]


@pytest.mark.parametrize("name,args,scale", _ACT, ids=[a[0] for a in _ACT])
def test_more_activations_match_torch(name, args, scale):
    a = _arr((3, 4, 2), 3) * scale
    # PyTorch's backward kernels of these two multiply by float32 constants (1.0f / 6, 1 / alpha as a float):
    # their gradients agree with ours to float32 only, and ours is checked against the exact derivative instead
    loose = name in ("hardsigmoid", "celu")
    g, w = _check(lambda x: getattr(F, name)(x, *args), lambda t: getattr(TF, name)(t, *args), a,
                  grad_rtol=1e-6 if loose else 1e-10)
    if name == "hardsigmoid":
        np.testing.assert_allclose(g, w * ((a > -3) & (a < 3)) / 6.0, rtol=1e-15)
    if name == "celu":
        np.testing.assert_allclose(g, w * np.where(a > 0, 1.0, np.exp(a / args[0])), rtol=1e-12)


def test_more_layers_match_torch():
    a = _arr((2, 4, 3, 3), 4) * 3
    pairs = [(nn.ReLU6(), torch.nn.ReLU6()), (nn.Hardtanh(-2, 2), torch.nn.Hardtanh(-2, 2)), (nn.Mish(), torch.nn.Mish()),
             (nn.Softplus(beta=2, threshold=3), torch.nn.Softplus(beta=2, threshold=3)), (nn.SELU(), torch.nn.SELU()),
             (nn.GLU(1), torch.nn.GLU(1)), (nn.Softmin(1), torch.nn.Softmin(1)), (nn.Hardswish(), torch.nn.Hardswish())]
    for ours, theirs in pairs:
        _check(ours, theirs, a)
    w = np.random.default_rng(5).uniform(0.5, 1.5, 4)
    b = np.random.default_rng(6).uniform(-1, 1, 4)
    _check(lambda x: F.group_norm(x, 2, tl.tensor(w), tl.tensor(b)), lambda t: TF.group_norm(t, 2, torch.tensor(w), torch.tensor(b)), a)
    _check(lambda x: F.prelu(x, tl.tensor(w)), lambda t: TF.prelu(t, torch.tensor(w)), a)
    _check(lambda x: F.pairwise_distance(x[0], x[1]), lambda t: TF.pairwise_distance(t[0], t[1]), a)
    _check(lambda x: nn.CosineSimilarity(dim=1)(x[0], x[1]), lambda t: torch.nn.CosineSimilarity(dim=1)(t[0], t[1]), a)
    gn, tgn = nn.GroupNorm(2, 4).double(), torch.nn.GroupNorm(2, 4).double()
    _check(gn, tgn, a)
    assert [n for n, _ in gn.named_parameters()] == [n for n, _ in tgn.named_parameters()]
    for layer in (nn.GroupNorm(2, 4), nn.PReLU(3), nn.InstanceNorm2d(3, affine=True)):  # the default dtype, as torch
        assert all(p.dtype == np.float32 for p in layer.parameters()), layer
    pr, tpr = nn.PReLU(4), torch.nn.PReLU(4)
    assert pr.weight.shape == tuple(tpr.weight.shape) and float(pr.weight[0]) == float(tpr.weight[0])


def test_parameter_list_and_dict_register_their_parameters():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(tl.ones(2)) for _ in range(3)])
            self.d = nn.ParameterDict({"a": nn.Parameter(tl.zeros(1)), "b": nn.Parameter(tl.zeros(2))})

        def forward(self, x):
            return sum(w * x for w in self.ws).sum() + self.d["b"].sum()
    m = M()
    assert [n for n, _ in m.named_parameters()] == ["ws.0", "ws.1", "ws.2", "d.a", "d.b"]
    assert len(m.ws) == 3 and list(m.d.keys()) == ["a", "b"] and "a" in m.d
    m(tl.ones(2)).backward()
    assert all(p.grad is not None for p in m.ws) and set(m.state_dict()) == {"ws.0", "ws.1", "ws.2", "d.a", "d.b"}


def _lr_sequence(lib, make, steps, metric=None):
    p = lib.tensor(np.ones(2), requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
    s = make(lib.optim.lr_scheduler, opt)
    out = []
    for i in range(steps):
        opt.step()
        s.step(metric(i)) if metric else s.step()
        out.append(opt.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize("kind", ["plateau_min", "plateau_max_abs", "warm_restarts", "warm_restarts_mult", "poly",
                                  "chained", "cyclic", "cyclic2_asymmetric", "cyclic_exp_range", "cyclic_custom"])
def test_more_schedulers_match_torch(kind):
    metric = None
    if kind == "plateau_min":
        make = lambda m, o: m.ReduceLROnPlateau(o, patience=2, factor=0.5, cooldown=1, min_lr=0.01)  # noqa: E731
        metric = lambda i: [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 4, 4, 4, 4, 4][i]  # noqa: E731
    elif kind == "plateau_max_abs":
        make = lambda m, o: m.ReduceLROnPlateau(o, "max", patience=1, threshold=0.1, threshold_mode="abs")  # noqa: E731
        metric = lambda i: [1, 1.05, 1.2, 1.25, 1.3, 1.3, 1.3, 2][i % 8]  # noqa: E731
    elif kind == "warm_restarts":
        make = lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, eta_min=0.001)  # noqa: E731
    elif kind == "warm_restarts_mult":
        make = lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2)  # noqa: E731
    elif kind == "chained":
        make = lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=3),  # noqa: E731
                                                m.ExponentialLR(o, gamma=0.9)])
    elif kind == "cyclic":
        make = lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3)  # noqa: E731
    elif kind == "cyclic2_asymmetric":
        make = lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=4, mode="triangular2")  # noqa: E731
    elif kind == "cyclic_exp_range":
        make = lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.9,  # noqa: E731
                                       base_momentum=0.7, max_momentum=0.95)
    elif kind == "cyclic_custom":
        make = lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 0.5 ** x,  # noqa: E731
                                       scale_mode="iterations", cycle_momentum=False)
    else:
        make = lambda m, o: m.PolynomialLR(o, total_iters=6, power=2.0)  # noqa: E731
    assert _lr_sequence(tl, make, 14, metric) == _lr_sequence(torch, make, 14, metric)


def test_cyclic_lr_cycles_adams_beta1_and_rejects_bad_arguments():
    seqs = []
    for lib in (tl, torch):
        p = lib.tensor(np.ones(2), requires_grad=True)
        opt = lib.optim.Adam([p], lr=0.1)
        s = lib.optim.lr_scheduler.CyclicLR(opt, 0.001, 0.01, step_size_up=2)
        seqs.append([(opt.step(), s.step(), s.get_last_lr()[0], opt.param_groups[0]["betas"])[2:] for _ in range(6)])
    assert seqs[0] == seqs[1]
    for lib in (tl, torch):  # Adagrad has neither momentum nor betas
        opt = lib.optim.Adagrad([lib.tensor([1.0], requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError, match="optimizer must support momentum"):
            lib.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1)
    with pytest.raises(ValueError, match="CyclicLR: mode must be one of"):
        tl.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sine", cycle_momentum=False)
    with pytest.raises(ValueError, match="CyclicLR: expected 1 values for max_lr"):
        tl.optim.lr_scheduler.CyclicLR(opt, 0.01, [0.1, 0.2], cycle_momentum=False)


def test_parameters_to_vector_and_back_match_torch():
    w = [np.arange(6.0).reshape(2, 3), np.arange(4.0)]
    ours = [nn.Parameter(tl.tensor(a)) for a in w]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in w]
    v, tv = nn.utils.parameters_to_vector(ours), torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    nn.utils.vector_to_parameters(v.detach() * 2, ours)
    torch.nn.utils.vector_to_parameters(tv.detach() * 2, theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.detach().numpy(), t.detach().numpy())


def test_small_tensor_methods_match_torch():
    a = _arr((3, 4), 7)
    x, t = tl.tensor(a), torch.tensor(a)
    c = a > 0
    _check(lambda u: u.where(tl.tensor(c), u * 2), lambda v: v.where(torch.tensor(c), v * 2), a)
    assert x.allclose(x + 1e-9) == t.allclose(t + 1e-9) and x.allclose(x + 1) == t.allclose(t + 1)
    np.testing.assert_array_equal(x.isclose(x * (1 + 1e-6)).numpy(), t.isclose(t * (1 + 1e-6)).numpy())
    assert (x.ndimension(), x.nbytes, x.itemsize) == (t.ndimension(), t.nbytes, t.itemsize)


@pytest.mark.parametrize("shape,dim", [((0, 3), 0), ((2, 0), 1), ((2, 0), None)])
def test_prod_of_empty_is_one_with_an_empty_gradient(shape, dim):
    a = np.zeros(shape)
    _check(lambda x: x.prod() if dim is None else x.prod(dim), lambda t: t.prod() if dim is None else t.prod(dim), a)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_quantile_matches_torch(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keep = data.draw(st.booleans())
    interp = data.draw(st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]))
    qs = data.draw(st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1, max_size=3)))
    a = _arr(shape, data.draw(st.integers(0, 99)))
    oq, tq = (qs, qs) if isinstance(qs, float) else (tl.tensor(np.array(qs)), torch.tensor(qs, dtype=torch.float64))
    _check(lambda x: x.quantile(oq, dim, keep, interpolation=interp),
           lambda t: t.quantile(tq, dim, keep, interpolation=interp), a)


def test_instance_norm_pixel_shuffle_losses_tensordot_index_add_match_torch():
    a = _arr((2, 8, 3, 4), 8)
    _check(lambda x: F.instance_norm(x), lambda t: TF.instance_norm(t), a)
    _check(nn.InstanceNorm2d(8, affine=True).double(), torch.nn.InstanceNorm2d(8, affine=True).double(), a)
    _check(nn.InstanceNorm1d(8).double(), torch.nn.InstanceNorm1d(8).double(), a[:, :, 0])
    _check(nn.PixelShuffle(2), torch.nn.PixelShuffle(2), a)
    _check(lambda x: F.pixel_unshuffle(x, 2), lambda t: TF.pixel_unshuffle(t, 2), _arr((2, 3, 4, 6), 9))
    y = np.sign(_arr(6, 10))
    _check(lambda x: nn.MarginRankingLoss(0.3)(x[0], x[1], tl.tensor(y)),
           lambda t: torch.nn.MarginRankingLoss(0.3)(t[0], t[1], torch.tensor(y)), _arr((2, 6), 11))
    for swap in (False, True):
        _check(lambda x: nn.TripletMarginLoss(swap=swap)(x[0], x[1], x[2]),
               lambda t: torch.nn.TripletMarginLoss(swap=swap)(t[0], t[1], t[2]), _arr((3, 4, 5), 12))
    _check(lambda x: tl.tensordot(x, x.permute(2, 1, 0).contiguous(), ([0, 2], [2, 0])),
           lambda t: torch.tensordot(t, t.permute(2, 1, 0).contiguous(), ([0, 2], [2, 0])), _arr((2, 3, 2), 13))
    idx = np.array([0, 2, 0])
    _check(lambda x: x.index_add(1, tl.tensor(idx), x[:, :3] * 2), lambda t: t.index_add(1, torch.tensor(idx), t[:, :3] * 2),
           _arr((2, 4), 14))


def test_weighted_random_sampler_draws_in_proportion():
    tl.manual_seed(0)
    s = tl.utils.data.WeightedRandomSampler([0.1, 0.0, 5.0, 1.0], 3000)
    counts = np.bincount(list(s), minlength=4)
    assert len(s) == 3000 and counts[1] == 0 and abs(counts[2] / 3000 - 5 / 6.1) < 0.03
    once = list(tl.utils.data.WeightedRandomSampler([1.0, 2.0, 3.0], 3, replacement=False))
    assert sorted(once) == [0, 1, 2]
    loader = tl.utils.data.DataLoader(tl.utils.data.TensorDataset(tl.arange(4.0)), batch_size=2,
                                      sampler=tl.utils.data.WeightedRandomSampler([0, 0, 1.0, 0], 4))
    assert [b[0].tolist() for b in loader] == [[2.0, 2.0], [2.0, 2.0]]
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        tl.utils.data.WeightedRandomSampler([1.0], 0)


def test_orthogonal_init_casts_detach_and_in_place_reshapes():
    for shape in ((3, 5), (5, 3), (4, 2, 2)):
        w = nn.init.orthogonal_(tl.empty(*shape, dtype=tl.float64), gain=2.0)
        m = w.reshape(shape[0], -1).numpy()
        small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(small, 4.0 * np.eye(small.shape[0]), atol=1e-12)
    with pytest.raises(ValueError, match=r"orthogonal_: only tensors with 2 or more dimensions.*\(3,\)"):
        nn.init.orthogonal_(tl.empty(3))
    a = _arr((2, 3), 15) * 100
    for m in ("half", "byte", "char", "short"):
        ours, theirs = getattr(tl.tensor(a), m)(), getattr(torch.tensor(a), m)()
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "").replace("half", "float16") \
            .replace("char", "int8").replace("short", "int16")
    y = tl.tensor(a, requires_grad=True) * 2
    assert y.detach_() is y and not y.requires_grad and y.is_leaf
    z = tl.zeros(2, 3)
    assert z.unsqueeze_(1).shape == (2, 1, 3) and z.squeeze_().shape == (2, 3) and z.unsqueeze_(-1).squeeze_(2).shape == (2, 3)
    with pytest.raises(RuntimeError, match="unsqueeze_: changing the shape in place of a tensor that requires grad"):
        tl.zeros(2, requires_grad=True).unsqueeze_(0)


@pytest.mark.parametrize("values,dtype", [([0.75, 1.25], None), ([1.0, 2.0], None), ([1e-5, 1.0], None), ([1e5, 1.0], None),
                                          ([[0.75, -1.25], [3.0, 4.0]], "float64"), (3.5, None), ([], None),
                                          ([float("nan"), 1.5, float("inf")], None), ([[1, 20], [300, 4]], "int64"),
                                          ([True, False], "bool"), ([2.0 ** 40], None), ([1, 2], "int32")])
def test_tensors_print_as_pytorch_under_the_hook(monkeypatch, values, dtype):
    import tinygrad_lite.compat as compat
    monkeypatch.setattr(compat, "installed", lambda: True)  # (the real torch is imported here: the hook cannot be)
    ours = tl.tensor(values, dtype=getattr(tl, dtype) if dtype and dtype != "bool" else tl.bool_ if dtype else None)
    theirs = torch.tensor(values, dtype=getattr(torch, dtype) if dtype else None)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("name,kw", [("Adamax", {}), ("Adamax", {"weight_decay": 0.1, "lr": 0.01, "maximize": True}),
                                     ("NAdam", {}), ("NAdam", {"weight_decay": 0.1}),
                                     ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}), ("RAdam", {}),
                                     ("RAdam", {"weight_decay": 0.1, "lr": 0.05}),
                                     ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
                                     ("Rprop", {}), ("Rprop", {"lr": 0.3, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.4)}),
                                     ("Rprop", {"maximize": True}),
                                     ("ASGD", {}), ("ASGD", {"t0": 4, "lambd": 0.01, "weight_decay": 0.1, "lr": 0.05}),
                                     ("ASGD", {"t0": 0, "alpha": 0.5, "maximize": True})])
def test_adamax_nadam_radam_rprop_asgd_follow_torch(name, kw):
    w0 = _arr((3, 4), 16)
    out = []
    for lib in (tl, torch):
        p = lib.tensor(w0, requires_grad=True)
        opt = getattr(lib.optim, name)([p], **kw)
        for _ in range(12):  # RAdam switches from momentum SGD to the rectified adaptive step at step 6
            ((p * p).sum() + (p ** 3).sum() * 0.1).backward()
            opt.step()
            opt.zero_grad()
        out.append(p.detach().numpy().copy())
        if name == "ASGD":  # the weights' running average too
            out.append(opt.state[p]["ax"].detach().numpy().copy())
    np.testing.assert_allclose(out[0], out[len(out) // 2], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(out[len(out) // 2 - 1], out[-1], rtol=1e-14, atol=1e-15)
    assert np.abs(out[0] - w0).max() > 1e-3


_DIST_CASES = {
    "normal log_prob": (lambda D, m, s, x: D.Normal(m, s).log_prob(x), 3),
    "normal entropy + cdf": (lambda D, m, s, x: D.Normal(m, s).entropy() + D.Normal(m, s).cdf(x), 3),
    "normal kl": (lambda D, m, s, x: D.kl_divergence(D.Normal(m, s), D.Normal(x, s * 2)), 3),
    "categorical logits": (lambda D, lg: D.Categorical(logits=lg).log_prob(_ACTIONS[type(lg).__module__]) +
                           D.Categorical(logits=lg).entropy(), 1),
    "categorical probs kl": (lambda D, lg: D.Categorical(probs=lg.exp()).log_prob(_ACTIONS[type(lg).__module__]) +
                             D.kl_divergence(D.Categorical(logits=lg), D.Categorical(logits=lg * 2)), 1),
    "bernoulli": (lambda D, lg: D.Bernoulli(logits=lg).log_prob(((lg > 0.3) * 1.0).double()) + D.Bernoulli(probs=lg.sigmoid()).entropy()
                  + D.kl_divergence(D.Bernoulli(logits=lg), D.Bernoulli(logits=-lg)), 1),
    "uniform": (lambda D, lg: D.Uniform(lg, lg + 2).log_prob(lg + 0.5) + D.Uniform(lg, lg + 3).entropy(), 1),
}
_ACTIONS = {"tinygrad_lite.tensor": tl.tensor(np.array([0, 3, 4, 1])), "torch": torch.tensor([0, 3, 4, 1])}


@pytest.mark.parametrize("name", sorted(_DIST_CASES))
def test_distributions_match_torch(name):
    from tinygrad_lite import distributions
    fn, n = _DIST_CASES[name]
    arrays = [_arr((4, 5), 17 + i) for i in range(n)]
    if n == 3:
        arrays[1] = np.abs(arrays[1]) + 0.5  # a scale
    ts = [tl.tensor(a, requires_grad=True) for a in arrays]
    qs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, z = fn(distributions, *ts), fn(torch.distributions, *qs)
    np.testing.assert_allclose(y.detach().numpy(), z.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    z.sum().backward()
    for a, b in zip(ts, qs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_distribution_samples_have_the_right_shapes_and_frequencies():
    from tinygrad_lite import distributions as D
    tl.manual_seed(0)
    x = D.Categorical(probs=tl.tensor([0.1, 0.0, 0.6, 0.3])).sample((4000,))
    freq = np.bincount(x.numpy(), minlength=4) / 4000
    assert x.shape == (4000,) and x.dtype == np.int64 and freq[1] == 0 and abs(freq[2] - 0.6) < 0.03
    loc = tl.zeros(3, requires_grad=True)
    n = D.Normal(loc, tl.ones(3))
    assert n.sample((2,)).shape == (2, 3) and not n.sample().requires_grad and n.rsample().requires_grad
    assert n.batch_shape == (3,) and D.Bernoulli(probs=tl.tensor([0.2, 0.9])).sample((3,)).shape == (3, 2)
    with pytest.raises(ValueError, match="Categorical: either `probs` or `logits`"):
        D.Categorical()
    with pytest.raises(AttributeError, match=r"kl_divergence\(Normal, Categorical\) is not supported"):
        D.kl_divergence(n, D.Categorical(logits=tl.zeros(2)))


@pytest.mark.parametrize("shape,dim,size,step", [((7,), 0, 3, 2), ((2, 9, 3), 1, 4, 1), ((2, 9, 3), -2, 2, 3),
                                                 ((4, 4), 1, 4, 1), ((4, 5), 0, 1, 1)])
def test_unfold_windows_match_torch(shape, dim, size, step):
    _check(lambda x: x.unfold(dim, size, step), lambda t: t.unfold(dim, size, step), _arr(shape, 18))


def test_image_patches_with_two_unfolds_match_torch():
    _check(lambda x: x.unfold(2, 2, 2).unfold(3, 2, 2).reshape(1, 3, -1, 4),
           lambda t: t.unfold(2, 2, 2).unfold(3, 2, 2).reshape(1, 3, -1, 4), _arr((1, 3, 4, 6), 19))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=2),
                                dict(kernel_size=3, padding=1, dilation=2), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))])
def test_unfold_and_fold_match_torch(kw):
    # values and gradients (float64); fold of unfold counts each pixel once per block covering it; the layers
    a = _arr((2, 3, 7, 8), 2)
    _check(lambda x: F.unfold(x, **kw), lambda t: TF.unfold(t, **kw), a)
    _check(lambda x: F.unfold(x[0], **kw), lambda t: TF.unfold(t[0], **kw), a)  # unbatched
    cols = TF.unfold(torch.tensor(a), **kw).numpy()
    _check(lambda c: F.fold(c, (7, 8), **kw), lambda c: TF.fold(c, (7, 8), **kw), cols)
    _check(tl.nn.Fold((7, 8), **kw), torch.nn.Fold((7, 8), **kw), cols)
    _check(tl.nn.Unfold(**kw), torch.nn.Unfold(**kw), a)


def test_fold_names_the_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"fold: input of shape \(1, 12, 5\) does not fit kernel_size=\(2, 2\) and "
                                         r"output_size=\(4, 4\): expected \(N, C \* 4, 9\)"):
        F.fold(tl.zeros(1, 12, 5), (4, 4), 2)
    with pytest.raises(ValueError, match=r"unfold: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) Tensor, got \(4, 4\)"):
        F.unfold(tl.zeros(4, 4), 2)


@pytest.mark.parametrize("shape,dim,keepdim", [((5, 7), 1, False), ((4, 6, 3), 0, True), ((3, 9), -1, False), ((1,), 0, False),
                                               ((6, 2, 5), 1, True)])
def test_mode_matches_torch_values_indices_and_gradient(shape, dim, keepdim):
    # few distinct values: ties in count (the smallest value wins) and repeats (the last index is returned)
    x = np.random.default_rng(sum(shape)).integers(0, 4, shape).astype(np.float64)
    a, t = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = tl.mode(a, dim, keepdim), torch.mode(t, dim, keepdim)
    np.testing.assert_array_equal(ours.values.detach().numpy(), theirs.values.detach().numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    w = np.random.default_rng(1).standard_normal(tuple(theirs.values.shape))
    (ours.values * tl.tensor(w)).sum().backward()
    (theirs.values * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
    assert tl.tensor(4.0).mode().values.item() == 4.0 and tl.tensor([3, 1, 2]).mode().indices.item() == 1


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 7)), ("InstanceNorm2d", (3, 4, 5, 6)),
                                       ("InstanceNorm3d", (2, 4, 3, 4, 5))])
def test_instance_norm_with_running_statistics_matches_torch(cls, shape):
    # training: the output uses each sample's statistics and the running ones move (3 steps); eval: the
    # running statistics normalise; gradients for the input and the affine parameters
    ours = getattr(nn, cls)(4, affine=True, track_running_stats=True, momentum=0.3).double()
    theirs = getattr(torch.nn, cls)(4, affine=True, track_running_stats=True, momentum=0.3).double()
    for seed in range(3):
        _check(ours, theirs, _arr(shape, seed) * (seed + 1) + seed)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-13)
    ours.eval()
    theirs.eval()
    _check(ours, theirs, _arr(shape, 9))
    assert repr(ours) == repr(theirs)
    x = _arr(shape, 4)
    _check(lambda t: F.instance_norm(t, tl.zeros(4, dtype=tl.float64), tl.ones(4, dtype=tl.float64),
                                     use_input_stats=False),
           lambda t: TF.instance_norm(t, torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64),
                                      use_input_stats=False), x)


@pytest.mark.parametrize("shape,size", [((2, 7, 5), 3), ((2, 6, 4, 5), 4), ((1, 5, 2, 3, 4), 2), ((2, 3, 4), 7)])
def test_local_response_norm_matches_torch(shape, size):
    a = _arr(shape, size)
    _check(lambda x: F.local_response_norm(x, size, alpha=0.3, beta=0.6, k=1.5),
           lambda t: TF.local_response_norm(t, size, alpha=0.3, beta=0.6, k=1.5), a)
    _check(nn.LocalResponseNorm(size), torch.nn.LocalResponseNorm(size), a)
    assert repr(nn.LocalResponseNorm(size)) == repr(torch.nn.LocalResponseNorm(size))


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((5, 7, 3, 2, 3), 1), ((6, 2, 1, 1), 3)])
def test_dirac_init_matches_torch_and_passes_the_input_through(shape, groups):
    ours, theirs = tl.empty(*shape, dtype=tl.float64), torch.empty(*shape, dtype=torch.float64)
    nn.init.dirac_(ours, groups)
    torch.nn.init.dirac_(theirs, groups)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    if shape == (4, 4, 3):
        x = tl.tensor(_arr((2, 4, 9), 0))
        np.testing.assert_allclose(F.conv1d(x, ours, padding=1).numpy(), x.numpy())


@pytest.mark.parametrize("make,shape,dim", [(lambda m: m.Linear(5, 3), (4, 5), 0), (lambda m: m.Conv1d(3, 4, 3), (2, 3, 7), 0),
                                            (lambda m: m.Linear(5, 3), (4, 5), 1), (lambda m: m.Linear(5, 3), (4, 5), None)])
def test_weight_norm_matches_torch(make, shape, dim):
    import warnings
    torch.manual_seed(0)
    theirs = make(torch.nn).double()
    ours = make(nn).double()
    ours.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # (PyTorch deprecates this API for parametrizations)
        torch.nn.utils.weight_norm(theirs, dim=dim)
    nn.utils.weight_norm(ours, dim=dim)
    assert sorted(n for n, _ in ours.named_parameters()) == sorted(n for n, _ in theirs.named_parameters())
    for step in range(2):  # the pre-hook recomputes the weight after g and v change
        x = _arr(shape, step)
        _check(ours, theirs, x)
        for (n, p), (_, tp) in zip(sorted(ours.named_parameters(), key=lambda t: t[0]),
                                   sorted(theirs.named_parameters(), key=lambda t: t[0])):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=n)
            with torch.no_grad():
                tp -= 0.1 * tp.grad
            p._data -= 0.1 * p.grad.numpy()
            p.grad, tp.grad = None, None
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    assert sorted(n for n, _ in ours.named_parameters()) == ["bias", "weight"]
    with pytest.raises(ValueError, match="remove_weight_norm: weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(ours)
