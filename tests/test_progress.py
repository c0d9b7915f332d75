"""models/progress.py: the progress bar shows the loss and the throughput, in a log (non-tty) and
on a terminal, and the models' training loops use it."""
import io
import re

import numpy as np
import pytest

import models.progress as progress_mod
from models.progress import Progress


class _Clock:
    """A fake `time` module: perf_counter() returns `now`, advanced by the test."""

    def __init__(self, now=100.0):
        self.now = now

    def perf_counter(self):
        return self.now


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(progress_mod, "time", c)
    return c


def test_log_output_shows_loss_and_throughput(clock):
    buf = io.StringIO()  # not a tty: whole lines, at most one per 5 s
    bar = Progress(total=4, desc="train", unit="words", file=buf)
    for loss in (2.0, 1.0, 0.5, 0.25):
        clock.now += 0.5
        bar.update(1, items=1000, loss=loss, lr=0.01)
    bar.close()
    out = buf.getvalue()
    assert "\r" not in out and out.endswith("\n")
    lines = out.splitlines()
    assert len(lines) == 2, lines  # the first step at once, then (2 s < 5 s) only the final step
    assert "1/4" in lines[0] and "loss 2 (avg 2)" in lines[0] and "2.0k words/s" in lines[0]
    line = lines[1]
    assert line.startswith("train [") and "100%" in line and "4/4" in line
    # latest loss and its moving average (ema 0.05): 2, then 0.95*2 + 0.05*1, ...
    ema = 2.0
    for v in (1.0, 0.5, 0.25):
        ema = 0.95 * ema + 0.05 * v
    assert f"loss 0.25 (avg {ema:.4g})" in line
    assert "lr 0.01" in line
    # 4000 words in 2 s of (fake) time
    assert re.search(r"(\d+(?:\.\d+)?)([kM]?) words/s", line).groups() == ("2.0", "k")
    assert bar.rate() == pytest.approx(2000.0) and bar.items == 4000 and bar.elapsed == pytest.approx(2.0)


def test_log_output_prints_a_line_every_5_seconds(clock):
    buf = io.StringIO()
    bar = Progress(total=None, desc="gen", unit="tokens", file=buf)
    for _ in range(12):
        clock.now += 1.0
        bar.update(1, items=50, loss=3.0)
    bar.close()
    lines = buf.getvalue().splitlines()
    # the first update at once, then one line per 5 s (steps 6, 11), and the final state at close
    assert [ln.split()[1] for ln in lines] == ["1", "6", "11", "12"], lines
    assert all(ln.startswith("gen ") and "50.0 tokens/s" in ln and "loss 3 " in ln for ln in lines)
    assert lines[-1].endswith(" 0:12")


def test_tty_output_redraws_in_place(clock):
    buf = _Tty()
    bar = Progress(total=10, desc="fit", unit="samples", file=buf, min_interval=0.2)
    for _ in range(10):
        clock.now += 0.25
        bar.update(1, items=1500, loss=0.123)
    bar.write("a message")
    bar.close()
    out = buf.getvalue()
    frames = out.split("\r\x1b[K")[1:]
    assert len(frames) >= 10 and out.endswith("\n")
    assert "a message\n" in out
    assert "6.0k samples/s" in frames[-1] and "loss 0.123" in frames[-1] and "10/10" in frames[-1]
    assert "50%" in frames[4] and "<0:01" in frames[4]  # ETA while running


def test_disabled_bar_is_silent_but_counts(clock):
    buf = io.StringIO()
    bar = Progress(total=3, file=buf, disable=True)
    clock.now += 1.0
    bar.update(3, items=30, loss=1.0)
    bar.close()
    assert buf.getvalue() == "" and bar.rate() == pytest.approx(30.0)


def test_training_loops_report_loss_and_throughput(capsys):
    from models.mlp import MLP, train
    from models.skipgram import train_sgns
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    train(MLP([3, 4, 2]), X, (X[:, 0] > 0).astype(np.int64), epochs=2, batch_size=16, progress=True)
    sents = [["a", "b", "c", "d"], ["b", "c", "a", "d"]] * 20
    train_sgns(sents, dim=4, window=2, negative=2, min_count=1, epochs=1, sample=0, batch_size=16, progress=True)
    err = capsys.readouterr().err
    mlp_line = [ln for ln in err.splitlines() if ln.startswith("mlp[classification]")][-1]
    sg_line = [ln for ln in err.splitlines() if ln.startswith("skipgram")][-1]
    assert re.search(r"loss \d", mlp_line) and re.search(r"\d(\.\d)?[kM]? samples/s", mlp_line), mlp_line
    assert re.search(r"loss \d", sg_line) and re.search(r"\d(\.\d)?[kM]? words/s", sg_line), sg_line
    assert "100%" in mlp_line and "100%" in sg_line
