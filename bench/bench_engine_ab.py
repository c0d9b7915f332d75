"""The scorecard's per-op chain, ((a*b + c).relu() * d).sum() forward + backward on 8x8 float32, on this
tree's tinygrad_lite and on the same package at an earlier git revision, in ONE process, interleaved with
the chain written by hand in numpy (the scorecard's floor).

On a shared machine the scorecard's ratio drifts by 5-10% between runs; two engines interleaved in one
process see the same load, so their quotient (new/base) shows changes of a few percent that separate runs
cannot. The base is `git archive REV tinygrad_lite`, imported under another name (the package imports
itself relatively), so nothing is installed and the worktree is not touched.

    .venv/bin/python bench/bench_engine_ab.py --base c943615 [--rounds 15] [--runs 3]
    .venv/bin/python bench/bench_engine_ab.py --base c943615 --what backward   # backward alone
    .venv/bin/python bench/bench_engine_ab.py --base c943615 --what mlp        # the scorecard's MLP step

--what backward times backward(retain_graph=True) on one graph built once (the forward left out);
--what mlp the scorecard's MLP SGD step (its floor: the step written by hand in numpy); --cpu times by
the process's CPU time, which a machine busy with other jobs disturbs far less than wall time.
"""
import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_NAME = "tgl_base"


def import_base(rev, into):
    """tinygrad_lite at git revision `rev`, unpacked into `into` as the package `tgl_base`, imported."""
    tar = subprocess.run(["git", "-C", ROOT, "archive", rev, "tinygrad_lite"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(into, filter="data")
    os.rename(os.path.join(into, "tinygrad_lite"), os.path.join(into, BASE_NAME))
    sys.path.insert(0, into)
    return __import__(BASE_NAME)


def chain(tl, what):
    rng = np.random.default_rng(0)
    a, b, c, d = (tl.Tensor(rng.standard_normal((8, 8)).astype(np.float32), requires_grad=True) for _ in range(4))
    loss = ((a * b + c).relu() * d).sum()

    def full():
        for t in (a, b, c, d):
            t.grad = None
        ((a * b + c).relu() * d).sum().backward()

    def backward():
        for t in (a, b, c, d):
            t.grad = None
        loss.backward(retain_graph=True)
    return full if what == "full" else backward


def mlp_step(tl):
    """The scorecard's MLP step (64-256-256-10 ReLU, batch 128, cross-entropy, SGD) on package tl."""
    nn, F, optim = tl.nn, tl.nn.functional, tl.optim
    rng = np.random.default_rng(0)
    x, y = tl.Tensor(rng.random((128, 64), dtype=np.float32)), tl.Tensor(rng.integers(0, 10, 128))
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = optim.SGD(list(model.parameters()), lr=0.1)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def numpy_mlp():
    """The scorecard's MLP step written by hand (its floor)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((128, 64), dtype=np.float32), rng.integers(0, 10, 128)
    shapes = ((64, 256), (256,), (256, 256), (256,), (256, 10), (10,))
    W = [rng.uniform(-0.1, 0.1, s).astype(np.float32) for s in shapes]

    from bench_core import mlp_step_by_hand
    return lambda: mlp_step_by_hand(x, y, W)


def numpy_chain():
    rng = np.random.default_rng(0)
    A, B, C, D = (rng.standard_normal((8, 8)).astype(np.float32) for _ in range(4))

    def by_hand():  # the scorecard's floor
        s = A * B + C
        r = np.maximum(s, 0)
        (r * D).sum()
        gs = D * (s > 0)
        return gs * B, gs * A, gs, r
    return by_hand


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the git revision to compare against")
    ap.add_argument("--what", choices=("full", "backward", "mlp"), default="full")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu", action="store_true", help="time by this process's CPU time (a busy machine)")
    args = ap.parse_args()
    sys.path.insert(0, ROOT)
    import tinygrad_lite
    from bench_core import best  # (the scorecard's interleaved best-of-rounds timer)
    with tempfile.TemporaryDirectory() as tmp:
        base = import_base(args.base, tmp)
        if args.what == "mlp":
            fns = {"base": mlp_step(base), "new": mlp_step(tinygrad_lite), "numpy": numpy_mlp()}
        else:
            fns = {"base": chain(base, args.what), "new": chain(tinygrad_lite, args.what), "numpy": numpy_chain()}
        for _ in range(args.runs):
            clock = time.process_time if args.cpu else time.perf_counter
            t = best(fns, 30 if args.what == "mlp" else 2000, args.rounds, clock)
            load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
            unit = "step" if args.what == "mlp" else "chain"
            what = args.what + (" (CPU time)" if args.cpu else "")
            print(f"{what}: base {t['base'] / t['numpy']:.2f}x, new {t['new'] / t['numpy']:.2f}x the numpy floor "
                  f"(new/base {t['new'] / t['base']:.3f}; base {t['base'] * 1e6:.2f} us, new {t['new'] * 1e6:.2f} us, "
                  f"numpy {t['numpy'] * 1e6:.2f} us per {unit}; load {load})", flush=True)


if __name__ == "__main__":
    main()
