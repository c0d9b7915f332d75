"""The `tinygrad-lite` command line (also `python -m tinygrad_lite_app`).

Subcommands:
    demo      train the three example models on embedded data and write out/demo/report.html
    train     train one model: `train mlp|skipgram|gpt [the model's own flags]`
    sample    generate text from a GPT checkpoint
    similar   nearest words, similarity and analogies from saved skip-gram vectors
    graph     draw the computation graph of a model's training step (SVG/PNG/PDF/DOT)

Expected failures (a missing file, bad input, a corrupt checkpoint, no Graphviz) print
`tinygrad-lite: error: ...` on stderr and exit with status 1, without a traceback; bad flags
exit with status 2 and a usage message. Set TINYGRAD_LITE_DEBUG=1 to see tracebacks.
"""
from __future__ import annotations

import argparse
import os
import sys

from models.argtypes import int_at_least

from . import cmd_convert, cmd_embed, cmd_explore, cmd_run, cmd_search

# commands with a module of their own (tinygrad_lite_app/cmd_NAME.py: add_parser(sub) and run(args))
COMMANDS = (cmd_run, cmd_explore, cmd_search, cmd_embed, cmd_convert)

PROG = "tinygrad-lite"
MODELS = ("mlp", "skipgram", "gpt", "encoder")
GRAPH_MODELS = ("mlp", "skipgram", "attention", "gpt")  # the keys of viz.steps.STEPS


class CLIError(Exception):
    """An expected, user-facing failure: the message is printed without a traceback."""


def _expected_errors():
    """Exception classes that always mean bad input rather than a bug (reported without a traceback);
    ValueError, KeyError and IndexError only when our own checks raised them (models.guard.user_error)."""
    errs = [CLIError]
    for modname, names in (("tinygrad_lite.serialize", ("CheckpointError", "SerializationError")),
                           ("tinygrad_lite.graph", ("GraphFreedError",)),
                           ("tinygrad_lite_app.demo", ("MissingComponent",)),
                           ("viz", ("GraphvizNotInstalled", "GraphFreedError")),
                           ("viz.dot", ("GraphvizNotInstalled",)),
                           ("graphviz", ("ExecutableNotFound", "CalledProcessError"))):
        mod = sys.modules.get(modname)
        if mod is None:
            continue
        for n in names:
            cls = getattr(mod, n, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                errs.append(cls)
    return tuple(errs)


def _error_text(exc):
    """A one-line (or few-line) message for an expected exception."""
    if isinstance(exc, KeyError) and exc.args:
        msg = str(exc.args[0])
    elif isinstance(exc, OSError) and exc.filename and exc.strerror:
        msg = f"{exc.strerror}: {exc.filename}"
    else:
        msg = str(exc) or type(exc).__name__
    return msg


# --------------------------------------------------------------------------------------------- parser

def _temperature(text):
    """argparse type of --temperature: a finite number >= 0 (0 = greedy), the rule of GPT.generate."""
    import math
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 = greedy), got {text}")
    return value


def build_parser():
    """The argparse parser of the whole command line (subcommands included)."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="tinygrad_lite: a small numpy autograd engine with PyTorch's API names, example models "
                    "(MLP, skip-gram, GPT) and pictures of computation graphs.",
        epilog="Run `tinygrad-lite COMMAND --help` for the options of a command. "
               "Start with `tinygrad-lite demo` (about two minutes).")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="train the MLP, skip-gram and GPT on embedded data; write report.html",
                       description="Train the MLP on the bundled 8x8 digits, skip-gram word vectors and a small "
                                   "character-level GPT on text that ships with Python, draw their computation "
                                   "graphs and plots, and write everything with a self-contained report.html "
                                   "into --out. No download needed; about two minutes on 2 CPU cores.")
    d.add_argument("--out", default=os.path.join("out", "demo"), metavar="DIR",
                   help="output directory (default: out/demo)")
    d.add_argument("--fast", action="store_true", help="tiny settings (under 30 s): a smoke test, not a result")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--quiet", action="store_true", help="no progress bars from the models")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train one model with its own flags (train MODEL --help)",
                       description="Train one of the example models. Everything after the model name is passed "
                                   "to the model's own command line: run `tinygrad-lite train MODEL --help` "
                                   "for its flags (data, hyperparameters, --out DIR for checkpoint and "
                                   "metrics.json).",
                       usage=f"{PROG} train {{{','.join(MODELS)}}} [model flags ...]")
    t.add_argument("model", choices=MODELS, help="which model: " + ", ".join(MODELS))
    t.add_argument("model_args", nargs=argparse.REMAINDER, help="flags for the model (see train MODEL --help)")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="generate text from a GPT checkpoint",
                       description="Generate text from a GPT checkpoint written by `tinygrad-lite train gpt "
                                   "--out DIR` (or by the demo: out/demo/gpt/ckpt.pt).")
    s.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="checkpoint file, or the directory that holds ckpt.pt")
    s.add_argument("--prompt", default="\n", help="text to continue (its characters must be in the vocabulary)")
    s.add_argument("--max-new-tokens", type=int_at_least(0), default=300, metavar="N",
                   help="characters to generate (default 300)")
    s.add_argument("--temperature", type=_temperature, default=0.8, metavar="T",
                   help="sampling temperature, >= 0: below 1 sharper, above 1 more random; 0 = greedy, "
                        "always the most likely character (default 0.8)")
    s.add_argument("--top-k", type=int_at_least(1), default=None, metavar="K",
                   help="sample only among the K >= 1 most likely characters (default: all)")
    s.add_argument("--num-samples", type=int_at_least(1), default=1, metavar="N", help="how many samples (default 1)")
    s.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    s.set_defaults(func=cmd_sample)

    m = sub.add_parser("similar", help="nearest words, similarity, analogies from skip-gram vectors",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Query word vectors saved by `tinygrad-lite train skipgram --out DIR` (or by\n"
                                   "the demo: out/demo/skipgram).",
                       epilog="examples:\n"
                              "  tinygrad-lite similar out/demo/skipgram function class     nearest words of each\n"
                              "  tinygrad-lite similar VECS --pair list tuple                cosine similarity\n"
                              "  tinygrad-lite similar VECS --analogy man king woman         king - man + woman\n"
                              "  tinygrad-lite similar VECS --analogy king - man + woman     the same, as an expression\n"
                              "  tinygrad-lite similar VECS king --index hnsw                approximate search (extra [ann])")
    m.add_argument("vectors", metavar="VECTORS",
                   help="vectors file (checkpoint or word2vec text format), or the directory that holds it")
    m.add_argument("words", nargs="*", metavar="WORD", help="words whose nearest neighbours to list")
    m.add_argument("--topn", type=int, default=10, help="how many neighbours (default 10)")
    m.add_argument("--pair", nargs=2, action="append", metavar=("A", "B"), default=[],
                   help="print the cosine similarity of A and B (repeatable)")
    m.add_argument("--analogy", nargs="+", action="append", metavar="TERM", default=[],
                   help="'A B C': A is to B as C is to ? (B - A + C, by cosine), or an expression "
                        "'king - man + woman' (spaces around + and -); repeatable")
    m.add_argument("--index", choices=("exact", "lsh", "hnsw"), default="exact",
                   help="neighbour search for WORDs: exact (default), lsh (faiss-cpu IndexLSH) or hnsw "
                        "(hnswlib); lsh/hnsw need the optional extra: pip install -e '.[ann]'")
    m.set_defaults(func=cmd_similar)

    g = sub.add_parser("graph", help="draw the computation graph of a model's training step",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Build a tiny instance of a model, run one training step (forward, loss,\n"
                                   "backward) and draw its computation graph with viz.draw_graph. The format\n"
                                   "comes from --out's extension: .svg, .png, .pdf (with Graphviz's dot), or\n"
                                   ".dot/.gv for the DOT text, which needs no Graphviz.\n\n"
                                   "models:\n"
                                   "  mlp        64 pixels -> 16 hidden (ReLU) -> 10 classes, a batch of 4 digits\n"
                                   "  skipgram   the tutorial's 3-word example (king, queen, car), one pair\n"
                                   "  attention  one causal multi-head attention block: 2 heads, 4 tokens of 8\n"
                                   "  gpt        a 2-layer GPT (16 wide, 2 heads), blocks collapsed by default",
                       epilog="examples:\n"
                              "  tinygrad-lite graph --model mlp --backward --grads --out mlp.svg\n"
                              "  tinygrad-lite graph --model skipgram --values --grads --explain --out step.png\n"
                              "  tinygrad-lite graph --model gpt --collapse-depth 1 --out gpt.svg\n"
                              "  tinygrad-lite graph --model gpt --collapse h.1 --rankdir LR --out gpt.svg\n"
                              "  tinygrad-lite graph --model attention --saved --out out/graphs/attn.dot")
    g.add_argument("--model", choices=GRAPH_MODELS, default="mlp", help="which model (default mlp)")
    g.add_argument("--out", default="graph.svg", metavar="FILE",
                   help="output file (default graph.svg); missing parent directories are created")
    g.add_argument("--backward", action="store_true",
                   help="backward view: number the ops in backward order, colour by gradient magnitude")
    g.add_argument("--values", action="store_true", help="show tensor values (numbers, or min/mean/max)")
    g.add_argument("--grads", action="store_true", help="show gradients after backward()")
    g.add_argument("--saved", action="store_true",
                   help="show what each op saves for its backward rule (\"saves: ...\")")
    g.add_argument("--rankdir", type=str.upper, choices=("TB", "LR"), default="TB",
                   help="layout direction: TB top to bottom (default) or LR left to right")
    g.add_argument("--collapse", nargs="+", default=None, metavar="PATH",
                   help="module paths drawn as single boxes, e.g. --collapse h.0 h.1 for gpt "
                        "(mlp, attention and gpt have modules; skipgram has none)")
    g.add_argument("--collapse-depth", type=int_at_least(0), default=None, metavar="N",
                   help="draw each module at depth N as one box (1 = top-level children such as "
                        "gpt's h, 2 = each block h.0, h.1); default 2 for gpt unless --collapse is given, "
                        "0 = draw every op")
    g.add_argument("--max-nodes", type=int_at_least(1), default=None, metavar="N",
                   help="node cap (default: viz's)")
    g.add_argument("--explain", action="store_true",
                   help="also print viz.explain_backward: the backward pass step by step")
    g.add_argument("--seed", type=int, default=0, help="random seed for the tiny model (default 0)")
    g.set_defaults(func=cmd_graph)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _version():
    try:
        from tinygrad_lite import __version__
        return __version__
    except Exception:  # noqa: BLE001
        return "?"


# --------------------------------------------------------------------------------------------- commands

def _import_model(name):
    """Import models.<name>, with a clear error when that module is not available."""
    import importlib
    try:
        return importlib.import_module(f"models.{name}")
    except ModuleNotFoundError as e:
        if e.name in (f"models.{name}", "models"):
            raise CLIError(f"the model module models/{name}.py is not available in this installation") from None
        raise


def cmd_demo(args):
    """`demo`: train everything on embedded data and write the report."""
    from . import demo
    return demo.run(out=args.out, fast=args.fast, seed=args.seed, quiet=args.quiet)


def cmd_train(args):
    """`train MODEL ...`: forward the remaining flags to models.MODEL.main(argv)."""
    mod = _import_model(args.model)
    if not hasattr(mod, "main"):
        raise CLIError(f"models/{args.model}.py has no main(argv) entry point")
    argv = list(args.model_args)
    if argv and argv[0] == "--":
        argv = argv[1:]
    # prog: usage lines, --help and `error:` lines name the command the user typed
    rc = mod.main(argv, prog=f"{PROG} train {args.model}")  # the models' main() return their metrics dict
    return rc if isinstance(rc, int) else 0


def _resolve(path, names, what):
    """`path` itself if it is a file; else the first of `names` inside the directory `path`."""
    from pathlib import Path
    p = Path(path)
    if p.is_dir():
        for n in names:
            if (p / n).is_file():
                return p / n
        raise FileNotFoundError(f"no {what} in directory {p} (looked for {', '.join(names)})")
    if not p.exists():
        raise FileNotFoundError(f"{what} not found: {p}")
    return p


def cmd_sample(args):
    """`sample CHECKPOINT`: generate text from a trained GPT."""
    gpt = _import_model("gpt")
    ckpt = _resolve(args.checkpoint, ("ckpt.pt", "ckpt.npz", "model.pt", "checkpoint.pt"), "GPT checkpoint")
    from . import demo
    for i, text in enumerate(demo.gpt_samples(gpt, ckpt, prompt=args.prompt, max_new_tokens=args.max_new_tokens,
                                              temperature=args.temperature, top_k=args.top_k,
                                              num_samples=args.num_samples, seed=args.seed)):
        if args.num_samples > 1:
            print(f"--- sample {i + 1} ---")
        print(text)
    return 0


def cmd_similar(args):
    """`similar VECTORS ...`: query skip-gram word vectors."""
    from . import demo
    kv = demo.load_word_vectors(args.vectors)
    if not (args.words or args.pair or args.analogy):
        raise CLIError("nothing to do: give words (nearest neighbours), --pair A B or --analogy A B C")
    if args.topn < 1:
        raise CLIError("--topn must be >= 1")
    from .similar_query import neighbours, parse_analogy
    try:
        analogies = [parse_analogy(t) for t in args.analogy]
    except ValueError as e:
        raise CLIError(str(e)) from None
    asked = list(args.words) + [w for pair in args.pair for w in pair] + [w for p, n in analogies for w in p + n]
    unknown = list(dict.fromkeys(w for w in asked if w not in kv))
    if unknown:
        raise CLIError(f"not in the vocabulary of {args.vectors} ({len(kv)} words): " + ", ".join(unknown))
    for w in args.words:
        print(f"nearest to {w!r}:")
        try:
            found = neighbours(kv, w, topn=args.topn, index=args.index)
        except ImportError as e:
            raise CLIError(str(e)) from None
        for word, score in found:
            print(f"  {word:<20s} {score:.4f}")
    for a, b in args.pair:
        print(f"similarity({a!r}, {b!r}) = {kv.similarity(a, b):.4f}")
    for pos, neg in analogies:
        res = kv.most_similar(positive=pos, negative=neg, topn=args.topn)
        print(" + ".join(pos) + "".join(f" - {w}" for w in neg) + " = ?")
        for word, score in res:
            print(f"  {word:<20s} {score:.4f}")
    return 0


def cmd_graph(args):
    """`graph`: draw one training step of a tiny model (viz.steps) with viz.draw_graph."""
    from . import demo
    steps = demo._import("viz.steps", "the graph drawing package (viz/)")
    try:
        out, info = steps.draw_step(args.model, args.out, backward=args.backward, values=args.values,
                                    grads=args.grads, saved=args.saved, rankdir=args.rankdir, collapse=args.collapse,
                                    collapse_depth=args.collapse_depth, max_nodes=args.max_nodes, seed=args.seed,
                                    explain=args.explain)
    except ValueError as e:
        raise CLIError(f"--out {e}" if "extension" in str(e) else str(e)) from None
    if args.explain:
        print(info["explain"])
    print(f"wrote {out} ({info['edges']} edges)")
    return 0


# --------------------------------------------------------------------------------------------- entry point

def main(argv=None):
    """Run the command line with `argv` (default sys.argv[1:]); returns the exit status.

    Expected errors are printed as `tinygrad-lite: error: ...` (exit 1); argparse usage errors
    exit 2. The console script calls sys.exit(main()).
    """
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help/--version (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    debug = bool(os.environ.get("TINYGRAD_LITE_DEBUG"))
    try:
        rc = args.func(args)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # a model's own argparse (usage error, --help) or SystemExit("error: ...")
        if isinstance(e.code, int) or e.code is None:
            return e.code or 0
        msg = str(e.code)
        print(f"{PROG}: {msg}" if msg.startswith("error:") else msg, file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `tinygrad-lite similar ... | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as e:  # noqa: BLE001
        from models.guard import user_error
        if debug or not (isinstance(e, _expected_errors()) or user_error(e)):
            raise
        print(f"{PROG}: error: {_error_text(e)}", file=sys.stderr)
        return 1
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
