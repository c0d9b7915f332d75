"""`tinygrad-lite demo`: the three example models trained on embedded data, with pictures and a report.

    from tinygrad_lite_app import demo
    demo.run(out="out/demo")            # about two minutes on 2 CPU cores
    demo.run(out="/tmp/d", fast=True)   # tiny settings, a smoke test (under 30 s)

Stages (each timed; a failing stage is reported and makes the exit status non-zero, the others
still run and the report is always written):

1. MLP on scikit-learn's bundled 8x8 digits (test accuracy);
2. skip-gram word vectors on text that ships with Python (nearest neighbours);
3. a small character-level GPT on the same text (validation loss, a generated sample);
4. graphs with viz.draw_graph: the MLP training step (forward and backward view) and one
   attention block (skipped, with install instructions, when Graphviz's `dot` is missing);
5. plots with viz.plots: training curves, word-vector PCA, attention heat maps;
   then semantic search with the pretrained all-MiniLM-L6-v2 encoder over the help topics' sections;
6. `report.html`: one self-contained file (inline SVG, base64 PNG) that opens from file://.

The helpers `gpt_samples` and `load_word_vectors` also serve the `sample` and `similar`
subcommands of the command line; the graphs come from viz.steps, as the `graph` command's do.
"""
from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GRAPHVIZ_HELP = ("Install Graphviz to render graph pictures: `sudo apt-get install graphviz` (Debian/Ubuntu), "
                 "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`; "
                 "`bash run.sh demo` installs it automatically when run as root or with passwordless sudo.")

# Words whose neighbours the demo shows (those present in the vocabulary are used).
PROBE_WORDS = ("function", "list", "string", "class", "file", "error", "number", "true", "module", "loop",
               "dictionary", "integer")


# ============================================================================================ settings

@dataclass
class Settings:
    """Sizes of the demo's runs; `Settings.full()` (about two minutes) or `Settings.fast()` (seconds)."""
    mlp_hidden: tuple = (256,)
    mlp_dropout: float = 0.2
    mlp_epochs: int = 40
    sg_dim: int = 50
    sg_epochs: int = 10
    sg_min_count: int = 5
    sg_window: int = 5
    sg_negative: int = 5
    sg_max_words: int | None = None
    gpt_layers: int = 2
    gpt_heads: int = 4
    gpt_embd: int = 64
    gpt_block: int = 64
    gpt_batch: int = 16
    gpt_steps: int = 4500          # at most: the run also stops after gpt_seconds
    gpt_seconds: float | None = 120.0
    gpt_eval_iters: int = 8
    gpt_text_chars: int | None = None
    sample_chars: int = 300
    smoke_test: bool = False       # True for Settings.fast()

    @classmethod
    def full(cls):
        """The real demo: each model learns something visible."""
        return cls()

    @classmethod
    def fast(cls):
        """Tiny settings for tests: every stage runs, nothing is learnt well."""
        return cls(mlp_hidden=(32,), mlp_epochs=3, sg_dim=16, sg_epochs=1, sg_min_count=3,
                   sg_max_words=20000, gpt_layers=1, gpt_heads=2, gpt_embd=32, gpt_block=32, gpt_batch=8,
                   gpt_steps=12, gpt_seconds=None, gpt_eval_iters=2, gpt_text_chars=60000,
                   sample_chars=80, smoke_test=True)


# ============================================================================================ stages

@dataclass
class StageResult:
    """What one stage produced: status ('ok', 'failed', 'skipped'), time, message, outputs."""
    name: str
    status: str = "ok"
    seconds: float = 0.0
    message: str = ""
    data: dict = field(default_factory=dict)


class _Demo:
    """State shared by the stages of one demo run."""

    def __init__(self, out, settings, seed, quiet):
        self.out = Path(out)
        self.s = settings
        self.seed = seed
        self.quiet = quiet
        self.results: dict[str, StageResult] = {}
        self.has_dot = shutil.which("dot") is not None
        self.errors_log = self.out / "errors.log"

    def log(self, msg):
        """A progress line on stderr (the report gets the numbers)."""
        print(f"[demo] {msg}", file=sys.stderr, flush=True)

    def stage(self, key, title, fn):
        """Run one stage, timing it and catching its failure (recorded, with the traceback in errors.log)."""
        self.log(f"--- {title} ---")
        res = StageResult(title)
        t0 = time.perf_counter()
        try:
            fn(res)
        except _Skip as e:
            res.status, res.message = "skipped", str(e)
            self.log(f"{title}: skipped: {e}")
        except Exception as e:  # noqa: BLE001 - report and carry on with the other stages
            res.status = "failed"
            res.message = f"{type(e).__name__}: {e}"
            if isinstance(e, ModuleNotFoundError) and e.name in ("matplotlib", "sklearn", "graphviz"):
                res.message += " (the demo needs the 'all' extras: `bash run.sh demo` installs them, or " \
                               "`pip install -e '.[all]'`)"
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.errors_log, "a", encoding="utf-8") as f:
                f.write(f"=== {title} ===\n{traceback.format_exc()}\n")
            self.log(f"{title}: FAILED: {res.message} (traceback in {self.errors_log})")
        res.seconds = time.perf_counter() - t0
        if res.status == "ok":
            self.log(f"{title}: done in {res.seconds:.1f}s")
        self.results[key] = res
        return res


class MissingComponent(RuntimeError):
    """A part of the project (a model module, viz) is not installed: reported as a clear error."""


class _Skip(Exception):
    """Raised inside a stage that cannot run here for an expected reason (e.g. no Graphviz)."""


def _import(modname, what):
    """Import a module, turning its absence into a clear message."""
    import importlib
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if e.name == modname or modname.startswith(str(e.name) + "."):
            raise MissingComponent(f"{what} is not available: module {modname} is missing from this "
                                   "installation") from None
        raise


# ---------------------------------------------------------------------------- MLP

def _stage_mlp(d: _Demo, res: StageResult):
    """Train the MLP classifier on the bundled digits; record accuracy and the loss curves."""
    mlp = _import("models.mlp", "the MLP model (models/mlp.py)")
    import tinygrad_lite as tl
    tl.manual_seed(d.seed)
    Xtr, ytr, Xte, yte = mlp.load_digits_split()
    model = mlp.MLP([Xtr.shape[1], *d.s.mlp_hidden, 10], activation="relu", dropout=d.s.mlp_dropout)
    d.log(f"MLP {model.sizes}: {len(Xtr)} training / {len(Xte)} test images of 8x8 digits, "
          f"{d.s.mlp_epochs} epochs")
    stats = mlp.train(model, Xtr, ytr, "classification", epochs=d.s.mlp_epochs, batch_size=64, lr=3e-3,
                      seed=d.seed, progress=not d.quiet, X_test=Xte, y_test=yte)
    train_m = mlp.evaluate(model, Xtr, ytr, "classification")
    test_m = mlp.evaluate(model, Xte, yte, "classification")
    model.eval()
    with tl.no_grad():
        pred = model(tl.Tensor(Xte)).numpy().argmax(1)
    model.train()
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (yte, pred), 1)
    outdir = d.out / "mlp"
    outdir.mkdir(parents=True, exist_ok=True)
    tl.save({"model": model.state_dict(), "sizes": model.sizes, "activation": "relu", "task": "classification"},
            str(outdir / "checkpoint.tgl"))
    metrics = {"test_accuracy": test_m["accuracy"], "train_accuracy": train_m["accuracy"],
               "final_test_loss": test_m["loss"], "final_train_loss": train_m["loss"],
               "parameters": sum(p.numel() for p in model.parameters()), "epochs": d.s.mlp_epochs,
               "train_images": len(Xtr), "test_images": len(Xte), "samples_per_sec": stats["samples_per_sec"],
               "train_seconds": stats["wall_time"]}
    with open(outdir / "metrics.json", "w", encoding="utf-8") as f:
        json.dump({**metrics, "sizes": model.sizes, "train_loss": stats["train_loss"],
                   "test_loss": [t["loss"] for t in stats["test"]],
                   "test_accuracy_per_epoch": [t["accuracy"] for t in stats["test"]]}, f, indent=1)
    res.data.update(metrics=metrics, accuracy=test_m["accuracy"], sizes=model.sizes, confusion=confusion,
                    history=stats["train_loss"], test_loss=[t["loss"] for t in stats["test"]])
    print(f"MLP test accuracy: {100 * test_m['accuracy']:.2f}% ({len(Xte)} held-out digits)", flush=True)
    res.message = f"test accuracy {100 * test_m['accuracy']:.2f}%"


# ---------------------------------------------------------------------------- skip-gram

def _stage_skipgram(d: _Demo, res: StageResult):
    """Train skip-gram (negative sampling) on Python's help text; record neighbours and vectors."""
    sg = _import("models.skipgram", "the skip-gram model (models/skipgram.py)")
    from models.text import default_corpus
    sentences = default_corpus()
    if d.s.sg_max_words:
        kept, n = [], 0
        for sent in sentences:
            if n >= d.s.sg_max_words:
                break
            kept.append(sent)
            n += len(sent)
        sentences = kept
    n_tokens = sum(map(len, sentences))
    d.log(f"skip-gram: {n_tokens:,} words of Python's help text, dim {d.s.sg_dim}, {d.s.sg_epochs} epochs")
    model, stats = sg.train_sgns(sentences, dim=d.s.sg_dim, window=d.s.sg_window, negative=d.s.sg_negative,
                                 min_count=d.s.sg_min_count, epochs=d.s.sg_epochs, seed=d.seed,
                                 progress=not d.quiet)
    wv = model.wv
    outdir = d.out / "skipgram"
    outdir.mkdir(parents=True, exist_ok=True)
    wv.save(str(outdir / "vectors.tgl"))
    wv.save_word2vec_format(str(outdir / "vectors.txt"))
    probes = [w for w in PROBE_WORDS if w in wv][:6]
    neighbours = {w: wv.most_similar(w, topn=5) for w in probes}
    pairs = [(a, b) for a, b in (("list", "tuple"), ("string", "bytes"), ("class", "instance"),
                                  ("error", "exception"), ("list", "file")) if a in wv and b in wv]
    sims = [(a, b, wv.similarity(a, b)) for a, b in pairs]
    summary = {"corpus_words": stats.get("corpus_words"), "vocab_size": stats.get("vocab_size"), "dim": wv.dim,
               "epochs": d.s.sg_epochs, "final_loss": stats.get("final_loss"),
               "words_per_sec": stats.get("words_per_sec"), "wall_time": stats.get("wall_time")}
    with open(outdir / "metrics.json", "w", encoding="utf-8") as f:
        json.dump({**summary, "loss_history": stats.get("loss_history"),
                   "neighbours": {w: [[x, float(c)] for x, c in nb] for w, nb in neighbours.items()},
                   "similarities": [[a, b, float(c)] for a, b, c in sims]}, f, indent=1, default=float)
    res.data.update(summary=summary, neighbours=neighbours, similarities=sims, wv=wv,
                    history=stats.get("loss_history") or [], probes=probes)
    for w, nb in neighbours.items():
        print(f"nearest to {w!r}: " + ", ".join(f"{x} ({c:.2f})" for x, c in nb), flush=True)
    res.message = f"{summary['vocab_size']} words, {summary['words_per_sec']:,.0f} words/s"


def _stage_evolution(d: _Demo, res: StageResult):
    """Skip-gram on head500 with snapshots of king, queen, car, ... (tinygrad_lite_app/demo_evolution.py)."""
    from . import demo_evolution

    def skip(msg):
        raise _Skip(msg)
    demo_evolution.stage(d, res, skip)


def load_word_vectors(path):
    """Load skip-gram word vectors from a file or a directory holding vectors.tgl / vectors.txt.

    Accepts the tinygrad_lite format written by WordVectors.save and the word2vec text format.
    Raises FileNotFoundError for a missing path and ValueError for a file that is not vectors.
    """
    sg = _import("models.skipgram", "the skip-gram model (models/skipgram.py)")
    p = Path(path)
    if p.is_dir():
        for name in ("vectors.tgl", "vectors.txt"):
            if (p / name).is_file():
                p = p / name
                break
        else:
            raise FileNotFoundError(f"no word vectors in directory {p} (looked for vectors.tgl, vectors.txt); "
                                    "train some with `tinygrad-lite train skipgram --out DIR`")
    elif not p.exists():
        raise FileNotFoundError(f"word vectors not found: {p}")
    try:
        if p.suffix == ".txt":
            return sg.WordVectors.load_word2vec_format(str(p))
        return sg.WordVectors.load(str(p))
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except KeyError as e:
        raise ValueError(f"{p} does not hold word vectors (no {e.args[0]!r} entry): is it another model's "
                         "checkpoint? Give the vectors.tgl or vectors.txt written by `train skipgram --out`") from None
    except (ValueError, TypeError, EOFError, OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read word vectors from {p}: {e}") from None


# ---------------------------------------------------------------------------- GPT

def _gpt_text(d):
    """The embedded character corpus (Python's help topics), cut to the demo's size."""
    from models.chartext import load_text
    text = load_text(None)
    if d.s.gpt_text_chars:
        text = text[:d.s.gpt_text_chars]
    return text


def _stage_gpt(d: _Demo, res: StageResult):
    """Train a small character-level GPT; record losses, a sample and attention maps."""
    gpt = _import("models.gpt", "the GPT model (models/gpt.py)")
    from models.chartext import CharVocab, train_val_split
    import tinygrad_lite as tl
    tl.manual_seed(d.seed)
    text = _gpt_text(d)
    vocab = CharVocab.from_text(text)
    data = vocab.encode(text)
    train_data, val_data = train_val_split(data, 0.1)
    cfg = gpt.GPTConfig(vocab_size=len(vocab), block_size=d.s.gpt_block, n_layer=d.s.gpt_layers,
                        n_head=d.s.gpt_heads, n_embd=d.s.gpt_embd, dropout=0.0)
    model = gpt.GPT(cfg)
    budget = f", or {d.s.gpt_seconds:.0f} s if that comes first" if d.s.gpt_seconds else ""
    d.log(f"GPT: {model.num_params():,} parameters, {len(text):,} characters of Python's help text, "
          f"vocabulary {len(vocab)}; {d.s.gpt_steps} steps of {d.s.gpt_batch}x{cfg.block_size} characters{budget}")
    tc = gpt.TrainConfig(max_iters=d.s.gpt_steps, batch_size=d.s.gpt_batch, learning_rate=3e-3, min_lr=3e-4,
                         warmup_iters=30, eval_interval=max(1, d.s.gpt_steps // 8), eval_iters=d.s.gpt_eval_iters,
                         seed=d.seed + 1337)
    bar = _progress(d.s.gpt_steps, "gpt", "tok", d.quiet)
    m = gpt.train(model, train_data, val_data, tc, seconds=d.s.gpt_seconds,
                  on_step=lambda it, loss, lr, dt: bar.update(1, items=tc.batch_size * cfg.block_size, loss=loss,
                                                              lr=lr))
    bar.close()
    outdir = d.out / "gpt"
    outdir.mkdir(parents=True, exist_ok=True)
    final_val = m["val"][-1][2] if m["val"] else None
    gpt.save_checkpoint(str(outdir / "ckpt.pt"), model, vocab, {"iter": m["steps"], "val": final_val})
    prompt = "The "
    out = model.generate(vocab.encode(prompt)[None, :], d.s.sample_chars, temperature=0.8, generator=d.seed)
    sample = vocab.decode(out._data[0])
    summary = {"parameters": model.num_params(), "steps": m["steps"], "batch_size": d.s.gpt_batch,
               "block_size": cfg.block_size, "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
               "vocab_size": len(vocab), "final_train_loss": m["val"][-1][1] if m["val"] else None,
               "final_val_loss": final_val, "tokens_per_s": m["tokens_per_s"], "train_seconds": m["train_seconds"],
               "uniform_loss": math.log(len(vocab))}
    with open(outdir / "metrics.json", "w", encoding="utf-8") as f:
        json.dump({**summary, "train_loss": m["train_loss"], "val": m["val"], "sample": sample}, f, indent=1)
    (outdir / "sample.txt").write_text(sample, encoding="utf-8")
    res.data.update(summary=summary, history=m["train_loss"], val=m["val"], sample=sample,
                    model=model, vocab=vocab, text=text)
    stopped = f" (the {d.s.gpt_seconds:.0f} s budget ended the run)" if m["steps"] < d.s.gpt_steps else ""
    d.log(f"GPT: {m['steps']} steps in {m['train_seconds']:.0f} s{stopped}, validation loss {final_val:.3f} "
          f"(a uniform guess: {math.log(len(vocab)):.3f}); a sample:")
    print(sample if len(sample) < 400 else sample[:400] + "...", flush=True)
    res.message = f"{m['steps']} steps, val loss {final_val:.3f}" if final_val is not None else ""


def gpt_samples(gpt, ckpt, prompt="\n", max_new_tokens=300, temperature=0.8, top_k=None, num_samples=1, seed=1337):
    """Load a GPT checkpoint (module models.gpt as `gpt`) and return `num_samples` generated strings.

    Raises ValueError for a prompt with characters outside the vocabulary or a checkpoint
    without a vocabulary, and the checkpoint loader's error for a corrupt file.
    """
    try:
        model, vocab, _ = gpt.load_checkpoint(str(ckpt))
    except KeyError as e:
        raise ValueError(f"{ckpt} is not a GPT checkpoint (no {e.args[0]!r} entry): is it another model's? "
                         "Give the ckpt.pt written by `train gpt --out DIR`") from None
    except (ValueError, TypeError, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"cannot read GPT checkpoint {ckpt}: {e}") from None
    if vocab is None:
        raise ValueError(f"{ckpt} has no character vocabulary (it was not trained on text)")
    if not prompt:
        raise ValueError("--prompt is empty: give at least one character to continue")
    try:
        ids = vocab.encode(prompt)
    except ValueError as e:
        raise ValueError(f"--prompt: {e}") from None
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(num_samples):
        toks = model.generate(ids[None, :], max_new_tokens, temperature=temperature, top_k=top_k, generator=rng)
        out.append(vocab.decode(toks._data[0]))
    return out


# ---------------------------------------------------------------------------- graphs

def _stage_graphs(d: _Demo, res: StageResult):
    """Render the MLP step (forward, backward view) and one attention block; DOT files always."""
    viz = _import("viz", "the graph drawing package (viz/)")
    steps = _import("viz.steps", "the graph drawing package (viz/)")
    gdir = d.out / "graphs"
    gdir.mkdir(parents=True, exist_ok=True)
    jobs = [("mlp_forward", "mlp", dict(values=True), "MLP training step, forward: tensors with shapes, op "
                                                       "by op, parameters named after the module"),
            ("mlp_backward", "mlp", dict(backward=True, grads=True), "MLP training step, backward view: ops "
                                                                     "numbered in the order backward visits "
                                                                     "them, coloured by gradient size"),
            ("attention_block", "attention", dict(grads=True), "One causal self-attention block (2 heads): "
                                                               "Q, K, V projections, scores, mask, softmax"),
            ("skipgram_step", "skipgram", dict(values=True, grads=True), "The tutorial's skip-gram step with "
                                                                         "values and gradients")]
    made, explain, errors = [], {}, []
    res.data.update(graphs=made, explain=explain, errors=errors)
    for name, model, opts, caption in jobs:  # one failing graph does not stop the others
        try:
            dot_path = gdir / f"{name}.dot"
            steps.draw_step(model, dot_path, seed=d.seed, **opts)
            entry = {"name": name, "caption": caption, "dot": dot_path, "image": None}
            if d.has_dot:
                entry["image"] = gdir / f"{name}.svg"
                steps.draw_step(model, entry["image"], seed=d.seed, **opts)
            made.append(entry)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{name}: {type(e).__name__}: {e}")
            d.log(f"graph {name} failed: {e}")
    try:
        loss, naming, _ = steps.mlp_step(d.seed)
        loss.backward(retain_graph=True)
        explain["mlp"] = viz.explain_backward(loss, **naming)
        (gdir / "mlp_explain_backward.txt").write_text(explain["mlp"], encoding="utf-8")
    except Exception as e:  # noqa: BLE001
        errors.append(f"explain_backward(mlp): {type(e).__name__}: {e}")
    res.data["explorers"] = []
    for name in ("skipgram", "mlp", "attention") if d.has_dot else ():  # viz.explore pages (need dot's layout)
        try:
            from viz.explore import explore_step
            res.data["explorers"].append((name, explore_step(name, gdir / f"{name}_explorer.html", seed=d.seed).path))
        except Exception as e:  # noqa: BLE001
            errors.append(f"explore({name}): {type(e).__name__}: {e}")
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(jobs) + 1} graph jobs failed: " + "; ".join(errors))
    if not d.has_dot:
        res.message = "Graphviz 'dot' not found: DOT files written, pictures skipped"
        d.log(f"graphs: {res.message}. {GRAPHVIZ_HELP}")
    else:
        res.message = f"{len(made)} graphs"


# ---------------------------------------------------------------------------- plots

def _stage_plots(d: _Demo, res: StageResult):
    """Training curves, word-vector PCA and GPT attention heat maps as PNG files (viz.plots)."""
    plots = _import("viz.plots", "the plotting module (viz/plots.py)")
    pdir = d.out / "plots"
    pdir.mkdir(parents=True, exist_ok=True)
    made = []
    mlp_r, sg_r, gpt_r = (d.results.get(k) for k in ("mlp", "skipgram", "gpt"))
    if mlp_r and mlp_r.status == "ok" and mlp_r.data.get("history"):
        path = pdir / "mlp_curve.png"
        tl_ = mlp_r.data.get("test_loss") or None
        plots.plot_training_curves({"loss": mlp_r.data["history"]}, str(path), val_loss=tl_,
                                   title="MLP on digits: loss per epoch (val = held-out test images)")
        made.append(("mlp", path, "MLP training loss per epoch" + (" and loss on the test images" if tl_ else "")))
    if sg_r and sg_r.status == "ok" and sg_r.data.get("history"):
        path = pdir / "skipgram_curve.png"
        plots.plot_training_curves({"loss": sg_r.data["history"]}, str(path),
                                   title="Skip-gram: mean loss per (centre, context) pair, per epoch")
        made.append(("skipgram", path, "Skip-gram loss per epoch"))
    if sg_r and sg_r.status == "ok":
        wv = sg_r.data["wv"]
        words = list(sg_r.data["probes"])
        for w in list(words):
            words += [x for x, _ in sg_r.data["neighbours"].get(w, [])[:3]]
        words = list(dict.fromkeys(words))[:30]
        path = pdir / "word_vectors_pca.png"
        plots.plot_embeddings_pca(np.stack([wv[w] for w in words]), words, str(path),
                                  highlight=list(sg_r.data["probes"]), title="Skip-gram word vectors (PCA)")
        made.append(("skipgram", path, "Word vectors projected on their two principal components: "
                                       "probe words (highlighted) and their nearest neighbours"))
    if gpt_r and gpt_r.status == "ok":
        hist = gpt_r.data["history"]
        val = gpt_r.data["val"]
        path = pdir / "gpt_curve.png"
        plots.plot_training_curves({"loss": hist}, str(path), val_loss=[(v[0], v[2]) for v in val] or None,
                                   title="GPT: cross-entropy per character")
        made.append(("gpt", path, "GPT training loss per step and validation loss"))
        model, vocab = gpt_r.data["model"], gpt_r.data["vocab"]
        snippet = "def f(x):\n    return x"
        snippet = "".join(c for c in snippet if c in vocab.stoi)[:model.config.block_size]
        maps = _import("viz.attention", "the pictures package (viz/)").attention_weights(model, vocab.encode(snippet))
        path = pdir / "gpt_attention.png"
        labels = [{"\n": "\\n", " ": "\u2423"}.get(c, c) for c in snippet]  # newline and space made visible
        plots.plot_attention(maps[0], labels, str(path), title="GPT layer 0: attention weights per head")
        made.append(("gpt", path, f"Attention weights of the first layer on {snippet!r}: row = query "
                                  "position, column = key position (causal: nothing above the diagonal)"))
    res.data["plots"] = made
    res.message = f"{len(made)} plots"


# ---------------------------------------------------------------------------- semantic search

SEARCH_QUERIES = ("how do I catch an exception", "methods of strings such as split and join",
                  "anonymous function in an expression")


def _stage_search(d: _Demo, res: StageResult):
    """The pretrained all-MiniLM-L6-v2 (models/encoder.py) embeds the sections of Python's help topics
    (title and first sentence); a few questions find their sections; recall@5 of the labelled queries;
    the attention heat maps of one sentence, per head."""
    search = _import("models.search", "semantic search (models/search.py)")
    encoder = _import("models.encoder", "the sentence encoder (models/encoder.py)")
    try:
        model = encoder.SentenceEncoder.from_pretrained()
    except (FileNotFoundError, ImportError) as e:
        raise _Skip(f"{e} (`bash run.sh demo` installs the encoder's packages)") from None
    docs = search.pydoc_documents()
    if d.s.smoke_test:
        keep = {q for q in SEARCH_QUERIES}
        docs = [x for x in docs if any(search.is_answer(x["title"], a) for q, a in search.LABELLED_QUERIES
                                       if q in keep)] + docs[:12]
    corpus = d.out / "search" / "pydoc_sections.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    search.write_pydoc_corpus(corpus, docs, short=True)   # title + first sentence: short inputs, a quick stage
    t0 = time.perf_counter()
    texts, emb, _, reused = search.corpus_embeddings(model, corpus)
    res.data["embed_seconds"] = time.perf_counter() - t0
    res.data["reused"] = reused
    index = search.ExactIndex(emb)
    scores, ids = index.search(model.encode(list(SEARCH_QUERIES)), 3)
    res.data["results"] = [(q, [(docs[i]["title"], float(sc)) for i, sc in zip(row, srow)])
                           for q, row, srow in zip(SEARCH_QUERIES, ids, scores)]
    labelled = [(q, a) for q, a in search.LABELLED_QUERIES
                if not d.s.smoke_test or q in SEARCH_QUERIES]
    recall, rows = search.labelled_recall(model, docs, emb, k=5, queries=labelled)
    res.data["recall"], res.data["n_docs"], res.data["n_queries"] = recall, len(docs), len(labelled)
    tokens, weights = model.attention_weights("how do I catch an exception", layer=0)
    plots = _import("viz.plots", "the plotting module (viz/plots.py)")
    path = d.out / "plots" / "encoder_attention.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    plots.plot_attention(weights[:4], tokens, str(path), title="all-MiniLM-L6-v2 layer 0: attention per head")
    res.data["plot"] = path
    res.message = f"{len(docs)} sections; labelled queries recall@5 {recall:.2f} ({len(labelled)} queries)"


# ---------------------------------------------------------------------------- progress bar

class _NullBar:
    """A progress bar that shows nothing (--quiet)."""

    def update(self, *a, **k):
        """Ignore an update."""

    def close(self):
        """Nothing to close."""


def _progress(total, desc, unit, quiet):
    """models.progress.Progress when available (and not quiet), else a silent stand-in."""
    if quiet:
        return _NullBar()
    try:
        from models.progress import Progress
    except ImportError:
        return _NullBar()
    return Progress(total=total, desc=desc, unit=unit)


# ============================================================================================ report

def _status_box(sec, r):
    """An error/skip box for a stage that did not complete; True if the stage is ok."""
    if r is None:
        sec.note("This stage did not run.", kind="error")
        return False
    if r.status == "failed":
        sec.note(f"This stage failed: {r.message} (the traceback is in errors.log).", kind="error")
        return False
    if r.status == "skipped":
        sec.note(f"Skipped: {r.message}")
        return False
    return True


def _plots_for(d, key):
    pr = d.results.get("plots")
    return [(p, c) for k, p, c in (pr.data.get("plots", []) if pr else []) if k == key]


def write_report(d: _Demo, total_seconds):
    """Write d.out/report.html from the stage results; returns its path."""
    from .report import Report
    s = d.s
    rep = Report("tinygrad_lite demo", subtitle="Three models trained from scratch with a numpy autograd engine: "
                 "an MLP on handwritten digits, skip-gram word vectors and a character-level GPT, with pictures "
                 "of their computation graphs.")
    ov = rep.section("Overview")
    kind = "--fast (tiny smoke-test sizes: the numbers mean little)" if s.smoke_test else "full demo"
    ov.text(f"Settings: {kind}; "
            f"seed {d.seed}; total wall time {total_seconds:.1f} s.")
    ov.table(["stage", "status", "seconds", "result"],
             [[r.name, r.status, round(r.seconds, 1), r.message] for r in d.results.values()])

    # --- MLP
    sec = rep.section("MLP on the digits", intro="A multi-layer perceptron (weighted sums, bias, activation) "
                      "classifies scikit-learn's bundled 8x8 images of handwritten digits (1,797 images, a fixed "
                      "train/test split).")
    r = d.results.get("mlp")
    if _status_box(sec, r):
        m = r.data.get("metrics") or {}
        rows = [[k.replace("_", " "), v] for k, v in m.items() if isinstance(v, (int, float))
                and not isinstance(v, bool)]
        if r.data.get("accuracy") is not None:
            sec.html(f'<p class="ok"><b>Test accuracy: {100 * r.data["accuracy"]:.2f}%</b></p>')
        sec.table(["metric", "value"], rows)
        if r.data.get("confusion") is not None:
            cm = r.data["confusion"]
            sec.heading("Confusion matrix on the test images (row: true digit, column: predicted)")
            sec.table(["true \\ predicted"] + [str(j) for j in range(10)],
                      [[str(i)] + [int(v) for v in cm[i]] for i in range(10)])
        for p, c in _plots_for(d, "mlp"):
            sec.image(p, c, max_width=700)

    # --- skip-gram
    sec = rep.section("Skip-gram word vectors", intro="Skip-gram with negative sampling (word2vec's recipe) learns "
                      "a vector per word from the text of Python's own help pages (pydoc_data, shipped with "
                      "Python): words used in similar contexts get similar vectors.")
    r = d.results.get("skipgram")
    if _status_box(sec, r):
        sec.table(["metric", "value"], [[k.replace("_", " "), v] for k, v in r.data["summary"].items()
                                        if v is not None])
        sec.heading("Nearest neighbours (cosine similarity)")
        sec.table(["word"] + [f"#{i + 1}" for i in range(5)],
                  [[w] + [f"{x} ({c:.2f})" for x, c in nb] for w, nb in r.data["neighbours"].items()])
        if r.data["similarities"]:
            sec.heading("Similarity of a few pairs")
            sec.table(["word a", "word b", "cosine"], [[a, b, c] for a, b, c in r.data["similarities"]])
        for p, c in _plots_for(d, "skipgram"):
            sec.image(p, c, max_width=800)

    from . import demo_evolution
    demo_evolution.report_section(rep, d, _status_box)

    # --- GPT
    sec = rep.section("Character-level GPT", intro="A small decoder-only transformer (token and position "
                      "embeddings, pre-LayerNorm blocks of causal multi-head attention and a GELU MLP) learns to "
                      "predict the next character of Python's help text. AdamW, warmup and cosine decay, "
                      "gradient clipping.")
    r = d.results.get("gpt")
    if _status_box(sec, r):
        sm = r.data["summary"]
        sec.table(["metric", "value"], [[k.replace("_", " "), v] for k, v in sm.items() if v is not None])
        sec.text(f"A uniform guess over the {sm['vocab_size']} characters has loss ln {sm['vocab_size']} = "
                 f"{sm['uniform_loss']:.3f}; the validation loss is measured on the last 10% of the text, "
                 "which the model never trained on.")
        if r.data.get("val"):
            sec.heading("Loss during training (mean over a few batches of each split)")
            sec.table(["step", "train loss", "validation loss"], [[int(i), a, b] for i, a, b in r.data["val"]])
        sec.heading("A generated sample (temperature 0.8, prompt 'The ')")
        sec.pre(r.data["sample"])
        for p, c in _plots_for(d, "gpt"):
            sec.image(p, c, max_width=900)

    # --- graphs
    sec = rep.section("Computation graphs", intro="Drawn by viz.draw_graph from the tensors of a real training "
                      "step: tensors with their names and shapes, the ops between them, and (in the backward view) "
                      "the order in which backpropagation visits the ops, coloured by gradient size.")
    r = d.results.get("graphs")
    if _status_box(sec, r) or (r is not None and r.data.get("graphs")):
        if not d.has_dot:
            sec.note("Graph pictures were skipped: Graphviz's 'dot' program is not installed. The DOT source of "
                     "each graph is in graphs/*.dot. " + GRAPHVIZ_HELP)
        for g in r.data["graphs"]:
            sec.heading(g["caption"])
            if g["image"] is not None:
                sec.image(g["image"], f"{g['name']}.svg (DOT source: graphs/{g['name']}.dot)")
            else:
                sec.text(f"DOT source: graphs/{g['name']}.dot")
        if r.data.get("explain", {}).get("mlp"):
            sec.heading("The MLP's backward pass, step by step (viz.explain_backward)")
            sec.pre(r.data["explain"]["mlp"])
        if r.data.get("explorers"):
            import html as _html
            sec.heading("Step through the backward pass in your browser (viz.explore)")
            sec.html("<p>Interactive pages (self-contained; open them from disk): each op forward, then each op "
                     "backward in the engine's order, with its rule applied to the numbers and the sums where "
                     "gradients accumulate.</p><ul>" + "".join(
                         f'<li><a href="{_html.escape(str(Path(p).relative_to(d.out)))}">{_html.escape(n)}: '
                         f"{_html.escape(str(Path(p).relative_to(d.out)))}</a></li>" for n, p in r.data["explorers"])
                     + "</ul>")
    # --- semantic search
    sec = rep.section("Semantic search", intro="A pretrained transformer encoder (all-MiniLM-L6-v2: 6 BERT layers, "
                      "384 dimensions), written with tinygrad_lite and loading the published weights, maps each "
                      "section of Python's help topics and each question to a unit vector; the sections are ranked "
                      "by cosine similarity to the question (`tinygrad-lite search`).")
    r = d.results.get("search")
    if _status_box(sec, r):
        sec.text(f"{r.data['n_docs']} sections embedded in {r.data['embed_seconds']:.1f} s"
                 f"{' (cached from an earlier run)' if r.data['reused'] else ''}; recall@5 of "
                 f"{r.data['n_queries']} labelled questions: {r.data['recall']:.2f}.")
        sec.table(["question", "#1", "#2", "#3"],
                  [[q] + [f"{t} ({c:.2f})" for t, c in top] for q, top in r.data["results"]])
        sec.image(r.data["plot"], "Attention weights of the first layer, four of its twelve heads: row = query "
                  "token, column = key token (both directions: an encoder sees the whole sentence)", max_width=900)
    pr = d.results.get("plots")
    if pr is not None and pr.status != "ok":
        sec = rep.section("Plots")
        _status_box(sec, pr)

    # --- files and environment
    sec = rep.section("Files and environment")
    files = sorted(str(p.relative_to(d.out)) for p in d.out.rglob("*") if p.is_file() and p.name != "report.html")
    sec.table(["file", "bytes"], [[f, (d.out / f).stat().st_size] for f in files])
    env = [["python", platform.python_version()], ["numpy", np.__version__], ["platform", platform.platform()],
           ["Graphviz dot", _dot_version() if d.has_dot else "not installed (graph pictures skipped)"]]
    sec.table(["component", "version"], env)
    sec.heading("Next steps")
    sec.pre("\n".join(next_commands(d.out, s.smoke_test, d.seed)))
    return rep.write(d.out / "report.html")


def _cli_name():
    """How to call the command line from here: `tinygrad-lite` if it is on PATH, else its path."""
    if shutil.which("tinygrad-lite"):
        return "tinygrad-lite"
    exe = Path(sys.prefix) / "bin" / "tinygrad-lite"
    if exe.exists():
        try:
            return os.path.relpath(exe)
        except ValueError:
            return str(exe)
    return "python -m tinygrad_lite_app"


def next_commands(out, fast, seed):
    """Commands worth trying after a demo run that wrote into `out` (lines of text)."""
    cli = _cli_name()
    return [f"{cli} demo{' --fast' if fast else ''} --seed {seed} --out {out}    # run this demo again",
            f"{cli} sample {Path(out) / 'gpt'} --prompt 'The ' --max-new-tokens 400   # more text from the GPT",
            f"{cli} similar {Path(out) / 'skipgram'} function class --analogy list append dict   # word vectors",
            f"{cli} graph --model attention --backward --grads --out attention.svg     # draw a training step",
            f"{cli} train gpt --help                                                   # train one model yourself",
            "docs/tutorial.md: backpropagation through one skip-gram step, by engine and by hand"]


def _dot_version():
    import subprocess
    try:
        p = subprocess.run(["dot", "-V"], capture_output=True, text=True, timeout=10)
        return (p.stderr or p.stdout).strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ============================================================================================ entry point

def run(out="out/demo", fast=False, seed=0, quiet=False, settings=None):
    """Run the whole demo into directory `out`; returns the exit status (0 when every stage worked)."""
    t0 = time.perf_counter()
    d = _Demo(out, settings or (Settings.fast() if fast else Settings.full()), seed, quiet)
    d.out.mkdir(parents=True, exist_ok=True)
    if d.errors_log.exists():
        d.errors_log.unlink()
    os.environ.setdefault("MPLBACKEND", "Agg")
    d.log(f"writing to {d.out}/ ({'fast smoke-test settings' if fast else 'about two minutes on 2 cores'})")
    from models.progress import limit_blas_threads, reuse_freed_memory
    reuse_freed_memory()
    with limit_blas_threads(1):  # these matrices are small: one BLAS thread is faster, and much faster on a busy machine
        d.stage("mlp", "MLP on the digits", lambda r: _stage_mlp(d, r))
        d.stage("skipgram", "Skip-gram word vectors", lambda r: _stage_skipgram(d, r))
        d.stage("evolution", "Embedding space evolving", lambda r: _stage_evolution(d, r))
        d.stage("gpt", "Character-level GPT", lambda r: _stage_gpt(d, r))
        d.stage("graphs", "Computation graphs", lambda r: _stage_graphs(d, r))
        d.stage("plots", "Plots", lambda r: _stage_plots(d, r))
        d.stage("search", "Semantic search", lambda r: _stage_search(d, r))
    total = time.perf_counter() - t0
    path = write_report(d, total)
    failed = [r.name for r in d.results.values() if r.status == "failed"]
    d.log(f"summary (total {total:.0f} s):")
    for r in d.results.values():
        d.log(f"  {r.name:<24s} {r.status:<7s} {r.seconds:6.1f} s  {r.message}")
    d.log(f"report: {path}  (open it in a browser: {path.resolve().as_uri()})")
    if not failed:
        d.log("next: " + "\n[demo]       ".join(next_commands(d.out, d.s.smoke_test, seed)[1:3]))
    if failed:
        print(f"tinygrad-lite demo: {len(failed)} stage(s) failed: {', '.join(failed)}; "
              f"see {d.errors_log} and the report", file=sys.stderr)
        return 1
    return 0
