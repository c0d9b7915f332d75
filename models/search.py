"""Semantic search with a sentence encoder: a corpus file -> cached embeddings -> nearest documents.

- `read_documents(path, field=None)`: one document per non-empty line, or one JSON object per line
  (`.jsonl`, the text in `field`, default "text").
- `corpus_embeddings(model, path, field)`: embeds the corpus once and caches the matrix next to the
  file as `<file>.emb-<hash>.npy`, the hash covering the file's bytes, the field and the model
  (directory, weights' size and time, config), so it is reused while neither changes.
- `ExactIndex` (cosine by one matrix product) and `HnswIndex` (faiss-cpu's HNSW graph, optional).
- `pydoc_documents()`: a real corpus that ships with Python: the sections of its own help topics
  (`pydoc_data.topics`), with `LABELLED_QUERIES` a person can judge, and `pydoc_pairs()` (a section's
  title -> its first paragraph) for fine-tuning.
"""
import hashlib
import json
import os
import re

import numpy as np

__all__ = ["read_documents", "corpus_embeddings", "ExactIndex", "HnswIndex", "make_index", "pydoc_documents",
           "section_text", "write_pydoc_corpus", "pydoc_corpus_path", "pydoc_pairs", "LABELLED_QUERIES", "is_answer", "labelled_recall", "model_fingerprint"]


# ----------------------------------------------------------------------------- corpus files
def read_documents(path, field=None, titles=False):
    """list[str]: the documents of `path`. Plain text: each non-empty line is a document. JSONL
    (extension .jsonl, or `field` given): each line a JSON object, its `field` (default "text").
    titles=True: also return a list of each JSON line's "title" (None when absent or plain text)."""
    jsonl = field is not None or str(path).endswith(".jsonl")
    field = field or "text"
    docs, heads = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            if not jsonl:
                docs.append(line.strip())
                heads.append(None)
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not a JSON line ({e.msg}); for plain text, one document a line, "
                                 f"drop --field and use a name not ending in .jsonl") from None
            if not isinstance(obj, dict) or not isinstance(obj.get(field), str):
                raise ValueError(f"{path}:{n}: expected a JSON object with a string field {field!r}"
                                 f"{'; fields: ' + ', '.join(obj) if isinstance(obj, dict) else ''}")
            docs.append(obj[field])
            heads.append(obj.get("title") if isinstance(obj.get("title"), str) else None)
    if not docs:
        raise ValueError(f"{path}: no documents (the file is empty)")
    return (docs, heads) if titles else docs


def model_fingerprint(model):
    """A short hash naming the model: its directory, the size and time of its weights, its config
    and max length. A fine-tuned checkpoint written over the same directory changes it."""
    h = hashlib.sha256()
    src = os.path.abspath(model.source) if model.source else "<in memory>"
    h.update(src.encode())
    weights = os.path.join(src, "model.safetensors")
    if os.path.exists(weights):
        st = os.stat(weights)
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(json.dumps(model.bert.config.to_json(), sort_keys=True).encode())
    h.update(str(model.max_seq_length).encode())
    return h.hexdigest()[:16]


def _file_hash(path, field):
    h = hashlib.sha256(f"field={field}\n".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def cache_path(model, path, field=None):
    """Where `corpus_embeddings` keeps the matrix of `path` for `model`."""
    key = hashlib.sha256((_file_hash(path, field) + model_fingerprint(model)).encode()).hexdigest()[:16]
    return f"{path}.emb-{key}.npy"


def corpus_embeddings(model, path, field=None, batch_size=32, log=None):
    """(documents list[str], embeddings (n, C) float32, cache file, reused: bool)."""
    docs = read_documents(path, field)
    cache = cache_path(model, path, field)
    if os.path.exists(cache):
        emb = np.load(cache)
        if emb.shape == (len(docs), model.bert.config.hidden_size):
            return docs, emb, cache, True
    if log:
        log(f"embedding {len(docs)} documents (cached afterwards in {cache})")
    emb = model.encode(docs, batch_size=batch_size)
    for old in _stale_caches(path, cache):
        os.remove(old)
    try:
        np.save(cache, emb)
    except OSError:
        cache = None                          # a read-only place: works, just not cached
    return docs, emb, cache, False


def _stale_caches(path, keep):
    d, base = os.path.split(os.path.abspath(path))
    return [os.path.join(d, f) for f in os.listdir(d)
            if f.startswith(base + ".emb-") and f.endswith(".npy") and os.path.join(d, f) != os.path.abspath(keep)]


# ----------------------------------------------------------------------------- indexes
class ExactIndex:
    """Cosine similarity against every vector (rows are L2-normalised once). search -> (scores, ids)."""

    def __init__(self, vectors):
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2:
            raise ValueError(f"ExactIndex: vectors must be (n, d), got shape {v.shape}")
        self.vectors = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def search(self, queries, k=5):
        """queries (m, d) -> (scores (m, k), ids (m, k)), best first."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if q.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"ExactIndex.search: queries have {q.shape[1]} dims, the index {self.vectors.shape[1]}")
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        k = min(int(k), len(self.vectors))
        step = max(1, (1 << 24) // max(1, len(self.vectors)))           # <= 64 MB of scores at a time
        out = [self._top(q[s:s + step], k) for s in range(0, len(q), step)]
        return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])

    def _top(self, q, k):
        sims = q @ self.vectors.T                                        # (m, n)
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1, kind="stable")
        ids = np.take_along_axis(top, order, 1)
        return np.take_along_axis(sims, ids, 1), ids


class HnswIndex:
    """Approximate nearest neighbours by cosine with faiss-cpu's HNSW graph (inner product on
    L2-normalised vectors). M: links per node; ef_search: breadth of the search (recall vs speed)."""

    def __init__(self, vectors, M=32, ef_construction=80, ef_search=64):
        try:
            import faiss
        except ImportError as e:
            raise ImportError("--index hnsw needs faiss-cpu: pip install faiss-cpu "
                              "(or the project's `ann` extra)") from e
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if v.ndim != 2:
            raise ValueError(f"HnswIndex: vectors must be (n, d), got shape {v.shape}")
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        self.index = faiss.IndexHNSWFlat(v.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = ef_construction
        self.index.hnsw.efSearch = ef_search
        self.index.add(v)
        self.n = len(v)

    def search(self, queries, k=5):
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        scores, ids = self.index.search(q, min(int(k), self.n))
        return scores, ids


def make_index(vectors, kind="exact"):
    if kind == "exact":
        return ExactIndex(vectors)
    if kind == "hnsw":
        return HnswIndex(vectors)
    raise ValueError(f"unknown index {kind!r}: expected 'exact' or 'hnsw'")


# ----------------------------------------------------------------------------- Python's help topics
_UNDERLINE = re.compile(r"^[*=\-~^]{3,}\s*$")


def _first_paragraph(lines):
    paras = re.split(r"\n\s*\n", "\n".join(lines).strip())
    for p in paras:
        p = " ".join(p.split())
        if len(p) > 40 and not p.startswith(("::=", ">>>")) and "::=" not in p:
            return p
    return None


def pydoc_documents():
    """The sections of Python's own help topics (`pydoc_data.topics`): list of dicts
    {'topic', 'title', 'text'} where text is the section's first prose paragraph (~170 sections)."""
    from pydoc_data.topics import topics
    docs, seen = [], set()
    for key in sorted(topics):
        lines = topics[key].splitlines()
        heads = [i for i in range(1, len(lines)) if _UNDERLINE.match(lines[i]) and lines[i - 1].strip()]
        for j, h in enumerate(heads):
            end = heads[j + 1] - 1 if j + 1 < len(heads) else len(lines)
            text = _first_paragraph(lines[h + 1:end])
            title = lines[h - 1].strip()
            if text and (title, text) not in seen:    # a few sections appear under several topics
                seen.add((title, text))
                docs.append({"topic": key, "title": title, "text": text})
    return docs


def section_text(doc, short=False):
    """What is embedded for a section: 'title: first paragraph' (short=True: its first sentence only,
    about a third of the word pieces, so three times quicker to embed)."""
    text = doc["text"].split(". ")[0].rstrip(".") + "." if short else doc["text"]
    return f'{doc["title"]}: {text}'


def write_pydoc_corpus(path, docs=None, short=False):
    """Write the help topics' sections as JSONL: {'topic', 'title', 'text': section_text(...)}.
    Returns path."""
    with open(path, "w", encoding="utf-8") as f:
        for d in pydoc_documents() if docs is None else docs:
            f.write(json.dumps({**d, "text": section_text(d, short)}, ensure_ascii=False) + "\n")
    return path


def pydoc_corpus_path():
    """The help-topics corpus as a JSONL file in the user's cache directory (written on first use)."""
    d = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tinygrad_lite")
    path = os.path.join(d, "pydoc_topics.jsonl")
    if not os.path.exists(path):
        os.makedirs(d, exist_ok=True)
        write_pydoc_corpus(path + ".tmp")
        os.replace(path + ".tmp", path)
    return path


def pydoc_pairs():
    """(title, first paragraph) pairs of the help topics' sections, for fine-tuning."""
    return [(d["title"], d["text"]) for d in pydoc_documents()]


# Questions a person would ask, and (parts of) the titles of the sections that answer them.
LABELLED_QUERIES = [
    ("how do I catch an exception", ['"try" statement', '"except" clause', "exceptions"]),
    ("raise an error", ['"raise" statement', "exceptions"]),
    ("loop over the items of a list", ['"for" statement']),
    ("repeat while a condition is true", ['"while" statement']),
    ("stop a loop early", ['"break" statement']),
    ("skip to the next iteration of a loop", ['"continue" statement']),
    ("define a function with default arguments", ["function definitions"]),
    ("anonymous function in an expression", ["lambdas"]),
    ("create a class", ["class definitions"]),
    ("open a file and close it automatically", ['"with" statement', "context managers"]),
    ("import a module from a package", ['"import" statement']),
    ("check that a condition holds while debugging", ['"assert" statement']),
    ("format a number inside a string", ["format specification", "format string syntax", "format examples"]),
    ("methods of strings such as split and join", ["string methods"]),
    ("dictionary keys and values", ["mapping types", "dictionaries", "dictionary displays", "dictionary view"]),
    ("generator that produces values lazily", ['"yield" statement', "generator functions"]),
    ("coroutines with async and await", ["coroutine", "await expression", '"async']),
    ("change a variable of the enclosing function", ['"nonlocal" statement', '"global" statement']),
    ("compare two objects for equality", ["comparisons"]),
    ("what counts as true or false", ["truth value testing", "boolean operations"]),
    ("slice a sequence with start stop step", ["slicings", "slice objects", "common sequence operations"]),
    ("add an element to a list", ["mutable sequence types", "lists"]),
    ("shift the bits of an integer", ["shifting operations", "bitwise"]),
    ("delete a variable or list item", ['"del" statement']),
    ("step through a program with a debugger", ["debugger"]),
]


def is_answer(title, answers):
    """Whether a section title matches one of a query's answers (case-insensitive substring)."""
    return any(a.lower() in title.lower() for a in answers)


def labelled_recall(model, docs, emb, k=5, queries=LABELLED_QUERIES):
    """Recall@k of `queries` over pydoc_documents(): the fraction of queries with a right section
    among the top k. Returns (recall, [(query, [titles of the top k], hit), ...])."""
    _, ids = ExactIndex(emb).search(model.encode([q for q, _ in queries]), k)
    rows = []
    for (q, answers), row in zip(queries, ids):
        titles = [docs[i]["title"] for i in row]
        rows.append((q, titles, any(is_answer(t, answers) for t in titles)))
    return float(np.mean([hit for *_, hit in rows])), rows
