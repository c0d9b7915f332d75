"""Fast tests of models/mlp.py: the MLP learns (classification and regression), CLI writes outputs."""
import json

import numpy as np
import pytest

import tinygrad_lite as tg
from models.mlp import MLP, evaluate, load_checkpoint, load_digits_split, main, train


def test_mlp_shapes_and_bad_config():
    m = MLP([5, 7, 3], activation="tanh")
    out = m(tg.randn(4, 5))
    assert out.shape == (4, 3)
    with pytest.raises(ValueError, match="activation"):
        MLP([5, 3], activation="nope")
    with pytest.raises(ValueError, match="sizes"):
        MLP([5])


def test_mlp_learns_digits_quickly():
    tg.manual_seed(0)
    Xtr, ytr, Xte, yte = load_digits_split()
    assert Xtr.shape == (1347, 64) and Xte.shape == (450, 64)
    model = MLP([64, 64, 10])
    before = evaluate(model, Xte, yte, "classification")
    stats = train(model, Xtr, ytr, epochs=8, lr=3e-3, progress=False)
    after = evaluate(model, Xte, yte, "classification")
    assert stats["train_loss"][-1] < stats["train_loss"][0] * 0.3
    assert after["loss"] < before["loss"]
    assert after["accuracy"] > 0.9


def test_mlp_regression_fits_a_smooth_function():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (256, 1)).astype(np.float32)
    y = np.sin(X[:, 0]).astype(np.float32)
    model = MLP([1, 32, 1], activation="tanh")
    stats = train(model, X, y, task="regression", epochs=60, batch_size=32, lr=1e-2, progress=False)
    m = evaluate(model, X, y, "regression")
    assert stats["train_loss"][-1] < 0.02 and m["r2"] > 0.95


def test_mlp_cli_writes_checkpoint_and_metrics(tmp_path):
    metrics = main(["--epochs", "6", "--hidden", "32", "--dropout", "0", "--no-progress", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("final_train_loss", "final_test_loss", "test_accuracy", "samples_per_sec", "wall_time"):
        assert key in saved
    assert saved["test_accuracy"] == metrics["test_accuracy"] > 0.8
    ckpt = tg.load(str(tmp_path / "checkpoint.tgl"))
    model = MLP(ckpt["sizes"])
    model.load_state_dict(ckpt["model"])
    Xtr, ytr, Xte, yte = load_digits_split()
    assert evaluate(model, Xte, yte, "classification")["accuracy"] == pytest.approx(saved["test_accuracy"])


def _write_csv(path, X, y, header=True, fmt="%.6g"):
    with open(path, "w") as f:
        if header:
            f.write(",".join([f"x{i}" for i in range(X.shape[1])] + ["target"]) + "\n")
        for row, t in zip(X, y):
            f.write(",".join(fmt % v for v in row) + f",{t:g}\n")


def test_mlp_cli_data_csv_classification(tmp_path):
    # three Gaussian blobs in 4-d, labels 2, 5, 7 (mapped to classes 0..2), with a header line
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 4))
    lab = rng.integers(0, 3, 240)
    X = centres[lab] + rng.normal(0, 0.5, (240, 4))
    csv = tmp_path / "blobs.csv"
    _write_csv(csv, X, np.array([2, 5, 7])[lab])
    out = tmp_path / "out"
    m = main(["--data", str(csv), "--epochs", "15", "--hidden", "16", "--no-progress", "--out", str(out)])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["data"] == str(csv) and saved["sizes"] == [4, 16, 3] and saved["task"] == "classification"
    assert saved["test_accuracy"] == m["test_accuracy"] >= 0.95
    assert saved["train"]["accuracy"] >= 0.95 and saved["final_train_loss"] < saved["train_loss_history"][0]
    # the checkpoint reproduces the test accuracy on the same fixed split
    from models.mlp import load_table_split
    _, _, Xte, yte = load_table_split(str(csv), "classification")
    assert len(Xte) == 60
    model, ckpt = load_checkpoint(str(out / "checkpoint.tgl"))  # with the default dropout 0.2 layers
    assert ckpt["task"] == "classification" and ckpt["dropout"] == 0.2
    assert evaluate(model, Xte, yte, "classification")["accuracy"] == pytest.approx(saved["test_accuracy"])


def test_mlp_cli_data_whitespace_table_regression(tmp_path):
    # y = 2 x0 - x1 + 0.5 x2 + noise, a whitespace table without header
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (200, 3))
    y = 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + rng.normal(0, 0.05, 200)
    path = tmp_path / "lin.txt"
    path.write_text("".join(" ".join(f"{v:.6f}" for v in row) + f" {t:.6f}\n" for row, t in zip(X, y)))
    m = main(["--data", str(path), "--task", "regression", "--epochs", "40", "--hidden", "", "--lr", "0.03",
              "--weight-decay", "0", "--dropout", "0", "--no-progress"])
    assert m["task"] == "regression" and m["sizes"] == [3, 1]
    assert m["test_r2"] > 0.98 and m["test"]["r2"] == m["test_r2"]


def test_mlp_cli_regression_default_diabetes(tmp_path):
    m = main(["--task", "regression", "--epochs", "20", "--no-progress", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["data"] == "sklearn diabetes" and saved["sizes"] == [10, 64, 1]
    for key in ("final_train_loss", "final_test_loss", "test_r2", "samples_per_sec", "wall_time"):
        assert key in saved
    assert "test_accuracy" not in saved
    # standardised targets: predicting the mean gives r2 ~ 0 and MSE ~ 1; the MLP does much better
    assert saved["test_r2"] == pytest.approx(m["test_r2"]) and saved["test_r2"] > 0.25
    assert saved["final_train_loss"] < 0.75 and saved["train_loss_history"][-1] < saved["train_loss_history"][0]
    model, ckpt = load_checkpoint(str(tmp_path / "checkpoint.tgl"))
    assert ckpt["task"] == "regression"
    from models.mlp import load_diabetes_split
    _, _, Xte, yte = load_diabetes_split()
    assert evaluate(model, Xte, yte, "regression")["r2"] == pytest.approx(saved["test_r2"], rel=1e-5)


def test_mlp_cli_bad_data_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit, match="needs >= 4 rows"):
        main(["--data", str(bad), "--no-progress"])
    with pytest.raises(SystemExit, match="no/such"):
        main(["--data", str(tmp_path / "no/such.csv"), "--no-progress"])
