"""Approximate search (`--index hnsw`, faiss-cpu's HNSW graph) against exact cosine search
(models.search.ExactIndex: one matrix product), on >= 100k vectors of the encoder's 384 dims.

    python bench/bench_ann.py [--n 100000] [--queries 1000] [--ef 16 32 64 128]

Vectors: unit vectors from a mixture of 2,000 Gaussian clusters (sentence embeddings cluster by
topic; embedding 100k real sentences would take hours here), and the queries are fresh draws
from the same mixture. Also a uniform-on-the-sphere set, the hardest case for any graph index.
Recall@10 = the fraction of the exact top 10 that the approximate top 10 contains. Times: one
thread each (OPENBLAS_NUM_THREADS=1, faiss.omp_set_num_threads(1)), queries one at a time as
`tinygrad-lite search` sends them, and all at once (a batch).
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def clustered(n, d, rng, k=2000, spread=0.6):
    centres = rng.normal(size=(k, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    v = centres[rng.integers(0, k, n)] + spread * rng.normal(size=(n, d)) / np.sqrt(d)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def sphere(n, d, rng):
    v = rng.normal(size=(n, d))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def run(name, data, queries, efs):
    import faiss

    from models.search import ExactIndex, HnswIndex
    faiss.omp_set_num_threads(1)
    exact = ExactIndex(data)
    t0 = time.perf_counter()
    _, truth = exact.search(queries, 10)
    t_exact_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in queries[:100]:
        exact.search(q[None], 10)
    t_exact_one = (time.perf_counter() - t0) / 100
    t0 = time.perf_counter()
    hnsw = HnswIndex(data)
    build = time.perf_counter() - t0
    print(f"\n{name}: {len(data)} vectors x {data.shape[1]} dims, {len(queries)} queries; HNSW M=32 "
          f"efConstruction=80 built in {build:.1f} s")
    print(f"  exact: {1000 * t_exact_one:7.2f} ms/query one at a time, {1e6 * t_exact_batch / len(queries):7.1f} "
          f"us/query in a batch")
    for ef in efs:
        hnsw.index.hnsw.efSearch = ef
        t0 = time.perf_counter()
        _, approx = hnsw.search(queries, 10)
        t_batch = time.perf_counter() - t0
        t0 = time.perf_counter()
        for q in queries[:100]:
            hnsw.search(q[None], 10)
        t_one = (time.perf_counter() - t0) / 100
        recall = np.mean([len(set(a) & set(t)) / 10 for a, t in zip(approx, truth)])
        print(f"  hnsw efSearch={ef:4d}: recall@10 {recall:.3f}, {1000 * t_one:6.3f} ms/query one at a time "
              f"({t_exact_one / t_one:5.1f}x faster than exact), {1e6 * t_batch / len(queries):6.1f} us/query in a batch")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--ef", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    both = clustered(args.n + args.queries, args.dim, rng)
    run("clustered", both[:args.n], both[args.n:], args.ef)
    run("uniform sphere", sphere(args.n, args.dim, rng), sphere(args.queries, args.dim, rng), args.ef)


if __name__ == "__main__":
    main()
