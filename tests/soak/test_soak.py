"""Long runs (the soak job of .ci/run, `pytest tests/soak --soak`): 1,000 GPT training steps and
several skip-gram epochs with flat memory (RSS growth bounded after warm-up) and no growth in the
number of live tensors. Deselected from the normal suite."""
import gc
import os

import numpy as np
import pytest

import tinygrad_lite as tl

pytestmark = pytest.mark.soak
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def live_tensors():
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, tl.Tensor))


def test_gpt_1000_steps_flat_memory_and_tensor_count():
    from models.gpt import GPT, GPTConfig, TrainConfig, train
    tl.manual_seed(0)
    data = np.random.default_rng(0).integers(0, 32, 20000)
    model = GPT(GPTConfig(vocab_size=32, block_size=32, n_layer=2, n_head=2, n_embd=32))
    samples = {}

    def on_step(it, loss, lr, dt):
        assert np.isfinite(loss), f"step {it}: loss {loss}"
        if it in (100, 400, 700, 999):
            samples[it] = (rss_mb(), live_tensors())

    m = train(model, data[:18000], data[18000:], TrainConfig(max_iters=1000, batch_size=8, eval_interval=250,
                                                            eval_iters=2), on_step=on_step)
    assert m["steps"] == 1000
    (rss0, n0), (rss1, n1) = samples[100], samples[999]
    print(f"GPT soak: RSS {rss0:.1f} -> {rss1:.1f} MB, live tensors {n0} -> {n1}")
    assert rss1 - rss0 < 30, f"RSS grew {rss1 - rss0:.1f} MB between step 100 and step 1000: {samples}"
    assert n1 <= n0 + 5, f"live tensors grew from {n0} to {n1}: {samples}"


def test_skipgram_epochs_flat_memory_and_tensor_count():
    from models.skipgram import train_sgns
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    p = 1.0 / np.arange(1, 401)
    sentences = [list(rng.choice(words, size=12, p=p / p.sum())) for _ in range(3000)]
    samples = []
    train_sgns(sentences, dim=32, epochs=8, min_count=2, progress=False,
               log=lambda msg: samples.append((rss_mb(), live_tensors())))
    (rss0, n0), (rss1, n1) = samples[1], samples[-1]
    print(f"skip-gram soak: RSS {rss0:.1f} -> {rss1:.1f} MB, live tensors {n0} -> {n1}")
    assert rss1 - rss0 < 20, f"RSS grew {rss1 - rss0:.1f} MB from epoch 2 to epoch 8: {samples}"
    assert n1 <= n0 + 5, f"live tensors grew from {n0} to {n1}: {samples}"
