"""A task that proves a GPT learns, quickly and exactly: sort a short sequence of digits (as minGPT).

The model reads the digits and then writes them out sorted, one token at a time:

    input   2 0 1 2 1 0 | 0 0 1 1 2 2        (length L digits, then the L sorted digits)
    x       2 0 1 2 1 0   0 0 1 1 2         (the whole sequence but the last token)
    y      -1-1-1-1-1 0   0 1 1 2 2         (the next token; -1 = not graded: the unsorted input
                                              cannot be predicted, only the answer is learned)

Every possible sequence is enumerated and a fixed fraction is held out, so the accuracy is on
sequences the model has never seen. Accuracy is exact-sequence: all L sorted digits right,
produced by greedy decoding (`GPT.generate(temperature=0)`).

    python -m models.sort_task               # the default: length 6, digits 0-2, < 1 minute
"""
import argparse
import itertools
import sys
import time

import numpy as np

import tinygrad_lite as tg
from models.argtypes import float_in, int_at_least
from models.gpt import GPT, GPTConfig, TrainConfig, configure_optimizer, get_lr


def make_dataset(length=6, num_digits=3, test_fraction=0.25, seed=0):
    """All num_digits**length sequences, shuffled with `seed` and split.

    Returns (train (N_train, L) int64, test (N_test, L) int64); the two never share a sequence."""
    if length < 1 or num_digits < 1:
        raise ValueError(f"make_dataset: need length >= 1 and num_digits >= 1, got {length}, {num_digits}")
    if num_digits ** length > 2_000_000:
        raise ValueError(f"make_dataset: {num_digits}**{length} sequences are too many to enumerate")
    seqs = np.array(list(itertools.product(range(num_digits), repeat=length)), dtype=np.int64)
    perm = np.random.default_rng(seed).permutation(len(seqs))
    n_test = max(1, int(round(len(seqs) * test_fraction)))
    return seqs[perm[n_test:]], seqs[perm[:n_test]]


def make_batch(seqs):
    """Sequences (N, L) -> inputs x (N, 2L-1) and targets y (N, 2L-1) (only the answer is graded)."""
    L = seqs.shape[1]
    full = np.concatenate([seqs, np.sort(seqs, axis=1)], axis=1)    # (N, 2L): question then answer
    x, y = full[:, :-1].copy(), full[:, 1:].copy()
    y[:, :L - 1] = -1                                                # no loss on reading the question
    return x, y


def exact_accuracy(model, seqs, batch_size=1024):
    """Fraction of sequences (N, L) whose L greedily generated tokens equal the sorted sequence."""
    L = seqs.shape[1]
    correct = 0
    for i in range(0, len(seqs), batch_size):
        s = seqs[i:i + batch_size]
        out = model.generate(s, L, temperature=0)._data[:, L:]
        correct += int((out == np.sort(s, axis=1)).all(axis=1).sum())
    return correct / len(seqs)


def train_sorter(length=6, num_digits=3, n_layer=2, n_head=4, n_embd=48, steps=600, batch_size=64, lr=5e-3,
                 warmup=20, target=0.99, eval_every=100, time_limit=None, seed=0, log=None):
    """Train a small GPT to sort; stops early once held-out exact accuracy reaches `target`.

    Returns {'model', 'accuracy' (held-out, float), 'train_accuracy', 'steps', 'seconds', 'history'}."""
    tg.manual_seed(seed)
    train_seqs, test_seqs = make_dataset(length, num_digits, seed=seed)
    config = GPTConfig(vocab_size=num_digits, block_size=2 * length - 1, n_layer=n_layer, n_head=n_head,
                       n_embd=n_embd, dropout=0.0)
    model = GPT(config)
    tc = TrainConfig(max_iters=steps, batch_size=batch_size, learning_rate=lr, min_lr=lr / 10, warmup_iters=warmup,
                     weight_decay=0.01, beta2=0.99, grad_clip=1.0)
    opt = configure_optimizer(model, tc)
    params = model.parameters_unique()
    rng = np.random.default_rng(seed + 1)
    t0 = time.perf_counter()
    history, acc, step = [], 0.0, 0
    for step in range(1, steps + 1):
        for group in opt.param_groups:
            group["lr"] = get_lr(step - 1, tc)
        x, y = make_batch(train_seqs[rng.integers(0, len(train_seqs), batch_size)])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        tg.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        opt.step()
        if step % eval_every == 0 or step == steps:
            acc = exact_accuracy(model, test_seqs)
            history.append((step, loss.item(), acc))
            if log:
                log(f"step {step}: loss {loss.item():.4f}, held-out exact accuracy {acc:.4f}")
            if acc >= target:
                break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            acc = exact_accuracy(model, test_seqs)
            break
    seconds = time.perf_counter() - t0
    return {"model": model, "accuracy": acc, "train_accuracy": exact_accuracy(model, train_seqs), "steps": step,
            "seconds": seconds, "history": history, "n_test": len(test_seqs), "n_train": len(train_seqs)}


def _parser():
    p = argparse.ArgumentParser(prog="python -m models.sort_task", description="Teach a tiny GPT to sort digits.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--length", type=int_at_least(1), default=6, help="digits per sequence L")
    p.add_argument("--num-digits", type=int_at_least(1), default=3, help="digits drawn from 0..num_digits-1")
    p.add_argument("--n-layer", type=int_at_least(1), default=2, help="transformer blocks")
    p.add_argument("--n-head", type=int_at_least(1), default=4, help="attention heads")
    p.add_argument("--n-embd", type=int_at_least(1), default=48, help="model width (a multiple of --n-head)")
    p.add_argument("--steps", type=int_at_least(1), default=1000, help="at most this many steps (stops at --target)")
    p.add_argument("--batch-size", type=int_at_least(1), default=64, help="sequences per step")
    p.add_argument("--lr", type=float_in(0, lo_open=True), default=5e-3, help="AdamW peak learning rate (> 0)")
    p.add_argument("--target", type=float, default=0.99, help="stop once held-out exact accuracy reaches this")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, init and batches")
    p.add_argument("--threads", type=int_at_least(1), default=1, help="BLAS threads")
    return p


def main(argv=None):
    """Command line: train a sorter and print the held-out exact-sequence accuracy."""
    p = _parser()
    a = p.parse_args(argv)
    if a.n_embd % a.n_head:
        p.error(f"--n-embd {a.n_embd} must be divisible by --n-head {a.n_head}")
    if a.num_digits ** a.length > 2_000_000:
        p.error(f"--num-digits {a.num_digits} and --length {a.length} give {a.num_digits}**{a.length} sequences, "
                "too many to enumerate (at most 2,000,000)")
    from models.progress import limit_blas_threads
    with limit_blas_threads(a.threads):
        r = train_sorter(a.length, a.num_digits, a.n_layer, a.n_head, a.n_embd, a.steps, a.batch_size, a.lr,
                         target=a.target, seed=a.seed, log=lambda m: print(m, file=sys.stderr))
    print(f"held-out exact-sequence accuracy {r['accuracy']:.4f} on {r['n_test']} unseen sequences "
          f"(train {r['train_accuracy']:.4f}) after {r['steps']} steps, {r['seconds']:.1f}s")
    rng = np.random.default_rng(a.seed + 7)
    for s in make_dataset(a.length, a.num_digits, seed=a.seed)[1][rng.integers(0, r["n_test"], 3)]:
        out = r["model"].generate(s[None], a.length, temperature=0)._data[0, a.length:]
        print(f"  {' '.join(map(str, s))}  ->  {' '.join(map(str, out))}")
    return r


if __name__ == "__main__":
    main()
