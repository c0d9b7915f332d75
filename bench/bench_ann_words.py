"""Nearest-neighbour indexes (models/ann.py): recall@10 against exact search and queries per second.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_ann_words.py [--n 100000] [--dim 100] [--queries 1000]

Data: n vectors in `dim` dimensions drawn as a mixture of 1,000 Gaussian clusters (centres
N(0, I), each point = its centre + N(0, I): neighbours are close but not trivially so), like word vectors that form groups, and
`queries` more points from the same mixture (not in the index). Exact search is numpy
(unit vectors, one matrix product per block of 100 queries); lsh is faiss-cpu's IndexLSH
(random-hyperplane sign bits) with exact re-ranking of the best 10k candidates; hnsw is
hnswlib (M 16, ef_construction 100). One thread everywhere; queries are sent in blocks of 100.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.ann import build_index, recall_at_k  # noqa: E402


def mixture(n, dim, rng, clusters=1000, spread=1.0):
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    which = rng.integers(0, clusters, n)
    return centres[which] + spread * rng.standard_normal((n, dim)).astype(np.float32)


def timed_search(index, Q, k=10, block=100):
    ids = []
    t0 = time.perf_counter()
    for s in range(0, len(Q), block):
        ids.append(index.search(Q[s:s + block], k)[0])
    return np.concatenate(ids), len(Q) / (time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        import faiss
        faiss.omp_set_num_threads(1)
    except ImportError:
        pass
    rng = np.random.default_rng(args.seed)
    X = mixture(args.n + args.queries, args.dim, rng)
    X, Q = X[:args.n], X[args.n:]
    configs = [("exact", {}), ("lsh", dict(nbits=256, rerank=10)), ("lsh", dict(nbits=512, rerank=10)),
               ("lsh", dict(nbits=1024, rerank=10)), ("hnsw", dict(ef=50)), ("hnsw", dict(ef=100)),
               ("hnsw", dict(ef=200))]
    print(f"{args.n:,} vectors, dim {args.dim}, {args.queries} queries, k = 10, one thread")
    print("| index | parameters | build s | queries/s | recall@10 vs exact |")
    print("|---|---|---:|---:|---:|")
    truth = None
    built = {}
    for kind, params in configs:
        key = (kind, params.get("nbits"))
        t0 = time.perf_counter()
        if kind == "hnsw" and "hnsw" in built:  # ef is a search-time setting: reuse the graph
            index = built["hnsw"]
            index.index.set_ef(params["ef"])
            build = float("nan")
        else:
            index = build_index(X, kind, **params, **({"ef_construction": 100} if kind == "hnsw" else {}))
            build = time.perf_counter() - t0
            built[kind if kind == "hnsw" else key] = index
        ids, qps = timed_search(index, Q)
        if truth is None:
            truth = ids
        rec = recall_at_k(ids, truth)
        ps = ", ".join(f"{k} {v}" for k, v in params.items()) or "-"
        bs = "(same graph)" if build != build else f"{build:.1f}"
        print(f"| {kind} | {ps} | {bs} | {qps:,.0f} | {rec:.3f} |", flush=True)


if __name__ == "__main__":
    main()
