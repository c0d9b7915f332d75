"""How the contrastive (InfoNCE on cosine) loss's neighbours differ from negative sampling's, on head500.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/word2vec_neighbours.py [--epochs 3] [--words king,car,music]

Trains skip-gram with negative sampling and with the contrastive loss (same corpus, settings and
seed), prints the 8 nearest words of a few words under each, and measures over 200 query words
(frequency ranks 50-249) and their 10 nearest neighbours:
  overlap      mean Jaccard overlap of the two models' neighbour sets;
  co-occur     fraction of neighbours seen within 5 words of the query at least 3 times in the corpus
               (neighbours that are *used together* with the word: topical / syntagmatic);
  freq rank    median frequency rank of the neighbours (are they frequent words?);
  cosine       mean cosine of the 10 neighbours (how tight the neighbourhoods are).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_word2vec import shared_data  # noqa: E402
from models.text import read_sentences  # noqa: E402
from models.word2vec_objectives import train_word2vec  # noqa: E402


def cooccurrences(sentences, vocab_index, window=5):
    pairs = Counter()
    for s in sentences:
        ids = [vocab_index.get(w, -1) for w in s]
        for i, a in enumerate(ids):
            if a < 0:
                continue
            for b in ids[i + 1:i + 1 + window]:
                if b >= 0 and b != a:
                    pairs[(min(a, b), max(a, b))] += 1
    return pairs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--words", default="king,queen,car,music,war,river,french,computer")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    sentences = read_sentences(str(shared_data() / "head500.noblanks.cor"))
    wvs = {}
    for loss in ("negative", "contrastive"):
        model, st = train_word2vec(sentences, loss=loss, epochs=args.epochs, seed=args.seed, progress=False)
        wvs[loss] = model.wv
        print(f"skipgram+{loss}: {args.epochs} epochs, {st['wall_time']:.0f} s", flush=True)
    wv = wvs["negative"]
    co = cooccurrences(sentences, wv.index)
    for w in args.words.split(","):
        if w not in wv:
            continue
        for loss in wvs:
            nb = ", ".join(f"{x} {c:.2f}" for x, c in wvs[loss].most_similar(w, topn=8))
            print(f"| {w} | {loss} | {nb} |")
    queries = wv.words[50:250]
    stats = {loss: {"co": [], "rank": [], "cos": []} for loss in wvs}
    overlap = []
    for q in queries:
        sets = {}
        for loss, v in wvs.items():
            nb = v.most_similar(q, topn=10)
            sets[loss] = {x for x, _ in nb}
            a = wv.index[q]
            stats[loss]["co"].append(np.mean([co.get((min(a, wv.index[x]), max(a, wv.index[x])), 0) >= 3
                                              for x, _ in nb]))
            stats[loss]["rank"].extend(wv.index[x] for x, _ in nb)
            stats[loss]["cos"].append(np.mean([c for _, c in nb]))
        overlap.append(len(sets["negative"] & sets["contrastive"]) / len(sets["negative"] | sets["contrastive"]))
    print(f"\n200 query words (frequency ranks 50-249), 10 neighbours each; mean Jaccard overlap of the two "
          f"neighbour sets: {np.mean(overlap):.3f}")
    print("| loss | co-occur (>= 3 times within 5 words) | median freq rank of neighbours | mean cosine |")
    print("|---|---:|---:|---:|")
    for loss, s in stats.items():
        print(f"| {loss} | {np.mean(s['co']):.3f} | {np.median(s['rank']):.0f} | {np.mean(s['cos']):.3f} |")


if __name__ == "__main__":
    main()
