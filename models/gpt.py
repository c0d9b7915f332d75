"""A GPT (decoder-only transformer) in one file, after Karpathy's nanoGPT, on tinygrad_lite.

Read top to bottom: config -> attention -> MLP -> block -> GPT (forward, generate) -> training
loop (AdamW, warmup + cosine decay, gradient clipping, validation, checkpoints) -> command line.

Shapes: B batch, T sequence length (<= block_size), C = n_embd, H = n_head, D = C // H,
V = vocab_size. Names follow GPT-2 / nanoGPT (wte, wpe, h, ln_1, attn.c_attn, ...) so that the
code can be read side by side with the paper and with nanoGPT.

    python -m models.gpt                         # train a small char model on Python's own docs
    python -m models.gpt --text input.txt --out run1 --steps 2000
    python -m models.gpt --sample --out run1     # generate text from run1's checkpoint

No gradient is written here: the engine derives every backward pass.

The same classes run on PyTorch (`--backend torch`, `GPT(config, backend="torch")`): each module
reads its layers from `self.bk` (models/backend.py), tinygrad_lite's or torch's.
"""
import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

import tinygrad_lite as tg

from models.argtypes import float_in, int_at_least
from models.guard import check_finite_weights, check_loss
from models.attention import causal_mask
from models.backend import (Module, add_backend_args, backend_from_args, checkpoint_state, get_backend,
                            tg_default_dtype)


# ----------------------------------------------------------------------------- configuration
@dataclass
class GPTConfig:
    """Model shape. vocab_size V, block_size = the longest context the model can see."""
    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True            # biases in Linear layers and LayerNorms, as GPT-2
    tie_weights: bool = True     # lm_head shares its matrix with wte (Press & Wolf 2017)


# ----------------------------------------------------------------------------- the model
class CausalSelfAttention(Module):
    """Multi-head self-attention where position t only sees positions <= t.
    forward(x (B, T, C)) -> (B, T, C)."""

    def __init__(self, config, backend=None):
        super().__init__()
        nn = self.bk.nn
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd={config.n_embd} must be divisible by n_head={config.n_head}")
        # one Linear makes the queries, keys and values of all heads at once (3 C outputs):
        # the same maths as 3*H small projections, but one large, fast matrix product
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)   # mixes the heads' outputs
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd = config.n_head, config.n_embd

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, D): every head attends independently over its own D features
        q = q.reshape(B, T, H, C // H).transpose(1, 2)
        k = k.reshape(B, T, H, C // H).transpose(1, 2)
        v = v.reshape(B, T, H, C // H).transpose(1, 2)
        att = q @ k.transpose(-2, -1)                              # (B, H, T, T): query i . key j
        # softmax over the keys of att / sqrt(D), the future (key j > query i) set to -inf first so that
        # position t cannot peek at the tokens it must predict; one fused op (see tinygrad_lite/ops/fused.py)
        att = self.bk.masked_softmax(att, 1.0 / math.sqrt(C // H), causal_mask(T))
        att = self.attn_dropout(att)
        y = att @ v                                                # (B, H, T, D): weighted sum of values
        y = y.transpose(1, 2).reshape(B, T, C)                      # concatenate the heads again
        return self.resid_dropout(self.c_proj(y))


class MLP(Module):
    """Position-wise feed-forward net: C -> 4C -> GELU -> C. forward(x (B, T, C)) -> (B, T, C)."""

    def __init__(self, config, backend=None):
        super().__init__()
        nn = self.bk.nn
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")                    # GPT-2 used the tanh approximation
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(Module):
    """One transformer block, pre-LayerNorm (GPT-2): x + attn(ln(x)), then x + mlp(ln(x)).
    Normalising *before* each sub-layer keeps the residual path an identity, which trains stably
    without careful warmup. forward(x (B, T, C)) -> (B, T, C)."""

    def __init__(self, config, backend=None):
        super().__init__()
        nn = self.bk.nn
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config, backend=self.bk)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config, backend=self.bk)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))      # tokens exchange information
        x = x + self.mlp(self.ln_2(x))       # each token thinks on its own
        return x


class GPT(Module):
    """Decoder-only transformer language model.

    forward(idx (B, T) int64, targets=None (B, T) int64 with -1 = ignore)
        -> (logits (B, T, V), loss scalar Tensor or None)
    generate(idx (B, T), max_new_tokens, temperature=1.0, top_k=None, generator=None) -> (B, T + new)

    backend: None or "tinygrad_lite" (default), "torch", or a models.backend.Backend.
    """

    def __init__(self, config, backend=None):
        super().__init__()
        nn = self.bk.nn
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)   # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)   # learned position embeddings
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config, backend=self.bk) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)                      # pre-LN leaves the last output un-normalised
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            # the same matrix reads tokens in and scores them out: fewer parameters, better small models
            self.lm_head.weight = self.wte.weight
        self._init_weights()

    def _init_weights(self):
        """GPT-2 init: N(0, 0.02) for matrices and embeddings, zero biases, and the projections that
        write into the residual stream (c_proj) scaled by 1/sqrt(2 n_layer), so the residual's
        variance does not grow with depth (2 such writes per block)."""
        std, proj_std = 0.02, 0.02 / math.sqrt(2 * self.config.n_layer)
        with self.bk.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    p.zero_()
                elif name.startswith(("ln_", "ln_f")) or ".ln_" in name:
                    p.fill_(1.0)                                     # LayerNorm gains start at 1
                elif name.endswith("c_proj.weight"):
                    p.normal_(0.0, proj_std)
                else:
                    p.normal_(0.0, std)

    def parameters_unique(self):
        """Parameters without repeats (the tied lm_head/wte matrix appears once)."""
        seen, out = set(), []
        for p in self.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return out

    def num_params(self, non_embedding=True):
        """Number of parameters; by default without the position table (as nanoGPT reports)."""
        n = sum(p.numel() for p in self.parameters_unique())
        return n - self.wpe.weight.numel() if non_embedding else n

    def forward(self, idx, targets=None):
        bk = self.bk
        idx = _as_index(idx, "idx", bk)
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"GPT.forward: sequence length {T} is longer than block_size="
                             f"{self.config.block_size}; crop the input to its last {self.config.block_size} "
                             "tokens (generate() does this)")
        V = self.config.vocab_size
        ids = bk.numpy(idx)
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= V):
            raise ValueError(f"GPT.forward: token ids must be in [0, {V}), got values in "
                             f"[{int(ids.min())}, {int(ids.max())}]")
        pos = bk.arange(T)
        x = self.drop(self.wte(idx) + self.wpe(pos))                 # (B, T, C): what + where
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        logits = self.lm_head(x)                                     # (B, T, V): a score for every next token
        loss = None
        if targets is not None:
            targets = _as_index(targets, "targets", bk)
            if targets.shape != idx.shape:
                raise ValueError(f"GPT.forward: targets have shape {tuple(targets.shape)}, expected {tuple(idx.shape)}")
            loss = bk.F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), ignore_index=-1)
        return logits, loss

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Continue each row of idx (B, T) by max_new_tokens sampled tokens -> int64 Tensor (B, T + new).

        temperature < 1 sharpens, > 1 flattens the distribution; top_k keeps only the k likeliest
        tokens (an int >= 1; None = all); temperature=0 picks the most likely token (greedy).
        Raises ValueError for a negative (or NaN) temperature, top_k < 1 or max_new_tokens < 0.
        generator: a numpy Generator (or an int seed); by default the global one, so
        tinygrad_lite.manual_seed(s) makes it repeatable.
        The model is put in eval mode (no dropout) while generating."""
        bk = self.bk
        idx = _as_index(idx, "idx", bk)
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"generate: idx must have shape (B, T) with T >= 1, got {tuple(idx.shape)}")
        _check_sampling(temperature, top_k, max_new_tokens)
        rng = np.random.default_rng(generator) if isinstance(generator, (int, np.integer)) else \
            (generator or tg.random.get_rng())
        was_training = self.training
        self.eval()
        out = bk.numpy(idx)
        try:
            with bk.no_grad():
                for _ in range(max_new_tokens):
                    ctx = out[:, -self.config.block_size:]            # the model sees at most block_size tokens
                    logits, _ = self(bk.tensor(ctx))
                    logits = bk.numpy(logits)[:, -1, :].astype(np.float64)  # (B, V): only the last position matters
                    if temperature == 0:
                        nxt = logits.argmax(-1)
                    else:
                        logits = logits / temperature
                        if top_k is not None:
                            kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1])][:, None]
                            logits = np.where(logits < kth, -np.inf, logits)
                        p = np.exp(logits - logits.max(-1, keepdims=True))
                        p /= p.sum(-1, keepdims=True)
                        # inverse-CDF sampling: one uniform number per row
                        u = rng.random((p.shape[0], 1))
                        nxt = np.minimum((p.cumsum(-1) < u).sum(-1), p.shape[-1] - 1)
                    out = np.concatenate([out, nxt[:, None].astype(np.int64)], axis=1)
        finally:
            self.train(was_training)
        return bk.tensor(out)


def _check_sampling(temperature, top_k, max_new_tokens=0):
    """generate()'s rule for its options (the command lines' --temperature, --top-k and
    --max-new-tokens types apply the same one): temperature >= 0 (0 = greedy), top_k None or an
    integer >= 1, max_new_tokens an integer >= 0. Raises ValueError naming the argument and value."""
    try:
        ok = float(temperature) >= 0            # False for NaN too
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"generate: temperature must be a number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"generate: top_k must be None or an integer >= 1, got {top_k!r}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")


def _as_index(x, what, bk):
    """Accept a tensor of the backend bk, a numpy array or a list of token ids; return an int64 tensor."""
    if isinstance(x, (np.ndarray, list, tuple)):
        arr = np.asarray(x)
        if arr.dtype.kind not in "iub" and arr.size:
            raise TypeError(f"{what} must hold integer token ids, got dtype {arr.dtype}")
        x = bk.tensor(arr.astype(np.int64))
    elif bk.dtype_kind(x) not in "iu":
        raise TypeError(f"{what} must hold integer token ids, got dtype {x.dtype}")
    else:
        x = bk.to_device(x)
        if str(x.dtype) not in ("int64", "torch.int64"):
            x = x.long()
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2:
        raise ValueError(f"{what} must have shape (B, T), got {tuple(x.shape)}")
    return x


# ----------------------------------------------------------------------------- training
@dataclass
class TrainConfig:
    """Optimisation settings (nanoGPT's names): AdamW with linear warmup then cosine decay to min_lr."""
    max_iters: int = 600
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 50
    lr_decay_iters: int = 0       # 0 = max_iters
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0        # 0 = off
    eval_interval: int = 100
    eval_iters: int = 20
    seed: int = 1337


def get_lr(it, tc, progress=None):
    """Learning rate at step `it`: linear warmup, cosine decay to min_lr, then flat.

    With `progress` (the fraction of a time-budgeted run done, 0..1) the cosine follows it instead
    of the step count, so a run cut short by the clock still ends with a decayed learning rate."""
    decay_iters = tc.lr_decay_iters or tc.max_iters
    if it < tc.warmup_iters:
        return tc.learning_rate * (it + 1) / (tc.warmup_iters + 1)
    if progress is not None:
        ratio = progress
    elif it >= decay_iters:
        return tc.min_lr
    else:
        ratio = (it - tc.warmup_iters) / max(1, decay_iters - tc.warmup_iters)
    return tc.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (tc.learning_rate - tc.min_lr)


def configure_optimizer(model, tc):
    """AdamW where matrices and embeddings decay and biases / LayerNorm gains do not (decaying a
    gain towards 0 would fight the normalisation)."""
    decay, no_decay = [], []
    for p in model.parameters_unique():
        (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return model.bk.optim.AdamW(groups, lr=tc.learning_rate, betas=(tc.beta1, tc.beta2))


def estimate_loss(model, splits, tc, block_size, rng):
    """Mean loss over tc.eval_iters random batches of each split, without dropout: {name: float}."""
    from models.chartext import get_batch
    out = {}
    was_training = model.training
    model.eval()
    with model.bk.no_grad():
        for name, data in splits.items():
            losses = []
            for _ in range(tc.eval_iters):
                x, y = get_batch(data, tc.batch_size, block_size, rng)
                losses.append(model(x, y)[1].item())
            out[name] = float(np.mean(losses))
    model.train(was_training)
    return out


def train(model, train_data, val_data, tc, on_step=None, on_eval=None, seconds=None, dist=None,
          last_checkpoint=None):
    """Train `model` on token arrays (N_train,), (N_val,) for tc.max_iters steps.

    seconds: an optional wall-clock budget of training time; the run then ends after max_iters steps
    or `seconds`, whichever comes first, and the learning-rate cosine and the evaluations (every
    eval_interval / max_iters of the run) follow the progress max(it / max_iters, elapsed / seconds).
    on_step(it, loss, lr, dt) and on_eval(it, {'train': .., 'val': ..}) are optional callbacks.
    A non-finite loss stops the run (models.guard.TrainingDiverged, naming the step and
    last_checkpoint(), a callable giving the path of the newest checkpoint written, if any).
    dist: a models.distributed.Dist when several processes train together (torch backend): each
    rank takes its shard of every global batch of tc.batch_size rows, DistributedDataParallel
    averages the gradients, the logged loss is the mean over the ranks, and only rank 0 evaluates.
    Returns a dict of metrics: {'train_loss': [...], 'val': [(it, train, val), ...], 'tokens_per_s',
    'train_seconds', 'steps'}."""
    from models.distributed import SINGLE
    dist = dist or SINGLE
    if seconds and dist.active:
        raise ValueError("train: a time budget (seconds=) cannot be used with several processes: the ranks "
                         "must agree on every step; give max_iters instead")
    bk = model.bk
    rng = np.random.default_rng(tc.seed)
    eval_rng = np.random.default_rng(tc.seed + 1)
    opt = configure_optimizer(model, tc)
    params = model.parameters_unique()
    T = model.config.block_size
    step_model = dist.wrap(model)                  # DistributedDataParallel over the ranks, or model itself
    history, evals, t_train = [], [], 0.0
    eval_every = tc.eval_interval / tc.max_iters if tc.eval_interval and tc.max_iters else None
    next_eval = 0.0
    t_start = time.perf_counter()
    model.train()
    it = 0
    while True:
        progress = it / tc.max_iters if tc.max_iters else 1.0
        if seconds:
            progress = min(1.0, max(progress, (time.perf_counter() - t_start) / seconds))
        done = progress >= 1.0
        due = (progress >= next_eval) if seconds else (it % tc.eval_interval == 0 if tc.eval_interval else False)
        if eval_every and val_data is not None and (due or done) and dist.is_main:
            losses = estimate_loss(model, {"train": train_data, "val": val_data}, tc, T, eval_rng)
            evals.append((it, losses["train"], losses["val"]))
            next_eval = (math.floor(progress / eval_every) + 1) * eval_every
            if on_eval:
                on_eval(it, losses)
        if done:
            break
        t0 = time.perf_counter()
        lr = get_lr(it, tc, progress if seconds else None)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = get_batch_tensors(train_data, tc.batch_size, T, rng, bk, dist)
        _, loss = step_model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()                            # (DDP: the gradients are averaged over the ranks here)
        if tc.grad_clip > 0:
            bk.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        opt.step()
        dt = time.perf_counter() - t0
        t_train += dt
        history.append(check_loss(dist.mean(loss.item()), it, "GPT training", lr, last_checkpoint))
        it += 1
        if on_step:
            on_step(it - 1, history[-1], lr, dt)
    return {"train_loss": history, "val": evals, "steps": it,
            "tokens_per_s": tc.batch_size * T * len(history) / max(t_train, 1e-9), "train_seconds": t_train}


def get_batch_tensors(data, batch_size, block_size, rng, bk=None, dist=None):
    """get_batch as int64 tensors x, y of shape (B, T) of the backend bk (default tinygrad_lite);
    with a Dist, this rank's shard of the rows: (B / world_size, T)."""
    from models.chartext import get_batch
    bk = get_backend(bk)
    x, y = get_batch(data, batch_size, block_size, rng)
    if dist is not None:
        x, y = dist.shard(x, y)
    return bk.tensor(x), bk.tensor(y)


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(path, model, vocab=None, extra=None):
    """Write model weights + config (+ vocabulary) to `path` atomically: a temporary file in the
    same directory is renamed over the old one, so a crash never leaves a half-written checkpoint."""
    check_finite_weights(model.state_dict().items(), path)     # a diverged run never overwrites a good file
    state = {"model": checkpoint_state(model), "config": asdict(model.config),
             "vocab": vocab.state() if vocab is not None else None, "extra": extra or {}}
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        tg.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path, backend=None, device="cpu"):
    """Read a checkpoint written by save_checkpoint -> (model in eval mode, CharVocab or None, extra).

    The file is the same whichever backend wrote it; `backend` ("tinygrad_lite" default, or
    "torch") and `device` choose where the model is rebuilt, in the dtype of the saved weights."""
    from models.chartext import CharVocab
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}; train first with `python -m models.gpt --out DIR`")
    state = tg.load(path)
    known = {f.name for f in fields(GPTConfig)}
    dtype = next((v.dtype for v in state["model"].values() if v.dtype.kind == "f"), None)
    bk = get_backend(backend, device, dtype)
    config = GPTConfig(**{k: v for k, v in state["config"].items() if k in known})
    _check_config_against_weights(path, config, state["model"])
    model = bk.make(GPT, config)
    bk.load_state(model, state["model"])
    model.eval()
    vocab = CharVocab.from_state(state["vocab"]) if state.get("vocab") else None
    return model, vocab, state.get("extra", {})


def _check_config_against_weights(path, config, weights):
    """Raise CheckpointMismatch naming each config field that the weights contradict (a checkpoint
    edited by hand, or config and weights from different runs)."""
    from models.backend import CheckpointMismatch
    seen = {}
    if "wte.weight" in weights:
        seen["vocab_size"], seen["n_embd"] = (int(n) for n in weights["wte.weight"].shape)
    if "wpe.weight" in weights:
        seen["block_size"] = int(weights["wpe.weight"].shape[0])
    layers = {int(k.split(".")[1]) for k in weights if k.startswith("h.") and k.split(".")[1].isdigit()}
    if layers:
        seen["n_layer"] = max(layers) + 1
    seen["bias"] = any(k.endswith("c_attn.bias") for k in weights)
    seen["tie_weights"] = "lm_head.weight" not in weights or np.array_equal(
        np.asarray(weights["lm_head.weight"].numpy()), np.asarray(weights["wte.weight"].numpy()))
    differ = [f"{k}={getattr(config, k)!r} but the weights have {v!r}" for k, v in seen.items()
              if k != "tie_weights" and getattr(config, k) != v]
    if differ:
        raise CheckpointMismatch(f"{path}: its config disagrees with its weights: " + "; ".join(differ))


# ----------------------------------------------------------------------------- command line
def _parser(prog=None):
    """The command line's parser; `prog` names the command in usage lines (tinygrad-lite passes its own)."""
    p = argparse.ArgumentParser(prog=prog or "python -m models.gpt", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description=(
        "Train a character-level GPT (default: a small model on Python's own help text, about a "
        "minute), or with --sample generate text from a checkpoint."))
    p.add_argument("--text", default=None, help="UTF-8 training text (default: embedded pydoc text)")
    p.add_argument("--out", default=None, help="directory for ckpt.pt and metrics.json")
    p.add_argument("--sample", action="store_true", help="generate from --out/ckpt.pt instead of training")
    m = p.add_argument_group("model")
    m.add_argument("--n-layer", type=int_at_least(1), default=2, help="transformer blocks")
    m.add_argument("--n-head", type=int_at_least(1), default=4, help="attention heads per block")
    m.add_argument("--n-embd", type=int_at_least(1), default=64, help="model width C (a multiple of --n-head)")
    m.add_argument("--block-size", type=int_at_least(1), default=64, help="context length T")
    m.add_argument("--dropout", type=float_in(0, 1), default=0.0, help="dropout probability, in [0, 1)")
    m.add_argument("--no-bias", action="store_true", help="Linear/LayerNorm without biases")
    m.add_argument("--no-tie", action="store_true", help="separate lm_head and wte matrices")
    t = p.add_argument_group("training")
    t.add_argument("--steps", type=int_at_least(1), default=500, help="optimizer steps (max_iters)")
    t.add_argument("--batch-size", type=int_at_least(1), default=32, help="sequences per step")
    t.add_argument("--lr", type=float_in(0, lo_open=True), default=2e-3, help="peak learning rate (> 0)")
    t.add_argument("--min-lr", type=float_in(0), default=2e-4, help="final learning rate of the cosine decay")
    t.add_argument("--warmup", type=int_at_least(0), default=30, help="linear warmup steps")
    t.add_argument("--weight-decay", type=float_in(0), default=0.1, help="AdamW decoupled weight decay (matrices only)")
    t.add_argument("--beta1", type=float_in(0, 1), default=0.9, help="AdamW beta1")
    t.add_argument("--beta2", type=float_in(0, 1), default=0.99, help="AdamW beta2")
    t.add_argument("--grad-clip", type=float_in(0), default=1.0, help="max global grad norm (0 = off)")
    t.add_argument("--eval-interval", type=int_at_least(0), default=100, help="steps between validation estimates (0 = none)")
    t.add_argument("--eval-iters", type=int_at_least(1), default=10, help="batches per validation estimate")
    t.add_argument("--val-fraction", type=float_in(0, 1), default=0.1, help="last fraction of the text held out, in [0, 1)")
    t.add_argument("--seed", type=int, default=1337, help="seed of init, batches and sampling")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--threads", type=int_at_least(1), default=1, help="BLAS threads (default 1: these products are small)")
    s = p.add_argument_group("sampling")
    s.add_argument("--prompt", default="\n", help="text to continue (characters must be in the vocabulary)")
    s.add_argument("--max-new-tokens", type=int_at_least(0), default=300, help="characters to generate")
    s.add_argument("--temperature", type=float_in(0), default=0.8,
                   help="sampling temperature, >= 0 (0 = greedy: always the likeliest character)")
    s.add_argument("--top-k", type=int_at_least(1), default=None, help="sample only from the k likeliest characters (k >= 1)")
    s.add_argument("--num-samples", type=int_at_least(1), default=1, help="how many samples")
    from models import distributed
    distributed.add_args(add_backend_args(p))
    return p


def main(argv=None, prog=None):
    """Train from the command line (see --help). Returns the metrics dict."""
    from models.progress import limit_blas_threads, reuse_freed_memory
    reuse_freed_memory()
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.sample:
        return sample_main(argv)
    if args.n_embd % args.n_head:  # the model would refuse it; say so as a usage error, before any work
        parser.error(f"--n-embd {args.n_embd} must be divisible by --n-head {args.n_head} "
                     f"(each head gets n_embd / n_head features)")
    from models import distributed
    distributed.check_args(parser, args)
    if args.nproc > 1 and args.batch_size % args.nproc:
        parser.error(f"--batch-size {args.batch_size} must be a multiple of --nproc {args.nproc} "
                     "(each process takes an equal shard of every batch)")
    launched = distributed.launch_if_asked(args, "models.gpt", argv)   # --nproc N: N workers run this main
    if launched is not None:
        return launched
    with limit_blas_threads(args.threads):
        return _train_cli(args)


def _train_cli(args):
    from models.distributed import run_worker
    bk = backend_from_args(args)
    with tg_default_dtype(args.dtype):            # the run's dtype, then the caller's default again
        return run_worker(args, bk, lambda dist: _train_run(args, bk, dist))


def _train_run(args, bk, dist):
    from models.chartext import CharVocab, load_text, train_val_split
    tg.manual_seed(args.seed)
    if bk.name == "torch":
        bk.torch.manual_seed(args.seed)            # torch's own generator: dropout masks
    try:
        text = load_text(args.text)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise SystemExit(f"error: --text: {e}") from None
    vocab = CharVocab.from_text(text)
    data = vocab.encode(text)
    train_data, val_data = train_val_split(data, args.val_fraction)
    if len(train_data) <= args.block_size or (args.val_fraction > 0 and len(val_data) <= args.block_size):
        raise SystemExit(f"error: the text has {len(text)} characters, too short for block_size={args.block_size} "
                         f"with a {args.val_fraction:.0%} validation split; use a longer text or a smaller --block-size")
    config = GPTConfig(vocab_size=len(vocab), block_size=args.block_size, n_layer=args.n_layer, n_head=args.n_head,
                       n_embd=args.n_embd, dropout=args.dropout, bias=not args.no_bias, tie_weights=not args.no_tie)
    tc = TrainConfig(max_iters=args.steps, batch_size=args.batch_size, learning_rate=args.lr, min_lr=args.min_lr,
                     warmup_iters=args.warmup, weight_decay=args.weight_decay, beta1=args.beta1, beta2=args.beta2,
                     grad_clip=args.grad_clip, eval_interval=args.eval_interval, eval_iters=args.eval_iters,
                     seed=args.seed)
    model = bk.build(GPT, config)
    log = print if dist.is_main else (lambda *a, **k: None)
    log(f"corpus: {args.text or 'embedded pydoc_data.topics'} ({len(text):,} chars, vocab {len(vocab)}); "
          f"train {len(train_data):,} / val {len(val_data):,} tokens", file=sys.stderr)
    log(f"model: {model.num_params():,} parameters ({config.n_layer} layers, {config.n_head} heads, "
          f"{config.n_embd} wide, context {config.block_size})", file=sys.stderr)
    from models.progress import Progress
    bar = Progress(total=tc.max_iters, desc="train", unit="tokens", disable=args.quiet or not dist.is_main)
    tok_per_step = tc.batch_size * config.block_size

    def on_step(it, loss, lr, dt):
        bar.update(1, items=tok_per_step, loss=loss, lr=lr)

    def on_eval(it, losses):
        bar.write(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if args.out:  # keep the newest checkpoint on disk as training goes
            save_checkpoint(os.path.join(args.out, "ckpt.pt"), model, vocab, {"iter": it, **losses})
            written.append(f"{os.path.join(args.out, 'ckpt.pt')} (step {it})")

    val = val_data if len(val_data) > config.block_size else None
    written = []
    metrics = train(model, train_data, val, tc, on_step=on_step, on_eval=on_eval, dist=dist,
                    last_checkpoint=lambda: written[-1] if written else None)
    bar.close()
    metrics.update({"config": asdict(config), "train_config": asdict(tc), "corpus": args.text or "pydoc_data.topics",
                    "final_val_loss": metrics["val"][-1][2] if metrics["val"] else None,
                    "backend": bk.name, "device": bk.device, "dtype": bk.dtype, "nproc": dist.world_size,
                    "steps_per_s": len(metrics["train_loss"]) / max(metrics["train_seconds"], 1e-9)})
    if not dist.is_main:
        return metrics
    print(f"done: {tc.max_iters} steps in {metrics['train_seconds']:.1f}s, {metrics['tokens_per_s']:,.0f} tokens/s"
          + (f", val loss {metrics['final_val_loss']:.4f}" if metrics["final_val_loss"] is not None else ""),
          file=sys.stderr)
    if args.out:
        save_checkpoint(os.path.join(args.out, "ckpt.pt"), model, vocab,
                        {"iter": tc.max_iters, "val": metrics["final_val_loss"]})
        tmp = os.path.join(args.out, ".metrics.json.tmp")
        with open(tmp, "w") as f:
            json.dump(metrics, f, indent=1)
        os.replace(tmp, os.path.join(args.out, "metrics.json"))
        print(f"wrote {os.path.join(args.out, 'ckpt.pt')} and metrics.json", file=sys.stderr)
    prompt = vocab.encode(args.prompt if all(c in vocab.stoi for c in args.prompt) else text[0])
    sample = model.generate(prompt[None, :], min(200, args.max_new_tokens), temperature=args.temperature,
                            top_k=args.top_k, generator=args.seed)
    print(vocab.decode(bk.numpy(sample)[0]))
    return metrics


def sample_main(argv=None):
    """Generate text from the checkpoint in --out DIR (see --help). Returns the list of samples."""
    from models.progress import limit_blas_threads
    args = _parser().parse_args(argv)
    if not args.out:
        raise SystemExit("error: --sample needs --out DIR (the directory holding ckpt.pt)")
    with limit_blas_threads(args.threads):
        return _sample_cli(args)


def _sample_cli(args):
    try:
        model, vocab, _ = load_checkpoint(os.path.join(args.out, "ckpt.pt"), backend_from_args(args).name,
                                          args.device)
    except FileNotFoundError as e:
        raise SystemExit(f"error: {e}") from None
    if vocab is None:
        raise SystemExit("error: this checkpoint has no character vocabulary; it was not trained on text")
    try:
        prompt = vocab.encode(args.prompt)
    except ValueError as e:
        raise SystemExit(f"error: --prompt: {e}") from None
    if len(prompt) == 0:
        raise SystemExit("error: --prompt is empty; give at least one character to continue")
    rng = np.random.default_rng(args.seed)
    samples = []
    for _ in range(args.num_samples):
        out = model.generate(prompt[None, :], args.max_new_tokens, temperature=args.temperature,
                             top_k=args.top_k, generator=rng)
        samples.append(vocab.decode(model.bk.numpy(out)[0]))
        print(samples[-1])
        print("-" * 40)
    return samples


if __name__ == "__main__":
    from models.distributed import main_and_exit
    main_and_exit(main)
