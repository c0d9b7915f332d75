"""nanoGPT (model.py, train.py, sample.py) and makemore (makemore.py), as published, run through
`tinygrad-lite run` and compared with real PyTorch running the same files.

The scripts are read from ../shared/compat (verbatim copies; never copied into the repository). Both
sides start from the same weights (tests/compat/init_weights.py, run under each library) and share the
random draws that pick batches and samples (tests/compat/shim.py); every loss the scripts compute and
every sample they print must then agree: to 1e-10 relative in float64, to float32 rounding in float32.
"""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "compat"
PY = sys.executable
RUN = [PY, "-m", "tinygrad_lite_app", "run"]


def _shared_compat():
    for p in (ROOT.parent / "shared" / "compat", Path("/work/shared/compat")):
        if (p / "nanoGPT" / "model.py").is_file() and (p / "makemore" / "makemore.py").is_file():
            return p
    if os.environ.get("CI"):
        pytest.fail("../shared/compat (nanoGPT and makemore, verbatim) is missing: the compat tests need it in CI")
    pytest.skip("../shared/compat not found")


def _shared_data():
    for p in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if (p / "tinyshakespeare.txt").is_file():
            return p
    if os.environ.get("CI"):
        pytest.fail("../shared/data/tinyshakespeare.txt is missing")
    pytest.skip("../shared/data not found")


def _env(extra=None):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT))
    env.update(extra or {})
    return env


def _run(cmd, cwd, env, timeout=300):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}"
    return p.stdout


def _both(args, cwd, tmp, tag, env):
    """Run `shim.py DTYPE LOG SCRIPT ARGS` under PyTorch and under tinygrad-lite run; return (stdout, losses) of each."""
    out = {}
    for side, prefix in (("torch", [PY]), ("ours", RUN)):
        log = tmp / f"{tag}-{side}.log"
        if log.exists():
            log.unlink()
        a = [str(x).replace("{side}", side) for x in args]
        stdout = _run(prefix + [str(HERE / "shim.py"), a[0], str(log)] + a[1:], cwd, env)
        losses = [float(x) for x in log.read_text().split()] if log.exists() else []
        out[side] = (stdout, losses)
    return out


def _prepare_shakespeare(data_dir, n_chars=6000):
    """nanoGPT's char-level preparation (data/shakespeare_char/prepare.py's logic, written here)."""
    text = (_shared_data() / "tinyshakespeare.txt").read_text()[:n_chars]
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n = int(0.9 * len(ids))
    data_dir.mkdir(parents=True, exist_ok=True)
    ids[:n].tofile(data_dir / "train.bin")
    ids[n:].tofile(data_dir / "val.bin")
    with open(data_dir / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)


def _names(path, n=300, seed=0):
    """A names file like makemore's names.txt: made-up lowercase words of 3-7 letters."""
    rng = np.random.default_rng(seed)
    vowels, consonants = "aeiouy", "bcdfghjklmnprstvz"
    words = set()
    while len(words) < n:
        k = rng.integers(3, 8)
        words.add("".join(rng.choice(list(consonants if i % 2 == 0 else vowels)) for i in range(k)))
    path.write_text("\n".join(sorted(words)) + "\n")


def _close(ours, theirs, dtype):
    assert len(ours) == len(theirs) and ours, (len(ours), len(theirs))
    rtol = 1e-10 if dtype == "float64" else 3e-4
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


def _samples(stdout, marker):
    """The lines a script printed after its last line containing marker (its generated text)."""
    lines = stdout.splitlines()
    start = max(i for i, l in enumerate(lines) if marker in l)
    return lines[start + 1:]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
def test_nanogpt_train_and_sample_match_pytorch(tmp_path, dtype):
    pytest.importorskip("torch")
    pytest.importorskip("tiktoken")  # sample.py imports it (the char-level meta.pkl means it is not used)
    compat = _shared_compat()
    nano = compat / "nanoGPT"
    data = tmp_path / "data"
    _prepare_shakespeare(data)
    env = _env({"NANOGPT_DIR": str(nano), "COMPAT_DTYPE": dtype})
    cfg = dict(n_layer=2, n_head=2, n_embd=16, block_size=16, bias="False")
    for side, prefix in (("torch", [PY]), ("ours", RUN)):
        _run(prefix + [str(HERE / "init_weights.py"), "nanogpt", str(tmp_path / f"out-{side}"), str(data),
                       *map(str, cfg.values())], tmp_path, env)
    train = [dtype, nano / "train.py", "--init_from=resume", "--out_dir=" + str(tmp_path / "out-{side}"),
             "--dataset=" + str(data), "--device=cpu", "--compile=False", "--dtype=float32", "--eval_interval=4",
             "--eval_iters=2", "--log_interval=1", "--max_iters=5", "--batch_size=3", "--gradient_accumulation_steps=2",
             "--learning_rate=0.01", "--warmup_iters=2", "--lr_decay_iters=5", "--min_lr=0.001"] + \
        [f"--{k}={v}" for k, v in cfg.items()]
    res = _both(train, nano, tmp_path, "train", env)
    (out_t, loss_t), (out_o, loss_o) = res["torch"], res["ours"]
    assert len(loss_t) == 2 * (2 * 2) + 6 * 2  # evals at iters 0 and 4 (train and val, 2 batches each), iters 0-5 x 2 micro-steps
    _close(loss_o, loss_t, dtype)
    assert "saving checkpoint" in out_o and (tmp_path / "out-ours" / "ckpt.pt").is_file()
    sample = [dtype, nano / "sample.py", "--init_from=resume", "--out_dir=" + str(tmp_path / "out-{side}"),
              "--device=cpu", "--num_samples=2", "--max_new_tokens=40", "--top_k=5", "--temperature=0.8"]
    res = _both(sample, nano, tmp_path, "sample", env)
    s_t, s_o = _samples(res["torch"][0], "Loading meta"), _samples(res["ours"][0], "Loading meta")
    assert s_o == s_t and sum(len(x) for x in s_o) > 60


@pytest.mark.torch
@pytest.mark.parametrize("model_type", ["transformer", pytest.param("gru", marks=pytest.mark.slow),
                                        pytest.param("mlp", marks=pytest.mark.slow)])
def test_makemore_trains_and_samples_like_pytorch(tmp_path, model_type):
    pytest.importorskip("torch")
    compat = _shared_compat()
    mm = compat / "makemore"
    names = tmp_path / "names.txt"
    _names(names)
    env = _env({"MAKEMORE_DIR": str(mm), "COMPAT_DTYPE": "float64"})
    size = dict(n_layer=1, n_head=2, n_embd=8, n_embd2=8)
    for side, prefix in (("torch", [PY]), ("ours", RUN)):
        _run(prefix + [str(HERE / "init_weights.py"), "makemore", str(tmp_path / f"w-{side}"), str(names),
                       *map(str, size.values()), model_type], tmp_path, env)
    args = ["float64", mm / "makemore.py", "-i", names, "-o", str(tmp_path / "w-{side}"), "--resume",
            "--type", model_type, "--max-steps", "201", "--batch-size", "8", "--learning-rate", "0.01",
            "--top-k", "5", "--num-workers", "0"] + [a for k, v in size.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    res = _both(args, tmp_path, tmp_path, f"mm-{model_type}", env)
    (out_t, loss_t), (out_o, loss_o) = res["torch"], res["ours"]
    assert len(loss_t) == 201
    _close(loss_o, loss_t, "float64")
    s_t, s_o = _samples(out_t, "step 200 |"), _samples(out_o, "step 200 |")
    assert s_o == s_t and any("samples that are new" in line for line in s_o)


@pytest.mark.torch
def test_tutorial_idioms_match_pytorch(tmp_path):
    """tests/compat/tutorial_idioms.py (the beginner tutorials' tensors, autograd, custom Function, nn, optim,
    DataLoader loop, save/load) prints the same numbers under PyTorch and under tinygrad-lite run."""
    pytest.importorskip("torch")
    script = HERE / "tutorial_idioms.py"
    theirs = _run([PY, str(script)], tmp_path, _env()).split()
    ours = _run(RUN + [str(script)], tmp_path, _env()).split()
    assert len(ours) == len(theirs) > 40
    np.testing.assert_allclose([float(x) for x in ours], [float(x) for x in theirs], rtol=1e-10, atol=1e-12)


def test_readme_example_runs_nanogpts_model(tmp_path):
    """README's "Run your PyTorch script" example, with nanoGPT's model.py, through tinygrad-lite run --graph."""
    nano = _shared_compat() / "nanoGPT"
    text = (ROOT / "README.md").read_text()
    start = text.index("# tiny_gpt.py")
    code = text[start:text.index("```", start)]
    (tmp_path / "tiny_gpt.py").write_text(code)
    out = _run(RUN + ["--graph", str(tmp_path / "loss.dot"), str(tmp_path / "tiny_gpt.py")], tmp_path,
               _env({"PYTHONPATH": os.pathsep.join([str(ROOT), str(nano)])}))
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("step ")]
    assert len(losses) == 3 and losses[2] < losses[0]
    assert "tensor([[" in out and "digraph" in (tmp_path / "loss.dot").read_text()


@pytest.mark.torch
def test_user_scripts_match_pytorch(tmp_path):
    """tests/compat/user_scripts.py (a VAE, a GAN, a char-LSTM and a regression step as users write them, and the
    ops they reach for: F.pad, prod with zeros, norm, torch.linalg, diag, unique...) prints the same numbers and
    the same shape and tensor lines (torch.Size([...]), tensor([0.7500, ...])) under PyTorch and under
    tinygrad-lite run."""
    pytest.importorskip("torch")
    script = HERE / "user_scripts.py"
    theirs = _run([PY, str(script)], tmp_path, _env()).splitlines()
    ours = _run(RUN + [str(script)], tmp_path, _env()).splitlines()
    assert len(ours) == len(theirs) > 60
    texts = [(o, t) for o, t in zip(ours, theirs) if t.startswith(("shape", "text"))]
    assert len(texts) == 6 and all(o == t for o, t in texts), texts  # printed sizes and tensors, as PyTorch prints
    nums = [(float(o), float(t)) for o, t in zip(ours, theirs) if not t.startswith(("shape", "text"))]
    np.testing.assert_allclose([o for o, _ in nums], [t for _, t in nums], rtol=1e-10, atol=1e-12)
