"""Core speed targets of issue 3, measured against peers in the same process, one thread each.

  op   ((a*b + c).relu() * d).sum() forward+backward on 8x8 float32: microseconds per op
  mlp  one SGD step of a 64-256-256-10 ReLU MLP, batch 128, cross-entropy
  anomaly  the op step with detect_anomaly off (after it was on once) and on, against the plain step

Peers: PyTorch (if installed), HIPS autograd (if installed), and numpy written by hand (the floor).
Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_core.py
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tinygrad_lite as tl  # noqa: E402


def best(fns, calls, rounds, clock=time.perf_counter):
    """Best-of-`rounds` mean time per call of each function, interleaved so load affects all alike.
    clock=time.process_time counts this process's CPU time only (steadier on a busy machine)."""
    for f in fns.values():
        f()
    out = {k: math.inf for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = clock()
            for _ in range(calls):
                f()
            out[k] = min(out[k], (clock() - t0) / calls)
    return out


def op_peers():
    rng = np.random.default_rng(0)
    A, B, C, D = (rng.standard_normal((8, 8)).astype(np.float32) for _ in range(4))
    a, b, c, d = (tl.Tensor(x, requires_grad=True) for x in (A, B, C, D))

    def ours():
        for t in (a, b, c, d):
            t.grad = None
        ((a * b + c).relu() * d).sum().backward()

    def numpy_by_hand():
        s = A * B + C
        r = np.maximum(s, 0)
        (r * D).sum()
        gs = D * (s > 0)
        return gs * B, gs * A, gs, r

    fns = {"tinygrad_lite": ours, "numpy by hand": numpy_by_hand}
    try:
        import torch
        torch.set_num_threads(1)
        ta, tb, tc, td = (torch.tensor(x, requires_grad=True) for x in (A, B, C, D))

        def pytorch():
            for t in (ta, tb, tc, td):
                t.grad = None
            ((ta * tb + tc).relu() * td).sum().backward()
        fns["pytorch"] = pytorch
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp
        g = autograd.grad(lambda ws: anp.sum(anp.maximum(ws[0] * ws[1] + ws[2], 0) * ws[3]))
        fns["HIPS autograd"] = lambda: g([A, B, C, D])
    except ImportError:
        pass
    return fns


def mlp_step_by_hand(x, y, W, lr=0.1):
    """One SGD step of the 64-256-256-10 MLP with cross-entropy, written by hand in numpy (W: W1, b1, W2, b2,
    W3, b3, updated in place): the floor the engine's MLP step is measured against."""
    W1, b1, W2, b2, W3, b3 = W
    n = len(y)
    h1 = np.maximum(x @ W1 + b1, 0)
    h2 = np.maximum(h1 @ W2 + b2, 0)
    z = h2 @ W3 + b3
    z -= z.max(1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(1, keepdims=True)
    z[np.arange(n), y] -= 1
    z /= n
    d2 = (z @ W3.T) * (h2 > 0)
    d1 = (d2 @ W2.T) * (h1 > 0)
    for p, g in zip(W, (x.T @ d1, d1.sum(0), h1.T @ d2, d2.sum(0), h2.T @ z, z.sum(0))):
        p -= lr * g


def mlp_peers():
    import tinygrad_lite.nn as nn
    import tinygrad_lite.nn.functional as F
    import tinygrad_lite.optim as optim
    rng = np.random.default_rng(0)
    x = rng.random((128, 64), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = optim.SGD(list(model.parameters()), lr=0.1)
    tx, ty = tl.Tensor(x), tl.Tensor(y)
    W = [rng.uniform(-0.1, 0.1, s).astype(np.float32) for s in ((64, 256), (256,), (256, 256), (256,), (256, 10), (10,))]

    def ours():
        opt.zero_grad()
        F.cross_entropy(model(tx), ty).backward()
        opt.step()

    def numpy_by_hand():
        mlp_step_by_hand(x, y, W)

    fns = {"tinygrad_lite": ours, "numpy by hand": numpy_by_hand}
    try:
        import torch
        torch.set_num_threads(1)
        tm = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                 torch.nn.ReLU(), torch.nn.Linear(256, 10))
        topt = torch.optim.SGD(tm.parameters(), lr=0.1)
        txx, tyy = torch.tensor(x), torch.tensor(y)

        def pytorch():
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tm(txx), tyy).backward()
            topt.step()
        fns["pytorch"] = pytorch
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp

        def loss(ws):
            W1, b1, W2, b2, W3, b3 = ws
            h = anp.maximum(anp.dot(anp.maximum(anp.dot(x, W1) + b1, 0), W2) + b2, 0)
            z = anp.dot(h, W3) + b3
            z = z - anp.max(z, axis=1, keepdims=True)
            lp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
            return -anp.mean(lp[np.arange(128), y])
        gfn = autograd.grad(loss)
        Wa = [w.copy() for w in W]

        def hips():
            for p, g in zip(Wa, gfn(Wa)):
                p -= 0.1 * g
        fns["HIPS autograd"] = hips
    except ImportError:
        pass
    return fns


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args(argv)
    t = best(op_peers(), 2000, args.rounds)
    print("per-op framework cost, ((a*b + c).relu() * d).sum() fwd+bwd, 8x8 float32 (5 ops):")
    for k, v in t.items():
        print(f"  {k:15s} {v * 1e6 / 5:7.2f} us/op   ({v / t['tinygrad_lite']:.2f}x ours)")
    t = best(mlp_peers(), 30, args.rounds)
    print("MLP 64-256-256-10 SGD step, batch 128:")
    for k, v in t.items():
        print(f"  {k:15s} {v * 1e3:7.3f} ms     ours / this = {t['tinygrad_lite'] / v:.2f}x")
    anomaly_cost(args.rounds)


def anomaly_cost(rounds):
    """detect_anomaly must cost nothing when off: the op step before anomaly mode was ever used, after it
    was turned on and off (the recording constructor uninstalled), and inside it (records a traceback per op)."""
    from tinygrad_lite.autograd import detect_anomaly
    ours = op_peers()["tinygrad_lite"]
    plain = best({"plain": ours}, 2000, rounds)["plain"]

    def on():
        with detect_anomaly():
            ours()
    with detect_anomaly():
        pass
    t = best({"off (after on once)": ours, "plain again": ours, "on": on}, 2000 if rounds > 1 else 200, rounds)
    print("detect_anomaly, the op step above:")
    print(f"  {'plain':22s} {plain * 1e6 / 5:7.2f} us/op")
    for k, v in t.items():
        print(f"  {k:22s} {v * 1e6 / 5:7.2f} us/op   ({v / min(plain, t['plain again']):.2f}x plain)")


if __name__ == "__main__":
    main()
