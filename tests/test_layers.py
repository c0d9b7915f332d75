"""The windows/col2im primitive, conv and pooling by float64 finite differences (first and second
derivatives), hypothesis shapes, training through conv and RNN layers, and viz drawings of them."""
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import REGISTRY
from tinygrad_lite.ops.window import col2im, window_args, windows
import viz

from helpers import check_grad, rng_values


def test_windows_rows_are_registered_with_their_math():
    for name in ("windows", "col2im"):
        assert name in REGISTRY and REGISTRY[name].math


def test_windows_values_by_hand():
    x = np.arange(10.0).reshape(1, 1, 10)
    a = window_args("t", x.shape, (3,), (2,), (2,), ((1, 1),))
    cols = windows(x, a)  # x_padded = [0, 0..9, 0]; windows start at 0, 2, 4, 6 and take every 2nd
    assert a.out == (4,)
    np.testing.assert_array_equal(cols[0, 0], [[0, 1, 3, 5], [1, 3, 5, 7], [3, 5, 7, 9]])


def test_col2im_is_the_adjoint_of_windows():
    """<windows(x), c> == <x, col2im(c)> for every x and c: the vjp rule is the transpose."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    a = window_args("t", x.shape, (3, 2), (2, 1), (1, 2), ((1, 2), (0, 1)))
    c = rng.standard_normal(windows(x, a).shape)
    np.testing.assert_allclose((windows(x, a) * c).sum(), (x * col2im(c, a)).sum(), rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=2)])
def test_conv2d_gradcheck_and_gradgradcheck(kw):
    x, w, b = rng_values((2, 2, 5, 5), seed=1), rng_values((4, 2 // kw.get("groups", 1), 3, 2), seed=2), \
        rng_values((4,), seed=3)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)
    xs = [Tensor(v, requires_grad=True) for v in (x, w)]
    assert tl.gradgradcheck(lambda x, w: F.conv2d(x, w, **kw), xs, atol=1e-5)


def test_pooling_gradcheck_and_gradgradcheck():
    x = rng_values((2, 2, 6, 5), seed=4)
    check_grad(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), x)
    check_grad(lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False), x)
    check_grad(lambda t: F.adaptive_avg_pool2d(t, (4, 3)), x)
    assert tl.gradgradcheck(lambda t: F.avg_pool2d(t, 2) ** 2, [Tensor(x, requires_grad=True)])


def test_batch_norm_and_elu_gradcheck():
    x = rng_values((4, 3, 2), seed=5)
    w, b = rng_values((3,), seed=6), rng_values((3,), seed=7)
    check_grad(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)
    check_grad(lambda x: F.elu(x, 0.7), rng_values((20,), away=1e-3, seed=8))


@given(d=st.integers(1, 2), n=st.integers(1, 2), c=st.integers(1, 3), size=st.integers(2, 6), k=st.integers(1, 3),
       stride=st.integers(1, 3), pad=st.integers(0, 1), seed=st.integers(0, 100))
@settings(max_examples=30)
def test_conv_output_shape_formula(d, n, c, size, k, stride, pad, seed):
    if size + 2 * pad < k:
        with pytest.raises(ValueError, match="too small"):
            (F.conv1d if d == 1 else F.conv2d)(Tensor(np.zeros((n, c) + (size,) * d)), Tensor(np.zeros((2, c) + (k,) * d)))
        return
    x = Tensor(rng_values((n, c) + (size,) * d, seed=seed))
    w = Tensor(rng_values((2, c) + (k,) * d, seed=seed + 1))
    y = (F.conv1d if d == 1 else F.conv2d)(x, w, stride=stride, padding=pad)
    o = (size + 2 * pad - k) // stride + 1
    assert y.shape == (n, 2) + (o,) * d
    # a 1x1-kernel-equivalent check: the centre output equals a dot product with the window
    xp = np.pad(x.numpy(), ((0, 0), (0, 0)) + ((pad, pad),) * d)
    win = xp[(0, slice(None)) + (slice(0, k),) * d]
    np.testing.assert_allclose(y.numpy()[(0, 1) + (0,) * d], (win * w.numpy()[1]).sum(), rtol=1e-10, atol=1e-12)


def test_small_cnn_learns():
    """A conv net trains on a toy task (vertical vs horizontal bars) to 100% accuracy."""
    tl.manual_seed(0)
    rng = np.random.default_rng(0)
    X = np.zeros((64, 1, 8, 8))
    y = rng.integers(0, 2, 64)
    for i, label in enumerate(y):
        j = rng.integers(1, 7)
        if label:
            X[i, 0, :, j] = 1.0
        else:
            X[i, 0, j, :] = 1.0
    X += rng.normal(0, 0.1, X.shape)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    opt = tl.optim.Adam(model.parameters(), lr=0.05)
    xt, yt = Tensor(X.astype(np.float32)), Tensor(y)
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    acc = (model(xt).argmax(1).numpy() == y).mean()
    assert acc == 1.0, (acc, loss.item())


def test_lstm_learns_to_remember_the_first_token():
    """An LSTM reads 6 steps and predicts the class of the first one (needs memory across steps)."""
    tl.manual_seed(1)
    rng = np.random.default_rng(1)
    first = rng.integers(0, 3, 96)
    X = rng.normal(0, 1, (96, 6, 3))
    X[:, 0] = np.eye(3)[first] * 3
    lstm, head = nn.LSTM(3, 16, batch_first=True), nn.Linear(16, 3)
    opt = tl.optim.RMSprop(list(lstm.parameters()) + list(head.parameters()), lr=0.02)
    xt, yt = Tensor(X.astype(np.float32)), Tensor(first)
    for _ in range(60):
        opt.zero_grad()
        out, (h, c) = lstm(xt)
        loss = F.cross_entropy(head(h[-1]), yt)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


# ---------------------------------------------------------------------- viz


def _conv_net():
    tl.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))


def _cluster(src, label):
    """The DOT text of the cluster whose label is `label`."""
    i = src.index(f'label="{label}"')
    return src[i:src.index("}", i)]


def test_draw_graph_of_a_conv_net_shows_its_modules():
    model = _conv_net()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32), requires_grad=True)
    with viz.trace_modules(model) as tr:
        loss = F.cross_entropy(model(x), Tensor([0, 2]))
    src = viz.draw_graph(loss, model=model, trace=tr).source
    conv, pool = _cluster(src, "0 (Conv2d)"), _cluster(src, "2 (MaxPool2d)")
    for name in ("0.weight", "0.bias", "conv2d"):  # the conv2d row (tiny convolutions take it), inside the Conv2d box
        assert name in conv, name
    assert "windows" in pool and "sum" in pool
    assert "4.weight" in _cluster(src, "4 (Linear)")
    assert "1 (ReLU)" in src and "3 (Flatten)" in src


def test_draw_graph_of_an_lstm_step_shows_its_modules():
    tl.manual_seed(0)
    model = nn.Sequential(nn.LSTM(3, 4, num_layers=2))
    with viz.trace_modules(model) as tr:
        out, (h, c) = model[0](Tensor(np.random.default_rng(0).standard_normal((2, 1, 3)).astype(np.float32)))
    src = viz.draw_graph(out.sum(), model=model, trace=tr).source
    lstm = _cluster(src, "0 (LSTM)")
    for name in ("0.weight_ih_l0", "0.weight_hh_l0", "0.weight_ih_l1", "0.bias_hh_l1", "sigmoid", "tanh", "linear"):
        assert name in lstm, name


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_conv_net_graph_renders(tmp_path):
    model = _conv_net()
    loss = model(Tensor(np.ones((1, 1, 6, 6)))).sum()
    path = viz.draw_graph(loss, model=model).render_to(str(tmp_path / "conv.svg"))
    assert "<svg" in open(path).read()
