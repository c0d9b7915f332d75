"""The compiled row-wise kernels (tinygrad_lite/ops/norm_kernels.py: layer norm, softmax, log_softmax over
the last dim) against the numpy paths they sit beside and against PyTorch, in one process, interleaved.

A step is forward + backward through the public API (F.layer_norm with weight and bias, or without bias;
Tensor.softmax(-1), .log_softmax(-1)) with a fixed random output gradient. "numpy" is the same call with
the compiled path switched off by its size bound (ops/fused.py _LN_JIT_MIN, ops/reduce.py _ROWS_JIT_MIN),
so what runs is what TINYGRAD_LITE_JIT=0 runs. One thread each. Each repetition runs every variant once
(a block of calls sized to ~20 ms); the median per call over the repetitions, in CPU time of this process
(less disturbed by a busy machine than wall time) and wall time.

    .venv/bin/python bench/bench_row_kernels.py [--reps 7] [--float64] [--only layer_norm softmax ...]
"""
import os
import sys

if __name__ == "__main__":  # before numpy loads its BLAS
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from unittest import mock  # noqa: E402

import numpy as np  # noqa: E402

SHAPES = [(8, 8), (64, 64), (2048, 128), (1024, 1024)]  # (2048, 128): the GPT benches' (32, 64, 128) rows


def _ops(F):
    return {"layer_norm": lambda m, x, w, b: F.layer_norm(x, (x.shape[-1],), w, b),
            "layer_norm_nobias": lambda m, x, w, b: F.layer_norm(x, (x.shape[-1],), w),
            "softmax": lambda m, x, w, b: x.softmax(-1),
            "log_softmax": lambda m, x, w, b: x.log_softmax(-1)}


def _step(fn, mod, arrays, tensor):
    x, w, b = (tensor(a, requires_grad=True) for a in arrays[:3])
    g = tensor(arrays[3])

    def step():
        x.grad = w.grad = b.grad = None
        fn(mod, x, w, b).backward(g)
    return step


def _numpy_paths():
    from tinygrad_lite.ops import fused, reduce
    return mock.patch.multiple(fused, _LN_JIT_MIN=float("inf")), mock.patch.multiple(reduce, _ROWS_JIT_MIN=1 << 62)


def _timed(step, calls, clock):
    t0 = clock()
    for _ in range(calls):
        step()
    return (clock() - t0) / calls


def measure(name, shape, dtype, reps):
    import torch
    import tinygrad_lite as tl
    import tinygrad_lite.nn.functional as F
    rng = np.random.default_rng(0)
    n = shape[-1]
    arrays = [rng.standard_normal(s).astype(dtype) for s in (shape, (n,), (n,), shape)]
    steps = {"jit": _step(_ops(F)[name], F, arrays, tl.Tensor),
             "torch": _step(_ops(torch.nn.functional)[name], torch.nn.functional, arrays, torch.tensor)}
    steps["numpy"] = steps["jit"]
    patches = {"numpy": _numpy_paths()}
    calls = {}
    for k, step in steps.items():
        with _Patched(patches.get(k, ())):
            step()
            one = _timed(step, 1, time.perf_counter)
        calls[k] = max(1, int(0.02 / max(one, 1e-7)))
    cpu, wall = {k: [] for k in steps}, {k: [] for k in steps}
    for _ in range(reps):
        for k, step in steps.items():
            with _Patched(patches.get(k, ())):
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(calls[k]):
                    step()
                cpu[k].append((time.process_time() - c0) / calls[k])
                wall[k].append((time.perf_counter() - w0) / calls[k])
    return {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in steps}


class _Patched:
    def __init__(self, patches):
        self.patches = patches

    def __enter__(self):
        for p in self.patches:
            p.start()

    def __exit__(self, *exc):
        for p in self.patches:
            p.stop()


def _fmt(t):
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--float64", action="store_true")
    ap.add_argument("--only", nargs="*", help="layer_norm, layer_norm_nobias, softmax, log_softmax")
    a = ap.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits
    from tinygrad_lite.ops import jit
    torch.set_num_threads(1)
    threadpool_limits(1)
    if not jit.available():
        sys.exit("compiled kernels are off (numba missing or TINYGRAD_LITE_JIT=0): nothing to compare")
    dtype = np.float64 if a.float64 else np.float32
    names = a.only or ["layer_norm", "layer_norm_nobias", "softmax", "log_softmax"]
    print(f"forward + backward, {np.dtype(dtype).name}, one thread, median of {a.reps} interleaved repetitions, "
          f"CPU time (wall in brackets); ratios to PyTorch\n")
    print("| op | shape | compiled | numpy | PyTorch | compiled / PyTorch | numpy / PyTorch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in names:
        for shape in SHAPES:
            r = measure(name, shape, dtype, a.reps)
            (jc, jw), (nc, nw), (tc, tw) = r["jit"], r["numpy"], r["torch"]
            print(f"| {name} | {shape[0]}x{shape[1]} | {_fmt(jc)} | {_fmt(nc)} | {_fmt(tc)} | "
                  f"{jc / tc:.2f}x ({jw / tw:.2f}x) | {nc / tc:.2f}x ({nw / tw:.2f}x) |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
