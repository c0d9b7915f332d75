"""Skip-gram word vectors, trained with the tinygrad_lite engine (no hand-written gradients).

Two formulations:

* `SkipGramSoftmax`: the textbook model. An embedding matrix W_e (V, d), an output layer W_o (d, V)
  and bias b_o (V,), a full softmax over the vocabulary and cross entropy. `worked_example()`
  reproduces the three-word king/queen/car example number by number.
* `SkipGramNS`: skip-gram with negative sampling, with word2vec's conventions: noise distribution
  unigram^0.75, frequent-word subsampling (threshold 1e-3, word2vec's keep formula), a randomly
  reduced window, input vectors uniform in +-0.5/d, output vectors zero, a learning rate decaying
  linearly from 0.025 to 0.025 * 1e-4 with the words processed, and plain SGD. The embedding
  lookups use row-sparse gradients (`tinygrad_lite.sparse.embedding`), so a batch costs the same
  whatever the vocabulary size.

  As in word2vec, each (centre, context) pair scores the *context* word's input vector against the
  centre word's output vector (label 1) and `negative` noise words' output vectors (label 0). To
  keep numpy fast, the K noise words are drawn once per centre position and shared by that
  position's (up to 2*window) context words; every pair still has its own K negative terms, so the
  objective per pair is word2vec's (the estimate of its gradient is merely correlated across the
  pairs of one position). Where word2vec updates after every pair, we take one SGD step per batch
  of `batch_size` centre positions (~6 pairs each) on the summed loss, so a word's row gets the sum
  of its pair gradients of that batch. The batches are built with numpy (`PairBatches`), and each
  corpus position's input vector is looked up once per batch (`SkipGramNS.loss(..., band=...)`).

Queries: `WordVectors.similarity / most_similar / analogy`, evaluation on WordSim-353 / SimLex-999
and Google analogy files, save/load (tinygrad_lite.save) and the word2vec text format.

CLI: `python -m models.skipgram` trains on the embedded stdlib text (pydoc_data topics);
`python -m models.skipgram --help` for the flags. `--out DIR` writes vectors.tgl, vectors.txt,
checkpoint.tgl (`SkipGramNS.load`) and metrics.json: final loss, throughput, wall time, start/final
lr, the nearest neighbours (with cosines) of a few query words and their pairwise similarities
(always), plus word-pair / analogy scores when --wordsim / --analogies are given.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import Tensor, optim

from . import word_eval
from .argtypes import float_in, int_at_least
from .guard import check_finite_weights, check_loss
from .backend import add_backend_args, get_backend
from .progress import Progress
from .text import Vocab, default_corpus, read_sentences

__all__ = ["cosine", "worked_example", "SkipGramSoftmax", "WordVectors", "SkipGramNS", "PairBatches",
           "train_sgns", "main"]


def cosine(a, b):
    """Cosine similarity of two vectors (d,) -> float."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ====================================================================== textbook full-softmax model
class SkipGramSoftmax:
    """Textbook skip-gram: s = W_e[centre] @ W_o + b_o, p = softmax(s), loss = -log p[context].

    W_e: (V, d) input embeddings; W_o: (d, V) output layer; b_o: (V,). All are leaf Tensors with
    requires_grad=True; pass arrays to set them, else W_e ~ U(-0.5/d, 0.5/d), W_o = 0, b_o = 0.
    """

    def __init__(self, vocab_size, dim, W_e=None, W_o=None, b_o=None, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        if W_e is None:
            W_e = rng.uniform(-0.5 / dim, 0.5 / dim, (vocab_size, dim))
        if W_o is None:
            W_o = np.zeros((dim, vocab_size))
        if b_o is None:
            b_o = np.zeros(vocab_size)
        self.W_e = Tensor(np.asarray(W_e, dtype=dtype), requires_grad=True)
        self.W_o = Tensor(np.asarray(W_o, dtype=dtype), requires_grad=True)
        self.b_o = Tensor(np.asarray(b_o, dtype=dtype), requires_grad=True)
        if self.W_e.shape != (vocab_size, dim) or self.W_o.shape != (dim, vocab_size) or self.b_o.shape != (vocab_size,):
            raise ValueError(f"SkipGramSoftmax: expected W_e {(vocab_size, dim)}, W_o {(dim, vocab_size)}, "
                             f"b_o {(vocab_size,)}; got {self.W_e.shape}, {self.W_o.shape}, {self.b_o.shape}")

    def parameters(self):
        """[W_e, W_o, b_o]."""
        return [self.W_e, self.W_o, self.b_o]

    def scores(self, centre):
        """Scores s = W_e[centre] @ W_o + b_o: centre ids (B,) -> Tensor (B, V)."""
        e = self.W_e[np.asarray(centre, dtype=np.int64)]
        return e @ self.W_o + self.b_o

    def loss(self, centre, context, scores=None):
        """Mean cross entropy of predicting `context` (B,) from `centre` (B,) -> scalar Tensor."""
        context = np.asarray(context, dtype=np.int64)
        s = self.scores(centre) if scores is None else scores
        logp = s.log_softmax(-1)
        return -logp[np.arange(len(context)), context].mean()


def worked_example(lr=0.1):
    """The three-word worked example, computed by the engine (gradients from loss.backward()).

    Vocabulary king, queen, car; W_e rows [.1,.2,.3], [.4,.5,.6], [.7,.8,.9]; W_o (d x V) rows
    [.2,.3,.4], [.5,.6,.7], [.8,.9,1.0]; b_o = 0.1. Centre 'king', context 'queen'. Returns a dict
    of float64 numpy arrays / floats:

      scores      (3,)  [0.46, 0.52, 0.58]
      probs       (3,)  [0.31355, 0.33293, 0.35352]
      loss              1.09981
      dL_ds       (3,)  [0.31355, -0.66707, 0.35352]
      dL_de_king  (3,)  [0.0039976, 0.0039976, 0.0039976]
      e_king_after(3,)  [0.0996, 0.1996, 0.2996]   (one SGD step with lr 0.1)
      cos_close         cosine([.8,.6,.2], [.7,.5,.3]) = 0.99022
      cos_far           cosine([.8,.6,.2], [.1,.9,.8]) = 0.63300
    """
    vocab = ["king", "queen", "car"]
    model = SkipGramSoftmax(3, 3, W_e=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]],
                            W_o=[[0.2, 0.3, 0.4], [0.5, 0.6, 0.7], [0.8, 0.9, 1.0]], b_o=[0.1, 0.1, 0.1])
    centre, context = [vocab.index("king")], [vocab.index("queen")]
    s = model.scores(centre)
    s.retain_grad()
    loss = model.loss(centre, context, scores=s)
    loss.backward()
    probs = s.detach().softmax(-1)
    out = {
        "scores": s.detach().numpy()[0].copy(),
        "probs": probs.numpy()[0].copy(),
        "loss": loss.item(),
        "dL_ds": s.grad.numpy()[0].copy(),
        "dL_de_king": model.W_e.grad.numpy()[0].copy(),
    }
    opt = optim.SGD(model.parameters(), lr=lr)
    opt.step()
    out["e_king_after"] = model.W_e.detach().numpy()[0].copy()
    out["cos_close"] = cosine([0.8, 0.6, 0.2], [0.7, 0.5, 0.3])
    out["cos_far"] = cosine([0.8, 0.6, 0.2], [0.1, 0.9, 0.8])
    return out


# ====================================================================== word vectors: queries, I/O
class WordVectors:
    """Trained word vectors and the queries on them.

    words: list[str] (V,), most frequent first; vectors: float32 array (V, d); counts: int (V,)
    or None. `index` maps word -> row. Unknown words raise KeyError naming the word.
    """

    def __init__(self, words, vectors, counts=None):
        self.words = list(words)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"WordVectors: vectors must be (V, d) with V = {len(self.words)} words, "
                             f"got {self.vectors.shape}")
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}
        self._unit = None

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    @property
    def dim(self):
        return self.vectors.shape[1]

    def _row(self, word):
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word '{word}' is not in the vocabulary ({len(self.words)} words)") from None

    def __getitem__(self, word):
        """The vector of `word`, (d,)."""
        return self.vectors[self._row(word)]

    @property
    def unit(self):
        """Rows scaled to unit length, (V, d) (cached; call `refresh()` after changing vectors)."""
        if self._unit is None:
            n = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.maximum(n, 1e-12)
        return self._unit

    def refresh(self):
        """Forget cached unit vectors (after the vectors changed in place)."""
        self._unit = None

    def similarity(self, a, b):
        """Cosine similarity of words a and b -> float."""
        u = self.unit
        return float(u[self._row(a)] @ u[self._row(b)])

    def most_similar(self, query=None, topn=10, exclude=None, restrict_vocab=None, positive=None, negative=None):
        """Nearest words by cosine to `query` (a word, or a vector (d,)), or, as gensim's
        most_similar(positive=[...], negative=[...]), to the sum of the unit vectors of the
        `positive` words minus those of the `negative` words (king - man + woman:
        positive=['king', 'woman'], negative=['man']), skipping the words asked about.

        A word query excludes itself; `exclude` adds more words to skip. Returns a list of
        (word, cosine) of length <= topn, best first."""
        if positive is not None or negative is not None:
            if query is not None:
                raise ValueError("most_similar: give either a query or positive=/negative= words, not both")
            pos, neg = list(positive or ()), list(negative or ())
            if not pos and not neg:
                raise ValueError("most_similar: positive and negative are both empty")
            u = self.unit
            vec = sum(u[self._row(w)] for w in pos) - sum((u[self._row(w)] for w in neg), np.zeros(self.dim, np.float32))
            return self.most_similar(vec, topn=topn, exclude=list(exclude or ()) + pos + neg,
                                     restrict_vocab=restrict_vocab)
        if query is None:
            raise ValueError("most_similar: give a query word or vector, or positive=/negative= words")
        u = self.unit if restrict_vocab is None else self.unit[:restrict_vocab]
        skip = set()
        if isinstance(query, str):
            r = self._row(query)
            vec = u[r] if r < len(u) else self.unit[r]
            skip.add(r)
        else:
            vec = np.asarray(query, dtype=np.float32).reshape(-1)
            if vec.shape[0] != self.dim:
                raise ValueError(f"most_similar: query vector has {vec.shape[0]} dims, the vectors have {self.dim}")
            vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
        for w in exclude or ():
            skip.add(self._row(w))
        sims = u @ vec
        k = min(topn + len(skip), len(sims))
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.words[i], float(sims[i])) for i in top if i not in skip][:topn]

    def analogy(self, a, b, c, topn=1):
        """a : b :: c : ?  -- the words closest in cosine to unit(b) - unit(a) + unit(c), excluding
        a, b, c. Returns a list of (word, cosine) (topn of them)."""
        u = self.unit
        vec = u[self._row(b)] - u[self._row(a)] + u[self._row(c)]
        return self.most_similar(vec, topn=topn, exclude=[a, b, c])

    def evaluate_word_pairs(self, path, restrict_vocab=300000, score_column=None):
        """Spearman/Pearson vs human scores and OOV ratio on a WordSim-353/SimLex-999 file (dict);
        the score column is detected unless given (see `word_eval.read_word_pairs`)."""
        return word_eval.evaluate_word_pairs(self, path, restrict_vocab=restrict_vocab, score_column=score_column)

    def evaluate_analogies(self, path, restrict_vocab=30000):
        """Accuracy per section and overall on a Google analogy file (dict), top-30k vocab by default."""
        return word_eval.evaluate_analogies(self, path, restrict_vocab=restrict_vocab)

    # ---------------------------------------------------------------- persistence
    def save(self, path):
        """Save with tinygrad_lite.save: {'vectors': Tensor (V, d), 'counts': Tensor (V,), 'words': list}."""
        counts = self.counts if self.counts is not None else np.zeros(len(self.words), np.int64)
        tg.save({"vectors": Tensor(self.vectors), "counts": Tensor(counts), "words": list(self.words)}, path)

    @classmethod
    def load(cls, path):
        """Load vectors written by `save`."""
        obj = tg.load(path)
        vec = obj["vectors"]
        counts = obj.get("counts")
        vec = vec.numpy() if isinstance(vec, Tensor) else np.asarray(vec)
        counts = counts.numpy() if isinstance(counts, Tensor) else counts
        return cls(list(obj["words"]), vec, counts)

    def save_word2vec_format(self, path):
        """Write the word2vec text format: a header line 'V d', then 'word v1 ... vd' per line
        (8 significant digits, readable by gensim's KeyedVectors.load_word2vec_format)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"{len(self.words)} {self.dim}\n")
            for w, v in zip(self.words, self.vectors):
                if any(ch.isspace() for ch in w):
                    raise ValueError(f"save_word2vec_format: word {w!r} contains whitespace")
                f.write(w + " " + " ".join(f"{x:.8g}" for x in v.tolist()) + "\n")

    @classmethod
    def load_word2vec_format(cls, path):
        """Read the word2vec text format (header 'V d' then one 'word v1 ... vd' line per word)."""
        with open(path, encoding="utf-8") as f:
            header = f.readline().split()
            if len(header) != 2:
                raise ValueError(f"load_word2vec_format: {path}: first line should be 'V d', got {header}")
            n, d = int(header[0]), int(header[1])
            words, rows = [], []
            for lineno, line in enumerate(f, 2):
                parts = line.rstrip("\n").rstrip(" ").split(" ")
                if len(parts) != d + 1:
                    raise ValueError(f"load_word2vec_format: {path}:{lineno}: expected a word and {d} numbers, "
                                     f"got {len(parts)} fields")
                words.append(parts[0])
                rows.append(np.asarray(parts[1:], dtype=np.float32))
        if len(words) != n:
            raise ValueError(f"load_word2vec_format: {path}: header says {n} words, found {len(words)}")
        return cls(words, np.stack(rows) if rows else np.zeros((0, d), np.float32))


# ====================================================================== negative sampling
_LOGSIGMOID = []


def _logsigmoid(z):
    """log(sigmoid(z)) elementwise (stable): F.logsigmoid when the nn package provides it, else
    composed from engine ops as min(z, 0) - log(1 + exp(-|z|))."""
    if not _LOGSIGMOID:
        try:
            from tinygrad_lite.nn import functional as F
            _LOGSIGMOID.append(F.logsigmoid)
        except (ImportError, AttributeError):  # pragma: no cover
            _LOGSIGMOID.append(lambda t: t.minimum(0.0) - ((-t.abs()).exp() + 1.0).log())
    return _LOGSIGMOID[0](z)


class SkipGramNS:
    """Skip-gram with negative sampling (word2vec's SGNS), row-sparse embeddings.

    vocab: a `models.text.Vocab` (V words); dim: d. Parameters (leaf Tensors, float32):
      W_in  (V + 1, d): input vectors ~ U(-0.5/d, 0.5/d); row V is a zero padding row that never
                        gets a gradient (it fills context slots outside the reduced window);
      W_out (V, d):     output vectors, zero.
    `wv` gives the trained input vectors as `WordVectors`. backend: "tinygrad_lite" (default) or
    "torch" (then W_in, W_out are torch tensors and the lookups torch's sparse embeddings).
    """

    def __init__(self, vocab, dim=100, seed=0, backend=None):
        self.bk = bk = get_backend(backend, dtype="float32")
        self.vocab = vocab
        V = len(vocab)
        rng = np.random.default_rng(seed)
        w_in = np.zeros((V + 1, dim), np.float32)
        w_in[:V] = (rng.random((V, dim), dtype=np.float32) - 0.5) / dim
        self.W_in = bk.tensor(w_in, requires_grad=True)
        self.W_out = bk.tensor(np.zeros((V, dim), np.float32), requires_grad=True)
        self.pad = V
        self.sparse_grads = True   # False under DistributedDataParallel (see `train_sgns`'s dist)

    def parameters(self):
        """[W_in, W_out]."""
        return [self.W_in, self.W_out]

    def loss(self, ctx, targets, weight, band=None):
        """Summed negative-sampling loss of one batch.

        ctx: int (B, C) context word ids (padding = V); targets: int (B, K+1) = [centre, K noise ids];
        weight: float (B, C, K+1) (1 for a real pair term, 0 for padding or a noise word equal to the
        centre). Scores s[b,c,k] = W_in[ctx[b,c]] . W_out[targets[b,k]]; loss =
        -sum weight * log sigmoid(+-s) (+ for k = 0, - for noise words). Returns a scalar Tensor.

        band: optional int (B + 2W,) ids of the consecutive corpus positions around B consecutive
        centres (C = 2W, context c of centre b is band[b + W + offset_c]). Then each position's input
        vector is looked up once and the (B, 2W, d) context block is built from shifted slices, so
        the row-sparse gradient of W_in has B + 2W rows instead of one per pair (same loss)."""
        bk = self.bk
        dense = {} if self.sparse_grads else {"sparse": False}   # torch under DDP: dense gradients

        def embedding(weight, ids, padding_idx=None):
            return bk.sparse_embedding(weight, ids, padding_idx, **dense)
        if band is None:
            x = embedding(self.W_in, ctx, padding_idx=self.pad)   # (B, C, d)
        else:
            B, C = ctx.shape
            W = C // 2
            xp = embedding(self.W_in, band, padding_idx=self.pad)  # (B + 2W, d)
            offs = list(range(-W, 0)) + list(range(1, W + 1))
            x = bk.stack([xp[W + o:W + o + B] for o in offs], dim=1)  # (B, 2W, d)
        y = embedding(self.W_out, targets)                        # (B, K+1, d)
        s = y @ x.transpose(1, 2)                                 # (B, K+1, C): y first keeps dL/dy contiguous
        k1 = targets.shape[1]
        sign = np.full((k1, 1), -1.0, np.float32)
        sign[0] = 1.0
        logsigmoid = _logsigmoid if bk.name == "tinygrad_lite" else bk.F.logsigmoid
        return -(logsigmoid(s * bk.const(sign)) * bk.const(np.asarray(weight).transpose(0, 2, 1))).sum()

    @property
    def wv(self):
        """The input vectors as WordVectors (a copy)."""
        return WordVectors(self.vocab.words, self.bk.numpy(self.W_in)[:len(self.vocab)].copy(), self.vocab.counts)

    def state_dict(self):
        """{'W_in': Tensor (V+1, d), 'W_out': Tensor (V, d)}."""
        return {"W_in": self.W_in.detach(), "W_out": self.W_out.detach()}

    def save(self, path, config=None):
        """Write a checkpoint (tinygrad_lite.save): the state_dict plus the vocabulary ('words',
        'counts') and `config` (a dict of the training settings, may be None), so `load` can
        rebuild the model without the corpus."""
        W_in, W_out = (Tensor._leaf(np.array(self.bk.numpy(w))) for w in (self.W_in, self.W_out))  # either backend
        tg.save({"W_in": W_in, "W_out": W_out, "words": list(self.vocab.words),
                 "counts": Tensor(self.vocab.counts), "config": dict(config or {})}, path)

    @classmethod
    def load(cls, path, backend=None):
        """Rebuild a model written by `save` -> SkipGramNS (its `config` dict in `.config`), on `backend`.

        Raises ValueError if the file is not a skip-gram checkpoint or its shapes disagree."""
        obj = tg.load(path)
        if not isinstance(obj, dict) or not {"W_in", "W_out", "words"} <= set(obj):
            raise ValueError(f"SkipGramNS.load: {path} is not a skip-gram checkpoint (needs W_in, W_out, words)")
        w_in, w_out = (obj[k].numpy() if isinstance(obj[k], Tensor) else np.asarray(obj[k])
                       for k in ("W_in", "W_out"))
        counts = obj.get("counts")
        counts = counts.numpy() if isinstance(counts, Tensor) else np.zeros(len(obj["words"]), np.int64)
        V = len(obj["words"])
        if w_in.shape[0] != V + 1 or w_out.shape != (V, w_in.shape[1]):
            raise ValueError(f"SkipGramNS.load: {path}: {V} words but W_in {w_in.shape}, W_out {w_out.shape}")
        model = cls.__new__(cls)
        model.bk = get_backend(backend, dtype="float32")
        model.vocab = Vocab(obj["words"], counts)
        model.W_in = model.bk.tensor(np.ascontiguousarray(w_in, dtype=np.float32), requires_grad=True)
        model.W_out = model.bk.tensor(np.ascontiguousarray(w_out, dtype=np.float32), requires_grad=True)
        model.pad = V
        model.config = dict(obj.get("config") or {})
        return model


class PairBatches:
    """Vectorised batch maker for SGNS: subsampling, reduced windows and noise words with numpy.

    ids: int64 (N,) corpus as word ids; sentence: int64 (N,) sentence id per position; counts (V,).
    Each epoch draws the subsampling mask (keep probability (sqrt(f/(s*T)) + 1) * s*T/f, word2vec's
    formula, f the word's count, T the corpus size), then walks the kept positions in order,
    `batch_size` centre positions at a time, each with a window b ~ U{1..window} and `negative` noise
    words ~ count^0.75 (a unigram table of `table_size` slots, as word2vec). A batch is (ctx (B, 2*window), targets (B, K+1), weight (B, 2*window, K+1),
    n_raw, n_centres, n_pairs, band) where n_raw is how far through the raw corpus the batch reaches and
    band (B + 2*window,) holds the ids of the kept positions from window before the first centre to
    window after the last (pad outside the corpus), for `SkipGramNS.loss(..., band=band)`.
    pair_weights=False yields weight=None (saves ~20 us per batch where nobody reads it: CBOW with
    negative sampling or hierarchical softmax).
    """

    def __init__(self, ids, sentence, counts, window=5, negative=5, sample=1e-3, batch_size=512, pad=None,
                 rng=None, table_size=2_000_000, pair_weights=True):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.sentence = np.asarray(sentence, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.float64)
        self.V = len(self.counts)
        self.window, self.negative, self.sample, self.batch_size = window, negative, sample, batch_size
        self.pair_weights = pair_weights  # False: batches carry weight=None (CBOW's loss reads ctx and targets)
        self.pad = self.V if pad is None else pad
        self.rng = rng if rng is not None else np.random.default_rng(0)
        total = self.counts.sum()
        if sample and sample > 0:
            thr = sample * total
            keep = (np.sqrt(self.counts / thr) + 1.0) * thr / self.counts
            self.keep_prob = np.minimum(keep, 1.0)
        else:
            self.keep_prob = np.ones(self.V)
        noise = self.counts ** 0.75
        p = noise / noise.sum()
        # word2vec's unigram table: word i fills ~p_i of it (at least one slot for every word)
        size = max(table_size, 20 * self.V)
        reps = np.maximum(np.round(p * size), 1).astype(np.int64)
        self.noise_table = np.repeat(np.arange(self.V, dtype=np.int32), reps)
        self.offsets = np.r_[np.arange(-window, 0), np.arange(1, window + 1)]
        sign = np.full(negative + 1, -1.0, np.float32)
        sign[0] = 1.0
        self.sign = sign

    def expected_kept(self):
        """Expected number of positions kept by subsampling per epoch (float)."""
        return float(self.keep_prob[self.ids].sum())

    def noise(self, shape):
        """Noise word ids ~ count^0.75 (word2vec's unigram table, looked up at random), int64 array."""
        return self.noise_table[self.rng.integers(0, self.noise_table.shape[0], shape)]

    def epoch(self, chunk=65536):
        """Yield the batches of one epoch (see class doc), centres in corpus order. Windows, masks and
        noise words are drawn with numpy for `chunk` centre positions at a time."""
        rng = self.rng
        keep = rng.random(self.ids.shape[0]) < self.keep_prob[self.ids]
        raw_pos = np.flatnonzero(keep)
        kids = self.ids[raw_pos]
        ksent = self.sentence[raw_pos]
        n = kids.shape[0]
        W, K, offs, B = self.window, self.negative, self.offsets, self.batch_size
        absoff = np.abs(offs)
        padded = np.concatenate([np.full(W, self.pad), kids, np.full(W, self.pad)])
        chunk = max(B, chunk // B * B)
        for cstart in range(0, n, chunk):
            m = min(chunk, n - cstart)
            c = np.arange(cstart, cstart + m)
            b = rng.integers(1, W + 1, m)  # word2vec's reduced window
            cp = c[:, None] + offs[None, :]
            inside = (cp >= 0) & (cp < n)
            cpc = np.where(inside, cp, 0)
            centre = kids[c]
            valid = inside & (absoff[None, :] <= b[:, None]) & (ksent[cpc] == ksent[c][:, None])
            ctx = np.where(valid, kids[cpc], self.pad)
            targets = np.empty((m, K + 1), np.int64)
            targets[:, 0] = centre
            targets[:, 1:] = self.noise((m, K))
            tmask = targets != centre[:, None]  # word2vec skips a noise word equal to the centre
            tmask[:, 0] = True
            validf = valid.astype(np.float32)
            tmaskf = tmask.astype(np.float32)
            npairs = valid.sum(1)
            for s in range(0, m, B):
                e = min(s + B, m)
                weight = validf[s:e, :, None] * tmaskf[s:e, None, :] if self.pair_weights else None
                n_raw = int(raw_pos[cstart + e - 1]) + 1  # progress through the raw corpus
                lo, hi = cstart + s - W, cstart + e + W
                band = padded[lo + W:hi + W]  # ids of positions lo..hi-1 (pad outside the corpus)
                yield (ctx[s:e], targets[s:e], weight, n_raw, e - s, int(npairs[s:e].sum()), band)


def _data_parallel(model, dist):
    """Prepare `model` (torch backend) for DistributedDataParallel -> a callable batch -> loss.

    DDP hooks its all-reduce onto an nn.Module's parameters, so W_in and W_out become the
    parameters of a small module whose forward is `model.loss`. DDP takes sparse gradients only from
    nn.Embedding(sparse=True) modules: here the lookups give dense gradients, and every step
    all-reduces the whole (V+1, d) and (V, d) matrices (README, "When you outgrow one machine")."""
    nn = model.bk.nn

    class Vectors(nn.Module):
        def __init__(self):
            super().__init__()
            self.W_in, self.W_out = nn.Parameter(model.W_in.detach()), nn.Parameter(model.W_out.detach())

        def forward(self, ctx, targets, weight, band=None):
            return model.loss(ctx, targets, weight, band=band)

    vectors = Vectors()
    model.W_in, model.W_out, model.sparse_grads = vectors.W_in, vectors.W_out, False
    return dist.wrap(vectors)


def _shard(dist, ctx, targets, weight, band):
    """This rank's centres of a global batch (an uneven split is fine: the loss is a sum) and the
    part of `band` (the centres' positions plus W on each side) they read."""
    m, W = ctx.shape[0], ctx.shape[1] // 2
    lo, hi = dist.rank * m // dist.world_size, (dist.rank + 1) * m // dist.world_size
    return ctx[lo:hi], targets[lo:hi], weight[lo:hi], band[lo:hi + 2 * W]


def train_sgns(sentences, dim=100, window=5, negative=5, min_count=5, epochs=5, lr=0.025, min_lr_ratio=1e-4,
               sample=1e-3, batch_size=512, seed=0, progress=True, max_vocab=None, log=None, use_band=True,
               backend=None, dist=None):
    """Train SGNS word vectors on `sentences` (list of token lists).

    The learning rate of a batch is word2vec's lr * max(1 - raw_words_done / (epochs * N + 1),
    min_lr_ratio): linear in the raw (pre-subsampling) corpus words processed, from lr down to
    lr * min_lr_ratio at the end of training.

    Returns (model: SkipGramNS, stats: dict with final_loss (mean per pair over the last 10% of
    batches), words_per_sec (effective, post-subsampling, per wall-clock second), words_per_cpu_sec
    (per second of this process's CPU time: less sensitive to other load), pairs_per_sec, wall_time,
    cpu_time, effective_words, vocab_size, corpus_words, loss_history (per-epoch mean loss per pair),
    lr_history (the lr of every batch, in order), start_lr and final_lr (of the first/last batch)).
    dist: a models.distributed.Dist when several processes train together (torch backend): every
    rank draws the same global batches and takes its share of their centres; its summed loss is
    scaled by world_size, so the gradient DistributedDataParallel averages is the whole batch's sum
    and the steps are those of one process (`loss_steps`: the global loss of every batch).

    Raises ValueError for an empty corpus or a min_count that leaves no vocabulary."""
    from .distributed import SINGLE
    dist = dist or SINGLE
    vocab = Vocab.build(sentences, min_count=min_count, max_size=max_vocab)
    ids, sent = vocab.encode(sentences)
    if ids.shape[0] < 2:
        raise ValueError(f"train_sgns: only {ids.shape[0]} in-vocabulary tokens; need at least 2 to form pairs")
    tg.manual_seed(seed)
    model = SkipGramNS(vocab, dim=dim, seed=seed, backend=backend)
    batches = PairBatches(ids, sent, vocab.counts, window=window, negative=negative, sample=sample,
                          batch_size=batch_size, pad=model.pad, rng=np.random.default_rng(seed + 1))
    step_loss = _data_parallel(model, dist) if dist.active else model.loss
    opt = model.bk.optim.SGD(model.parameters(), lr=lr)
    N = ids.shape[0]
    total_raw = epochs * N
    n_batches = epochs * int(math.ceil(batches.expected_kept() / batch_size))
    words = pairs = 0
    epoch_losses, recent, lrs, steps = [], [], [], []
    t0, c0 = time.perf_counter(), time.process_time()
    bar = Progress(total=n_batches, desc="skipgram", unit="words", disable=not progress or not dist.is_main)
    for ep in range(epochs):
        ep_loss = ep_pairs = 0.0
        for ctx, targets, weight, n_raw, n_c, n_p, band in batches.epoch():
            alpha = lr * max(1.0 - (ep * N + n_raw) / (total_raw + 1), min_lr_ratio)
            opt.param_groups[0]["lr"] = alpha
            lrs.append(alpha)
            if dist.active:
                ctx, targets, weight, band = _shard(dist, ctx, targets, weight, band)
            loss = step_loss(ctx, targets, weight, band=band if use_band else None) * dist.world_size
            model.W_in.grad = model.W_out.grad = None
            loss.backward()                # (DDP: the gradients are averaged over the ranks here)
            opt.step()
            lv = check_loss(dist.mean(loss.item()), len(lrs) - 1, "skip-gram training", alpha)
            steps.append(lv)
            ep_loss += lv
            ep_pairs += n_p
            words += n_c
            pairs += n_p
            per_pair = lv / max(n_p, 1)
            recent.append(per_pair)
            bar.update(1, items=n_c, loss=per_pair, lr=alpha)
        epoch_losses.append(ep_loss / max(ep_pairs, 1))
        if log is not None and dist.is_main:
            log(f"epoch {ep + 1}/{epochs}: loss per pair {epoch_losses[-1]:.4f}")
    bar.close()
    check_finite_weights([("W_in", model.W_in), ("W_out", model.W_out)], "the word vectors")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tail = recent[-max(1, len(recent) // 10):]
    stats = {"final_loss": float(np.mean(tail)) if tail else float("nan"), "loss_history": epoch_losses,
             "words_per_sec": words / wall, "pairs_per_sec": pairs / wall, "wall_time": wall,
             "cpu_time": cpu, "words_per_cpu_sec": words / max(cpu, 1e-9),
             "effective_words": words, "pairs": pairs, "vocab_size": len(vocab), "corpus_words": int(N),
             "lr_history": lrs, "loss_steps": steps, "nproc": dist.world_size, "start_lr": lrs[0] if lrs else float(lr),
             "final_lr": lrs[-1] if lrs else float(lr)}
    return model, stats


# ====================================================================== CLI
def _parser(prog=None):
    """The command line's parser; `prog` names the command in usage lines (tinygrad-lite passes its own)."""
    p = argparse.ArgumentParser(prog=prog or "python -m models.skipgram",
                                description="Train skip-gram (negative sampling) word vectors with tinygrad_lite. "
                                            "Without --text: the stdlib's pydoc_data topics.")
    p.add_argument("--text", "--data", dest="text", default=None, help="plain-text corpus, one sentence per line")
    p.add_argument("--dim", type=int_at_least(1), default=100)
    p.add_argument("--window", type=int_at_least(1), default=5)
    p.add_argument("--negative", type=int_at_least(1), default=5)
    p.add_argument("--min-count", type=int_at_least(1), default=5)
    p.add_argument("--epochs", type=int_at_least(1), default=5)
    p.add_argument("--lr", type=float_in(0, lo_open=True), default=0.025, help="start learning rate (decays linearly)")
    p.add_argument("--min-lr-ratio", type=float_in(0, 1), default=1e-4, help="final lr = lr * this")
    p.add_argument("--sample", type=float_in(0), default=1e-3, help="subsampling threshold (0 disables)")
    p.add_argument("--batch-size", type=int_at_least(1), default=None, help="centre positions per batch (default 512; --arch cbow: 256)")
    p.add_argument("--max-vocab", type=int_at_least(1), default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="directory for vectors.tgl, vectors.txt, checkpoint.tgl, metrics.json")
    p.add_argument("--wordsim", action="append", default=[], help="word-pair file(s) (WordSim-353/SimLex format)")
    p.add_argument("--analogies", default=None, help="analogy file (questions-words.txt format)")
    p.add_argument("--query", action="append", default=None, help="nearest neighbours of these words (printed and in metrics.json; default: a few "
                        "of function, class, list, string, else the most frequent words)")
    p.add_argument("--topn", type=int_at_least(1), default=10)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--threads", type=int_at_least(1), default=1, help="BLAS threads (default 1: faster for these small products)")
    from .word2vec_objectives import add_objective_args
    add_objective_args(p)  # --arch, --loss, --temperature, --snapshots...
    from . import distributed
    distributed.add_args(add_backend_args(p))  # --backend, --device, --dtype, --nproc, --dist-timeout
    return p


def main(argv=None, prog=None):
    """CLI entry point (also called by `tinygrad-lite train skipgram ...`). Returns the metrics dict."""
    from . import distributed
    parser = _parser(prog)
    args = parser.parse_args(argv)
    # (bad file, empty corpus, min_count too high...)
    return distributed.run_command(parser, args, argv, "models.skipgram", _run, (OSError, ValueError, KeyError))


DEFAULT_QUERIES = ("function", "class", "list", "string")


def _query_words(wv, query=None, n=3):
    """The words whose neighbours the CLI reports: `query` if given, else the first `n` of
    DEFAULT_QUERIES in the vocabulary, else (another corpus) the `n` most frequent words."""
    if query is not None:
        return list(query)
    return [w for w in DEFAULT_QUERIES if w in wv][:n] or list(wv.words[:n])


def _run(args, backend, dist):
    say = (lambda m: print(m, file=sys.stderr)) if dist.is_main else (lambda m: None)
    if args.text:
        counts = {}
        sentences = read_sentences(args.text, counts=counts)
        source = args.text
        if counts["long_lines"]:
            say(f"corpus: {counts['long_lines']} line(s) longer than 10,000 words were cut into sentences of "
                "10,000 words (as word2vec does)")
    else:
        sentences = default_corpus()
        source = "pydoc_data.topics (embedded)"
    say(f"corpus: {source}: {sum(map(len, sentences))} tokens in {len(sentences)} sentences")
    from . import word2vec_objectives as w2v
    if w2v.wants_objectives(args):  # CBOW, another loss or snapshots: the general trainer
        if backend.name != "tinygrad_lite":
            raise ValueError("--arch cbow, --loss other than negative and --snapshots run on the tinygrad_lite "
                             "backend only; drop --backend torch or use skip-gram with negative sampling")
        model, stats = w2v.train_from_args(args, sentences)
    else:
        model, stats = train_sgns(sentences, dim=args.dim, window=args.window, negative=args.negative,
                                  min_count=args.min_count, epochs=args.epochs, lr=args.lr,
                                  min_lr_ratio=args.min_lr_ratio, sample=args.sample, batch_size=args.batch_size or 512,
                                  seed=args.seed, progress=not args.no_progress, max_vocab=args.max_vocab,
                                  log=say, backend=backend, dist=dist)
    if not dist.is_main:  # rank 0 alone evaluates and writes
        return {"nproc": dist.world_size, "rank": dist.rank}
    wv = model.wv
    metrics = {k: v for k, v in stats.items() if k != "lr_history"}  # per batch: too long for the json
    metrics.update(corpus=source, args=vars(args))
    for path in args.wordsim:
        r = wv.evaluate_word_pairs(path)
        metrics.setdefault("word_pairs", {})[os.path.basename(path)] = r
        print(f"{os.path.basename(path)}: spearman {r['spearman']:.4f} pearson {r['pearson']:.4f} "
              f"oov {r['oov_ratio']:.1f}%", file=sys.stderr)
    if args.analogies:
        r = wv.evaluate_analogies(args.analogies)
        metrics["analogies"] = r
        print(f"analogies: accuracy {r['accuracy']:.4f} ({r['correct']}/{r['total']})", file=sys.stderr)
    queries = _query_words(wv, args.query)
    neighbours = {}
    for q in queries:
        try:
            nb = wv.most_similar(q, topn=args.topn)
        except KeyError as e:
            print(f"nearest to '{q}': {e.args[0]}")
            metrics.setdefault("unknown_queries", []).append(q)
            continue
        neighbours[q] = [[w, float(c)] for w, c in nb]
        print(f"nearest to '{q}': " + ", ".join(f"{w} {c:.3f}" for w, c in nb))
    known = list(neighbours)
    metrics["neighbours"] = neighbours  # {query: [[word, cosine], ...] best first}
    metrics["similarities"] = [[a, b, wv.similarity(a, b)] for i, a in enumerate(known) for b in known[i + 1:]]
    print(f"final loss {stats['final_loss']:.4f}, {stats['words_per_sec']:.0f} words/s, "
          f"{stats['wall_time']:.1f} s, vocab {stats['vocab_size']}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        wv.save(os.path.join(args.out, "vectors.tgl"))
        wv.save_word2vec_format(os.path.join(args.out, "vectors.txt"))
        model.save(os.path.join(args.out, "checkpoint.tgl"),
                   config={k: getattr(args, k) for k in ("dim", "window", "negative", "min_count", "epochs", "lr",
                                                          "min_lr_ratio", "sample", "batch_size", "seed")})
        with open(os.path.join(args.out, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2, default=float)
        if getattr(model, "snapshots", None) is not None:
            w2v.write_snapshot_outputs(model.snapshots, args.out)
        print(f"wrote {args.out}/vectors.tgl, vectors.txt, checkpoint.tgl, metrics.json", file=sys.stderr)
    return metrics


if __name__ == "__main__":
    from models.distributed import main_and_exit
    main_and_exit(main)
