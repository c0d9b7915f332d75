"""Run a script with the random draws that decide *what* it computes shared between PyTorch and tinygrad_lite.

    python shim.py float64|float32 LOSS_LOG SCRIPT.py [ARGS...]            (real PyTorch)
    tinygrad-lite run shim.py float64|float32 LOSS_LOG SCRIPT.py [ARGS...]  (tinygrad_lite)

The two libraries' random streams differ, so the same script would train on other batches and sample
other words. This shim replaces torch.randint, torch.randperm and torch.multinomial by draws from one
seeded numpy RandomState (the same numbers under both), sets the default dtype, and appends every
F.cross_entropy result (full precision) to LOSS_LOG. Everything else is the script's own code and the
library's own ops. It is test scaffolding, not part of the project: the script itself runs unchanged.
"""
import runpy
import sys

import numpy as np
import torch
import torch.nn.functional as F

dtype, loss_log, script = sys.argv[1], sys.argv[2], sys.argv[3]
torch.set_default_dtype(torch.float64 if dtype == "float64" else torch.float32)
rs = np.random.RandomState(1234)



from oracle_stubs import tensorboard_stub  # noqa: E402  (this folder is sys.path[0])

tensorboard_stub()


def randint(*args, low=None, high=None, size=None, generator=None, dtype=None, device=None, **kwargs):
    if len(args) == 3:
        low, high, size = args
    elif len(args) == 2:
        high, size = args
    elif len(args) == 1:
        high = args[0]
    size = (size,) if isinstance(size, int) else tuple(size)
    return torch.from_numpy(rs.randint(low or 0, high, size).astype(np.int64))


def randperm(n, generator=None, **kwargs):
    return torch.from_numpy(rs.permutation(n).astype(np.int64))


def multinomial(probs, num_samples, replacement=False, generator=None):
    p = probs.detach().cpu().numpy().astype(np.float64).reshape(-1, probs.shape[-1])
    assert num_samples == 1
    cdf = np.cumsum(p / p.sum(-1, keepdims=True), -1)
    u = rs.random_sample((p.shape[0], 1))
    out = np.minimum((cdf < u).sum(-1, keepdims=True), p.shape[-1] - 1)
    return torch.from_numpy(out.reshape(probs.shape[:-1] + (1,)).astype(np.int64))


_cross_entropy = F.cross_entropy


def cross_entropy(*args, **kwargs):
    loss = _cross_entropy(*args, **kwargs)
    with open(loss_log, "a") as f:
        f.write(repr(loss.item()) + "\n")
    return loss


torch.randint, torch.randperm, torch.multinomial, F.cross_entropy = randint, randperm, multinomial, cross_entropy
sys.argv = [script] + sys.argv[4:]
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(script)))
runpy.run_path(script, run_name="__main__")
