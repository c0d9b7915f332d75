"""Every op of the registry (tinygrad_lite.ops.REGISTRY), forward + backward through the public API
as a user calls it, against PyTorch's same op, at two sizes:

  small  8x8-ish inputs: the framework's own cost per op (Python, graph, dispatch)
  large  ~1M-element inputs (1024x1024 float32; 512x512 for matrix products): the kernels' cost

One thread in both (torch.set_num_threads(1); numpy's BLAS pinned before numpy is imported and via
threadpoolctl), one process, the two frameworks' repetitions interleaved, median time per call.
A step is: clear the inputs' .grad, run the op, backward with a fixed random output gradient
(none for a scalar). Prints a markdown table (ratio = ours / PyTorch; < 1 is faster).

    .venv/bin/python bench/bench_ops.py [--only gelu erf ...] [--reps 7] [--float64] [--small-only]

Ops without a PyTorch equivalent are listed with the reason (NO_PEER). tests/test_bench_ops.py
checks that every registry op is in CASES or NO_PEER, so a new op cannot be forgotten here.
"""
import os
import sys

if __name__ == "__main__":  # before numpy loads its BLAS
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

SMALL, LARGE = 8, 1024


class Case:
    """One timed row: `make(rng, n)` -> dict of input arrays (float arrays get gradients unless
    listed in `const`); `fn(ns, **inputs)` runs the op with ns.T = the library (tinygrad_lite or
    torch) and ns.F = its nn.functional; `torch_fn` when PyTorch spells it differently."""

    def __init__(self, op, make, fn, torch_fn=None, label=None, const=(), large=LARGE):
        self.op, self.make, self.fn, self.torch_fn = op, make, fn, torch_fn or fn
        self.label, self.const, self.large = label or op, set(const), large


def _f(rng, *shape, lo=None):
    a = rng.standard_normal(shape)
    if lo is not None:
        a = np.abs(a) + lo
    return a


def _xy(lo=None):
    return lambda rng, n: {"x": _f(rng, n, n, lo=lo), "y": _f(rng, n, n, lo=lo)}


def _x(lo=None):
    return lambda rng, n: {"x": _f(rng, n, n, lo=lo)}


def _unit(rng, n):  # inside (-1, 1), the domain of asin and acos
    return {"x": rng.uniform(-0.99, 0.99, (n, n))}


def _rows(rng, n):  # a gather of rows with repeats
    return {"x": _f(rng, n, n), "idx": rng.integers(0, n, n)}


def _where(rng, n):
    return {"c": rng.random((n, n)) < 0.5, "x": _f(rng, n, n), "y": _f(rng, n, n)}


def _emb(rng, n):  # as many output elements as an n x n op: n*n/width lookups (repeats) of `width`-wide rows
    width = 8 if n < 64 else 128
    return {"idx": rng.integers(0, n, (n, n // width)), "w": _f(rng, n, width)}


def _ce(rng, n):
    return {"x": _f(rng, n, n), "t": rng.integers(0, n, n)}


def _ln(rng, n):
    return {"x": _f(rng, n, n), "w": 1 + 0.1 * _f(rng, n), "b": 0.1 * _f(rng, n)}


def _lin(rng, n):
    return {"x": _f(rng, n, n), "w": _f(rng, n, n) / math.sqrt(n), "b": _f(rng, n)}


def _att(rng, n):  # (heads, T, T) scores and a causal mask
    t = 8 if n < 64 else 256
    h = max(1, n * n // (t * t))
    return {"x": _f(rng, h, t, t), "mask": np.triu(np.ones((t, t), bool), 1)}


def _conv(rng, n):  # (N, C, H, W) images and (C, C, 3, 3) kernels; large: 8 x 16 x 64 x 64 = 0.5M elements
    N, C, H = (1, 2, 8) if n < 64 else (8, 16, 64)
    return {"x": _f(rng, N, C, H, H), "w": _f(rng, C, C, 3, 3) / (3 * math.sqrt(C))}


def _cols(rng, n):  # F.fold's input: the 3x3 stride-2 windows of _conv's images, (N, C*9, (H/2)^2)
    N, C, H = (1, 2, 8) if n < 64 else (8, 16, 64)
    return {"x": _f(rng, N, C * 9, (H // 2) ** 2)}


def _scatter(rng, n):
    return {"x": _f(rng, n, n), "idx": np.argsort(rng.random((n, n)), axis=1)[:, : n // 2], "src": _f(rng, n, n // 2)}


def _masked_softmax_ours(ns, x, mask):
    from tinygrad_lite.ops.fused import masked_softmax
    return masked_softmax(x, 0.125, mask)


def _masked_softmax_torch(ns, x, mask):
    return (x * 0.125).masked_fill(mask, float("-inf")).softmax(-1)


CASES = [
    Case("add", _xy(), lambda ns, x, y: x + y),
    Case("sub", _xy(), lambda ns, x, y: x - y),
    Case("mul", _xy(), lambda ns, x, y: x * y),
    Case("div", _xy(lo=0.5), lambda ns, x, y: x / y),
    Case("pow", _xy(lo=0.5), lambda ns, x, y: x ** y),
    Case("pow_scalar", _x(lo=0.5), lambda ns, x: x ** 3),
    Case("maximum", _xy(), lambda ns, x, y: ns.T.maximum(x, y)),
    Case("minimum", _xy(), lambda ns, x, y: ns.T.minimum(x, y)),
    Case("neg", _x(), lambda ns, x: -x),
    Case("exp", _x(), lambda ns, x: x.exp()),
    Case("log", _x(lo=0.5), lambda ns, x: x.log()),
    Case("sqrt", _x(lo=0.5), lambda ns, x: x.sqrt()),
    Case("abs", _x(), lambda ns, x: x.abs()),
    Case("tanh", _x(), lambda ns, x: x.tanh()),
    Case("sigmoid", _x(), lambda ns, x: x.sigmoid()),
    Case("relu", _x(), lambda ns, x: x.relu()),
    Case("clamp", _x(), lambda ns, x: x.clamp(-0.5, 0.5)),
    Case("where", _where, lambda ns, c, x, y: ns.T.where(c, x, y)),
    Case("where", _x(), lambda ns, x: x.masked_fill(x > 1.0, float("-inf")), label="where (masked_fill)"),
    Case("cast", _x(), lambda ns, x: x.double()),
    Case("sum", _x(), lambda ns, x: x.sum()),
    Case("sum", _x(), lambda ns, x: x.sum(-1), label="sum (last dim)"),
    Case("sum", _x(), lambda ns, x: x.sum(0), label="sum (first dim)"),
    Case("amax", _x(), lambda ns, x: x.amax(-1)),
    Case("amin", _x(), lambda ns, x: x.amin(0)),
    Case("logsumexp", _x(), lambda ns, x: x.logsumexp(-1)),
    Case("softmax", _x(), lambda ns, x: x.softmax(-1)),
    Case("log_softmax", _x(), lambda ns, x: x.log_softmax(-1)),
    Case("reshape", _x(), lambda ns, x: x.reshape(-1)),
    Case("permute", _x(), lambda ns, x: x.permute(1, 0)),
    Case("expand", lambda rng, n: {"x": _f(rng, 1, n)}, lambda ns, x: x.expand(x.shape[1], x.shape[1])),
    Case("getitem", _x(), lambda ns, x: x[1::2, :-1], label="getitem (slice)"),
    Case("getitem", _rows, lambda ns, x, idx: x[idx], label="getitem (index array)"),
    Case("cat", _xy(), lambda ns, x, y: ns.T.cat([x, y], 0)),
    Case("matmul", _xy(), lambda ns, x, y: x @ y, large=512),
    Case("linear", _lin, lambda ns, x, w, b: ns.F.linear(x, w, b), large=512),
    Case("erf", _x(), lambda ns, x: ns.T.erf(x)),
    Case("gelu", _x(), lambda ns, x: ns.F.gelu(x)),
    Case("gelu_tanh", _x(), lambda ns, x: ns.F.gelu(x, approximate="tanh")),
    Case("logsigmoid", _x(), lambda ns, x: ns.F.logsigmoid(x)),
    Case("embedding", _emb, lambda ns, idx, w: ns.F.embedding(idx, w)),
    Case("embedding_sparse", _emb, lambda ns, idx, w: ns.F.embedding(idx, w, sparse=True),
         label="embedding_sparse (sparse=True)"),
    Case("cross_entropy_idx", _ce, lambda ns, x, t: ns.F.cross_entropy(x, t)),
    Case("embedding_bag", _emb, lambda ns, idx, w: ns.F.embedding_bag(idx, w, mode="mean"),
         label="embedding_bag (mode='mean')"),
    Case("layer_norm", _ln, lambda ns, x, w, b: ns.F.layer_norm(x, (x.shape[-1],), w, b)),
    Case("layer_norm_nobias", _ln, lambda ns, x, w, b: ns.F.layer_norm(x, (x.shape[-1],), w), const=("b",)),
    Case("sin", _x(), lambda ns, x: x.sin()),
    Case("cos", _x(), lambda ns, x: x.cos()),
    Case("remainder", _xy(lo=0.5), lambda ns, x, y: x.remainder(y)),
    Case("cumsum", _x(), lambda ns, x: x.cumsum(1)),
    Case("prod", _x(lo=0.5), lambda ns, x: x.prod(1)),
    Case("log1p", _x(lo=0.5), lambda ns, x: x.log1p()),
    Case("expm1", _x(), lambda ns, x: x.expm1()),
    Case("atan", _x(), lambda ns, x: x.atan()),
    Case("asin", _unit, lambda ns, x: x.asin()),
    Case("acos", _unit, lambda ns, x: x.acos()),
    Case("erfc", _x(), lambda ns, x: x.erfc()),
    Case("erfinv", _unit, lambda ns, x: x.erfinv()),
    Case("lgamma", _x(lo=0.5), lambda ns, x: x.lgamma()),
    Case("polygamma", _x(lo=0.5), lambda ns, x: x.digamma(), label="polygamma (digamma)"),
    Case("atan2", _xy(), lambda ns, x, y: x.atan2(y)),
    Case("flip", _x(), lambda ns, x: x.flip(0)),
    Case("roll", _x(), lambda ns, x: x.roll(3, 1)),
    Case("contiguous", _x(), lambda ns, x: x.transpose(0, 1).contiguous(), label="contiguous (of a transpose)"),
    Case("scatter", _scatter, lambda ns, x, idx, src: x.scatter(1, idx, src)),
    Case("einsum", _xy(), lambda ns, x, y: ns.T.einsum("ij,jk->ik", x, y), large=512),
    # the conv2d row takes all four (strided ones: compiled, or tiny); windows and col2im alone: unfold and fold
    Case("conv2d", _conv, lambda ns, x, w: ns.F.conv2d(x, w, padding=1), label="conv2d (F.conv2d 3x3)"),
    Case("conv2d", _conv, lambda ns, x, w: ns.F.conv_transpose2d(x, w, padding=1),
         label="conv2d (F.conv_transpose2d 3x3)"),
    Case("conv2d", _conv, lambda ns, x, w: ns.F.conv2d(x, w, stride=2, padding=1),
         label="conv2d (F.conv2d 3x3 stride 2)"),
    Case("conv2d", _conv, lambda ns, x, w: ns.F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
         label="conv2d (F.conv_transpose2d 3x3 stride 2)"),
    Case("windows", _conv, lambda ns, x, w: ns.F.unfold(x, 3, padding=1, stride=2), const=("w",),
         label="windows (F.unfold 3x3 stride 2)"),
    Case("col2im", _cols, lambda ns, x: ns.F.fold(x, (2 * math.isqrt(x.shape[2]),) * 2, 3, padding=1, stride=2),
         label="col2im (F.fold 3x3 stride 2)"),
    Case("masked_softmax", _att, _masked_softmax_ours, _masked_softmax_torch, label="masked_softmax (vs masked_fill+softmax)"),
]

NO_PEER = {
    "conv2d_weight": "the weight gradient of the conv2d row (a row of its own for create_graph); timed inside "
                     "the backward of the conv2d rows' cases",
    "index_scatter": "the adjoint of indexing, recorded only by a double backward (create_graph=True) through "
                     "advanced indexing; its numpy forward is what `getitem (index array)`'s backward runs, timed there",
    "embedding_dot": "tinygrad_lite.sparse.embedding_dot (word2vec's scores in one row) has no single PyTorch op; "
                     "tests compare it with embedding, mul and sum in torch, and bench/bench_word2vec.py times it in use",
}


def _namespaces():
    import torch
    import tinygrad_lite as tl
    import tinygrad_lite.nn.functional as F
    tl_ns = SimpleNamespace(T=SimpleNamespace(maximum=tl.maximum, minimum=tl.minimum, where=tl.where, cat=tl.cat,
                                              erf=F.erf, einsum=tl.einsum), F=F, tensor=tl.Tensor)
    torch_ns = SimpleNamespace(T=torch, F=torch.nn.functional, tensor=torch.tensor)
    return tl_ns, torch_ns


def _inputs(ns, arrays, const, dtype):
    out = {}
    for k, a in arrays.items():
        if a.dtype.kind == "f":
            out[k] = ns.tensor(a.astype(dtype), requires_grad=k not in const)
        else:
            out[k] = ns.tensor(a)
    return out


def _step_fn(case, ns, arrays, dtype, torch_side, g_array=None):
    inputs = _inputs(ns, arrays, case.const, dtype)
    fn = case.torch_fn if torch_side else case.fn
    leaves = [t for t in inputs.values() if t.requires_grad]
    g = None if g_array is None else ns.tensor(g_array)

    def step():
        for t in leaves:
            t.grad = None
        y = fn(ns, **inputs)
        if g is None:
            y.backward()
        else:
            y.backward(g)
    return step


def _calls(step, budget=0.02):
    step()
    t0 = time.perf_counter()
    step()
    one = time.perf_counter() - t0
    return max(1, int(budget / max(one, 1e-7)))


def time_case(case, n, reps, dtype, namespaces):
    tl_ns, torch_ns = namespaces
    rng = np.random.default_rng(0)
    arrays = case.make(rng, n)
    # the output gradient: the same random values for both (shape from a first forward of ours)
    out = case.fn(tl_ns, **_inputs(tl_ns, arrays, case.const, dtype)).detach().numpy()
    g_array = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype) if out.ndim else None
    ours = _step_fn(case, tl_ns, arrays, dtype, False, g_array)
    theirs = _step_fn(case, torch_ns, arrays, dtype, True, g_array)
    calls = {"ours": _calls(ours), "torch": _calls(theirs)}
    fns = {"ours": ours, "torch": theirs}
    times = {"ours": [], "torch": []}
    for _ in range(reps):
        for k, f in fns.items():
            c = calls[k]
            t0 = time.perf_counter()
            for _ in range(c):
                f()
            times[k].append((time.perf_counter() - t0) / c)
    return {k: statistics.median(v) for k, v in times.items()}


def _fmt(t):
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="op names or labels to run (default: all)")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--float64", action="store_true", help="float64 inputs instead of float32")
    ap.add_argument("--small-only", action="store_true", help="the small size only (the per-op cost)")
    a = ap.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(1)
    threadpool_limits(1)
    dtype = np.float64 if a.float64 else np.float32
    namespaces = _namespaces()
    cases = [c for c in CASES if not a.only or c.op in a.only or c.label in a.only]
    print(f"forward + backward, {np.dtype(dtype).name}, one thread each, median of {a.reps} interleaved repetitions; "
          f"ratio = tinygrad_lite / PyTorch\n")
    print(f"| op | small: ours | torch | ratio | large: ours | torch | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    worst, smalls = [], []
    for c in cases:
        s = time_case(c, SMALL, a.reps, dtype, namespaces)
        if a.small_only:
            smalls.append(s["ours"] / s["torch"])
            print(f"| {c.label} | {_fmt(s['ours'])} | {_fmt(s['torch'])} | {smalls[-1]:.2f}x | | | |", flush=True)
            continue
        big = time_case(c, c.large, a.reps, dtype, namespaces)
        rs, rl = s["ours"] / s["torch"], big["ours"] / big["torch"]
        worst.append((rl, c.label))
        flag = " **>2x**" if rl > 2 else ""
        label = c.label if c.large == LARGE else f"{c.label} (large = {c.large}x{c.large})"
        print(f"| {label} | {_fmt(s['ours'])} | {_fmt(s['torch'])} | {rs:.2f}x | "
              f"{_fmt(big['ours'])} | {_fmt(big['torch'])} | {rl:.2f}x{flag} |", flush=True)
    for op, why in NO_PEER.items():
        if not a.only or op in a.only:
            print(f"| {op} | - | - | - | - | - | no PyTorch equivalent: {why} |")
    if smalls:
        print(f"\nsmall size: median ratio {statistics.median(smalls):.2f}x over {len(smalls)} ops")
    if worst:
        worst.sort(reverse=True)
        print("\nlargest large-size ratios: " + ", ".join(f"{l} {r:.2f}x" for r, l in worst[:5]))


if __name__ == "__main__":
    sys.exit(main())
