"""Issue 12's kernel fast paths against their reference spellings and PyTorch, through the public API.

Each row: forward + backward (a fixed random output gradient) on 1024x1024 float32 (the convolutions:
the shapes in _CONVS), one thread, as a user calls it, three ways interleaved in one process: the engine as shipped ("fast"), the same engine
with that op's fast path switched off (its reference path: "ref"), and PyTorch. On a shared machine
the minimum of many repetitions is the steadier figure; the median is printed beside it.

    .venv/bin/python bench/bench_fast_paths.py [--reps 21] [--only cumsum sigmoid]
"""
import os
import sys

if __name__ == "__main__":  # before numpy loads its BLAS
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from unittest import mock  # noqa: E402

import numpy as np  # noqa: E402


def _reference_switches():
    """op -> the patches that send it down its reference path."""
    from tinygrad_lite.ops import conv2d, elementwise, numpy_fast, window
    col2im_ref = [mock.patch.object(window, "_col2im_2d", window._col2im_ref)]
    # a stride-1 convolution's fast path is the conv2d row; its reference the general route (windows,
    # matmul, col2im with its own fast path on); a strided one's fast path the two-stage col2im
    general = [mock.patch.object(conv2d, "fast_path_applies", lambda *a: False)]
    return {
        "cumsum (last dim)": [mock.patch.object(numpy_fast, "_SCAN_MIN", float("inf"))],
        "sigmoid": [mock.patch.object(elementwise, "_fast_float", lambda x: False)],
        **{name: col2im_ref if "s2" in name else general for name in _CONVS},
    }


# the convolutions' cases: (x shape, weight shape, keyword arguments); the first is bench_ops.py's large
# case, the next two the MNIST example's layers, the last the DCGAN generator's layer of bench_layers.py
_CONVS = {
    "conv2d 3x3 pad 1 (8,16,64,64)": ((8, 16, 64, 64), (16, 16, 3, 3), dict(padding=1)),
    "conv2d 1->32 3x3 (64,1,28,28)": ((64, 1, 28, 28), (32, 1, 3, 3), {}),
    "conv2d 32->64 3x3 (64,32,26,26)": ((64, 32, 26, 26), (64, 32, 3, 3), {}),
    "conv_transpose2d 3x3 pad 1 (8,16,64,64)": ((8, 16, 64, 64), (16, 16, 3, 3), dict(padding=1)),
    "conv_transpose2d 128->64 4x4 s2 p1 (64,128,16,16)": ((64, 128, 16, 16), (128, 64, 4, 4),
                                                          dict(stride=2, padding=1)),
}


def _cases(n):
    import torch
    import tinygrad_lite as tl
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n)).astype(np.float32)
    g = rng.standard_normal((n, n)).astype(np.float32)
    ours, theirs = [tl.Tensor(x, requires_grad=True)], [torch.tensor(x, requires_grad=True)]
    og, tg = tl.Tensor(g), torch.tensor(g)

    def step(leaves, grad, fn):
        def run():
            for t in leaves:
                t.grad = None
            fn(*leaves).backward(grad)
        return run

    fns = {"cumsum (last dim)": (lambda x: x.cumsum(1), lambda x: x.cumsum(1)),
           "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid())}
    out = {k: (step(ours, og, f), step(theirs, tg, t)) for k, (f, t) in fns.items()}
    for name, (xs, ws, kw) in _CONVS.items():
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
        fo, ft = (tl.nn.functional.conv2d, torch.nn.functional.conv2d) if name.startswith("conv2d") else \
            (tl.nn.functional.conv_transpose2d, torch.nn.functional.conv_transpose2d)
        g = rng.standard_normal(ft(torch.tensor(x), torch.tensor(w), **kw).shape).astype(np.float32)
        ours = [tl.Tensor(x, requires_grad=True), tl.Tensor(w, requires_grad=True)]
        theirs = [torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)]
        out[name] = (step(ours, tl.Tensor(g), lambda x, w, f=fo, kw=kw: f(x, w, **kw)),
                     step(theirs, torch.tensor(g), lambda x, w, f=ft, kw=kw: f(x, w, **kw)))
    return out


def _with(patches, fn):
    def run():
        for p in patches:
            p.start()
        try:
            fn()
        finally:
            for p in patches:
                p.stop()
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(1)
    threadpool_limits(1)
    switches = _reference_switches()
    print("forward + backward, float32, one thread; min / median of", a.reps, "interleaved runs\n")
    print("| op | fast | ref | PyTorch | fast / PyTorch | ref / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (ours, theirs) in _cases(1024).items():
        if a.only and not any(o in name for o in a.only):
            continue
        fns = {"fast": ours, "ref": _with(switches[name], ours), "torch": theirs}
        times = {k: [] for k in fns}
        for f in fns.values():
            f()
        for _ in range(a.reps):
            for k, f in fns.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        mn = {k: min(v) for k, v in times.items()}
        md = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        ms = {k: f"{mn[k] * 1e3:.2f} / {md[k] * 1e3:.2f} ms" for k in fns}
        print(f"| {name} | {ms['fast']} | {ms['ref']} | {ms['torch']} | {mn['fast'] / mn['torch']:.2f}x / "
              f"{md['fast'] / md['torch']:.2f}x | {mn['ref'] / mn['torch']:.2f}x / {md['ref'] / md['torch']:.2f}x |",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
