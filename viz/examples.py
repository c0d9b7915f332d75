"""Example pictures for the docs: `python -m viz.examples docs/img`.

Writes small SVGs (and, with --png, PNG copies to look at) of:
  neuron          tanh(w·x + b) with values and gradients (micrograd's example, with shapes and names)
  mlp_forward     a 2-layer MLP (nn.Linear/ReLU) training step, grouped by module
  mlp_backward    the same graph in the backward view (visiting order, rules, gradient colours)
  skipgram_step   one skip-gram (softmax) step on a 3-word vocabulary
  attention_block one GPT transformer block (pre-LayerNorm attention + MLP), module clusters
  gpt_collapsed   the 4-layer GPT training graph with every block collapsed into one box
and matplotlib plots (`plots`, about half a minute of training): training curves, attention heat
maps of a small trained GPT, and a PCA of its token embeddings; `word_vectors`: the demo's PCA of
skip-gram word vectors (demo_word_vectors_pca.png). Also neuron_backward.txt (explain_backward of
the neuron).
"""
import argparse
import os
import sys

import numpy as np

import tinygrad_lite as tl

from . import draw_graph, explain_backward, render, trace_modules


PNG_COPIES = [False]


def _save(dot, out, name):
    paths = [render(dot, os.path.join(out, f"{name}.svg"))]
    if PNG_COPIES[0]:
        paths.append(render(dot, os.path.join(out, f"{name}.png")))
    return paths


def neuron(out):
    """tanh(w·x + b) with x = [2, 0], w = [-3, 1], b = 6.88: values and gradients."""
    x = tl.tensor([2.0, 0.0])
    x.name = "x"
    w = tl.tensor([-3.0, 1.0], requires_grad=True)
    b = tl.tensor(6.8813735870195432, requires_grad=True)
    o = ((w * x).sum() + b).tanh()
    o.name = "o = tanh(w·x + b)"
    o.backward(retain_graph=True)
    dot = draw_graph(o, params={"w": w, "b": b}, show_values=True, show_grads=True,
                     title="a neuron: tanh(w·x + b), values and gradients")
    with open(os.path.join(out, "neuron_backward.txt"), "w", encoding="utf-8") as f:
        f.write(explain_backward(o, params={"w": w, "b": b}))
    return _save(dot, out, "neuron")


def mlp(out):
    """A 2-layer MLP classifier step: Linear(4, 8) -> ReLU -> Linear(8, 3) -> cross entropy."""
    import tinygrad_lite.nn as nn
    import tinygrad_lite.nn.functional as F
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = tl.randn(16, 4)
    x.name = "x (batch)"
    y = tl.tensor(np.arange(16) % 3)
    with trace_modules(model) as tr:
        loss = F.cross_entropy(model(x), y)
    paths = _save(draw_graph(loss, model=model, trace=tr, title="MLP training step (forward)"), out, "mlp_forward")
    loss.backward(retain_graph=True)
    dot = draw_graph(loss, model=model, trace=tr, backward=True, show_grads=True,
                     title="MLP training step: backward view")
    return paths + _save(dot, out, "mlp_backward")


def skipgram(out):
    """One skip-gram step: scores = W_e[centre] @ W_o + b_o, loss = -log softmax(scores)[context]."""
    from .steps import skipgram_step
    loss, naming, _ = skipgram_step()
    loss.backward(retain_graph=True)
    dot = draw_graph(loss, **naming, show_values=True, show_grads=True,
                     title="skip-gram step: centre 'king', context 'queen'")
    return _save(dot, out, "skipgram_step")


def _gpt(n_layer=4):
    from models.gpt import GPT, GPTConfig
    tl.manual_seed(0)
    return GPT(GPTConfig(vocab_size=32, block_size=16, n_layer=n_layer, n_head=2, n_embd=32))


def attention_block(out):
    """One transformer block of the GPT on a (2, 8, 32) input."""
    m = _gpt(1)
    block = m.h[0]
    x = tl.randn(2, 8, 32, requires_grad=True)
    x.name = "x (B, T, C)"
    with trace_modules(block) as tr:
        y = block(x)
    loss = y.sum()
    loss.name = "y.sum()"
    dot = draw_graph(loss, model=block, trace=tr, title="one GPT block: x + attn(ln_1(x)), then x + mlp(ln_2(x))")
    return _save(dot, out, "attention_block")


def gpt_collapsed(out):
    """The 4-layer GPT's training graph, each block collapsed into one box, backward view."""
    m = _gpt(4)
    idx = tl.tensor(np.random.default_rng(0).integers(0, 32, (2, 16)))
    with trace_modules(m) as tr:
        _, loss = m(idx, idx)
    loss.backward(retain_graph=True)
    dot = draw_graph(loss, model=m, trace=tr, collapse_depth=2, backward=True,
                     title="4-layer GPT training step (blocks collapsed), backward view")
    return _save(dot, out, "gpt_collapsed")


def plots(out):
    """Training curves, attention heat maps and a PCA of token embeddings of a small char GPT trained
    for about half a minute on Python's help text (enough for the heads to specialise)."""
    from models.chartext import CharVocab, default_text
    from models.gpt import GPT, GPTConfig, TrainConfig, train
    from .attention import attention_weights
    from .plots import plot_attention, plot_embeddings_pca, plot_training_curves
    text = default_text()
    vocab = CharVocab.from_text(text) if hasattr(CharVocab, "from_text") else CharVocab(sorted(set(text)))
    data = np.asarray(vocab.encode(text), np.int64)
    n = int(len(data) * 0.9)
    tl.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(vocab.chars) if hasattr(vocab, "chars") else len(vocab), block_size=32,
                          n_layer=2, n_head=4, n_embd=64))
    tc = TrainConfig(max_iters=800, batch_size=32, learning_rate=3e-3, warmup_iters=30, eval_interval=100,
                     eval_iters=8)
    metrics = train(model, data[:n], data[n:], tc)
    paths = [plot_training_curves(metrics, os.path.join(out, "training_curves.png"),
                                  title="small char GPT: loss and validation loss")]
    # attention weights: the softmax results of one forward pass, as the model computed them
    sample = "if x is None:\n    return"
    sample = "".join(c for c in sample if c in vocab.stoi) if hasattr(vocab, "stoi") else sample
    att = attention_weights(model, vocab.encode(sample))
    paths.append(plot_attention(att[0], list(sample), os.path.join(out, "attention_heads.png"),
                                title="attention weights, layer 1 (per head)"))
    chars = vocab.chars if hasattr(vocab, "chars") else [vocab.decode([i]) for i in range(len(vocab))]
    labels = [repr(c)[1:-1] if c.strip() == "" else c for c in chars]
    paths.append(plot_embeddings_pca(model.wte.weight._data, labels, os.path.join(out, "embeddings_pca.png"),
                                     highlight=[c for c in "aeiou"], max_labels=len(labels),
                                     title="token embeddings (PCA): vowels highlighted"))
    return paths


def word_vectors(out):
    """The demo's word-vector picture (demo_word_vectors_pca.png): skip-gram with the demo's settings
    on its corpus (a few seconds), its probe words highlighted with their nearest neighbours."""
    from models.skipgram import train_sgns
    from models.text import default_corpus
    from tinygrad_lite_app.demo import PROBE_WORDS, Settings

    from .plots import plot_embeddings_pca
    s = Settings()
    model, _ = train_sgns(default_corpus(), dim=s.sg_dim, window=s.sg_window, negative=s.sg_negative,
                          min_count=s.sg_min_count, epochs=s.sg_epochs, seed=0, progress=False)
    wv = model.wv
    probes = [w for w in PROBE_WORDS if w in wv][:6]  # as the demo chooses them
    words = list(probes)
    for w in probes:
        words += [x for x, _ in wv.most_similar(w, topn=5)[:3]]
    words = list(dict.fromkeys(words))[:30]
    return [plot_embeddings_pca(np.stack([wv[w] for w in words]), words,
                                os.path.join(out, "demo_word_vectors_pca.png"), highlight=probes,
                                title="Skip-gram word vectors (PCA)")]


EXAMPLES = {"neuron": neuron, "mlp": mlp, "skipgram": skipgram, "attention_block": attention_block,
            "gpt_collapsed": gpt_collapsed, "plots": plots, "word_vectors": word_vectors}


def main(argv=None):
    """python -m viz.examples OUT_DIR [--only NAME ...] [--png]"""
    ap = argparse.ArgumentParser(prog="python -m viz.examples", description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="docs/img")
    ap.add_argument("--only", nargs="*", choices=sorted(EXAMPLES))
    ap.add_argument("--png", action="store_true", help="also write PNG copies of the graph pictures")
    a = ap.parse_args(argv)
    PNG_COPIES[0] = a.png
    os.makedirs(a.out, exist_ok=True)
    for name in a.only or EXAMPLES:
        for p in EXAMPLES[name](a.out):
            print(f"{p}  ({os.path.getsize(p) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
