"""`tinygrad-lite search --corpus FILE "query" [-k 5]`: semantic search with a sentence encoder.

The corpus (one document a line, or JSONL with --field) is embedded once and cached next to the
file (see models.search.corpus_embeddings); `--corpus pydoc` searches the sections of Python's own
help topics, which need no download."""
import os
import time

PYDOC = "pydoc"


def add_parser(sub):
    s = sub.add_parser("search", help="semantic search: the documents of a corpus closest to a query",
                       description="Rank the documents of a corpus by cosine similarity to a query, with a "
                                   "pretrained sentence encoder (default all-MiniLM-L6-v2) running on tinygrad_lite. "
                                   "The corpus embeddings are cached next to the file and reused while neither "
                                   "the file nor the model changes.")
    s.add_argument("query", nargs="+", help="the query (several words are joined)")
    add_corpus_args(s)
    s.add_argument("-k", type=_positive, default=5, help="how many results (default 5)")
    s.add_argument("--index", choices=("exact", "hnsw"), default="exact",
                   help="exact cosine search (default) or an approximate HNSW graph (faiss-cpu; big corpora)")
    s.set_defaults(func=run)
    return s


def _positive(text):
    from models.argtypes import int_at_least
    return int_at_least(1)(text)


def add_corpus_args(s, corpus_required=True):
    s.add_argument("--corpus", required=corpus_required, metavar="FILE",
                   help="documents: one per line, or JSONL (.jsonl or --field); `pydoc` = Python's help topics")
    s.add_argument("--field", default=None, help="JSONL field holding the text (default: text)")
    s.add_argument("--model", default=None, metavar="DIR",
                   help="a local Hugging Face BERT-family sentence-transformers directory, e.g. one written by "
                        "`tinygrad-lite train encoder` (default: the packaged all-MiniLM-L6-v2)")
    s.add_argument("--batch-size", type=_positive, default=32, help="sentences per batch (default 32)")


def load_model(path):
    from models.encoder import SentenceEncoder
    from .cli import CLIError
    try:
        return SentenceEncoder.from_pretrained(path)
    except ImportError as e:
        raise CLIError(str(e)) from None


def corpus_file(name):
    if name == PYDOC:
        from models.search import pydoc_corpus_path
        return pydoc_corpus_path()
    if not os.path.isfile(name):
        raise FileNotFoundError(f"--corpus: no such file: {name}")
    return name


def run(args):
    from models.search import corpus_embeddings, make_index, read_documents
    from .cli import CLIError
    path = corpus_file(args.corpus)
    model = load_model(args.model)
    t0 = time.perf_counter()
    docs, emb, cache, reused = corpus_embeddings(model, path, args.field, args.batch_size, log=print)
    t1 = time.perf_counter()
    try:
        index = make_index(emb, args.index)
    except ImportError as e:
        raise CLIError(str(e)) from None
    query = " ".join(args.query)
    scores, ids = index.search(model.encode([query]), args.k)
    t2 = time.perf_counter()
    _, titles = read_documents(path, args.field, titles=True)
    how = "cached" if reused else f"embedded in {t1 - t0:.1f} s"
    print(f"{len(docs)} documents ({how}); top {len(ids[0])} for {query!r} ({args.index}, {1000 * (t2 - t1):.0f} ms):")
    for rank, (score, i) in enumerate(zip(scores[0], ids[0]), 1):
        text = " ".join(docs[i].split())
        head = f"[{titles[i]}] " if titles[i] else ""
        line = head + text
        print(f"{rank:2d}. {score:.3f}  {line[:110] + ('...' if len(line) > 110 else '')}")
    return 0
