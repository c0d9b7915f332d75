"""F.conv2d / F.conv_transpose2d through the conv2d row's compiled loops (ops/conv_kernels.py) and its numpy
path, each against PyTorch: values and both gradients, float64 to ~1e-12, float32 within its precision,
channel counts 1 to 64, dilation, 'same' padding, batch 1."""
import contextlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402
from tinygrad_lite.ops import conv2d as rows  # noqa: E402
from tinygrad_lite.ops import conv_kernels, jit  # noqa: E402
from tinygrad_lite.ops.jit import numpy_kernels  # noqa: E402

PATHS = ["numpy"] + (["compiled"] if jit.available() else [])


@pytest.fixture(autouse=True)
def _compiled_on_small_images(monkeypatch):
    """The rule leaves images under rows._MIN_PIXELS output pixels to the numpy paths (faster there); the
    tests here use small images, so that threshold is off: the compiled loops take them."""
    monkeypatch.setattr(rows, "_MIN_PIXELS", 0)


def _path(name):
    return contextlib.nullcontext() if name == "compiled" else numpy_kernels(conv_kernels, "conv_taps",
                                                                              "weight_grad_taps")


def _row_vs_torch(path, ours_fn, torch_fn, x, w, rng, tol, **kw):
    """The conv2d row (forced, on `path`) against PyTorch: output, dx and dw for a random output gradient."""
    with pytest.MonkeyPatch.context() as mp, _path(path):
        mp.setattr(rows, "fast_path_applies", lambda *a: True)  # (the row for every case here, strided ones too)
        xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        out = ours_fn(xt, wt, **kw)
        assert out.grad_fn == "conv2d"
        g = rng.standard_normal(out.shape).astype(x.dtype)
        out.backward(Tensor(g))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch_fn(tx, tw, **kw)
    ty.backward(torch.tensor(g))
    for ours, theirs in ((out.detach().numpy(), ty), (xt.grad.numpy(), tx.grad), (wt.grad.numpy(), tw.grad)):
        theirs = theirs.detach().numpy()
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * max(1.0, np.abs(theirs).max()))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-11), (np.float32, 3e-5)])
@pytest.mark.parametrize("c, co, n, hw, dilation", [(1, 1, 1, (5, 6), 1), (3, 16, 2, (9, 8), 1), (16, 16, 1, (12, 10), 2),
                                                    (17, 3, 2, (7, 13), 1), (64, 17, 1, (6, 5), (2, 1)),
                                                    (16, 64, 2, (8, 8), 1)])
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_rows_vs_torch(path, dtype, tol, c, co, n, hw, dilation, transpose):
    rng = np.random.default_rng(c * 100 + co)
    x = rng.standard_normal((n, c) + hw).astype(dtype)
    shape_w = (c, co, 3, 3) if transpose else (co, c, 3, 3)
    w = (rng.standard_normal(shape_w) / np.sqrt(9 * c)).astype(dtype)
    d = (dilation,) * 2 if isinstance(dilation, int) else dilation
    kw = dict(padding=d, dilation=d)  # 'same' for a 3x3 kernel
    ours_fn, torch_fn = (F.conv_transpose2d, torch.nn.functional.conv_transpose2d) if transpose else \
        (F.conv2d, torch.nn.functional.conv2d)
    _row_vs_torch(path, ours_fn, torch_fn, x, w, rng, tol, **kw)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-11), (np.float32, 3e-5)])
@pytest.mark.parametrize("c, co, n, hw, k, stride, padding, dilation, output_padding", [
    (16, 16, 2, (12, 10), (3, 3), 2, 1, 1, 1), (8, 3, 1, (9, 11), (3, 2), (2, 3), (1, 0), 1, (1, 2)),
    (17, 8, 2, (10, 9), (4, 4), 2, 2, (1, 2), 0), (64, 16, 1, (8, 8), (1, 1), 2, 0, 1, 1),
    (16, 64, 1, (7, 7), (5, 3), 3, (2, 1), 1, (2, 0))])
@pytest.mark.parametrize("transpose", [False, True])
def test_strided_rows_vs_torch(path, dtype, tol, c, co, n, hw, k, stride, padding, dilation, output_padding, transpose):
    rng = np.random.default_rng(c * 100 + co)
    x = rng.standard_normal((n, c) + hw).astype(dtype)
    shape_w = (c, co) + k if transpose else (co, c) + k
    w = (rng.standard_normal(shape_w) / np.sqrt(np.prod(k) * c)).astype(dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    if transpose:
        kw["output_padding"] = output_padding
    ours_fn, torch_fn = (F.conv_transpose2d, torch.nn.functional.conv_transpose2d) if transpose else \
        (F.conv2d, torch.nn.functional.conv2d)
    _row_vs_torch(path, ours_fn, torch_fn, x, w, rng, tol, **kw)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("stride, dilation, output_padding, hw", [(1, 2, 1, (3, 3)), ((1, 2), (3, 1), (2, 1), (4, 5)),
                                                                   (2, 3, 2, (5, 4)), (1, (2, 1), (1, 0), (6, 2))])
def test_output_padding_past_the_last_window_vs_torch(path, stride, dilation, output_padding, hw):
    """output_padding may reach the dilation (not only the stride): the extra positions are past every
    window of x (this asserted in nn/conv.py before; PyTorch pads with what x's zeros would give)."""
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 9) + hw), rng.standard_normal((9, 4, 2, 3))
    kw = dict(stride=stride, dilation=dilation, output_padding=output_padding, padding=(1, 0))
    with _path(path):
        xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        out = F.conv_transpose2d(xt, wt, **kw)
        g = rng.standard_normal(out.shape)
        out.backward(Tensor(g))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv_transpose2d(tx, tw, **kw)
    ty.backward(torch.tensor(g))
    for ours, theirs in ((out.detach().numpy(), ty), (xt.grad.numpy(), tx.grad), (wt.grad.numpy(), tw.grad)):
        theirs = theirs.detach().numpy()
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("path", PATHS)
def test_conv_transpose_with_an_infinite_weight_is_pytorchs(path):
    """Above the tiny size, with an inf and a NaN in the weight: the positions PyTorch's transposed convolution
    makes inf, NaN or finite are ours too (the stride-1 paths used to pair the zero padding with the inf: NaN)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 16, 12, 12))
    w = rng.standard_normal((16, 16, 3, 3)) / 12
    w[3, 5, 0, 2], w[7, 1, 2, 2] = np.inf, np.nan
    with _path(path):
        ours = F.conv_transpose2d(Tensor(x), Tensor(w), padding=1).numpy()
    theirs = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    ok = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~ok], theirs[~ok])  # (inf and -inf where PyTorch has them)
    assert ok.any() and not ok.all()
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=1e-11, atol=1e-11)
