"""Many processes with torch.distributed (gloo on this CPU machine): 2 DDP processes follow the loss
trajectory of 1 process with the same global batch; a dead worker stops the run with a clear error."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("this PyTorch build has no torch.distributed", allow_module_level=True)

from models import gpt  # noqa: E402
from models.distributed import Dist, launch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARGS = ("--steps 20 --n-layer 1 --n-embd 16 --n-head 2 --block-size 16 --batch-size 8 --eval-interval 10 "
        "--eval-iters 2 --warmup 5 --lr 3e-3 --dtype float64 --quiet --backend torch --max-new-tokens 1").split()


def test_two_gloo_processes_follow_one_process(tmp_path):
    one = gpt.main(ARGS + ["--out", str(tmp_path / "one")])
    two = gpt.main(ARGS + ["--nproc", "2", "--out", str(tmp_path / "two")])   # rank 0's metrics.json
    assert two["nproc"] == 2 and one["nproc"] == 1
    a, b = np.array(one["train_loss"]), np.array(two["train_loss"])
    assert len(a) == len(b) == 20
    assert np.max(np.abs(a - b) / a) < 1e-6
    assert np.allclose([v[1:] for v in one["val"]], [v[1:] for v in two["val"]], rtol=1e-6)
    # rank 0 alone wrote the outputs; the checkpoints hold the same weights
    assert sorted(os.listdir(tmp_path / "two")) == ["ckpt.pt", "metrics.json"]
    m1, _, _ = gpt.load_checkpoint(str(tmp_path / "one" / "ckpt.pt"))
    m2, _, _ = gpt.load_checkpoint(str(tmp_path / "two" / "ckpt.pt"))
    for (k, v1), v2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_allclose(v1.numpy(), v2.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.slow
def test_mlp_on_two_processes_with_uneven_shards_follows_one_process(tmp_path):
    """1,347 rows in batches of 50: the last batch (47 rows) splits 24/23 over the ranks; the losses
    are weighted so that DDP's average is still the whole batch's mean."""
    from models import mlp
    args = "--epochs 1 --batch-size 50 --dropout 0 --hidden 16 --dtype float64 --no-progress --backend torch".split()
    one = mlp.main(args + ["--out", str(tmp_path / "one")])
    two = mlp.main(args + ["--nproc", "2", "--out", str(tmp_path / "two")])
    a, b = np.array(one["train_loss_steps"]), np.array(two["train_loss_steps"])
    assert len(a) == len(b) == 27 and two["nproc"] == 2
    assert np.max(np.abs(a - b) / a) < 1e-6
    assert two["final_test_loss"] == pytest.approx(one["final_test_loss"], rel=1e-6)


def test_skipgram_on_two_processes_follows_one_process(tmp_path):
    """Skip-gram's summed loss, scaled by world_size on each rank, makes DDP's averaged (dense)
    gradient the whole batch's sum: the steps are those of one process with sparse gradients. 200
    centres a batch split 100/100, and a last batch of an odd size split unevenly."""
    from models import skipgram
    rng = np.random.default_rng(0)
    words = ["w" + "".join("abcdefghij"[int(c)] for c in str(i)) for i in range(60)]   # (the tokenizer drops digits)
    p = 1.0 / np.arange(1, 61)
    lines = [" ".join(words[j] for j in rng.choice(60, size=15, p=p / p.sum())) for _ in range(181)]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    args = (f"--text {tmp_path / 'corpus.txt'} --dim 8 --window 2 --epochs 2 --min-count 1 --sample 0 "
            "--batch-size 200 --no-progress --backend torch --dtype float64").split()
    one = skipgram.main(args + ["--out", str(tmp_path / "one")])
    two = skipgram.main(args + ["--nproc", "2", "--out", str(tmp_path / "two")])
    a, b = np.array(one["loss_steps"]), np.array(two["loss_steps"])
    assert two["nproc"] == 2 and one["nproc"] == 1 and len(a) == len(b) == 28   # 2 x ceil(2715 / 200)
    assert one["vocab_size"] == 60
    assert np.max(np.abs(a - b) / a) < 1e-6
    assert sorted(os.listdir(tmp_path / "two")) == ["checkpoint.tgl", "metrics.json", "vectors.tgl", "vectors.txt"]
    w1 = skipgram.SkipGramNS.load(str(tmp_path / "one" / "checkpoint.tgl")).wv.vectors
    w2 = skipgram.SkipGramNS.load(str(tmp_path / "two" / "checkpoint.tgl")).wv.vectors
    np.testing.assert_allclose(w1, w2, rtol=1e-9, atol=1e-12)


def test_skipgram_nproc_needs_torch(capsys):
    from models import skipgram
    with pytest.raises(SystemExit):
        skipgram.main(["--nproc", "2", "--epochs", "1"])
    assert "--nproc > 1 needs --backend torch" in capsys.readouterr().err


def test_a_killed_worker_stops_the_others_with_a_clear_error(tmp_path):
    """Two workers started as torchrun starts them (RANK, WORLD_SIZE, ... in the environment); rank 1
    is killed mid-run: rank 0 must stop by itself with an error, not hang."""
    port = _free_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port))
        args = [a if a != "20" else "100000" for a in ARGS] + ["--dist-timeout", "30", "--eval-interval", "0"]
        procs.append(subprocess.Popen([sys.executable, "-m", "models.gpt", *args], env=env, cwd=ROOT,
                                      stderr=subprocess.PIPE, text=True))
    try:
        for line in procs[0].stderr:                  # rank 0 prints "model: ..." once the group is up
            if line.startswith("model:"):
                break
        time.sleep(1.0)
        assert procs[0].poll() is None and procs[1].poll() is None
        procs[1].send_signal(signal.SIGKILL)
        start = time.monotonic()
        rc = procs[0].wait(timeout=90)
        took = time.monotonic() - start
        err = procs[0].stderr.read()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    assert rc != 0
    assert "rank 0 of 2: a collective operation failed" in err and "another worker died" in err, err[-2000:]
    assert "Traceback" not in err
    assert took < 60


def test_launcher_stops_everything_when_one_worker_dies():
    """--nproc's launcher: a worker killed by a signal ends the run at once, naming the rank and signal."""
    code = ("import os, signal, time\n"
            "if os.environ['RANK'] == '1':\n"
            "    time.sleep(0.5); os.kill(os.getpid(), signal.SIGKILL)\n"
            "time.sleep(60)\n")
    start = time.monotonic()
    with pytest.raises(SystemExit, match=r"worker rank 1 of 3 was killed by SIGKILL; stopped the other workers"):
        launch(["-c", code], 3)
    assert time.monotonic() - start < 20


def test_dist_shards_the_global_batch():
    x = np.arange(12).reshape(6, 2)
    parts = [Dist(r, 3).shard(x) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), x)
    with pytest.raises(ValueError, match="multiple of 4"):
        Dist(0, 4).shard(x)
    assert Dist().shard(x) is x


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
