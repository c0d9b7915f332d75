"""One training step of each example model, tiny, for pictures: the CLI's `graph`, the demo's graphs,
the docs' examples and the explorer all draw these.

    loss, naming, title = STEPS["mlp"](seed=0)      # naming: model=... or params=... for draw_graph
    path, info = draw_step("attention", "attn.svg", backward=True, grads=True)

Each builder returns the step's loss (forward done, backward not yet), the keyword arguments that
name its parameters in `draw_graph` (`model=` a Module, or `params=` a dict), and a title.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F

GRAPH_FORMATS = (".svg", ".png", ".pdf", ".dot", ".gv")

# The tutorial's example: vocabulary king, queen, car; centre 'king', context 'queen'.
KING_QUEEN_CAR = dict(W_e=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]],
                      W_o=[[0.2, 0.3, 0.4], [0.5, 0.6, 0.7], [0.8, 0.9, 1.0]], b_o=[0.1, 0.1, 0.1])


def skipgram_step(seed=0):
    """The tutorial's three-word skip-gram step (docs/tutorial.md), op for op and number for number:
    e = W_e[king], s = e @ W_o + b_o, log_p = s.log_softmax(dim=-1), loss = -(y * log_p).sum() with the
    one-hot y of 'queen', in float64. The tensors carry the tutorial's names (Tensor.name)."""
    W_e, W_o, b_o = (tl.tensor(KING_QUEEN_CAR[k], dtype=tl.float64, requires_grad=True) for k in ("W_e", "W_o", "b_o"))
    e = W_e[0]                                  # centre word 'king'
    s = e @ W_o + b_o                           # one score per word
    log_p = s.log_softmax(dim=-1)
    y = tl.tensor(np.eye(3)[1])                 # one-hot context word 'queen'
    loss = -(y * log_p).sum()
    for t, name in ((e, "e"), (s, "s"), (log_p, "log_p"), (y, "y"), (loss, "loss")):
        t.name = name
    params = {"W_e": W_e, "W_o": W_o, "b_o": b_o}
    return loss, {"params": params}, "skip-gram step: centre 'king', context 'queen' (vocabulary king, queen, car)"


def attention_step(seed=0):
    """One causal multi-head attention block (2 heads, 8 features, 4 tokens) with an MSE loss."""
    from models.attention import MultiHeadAttention
    tl.manual_seed(seed)
    block = MultiHeadAttention(8, 2)
    x = tl.randn(1, 4, 8)
    target = tl.randn(1, 4, 8)
    out, _ = block(x, causal=True)
    loss = F.mse_loss(out, target)
    return loss, {"model": block}, "one causal self-attention block: 2 heads, 4 tokens of 8 features, MSE loss"


def gpt_step(seed=0):
    """A 2-layer GPT (16 features, 2 heads) on a batch of 2 random sequences of 7 tokens."""
    from models.gpt import GPT, GPTConfig
    tl.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=12, block_size=8, n_layer=2, n_head=2, n_embd=16))
    idx = np.random.default_rng(seed).integers(0, 12, size=(2, 8))
    _, loss = model(tl.Tensor(idx[:, :-1]), tl.Tensor(idx[:, 1:]))
    return loss, {"model": model}, "GPT training step: 2 layers, 2 heads, 16 features, 7 tokens, batch 2"


def mlp_step(seed=0):
    """The MLP classifier (64 -> 16 -> 10, ReLU) on a batch of 4 digits with cross-entropy."""
    from models.mlp import MLP
    tl.manual_seed(seed)
    model = MLP([64, 16, 10])
    x, y = digits_batch(4, seed)
    loss = F.cross_entropy(model(tl.Tensor(x)), tl.Tensor(y))
    return loss, {"model": model}, "MLP training step: 64 pixels -> 16 hidden (ReLU) -> 10 classes, batch 4"


def digits_batch(n, seed):
    """n digit images (n, 64) float32 scaled to [0, 1] and labels (n,), from scikit-learn if present."""
    rng = np.random.default_rng(seed)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return rng.random((n, 64), dtype=np.float32), rng.integers(0, 10, n)
    d = load_digits()
    i = rng.choice(len(d.target), n, replace=False)
    return (d.data[i] / 16.0).astype(np.float32), d.target[i].astype(np.int64)


STEPS = {"mlp": mlp_step, "skipgram": skipgram_step, "attention": attention_step, "gpt": gpt_step}


def module_names(naming):
    """The module paths of a step's model ('' excluded), top-level ones first; [] when it has none."""
    model = naming.get("model")
    names = [name for name, _ in model.named_modules() if name] if model is not None else []
    return sorted(names, key=lambda name: name.count("."))


def draw_step(name, out, *, backward=False, values=False, grads=False, saved=False, rankdir="TB",
              collapse=None, collapse_depth=None, max_nodes=None, seed=0, explain=False):
    """Draw one training step of the example `name` (a key of STEPS) to the file `out`.

    The format follows the extension (.svg, .png, .pdf; .dot/.gv writes DOT text without Graphviz);
    missing parent directories are created. The GPT is drawn with each block collapsed unless
    `collapse` or `collapse_depth` says otherwise. Returns (path, info): info has 'title', 'edges'
    and, with explain=True, 'explain' (viz.explain_backward's text). Raises ValueError for an
    unknown example, format or collapse path, and viz.GraphvizNotInstalled when `dot` is needed.
    """
    from . import draw_graph, explain_backward, render
    if name not in STEPS:
        raise ValueError(f"unknown example {name!r}; choose from {', '.join(STEPS)}")
    out = Path(out)
    if out.suffix.lower() not in GRAPH_FORMATS:
        raise ValueError(f"{str(out)!r}: unsupported extension {out.suffix or '(none)'}; "
                         "use .svg, .png, .pdf or .dot")
    loss, naming, title = STEPS[name](seed)
    if collapse:
        _check_collapse_paths(name, naming, collapse)
    if name == "gpt" and collapse_depth is None and not collapse:
        collapse_depth = 2                      # the whole GPT op by op is too big to read
    if grads or backward or explain:
        loss.backward(retain_graph=True)
    kw = dict(show_values=values, show_grads=grads, show_saved=saved, backward=backward, collapse=collapse,
              collapse_depth=collapse_depth, rankdir=rankdir, title=title, **naming)
    if max_nodes is not None:
        kw["max_nodes"] = max_nodes
    dot = draw_graph(loss, **kw)
    out.parent.mkdir(parents=True, exist_ok=True)
    render(dot, str(out))
    info = {"title": title, "edges": dot.source.count("->")}
    if explain:
        info["explain"] = explain_backward(loss, **naming)
    return out, info


def _check_collapse_paths(name, naming, paths):
    """Every collapse path must name a module of the example's model (else nothing would change)."""
    known = module_names(naming)
    if not known:
        raise ValueError(f"--collapse: the {name} graph has no modules to collapse (its parameters are named "
                         "one by one); use it with mlp, attention or gpt")
    unknown = [p for p in paths if p not in known]
    if unknown:
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise ValueError(f"--collapse: no module {', '.join(map(repr, unknown))} in the {name} model; "
                         f"its modules are: {shown}")
