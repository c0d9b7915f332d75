"""Helpers of `tinygrad-lite similar`: analogy expressions and indexed neighbour search."""
from models.ann import INDEX_KINDS, build_index

__all__ = ["parse_analogy", "neighbours", "INDEX_KINDS"]


def parse_analogy(tokens):
    """Analogy arguments -> (positive words, negative words), as gensim's most_similar takes them.

    Two forms: an expression 'king - man + woman' (words joined by + and -, the first word
    positive; the tokens may also come as one string) or three words 'A B C' meaning A is to B as
    C is to ? (B - A + C). Raises ValueError saying what was expected."""
    toks = [t for tok in tokens for t in str(tok).replace("+", " + ").replace(" -", " - ").split()]
    if not toks:
        raise ValueError("--analogy: give 'A B C' (A is to B as C is to ?) or an expression like 'king - man + woman'")
    if "+" not in toks and "-" not in toks:
        if len(toks) != 3:
            raise ValueError(f"--analogy: expected three words A B C or an expression with + and -, got {toks}")
        a, b, c = toks
        return [b, c], [a]
    pos, neg, sign, expect_word = [], [], +1, True
    for t in toks:
        if t in ("+", "-"):
            if expect_word and (pos or neg):
                raise ValueError(f"--analogy: two operators in a row in {' '.join(toks)!r}")
            sign = +1 if t == "+" else -1
            expect_word = True
            continue
        if not expect_word:
            raise ValueError(f"--analogy: missing + or - before {t!r} in {' '.join(toks)!r}")
        (pos if sign > 0 else neg).append(t)
        expect_word = False
    if expect_word:
        raise ValueError(f"--analogy: expression {' '.join(toks)!r} ends with an operator")
    return pos, neg


_INDEXES = {}


def neighbours(kv, word, topn=10, index="exact"):
    """Nearest words of `word` in WordVectors `kv` by cosine, searched with index kind `index`
    (exact / lsh / hnsw, built once per vectors object). Returns [(word, cosine)], best first."""
    if index == "exact":
        return kv.most_similar(word, topn=topn)
    key = (id(kv), index)
    if key not in _INDEXES:
        _INDEXES[key] = build_index(kv.vectors, index)
    ids, sims = _INDEXES[key].search(kv.unit[kv.index[word]], k=topn + 1)
    return [(kv.words[i], float(s)) for i, s in zip(ids[0], sims[0]) if kv.words[i] != word][:topn]
