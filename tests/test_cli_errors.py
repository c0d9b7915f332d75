"""Bad input at the command line: usage errors exit 2 with `argument --flag: ...`; expected failures
exit 1 with one `tinygrad-lite: error: ...` line, never a traceback."""
import subprocess
import sys

import numpy as np
import pytest

FLAG_CASES = [("skipgram", f, v) for f, v in (("--batch-size", "0"), ("--window", "0"), ("--dim", "0"),
                                               ("--epochs", "0"), ("--negative", "0"), ("--min-count", "0"),
                                               ("--lr", "0"), ("--lr", "nan"), ("--sample", "-1"),
                                               ("--min-lr-ratio", "2"), ("--topn", "0"), ("--threads", "0"),
                                               ("--temperature", "0"), ("--snapshot-every", "0"),
                                               ("--max-vocab", "0"))]
FLAG_CASES += [("mlp", f, v) for f, v in (("--batch-size", "0"), ("--epochs", "0"), ("--lr", "-1"),
                                          ("--dropout", "1"), ("--weight-decay", "-0.1"), ("--test-size", "0"),
                                          ("--test-size", "1"), ("--threads", "0"))]


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "tinygrad_lite_app", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("model,flag,value", FLAG_CASES)
def test_out_of_range_flag_is_a_usage_error(model, flag, value):
    p = cli("train", model, flag, value)
    assert p.returncode == 2, p.stderr
    assert f"argument {flag}:" in p.stderr and "Traceback" not in p.stderr


TINY_GPT = ["--n-layer", "1", "--n-head", "1", "--n-embd", "8", "--block-size", "8", "--batch-size", "4",
            "--eval-iters", "1", "--quiet", "--max-new-tokens", "1"]


def test_a_diverging_gpt_run_stops_naming_the_step_and_keeps_the_good_checkpoint(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    out = tmp_path / "run"
    good = cli("train", "gpt", "--text", text, "--out", out, "--steps", "3", "--eval-interval", "0", *TINY_GPT)
    assert good.returncode == 0, good.stderr
    ckpt = out / "ckpt.pt"
    before = ckpt.read_bytes()
    p = cli("train", "gpt", "--text", text, "--out", out, "--steps", "200", "--lr", "1e6", "--warmup", "0",
            "--grad-clip", "0", "--eval-interval", "0", *TINY_GPT)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "diverged at step" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert ckpt.read_bytes() == before                   # the good checkpoint is still there, untouched
    import tinygrad_lite as tl
    assert all(np.isfinite(v.numpy()).all() for v in tl.load(ckpt)["model"].values() if hasattr(v, "numpy"))


def test_a_diverging_mlp_and_skipgram_run_stop_with_a_clear_error(tmp_path):
    p = cli("train", "mlp", "--lr", "1e12", "--epochs", "3", "--optimizer", "sgd", "--no-progress", "--out",
            tmp_path / "mlp")
    assert p.returncode == 1 and "diverged at step" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "mlp" / "checkpoint.tgl").exists()
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join("a b c d e f g h a b c d" for _ in range(300)))
    p = cli("train", "skipgram", "--text", corpus, "--lr", "1e30", "--epochs", "2", "--min-count", "1",
            "--no-progress", "--dim", "8", "--out", tmp_path / "sg")
    assert p.returncode == 1 and "diverged" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "sg" / "vectors.tgl").exists()


def test_check_loss_and_weights_unit():
    from models.guard import TrainingDiverged, check_finite_weights, check_loss
    assert check_loss(1.5, 3) == 1.5
    with pytest.raises(TrainingDiverged, match=r"step 7: the loss is nan.*last good checkpoint is ck \(step 5\)"):
        check_loss(float("nan"), 7, last_checkpoint=lambda: "ck (step 5)")
    with pytest.raises(TrainingDiverged, match="no checkpoint was written"):
        check_loss(float("inf"), 0)
    check_finite_weights([("w", np.ones(3))], "x")
    with pytest.raises(TrainingDiverged, match="'b'"):
        check_finite_weights([("w", np.ones(3)), ("b", np.array([1.0, np.nan]))], "x")
