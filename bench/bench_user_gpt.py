"""A GPT written the usual PyTorch way (nanoGPT's layout) with the public API only, run on
tinygrad_lite and on PyTorch: the same module source builds on both.

What a new user writes: nn.Linear, nn.LayerNorm, nn.Embedding, nn.GELU() (exact, the default),
`att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))` then F.softmax, F.cross_entropy,
optim.AdamW; no fused op, no flag, no environment variable. Config as bench/bench_gpt.py: 4 layers,
4 heads, n_embd 128, block 64, batch 32, characters of tinyshakespeare (random tokens if absent),
float32, the same initial weights for both.

    .venv/bin/python bench/bench_user_gpt.py [--steps 30] [--mem-steps 10]

Speed: one process (fresh: the script itself), one thread each (torch.set_num_threads(1), numpy's
BLAS via threadpoolctl), steps interleaved in blocks of 5, median step time (wall, and CPU time of
the process, which a busy machine disturbs less).
Memory: each framework trains in its own fresh child process that imports only that framework;
growth = the process's peak RSS (VmHWM in /proc/self/status) after the steps minus its RSS just
before the first step (model, optimizer, data built, and the code each framework loads on first use
loaded by one forward and backward of a one-sequence, 8-token batch: PyTorch's own code is in memory
from its import, ours includes numba and the compiled kernels; --count-code skips that step, so the
code counts as growth). tracemalloc would not do: it sees numpy's
buffers but not PyTorch's allocator, so RSS is the one measure both share.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

CFG = dict(n_layer=4, n_head=4, n_embd=128, block_size=64)
BATCH = 32


def make_gpt(lib, nn, F, vocab_size, n_layer, n_head, n_embd, block_size):
    """nanoGPT's model, written once against `lib` (tinygrad_lite or torch), its nn and its F."""

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.register_buffer("bias", lib.tril(lib.ones(block_size, block_size))
                                 .view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(n_embd, dim=2)
            k = k.view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, nh, T, hs)
            q = q.view(B, T, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v  # (B, nh, T, hs)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

        def forward(self, idx, targets):
            B, T = idx.size()
            pos = lib.arange(0, T)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
            return logits, loss

    return GPT()


def _framework(name):
    if name == "ours":
        import tinygrad_lite as lib
        import tinygrad_lite.nn as nn
        import tinygrad_lite.nn.functional as F
        from tinygrad_lite.optim import AdamW
    else:
        import torch as lib
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.optim import AdamW
        lib.set_num_threads(1)
    return lib, nn, F, AdamW


def load_tokens():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for d in (os.path.join(os.path.dirname(here), "shared", "data"), "/work/shared/data"):
        p = os.path.join(d, "tinyshakespeare.txt")
        if os.path.exists(p):
            text = open(p, encoding="utf-8").read()
            chars = sorted(set(text))
            lut = {c: i for i, c in enumerate(chars)}
            return np.array([lut[c] for c in text[:200_000]], np.int64), len(chars)
    return np.random.default_rng(0).integers(0, 65, 200_000), 65


def batches(tokens, n, seed=0):
    rng = np.random.default_rng(seed)
    T = CFG["block_size"]
    out = []
    for _ in range(n):
        ix = rng.integers(0, len(tokens) - T - 1, BATCH)
        out.append((np.stack([tokens[i:i + T] for i in ix]), np.stack([tokens[i + 1:i + T + 1] for i in ix])))
    return out


def initial_weights(vocab):
    """The initial state of the model, from tinygrad_lite's default init, as numpy arrays."""
    lib, nn, F, _ = _framework("ours")
    lib.manual_seed(0)
    model = make_gpt(lib, nn, F, vocab, **CFG)
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def build(name, weights, vocab):
    """Model, optimizer and a step function for framework `name`, from the same weights."""
    lib, nn, F, AdamW = _framework(name)
    model = make_gpt(lib, nn, F, vocab, **CFG)
    model.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
    opt = AdamW(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        _, loss = model(lib.tensor(x), lib.tensor(y))
        loss.backward()
        opt.step()
        return loss.item()

    def load_code(x, y):
        """One forward and backward on a one-sequence, 8-token batch, gradients then dropped and no optimizer
        step: the code each framework loads on first use (PyTorch's lazy kernels; our compiled kernels and
        numba itself, ~100 MB) is loaded before memory is measured, as PyTorch's own code is at import."""
        _, loss = model(lib.tensor(x[:1, :8]), lib.tensor(y[:1, :8]))
        loss.backward()
        opt.zero_grad(set_to_none=True)
    step.load_code = load_code
    return step


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_child(name, weights_path, steps, load_code):
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    w = dict(np.load(weights_path))
    tokens, vocab = load_tokens()
    step = build(name, w, vocab)
    data = batches(tokens, steps + 1, seed=1)
    del w
    if load_code:
        step.load_code(*data[0])
    import gc
    gc.collect()
    before = _rss_kib("VmRSS")
    for x, y in data:
        step(x, y)
    print(json.dumps({"growth_mb": (_rss_kib("VmHWM") - before) / 1024, "peak_mb": _rss_kib("VmHWM") / 1024}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30, help="timed steps per framework")
    ap.add_argument("--mem-steps", type=int, default=10, help="steps in each memory child (0: skip)")
    ap.add_argument("--count-code", action="store_true",
                    help="count the code loaded on first use (numba, compiled kernels) as memory growth too")
    ap.add_argument("--_child", nargs=2, metavar=("FRAMEWORK", "WEIGHTS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        return memory_child(a._child[0], a._child[1], a.mem_steps, not a.count_code)
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    tokens, vocab = load_tokens()
    weights = initial_weights(vocab)
    steps = {k: build(k, weights, vocab) for k in ("ours", "torch")}
    data = batches(tokens, a.steps + 2, seed=1)
    first = {k: f(*data[0]) for k, f in steps.items()}  # the same loss from the same weights and batch
    print(f"first-step loss: ours {first['ours']:.6f}, torch {first['torch']:.6f}")
    times = {k: [] for k in steps}
    cpu = {k: [] for k in steps}
    for b in range(1, a.steps + 1, 5):
        for k, f in steps.items():
            for x, y in data[b:b + 5]:
                t0, c0 = time.perf_counter(), time.process_time()
                f(x, y)
                times[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"step time (median of {a.steps}): ours {med['ours'] * 1e3:.1f} ms, torch {med['torch'] * 1e3:.1f} ms, "
          f"ratio {med['ours'] / med['torch']:.2f}x; CPU time per step (this process, one thread each, less "
          f"sensitive to a busy machine): ours {mcpu['ours'] * 1e3:.1f} ms, torch {mcpu['torch'] * 1e3:.1f} ms, "
          f"ratio {mcpu['ours'] / mcpu['torch']:.2f}x")
    if a.mem_steps:
        mem = {}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "w.npz")
            np.savez(path, **weights)
            env = {k: v for k, v in os.environ.items() if not k.startswith("TINYGRAD_LITE_")}
            for k in ("ours", "torch"):
                r = subprocess.run([sys.executable, os.path.abspath(__file__), "--mem-steps", str(a.mem_steps),
                                    "--_child", k, path] + ["--count-code"] * a.count_code,
                                   capture_output=True, text=True, env=env)
                if r.returncode:
                    raise SystemExit(r.stderr)
                mem[k] = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"peak RSS growth over {a.mem_steps} steps (fresh process each): ours {mem['ours']['growth_mb']:.1f} MB, "
              f"torch {mem['torch']['growth_mb']:.1f} MB, ratio {mem['ours']['growth_mb'] / mem['torch']['growth_mb']:.2f}x"
              f"  (peak RSS: ours {mem['ours']['peak_mb']:.0f} MB, torch {mem['torch']['peak_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
