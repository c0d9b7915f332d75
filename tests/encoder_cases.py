"""The varied sentences on which models/encoder.py must agree with sentence-transformers, and the
script that writes their reference embeddings (tests/data/minilm_reference.npz) with it:

    .venv/bin/python -m tests.encoder_cases      # needs sentence-transformers (the test extra)
"""
import os

import numpy as np

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "minilm_reference.npz")

LONG = " ".join(f"word{i} and the quick brown fox jumps over the lazy dog number {i}." for i in range(60))

SENTENCES = [
    "How do I catch an exception in Python?",
    "The try statement specifies exception handlers and/or cleanup code.",
    "a",                                                         # very short
    "",                                                          # empty: just [CLS] [SEP]
    "?!",
    "   leading and trailing spaces   ",
    "Crème brûlée, façade, naïve café and Ångström in Zürich",   # accents (stripped by the tokenizer)
    "Antidisestablishmentarianism and pneumonoultramicroscopicsilicovolcanoconiosis",  # rare: many word pieces
    "Zyxomma petiolatum pterygopalatine sphenopalatine",
    "東京は日本の首都です",                                         # CJK characters, split one by one
    "emoji 🙂 and symbols ∑ ∫ ≠ → unknown tokens",
    "Numbers 3.14159, 2,718 and 1e-12; dates 2024-01-31.",
    "UPPER CASE and MiXeD cAsE words",
    "def f(x): return x ** 2  # code",
    LONG,                                                        # over-long: truncated at 256 word pieces
    LONG[: len(LONG) // 3],
]


_LOADED = {}


def shared_minilm():
    """One SentenceEncoder (the packaged all-MiniLM-L6-v2) for the whole test session."""
    if "minilm" not in _LOADED:
        from models.encoder import SentenceEncoder
        _LOADED["minilm"] = SentenceEncoder.from_pretrained()
    return _LOADED["minilm"]


def write_reference(path=REFERENCE):
    from sentence_transformers import SentenceTransformer

    from models.encoder import packaged_model_dir
    st = SentenceTransformer(packaged_model_dir(), device="cpu")
    emb = st.encode(SENTENCES, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, sentences=np.array(SENTENCES), embeddings=emb.astype(np.float32))
    return path


if __name__ == "__main__":
    print(write_reference())
