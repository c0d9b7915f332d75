"""Compiled loops of the conv2d row (ops/jit.py's `kernel`: numba, or None when it is off; ops/conv2d.py
then takes its numpy path, which stays the reference: tests/test_conv_kernels.py).

Both work on "planes": images zero-padded, flattened to (channels, rows * width), with enough zero rows
below that every read stays inside. Output pixel (oh, ow) of a stride-1 convolution reads its padded
input at the flat index oh*width + ow + kh*d1*width + kw*d2: one constant offset per kernel tap, so every
tap is one long contiguous loop over the output pixels p = oh*width + ow, computed for the whole width
(the last columns of each output row are garbage, dropped by the caller). A strided convolution reads
the s1*s2 phase planes of its input (ops/conv2d.py: _planes), in which each tap is again a stride-1 tap
of one plane; its adjoint writes the phase planes of its result. So the loops take a list of taps, each
with the plane it reads (src), the plane it writes (dst) and its flat offset (off):

    conv_taps(xf, w, yf, src, dst, off)
        yf[n, d] = Σ_{t: dst[t] = d} w[t] @ xf[n, src[t], :, p + off[t]]     (over the pixels p)
        (C a multiple of 8, C_out of 4: the callers pad both with zero channels)
    weight_grad_taps(xf, gf, dw, src, off, base, P)
        dw[t] += Σ_n Σ_{p < P} gf[n, :, base + p] xf[n, src[t], :, p + off[t]]ᵀ
        (gf: the output gradient in the same layout, zero in the garbage columns; C and C_out multiples of 4)

Why this shape of loop (measured on 8 x 16 x 64 x 64, 3x3, float32, one thread, AVX-512): LLVM
vectorises the innermost loop over p (with zmm registers where the processor has them), so what limits
it is memory traffic per multiply-add. The forward's body updates 4 output channels from 8 input
channels at once: per 16 pixels 8 loads of x, 4 loads and 4 stores of y for 32 multiply-adds (0.8 ms,
~175 GFLOP/s; 2 x 4 ran at 66, 4 x 4 at 100, 8 x 8 spills registers: 100). The weight gradient holds a
4 x 4 block of (c_out, c_in) sums in registers over a pass: 8 loads per 16 multiply-adds, no stores
(0.7 ms). PyTorch's forward (oneDNN): 0.95 ms.
Accumulation is in the arrays' dtype (the vector lanes' partial sums, reassociated: fastmath
"reassoc", "contract"; no "nnan"/"ninf", so NaN and inf propagate).
"""
from .jit import kernel

_FLAGS = {"reassoc", "contract"}
_CHUNK = 8192  # output pixels per pass: the rows a pass touches (12 of them) stay in the L2 cache
_WEIGHT_CHUNK = 1024  # pixels per pass of the weight gradient: 8 rows of 4 KB (float32) stay in L1 (0.7 vs 0.8 ms)


@kernel(fastmath=_FLAGS, boundscheck=False)
def conv_taps(xf, w, yf, src, dst, off):
    """yf[n, dst[t], :, p] += w[t] @ xf[n, src[t], :, p + off[t]] summed over the taps t, yf zeroed first.
    xf (N, S, C, L), w (T, Co, C), yf (N, D, Co, P), all C-contiguous; C % 8 == 0, Co % 4 == 0;
    L >= P + max(off)."""
    N, C = xf.shape[0], xf.shape[2]
    D, Co, P = yf.shape[1], yf.shape[2], yf.shape[3]
    for n in range(N):
        for p0 in range(0, P, _CHUNK):
            m = min(P, p0 + _CHUNK) - p0
            for d in range(D):
                for co in range(0, Co, 4):
                    y0 = yf[n, d, co, p0:p0 + m]
                    y1 = yf[n, d, co + 1, p0:p0 + m]
                    y2 = yf[n, d, co + 2, p0:p0 + m]
                    y3 = yf[n, d, co + 3, p0:p0 + m]
                    y0[:] = 0
                    y1[:] = 0
                    y2[:] = 0
                    y3[:] = 0
                    for t in range(w.shape[0]):
                        if dst[t] == d:
                            x = xf[n, src[t]]
                            for c in range(0, C, 8):
                                _conv_block(x, c, p0 + off[t], w[t], co, y0, y1, y2, y3)


@kernel(fastmath=_FLAGS, boundscheck=False, inline="always")
def _conv_block(x, c, off, w, co, y0, y1, y2, y3):
    """y_i[j] += Σ_k w[co + i, c + k] x[c + k, off + j] for i < 4, k < 8: 4 outputs from 8 inputs per
    pass. (Rows taken one by one: a 1-d slice of a C-contiguous array is contiguous to numba, a 2-d one
    is not, and its loop would gather.)"""
    m = y0.shape[0]
    x0, x1, x2, x3 = x[c, off:off + m], x[c + 1, off:off + m], x[c + 2, off:off + m], x[c + 3, off:off + m]
    x4, x5, x6, x7 = x[c + 4, off:off + m], x[c + 5, off:off + m], x[c + 6, off:off + m], x[c + 7, off:off + m]
    a0, a1, a2, a3, a4, a5, a6, a7 = _row8(w, co, c)
    b0, b1, b2, b3, b4, b5, b6, b7 = _row8(w, co + 1, c)
    c0, c1, c2, c3, c4, c5, c6, c7 = _row8(w, co + 2, c)
    e0, e1, e2, e3, e4, e5, e6, e7 = _row8(w, co + 3, c)
    for j in range(m):
        v0, v1, v2, v3, v4, v5, v6, v7 = x0[j], x1[j], x2[j], x3[j], x4[j], x5[j], x6[j], x7[j]
        s0 = y0[j] + a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4 + a5 * v5 + a6 * v6 + a7 * v7
        s1 = y1[j] + b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4 + b5 * v5 + b6 * v6 + b7 * v7
        s2 = y2[j] + c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3 + c4 * v4 + c5 * v5 + c6 * v6 + c7 * v7
        s3 = y3[j] + e0 * v0 + e1 * v1 + e2 * v2 + e3 * v3 + e4 * v4 + e5 * v5 + e6 * v6 + e7 * v7
        y0[j] = s0  # (stored after all loads: x is then read once for the 4 outputs)
        y1[j] = s1
        y2[j] = s2
        y3[j] = s3


@kernel(inline="always")
def _row8(w, co, c):
    """w[co, c .. c + 7]."""
    return w[co, c], w[co, c + 1], w[co, c + 2], w[co, c + 3], w[co, c + 4], w[co, c + 5], w[co, c + 6], w[co, c + 7]


@kernel(fastmath=_FLAGS, boundscheck=False)
def weight_grad_taps(xf, gf, dw, src, off, base, P):
    """dw[t] += Σ_n Σ_{p < P} gf[n, :, base + p] xf[n, src[t], :, p + off[t]]ᵀ for every tap t: dw (T, Co, C),
    xf (N, S, C, L), gf (N, Co, Lg), all C-contiguous; C % 4 == 0, Co % 4 == 0."""
    N, C, Co = xf.shape[0], xf.shape[2], gf.shape[1]
    for n in range(N):
        for p0 in range(0, P, _WEIGHT_CHUNK):
            m = min(P, p0 + _WEIGHT_CHUNK) - p0
            q = base + p0
            for co in range(0, Co, 4):
                g0, g1 = gf[n, co, q:q + m], gf[n, co + 1, q:q + m]
                g2, g3 = gf[n, co + 2, q:q + m], gf[n, co + 3, q:q + m]
                for c in range(0, C, 4):  # (a block's taps read nearby rows of the same 4 channels)
                    for t in range(dw.shape[0]):
                        x = xf[n, src[t]]
                        o = p0 + off[t]
                        _weight_block(g0, g1, g2, g3, x[c, o:o + m], x[c + 1, o:o + m], x[c + 2, o:o + m],
                                      x[c + 3, o:o + m], dw[t], co, c)


@kernel(fastmath=_FLAGS, boundscheck=False, inline="always")
def _weight_block(g0, g1, g2, g3, x0, x1, x2, x3, dw, co, c):
    """dw[co + i, c + k] += Σ_j g_i[j] x_k[j] for i, k < 4, the 16 sums in registers."""
    z = g0.dtype.type(0)
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = z
    for j in range(g0.shape[0]):
        a0, a1, a2, a3, b0, b1, b2, b3 = g0[j], g1[j], g2[j], g3[j], x0[j], x1[j], x2[j], x3[j]
        s00 += a0 * b0
        s01 += a0 * b1
        s02 += a0 * b2
        s03 += a0 * b3
        s10 += a1 * b0
        s11 += a1 * b1
        s12 += a1 * b2
        s13 += a1 * b3
        s20 += a2 * b0
        s21 += a2 * b1
        s22 += a2 * b2
        s23 += a2 * b3
        s30 += a3 * b0
        s31 += a3 * b1
        s32 += a3 * b2
        s33 += a3 * b3
    dw[co + 0, c + 0] += s00
    dw[co + 0, c + 1] += s01
    dw[co + 0, c + 2] += s02
    dw[co + 0, c + 3] += s03
    dw[co + 1, c + 0] += s10
    dw[co + 1, c + 1] += s11
    dw[co + 1, c + 2] += s12
    dw[co + 1, c + 3] += s13
    dw[co + 2, c + 0] += s20
    dw[co + 2, c + 1] += s21
    dw[co + 2, c + 2] += s22
    dw[co + 2, c + 3] += s23
    dw[co + 3, c + 0] += s30
    dw[co + 3, c + 1] += s31
    dw[co + 3, c + 2] += s32
    dw[co + 3, c + 3] += s33
