"""word2vec architectures x objectives on head500: quality and speed against gensim's own runs.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_word2vec.py [--modes skipgram:hs,cbow:negative]
        [--epochs 10] [--seed 0] [--json out.json]

For each mode (arch:loss) it trains ours (models.word2vec_objectives.train_word2vec) and, for the
modes gensim has (skip-gram / CBOW with negative sampling or hierarchical softmax), gensim's
Word2Vec with the same settings (dim 100, window 5, min_count 5, sample 1e-3, negative 5, lr 0.025
decaying linearly, 1 worker thread), one after the other in this process, and evaluates both with
the same code (models.word_eval): Spearman vs WordSim-353 and SimLex-999, accuracy on the Google
analogies (top-30k vocabulary). Speed: effective (post-subsampling) words per second of wall time
of the training call, each mode against gensim's same mode (ratio ours/gensim).
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--modes", default=",".join(ALL_MODES), help="comma-separated arch:loss")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--softmax-epochs", type=int, default=None, help="epochs for skipgram:softmax (default --epochs)")
    p.add_argument("--seed", type=int, default=0)
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
    print("| mode | who | WordSim-353 | SimLex-999 | analogies | words/s | ratio | words/CPU-s | ratio | wall s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in args.modes.split(","):
        arch, loss = mode.split(":")
        epochs = args.softmax_epochs if (loss == "softmax" and arch == "skipgram" and args.softmax_epochs) else args.epochs
        rows = []
        wv, sp = run_ours(sentences, arch, loss, epochs, args.seed)
        rows.append(("tinygrad_lite", evaluate(wv, data), sp))
        wvs = {"tinygrad_lite": wv}
        if have_gensim and loss in ("negative", "hs"):
            gwv, gsp = run_gensim(sentences, arch, loss, epochs, args.seed)
            rows.append(("gensim", evaluate(gwv, data), gsp))
            wvs["gensim"] = gwv
        g = rows[1][2] if len(rows) > 1 else None
        for who, q, sp in rows:
            ratio = f"{sp['words_per_sec'] / g['words_per_sec']:.2f}x" if g else "-"
            cratio = f"{sp['words_per_cpu_sec'] / g['words_per_cpu_sec']:.2f}x" if g else "-"
            print(f"| {arch}+{loss} ({epochs} ep) | {who} | {q['wordsim353']:.3f} | {q['simlex999']:.3f} | "
                  f"{100 * q['analogies']:.1f}% | {sp['words_per_sec']:,.0f} | {ratio} | {sp['words_per_cpu_sec']:,.0f} | "
                  f"{cratio} | {sp['wall']:.1f} |", flush=True)
            if args.neighbours:
                for w in args.neighbours.split(","):
                    if w in wvs[who]:
                        nb = ", ".join(f"{x} {c:.2f}" for x, c in wvs[who].most_similar(w, topn=8))
                        print(f"    {arch}+{loss} {who}: {w}: {nb}", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps({"mode": mode, "epochs": epochs, "who": who, "seed": args.seed, **q, **sp,
                                        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}) + "\n")


if __name__ == "__main__":
    main()
