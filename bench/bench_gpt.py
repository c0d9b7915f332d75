"""GPT benchmark: tinygrad_lite (models/gpt.py) against the same model in PyTorch.

Config (issue 6): n_layer 4, n_head 4, n_embd 128, block_size 64, batch 32, AdamW lr 1e-3
(constant, PyTorch's other defaults), dropout 0, float32, untied lm_head (--tie to share wte),
GPT-2 init (models/gpt.py), tinyshakespeare (first 90% train, last 10% validation). Both models
start from the same weights and see the same batches.

    OPENBLAS_NUM_THREADS=1 python bench/bench_gpt.py --what speed --steps 30   # ms/step, same process
    OPENBLAS_NUM_THREADS=1 python bench/bench_gpt.py --what quality --steps 600 [--schedule cosine]
    OPENBLAS_NUM_THREADS=1 python bench/bench_gpt.py --what memory --steps 20  # RSS growth, subprocesses
    python -m cProfile -s tottime bench/bench_gpt.py --what ours --steps 20

Speed: one thread each (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1), steps interleaved
in blocks so that machine noise hits both; the median step is reported. PyTorch is timed twice:
with an explicit mask (masked_fill + softmax, as our model computes it) and with its fused
F.scaled_dot_product_attention.
Memory: each framework trains in a fresh subprocess; growth = peak RSS (ru_maxrss) after the
steps minus peak RSS before the first step (model, optimizer and data already built, and one step on an
8-token batch taken, so that the code loaded on first use is not counted: as bench/bench_user_gpt.py).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "tinyshakespeare.txt")
CFG = dict(n_layer=4, n_head=4, n_embd=128, block_size=64)
BATCH, LR = 32, 1e-3
TIE = False            # separate lm_head and wte matrices; --tie shares them (both frameworks)
BETAS = (0.9, 0.999)   # PyTorch's AdamW defaults; --beta2 changes both frameworks


# ----------------------------------------------------------------------------- the PyTorch twin
def torch_gpt_class():
    """The same architecture in PyTorch, parameter names identical to models/gpt.py."""
    import torch
    import torch.nn as tnn
    import torch.nn.functional as TF

    class Attn(tnn.Module):
        def __init__(self, C, H, fused):
            super().__init__()
            self.c_attn, self.c_proj, self.H, self.fused = tnn.Linear(C, 3 * C), tnn.Linear(C, C), H, fused

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
            if self.fused:
                y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.H))
                mask = torch.ones(T, T, dtype=torch.bool).triu(1)
                y = att.masked_fill(mask, float("-inf")).softmax(-1) @ v
            return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    class MLP(tnn.Module):
        def __init__(self, C):
            super().__init__()
            self.c_fc, self.c_proj = tnn.Linear(C, 4 * C), tnn.Linear(4 * C, C)

        def forward(self, x):
            return self.c_proj(TF.gelu(self.c_fc(x), approximate="tanh"))

    class Block(tnn.Module):
        def __init__(self, C, H, fused):
            super().__init__()
            self.ln_1, self.attn, self.ln_2, self.mlp = tnn.LayerNorm(C), Attn(C, H, fused), tnn.LayerNorm(C), MLP(C)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(tnn.Module):
        def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd, fused=False, tie=True):
            super().__init__()
            self.wte, self.wpe = tnn.Embedding(vocab_size, n_embd), tnn.Embedding(block_size, n_embd)
            self.h = tnn.ModuleList([Block(n_embd, n_head, fused) for _ in range(n_layer)])
            self.ln_f = tnn.LayerNorm(n_embd)
            self.lm_head = tnn.Linear(n_embd, vocab_size, bias=False)
            if tie:
                self.lm_head.weight = self.wte.weight

        def forward(self, idx, targets=None):
            T = idx.shape[1]
            x = self.wte(idx) + self.wpe(torch.arange(T))
            for b in self.h:
                x = b(x)
            logits = self.lm_head(self.ln_f(x))
            loss = None if targets is None else TF.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1),
                                                                 ignore_index=-1)
            return logits, loss

    return TorchGPT


def copy_weights_to_torch(ours, theirs):
    """Load our model's parameters into the PyTorch twin (same names, same layout)."""
    import torch
    sd = {k: torch.tensor(np.array(v.detach().numpy() if hasattr(v, "detach") else v))
          for k, v in ours.state_dict().items()}
    missing, unexpected = theirs.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and theirs.lm_head.weight is theirs.wte.weight)]
    assert not missing and not unexpected, (missing, unexpected)


# ----------------------------------------------------------------------------- setup
def load_data(path):
    from models.chartext import CharVocab, load_text, train_val_split
    text = load_text(path if os.path.exists(path) else None)
    vocab = CharVocab.from_text(text)
    train, val = train_val_split(vocab.encode(text), 0.1)
    return vocab, train, val, os.path.exists(path)


def build(vocab_size, seed=0):
    import tinygrad_lite as tg
    from models.gpt import GPT, GPTConfig
    tg.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, dropout=0.0, tie_weights=TIE, **CFG))


def make_ours(model):
    import tinygrad_lite as tg
    from tinygrad_lite import optim
    params = model.parameters_unique()
    opt = optim.AdamW(params, lr=LR, betas=BETAS)

    def step(x, y, lr=LR):
        for g in opt.param_groups:
            g["lr"] = lr
        _, loss = model(tg.Tensor._leaf(x), tg.Tensor._leaf(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def make_torch(model_ours, vocab_size, fused):
    import torch
    torch.set_num_threads(1)
    m = torch_gpt_class()(vocab_size, fused=fused, tie=TIE, **CFG)
    copy_weights_to_torch(model_ours, m)
    opt = torch.optim.AdamW(m.parameters(), lr=LR, betas=BETAS)

    def step(x, y, lr=LR):
        for g in opt.param_groups:
            g["lr"] = lr
        _, loss = m(torch.from_numpy(x), torch.from_numpy(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step, m


def batches(train, n, seed=0):
    from models.chartext import get_batch
    rng = np.random.default_rng(seed)
    return [get_batch(train, BATCH, CFG["block_size"], rng) for _ in range(n)]


def val_loss(forward_loss, val, n_batches=40, seed=123):
    """Mean loss over a fixed set of validation windows (the same for both frameworks)."""
    return float(np.mean([forward_loss(x, y) for x, y in batches(val, n_batches, seed)]))


# ----------------------------------------------------------------------------- the measurements
def bench_speed(steps, block=5):
    vocab, train, val, real = load_data(DATA)
    ours = build(len(vocab))
    runners = {"tinygrad_lite": make_ours(ours), "torch (explicit mask)": make_torch(ours, len(vocab), False)[0],
               "torch (fused sdpa)": make_torch(ours, len(vocab), True)[0]}
    data = batches(train, steps + 2)
    times = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    for name, run in runners.items():        # warm-up: first steps allocate
        run(*data[0])
        run(*data[1])
    for start in range(2, steps + 2, block):  # interleave blocks so that load spikes hit everyone
        for name, run in runners.items():
            for x, y in data[start:start + block]:
                t0, c0 = time.perf_counter(), time.process_time()
                run(x, y)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    res = {k: {"median_ms": 1e3 * float(np.median(v)), "min_ms": 1e3 * float(np.min(v)),
               "median_cpu_ms": 1e3 * float(np.median(cpu[k])), "n": len(v)} for k, v in times.items()}
    for k in res:
        for m in ("median_ms", "min_ms", "median_cpu_ms"):
            res[k][f"ours/this ({m})"] = res["tinygrad_lite"][m] / res[k][m]
    return {"data": DATA if real else "embedded default", **res}


def lr_at(it, steps, schedule):
    """constant: LR. cosine: linear warmup over 50 steps to LR, cosine decay to LR/10 at the end
    (models.gpt.get_lr, nanoGPT's schedule)."""
    if schedule == "constant":
        return LR
    from models.gpt import TrainConfig, get_lr
    return get_lr(it, TrainConfig(max_iters=steps, learning_rate=LR, min_lr=LR / 10, warmup_iters=50))


def bench_quality(steps, eval_every=100, with_torch=True, schedule="constant", seed=0):
    import tinygrad_lite as tg
    vocab, train, val, real = load_data(DATA)
    ours = build(len(vocab), seed)
    step_ours = make_ours(ours)
    if with_torch:
        import torch
        step_t, tmodel = make_torch(ours, len(vocab), True)

        def t_loss(x, y):
            with torch.no_grad():
                return tmodel(torch.from_numpy(x), torch.from_numpy(y))[1].item()

    def o_loss(x, y):
        with tg.no_grad():
            return ours(tg.Tensor._leaf(x), tg.Tensor._leaf(y))[1].item()

    log = []
    t0 = time.perf_counter()
    for i, (x, y) in enumerate(batches(train, steps, seed), 1):
        lr = lr_at(i - 1, steps, schedule)
        lo = step_ours(x, y, lr)
        lt = step_t(x, y, lr) if with_torch else float("nan")
        if i % eval_every == 0 or i == steps:
            row = {"step": i, "train_ours": lo, "val_ours": val_loss(o_loss, val)}
            if with_torch:
                row.update(train_torch=lt, val_torch=val_loss(t_loss, val))
            log.append(row)
            print(json.dumps(row), file=sys.stderr)
    return {"data": DATA if real else "embedded default", "steps": steps, "schedule": schedule, "betas": BETAS,
            "seed": seed, "tied": TIE,
            "log": log,
            "final_val_ours": log[-1]["val_ours"], "final_val_torch": log[-1].get("val_torch"),
            "seconds": time.perf_counter() - t0}


def _rss_child(framework, steps):
    """Runs in a subprocess: peak-RSS growth (MB) while training `steps` steps."""
    import resource
    vocab, train, val, real = load_data(DATA)
    ours = build(len(vocab))
    if framework == "ours":
        run = make_ours(ours)
    else:
        run = make_torch(ours, len(vocab), framework == "torch_fused")[0]
        del ours
    data = batches(train, steps + 1)
    x, y = data.pop()
    run(x[:1, :8], y[:1, :8])  # one step on 8 tokens first: the code each framework loads on first use (ours:
    import gc                  # numba and the compiled kernels, ~100 MB) is not growth, as bench_user_gpt.py
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for x, y in data:
        run(x, y)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"framework": framework, "growth_mb": (after - before) / 1024, "peak_mb": after / 1024}))


def bench_memory(steps):
    out = {}
    for fw in ("ours", "torch_mask", "torch_fused"):
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--what", "_rss", "--framework", fw,
                            "--steps", str(steps)], capture_output=True, text=True, check=True)
        out[fw] = json.loads(r.stdout.strip().splitlines()[-1])
    out["ratio_ours_over_torch_mask"] = out["ours"]["growth_mb"] / out["torch_mask"]["growth_mb"]
    out["ratio_ours_over_torch_fused"] = out["ours"]["growth_mb"] / out["torch_fused"]["growth_mb"]
    return out


def main(argv=None):
    global BETAS, TIE
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--what", default="ours", choices=["ours", "speed", "quality", "memory", "all", "_rss"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--framework", default="ours")
    p.add_argument("--no-torch", action="store_true", help="quality: train only ours")
    p.add_argument("--schedule", default="constant", choices=["constant", "cosine"],
                   help="quality: learning rate schedule (the same for both frameworks)")
    p.add_argument("--seed", type=int, default=0, help="quality: seed of the init and of the batches")
    p.add_argument("--tie", action="store_true", help="lm_head shares wte's matrix (both frameworks)")
    p.add_argument("--beta2", type=float, default=0.999, help="AdamW beta2 for both frameworks")
    p.add_argument("--malloc", default="reuse", choices=["reuse", "default"],
                   help="reuse: glibc keeps freed blocks for reuse (what `import tinygrad_lite` sets, see "
                        "tinygrad_lite/runtime.py; process-wide, so both frameworks get it); "
                        "default: glibc's own policy (TINYGRAD_LITE_MALLOC=default)")
    a = p.parse_args(argv)
    if a.malloc == "reuse":
        from models.progress import reuse_freed_memory
        reuse_freed_memory()
    else:  # `import tinygrad_lite` applies the policy itself (runtime.py) unless told not to
        os.environ["TINYGRAD_LITE_MALLOC"] = "default"
    BETAS, TIE = (BETAS[0], a.beta2), a.tie
    if a.what == "_rss":
        return _rss_child(a.framework, a.steps)
    if a.what == "ours":  # just train ours (for profiling)
        vocab, train, val, real = load_data(DATA)
        run = make_ours(build(len(vocab)))
        data = batches(train, a.steps + 1)
        run(*data[0])                       # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        for x, y in data[1:]:
            loss = run(x, y)
        dt, dc = (time.perf_counter() - t0) / a.steps, (time.process_time() - c0) / a.steps
        print(json.dumps({"steps": a.steps, "ms_per_step": 1e3 * dt, "cpu_ms_per_step": 1e3 * dc, "last_loss": loss}))
        return
    results = {}
    if a.what in ("speed", "all"):
        results["speed"] = bench_speed(a.steps if a.what == "speed" else 30)
    if a.what in ("memory", "all"):
        results["memory"] = bench_memory(a.steps if a.what == "memory" else 20)
    if a.what in ("quality", "all"):
        results["quality"] = bench_quality(a.steps if a.what == "quality" else 600, with_torch=not a.no_torch,
                                           schedule=a.schedule, seed=a.seed)
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
