"""Character-level text data for language modelling: vocabulary, encode/decode, splits and batches.

The default corpus ships with Python itself (the reference text behind `help()` in
`pydoc_data.topics`, ~460k characters of English prose and code), so training works with no
download. Any other UTF-8 file can be used with `load_text(path)`.
"""
import numpy as np


def default_text():
    """The embedded default corpus: Python's own help topics (str, ~460k characters, ~100 symbols)."""
    from pydoc_data.topics import topics
    return "\n".join(topics[k] for k in sorted(topics))


def load_text(path=None):
    """Read a UTF-8 corpus from `path` (None -> `default_text()`). Raises ValueError if it is empty."""
    if path is None:
        text = default_text()
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    if not text:
        raise ValueError(f"the text {'(default)' if path is None else repr(str(path))} is empty: "
                         "a language model needs at least a few characters to learn from")
    return text


class CharVocab:
    """Maps each distinct character of a text to an integer id (sorted, so the ids are stable).

    vocab.encode(str) -> int64 array of shape (len,); vocab.decode(ids) -> str.
    """

    def __init__(self, chars):
        chars = sorted(set(chars))
        if not chars:
            raise ValueError("CharVocab: cannot build a vocabulary from empty text")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text):
        """The vocabulary of every character that appears in `text`."""
        if not text:
            raise ValueError("CharVocab.from_text: the text is empty; there are no characters to build a "
                             "vocabulary from")
        return cls(text)

    def __len__(self):
        return len(self.chars)

    size = property(__len__, doc="Number of distinct characters.")

    def encode(self, s):
        """str of length n -> int64 array (n,). Unknown characters raise a ValueError naming them."""
        stoi = self.stoi
        try:
            return np.fromiter((stoi[c] for c in s), dtype=np.int64, count=len(s))
        except KeyError:
            unknown = sorted({c for c in s if c not in stoi})
            shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise ValueError(f"encode: {len(unknown)} character(s) not in the vocabulary: {shown}; the "
                             f"vocabulary has the {len(self)} characters of the training text") from None

    def decode(self, ids):
        """Sequence of ids (list, array or Tensor of shape (n,)) -> str."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        n = len(self.chars)
        bad = [i for i in ids if not 0 <= int(i) < n]
        if bad:
            raise ValueError(f"decode: ids {bad[:10]} are outside the vocabulary [0, {n})")
        return "".join(self.chars[int(i)] for i in ids)

    def state(self):
        """A plain, picklable description (for checkpoints): {'chars': str}."""
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_state(cls, state):
        return cls(state["chars"])


def train_val_split(data, val_fraction=0.1):
    """Split a 1-D array (N,) into its first (1 - val_fraction) part and the rest (no shuffling,
    so the validation text is truly unseen). Returns (train (N_train,), val (N_val,))."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = int(round(len(data) * (1 - val_fraction)))
    return data[:n], data[n:]


def get_batch(data, batch_size, block_size, rng):
    """Random windows of a token array (N,): inputs x (B, T) and targets y (B, T) (x shifted by one).

    rng: a numpy Generator. Raises ValueError when data is not longer than block_size."""
    if len(data) <= block_size:
        raise ValueError(f"get_batch: the data has {len(data)} tokens, which is not more than block_size="
                         f"{block_size}; use a longer text or a smaller --block-size")
    ix = rng.integers(0, len(data) - block_size, size=batch_size)
    offsets = np.arange(block_size)
    x = data[ix[:, None] + offsets]
    y = data[ix[:, None] + offsets + 1]
    return x, y
