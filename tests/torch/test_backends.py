"""One model definition, two backends: the models' classes run on tinygrad_lite and on PyTorch,
from the same class and file, with the same initial weights for a seed, the same loss trajectory
(float64, 1e-6 relative) and one checkpoint format."""
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # small models: one thread is much faster on the shared CI machine

import tinygrad_lite as tg  # noqa: E402
from models import gpt, mlp  # noqa: E402
from models.backend import BackendError, get_backend  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GPT_ARGS = ("--steps 20 --n-layer 2 --n-embd 32 --n-head 4 --block-size 16 --batch-size 8 --eval-interval 0 "
            "--warmup 5 --lr 3e-3 --dtype float64 --quiet").split()
MLP_ARGS = "--epochs 1 --batch-size 64 --dropout 0 --hidden 32,16 --dtype float64 --no-progress".split()


def rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))


@pytest.mark.parametrize("cls, args", [(gpt.GPT, (gpt.GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=2,
                                                                n_embd=8),)),
                                       (mlp.MLP, ([5, 4, 3],))])
def test_both_backends_build_from_the_same_class_and_file(cls, args):
    tg.manual_seed(0)
    ours = get_backend("tinygrad_lite").build(cls, *args)
    tg.manual_seed(0)
    theirs = get_backend("torch").build(cls, *args)
    # the same class (the per-backend class adds only a base: tinygrad_lite's or torch's nn.Module) ...
    assert type(ours).__mro__[1] is cls and type(theirs).__mro__[1] is cls
    assert isinstance(ours, cls) and isinstance(theirs, cls)
    assert isinstance(ours, tg.nn.Module) and not isinstance(ours, torch.nn.Module)
    assert isinstance(theirs, torch.nn.Module) and not isinstance(theirs, tg.nn.Module)
    assert all(type(p) is torch.nn.Parameter for p in theirs.parameters())
    # ... defined once, in one file, its methods the same code objects
    assert inspect.getsourcefile(type(theirs)) == inspect.getsourcefile(type(ours)) == inspect.getsourcefile(cls)
    assert type(theirs).forward is cls.forward is type(ours).forward
    # same seed -> same initial weights on both backends
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)


def test_no_model_is_written_a_second_time_for_torch():
    """Only the backend and distributed modules name torch; no model file subclasses torch.nn.Module."""
    for path in sorted((ROOT / "models").glob("*.py")):
        src = path.read_text(encoding="utf-8")
        if path.name in ("backend.py", "distributed.py"):
            continue
        assert not re.search(r"^\s*(import torch|from torch)", src, re.M), f"{path.name} imports torch"
        assert "torch.nn.Module" not in src, f"{path.name} mentions torch.nn.Module"


def test_tinygrad_lite_runs_never_import_torch():
    code = ("import sys\n"
            "from models import gpt, mlp, skipgram\n"
            "gpt.main('--steps 2 --n-layer 1 --n-embd 16 --n-head 2 --block-size 8 --batch-size 2 "
            "--eval-interval 0 --quiet --max-new-tokens 1'.split())\n"
            "m = mlp.MLP([4, 3, 2]); mlp.train(m, __import__('numpy').ones((8, 4), 'float32'), "
            "__import__('numpy').zeros(8, 'int64'), epochs=1, progress=False)\n"
            "skipgram.train_sgns([['a', 'b', 'c'] * 5] * 4, dim=4, min_count=1, epochs=1, progress=False)\n"
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_gpt_20_adamw_steps_agree_between_backends(tmp_path):
    a = gpt.main(GPT_ARGS + ["--backend", "tinygrad_lite", "--out", str(tmp_path / "tg")])
    b = gpt.main(GPT_ARGS + ["--backend", "torch", "--out", str(tmp_path / "torch")])
    assert len(a["train_loss"]) == len(b["train_loss"]) == 20
    assert rel_diff(a["train_loss"], b["train_loss"]) < 1e-6
    assert a["train_loss"][-1] < a["train_loss"][0] - 0.3          # it did learn something
    saved = json.loads((tmp_path / "torch" / "metrics.json").read_text())
    assert saved["backend"] == "torch" and saved["dtype"] == "float64"
    assert saved["train_loss"] == pytest.approx(b["train_loss"], rel=0, abs=0)


def test_mlp_20_adam_steps_agree_between_backends(tmp_path):
    a = mlp.main(MLP_ARGS + ["--backend", "tinygrad_lite", "--out", str(tmp_path / "tg")])
    b = mlp.main(MLP_ARGS + ["--backend", "torch", "--out", str(tmp_path / "torch")])
    la, lb = a["train_loss_steps"], b["train_loss_steps"]
    assert len(la) == len(lb) >= 20
    assert rel_diff(la[:20], lb[:20]) < 1e-6
    assert rel_diff(la, lb) < 1e-6
    saved = json.loads((tmp_path / "torch" / "metrics.json").read_text())
    assert saved["train_loss_steps"] == lb


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A GPT checkpoint trained on each backend (float64, 4 steps)."""
    out = {}
    for backend in ("tinygrad_lite", "torch"):
        d = tmp_path_factory.mktemp(backend)
        args = [a if a != "20" else "4" for a in GPT_ARGS]
        gpt.main(args + ["--backend", backend, "--out", str(d), "--seed", "3"])
        out[backend] = d
    return out


@pytest.mark.parametrize("trained_on", ["tinygrad_lite", "torch"])
def test_a_checkpoint_loads_on_both_backends_with_identical_outputs(trained, trained_on):
    path = str(trained[trained_on] / "ckpt.pt")
    m_tg, vocab, _ = gpt.load_checkpoint(path)
    m_t, vocab2, _ = gpt.load_checkpoint(path, backend="torch")
    assert isinstance(m_t, torch.nn.Module) and vocab.chars == vocab2.chars
    assert m_t.wte.weight.dtype == torch.float64 and m_tg.wte.weight.dtype == np.float64
    idx = vocab.encode("def f(x):")[None, :]
    la, _ = m_tg(idx)
    lb, _ = m_t(idx)
    np.testing.assert_allclose(la.detach().numpy(), lb.detach().numpy(), rtol=1e-12, atol=1e-12)
    for opts in ({"temperature": 0.8, "generator": 5}, {"temperature": 0}, {"top_k": 3, "generator": 1}):
        np.testing.assert_array_equal(m_tg.generate(idx, 20, **opts).numpy(), m_t.generate(idx, 20, **opts).numpy())


def test_sample_command_gives_the_same_text_on_both_backends(trained, capsys):
    """`tinygrad-lite sample` (tinygrad_lite) on a torch-trained checkpoint prints what the torch
    backend's sampler prints."""
    from tinygrad_lite_app.cli import main as cli
    d = str(trained["torch"])
    texts = []
    for argv in (["sample", d, "--max-new-tokens", "40", "--seed", "9"],
                 ["train", "gpt", "--sample", "--out", d, "--max-new-tokens", "40", "--seed", "9", "--backend",
                  "torch"]):
        assert cli(argv) == 0
        texts.append(capsys.readouterr().out.split("-" * 40)[0].strip())
    assert texts[0] == texts[1] and len(texts[0]) >= 40


def test_device_cuda_without_a_gpu_is_a_clear_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(BackendError, match="PyTorch sees no GPU"):
        get_backend("torch", "cuda")
    from tinygrad_lite_app.cli import main as cli
    assert cli(["train", "gpt", "--backend", "torch", "--device", "cuda", "--steps", "1"]) == 1
    assert "PyTorch sees no GPU" in capsys.readouterr().err


def test_tinygrad_lite_backend_refuses_cuda_and_bad_names():
    with pytest.raises(BackendError, match="CPU only"):
        get_backend("tinygrad_lite", "cuda")
    with pytest.raises(BackendError, match="unknown backend"):
        get_backend("jax")


def test_nproc_needs_torch_and_a_divisible_batch(capsys):
    with pytest.raises(SystemExit):
        gpt.main(["--nproc", "2", "--steps", "1"])
    assert "--nproc > 1 needs --backend torch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        gpt.main(["--nproc", "2", "--steps", "1", "--backend", "torch", "--batch-size", "3"])
    assert "multiple of --nproc 2" in capsys.readouterr().err


def test_skipgram_trains_on_both_backends_from_the_same_class(tmp_path, capsys):
    from models.skipgram import SkipGramNS, WordVectors, train_sgns
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    corpus = [[words[j] for j in rng.integers(0, 30, 12)] for _ in range(60)]
    kw = dict(dim=8, window=2, negative=3, min_count=1, epochs=2, sample=0, batch_size=32, progress=False)
    m_tg, s_tg = train_sgns(corpus, backend="tinygrad_lite", **kw)
    m_t, s_t = train_sgns(corpus, backend="torch", **kw)
    assert type(m_tg) is type(m_t) is SkipGramNS
    assert isinstance(m_t.W_in, torch.Tensor) and isinstance(m_tg.W_in, tg.Tensor)
    assert rel_diff(s_tg["loss_history"], s_t["loss_history"]) < 1e-5            # float32 sums in another order
    np.testing.assert_allclose(m_t.wv.vectors, m_tg.wv.vectors, rtol=1e-4, atol=1e-6)
    # a torch-trained checkpoint answers `similar` on tinygrad_lite as the torch model does
    m_t.wv.save(str(tmp_path / "vectors.tgl"))
    from tinygrad_lite_app.cli import main as cli
    assert cli(["similar", str(tmp_path), "w1", "--topn", "3"]) == 0
    out = capsys.readouterr().out
    expected = m_t.wv.most_similar("w1", topn=3)
    assert [line.split()[0] for line in out.splitlines()[1:]] == [w for w, _ in expected]
    m_t.save(str(tmp_path / "ckpt.tgl"))
    back = SkipGramNS.load(str(tmp_path / "ckpt.tgl"))
    np.testing.assert_array_equal(back.wv.vectors, m_t.wv.vectors)
    assert WordVectors.load(str(tmp_path / "vectors.tgl")).words == m_t.wv.words


def test_a_float64_run_leaves_the_default_dtype_alone():
    before = tg.get_default_dtype()
    gpt.main("--steps 1 --n-layer 1 --n-embd 8 --n-head 2 --block-size 4 --batch-size 2 --eval-interval 0 "
             "--quiet --max-new-tokens 1 --dtype float64".split())
    mlp.main("--epochs 1 --hidden 4 --no-progress --dtype float64".split())
    assert tg.get_default_dtype() == before
