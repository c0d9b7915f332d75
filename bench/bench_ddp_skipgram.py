"""What DistributedDataParallel does with skip-gram's sparse embedding gradients, and what it costs,
on the Lee corpus (../shared/data/lee_background.cor), torch backend, gloo on CPU.

    python bench/bench_ddp_skipgram.py [--nproc 2] [--epochs 1] [--dim 100]

SkipGramNS looks its vectors up with F.embedding(..., sparse=True) on plain parameters, so its
gradients are torch.sparse_coo tensors holding only the rows a batch touched. DDP decides from the
module type which parameters may have sparse gradients (only nn.Embedding / nn.EmbeddingBag with
sparse=True); for any other parameter its reducer copies the gradient into a dense bucket, which
fails on a sparse tensor ("Cannot access storage of SparseTensorImpl"). So, under DDP:

  dense      lookups with dense gradients: DDP all-reduces the whole (V+1, d) and (V, d) matrices
             every step, however few rows the batch touched (what DDP does by default);
  sparse     the same parameters held by nn.Embedding(sparse=True) modules: DDP then all-reduces
             them as sparse tensors (gloo only; NCCL has no sparse all-reduce).

Each configuration runs `--epochs` over the corpus (each rank its own share of the batches: rank r
takes batches r, r + N, ...), and reports ms per step, the all-reduce alone (timed separately on
the same buffers) and words/s over all ranks. 1-process runs without DDP are the reference.
The harness below wraps SkipGramNS's two parameters for DDP; the model itself is models/skipgram.py.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def corpus_path():
    for base in (os.path.join(ROOT, "..", "shared"), "/work/shared"):
        p = os.path.join(base, "data", "lee_background.cor")
        if os.path.exists(p):
            return p
    raise SystemExit("lee_background.cor not found in ../shared/data or /work/shared/data")


def worker(mode, epochs, dim):
    import numpy as np
    import torch
    import torch.distributed as dist
    from models.skipgram import PairBatches, SkipGramNS
    from models.text import Vocab, read_sentences

    torch.set_num_threads(1)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    sents = read_sentences(corpus_path())
    vocab = Vocab.build(sents, min_count=5)
    ids, sent = vocab.encode(sents)
    model = SkipGramNS(vocab, dim=dim, backend="torch")
    F = torch.nn.functional

    class Lookups:          # the backend with dense-gradient lookups (mode "dense")
        def __init__(self, bk):
            self._bk = bk

        def __getattr__(self, name):
            return getattr(self._bk, name)

        def sparse_embedding(self, w, idx, padding_idx=None):
            return F.embedding(self._bk.tensor(idx), w, padding_idx=padding_idx)

    class Params(torch.nn.Module):   # SkipGramNS's W_in, W_out as module parameters, for DDP
        def __init__(self, m, sparse):
            super().__init__()
            self.emb_in = torch.nn.Embedding(*m.W_in.shape, sparse=sparse, _weight=m.W_in.detach().clone())
            self.emb_out = torch.nn.Embedding(*m.W_out.shape, sparse=sparse, _weight=m.W_out.detach().clone())
            m.W_in, m.W_out = self.emb_in.weight, self.emb_out.weight
            self.m = [m]

        def forward(self, *batch, band):
            return self.m[0].loss(*batch, band=band)

    sparse = mode != "dense"
    if not sparse:
        model.bk = Lookups(model.bk)
    params = Params(model, sparse)
    step = torch.nn.parallel.DistributedDataParallel(params) if world > 1 else params
    opt = torch.optim.SGD(params.parameters(), lr=0.025)
    batches = PairBatches(ids, sent, vocab.counts, batch_size=512, pad=model.pad, rng=np.random.default_rng(1))
    n = words = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        for i, (ctx, targets, weight, _, n_c, _, band) in enumerate(batches.epoch()):
            if i % world != rank:
                continue
            loss = step(ctx, targets, weight, band=band)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += 1
            words += n_c
    wall = time.perf_counter() - t0
    # the all-reduce alone, on buffers like the ones DDP reduces
    ar_ms = float("nan")
    if world > 1:
        grads = [p.grad for p in params.parameters()]
        dense = [g.to_dense() if g.is_sparse else g for g in grads]
        for _ in range(3):
            dist.all_reduce(dense[0])
        t = time.perf_counter()
        reps = 10
        for _ in range(reps):
            for g in (grads if sparse else dense):
                dist.all_reduce(g.coalesce() if g.is_sparse else g)
        ar_ms = (time.perf_counter() - t) / reps * 1e3
    stats = torch.tensor([wall, n, words], dtype=torch.float64)
    if world > 1:
        dist.all_reduce(stats, op=dist.ReduceOp.MAX)  # the slowest rank's time; steps, words of that rank
        words_all = torch.tensor([float(words)], dtype=torch.float64)
        dist.all_reduce(words_all)
        words = float(words_all.item())
    if rank == 0:
        V, d = model.W_out.shape
        print(f"RESULT {mode} {world} {stats[0].item() / max(stats[1].item(), 1) * 1e3:.2f} {ar_ms:.2f} "
              f"{words / stats[0].item():.0f} {V} {d} {int(stats[1].item())}", flush=True)
    if world > 1:
        dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker, a.epochs, a.dim)
    import subprocess
    from models.distributed import launch  # noqa: F401  (the same launcher as --nproc)
    rows = {}
    for _ in range(a.rounds):
        for mode, nproc in (("sparse", 1), ("dense", 1), ("dense", a.nproc), ("sparse", a.nproc)):
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--epochs", str(a.epochs),
                   "--dim", str(a.dim)]
            if nproc > 1:
                cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
                       *cmd[1:]]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
            if line is None:
                print(out.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{mode} x{nproc} failed")
            _, m, w, ms, ar, wps, V, d, steps = line.split()
            rows.setdefault((m, int(w)), []).append((float(ms), float(ar), float(wps)))
            print(line, flush=True)
    V, d = int(V), int(d)
    mb = (2 * V + 1) * d * 4 / 1e6
    print(f"\nLee corpus, V = {V} words (min_count 5), d = {d}: the dense gradients are {mb:.2f} MB per step")
    print(f"{'gradients':10s} {'processes':>9s} {'ms/step':>8s} {'all-reduce ms':>14s} {'words/s':>9s}  (best of {a.rounds})")
    for (m, w), r in rows.items():
        best = min(r)
        print(f"{m:10s} {w:9d} {best[0]:8.2f} {best[1]:14.2f} {max(x[2] for x in r):9.0f}")


if __name__ == "__main__":
    main()
