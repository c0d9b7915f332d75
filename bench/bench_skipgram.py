"""Skip-gram (negative sampling) benchmarks: speed (effective words/s on one core) and quality.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_skipgram.py --what speed
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_skipgram.py --what quality

speed:   one epoch of SGNS (dim 100, window 5, negative 5, min_count 5, sample 1e-3) on
         ../shared/data/head500.noblanks.cor (or the embedded pydoc text when absent), counting
         effective (post-subsampling) centre words per second; then the same model and the same
         batches written with PyTorch autograd (sparse nn.Embedding + torch.optim.SGD,
         torch.set_num_threads(1)) as a peer.
quality: head500 10 epochs -> Spearman vs wordsim353.tsv (target >= 0.53; gensim 0.566 +- 0.007),
         also SimLex-999 and the Google analogies; lee_background 20 epochs -> rank of 'bombings'
         among the neighbours of 'attacks' (target: top 50).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.skipgram import PairBatches, train_sgns  # noqa: E402
from models.text import Vocab, default_corpus, read_sentences  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
HP = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-3)


def corpus(name):
    path = DATA / name
    if path.exists():
        return read_sentences(str(path)), str(path)
    return default_corpus(), "pydoc_data.topics (embedded; shared data not found)"


def speed_ours(sentences, epochs=1, batch_size=512):
    _, stats = train_sgns(sentences, epochs=epochs, batch_size=batch_size, progress=False, **HP)
    return stats


def speed_torch(sentences, epochs=1, batch_size=512, seed=0):
    """The same SGNS (same batches, same loss) with PyTorch autograd on one thread."""
    import torch
    torch.set_num_threads(1)
    vocab = Vocab.build(sentences, min_count=HP["min_count"])
    ids, sent = vocab.encode(sentences)
    V, d = len(vocab), HP["dim"]
    rng = np.random.default_rng(seed)
    w_in = np.zeros((V + 1, d), np.float32)
    w_in[:V] = (rng.random((V, d), dtype=np.float32) - 0.5) / d
    emb_in = torch.nn.Embedding(V + 1, d, sparse=True, padding_idx=V)
    emb_out = torch.nn.Embedding(V, d, sparse=True)
    with torch.no_grad():
        emb_in.weight.copy_(torch.from_numpy(w_in))
        emb_out.weight.zero_()
    opt = torch.optim.SGD(list(emb_in.parameters()) + list(emb_out.parameters()), lr=0.025)
    batches = PairBatches(ids, sent, vocab.counts, window=HP["window"], negative=HP["negative"],
                          sample=HP["sample"], batch_size=batch_size, pad=V, rng=np.random.default_rng(seed + 1))
    sign = torch.tensor([1.0] + [-1.0] * HP["negative"])
    N, words, t0, c0 = len(ids), 0, time.perf_counter(), time.process_time()
    for ep in range(epochs):
        for ctx, targets, weight, n_raw, n_c, n_p, band in batches.epoch():
            for g in opt.param_groups:
                g["lr"] = 0.025 * max(1.0 - (ep * N + n_raw) / (epochs * N + 1), 1e-4)
            x = emb_in(torch.from_numpy(ctx))
            y = emb_out(torch.from_numpy(targets))
            s = x @ y.transpose(1, 2)
            loss = -(torch.nn.functional.logsigmoid(s * sign) * torch.from_numpy(weight)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            words += n_c
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"words_per_sec": words / wall, "wall_time": wall, "effective_words": words, "cpu_time": cpu,
            "words_per_cpu_sec": words / cpu}


def neighbour_rank(wv, word, target, topn=200):
    names = [w for w, _ in wv.most_similar(word, topn=topn)]
    return names.index(target) + 1 if target in names else None


def quality(args):
    out = {}
    sents, src = corpus("head500.noblanks.cor")
    model, stats = train_sgns(sents, epochs=10, batch_size=args.batch_size, progress=not args.quiet, seed=args.seed,
                              **HP)
    wv = model.wv
    r = {"corpus": src, "epochs": 10, "words_per_sec": stats["words_per_sec"], "wall_time": stats["wall_time"],
         "final_loss": stats["final_loss"]}
    for name in ("wordsim353.tsv", "simlex999.txt"):
        if (DATA / name).exists():
            r[name] = wv.evaluate_word_pairs(str(DATA / name))
    if (DATA / "questions-words.txt").exists():
        a = wv.evaluate_analogies(str(DATA / "questions-words.txt"))
        r["analogies"] = {k: a[k] for k in ("accuracy", "correct", "total", "skipped")}
    out["head500"] = r
    print(json.dumps(r, indent=1, default=float), flush=True)

    sents, src = corpus("lee_background.cor")
    model, stats = train_sgns(sents, epochs=20, batch_size=args.batch_size, progress=not args.quiet, seed=args.seed,
                              **HP)
    wv = model.wv
    r = {"corpus": src, "epochs": 20, "words_per_sec": stats["words_per_sec"], "wall_time": stats["wall_time"]}
    if "attacks" in wv and "bombings" in wv:
        r["rank_of_bombings_near_attacks"] = neighbour_rank(wv, "attacks", "bombings")
        r["top10_attacks"] = [w for w, _ in wv.most_similar("attacks", topn=10)]
    out["lee"] = r
    print(json.dumps(r, indent=1, default=float), flush=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", choices=["speed", "quality", "all"], default="speed")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--epochs", type=int, default=1, help="epochs for the speed run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--json", default=None, help="write results here")
    args = p.parse_args(argv)
    results = {}
    if args.what in ("speed", "all"):
        sents, src = corpus("head500.noblanks.cor")
        print(f"speed: {src}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}", flush=True)
        ours = speed_ours(sents, args.epochs, args.batch_size)
        print(f"tinygrad_lite SGNS: {ours['words_per_sec']:,.0f} effective words/s "
              f"[{ours['words_per_cpu_sec']:,.0f} per CPU-second] "
              f"({ours['pairs_per_sec']:,.0f} pairs/s, {ours['effective_words']} words in {ours['wall_time']:.1f} s, "
              f"batch {args.batch_size} centres)", flush=True)
        results["ours"] = ours
        if not args.no_torch:
            try:
                peer = speed_torch(sents, args.epochs, args.batch_size)
                print(f"PyTorch autograd peer (same batches, 1 thread): {peer['words_per_sec']:,.0f} effective "
                      f"words/s [{peer['words_per_cpu_sec']:,.0f} per CPU-second]", flush=True)
                results["torch"] = peer
            except ImportError:
                print("torch not installed: peer skipped")
    if args.what in ("quality", "all"):
        results["quality"] = quality(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)
    return results


if __name__ == "__main__":
    main()
