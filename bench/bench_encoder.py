"""Sentence encoder benchmark: models/encoder.py (tinygrad_lite) against sentence-transformers on
PyTorch, the same all-MiniLM-L6-v2 weights, the same sentences, the same batch size, one thread,
in one process.

    python bench/bench_encoder.py --what speed [--repeats 5] [--batch-size 32]   # sentences/s, ratio
    python bench/bench_encoder.py --what memory [--n 10000]        # peak RSS: encode(1,000) vs encode(10,000)
    python bench/bench_encoder.py --what profile                                 # where our time goes
    python bench/bench_encoder.py --what speed --scipy-erf   # projection with the perf branch's fast erf

Speed: the sentences are the sections of Python's help topics (titles and first paragraphs, ~340
sentences, 4 to 256 word pieces). Each repeat encodes all of them with ours, then with
sentence-transformers (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1 for numpy), alternating
which goes first; the median per framework is reported, and the ratio ours / PyTorch time.
Both sort by length and pad per batch. The cosine agreement of the two outputs is printed too.
"""
import argparse
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def sentences():
    from models.search import pydoc_documents
    docs = pydoc_documents()
    return [d["title"] for d in docs] + [d["text"] for d in docs]


def use_scipy_erf():
    """Projection only: swap the engine's erf kernel (used by F.gelu) for scipy.special.erf, as the
    perf branch does, to see the ratio once that lands. Models and the public API are unchanged."""
    import scipy.special

    from tinygrad_lite.ops import special
    special.erf_np = lambda x: scipy.special.erf(x)


def speed(args):
    import torch
    if args.scipy_erf:
        use_scipy_erf()
        print("(engine erf replaced by scipy.special.erf for this run)")
    from sentence_transformers import SentenceTransformer

    from models.encoder import SentenceEncoder
    from models.progress import limit_blas_threads, reuse_freed_memory
    torch.set_num_threads(1)
    reuse_freed_memory()
    sents = sentences()
    ours = SentenceEncoder.from_pretrained()
    st = SentenceTransformer(ours.source, device="cpu")
    n_tok = sum(len(x) for x in ours.tokenize(sents))
    print(f"{len(sents)} sentences, {n_tok} word pieces, batch size {args.batch_size}, one thread each")
    times = {"tinygrad_lite": [], "sentence-transformers": []}

    def run_ours():
        return ours.encode(sents, batch_size=args.batch_size)

    def run_st():
        with torch.inference_mode():
            return st.encode(sents, batch_size=args.batch_size, convert_to_numpy=True, normalize_embeddings=True)
    with limit_blas_threads(1):
        a, b = run_ours(), run_st()                                  # warm-up, and the agreement check
        cos = (a * b).sum(1)
        print(f"cosine ours vs sentence-transformers: min {cos.min():.7f}, mean {cos.mean():.7f}")
        for r in range(args.repeats):
            pair = [("tinygrad_lite", run_ours), ("sentence-transformers", run_st)]
            for name, fn in (pair if r % 2 == 0 else pair[::-1]):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:>22}: {v:6.2f} s  ({len(sents) / v:6.1f} sentences/s)   runs: "
              + " ".join(f"{t:.2f}" for t in times[k]))
    print(f"ratio ours / PyTorch time: {med['tinygrad_lite'] / med['sentence-transformers']:.2f}x "
          f"(target <= 1.5x)")


def memory(args):
    from models.encoder import SentenceEncoder
    from models.progress import limit_blas_threads
    from models.search import pydoc_documents
    if args.scipy_erf:
        use_scipy_erf()
    base = [d["title"] for d in pydoc_documents()]
    sents = [f"{base[i % len(base)]} ({i})" for i in range(args.n)]       # short: 10,000 in minutes
    model = SentenceEncoder.from_pretrained()

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with limit_blas_threads(1):
        model.encode(sents[:100], batch_size=args.batch_size)              # allocator warm
        start = peak()
        t0 = time.perf_counter()
        model.encode(sents[:1000], batch_size=args.batch_size)
        small, t1 = peak(), time.perf_counter()
        out = model.encode(sents, batch_size=args.batch_size)
        big, t2 = peak(), time.perf_counter()
    print(f"peak RSS: {start:.0f} MiB after loading; {small:.0f} MiB after encode(1,000 sentences) "
          f"({t1 - t0:.0f} s); {big:.0f} MiB after encode({args.n:,} sentences) ({t2 - t1:.0f} s)")
    print(f"growth from 1,000 to {args.n:,} sentences: {big - small:.0f} MiB "
          f"(the output array alone is {out.nbytes / 2**20:.0f} MiB)")


def profile(args):
    import cProfile
    import pstats

    from models.encoder import SentenceEncoder
    from models.progress import limit_blas_threads
    sents = sentences()
    model = SentenceEncoder.from_pretrained()
    with limit_blas_threads(1):
        model.encode(sents[:64])
        pr = cProfile.Profile()
        pr.enable()
        model.encode(sents, batch_size=args.batch_size)
        pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(15)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", choices=("speed", "memory", "profile"), default="speed")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n", type=int, default=10000, help="sentences for --what memory")
    p.add_argument("--scipy-erf", action="store_true", help="projection: engine erf -> scipy.special.erf")
    args = p.parse_args()
    {"speed": speed, "memory": memory, "profile": profile}[args.what](args)


if __name__ == "__main__":
    main()
