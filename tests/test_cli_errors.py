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


@pytest.fixture(scope="module")
def gpt_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("gpt")
    text = d / "t.txt"
    text.write_text("hello world, the quick brown fox. " * 40)
    p = cli("train", "gpt", "--text", text, "--out", d / "run", "--steps", "2", "--eval-interval", "0", *TINY_GPT)
    assert p.returncode == 0, p.stderr
    return d / "run" / "ckpt.pt"


@pytest.mark.parametrize("field,value,says", [("vocab_size", 99, "vocab_size=99 but the weights have"),
                                              ("n_layer", 3, "n_layer=3 but the weights have 1"),
                                              ("bias", False, "bias=False but the weights have True"),
                                              ("n_embd", 16, "n_embd=16 but the weights have 8")])
def test_a_checkpoint_whose_config_disagrees_with_its_weights(gpt_ckpt, tmp_path, field, value, says):
    import tinygrad_lite as tl
    ck = tl.load(gpt_ckpt)
    ck["config"] = {**ck["config"], field: value}
    bad = tmp_path / "bad.pt"
    tl.save(ck, bad)
    p = cli("sample", bad, "--max-new-tokens", "2")
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert says in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_weights_that_do_not_fit_the_model_are_one_clear_line():
    from models.backend import CheckpointMismatch, get_backend
    from models.mlp import MLP
    bk = get_backend("tinygrad_lite")
    model = bk.make(MLP, [4, 3, 2])
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state["net.0.weight" if "net.0.weight" in state else next(iter(state))] = np.zeros((7, 7))
    with pytest.raises(CheckpointMismatch, match=r"size mismatch for .*\(7, 7\)"):
        bk.load_state(model, state)


def test_corrupted_checkpoints_are_clear_errors(gpt_ckpt, tmp_path):
    """Same-length damage: flipped bytes anywhere, bad metadata JSON, an array the metadata lists but
    the file lacks. Each is exit 1 with one error line (or, for a flip in padding, a normal run)."""
    import io
    import zipfile
    good = gpt_ckpt.read_bytes()
    bad = tmp_path / "c.pt"
    rng = np.random.default_rng(0)
    for i in rng.integers(0, len(good), 12):
        b = bytearray(good)
        b[i] ^= 0xFF
        bad.write_bytes(bytes(b))
        p = cli("sample", bad, "--max-new-tokens", "2")
        assert "Traceback" not in p.stderr and p.returncode in (0, 1), (i, p.stderr)
        if p.returncode:
            assert p.stderr.startswith("tinygrad-lite: error:"), (i, p.stderr)
    src = zipfile.ZipFile(io.BytesIO(good))
    for damage in ("bad-json", "missing-array"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name in src.namelist():
                data = src.read(name)
                if damage == "missing-array" and name == "a3.npy":
                    continue
                if damage == "bad-json" and name.startswith("__tinygrad_lite__"):
                    arr = np.load(io.BytesIO(data))
                    arr = np.frombuffer(arr.tobytes().replace(b'"root"', b'"r00t"'), np.uint8)
                    out = io.BytesIO()
                    np.save(out, arr)
                    data = out.getvalue()
                z.writestr(name, data)
        bad.write_bytes(buf.getvalue())
        p = cli("sample", bad, "--max-new-tokens", "2")
        assert p.returncode == 1 and "Traceback" not in p.stderr, (damage, p.stderr)
        assert "corrupted" in p.stderr or "cannot read" in p.stderr, (damage, p.stderr)


@pytest.mark.parametrize("content,says", [(b"caf\xe9 au lait\n", "line 1 is not UTF-8 (byte 0xe9"),
                                          (b"good line\n\x7fELF\x02\x01\x00\x00binary\n", "line 2 holds a NUL byte"),
                                          (b"", "empty")])
def test_bad_corpora_are_clear_errors(tmp_path, content, says):
    f = tmp_path / "corpus.txt"
    f.write_bytes(content)
    p = cli("train", "skipgram", "--text", f, "--epochs", "1", "--min-count", "1", "--no-progress")
    assert p.returncode == 1 and says in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_one_giant_line_is_cut_and_counted(tmp_path):
    from models.text import read_sentences
    f = tmp_path / "giant.txt"
    f.write_text(" ".join(["alpha", "beta", "gamma"] * 8000) + "\nshort line\n")
    counts = {}
    sentences = read_sentences(f, counts=counts)
    assert counts["long_lines"] == 1 and [len(s) for s in sentences] == [10000, 10000, 4000, 2]
    p = cli("train", "skipgram", "--text", f, "--epochs", "1", "--min-count", "1", "--no-progress", "--dim", "4")
    assert p.returncode == 0 and "1 line(s) longer than 10,000 words were cut" in p.stderr, p.stderr


@pytest.mark.parametrize("rows,says", [("1,2,3\n4,x,6\n", "line 2, column 2: 'x' is not a number"),
                                       ("1,2,3\n4,nan,6\n", "line 2, column 2: 'nan' is not a finite number"),
                                       ("1,2,3\n4,5\n", "line 2: 2 columns, but the table has 3"),
                                       ("a,b,y\n1,2,3\n4,5,inf\n", "line 3, column 3: 'inf' is not a finite")])
def test_bad_mlp_tables_name_the_line(tmp_path, rows, says):
    f = tmp_path / "t.csv"
    f.write_text(rows + "7,8,9\n" * 6)
    p = cli("train", "mlp", "--data", f, "--epochs", "1", "--no-progress")
    assert p.returncode == 1 and says in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_read_table_with_header_and_blank_lines(tmp_path):
    from models.mlp import read_table
    f = tmp_path / "t.csv"
    f.write_text("x,y\n1,2\n\n3, 4\n")
    np.testing.assert_array_equal(read_table(f), [[1, 2], [3, 4]])
    g = tmp_path / "w.txt"
    g.write_text("1 2 3\n4 5 6\n")
    np.testing.assert_array_equal(read_table(g), [[1, 2, 3], [4, 5, 6]])


def test_a_bug_inside_a_library_shows_its_traceback(monkeypatch, capsys):
    """The CLI's catch-all reports our own checks' errors in one line but lets a real bug show: a
    ValueError raised deep inside numpy (here: a broken table reader) is not a user error."""
    from models import mlp
    from tinygrad_lite_app.cli import main

    def broken_reader(path):
        return np.ones((2, 3)).reshape(5, 5)       # numpy raises: a bug, not bad input
    monkeypatch.setattr(mlp, "read_table", broken_reader)
    with pytest.raises(ValueError, match="cannot reshape"):
        main(["train", "mlp", "--data", __file__, "--epochs", "1", "--no-progress"])


def test_user_error_classifies_by_where_the_error_was_raised(tmp_path):
    from models.guard import TrainingDiverged, user_error
    from models.mlp import read_table
    bad = tmp_path / "t.csv"
    bad.write_text("1,2\n3,x\n")

    def test_code():
        raise ValueError("raised outside the project's packages")
    for make, expected in ((lambda: read_table(bad), True), (lambda: np.ones(2).reshape(3), False),
                           (test_code, False), (lambda: open(tmp_path / "missing"), True)):
        try:
            make()
        except Exception as e:  # noqa: BLE001
            assert user_error(e) is expected, (make, e)
        else:
            raise AssertionError("no error raised")
    assert user_error(TrainingDiverged("x"))
