"""A multi-layer perceptron trained with the tinygrad_lite engine (no hand-written gradients).

Each neuron computes a weighted sum of its inputs plus a bias and passes it through an activation;
a layer is many neurons at once (`nn.Linear`: x @ W.T + b), an MLP is layers in sequence.

* classification: logits -> softmax cross entropy (`F.cross_entropy`), accuracy reported;
* regression: a linear output trained with mean squared error (`F.mse_loss`), R^2 reported.

Default data, bundled with scikit-learn (no download): 8x8 handwritten digits (1,797 images,
classification) with a fixed stratified 75/25 split (random_state=0); `--task regression` uses the
diabetes data set (442 patients, 10 features). `--data PATH` reads a CSV/whitespace table of
numbers whose last column is the target.

CLI: `python -m models.mlp` (defaults reach >= 97% test accuracy on digits in a few seconds);
`python -m models.mlp --help` for the flags; `--out DIR` writes checkpoint.tgl and metrics.json.
`--backend torch` runs the same class on PyTorch (models/backend.py).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

import tinygrad_lite as tg

from . import distributed
from .backend import Module, add_backend_args, checkpoint_state, get_backend
from .argtypes import float_in, int_at_least
from .guard import check_finite_weights, check_loss
from .progress import Progress

__all__ = ["MLP", "load_checkpoint", "load_digits_split", "load_diabetes_split", "load_table_split", "train",
           "evaluate", "main"]

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU", "silu": "SiLU"}  # nn classes


# defaults per task: digits needs capacity, the small diabetes set needs regularisation
TASK_DEFAULTS = {
    "classification": {"hidden": "256", "dropout": 0.2, "epochs": 100, "lr": 3e-3, "weight_decay": 0.0},
    "regression": {"hidden": "64", "dropout": 0.2, "epochs": 50, "lr": 1e-3, "weight_decay": 0.1},
}


class MLP(Module):
    """MLP(sizes, activation="relu", dropout=0.0, backend=None).

    sizes: [in, hidden..., out], e.g. [64, 128, 10]. Input (B, in) -> output (B, out): every layer
    but the last is Linear -> activation (-> Dropout); the last is a plain Linear (logits for
    classification, the prediction for regression). backend: "tinygrad_lite" (default) or "torch"."""

    def __init__(self, sizes, activation="relu", dropout=0.0, backend=None):
        super().__init__()
        nn = self.bk.nn
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least [in, out], got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(getattr(nn, ACTIVATIONS[activation])())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)
        self.sizes = list(sizes)

    def forward(self, x):
        """x: (B, in) -> (B, out)."""
        return self.net(x)


def load_checkpoint(path, backend=None, device="cpu"):
    """Rebuild the MLP saved by the CLI's `--out DIR` (DIR/checkpoint.tgl) -> (model, checkpoint dict).

    The checkpoint holds 'model' (state_dict), 'sizes', 'activation', 'dropout' (layer layout:
    Dropout modules shift the layer indices) and 'task'; the model is returned in eval mode, on
    `backend` ("tinygrad_lite" default, or "torch") in the dtype of the saved weights."""
    ckpt = tg.load(path)
    if not isinstance(ckpt, dict) or not {"model", "sizes"} <= set(ckpt):
        raise ValueError(f"load_checkpoint: {path} is not an MLP checkpoint (needs 'model' and 'sizes')")
    dtype = next((v.dtype for v in ckpt["model"].values() if v.dtype.kind == "f"), None)
    bk = get_backend(backend, device, dtype)
    model = bk.make(MLP, ckpt["sizes"], activation=ckpt.get("activation", "relu"), dropout=ckpt.get("dropout", 0.0))
    bk.load_state(model, ckpt["model"])
    model.eval()
    return model, ckpt


# ---------------------------------------------------------------------- data
def _split(X, y, test_size, seed, stratify):
    from sklearn.model_selection import train_test_split
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y if stratify else None)


def load_digits_split(test_size=0.25, seed=0):
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], fixed stratified split.

    Returns (X_train (n, 64) float32, y_train (n,) int64, X_test, y_test)."""
    from sklearn.datasets import load_digits
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = _split(X, d.target.astype(np.int64), test_size, seed, True)
    return Xtr, ytr, Xte, yte


def load_diabetes_split(test_size=0.25, seed=0):
    """scikit-learn's diabetes regression data, features and target standardised on the train split.

    Returns (X_train (n, 10) float32, y_train (n,) float32, X_test, y_test)."""
    from sklearn.datasets import load_diabetes
    d = load_diabetes()
    return _standardise(*_split(d.data, d.target, test_size, seed, False))


def _standardise(Xtr, Xte, ytr, yte, scale_y=True):
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    if scale_y:
        ym, ys = ytr.mean(), ytr.std() + 1e-8
        ytr, yte = (ytr - ym) / ys, (yte - ym) / ys
    return Xtr.astype(np.float32), ytr.astype(np.float32), Xte.astype(np.float32), yte.astype(np.float32)


def read_table(path):
    """A numeric table from a UTF-8 CSV (or whitespace separated) file -> float64 array (rows, columns).

    A first line that is not numbers is a header and skipped; blank lines are skipped. A value that
    is not a finite number, or a row with another number of columns, is a ValueError naming the
    file, the line (from 1) and the column."""
    rows, width = [], None
    with open(path, encoding="utf-8") as f:
        lines = list(enumerate(f, 1))
    delim = "," if lines and "," in lines[0][1] else None
    for number, line in lines:
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(delim)]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if not rows and width is None and number == lines[0][0]:
                width = len(cells)                 # a header line: its width still counts
                continue
            bad = next(i for i, c in enumerate(cells) if not _is_number(c))
            raise ValueError(f"{path}, line {number}, column {bad + 1}: {cells[bad]!r} is not a number") from None
        bad = next((i for i, v in enumerate(values) if not np.isfinite(v)), None)
        if bad is not None:
            raise ValueError(f"{path}, line {number}, column {bad + 1}: {cells[bad]!r} is not a finite number "
                             "(remove or fill in the row)")
        if width is not None and len(values) != width:
            raise ValueError(f"{path}, line {number}: {len(values)} columns, but the table has {width}")
        width = len(values)
        rows.append(values)
    return np.array(rows, dtype=np.float64).reshape(len(rows), width or 0)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def load_table_split(path, task, test_size=0.25, seed=0):
    """A numeric table (CSV or whitespace separated; last column = target) split into train/test.

    Classification targets are mapped to 0..C-1. Returns (X_train, y_train, X_test, y_test)."""
    data = read_table(path)
    if data.shape[0] < 4 or data.shape[1] < 2:
        raise ValueError(f"load_table_split: {path} needs >= 4 rows and >= 2 columns, got {data.shape}")
    X, y = data[:, :-1], data[:, -1]
    if task == "classification":
        _, y = np.unique(y, return_inverse=True)
        Xtr, Xte, ytr, yte = _split(X, y.astype(np.int64), test_size, seed, False)
        Xtr, _, Xte, _ = _standardise(Xtr, Xte, ytr.astype(float), yte.astype(float), scale_y=False)
        return Xtr, ytr, Xte, yte
    return _standardise(*_split(X, y, test_size, seed, False))


# ---------------------------------------------------------------------- training
def _loss(task, out, y, F, reduction="mean"):
    if task == "classification":
        return F.cross_entropy(out, y, reduction=reduction)
    return F.mse_loss(out.reshape(-1), y, reduction=reduction)


def evaluate(model, X, y, task, batch_size=1024):
    """Loss and accuracy (classification) or R^2 (regression) on (X (n, in), y (n,)) -> dict."""
    bk = model.bk
    model.eval()
    outs = []
    with bk.no_grad():
        for s in range(0, len(X), batch_size):
            outs.append(bk.numpy(model(bk.tensor(X[s:s + batch_size]))))
    model.train()
    out = np.concatenate(outs)
    loss = float(_loss(task, bk.tensor(out), bk.tensor(y), bk.F).item())
    if task == "classification":
        return {"loss": loss, "accuracy": float((out.argmax(1) == y).mean())}
    pred = out.reshape(-1)
    r2 = 1.0 - float(((pred - y) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12))
    return {"loss": loss, "r2": r2}


def train(model, Xtr, ytr, task="classification", epochs=100, batch_size=64, lr=3e-3, weight_decay=0.0,
          optimizer="adam", seed=0, lr_decay=True, progress=True, X_test=None, y_test=None, log=None, dist=None):
    """Train `model` on (Xtr (n, in), ytr (n,)) with minibatches (Adam or SGD+momentum, lr decaying
    linearly to 0 when lr_decay); returns stats dict (train_loss per epoch, step_loss per step,
    samples_per_sec, wall_time, test metrics per epoch if test data given).

    dist: a models.distributed.Dist when several processes train together (torch backend): every
    rank draws the same minibatch and takes its share of the rows; each rank's loss is its rows'
    summed loss * world_size / batch rows, so the gradient DistributedDataParallel averages is the
    gradient of the whole batch's mean loss, even when the rows do not split evenly."""
    from .distributed import SINGLE
    dist = dist or SINGLE
    bk = model.bk
    step_model = dist.wrap(model)
    optim = bk.optim
    rng = np.random.default_rng(seed)
    params = model.parameters()
    if optimizer == "adam":
        opt = optim.AdamW(params, lr=lr, weight_decay=weight_decay) if weight_decay else optim.Adam(params, lr=lr)
    elif optimizer == "sgd":
        opt = optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"train: unknown optimizer {optimizer!r} (adam or sgd)")
    n = len(Xtr)
    steps_per_epoch = -(-n // batch_size)
    history, test_hist, steps = [], [], []
    t0 = time.perf_counter()
    bar = Progress(total=epochs * steps_per_epoch, desc=f"mlp[{task}]", unit="samples",
                   disable=not progress or not dist.is_main)
    for ep in range(epochs):
        perm = rng.permutation(n)
        tot = 0.0
        for s in range(0, n, batch_size):
            idx = perm[s:s + batch_size]
            mine = np.array_split(idx, dist.world_size)[dist.rank] if dist.active else idx   # this rank's rows
            xb, yb = bk.tensor(Xtr[mine]), bk.tensor(ytr[mine])
            if lr_decay:  # linear decay to 0 over the run
                for g in opt.param_groups:
                    g["lr"] = lr * (1.0 - (ep * steps_per_epoch + s // batch_size) / (epochs * steps_per_epoch))
            if dist.active:
                loss = _loss(task, step_model(xb), yb, bk.F, "sum") * (dist.world_size / len(idx))
            else:
                loss = _loss(task, model(xb), yb, bk.F)
            opt.zero_grad()
            loss.backward()
            opt.step()
            lv = check_loss(dist.mean(loss.item()), len(steps), "MLP training", opt.param_groups[0]["lr"])
            steps.append(lv)
            tot += lv * len(idx)
            bar.update(1, items=len(idx), loss=lv)
        history.append(tot / n)
        if X_test is not None and dist.is_main:
            test_hist.append(evaluate(model, X_test, y_test, task))
            if log:
                log(f"epoch {ep + 1}/{epochs}: train loss {history[-1]:.4f}, test {test_hist[-1]}")
    bar.close()
    wall = time.perf_counter() - t0
    return {"train_loss": history, "step_loss": steps, "test": test_hist, "wall_time": wall,
            "samples_per_sec": epochs * n / wall}


# ---------------------------------------------------------------------- CLI
def _parser(prog=None):
    """The command line's parser; `prog` names the command in usage lines (tinygrad-lite passes its own)."""
    p = argparse.ArgumentParser(prog=prog or "python -m models.mlp",
                                description="Train an MLP with tinygrad_lite (default: sklearn digits, classification).")
    p.add_argument("--task", choices=["classification", "regression"], default="classification")
    p.add_argument("--data", "--text", dest="data", default=None,
                   help="numeric table (CSV/whitespace), last column = target; default: digits / diabetes")
    p.add_argument("--hidden", default=None, help="hidden layer sizes, comma separated ('' for none)")
    p.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS))
    p.add_argument("--dropout", type=float_in(0, 1), default=None, help="dropout probability in [0, 1)")
    p.add_argument("--epochs", type=int_at_least(1), default=None)
    p.add_argument("--batch-size", type=int_at_least(1), default=64)
    p.add_argument("--lr", type=float_in(0, lo_open=True), default=None)
    p.add_argument("--weight-decay", type=float_in(0), default=None)
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--test-size", type=float_in(0, 1, lo_open=True), default=0.25)
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split (fixed by default)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order")
    p.add_argument("--no-lr-decay", action="store_true", help="keep lr constant (default: linear decay to 0)")
    p.add_argument("--out", default=None, help="directory for checkpoint.tgl and metrics.json")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--threads", type=int_at_least(1), default=1, help="BLAS threads (default 1: faster for these small products)")
    p.add_argument("--verbose", action="store_true", help="print test metrics every epoch")
    distributed.add_args(add_backend_args(p))
    return p


def main(argv=None, prog=None):
    """CLI entry point (also called by `tinygrad-lite train mlp ...`). Returns the metrics dict."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    # (unreadable/bad data file, bad sizes...)
    return distributed.run_command(parser, args, argv, "models.mlp", _run, (OSError, ValueError))


def _run(args, bk, dist):
    for k, v in TASK_DEFAULTS[args.task].items():  # task-dependent defaults for flags not given
        if getattr(args, k) is None:
            setattr(args, k, v)
    tg.manual_seed(args.seed)
    if bk.name == "torch":
        bk.torch.manual_seed(args.seed)  # torch's own generator: dropout masks
    if args.data:
        Xtr, ytr, Xte, yte = load_table_split(args.data, args.task, args.test_size, args.split_seed)
        source = args.data
    elif args.task == "classification":
        Xtr, ytr, Xte, yte = load_digits_split(args.test_size, args.split_seed)
        source = "sklearn digits (8x8)"
    else:
        Xtr, ytr, Xte, yte = load_diabetes_split(args.test_size, args.split_seed)
        source = "sklearn diabetes"
    n_out = int(ytr.max()) + 1 if args.task == "classification" else 1
    hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    model = bk.build(MLP, [Xtr.shape[1]] + hidden + [n_out], activation=args.activation, dropout=args.dropout)
    log = print if dist.is_main else (lambda *a, **k: None)
    log(f"data: {source}: {len(Xtr)} train / {len(Xte)} test, {Xtr.shape[1]} features; model {model.sizes}",
        file=sys.stderr)
    t0 = time.perf_counter()
    stats = train(model, Xtr, ytr, args.task, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                  weight_decay=args.weight_decay, optimizer=args.optimizer, seed=args.seed,
                  lr_decay=not args.no_lr_decay, progress=not args.no_progress, X_test=Xte if args.verbose else None,
                  y_test=yte if args.verbose else None, log=lambda m: print(m, file=sys.stderr), dist=dist)
    if not dist.is_main:  # rank 0 alone evaluates and writes
        return stats
    train_m = evaluate(model, Xtr, ytr, args.task)
    test_m = evaluate(model, Xte, yte, args.task)
    wall = time.perf_counter() - t0
    metrics = {"task": args.task, "data": source, "sizes": model.sizes, "final_train_loss": train_m["loss"],
               "final_test_loss": test_m["loss"], "train": train_m, "test": test_m,
               "train_loss_history": stats["train_loss"], "train_loss_steps": stats["step_loss"],
               "backend": bk.name, "device": bk.device, "dtype": bk.dtype, "nproc": dist.world_size,
               "samples_per_sec": stats["samples_per_sec"],
               "wall_time": wall, "args": vars(args)}
    key = "accuracy" if args.task == "classification" else "r2"
    metrics[f"test_{key}"] = test_m[key]
    print(f"train loss {train_m['loss']:.4f}  test loss {test_m['loss']:.4f}  test {key} {test_m[key]:.4f}  "
          f"({stats['samples_per_sec']:.0f} samples/s, {wall:.1f} s)")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        check_finite_weights(model.state_dict().items(), os.path.join(args.out, "checkpoint.tgl"))
        tg.save({"model": checkpoint_state(model), "sizes": model.sizes, "activation": args.activation,
                 "dropout": float(args.dropout), "task": args.task}, os.path.join(args.out, "checkpoint.tgl"))
        with open(os.path.join(args.out, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
        print(f"wrote {args.out}/checkpoint.tgl, metrics.json", file=sys.stderr)
    return metrics


if __name__ == "__main__":
    from models.distributed import main_and_exit
    main_and_exit(main)
