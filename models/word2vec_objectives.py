"""word2vec's architectures and objectives, every gradient derived by the engine's autograd.

Two architectures (what predicts what):

* ``skipgram``: each context word's input vector x = W_in[context] predicts the centre word (as in
  word2vec's code: one prediction per (centre, context) pair);
* ``cbow``: the mean of the context words' input vectors, h = mean_c W_in[context_c], predicts the
  centre word (one prediction per centre position).

Four objectives (how a prediction of the centre word w from a vector x is scored):

* ``negative`` (negative sampling): -log sig(x . W_out[w]) - sum_k log sig(-x . W_out[n_k]) over K
  noise words n_k ~ count^0.75;
* ``hs`` (hierarchical softmax): -sum_l log sig((1 - 2 code_l) x . W_out[point_l]) along w's path
  in a Huffman tree over the vocabulary (`models.huffman.HuffmanTree`); W_out holds the V - 1
  inner nodes' vectors (plus one padding row that never gets a gradient), and only the rows of the
  batch's paths get a (row-sparse) gradient;
* ``softmax``: -log softmax(x W_out^T)[w], the textbook model over the whole vocabulary. Its cost
  per prediction is O(V d) and W_out's gradient is dense, so it is for small vocabularies (the
  trainer says so, with an estimate, above `SOFTMAX_SLOW_VOCAB` words). Every output row takes part
  in every prediction, so its batched steps are capped like hierarchical softmax's (below);
* ``contrastive``: InfoNCE on cosine similarity. With u = x / |x| and v_k = W_out[t_k] / |W_out[t_k]|
  for t = (w, n_1..n_K) (the centre and K noise words), the loss is
  -log( exp(u . v_0 / tau) / sum_k exp(u . v_k / tau) ), tau the temperature (default 0.1).
  The loss depends on the vectors only through their cosines, so training shapes the angles
  directly (SGNS's dot products also reward length); both tables start random with unit-scale
  rows, because a cosine has no gradient direction at a zero vector.

Batches come from `models.skipgram.PairBatches` (subsampling, reduced windows, noise words), one
SGD step per batch with word2vec's linearly decaying learning rate, as `train_sgns`.
`train_word2vec(sentences, arch=..., loss=...)` trains any combination; `Snapshots` records chosen
words' vectors and chosen pairs' cosines while training (for `viz.embedding_evolution`).

Batched hierarchical softmax: the inner nodes near the root lie on nearly every path, so one batch
sums thousands of gradient terms into their rows in one step where word2vec applies them one by
one; the trainer scales each inner node's summed gradient by min(1, HS_ROW_CAP / its uses in the
batch) between backward and the SGD step (`Word2Vec.cap_shared_rows`; without it skip-gram + hs
diverges on head500, with it it matches gensim). Full softmax shares rows even more: each output
row v gets sum_b (p_bv - y_bv) x_b from all P predictions of a batch, so its "uses" are the mass
sum_b |p_bv - y_bv| (read from the logits' gradient), and each input row's uses are its
predictions; both are capped the same way (without it skip-gram + softmax diverges within ~40
batches of 512 centres). The gradients themselves are the engine's.

CBOW's gradient convention: word2vec (and gensim with cbow_mean=1) averages the context vectors in
the forward pass but adds the *undivided* error to every context vector. Autograd through a mean
would divide it by the number of context words; `cbow_grad="word2vec"` (the default) keeps
word2vec's update with an expression the engine differentiates as such:
h = S - stop_gradient(S (1 - 1/n)) (forward S/n, derivative 1 w.r.t. the sum S), with
S = F.embedding_bag(ctx, W_in, mode="sum", padding_idx=V) (one engine row: gather, sum, row-sparse
backward). `cbow_grad="mean"` is the plain mean, F.embedding_bag(mode="mean") (smaller steps for
the input vectors).
"""
import functools
import math
import sys
import time

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor, optim
from tinygrad_lite.nn import functional as F
from tinygrad_lite.sparse import embedding, embedding_dot

from .argtypes import float_in, int_at_least
from .guard import check_loss
from .huffman import HuffmanTree
from .progress import Progress
from .skipgram import PairBatches, WordVectors, cosine
from .text import Vocab

__all__ = ["ARCHS", "LOSSES", "SOFTMAX_SLOW_VOCAB", "Word2Vec", "Snapshots", "train_word2vec",
           "DEFAULT_SNAPSHOT_WORDS", "DEFAULT_SNAPSHOT_PAIRS", "softmax_cost_note"]

ARCHS = ("skipgram", "cbow")
LOSSES = ("negative", "hs", "softmax", "contrastive")
SOFTMAX_SLOW_VOCAB = 2000
HS_ROW_CAP = 64  # see Word2Vec.cap_shared_rows
DEFAULT_LR = {"negative": 0.025, "hs": 0.025, "softmax": 0.025, "contrastive": 0.025}
DEFAULT_SNAPSHOT_WORDS = ("king", "queen", "man", "woman", "prince", "princess", "car", "truck", "road",
                          "city", "village", "music")
DEFAULT_SNAPSHOT_PAIRS = (("king", "queen"), ("man", "woman"), ("king", "car"), ("queen", "car"),
                          ("car", "truck"), ("city", "village"))


def _check_choice(what, value, allowed):
    if value not in allowed:
        raise ValueError(f"word2vec: {what} must be one of {', '.join(allowed)}; got {value!r}")


def softmax_cost_note(V, dim, pairs_per_epoch):
    """A one-line warning about the full softmax's cost for a vocabulary of V words (str)."""
    flops = 6.0 * V * dim * pairs_per_epoch  # forward + backward of (pairs, d) @ (d, V)
    return (f"full softmax over V={V} words costs O(V*d) = {V * dim:,} multiply-adds per prediction "
            f"(~{flops / 1e9:,.0f} GFLOP per epoch here, minutes per epoch on one core); it is meant for small "
            f"vocabularies (< {SOFTMAX_SLOW_VOCAB}); use --loss negative or --loss hs for large ones")


class Word2Vec:
    """word2vec model: input vectors W_in, output vectors W_out, one architecture and objective.

    vocab: `models.text.Vocab` (V words); dim: d; arch in ARCHS; loss in LOSSES; temperature: the
    contrastive loss's tau. Parameters (leaf Tensors, float32, requires_grad):
      W_in  (V + 1, d): input vectors ~ U(-0.5/d, 0.5/d) (contrastive: N(0, 1/d)), row V = padding (zero);
      W_out (V, d):     negative/softmax: output vectors (zero); contrastive: N(0, 1/d);
                        hs: rows 0..V-2 the Huffman tree's inner nodes (zero), row V-1 padding.
    `tree` is the HuffmanTree for loss 'hs' (else None); `wv` the input vectors as WordVectors.
    """

    def __init__(self, vocab, dim=100, arch="skipgram", loss="negative", seed=0, temperature=0.1):
        _check_choice("arch", arch, ARCHS)
        _check_choice("loss", loss, LOSSES)
        V = len(vocab)
        if loss == "hs" and V < 2:
            raise ValueError(f"word2vec: hierarchical softmax needs at least 2 words in the vocabulary, got {V}")
        if not temperature > 0:
            raise ValueError(f"word2vec: temperature must be > 0, got {temperature}")
        self.vocab, self.dim, self.arch, self.loss_name = vocab, dim, arch, loss
        self.temperature = float(temperature)
        self.pad = V
        rng = np.random.default_rng(seed)
        w_in = np.zeros((V + 1, dim), np.float32)
        if loss == "contrastive":
            w_in[:V] = rng.standard_normal((V, dim), dtype=np.float32) / np.sqrt(dim)
            w_out = rng.standard_normal((V, dim), dtype=np.float32) / np.sqrt(dim)
        else:
            w_in[:V] = (rng.random((V, dim), dtype=np.float32) - 0.5) / dim
            w_out = np.zeros((V, dim), np.float32)
        self.tree = HuffmanTree(vocab.counts) if loss == "hs" else None
        self._hs_sign = None if self.tree is None else 1.0 - 2.0 * self.tree.codes  # (V, L) +1 / -1 per turn
        self.W_in = Tensor._leaf(w_in, requires_grad=True)
        self.W_out = Tensor._leaf(w_out, requires_grad=True)

    def parameters(self):
        """[W_in, W_out]."""
        return [self.W_in, self.W_out]

    @property
    def wv(self):
        """The input vectors as WordVectors (a copy)."""
        return WordVectors(self.vocab.words, self.W_in._data[:len(self.vocab)].copy(), self.vocab.counts)

    # ---------------------------------------------------------------- forward
    def inputs(self, ctx, band=None):
        """The predicting vectors and which predictions are real.

        ctx: int (B, C) context ids (padding = V); band: optional (B + C) ids of consecutive corpus
        positions around the centres (see `PairBatches`). Returns (x, valid):
          skipgram: x (B, C, d) = W_in[ctx], valid (B, C) = ctx is a real word;
          cbow:     x (B, 1, d) = mean of the real contexts' W_in rows (one `F.embedding_bag` over ctx;
                    the band is not needed), valid (B, 1) = at least one."""
        ctx = np.asarray(ctx)
        B, C = ctx.shape
        W = C // 2
        valid = ctx != self.pad
        if self.arch == "skipgram":
            if band is None:
                return embedding(self.W_in, ctx, padding_idx=self.pad), valid
            xp = embedding(self.W_in, band, padding_idx=self.pad)  # (B + 2W, d): each position looked up once
            if self.loss_name == "contrastive":  # normalise each position once, not each of its 2W uses
                xp = F.normalize(xp, dim=-1)
            offs = list(range(-W, 0)) + list(range(1, W + 1))
            return tg.stack([xp[W + o:W + o + B] for o in offs], dim=1), valid  # (B, C, d)
        h, has = self._cbow_mean(ctx)
        return h.reshape(B, 1, self.dim), has[:, None]

    def _cbow_mean(self, ctx):
        """CBOW's h (B, d), the mean of each row of ctx's real words (one `F.embedding_bag`), and which
        rows have any (B,) bool."""
        n = (ctx != self.pad).sum(1)
        if getattr(self, "cbow_grad", "word2vec") == "mean":  # the plain mean: each context gets g / n
            return F.embedding_bag(ctx, self.W_in, mode="mean", padding_idx=self.pad, sparse=True), n > 0
        # forward S/n, gradient 1 w.r.t. the sum S (word2vec's update)
        S = F.embedding_bag(ctx, self.W_in, mode="sum", padding_idx=self.pad, sparse=True)            # (B, d)
        inv = (1.0 / np.maximum(n, 1)).astype(np.float32)[:, None]                                    # (B, 1)
        return S - S.detach() * (1.0 - inv), n > 0

    @staticmethod
    def _scores(y, x):
        """y (B, T, d) . x (B, C', d) -> (B, T, C'). For C' = 1 (CBOW) an einsum: numpy's batched matmul
        of (T, d) @ (d, 1) and its outer-product backward run slowly for tiny matrices (measured, forward
        + backward, B = 256, d = 100: T = 6 0.12 ms vs 0.23 (matmul) and 0.19 (elementwise); T = 16
        0.26 vs 1.10 and 0.85). For skip-gram (C' = 2W) the matmul is faster (1.6 vs 4.4 ms for T = 6)."""
        if x.shape[1] == 1:
            return tg.einsum("btd,bcd->btc", y, x)
        return y @ x.transpose(1, 2)

    def _row_scores(self, rows, x, pad=None):
        """W_out[rows] (B, T, d) scored against x (B, C', d) -> (B, T, C'). CBOW (C' = 1): one
        `sparse.embedding_dot` row (no (B, T, d) copies in backward; 2-3x faster than gathering and
        an einsum); skip-gram: the rows looked up, then `_scores`."""
        if x.shape[1] == 1:
            B, T = rows.shape
            return embedding_dot(self.W_out, rows, x.reshape(B, self.dim), padding_idx=pad).reshape(B, T, 1)
        return self._scores(embedding(self.W_out, rows, padding_idx=pad), x)

    def loss(self, ctx, targets, weight, band=None):
        """Summed loss of one batch (scalar Tensor).

        ctx (B, C), targets (B, T) with targets[:, 0] the centre words (negative/contrastive: then
        K noise ids), weight (B, C, T) as made by `PairBatches` (its [:, :, 0] marks the real pairs,
        the rest which noise words differ from the centre; CBOW with 'negative' or 'hs' also takes None:
        noise words equal to the centre are then skipped, the contexts' padding read from ctx); band as
        in `inputs`."""
        targets = np.asarray(targets)
        if self.arch == "cbow" and self.loss_name in ("negative", "hs"):
            return self._cbow_loss(np.asarray(ctx), targets, None if weight is None else np.asarray(weight))
        weight = np.asarray(weight)
        x, valid = self.inputs(ctx, band)
        centre = targets[:, 0]
        validf = valid.astype(np.float32)
        if self.loss_name == "negative":
            s = self._row_scores(targets, x)                          # (B, K+1, C')
            sign = np.full((targets.shape[1], 1), -1.0, np.float32)
            sign[0] = 1.0
            noise_ok = weight.max(1)[:, :, None]                      # (B, K+1, 1) noise word != centre
            return -(F.logsigmoid(s * sign) * (noise_ok * validf[:, None, :])).sum()
        if self.loss_name == "hs":
            t = self.tree
            L = int(t.lengths[centre].max())                           # the batch's longest path
            pts, sign, pmask = t.points[centre, :L], 1.0 - 2.0 * t.codes[centre, :L], t.mask[centre, :L]
            # how many predictions use each inner node in this batch (for `cap_shared_rows`)
            self._row_uses = np.bincount(pts.ravel(), (pmask * validf.sum(1)[:, None]).ravel(),
                                         minlength=self.W_out.shape[0])
            s = self._row_scores(pts, x, pad=t.pad)                    # (B, L, C') against the paths' nodes
            return -(F.logsigmoid(s * sign[:, :, None]) * (pmask[:, :, None] * validf[:, None, :])).sum()
        if self.loss_name == "softmax":
            b, c = np.nonzero(valid)                                   # the P real predictions
            xv = x.reshape(-1, self.dim)[b * valid.shape[1] + c]       # (P, d)
            s = xv @ self.W_out.transpose(0, 1)                        # (P, V)
            if s.requires_grad:  # its gradient p - y says how much of each prediction reaches each row
                s.retain_grad()
            self._row_uses, self._logits = None, s
            ids = np.asarray(ctx)[valid[:, :1].repeat(ctx.shape[1], 1) if self.arch == "cbow" else valid]
            self._in_uses = np.bincount(ids[ids != self.pad], minlength=self.W_in.shape[0])  # predictions per input row
            return F.cross_entropy(s, centre[b], reduction="sum")
        # contrastive: InfoNCE over [centre, noise] on cosines / tau
        y = embedding(self.W_out, targets)                             # (B, K+1, d)
        u = x if (self.arch == "skipgram" and band is not None) else F.normalize(x, dim=-1)  # (unit already)
        v = F.normalize(y, dim=-1)
        logits = self._scores(v, u) * (1.0 / self.temperature)         # (B, K+1, C')
        noise_ok = weight.max(1)[:, :, None]
        noise_ok[:, 0] = 1.0
        logits = logits - (1.0 - noise_ok) * 1e4                       # a noise word equal to the centre drops out
        logp = logits.log_softmax(1)[:, 0, :]                          # (B, C')
        return -(logp * validf).sum()

    def _cbow_loss(self, ctx, targets, weight):
        """`loss` for CBOW with negative sampling or hierarchical softmax, kept 2-D (B, T): the same
        terms as the general path with four graph nodes fewer (its reshapes and the final negation)."""
        h, has = self._cbow_mean(ctx)                                    # (B, d), (B,)
        centre = targets[:, 0]
        if self.loss_name == "negative":
            rows, pad = targets, None                                    # (B, K+1): centre, then noise
            sign = np.full(targets.shape[1], -1.0, np.float32)
            sign[0] = 1.0
            if weight is None:  # word2vec's rule: a noise word equal to the centre is skipped
                keep = (targets != centre[:, None]).astype(np.float32)
                keep[:, 0] = 1.0
            else:  # (B, K+1) noise word != centre, = weight.max(1) (C maxima of (B, K+1) slices: 4x faster)
                keep = functools.reduce(np.maximum, weight.transpose(1, 0, 2))
        else:
            t = self.tree
            L = int(t.lengths[centre].max())                             # the batch's longest path
            rows, pad = np.take(t.points, centre, axis=0)[:, :L], t.pad  # (np.take: faster than t.points[centre])
            sign, keep = np.take(self._hs_sign, centre, axis=0)[:, :L], np.take(t.mask, centre, axis=0)[:, :L]
            keep = keep * has[:, None]                                   # (B, L) real path nodes of real predictions
            self._row_uses = np.bincount(rows.ravel(), keep.ravel(), minlength=self.W_out.shape[0])
            s = embedding_dot(self.W_out, rows, h, padding_idx=pad)      # (B, L)
            return (F.logsigmoid(s * sign) * -keep).sum()
        s = embedding_dot(self.W_out, rows, h, padding_idx=pad)          # (B, T)
        return (F.logsigmoid(s * sign) * (-(keep * has[:, None]).astype(np.float32))).sum()

    def cap_shared_rows(self, cap):
        """Scale W_out's gradient rows used by more than `cap` predictions of the last batch by
        cap / uses (hierarchical softmax and full softmax; no-op otherwise).

        word2vec applies each prediction's update in turn, so an output row that many predictions
        share moves by many small steps that each see the previous ones. One batched SGD step sums
        those gradients taken at the same point instead. Hierarchical softmax: an inner node near the
        root lies on nearly every path, with ~3,000 predictions per batch the root's step is ~3,000x one
        prediction's and training diverges. Full softmax: every output row takes part in every
        prediction (its gradient is p_v x for each), so every row's step is P predictions' worth
        (skip-gram: P ~ 2,800 per batch; it diverges within ~100 batches on head500). Capping a row's
        step at `cap` predictions' worth keeps the batched step as large as the sequential updates
        could move it, while rows shared by few predictions (most hs rows, and W_in outside full
        softmax) keep their full summed step. Full softmax counts a W_out row's uses as the mass
        sum_b |p_bv - y_bv| its gradient collects, and also caps W_in's rows by their predictions."""
        g = self.W_out.grad
        if g is None or not cap:
            return
        if self.loss_name == "softmax":  # dense: row v gets sum_b (p_bv - y_bv) x_b; count |p_bv - y_bv|
            ds = getattr(getattr(self, "_logits", None), "grad", None)
            if ds is not None:
                uses = np.abs(ds._data).sum(0)                          # (V,) predictions' worth per row
                g._data *= np.minimum(1.0, cap / np.maximum(uses, 1e-12)).astype(g._data.dtype)[:, None]
            gi = self.W_in.grad
            if gi is not None and getattr(gi, "is_sparse", False):
                gi = gi.coalesce()
                gi.values *= np.minimum(1.0, cap / np.maximum(self._in_uses[gi.indices], 1.0)).astype(
                    gi.values.dtype)[:, None]
                self.W_in.grad = gi
            self._logits = None
            return
        uses = getattr(self, "_row_uses", None)
        if uses is None:
            return
        from tinygrad_lite.sparse import is_sparse
        if not is_sparse(g):
            return
        g = g.coalesce()
        scale = np.minimum(1.0, cap / np.maximum(uses[g.indices], 1.0)).astype(g.values.dtype)
        g.values *= scale[:, None]
        self.W_out.grad = g

    # ---------------------------------------------------------------- persistence
    def save(self, path, config=None):
        """Write a checkpoint: W_in, W_out, words, counts, config (with arch, loss, temperature)."""
        cfg = dict(config or {})
        cfg.update(arch=self.arch, loss=self.loss_name, temperature=self.temperature)
        tg.save({"W_in": self.W_in.detach(), "W_out": self.W_out.detach(), "words": list(self.vocab.words),
                 "counts": Tensor(self.vocab.counts), "config": cfg}, path)

    @classmethod
    def load(cls, path):
        """Rebuild a model written by `save` (its config dict in `.config`)."""
        obj = tg.load(path)
        if not isinstance(obj, dict) or not {"W_in", "W_out", "words"} <= set(obj):
            raise ValueError(f"Word2Vec.load: {path} is not a word2vec checkpoint (needs W_in, W_out, words)")
        cfg = dict(obj.get("config") or {})
        counts = obj.get("counts")
        counts = counts.numpy() if isinstance(counts, Tensor) else np.ones(len(obj["words"]), np.int64)
        vocab = Vocab(obj["words"], counts)
        model = cls(vocab, dim=obj["W_in"].shape[1], arch=cfg.get("arch", "skipgram"),
                    loss=cfg.get("loss", "negative"), temperature=cfg.get("temperature", 0.1))
        for name in ("W_in", "W_out"):
            arr = obj[name].numpy() if isinstance(obj[name], Tensor) else np.asarray(obj[name])
            if arr.shape != getattr(model, name).shape:
                raise ValueError(f"Word2Vec.load: {path}: {name} has shape {arr.shape}, expected "
                                 f"{getattr(model, name).shape} for {len(vocab)} words")
            setattr(model, name, Tensor._leaf(np.ascontiguousarray(arr, np.float32), requires_grad=True))
        model.config = cfg
        return model


# ====================================================================== snapshots of the space
class Snapshots:
    """Records chosen words' input vectors and chosen pairs' cosines during training.

    words: words to follow (those not in the vocabulary are dropped and listed in `missing`);
    pairs: (a, b) word pairs whose cosine to record (pairs with a missing word are dropped);
    every: record every `every` batches (None: `n` times per run, spread evenly; set by the trainer).
    After training: `steps` (batch index of each record, 0 = before the first batch), `progress`
    (fraction of training done), `vectors` float32 (T, n_words, d), `cosines` float (T, n_pairs).
    `to_dict()` / `save(path)` (JSON) / `Snapshots.load(path)`.
    """

    def __init__(self, words=DEFAULT_SNAPSHOT_WORDS, pairs=DEFAULT_SNAPSHOT_PAIRS, every=None, n=40):
        self.requested_words = list(words)
        self.requested_pairs = [tuple(p) for p in pairs]
        self.every, self.n = every, n
        self.words, self.pairs, self.missing = [], [], []
        self.steps, self.progress, self._vectors, self._cosines = [], [], [], []

    def start(self, vocab, total_batches):
        """Resolve the words against `vocab` and the interval against the run's length."""
        self.words = [w for w in dict.fromkeys(self.requested_words) if w in vocab]
        self.missing = [w for w in dict.fromkeys(self.requested_words) if w not in vocab]
        for a, b in self.requested_pairs:
            for w in (a, b):
                if w not in vocab and w not in self.missing:
                    self.missing.append(w)
        self.pairs = [(a, b) for a, b in self.requested_pairs if a in vocab and b in vocab]
        if not self.words:
            raise ValueError(f"Snapshots: none of the words {self.requested_words} is in the vocabulary "
                             f"({len(vocab)} words); choose words of this corpus")
        self._rows = np.array([vocab[w] for w in self.words], np.int64)
        self._pair_rows = [(vocab[a], vocab[b]) for a, b in self.pairs]
        if self.every is None:
            self.every = max(1, int(math.ceil(total_batches / max(self.n, 1))))
        self.total = max(total_batches, 1)

    def due(self, step):
        return step % self.every == 0

    def record(self, W_in, step):
        """Store the current vectors (rows of the (V+1, d) array W_in) at batch `step`."""
        self.steps.append(int(step))
        self.progress.append(min(1.0, step / self.total))
        self._vectors.append(np.array(W_in[self._rows], np.float32))
        self._cosines.append([cosine(W_in[a], W_in[b]) for a, b in self._pair_rows])

    @property
    def vectors(self):
        return np.stack(self._vectors) if self._vectors else np.zeros((0, len(self.words), 0), np.float32)

    @property
    def cosines(self):
        return np.asarray(self._cosines, np.float64).reshape(len(self._cosines), len(self.pairs))

    def to_dict(self):
        return {"words": self.words, "pairs": [list(p) for p in self.pairs], "missing": self.missing,
                "steps": self.steps, "progress": self.progress, "vectors": self.vectors.tolist(),
                "cosines": self.cosines.tolist()}

    def save(self, path):
        import json
        with open(path, "w") as f:
            json.dump(self.to_dict(), f)

    @classmethod
    def load(cls, path):
        """Read a JSON file written by `save`."""
        import json
        with open(path) as f:
            d = json.load(f)
        s = cls(d["words"], [tuple(p) for p in d["pairs"]])
        s.words, s.pairs, s.missing = list(d["words"]), [tuple(p) for p in d["pairs"]], list(d.get("missing", []))
        s.steps, s.progress = list(d["steps"]), list(d["progress"])
        s._vectors = [np.asarray(v, np.float32) for v in d["vectors"]]
        s._cosines = [list(c) for c in d["cosines"]]
        return s


# ====================================================================== training
def train_word2vec(sentences, arch="skipgram", loss="negative", dim=100, window=5, negative=5, min_count=5,
                   epochs=5, lr=None, min_lr_ratio=1e-4, sample=1e-3, batch_size=None, seed=0, progress=True,
                   max_vocab=None, log=None, temperature=0.1, snapshots=None, cbow_grad="word2vec",
                   max_batches=None, hs_row_cap=HS_ROW_CAP):
    """Train word vectors with any architecture and objective; returns (Word2Vec, stats).

    Hyper-parameters as `models.skipgram.train_sgns` (word2vec's defaults), plus arch, loss,
    temperature (contrastive), snapshots (a `Snapshots` to fill), cbow_grad ('word2vec' or 'mean',
    see the module doc) and max_batches (stop early, for tests). lr defaults to 0.025 and
    batch_size to 512 centre positions (skip-gram) or 256 (CBOW: on head500 CBOW+hs reaches WordSim-353
    0.566 with 256, 0.543 with 1024, gensim 0.58; larger batches sum more updates taken at one point).
    `negative` is the number of noise words for 'negative' and 'contrastive' (ignored otherwise).
    hs_row_cap: the shared-row cap of 'hs' and 'softmax' (`Word2Vec.cap_shared_rows`; 0 disables it).
    stats: as train_sgns's (final_loss is per prediction), plus arch, loss, predictions."""
    _check_choice("arch", arch, ARCHS)
    _check_choice("loss", loss, LOSSES)
    if cbow_grad not in ("word2vec", "mean"):
        raise ValueError(f"train_word2vec: cbow_grad must be 'word2vec' or 'mean', got {cbow_grad!r}")
    if loss in ("negative", "contrastive") and negative < 1:
        raise ValueError(f"train_word2vec: loss {loss!r} needs negative >= 1 noise words, got {negative}")
    lr = DEFAULT_LR[loss] if lr is None else lr
    batch_size = batch_size or (256 if arch == "cbow" else 512)
    say = log or (lambda m: None)
    vocab = Vocab.build(sentences, min_count=min_count, max_size=max_vocab)
    ids, sent = vocab.encode(sentences)
    if ids.shape[0] < 2:
        raise ValueError(f"train_word2vec: only {ids.shape[0]} in-vocabulary tokens; need at least 2 to form pairs")
    tg.manual_seed(seed)
    model = Word2Vec(vocab, dim=dim, arch=arch, loss=loss, seed=seed, temperature=temperature)
    model.cbow_grad = cbow_grad
    K = negative if loss in ("negative", "contrastive") else 0
    batches = PairBatches(ids, sent, vocab.counts, window=window, negative=K, sample=sample,
                          batch_size=batch_size, pad=model.pad, rng=np.random.default_rng(seed + 1),
                          pair_weights=not (arch == "cbow" and loss in ("negative", "hs")))
    if loss == "softmax" and len(vocab) > SOFTMAX_SLOW_VOCAB:
        kept = batches.expected_kept()
        note = softmax_cost_note(len(vocab), dim, kept * (window + 1) if arch == "skipgram" else kept)
        print(f"train_word2vec: warning: {note}", file=sys.stderr)
    opt = optim.SGD(model.parameters(), lr=lr)
    N = ids.shape[0]
    total_raw = epochs * N
    n_batches = epochs * int(math.ceil(batches.expected_kept() / batch_size))
    if max_batches is not None:
        n_batches = min(n_batches, max_batches)
    if snapshots is not None:
        snapshots.start(vocab, n_batches)
        snapshots.record(model.W_in._data, 0)
    words = preds = step = 0
    epoch_losses, recent, lrs = [], [], []
    t0, c0 = time.perf_counter(), time.process_time()
    bar = Progress(total=n_batches, desc=f"{arch}+{loss}", unit="words", disable=not progress)
    done = False
    for ep in range(epochs):
        ep_loss = ep_preds = 0.0
        for ctx, targets, weight, n_raw, n_c, n_p, band in batches.epoch():
            alpha = lr * max(1.0 - (ep * N + n_raw) / (total_raw + 1), min_lr_ratio)
            opt.param_groups[0]["lr"] = alpha
            lrs.append(alpha)
            out = model.loss(ctx, targets, weight, band=band)
            model.W_in.grad = model.W_out.grad = None
            out.backward()
            if loss in ("hs", "softmax"):
                model.cap_shared_rows(hs_row_cap)
            opt.step()
            lv = check_loss(out.item(), step, f"{arch} ({loss}) training", alpha)
            n_pred = n_p if arch == "skipgram" else int((ctx != model.pad).any(1).sum())
            ep_loss += lv
            ep_preds += n_pred
            words += n_c
            preds += n_pred
            step += 1
            recent.append(lv / max(n_pred, 1))
            bar.update(1, items=n_c, loss=recent[-1], lr=alpha)
            if snapshots is not None and (snapshots.due(step) or step == n_batches):
                snapshots.record(model.W_in._data, step)
            if max_batches is not None and step >= max_batches:
                done = True
                break
        epoch_losses.append(ep_loss / max(ep_preds, 1))
        say(f"epoch {ep + 1}/{epochs}: {arch}+{loss} loss per prediction {epoch_losses[-1]:.4f}")
        if done:
            break
    bar.close()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tail = recent[-max(1, len(recent) // 10):]
    stats = {"arch": arch, "loss": loss, "final_loss": float(np.mean(tail)) if tail else float("nan"),
             "loss_history": epoch_losses, "words_per_sec": words / wall, "wall_time": wall, "cpu_time": cpu,
             "words_per_cpu_sec": words / max(cpu, 1e-9), "effective_words": words, "predictions": preds,
             "vocab_size": len(vocab), "corpus_words": int(N), "batches": step, "lr_history": lrs,
             "start_lr": lrs[0] if lrs else float(lr), "final_lr": lrs[-1] if lrs else float(lr)}
    return model, stats


# ====================================================================== command line (models.skipgram's)
def _word_list(text):
    return [w for w in text.replace(",", " ").split() if w]


def _pair_list(text):
    pairs = []
    for item in text.replace(",", " ").split():
        a, sep, b = item.partition(":")
        if not sep or not a or not b:
            raise ValueError(f"--snapshot-pairs: expected pairs like king:queen,king:car; got {item!r}")
        pairs.append((a, b))
    return pairs


def add_objective_args(p):
    """Add --arch, --loss, --temperature and the snapshot flags to the skip-gram command's parser."""
    p.add_argument("--arch", choices=ARCHS, default="skipgram",
                   help="skipgram: each context word predicts the centre (default); cbow: the mean of the context "
                        "words predicts it")
    p.add_argument("--loss", choices=LOSSES, default="negative",
                   help="negative sampling (default), hs (hierarchical softmax over a Huffman tree), softmax (full, "
                        "small vocabularies only), contrastive (InfoNCE on cosine similarity, --temperature)")
    p.add_argument("--temperature", type=float_in(0, lo_open=True), default=0.1, help="temperature tau of --loss contrastive (default 0.1)")
    p.add_argument("--snapshots", action="store_true",
                   help="record chosen words' vectors and chosen pairs' cosines during training; with --out writes "
                        "snapshots.json, evolution.html (slider) and evolution.gif")
    p.add_argument("--snapshot-words", type=_word_list, default=None, metavar="W1,W2,...",
                   help="words to follow (default: " + ",".join(DEFAULT_SNAPSHOT_WORDS) + "; those in the vocabulary)")
    p.add_argument("--snapshot-pairs", type=_pair_list, default=None, metavar="A:B,C:D",
                   help="pairs whose cosine to record (default: " + ",".join(f"{a}:{b}" for a, b in DEFAULT_SNAPSHOT_PAIRS)
                        + ")")
    p.add_argument("--snapshot-every", type=int_at_least(1), default=None, metavar="N",
                   help="record every N batches (default: 40 records spread over the run)")


def wants_objectives(args):
    """True when the command line asks for more than plain skip-gram with negative sampling."""
    return args.arch != "skipgram" or args.loss != "negative" or args.snapshots


def train_from_args(args, sentences):
    """Train as `train_word2vec` from parsed command-line args; the model gets `.snapshots` (or None)."""
    snaps = None
    if args.snapshots:
        words = args.snapshot_words or list(DEFAULT_SNAPSHOT_WORDS)
        pairs = args.snapshot_pairs or [p for p in DEFAULT_SNAPSHOT_PAIRS]
        if args.snapshot_every is not None and args.snapshot_every < 1:
            raise ValueError(f"--snapshot-every must be >= 1, got {args.snapshot_every}")
        snaps = Snapshots(words + [w for p in pairs for w in p if w not in words], pairs, every=args.snapshot_every)
    model, stats = train_word2vec(sentences, arch=args.arch, loss=args.loss, dim=args.dim, window=args.window,
                                  negative=args.negative, min_count=args.min_count, epochs=args.epochs, lr=args.lr,
                                  min_lr_ratio=args.min_lr_ratio, sample=args.sample, batch_size=args.batch_size,
                                  seed=args.seed, progress=not args.no_progress, max_vocab=args.max_vocab,
                                  log=lambda m: print(m, file=sys.stderr), temperature=args.temperature,
                                  snapshots=snaps)
    model.snapshots = snaps
    if snaps is not None:
        if snaps.missing:
            print(f"snapshots: not in the vocabulary, skipped: {', '.join(snaps.missing)}", file=sys.stderr)
        for (a, b), c in zip(snaps.pairs, snaps.cosines.T):
            print(f"cos({a}, {b}): {c[0]:+.3f} at the start -> {c[-1]:+.3f} at the end", file=sys.stderr)
    return model, stats


def write_snapshot_outputs(snaps, out_dir, gif=True):
    """snapshots.json, evolution.html and (with matplotlib, if `gif`) evolution.gif in `out_dir`; returns the paths."""
    import os
    from viz.embedding_evolution import write_evolution_gif, write_evolution_html
    paths = [os.path.join(out_dir, "snapshots.json"), os.path.join(out_dir, "evolution.html")]
    snaps.save(paths[0])
    if len(snaps.words) >= 2:
        write_evolution_html(snaps, paths[1])
    if len(snaps.words) >= 2 and gif:
        try:
            paths.append(write_evolution_gif(snaps, os.path.join(out_dir, "evolution.gif")))
        except ImportError:
            print("snapshots: matplotlib is not installed; no evolution.gif", file=sys.stderr)
    if len(snaps.words) < 2:
        paths.pop()
    print("wrote " + ", ".join(paths), file=sys.stderr)
    return paths


# ====================================================================== one small step, for pictures
def tiny_step(arch="skipgram", loss="negative", seed=0):
    """One training step's loss of a tiny model (5 words, d = 3, two centres, window 1, 2 noise
    words), for `viz.draw_graph`. Returns (loss Tensor, {'params': {'W_in': ..., 'W_out': ...}}, title)."""
    words = ["king", "queen", "car", "road", "man"]
    vocab = Vocab(words, [9, 7, 5, 3, 2])
    model = Word2Vec(vocab, dim=3, arch=arch, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    model.W_out = Tensor._leaf(rng.uniform(-0.5, 0.5, model.W_out.shape).astype(np.float32), requires_grad=True)
    ids = np.array([0, 1, 2, 3], np.int64)                     # king queen car road, one sentence
    K = 2 if loss in ("negative", "contrastive") else 0
    pb = PairBatches(ids, np.zeros(4, np.int64), vocab.counts, window=1, negative=K, sample=0, batch_size=2,
                     pad=model.pad, rng=np.random.default_rng(seed + 1))
    ctx, targets, weight, _, _, _, band = next(pb.epoch())
    value = model.loss(ctx, targets, weight, band=band)
    what = {"negative": f"negative sampling ({K} noise words)", "hs": "hierarchical softmax",
            "softmax": "full softmax", "contrastive": f"InfoNCE on cosines, tau {model.temperature}"}[loss]
    title = f"{arch} + {what}: one batch of 2 centres, window 1, 5 words, d = 3"
    return value, {"params": {"W_in": model.W_in, "W_out": model.W_out}}, title
