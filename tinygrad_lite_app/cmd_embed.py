"""`tinygrad-lite embed FILE --out X.npy`: the sentence embeddings of a file's lines (or a JSONL field)."""
import time

import numpy as np


def add_parser(sub):
    from .cmd_search import _positive
    e = sub.add_parser("embed", help="embed every line of a file with a sentence encoder; save an .npy matrix",
                       description="Embed each document of FILE (one per line, or JSONL with --field) with a "
                                   "sentence encoder (default all-MiniLM-L6-v2) and save the (n, dims) float32 "
                                   "matrix of unit vectors, in file order, with numpy.save.")
    e.add_argument("file", metavar="FILE", help="documents: one per line, or JSONL (.jsonl or --field)")
    e.add_argument("--out", required=True, metavar="X.npy", help="output .npy file")
    e.add_argument("--field", default=None, help="JSONL field holding the text (default: text)")
    e.add_argument("--model", default=None, metavar="DIR", help="model directory (default: packaged all-MiniLM-L6-v2)")
    e.add_argument("--batch-size", type=_positive, default=32, help="sentences per batch (default 32)")
    e.set_defaults(func=run)
    return e


def run(args):
    from models.search import read_documents
    from .cmd_search import corpus_file, load_model
    docs = read_documents(corpus_file(args.file), args.field)
    model = load_model(args.model)
    t0 = time.perf_counter()
    emb = model.encode(docs, batch_size=args.batch_size)
    dt = time.perf_counter() - t0
    np.save(args.out, emb)
    print(f"embedded {len(docs)} documents in {dt:.1f} s ({len(docs) / max(dt, 1e-9):.0f}/s) -> {args.out} {emb.shape}")
    return 0
