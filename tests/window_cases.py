"""Hypothesis cases for the `windows` (im2col) and `col2im` rows and the stride-1 `conv2d` and
`conv2d_weight` rows (tinygrad_lite/ops/conv2d.py), in the format of OP_CASES in test_ops_gradcheck.py:
(fn on Tensors, numpy reference written with plain loops, input arrays, kwargs)."""
import itertools

import numpy as np
from hypothesis import strategies as st

from helpers import rng_values, seeds
from tinygrad_lite.ops.conv2d import ConvArgs, conv2d, conv2d_weight
from tinygrad_lite.ops.window import WindowArgs, col2im, windows


@st.composite
def _geometry(draw):
    d = draw(st.integers(1, 2))
    size = tuple(draw(st.integers(1, 5)) for _ in range(d))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(d))
    a = WindowArgs(kernel, stride, dilation, pads, 0.0, size)
    if any(o < 1 for o in a.out):  # the kernel does not fit: draw again
        pads = tuple((lo, hi + dl * (k - 1)) for (lo, hi), dl, k in zip(pads, dilation, kernel))
        a = WindowArgs(kernel, stride, dilation, pads, 0.0, size)
    lead = tuple(draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 2))))
    return a, lead


def _source_index(a, k, o):
    """The (unpadded) input position window o's kernel offset k reads, or None inside the padding."""
    pos = tuple(oi * s + ki * dl - lo for oi, ki, s, dl, (lo, _) in zip(o, k, a.stride, a.dilation, a.pads))
    return pos if all(0 <= p < n for p, n in zip(pos, a.size)) else None


def windows_ref(a, x):
    lead = x.shape[:x.ndim - len(a.size)]
    out = np.zeros(lead + a.kernel + a.out)
    for k in itertools.product(*map(range, a.kernel)):
        for o in itertools.product(*map(range, a.out)):
            src = _source_index(a, k, o)
            if src is not None:
                out[(Ellipsis,) + k + o] = x[(Ellipsis,) + src]
    return out


def col2im_ref(a, c):
    lead = c.shape[:c.ndim - 2 * len(a.size)]
    out = np.zeros(lead + a.size)
    for k in itertools.product(*map(range, a.kernel)):
        for o in itertools.product(*map(range, a.out)):
            src = _source_index(a, k, o)
            if src is not None:
                out[(Ellipsis,) + src] += c[(Ellipsis,) + k + o]
    return out


@st.composite
def _windows_case(draw):
    a, lead = draw(_geometry())
    x = rng_values(lead + a.size, seed=draw(seeds))
    return lambda t: windows(t, a), lambda arr: windows_ref(a, arr), (x,), {}


@st.composite
def _col2im_case(draw):
    a, lead = draw(_geometry())
    c = rng_values(lead + a.kernel + a.out, seed=draw(seeds))
    return lambda t: col2im(t, a), lambda arr: col2im_ref(a, arr), (c,), {}


@st.composite
def conv2d_geometry(draw):
    """A geometry the conv2d row takes: 2-D, stride 1, padding 0 .. dilation * (K - 1) on each side.
    -> (WindowArgs, N, C_in, C_out)."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    pads = tuple((draw(st.integers(0, d * (k - 1))), draw(st.integers(0, d * (k - 1))))
                 for k, d in zip(kernel, dilation))
    # size: 1 .. 4 windows per dim (or more when the padding alone is wider than the kernel)
    size = tuple(max(1, d * (k - 1) - lo - hi + draw(st.integers(1, 4)))
                 for k, d, (lo, hi) in zip(kernel, dilation, pads))
    a = ConvArgs(kernel, dilation, pads, size, flipped=draw(st.booleans()))
    assert all(o >= 1 for o in a.out), a
    return a, draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))


def _weight_shape(a, c, co):
    return ((c, co) if a.flipped else (co, c)) + a.kernel


def _unflipped(a, w):
    """A flipped weight (a.flipped: (C_in, C_out, K1, K2), reversed kernel) in the ordinary layout."""
    return w[:, :, ::-1, ::-1].swapaxes(0, 1) if a.flipped else w


def conv2d_ref(a, x, w):
    return np.einsum("ockl,nckluv->nouv", _unflipped(a, w), windows_ref(a, x))


def conv2d_weight_ref(a, x, g):
    return _unflipped(a, np.einsum("nouv,nckluv->ockl", g, windows_ref(a, x)))


@st.composite
def _conv2d_case(draw):
    a, n, c, co = draw(conv2d_geometry())
    x = rng_values((n, c) + a.size, seed=draw(seeds))
    w = rng_values(_weight_shape(a, c, co), seed=draw(seeds))
    return lambda t, u: conv2d(t, u, a), lambda xa, wa: conv2d_ref(a, xa, wa), (x, w), {}


@st.composite
def _conv2d_weight_case(draw):
    a, n, c, co = draw(conv2d_geometry())
    x = rng_values((n, c) + a.size, seed=draw(seeds))
    g = rng_values((n, co) + a.out, seed=draw(seeds))
    return lambda t, u: conv2d_weight(t, u, a), lambda xa, ga: conv2d_weight_ref(a, xa, ga), (x, g), {}


WINDOW_OP_CASES = {"windows": _windows_case(), "col2im": _col2im_case(), "conv2d": _conv2d_case(),
                   "conv2d_weight": _conv2d_weight_case()}
