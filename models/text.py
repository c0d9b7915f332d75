"""Plain-text helpers for the word models: tokenisation, a vocabulary with `min_count`, and the
embedded default corpus (the documentation topics that ship with Python's `pydoc_data` module).

Everything here is numpy/stdlib only; nothing needs a download.
"""
import re
from collections import Counter

import numpy as np

_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def tokenize(text, lower=True):
    """Split plain text into word tokens (letters, with inner apostrophes/hyphens kept).

    text: str -> list[str]. Digits and punctuation are dropped; lower-cased by default."""
    if lower:
        text = text.lower()
    return _TOKEN.findall(text)


def read_sentences(path, lower=True, max_sentence_len=10000, counts=None):
    """Read a UTF-8 text file into sentences: one sentence per non-empty line, each a list of tokens.

    Lines longer than `max_sentence_len` tokens are cut into pieces of that length (as word2vec
    does with its 10,000-word limit); with a dict `counts`, counts["long_lines"] says how many
    were cut. A file that is not UTF-8 text (a binary file, another encoding) is a ValueError
    naming the line, never silently mangled. Returns list[list[str]]."""
    sentences = []
    long_lines = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if b"\0" in raw:
                raise ValueError(f"{path}: line {number} holds a NUL byte: this looks like a binary file, not "
                                 "text (give a plain UTF-8 text file, one sentence per line)")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}: line {number} is not UTF-8 (byte 0x{raw[e.start]:02x} at column "
                                 f"{e.start + 1}); convert the file to UTF-8 first (e.g. iconv -f latin1 "
                                 "-t utf-8)") from None
            toks = tokenize(line, lower)
            long_lines += len(toks) > max_sentence_len
            for i in range(0, len(toks), max_sentence_len):
                sentences.append(toks[i:i + max_sentence_len])
    if counts is not None:
        counts["long_lines"] = long_lines
    return [s for s in sentences if s]


def default_corpus(lower=True):
    """The embedded default corpus: the stdlib's `pydoc_data.topics` (Python's reference docs,
    ~64k tokens, ~1.3k words with count >= 5), one sentence per non-empty line.

    Returns list[list[str]]; needs nothing outside the Python installation."""
    from pydoc_data.topics import topics
    sentences = []
    for key in sorted(topics):
        for line in topics[key].splitlines():
            toks = tokenize(line, lower)
            if toks:
                sentences.append(toks)
    return sentences


class Vocab:
    """Word <-> index mapping built from token counts, most frequent first.

    Vocab.build(sentences, min_count) keeps words seen at least `min_count` times (ties in count
    are broken by first appearance, so the order is deterministic). Attributes:
    `words` (list[str], length V), `counts` (int64 array (V,)), `index` (dict word -> id)."""

    def __init__(self, words, counts):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, sentences, min_count=5, max_size=None):
        """Count tokens in `sentences` (iterable of token lists) and keep the frequent ones.

        Raises ValueError for an empty corpus or when `min_count` leaves no word."""
        counter = Counter()
        n = 0
        for s in sentences:
            counter.update(s)
            n += len(s)
        if n == 0:
            raise ValueError("Vocab.build: the corpus is empty (no tokens found); give some text")
        items = [(w, c) for w, c in counter.items() if c >= min_count]
        if not items:
            top = counter.most_common(1)[0]
            raise ValueError(f"Vocab.build: min_count={min_count} leaves no word in the vocabulary "
                             f"({len(counter)} distinct words, the most frequent '{top[0]}' appears "
                             f"{top[1]} times); lower min_count or give more text")
        items.sort(key=lambda wc: -wc[1])  # stable: first appearance breaks ties
        if max_size is not None:
            items = items[:max_size]
        return cls([w for w, _ in items], [c for _, c in items])

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __getitem__(self, word):
        """Index of `word`; KeyError naming the word if it is not in the vocabulary."""
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word '{word}' is not in the vocabulary ({len(self.words)} words)") from None

    def encode(self, sentences):
        """Token lists -> one int64 array of ids (out-of-vocabulary tokens dropped) and the sentence
        id of each position. Returns (ids (N,), sentence_ids (N,))."""
        index = self.index
        ids, sid = [], []
        for k, s in enumerate(sentences):
            row = [index[w] for w in s if w in index]
            ids.extend(row)
            sid.extend([k] * len(row))
        return np.asarray(ids, dtype=np.int64), np.asarray(sid, dtype=np.int64)
