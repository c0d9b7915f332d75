"""Issue 12's kernel fast paths against their reference spellings and PyTorch, through the public API.

Each row: forward + backward (a fixed random output gradient) on 1024x1024 float32, one thread, as a
user calls it, three ways interleaved in one process: the engine as shipped ("fast"), the same engine
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
    from tinygrad_lite.ops import elementwise, numpy_fast
    return {
        "cumsum (last dim)": [mock.patch.object(numpy_fast, "_SCAN_MIN", float("inf"))],
        "sigmoid": [mock.patch.object(elementwise, "_fast_float", lambda x: False)],
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
    return {k: (step(ours, og, f), step(theirs, tg, t)) for k, (f, t) in fns.items()}


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
    print("forward + backward, 1024x1024 float32, one thread; min / median of", a.reps, "interleaved runs\n")
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
