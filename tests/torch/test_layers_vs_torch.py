"""Conv, pooling, batch norm, activations, Flatten/Dropout2d and the losses against PyTorch in float64:
forward values and the gradients of every input and parameter."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn as nn  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402

ATOL, RTOL = 1e-11, 1e-10


def rnd(*shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def close(a, b, atol=ATOL, what=""):
    a = a.detach().numpy() if isinstance(a, Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=atol, rtol=RTOL, err_msg=what)


def check(fn_ours, fn_torch, *arrays, seed=1, atol=ATOL, skip_grad=()):
    """Forward equal, and the gradients of sum(out * random weights) equal for every float input
    (but those numbered in skip_grad)."""
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_a, out_b = fn_ours(*ours), fn_torch(*theirs)
    close(out_a, out_b, atol, "forward")
    w = rnd(*out_b.shape, seed=seed)
    (out_a * Tensor(w)).sum().backward()
    (out_b * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if i in skip_grad:
            continue
        close(a.grad, b.grad, atol, f"grad of input {i}")


def same_weights(ours, theirs):
    """Load the torch module's state into ours (both float64)."""
    ours.double()
    ours.load_state_dict({k: Tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})


def check_module(ours, theirs, x, train=True, seed=1):
    """Same weights; forward, input gradient and every parameter gradient equal."""
    same_weights(ours, theirs.double())
    ours.train(train)
    theirs.train(train)
    check(ours, theirs, x, seed=seed)
    for (n, p), (m, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m
        close(p.grad, q.grad, what=n)


# ---------------------------------------------------------------------- convolution
CONV2D_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(padding=1, dilation=2),
    dict(groups=2),
    dict(groups=4, stride=2, padding=1),
    dict(padding="same"),
    dict(padding="same", dilation=(2, 1)),
    dict(padding="valid"),
]


@pytest.mark.parametrize("kw", CONV2D_CASES, ids=[str(k) for k in CONV2D_CASES])
def test_conv2d_functional(kw):
    g = kw.get("groups", 1)
    x, w, b = rnd(2, 4, 9, 8), rnd(8, 4 // g, 3, 2, seed=2), rnd(8, seed=3)
    check(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=2), dict(dilation=3, groups=3), dict(padding="same")])
def test_conv1d_functional(kw):
    g = kw.get("groups", 1)
    x, w = rnd(3, 6, 13), rnd(9, 6 // g, 3, seed=2)
    check(lambda x, w: F.conv1d(x, w, **kw), lambda x, w: TF.conv1d(x, w, **kw), x, w)


def test_conv_unbatched_and_no_bias():
    x, w = rnd(3, 7, 7), rnd(5, 3, 3, 3, seed=4)
    check(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), x, w)
    check(lambda x, w: F.conv1d(x, w[..., 0]), lambda x, w: TF.conv1d(x, w[..., 0]), x[:, 0], w)


@given(n=st.integers(1, 2), cin=st.integers(1, 3), cout=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7),
       kh=st.integers(1, 3), kw=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 2),
       dil=st.integers(1, 2), seed=st.integers(0, 1000))
@settings(max_examples=25)
def test_conv2d_shapes_hypothesis(n, cin, cout, h, w, kh, kw, stride, pad, dil, seed):
    if h + 2 * pad < dil * (kh - 1) + 1 or w + 2 * pad < dil * (kw - 1) + 1:
        return
    args = dict(stride=stride, padding=pad, dilation=dil)
    check(lambda x, k: F.conv2d(x, k, **args), lambda x, k: TF.conv2d(x, k, **args),
          rnd(n, cin, h, w, seed=seed), rnd(cout, cin, kh, kw, seed=seed + 1))


def test_conv_modules_params_and_init():
    tl.manual_seed(0)
    c = nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1)
    t = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert c.weight.shape == tuple(t.weight.shape) and c.bias.shape == tuple(t.bias.shape)
    bound = 1 / np.sqrt(3 * 9)
    assert np.abs(c.weight.detach().numpy()).max() <= bound and np.abs(c.bias.detach().numpy()).max() <= bound
    assert np.abs(c.weight.detach().numpy()).max() > 0.8 * bound  # U(-b, b), not a narrower init
    assert repr(c) == repr(t)
    assert repr(nn.Conv1d(4, 6, 5, dilation=2, groups=2, bias=False)) == \
        repr(torch.nn.Conv1d(4, 6, 5, dilation=2, groups=2, bias=False))


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, groups=2, bias=False), dict(padding="same")])
def test_conv2d_module(kw):
    torch.manual_seed(0)
    check_module(nn.Conv2d(4, 6, 3, **kw), torch.nn.Conv2d(4, 6, 3, **kw), rnd(2, 4, 8, 7))


def test_conv1d_module():
    torch.manual_seed(0)
    check_module(nn.Conv1d(3, 5, 4, stride=2, dilation=2), torch.nn.Conv1d(3, 5, 4, stride=2, dilation=2),
                 rnd(2, 3, 17))


def test_conv_errors():
    x = Tensor(rnd(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(2, 3, 5, 5\) has 3 channels"):
        F.conv2d(x, Tensor(rnd(4, 2, 3, 3)))
    with pytest.raises(ValueError, match="conv2d: input of shape .* is too small"):
        F.conv2d(x, Tensor(rnd(4, 3, 7, 7)))
    with pytest.raises(ValueError, match="conv2d: expected input of shape"):
        F.conv2d(Tensor(rnd(5, 5)), Tensor(rnd(4, 3, 3, 3)))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, Tensor(rnd(4, 3, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="expected input of shape"):
        nn.Conv2d(3, 4, 3)(Tensor(rnd(3, 5)))


# ---------------------------------------------------------------------- pooling
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=2),
                                dict(kernel_size=2, ceil_mode=True)])
def test_max_pool2d(kw):
    x = rnd(2, 3, 9, 8)
    check(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), x)
    check_module(nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), x)
    assert repr(nn.MaxPool2d(**kw)) == repr(torch.nn.MaxPool2d(**kw))


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.maximum(rnd(2, 3, 6, 6), 0)  # after a relu: many windows of zeros
    x[0, 0, :2, :2] = 0.5
    check(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), x)
    check(lambda x: F.max_pool2d(x, 3, 1, 1), lambda x: TF.max_pool2d(x, 3, 1, 1), x)


def test_max_pool1d():
    x = rnd(2, 3, 11)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        check(lambda x: F.max_pool1d(x, **kw), lambda x: TF.max_pool1d(x, **kw), x)
        check(nn.MaxPool1d(**kw), torch.nn.MaxPool1d(**kw), x)


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avg_pool(ceil_mode, count_include_pad):
    x = rnd(2, 3, 9, 8)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    check(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), x)
    check(nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), x)
    check(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), x[:, :, 0])
    check(nn.AvgPool1d(**kw), torch.nn.AvgPool1d(**kw), x[:, :, 0])


def test_avg_pool_divisor_override_and_unbatched():
    x = rnd(3, 8, 8)
    check(lambda x: F.avg_pool2d(x, 2, divisor_override=3), lambda x: TF.avg_pool2d(x, 2, divisor_override=3), x)
    check(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), x)


@pytest.mark.parametrize("size", [1, (1, 1), (4, 3), (3, None), (5, 7), 2])
def test_adaptive_avg_pool2d(size):
    x = rnd(2, 3, 9, 7)
    check(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), x)
    check(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x)
    assert repr(nn.AdaptiveAvgPool2d(size)) == repr(torch.nn.AdaptiveAvgPool2d(size))


def test_adaptive_avg_pool1d():
    x = rnd(2, 3, 10)
    for size in (1, 3, 4, 10):
        check(lambda x: F.adaptive_avg_pool1d(x, size), lambda x: TF.adaptive_avg_pool1d(x, size), x)


def test_pool_errors():
    with pytest.raises(ValueError, match="max_pool2d: padding should be at most half of the kernel size"):
        F.max_pool2d(Tensor(rnd(1, 1, 5, 5)), 2, padding=2)
    with pytest.raises(ValueError, match="max_pool2d: expected input of shape"):
        F.max_pool2d(Tensor(rnd(5, 5)), 2)
    with pytest.raises(ValueError, match="too small"):
        F.avg_pool2d(Tensor(rnd(1, 1, 2, 2)), 3)


# ---------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (5, 4, 3)), ("BatchNorm2d", (3, 4, 5, 2))])
@pytest.mark.parametrize("kw", [dict(), dict(momentum=None), dict(affine=False), dict(momentum=0.3, eps=1e-3)])
def test_batch_norm_train_then_eval(cls, shape, kw):
    ours, theirs = getattr(nn, cls)(4, **kw), getattr(torch.nn, cls)(4, **kw).double()
    if theirs.affine:  # not the trivial ones/zeros
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(rnd(4, seed=7)))
            theirs.bias.copy_(torch.tensor(rnd(4, seed=8)))
    same_weights(ours, theirs)
    for step in range(3):  # the running statistics move the same way, batch after batch
        x = rnd(*shape, seed=step, scale=2) + step
        check_module(ours, theirs, x, train=True, seed=step)
        for name in ("running_mean", "running_var"):
            close(getattr(ours, name), getattr(theirs, name), what=name)
        assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == step + 1
        for p in list(ours.parameters()) + list(theirs.parameters()):
            p.grad = None
    check_module(ours, theirs, rnd(*shape, seed=9), train=False)
    assert repr(ours) == repr(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


def test_batch_norm_without_running_stats_and_functional():
    ours, theirs = nn.BatchNorm2d(3, track_running_stats=False), torch.nn.BatchNorm2d(3, track_running_stats=False)
    x = rnd(2, 3, 4, 4)
    check_module(ours, theirs, x, train=False)  # eval without running statistics: batch statistics
    rm, rv = rnd(3, seed=1), np.abs(rnd(3, seed=2)) + 0.5
    w, b = rnd(3, seed=3), rnd(3, seed=4)
    check(lambda x, w, b: F.batch_norm(x, Tensor(rm), Tensor(rv), w, b, training=False),
          lambda x, w, b: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, training=False), x, w, b)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="BatchNorm2d: expected input with 4 dims and 3 channels"):
        nn.BatchNorm2d(3)(Tensor(rnd(2, 4, 5, 5)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(Tensor(rnd(1, 3)))


# ---------------------------------------------------------------------- activations, shapes, dropout
def test_leaky_relu_and_elu():
    x = np.concatenate([rnd(40, scale=3), [-800.0, 800.0, 1e-3, -1e-3]])
    check(nn.LeakyReLU(), torch.nn.LeakyReLU(), x)
    check(nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2), x)
    check(nn.ELU(), torch.nn.ELU(), x)
    check(lambda t: F.elu(t, 0.5), lambda t: TF.elu(t, 0.5), x)
    assert repr(nn.LeakyReLU(0.2)) == repr(torch.nn.LeakyReLU(0.2))
    assert repr(nn.ELU(alpha=0.5)) == repr(torch.nn.ELU(alpha=0.5))


def test_flatten_unflatten():
    x = rnd(2, 3, 4, 5)
    check(nn.Flatten(), torch.nn.Flatten(), x)
    check(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), x)
    check(nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1)), x)
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())


def test_dropout2d_zeroes_whole_channels():
    tl.manual_seed(0)
    x = Tensor(np.ones((8, 16, 5, 5)), requires_grad=True)
    y = nn.Dropout2d(0.25)(x)
    ch = y.detach().numpy().reshape(8, 16, -1)
    per_channel = ch[:, :, 0]
    assert np.all(ch == per_channel[:, :, None])  # one decision per channel
    assert set(np.unique(per_channel)) <= {0.0, 1 / 0.75}
    assert 0.1 < (per_channel == 0).mean() < 0.4
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # gradient = the mask
    m = nn.Dropout2d(0.5).eval()
    assert m(x) is x
    assert repr(nn.Dropout2d(0.3)) == repr(torch.nn.Dropout2d(0.3))
    with pytest.raises(ValueError, match="dropout2d: expected input"):
        F.dropout2d(Tensor(np.ones((3, 4))), 0.5)


# ---------------------------------------------------------------------- losses
def test_bce_with_logits_loss():
    x, t = rnd(4, 3, scale=3), (rnd(4, 3, seed=5) > 0).astype(np.float64)
    w, pw = np.abs(rnd(3, seed=6)), np.abs(rnd(3, seed=7))
    for red in ("mean", "sum", "none"):
        check(nn.BCEWithLogitsLoss(reduction=red), torch.nn.BCEWithLogitsLoss(reduction=red), x, t)
        check(nn.BCEWithLogitsLoss(weight=Tensor(w), pos_weight=Tensor(pw), reduction=red),
              torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(pw), reduction=red), x, t)


def test_nll_loss_module():
    logp = rnd(5, 4)
    t = np.array([0, 3, 1, 1, 2])
    w = np.abs(rnd(4, seed=2))
    for kw in (dict(), dict(reduction="sum"), dict(ignore_index=1), dict(reduction="none")):
        check(lambda x: nn.NLLLoss(**kw)(x, Tensor(t)), lambda x: torch.nn.NLLLoss(**kw)(x, torch.tensor(t)), logp)
    check(lambda x: nn.NLLLoss(weight=Tensor(w))(x, Tensor(t)),
          lambda x: torch.nn.NLLLoss(weight=torch.tensor(w))(x, torch.tensor(t)), logp)


@pytest.mark.parametrize("red", ["mean", "sum", "none"])
def test_l1_and_smooth_l1(red):
    x, y = rnd(6, 5), rnd(6, 5, seed=3)
    y[0, 0] = x[0, 0]  # d = 0
    check(nn.L1Loss(reduction=red), torch.nn.L1Loss(reduction=red), x, y)
    for beta in (1.0, 0.5, 0.0):
        check(nn.SmoothL1Loss(reduction=red, beta=beta), torch.nn.SmoothL1Loss(reduction=red, beta=beta), x, y)
    check(nn.HuberLoss(reduction=red, delta=0.7), torch.nn.HuberLoss(reduction=red, delta=0.7), x, y)


@pytest.mark.parametrize("red", ["batchmean", "sum", "none", "mean"])
def test_kl_div(red):
    logp = np.log(np.abs(rnd(4, 5)) + 0.1)
    q = np.abs(rnd(4, 5, seed=2))
    q /= q.sum(1, keepdims=True)
    check(nn.KLDivLoss(reduction=red), torch.nn.KLDivLoss(reduction=red), logp, q)
    q[0, 1] = 0.0  # a zero target contributes 0 (d/dtarget is -inf there: PyTorch NaN, ours finite; not compared)
    check(nn.KLDivLoss(reduction=red), torch.nn.KLDivLoss(reduction=red), logp, q, skip_grad=(1,))
    check(nn.KLDivLoss(reduction=red, log_target=True), torch.nn.KLDivLoss(reduction=red, log_target=True),
          logp, np.log(q + 0.05))


def test_max_pool_with_infinities_and_nan():
    x = rnd(1, 2, 4, 4)
    x[0, 0, 0, 0] = -np.inf
    x[0, 0, 2:, 2:] = -np.inf  # a window of -inf only
    x[0, 1, 1, 1] = np.inf
    check(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), x)
    check(lambda x: F.max_pool2d(x, 3, 1, 1), lambda x: TF.max_pool2d(x, 3, 1, 1), x)
    x[0, 1, 3, 3] = np.nan
    a = F.max_pool2d(Tensor(x), 2).numpy()
    b = TF.max_pool2d(torch.tensor(x), 2).numpy()
    np.testing.assert_array_equal(a, b)  # NaN where PyTorch has NaN


@given(h=st.integers(2, 9), w=st.integers(2, 9), k=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 2),
       ceil=st.booleans(), include=st.booleans(), seed=st.integers(0, 1000))
@settings(max_examples=30)
def test_pooling_shapes_hypothesis(h, w, k, stride, pad, ceil, include, seed):
    if 2 * pad > k or h + 2 * pad < k or w + 2 * pad < k:
        return
    x = rnd(2, 2, h, w, seed=seed)
    check(lambda t: F.max_pool2d(t, k, stride, pad, ceil_mode=ceil),
          lambda t: TF.max_pool2d(t, k, stride, pad, ceil_mode=ceil), x)
    check(lambda t: F.avg_pool2d(t, k, stride, pad, ceil_mode=ceil, count_include_pad=include),
          lambda t: TF.avg_pool2d(t, k, stride, pad, ceil_mode=ceil, count_include_pad=include), x)
    check(lambda t: F.adaptive_avg_pool2d(t, (max(1, h - k), k)), lambda t: TF.adaptive_avg_pool2d(t, (max(1, h - k), k)),
          x)


# ---------------------------------------------------------------------- transposed convolution (col2im of one GEMM)
CONVT_CASES = [dict(), dict(stride=2), dict(stride=2, padding=1, output_padding=1), dict(stride=(2, 1), dilation=2),
               dict(groups=2, stride=3, padding=(1, 2), output_padding=(2, 0))]


@pytest.mark.parametrize("kw", CONVT_CASES, ids=[str(k) for k in CONVT_CASES])
def test_conv_transpose2d(kw):
    g = kw.get("groups", 1)
    x, w, b = rnd(2, 4, 5, 4), rnd(4, 6 // g, 3, 2, seed=2), rnd(6, seed=3)
    check(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw), x, w, b)
    torch.manual_seed(0)
    k = dict(kw)
    check_module(nn.ConvTranspose2d(4, 6, (3, 2), **k), torch.nn.ConvTranspose2d(4, 6, (3, 2), **k), x)
    assert repr(nn.ConvTranspose2d(4, 6, (3, 2), **k)) == repr(torch.nn.ConvTranspose2d(4, 6, (3, 2), **k))


def test_conv_transpose1d_and_output_size():
    x, w = rnd(2, 3, 7), rnd(3, 5, 4, seed=2)
    check(lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1), lambda x, w: TF.conv_transpose1d(x, w, stride=2,
                                                                                                     padding=1), x, w)
    torch.manual_seed(0)
    ours, theirs = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    same_weights(ours, theirs.double())
    x2 = rnd(1, 3, 4, 4)
    a, b = ours(Tensor(x2), output_size=(8, 8)), theirs(torch.tensor(x2), output_size=(8, 8))
    close(a, b)
    assert a.shape == (1, 2, 8, 8)
    with pytest.raises(ValueError, match="output_padding .* must be smaller"):
        F.conv_transpose2d(Tensor(x2), Tensor(rnd(3, 2, 3, 3)), stride=2, output_padding=2)


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>: the two share their geometry."""
    x, w = rnd(2, 3, 9, 8), rnd(4, 3, 3, 3, seed=1)
    kw = dict(stride=2, padding=1, dilation=1)
    y = rnd(*F.conv2d(Tensor(x), Tensor(w), **kw).shape, seed=2)
    lhs = (F.conv2d(Tensor(x), Tensor(w), **kw).numpy() * y).sum()
    rhs = (x * F.conv_transpose2d(Tensor(y), Tensor(w), output_padding=(0, 1), **kw).numpy()).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


# ---------------------------------------------------------------------- 3-D convolutions (the same windows route)
CONV3D_CASES = [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=(1, 2, 1)), dict(groups=2, stride=(1, 2, 3)),
                dict(padding="valid", bias=False)]


@pytest.mark.parametrize("kw", CONV3D_CASES, ids=[str(k) for k in CONV3D_CASES])
def test_conv3d(kw):
    kw = dict(kw)
    bias = kw.pop("bias", True)
    g = kw.get("groups", 1)
    x, w, b = rnd(2, 4, 5, 6, 4), rnd(6, 4 // g, 3, 2, 3, seed=2), rnd(6, seed=3)
    b_ours = b if bias else None
    check(lambda x, w: F.conv3d(x, w, None if b_ours is None else Tensor(b), **kw),
          lambda x, w: TF.conv3d(x, w, None if b_ours is None else torch.tensor(b), **kw), x, w)
    check(lambda x: F.conv3d(x, Tensor(w), **kw), lambda x: TF.conv3d(x, torch.tensor(w), **kw), x[0])  # unbatched
    torch.manual_seed(0)
    check_module(nn.Conv3d(4, 6, (3, 2, 3), bias=bias, **kw), torch.nn.Conv3d(4, 6, (3, 2, 3), bias=bias, **kw), x)
    assert repr(nn.Conv3d(4, 6, (3, 2, 3), bias=bias, **kw)) == repr(torch.nn.Conv3d(4, 6, (3, 2, 3), bias=bias, **kw))


@pytest.mark.parametrize("kw", CONVT_CASES[:4], ids=[str(k) for k in CONVT_CASES[:4]])
def test_conv_transpose3d(kw):
    kw = {k: (v + (1,) if isinstance(v, tuple) else v) for k, v in kw.items()}
    x, w, b = rnd(2, 4, 3, 4, 2), rnd(4, 6, 3, 2, 2, seed=2), rnd(6, seed=3)
    check(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose3d(x, w, b, **kw), x, w, b)
    torch.manual_seed(0)
    check_module(nn.ConvTranspose3d(4, 6, (3, 2, 2), **kw), torch.nn.ConvTranspose3d(4, 6, (3, 2, 2), **kw), x)


@pytest.mark.parametrize("k,stride,pad,ceil", [(2, None, 0, False), ((2, 3, 2), (1, 2, 2), (1, 1, 0), True),
                                               (3, 2, 1, False)])
def test_pool3d(k, stride, pad, ceil):
    x = rnd(2, 3, 5, 6, 7, seed=4)
    check(lambda t: F.max_pool3d(t, k, stride, pad, ceil_mode=ceil), lambda t: TF.max_pool3d(t, k, stride, pad, ceil_mode=ceil), x)
    for include in (True, False):
        check(lambda t: F.avg_pool3d(t, k, stride, pad, ceil_mode=ceil, count_include_pad=include),
              lambda t: TF.avg_pool3d(t, k, stride, pad, ceil_mode=ceil, count_include_pad=include), x)
    check(lambda t: F.adaptive_avg_pool3d(t, (2, None, 3)), lambda t: TF.adaptive_avg_pool3d(t, (2, None, 3)), x)
    for ours, theirs in ((nn.MaxPool3d(k, stride, pad, ceil_mode=ceil), torch.nn.MaxPool3d(k, stride, pad, ceil_mode=ceil)),
                         (nn.AvgPool3d(k, stride, pad, ceil_mode=ceil), torch.nn.AvgPool3d(k, stride, pad, ceil_mode=ceil)),
                         (nn.AdaptiveAvgPool3d(2), torch.nn.AdaptiveAvgPool3d(2))):
        check(ours, theirs, x[0])  # unbatched
        assert repr(ours) == repr(theirs)
