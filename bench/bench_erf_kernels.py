"""The float32 erf / exact-GELU kernels (tinygrad_lite/ops/erf_kernels.py) called directly on a 1024x1024
float32 array, against PyTorch's (one thread each) and, with --old PATH, against another checkout's
erf_kernels.py (for before/after). Best of 15 interleaved repetitions, in ms. With --old, also the
scorecard's gelu line (F.gelu exact vs tanh, fwd+bwd through the API on (32, 64, 512)) with the GELU op
running on either kernel module in turn, best of 25 interleaved rounds: a before/after that the
machine's load cannot skew.

    .venv/bin/python bench/bench_erf_kernels.py [--old /path/to/old/checkout]
"""
import os
import sys

if __name__ == "__main__":
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def load_old(root):
    """erf_kernels.py of another checkout, imported under another name (its relative import made absolute)."""
    path = os.path.join(root, "tinygrad_lite", "ops", "erf_kernels.py")
    src = open(path).read().replace("from .chunked import", "from tinygrad_lite.ops.chunked import")
    spec = importlib.util.spec_from_loader("old_erf_kernels", loader=None)
    mod = importlib.util.module_from_spec(spec)
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod


def best(fns, reps=15):
    times = {k: float("inf") for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k] = min(times[k], time.perf_counter() - t0)
    return times


def scorecard_gelu(modules, rounds=25):
    """exact / tanh GELU time ratio (fwd+bwd of F.gelu(x).sum(), x of (32, 64, 512)) per kernel module."""
    import tinygrad_lite as tl
    import tinygrad_lite.nn.functional as F
    from tinygrad_lite.ops import special
    x = tl.Tensor(np.random.default_rng(0).standard_normal((32, 64, 512)).astype(np.float32), requires_grad=True)

    def step(approx, mod):
        def f():
            special.erf_kernels = mod
            x.grad = None
            F.gelu(x, approximate=approx).sum().backward()
        return f

    fns = {"tanh": step("tanh", modules["new"]), **{n: step("none", m) for n, m in modules.items()}}
    t = best(fns, rounds)
    special.erf_kernels = modules["new"]
    return {n: t[n] / t["tanh"] for n in modules}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="root of a checkout whose erf_kernels.py is the 'before'")
    args = ap.parse_args()
    from tinygrad_lite.ops import erf_kernels as new
    import torch
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1024, 1024)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    y = new.gelu(x)
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)
    kernels = {"new": new, **({"old": load_old(args.old)} if args.old else {})}
    fns = {"torch gelu fwd": lambda: torch.nn.functional.gelu(xt),
           "torch gelu bwd": lambda: torch.ops.aten.gelu_backward(gt, xt),
           "torch erf fwd": lambda: torch.erf(xt)}
    for name, k in kernels.items():
        fns[f"{name} gelu fwd"] = lambda k=k: k.gelu(x)
        fns[f"{name} gelu bwd"] = lambda k=k: k.gelu_grad(g, x, y)
        fns[f"{name} erf fwd"] = lambda k=k: k.erf(x)
    t = best(fns)
    for name in kernels:
        fb = t[f"{name} gelu fwd"] + t[f"{name} gelu bwd"]
        tfb = t["torch gelu fwd"] + t["torch gelu bwd"]
        print(f"{name}: gelu fwd {t[f'{name} gelu fwd'] * 1e3:.2f} bwd {t[f'{name} gelu bwd'] * 1e3:.2f} ms "
              f"(fwd+bwd {fb / tfb:.2f}x torch's {t['torch gelu fwd'] * 1e3:.2f} + {t['torch gelu bwd'] * 1e3:.2f}); "
              f"erf fwd {t[f'{name} erf fwd'] * 1e3:.2f} ms ({t[f'{name} erf fwd'] / t['torch erf fwd']:.2f}x torch's "
              f"{t['torch erf fwd'] * 1e3:.2f})")
    if args.old:
        r = scorecard_gelu(kernels)
        print("scorecard gelu, exact vs tanh: " + ", ".join(f"{n} {v:.2f}x" for n, v in r.items()))


if __name__ == "__main__":
    main()
