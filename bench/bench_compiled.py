"""The compiled float32 loops (tinygrad_lite/ops/jit.py) against the numpy kernels beside them and
PyTorch's op, kernel by kernel on raw arrays (no autograd), one process, one thread, interleaved:
median time per call of 1024x1024 float32 (and the per-call cost at 64 elements).

    .venv/bin/python bench/bench_compiled.py [--reps 15]
"""
import os
import sys

if __name__ == "__main__":  # before numpy loads its BLAS
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from tinygrad_lite.ops.jit import numpy_kernels  # noqa: E402


def cases(n):
    import torch
    import torch.nn.functional as tF
    from tinygrad_lite.ops import elementwise as E, erf_kernels as K
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    y, s = K.gelu(x), E._sigmoid_fwd(None, x)
    tx, tg, ty, ts = (torch.from_numpy(a) for a in (x, g, y, s))
    gelu_names = ("gelu32", "gelu_grad32", "gelu_grad32_one_g", "erf32")
    sig_names = ("_sigmoid32", "_sigmoid_grad32")
    return [
        ("gelu forward", K, gelu_names, lambda: K.gelu(x), lambda: tF.gelu(tx)),
        ("gelu backward", K, gelu_names, lambda: K.gelu_grad(g, x, y),
         lambda: torch.ops.aten.gelu_backward(tg, tx)),
        ("erf forward", K, gelu_names, lambda: K.erf(x), lambda: torch.erf(tx)),
        ("sigmoid forward", E, sig_names, lambda: E._sigmoid_fwd(None, x), lambda: torch.sigmoid(tx)),
        ("sigmoid backward", E, sig_names, lambda: E._sigmoid_dx(g, s, None, x),
         lambda: torch.ops.aten.sigmoid_backward(tg, ts)),
    ]


def timed(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=15)
    a = ap.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits
    from tinygrad_lite.ops import jit
    torch.set_num_threads(1)
    threadpool_limits(1)
    if not jit.available():
        sys.exit("compiled kernels are off (numba missing or TINYGRAD_LITE_JIT=0)")
    print("| kernel | n | compiled | numpy path | torch | compiled / numpy | compiled / torch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, calls in ((64, 2000), (1 << 20, 5)):
        for label, module, names, ours, theirs in cases(n):
            times = {"compiled": [], "numpy": [], "torch": []}
            ours(), theirs()
            for _ in range(a.reps):
                times["compiled"].append(timed(ours, calls))
                with numpy_kernels(module, *names), np.errstate(all="ignore"):
                    times["numpy"].append(timed(ours, calls))
                times["torch"].append(timed(theirs, calls))
            c, p, t = (statistics.median(times[k]) * 1e6 for k in ("compiled", "numpy", "torch"))
            print(f"| {label} | {n} | {c:.2f} us | {p:.2f} us | {t:.2f} us | {c / p:.2f}x | {c / t:.2f}x |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
