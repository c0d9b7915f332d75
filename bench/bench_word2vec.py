"""word2vec architectures x objectives on head500: quality and speed against gensim's own runs.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_word2vec.py [--modes skipgram:hs,cbow:negative]
        [--epochs 10] [--seed 0 | --seeds 0,1,2] [--speed-rounds 5 [--speed-epochs 1]] [--no-quality]
        [--json out.json]

For each mode (arch:loss) it trains ours (models.word2vec_objectives.train_word2vec) and, for the
modes gensim has (skip-gram / CBOW with negative sampling or hierarchical softmax), gensim's
Word2Vec with the same settings (dim 100, window 5, min_count 5, sample 1e-3, negative 5, lr 0.025
decaying linearly, 1 worker thread), one after the other in this process, and evaluates both with
the same code (models.word_eval): Spearman vs WordSim-353 and SimLex-999, accuracy on the Google
analogies (top-30k vocabulary). Speed: effective (post-subsampling) words per second of wall time
of the training call, each mode against gensim's same mode (ratio ours/gensim). With --seeds the
quality runs repeat per seed and a mean ± std table follows; --speed-rounds N then times both again
in N interleaved rounds per mode (ours and gensim alternate, so a shared machine's load hits both
alike) and prints the median ratio.
gensim is optional (pip install -e '.[bench]'); without it only our rows are printed.
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

from models.skipgram import WordVectors  # noqa: E402
from models.text import read_sentences  # noqa: E402
from models.word2vec_objectives import train_word2vec  # noqa: E402


def shared_data():
    for d in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if d.is_dir():
            return d
    raise SystemExit("bench_word2vec: ../shared/data not found (head500.noblanks.cor and the eval files)")


HP = dict(dim=100, window=5, min_count=5, sample=1e-3)
ALL_MODES = ["skipgram:negative", "skipgram:hs", "cbow:negative", "cbow:hs", "skipgram:contrastive",
             "cbow:contrastive", "cbow:softmax", "skipgram:softmax"]


def evaluate(wv, data):
    ws = wv.evaluate_word_pairs(str(data / "wordsim353.tsv"))
    sl = wv.evaluate_word_pairs(str(data / "simlex999.txt"))
    an = wv.evaluate_analogies(str(data / "questions-words.txt"))
    return {"wordsim353": ws["spearman"], "simlex999": sl["spearman"], "analogies": an["accuracy"],
            "analogies_correct": an["correct"], "analogies_total": an["total"]}


def run_ours(sentences, arch, loss, epochs, seed):
    model, st = train_word2vec(sentences, arch=arch, loss=loss, epochs=epochs, seed=seed, progress=False, **HP)
    return model.wv, {"words_per_sec": st["words_per_sec"], "wall": st["wall_time"], "words": st["effective_words"],
                      "words_per_cpu_sec": st["words_per_cpu_sec"]}


def run_gensim(sentences, arch, loss, epochs, seed):
    from gensim.models import Word2Vec as GensimW2V
    m = GensimW2V(vector_size=HP["dim"], window=HP["window"], min_count=HP["min_count"], sample=HP["sample"],
                  sg=1 if arch == "skipgram" else 0, hs=1 if loss == "hs" else 0,
                  negative=5 if loss == "negative" else 0, workers=1, seed=seed, alpha=0.025, min_alpha=0.025 * 1e-4)
    m.build_vocab(sentences)
    t0, c0 = time.perf_counter(), time.process_time()
    eff, _ = m.train(sentences, total_examples=m.corpus_count, epochs=epochs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    wv = WordVectors(list(m.wv.index_to_key), m.wv.vectors, [m.wv.get_vecattr(w, "count") for w in m.wv.index_to_key])
    return wv, {"words_per_sec": eff / wall, "wall": wall, "words": int(eff), "words_per_cpu_sec": eff / max(cpu, 1e-9)}


def _mean_std(xs):
    xs = np.asarray(xs, np.float64)
    return f"{xs.mean():.3f} ± {xs.std(ddof=1) if len(xs) > 1 else 0.0:.3f}"


def speed_rounds(sentences, modes, rounds, epochs):
    """Words/s of ours and gensim's same mode, interleaved: each round trains both for `epochs`, ours
    first in even rounds and gensim first in odd ones, so both see the same load on a shared machine.
    Prints one row per mode: the median (min-max) of the per-round ratios, wall and per CPU-second."""
    print(f"\nSpeed, interleaved: {rounds} rounds of {epochs} epoch(s) each, ours and gensim alternating")
    print("| mode | ours words/s (median) | gensim words/s (median) | ratio wall: median (min-max) | "
          "ratio per CPU-s: median (min-max) |")
    print("|---|---:|---:|---:|---:|")
    for mode in modes:
        arch, loss = mode.split(":")
        ours, theirs = [], []
        for r in range(rounds):
            order = (run_ours, run_gensim) if r % 2 == 0 else (run_gensim, run_ours)
            res = {}
            for fn in order:
                res[fn] = fn(sentences, arch, loss, epochs, r)[1]
            ours.append(res[run_ours])
            theirs.append(res[run_gensim])
        wall = [a["words_per_sec"] / b["words_per_sec"] for a, b in zip(ours, theirs)]
        cpu = [a["words_per_cpu_sec"] / b["words_per_cpu_sec"] for a, b in zip(ours, theirs)]
        print(f"| {arch}+{loss} | {np.median([a['words_per_sec'] for a in ours]):,.0f} | "
              f"{np.median([b['words_per_sec'] for b in theirs]):,.0f} | **{np.median(wall):.2f}x** "
              f"({min(wall):.2f}-{max(wall):.2f}) | {np.median(cpu):.2f}x ({min(cpu):.2f}-{max(cpu):.2f}) |", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--modes", default=",".join(ALL_MODES), help="comma-separated arch:loss")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--softmax-epochs", type=int, default=None, help="epochs for skipgram:softmax (default --epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default=None, help="comma-separated seeds: quality of each, then mean ± std per mode "
                                                  "(default: --seed alone)")
    p.add_argument("--speed-rounds", type=int, default=0,
                   help="after the quality runs, this many interleaved speed rounds per mode with a gensim peer")
    p.add_argument("--speed-epochs", type=int, default=1, help="epochs per speed round (default 1)")
    p.add_argument("--no-quality", action="store_true", help="only the speed rounds")
    p.add_argument("--no-gensim", action="store_true")
    p.add_argument("--json", default=None, help="append the rows (JSON lines) to this file")
    p.add_argument("--neighbours", default=None, metavar="W1,W2",
                   help="also print the 8 nearest words of these words for every row")
    args = p.parse_args(argv)
    data = shared_data()
    sentences = read_sentences(str(data / "head500.noblanks.cor"))
    try:
        import gensim  # noqa: F401
        have_gensim = not args.no_gensim
    except ImportError:
        have_gensim = False
        print("gensim is not installed (pip install -e '.[bench]'): printing our rows only", file=sys.stderr)
    modes = args.modes.split(",")
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    quality = {}  # (mode, who) -> list of WordSim-353 / SimLex-999 / analogies per seed
    if not args.no_quality:
        print("| mode | who | seed | WordSim-353 | SimLex-999 | analogies | words/s | ratio | words/CPU-s | ratio | wall s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode, seed in [(m, sd) for m in modes for sd in seeds] if not args.no_quality else []:
        arch, loss = mode.split(":")
        epochs = args.softmax_epochs if (loss == "softmax" and arch == "skipgram" and args.softmax_epochs) else args.epochs
        rows = []
        wv, sp = run_ours(sentences, arch, loss, epochs, seed)
        rows.append(("tinygrad_lite", evaluate(wv, data), sp))
        wvs = {"tinygrad_lite": wv}
        if have_gensim and loss in ("negative", "hs"):
            gwv, gsp = run_gensim(sentences, arch, loss, epochs, seed)
            rows.append(("gensim", evaluate(gwv, data), gsp))
            wvs["gensim"] = gwv
        g = rows[1][2] if len(rows) > 1 else None
        for who, q, sp in rows:
            ratio = f"{sp['words_per_sec'] / g['words_per_sec']:.2f}x" if g else "-"
            cratio = f"{sp['words_per_cpu_sec'] / g['words_per_cpu_sec']:.2f}x" if g else "-"
            quality.setdefault((mode, who), []).append(q)
            print(f"| {arch}+{loss} ({epochs} ep) | {who} | {seed} | {q['wordsim353']:.3f} | {q['simlex999']:.3f} | "
                  f"{100 * q['analogies']:.1f}% | {sp['words_per_sec']:,.0f} | {ratio} | {sp['words_per_cpu_sec']:,.0f} | "
                  f"{cratio} | {sp['wall']:.1f} |", flush=True)
            if args.neighbours:
                for w in args.neighbours.split(","):
                    if w in wvs[who]:
                        nb = ", ".join(f"{x} {c:.2f}" for x, c in wvs[who].most_similar(w, topn=8))
                        print(f"    {arch}+{loss} {who}: {w}: {nb}", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps({"mode": mode, "epochs": epochs, "who": who, "seed": seed, **q, **sp,
                                        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}) + "\n")

    if len(seeds) > 1 and quality:
        print(f"\nQuality over seeds {seeds} (mean ± sample std):")
        print("| mode | who | WordSim-353 | SimLex-999 | analogies |")
        print("|---|---|---:|---:|---:|")
        for (mode, who), qs in quality.items():
            print(f"| {mode} | {who} | {_mean_std([q['wordsim353'] for q in qs])} | "
                  f"{_mean_std([q['simlex999'] for q in qs])} | {_mean_std([100 * q['analogies'] for q in qs])}% |")
    if args.speed_rounds and have_gensim:
        speed_rounds(sentences, [m for m in modes if m.split(":")[1] in ("negative", "hs")], args.speed_rounds,
                     args.speed_epochs)


if __name__ == "__main__":
    main()
