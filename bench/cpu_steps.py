"""CPU time (time.process_time: what this process used, whatever else the machine runs) of the core steps.

  op       ((a*b + c).relu() * d).sum() forward + backward on 8x8 float32 (5 ops), microseconds
  backward the backward pass alone of that graph (retained, run again), microseconds
  mlp      one SGD step of the 64-256-256-10 ReLU MLP, batch 128, cross-entropy, milliseconds

Min over 15 rounds. On a shared machine wall-clock ratios swing with the load; CPU time of the same
work is steadier, so this is the number to compare two versions of the engine with
(bench/compare_trees.py runs it for both trees, alternately).
Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/cpu_steps.py
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn as nn  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
import tinygrad_lite.optim as optim  # noqa: E402
from tinygrad_lite.autograd import _run  # noqa: E402


def best(f, n, rounds=15):
    f()
    out = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(n):
            f()
        out = min(out, (time.process_time() - t0) / n)
    return out


def main():
    rng = np.random.default_rng(0)
    a, b, c, d = (tl.Tensor(rng.standard_normal((8, 8)).astype(np.float32), requires_grad=True) for _ in range(4))

    def op():
        for t in (a, b, c, d):
            t.grad = None
        ((a * b + c).relu() * d).sum().backward()

    loss = ((a * b + c).relu() * d).sum()
    seed = np.ones((), np.float32)

    def backward_only():
        for t in (a, b, c, d):
            t.grad = None
        _run([loss], [seed], True, False, None, None)

    x = rng.random((128, 64), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = optim.SGD(list(model.parameters()), lr=0.1)
    tx, ty = tl.Tensor(x), tl.Tensor(y)

    def mlp():
        opt.zero_grad()
        F.cross_entropy(model(tx), ty).backward()
        opt.step()

    print(f"op {best(op, 3000) * 1e6:.2f} us  backward {best(backward_only, 3000) * 1e6:.2f} us  "
          f"mlp {best(mlp, 100) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
