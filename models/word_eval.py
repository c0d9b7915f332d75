"""Evaluation of word vectors: word-pair similarity (WordSim-353 / SimLex-999 format) and analogies
(Google `questions-words.txt` format), following gensim's conventions, with numpy only.

The vectors are anything with `words` (list[str]), `index` (dict word -> row) and `vectors`
(float array (V, d), rows ordered most frequent first), e.g. `models.skipgram.WordVectors`.
"""
import numpy as np


def rankdata(x):
    """Ranks 1..n of the values in x (shape (n,)), ties given the average of their ranks.

    rankdata([10, 20, 20, 30]) -> [1, 2.5, 2.5, 4]. Returns float64 (n,)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # groups of equal values in sorted order: [start, end) runs
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], n]
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def pearson(x, y):
    """Pearson correlation of two (n,) arrays (nan if either is constant)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean()
    y = y - y.mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else float("nan")


def spearman(x, y):
    """Spearman rank correlation of two (n,) arrays: Pearson correlation of their ranks, ties
    ranked by average rank (as scipy.stats.spearmanr)."""
    if len(x) != len(y):
        raise ValueError(f"spearman: lengths differ ({len(x)} and {len(y)})")
    if len(x) < 2:
        raise ValueError("spearman: need at least 2 pairs")
    return pearson(rankdata(x), rankdata(y))


def _float(x):
    try:
        return float(x)
    except ValueError:
        return None


def _fields(line, delimiter):
    """Split a data line: on `delimiter` (tab), else whitespace, else commas (WordSim's combined.csv)."""
    for parts in (line.split(delimiter), line.split(), line.split(",")):
        parts = [p.strip() for p in parts]
        if len(parts) >= 3:
            return parts
    return None


def read_word_pairs(path, delimiter="\t", lower=True, score_column=None):
    """Read a word-pair similarity file -> list of (word1, word2, score).

    Layouts: WordSim-353 `word1<TAB>word2<TAB>score` (also whitespace- or comma-separated) and the
    original SimLex-999 file `word1 word2 POS SimLex999 conc(w1) ...` (score in the fourth column).
    `score_column` (0-based) picks the score column; by default it is detected from the first data
    line as the first numeric column after the two words (column 2, or 3 when column 2 is a POS tag
    such as SimLex's 'A'/'N'/'V'). '#' lines are comments; lines whose score column is not a number
    (a header such as SimLex's `word1 word2 POS SimLex999 ...`) or with too few fields are skipped
    (as gensim does)."""
    pairs = []
    col = score_column
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            parts = _fields(line.rstrip("\n"), delimiter)
            if parts is None:
                continue
            if col is None:
                numeric = [i for i in range(2, len(parts)) if _float(parts[i]) is not None]
                if not numeric:
                    continue  # a header line: decide on the first data line
                col = numeric[0]
            score = _float(parts[col]) if col < len(parts) else None
            if score is None:
                continue  # a header line
            a, b = parts[0], parts[1]
            if lower:
                a, b = a.lower(), b.lower()
            pairs.append((a, b, score))
    return pairs


def _unit_rows(vectors):
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def evaluate_word_pairs(wv, path, restrict_vocab=300000, lower=True, score_column=None):
    """Correlate model cosine similarities with human scores on a WordSim-353/SimLex-999 file
    (layouts and `score_column` as in `read_word_pairs`).

    Pairs with a word outside the `restrict_vocab` most frequent words are skipped (and counted
    as out-of-vocabulary). Returns dict: spearman, pearson, oov_ratio (percent of pairs skipped),
    n_pairs (used), n_oov."""
    pairs = read_word_pairs(path, lower=lower, score_column=score_column)
    if not pairs:
        raise ValueError(f"evaluate_word_pairs: no word pairs found in {path}")
    index = wv.index
    ia, ib, human = [], [], []
    oov = 0
    for a, b, s in pairs:
        ra, rb = index.get(a), index.get(b)
        if ra is None or rb is None or ra >= restrict_vocab or rb >= restrict_vocab:
            oov += 1
            continue
        ia.append(ra)
        ib.append(rb)
        human.append(s)
    result = {"n_pairs": len(human), "n_oov": oov, "oov_ratio": 100.0 * oov / len(pairs)}
    if len(human) < 2:
        result.update(spearman=float("nan"), pearson=float("nan"))
        return result
    unit = _unit_rows(wv.vectors)
    model = (unit[ia] * unit[ib]).sum(1)
    result.update(spearman=spearman(model, human), pearson=pearson(model, human))
    return result


def read_analogies(path, lower=True):
    """Read a Google analogy file: `: section` headers, then lines `a b c d` (a:b :: c:d).

    Returns list of (section_name, [(a, b, c, d), ...])."""
    sections = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith(":"):
                sections.append((line[1:].strip(), []))
                continue
            words = line.lower().split() if lower else line.split()
            if len(words) != 4:
                continue
            if not sections:
                sections.append(("(unnamed)", []))
            sections[-1][1].append(tuple(words))
    return sections


def evaluate_analogies(wv, path, restrict_vocab=30000, lower=True, chunk=2048):
    """Accuracy on an analogy file (a:b :: c:?), answering with the word closest in cosine to
    unit(b) - unit(a) + unit(c) among the `restrict_vocab` most frequent words, excluding a, b, c
    (gensim's evaluate_word_analogies). Questions with a word outside that vocabulary are skipped.

    Returns dict: accuracy (overall, over answered questions), correct, total, skipped,
    sections: list of {section, correct, total, accuracy}."""
    sections = read_analogies(path, lower=lower)
    if not sections:
        raise ValueError(f"evaluate_analogies: no analogy questions found in {path}")
    index = wv.index
    n = min(restrict_vocab, len(wv.words))
    unit = _unit_rows(np.asarray(wv.vectors)[:n])
    out_sections, all_correct, all_total, skipped = [], 0, 0, 0
    for name, questions in sections:
        rows = []
        for q in questions:
            ids = [index.get(w) for w in q]
            if any(i is None or i >= n for i in ids):
                skipped += 1
                continue
            rows.append(ids)
        correct = 0
        if rows:
            ids = np.asarray(rows, dtype=np.int64)  # (m, 4)
            for s in range(0, len(ids), chunk):
                q = ids[s:s + chunk]
                query = unit[q[:, 1]] - unit[q[:, 0]] + unit[q[:, 2]]
                scores = query @ unit.T  # (m, n); normalising query does not change the argmax
                r = np.arange(len(q))
                for j in range(3):
                    scores[r, q[:, j]] = -np.inf
                correct += int((scores.argmax(1) == q[:, 3]).sum())
        total = len(rows)
        all_correct += correct
        all_total += total
        out_sections.append({"section": name, "correct": correct, "total": total,
                             "accuracy": correct / total if total else float("nan")})
    return {"accuracy": all_correct / all_total if all_total else float("nan"), "correct": all_correct,
            "total": all_total, "skipped": skipped, "sections": out_sections}
