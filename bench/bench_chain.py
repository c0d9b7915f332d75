"""The elementwise chain `((a*b + c).relu() * d).sum()`, forward + backward, against PyTorch, at
n x n for n in 8, 64, 256, 1024: what it costs a user who imports the library and writes it.

Each framework and size runs in its own FRESH process that imports only that framework, as a
user's script would (running both in one process would hide the allocator's cost: each one's
frees warm glibc's heap for the other): no flags, no environment, one thread for both
(torch.set_num_threads(1); numpy's BLAS pool via threadpoolctl, though the chain calls no BLAS).
The two kinds of process alternate, --runs times each; median per call within a process, then
the median over the processes.

    .venv/bin/python bench/bench_chain.py [--sizes 8 64 256 1024] [--malloc default]

--malloc default sets TINYGRAD_LITE_MALLOC=default in the children: glibc's own policy, to show
what tinygrad_lite.runtime's allocator policy (applied on import) is worth.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, statistics, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
who, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
A, B, C, D = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(4))
if who == "ours":
    import tinygrad_lite as lib
    ts = [lib.Tensor(x, requires_grad=True) for x in (A, B, C, D)]
else:
    import torch as lib
    lib.set_num_threads(1)
    ts = [lib.tensor(x, requires_grad=True) for x in (A, B, C, D)]
threadpool_limits(1)

def run():
    a, b, c, d = ts
    for t in ts:
        t.grad = None
    ((a * b + c).relu() * d).sum().backward()

calls = max(1, int(2e6 // (n * n * 40 + 2000)))
run(); run()
times = []
for rep in range(15):
    t0 = time.perf_counter()
    for _ in range(calls):
        run()
    times.append((time.perf_counter() - t0) / calls)
print(json.dumps(statistics.median(times)))
"""


def measure(who, n, env):
    out = subprocess.run([sys.executable, "-c", CHILD, who, str(n)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 256, 1024])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per framework and size (median)")
    ap.add_argument("--malloc", choices=["library", "default"], default="library",
                    help="library: as a user imports it (the default); default: glibc's own malloc policy")
    a = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "OPENBLAS_", "MKL_", "TINYGRAD_LITE_"))}
    if a.malloc == "default":
        env["TINYGRAD_LITE_MALLOC"] = "default"
    print(f"`((a*b + c).relu() * d).sum()` fwd+bwd, float32, fresh process per size, malloc policy: {a.malloc}\n")
    print("| n x n | tinygrad_lite | PyTorch | ours / torch |")
    print("|---|---:|---:|---:|")
    for n in a.sizes:
        runs = {"ours": [], "torch": []}
        for _ in range(a.runs):  # alternate the two kinds of fresh process, so load drifts hit both
            for who in runs:
                runs[who].append(measure(who, n, env))
        t = {k: statistics.median(v) for k, v in runs.items()}
        unit, s = ("us", 1e6) if t["torch"] < 1e-3 else ("ms", 1e3)
        print(f"| {n}x{n} | {t['ours'] * s:.1f} {unit} | {t['torch'] * s:.1f} {unit} | {t['ours'] / t['torch']:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
