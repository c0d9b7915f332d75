"""Fast tests of models/mlp.py: the MLP learns (classification and regression), CLI writes outputs."""
import json

import numpy as np
import pytest

import tinygrad_lite as tg
from models.mlp import MLP, evaluate, load_digits_split, main, train


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
