"""The new layers (issue 13) against PyTorch: forward + backward, as a user's training step runs them.

Sizes are those of the PyTorch examples the layers were added for:
  * MNIST example CNN: Conv2d 1->32 3x3, Conv2d 32->64 3x3 on 28x28, MaxPool2d(2), batch 64 (and the whole
    example network: conv, relu, conv, relu, max_pool, dropout, flatten, fc 9216->128, relu, dropout, fc, log_softmax,
    nll_loss);
  * word-language-model: LSTM / GRU / RNN_TANH with 2 layers, emsize = nhid = 200, seq 35, batch 20;
    its TransformerEncoder: 2 layers, d_model 200, nhead 2, dim_feedforward 200, causal mask, dropout 0.2;
  * BatchNorm2d, AvgPool2d, AdaptiveAvgPool2d at the MNIST CNN's activation sizes;
  * ConvTranspose2d as in the DCGAN example's generator (ngf 64: 128->64 channels, 16x16 -> 32x32, batch 64);
  * an optimizer step (RMSprop, Adagrad, Adadelta) over the MNIST network's 1.2M parameters.

Both frameworks get the same weights and inputs (float32), one thread each (torch.set_num_threads(1),
OPENBLAS_NUM_THREADS=1); calls alternate between the two in rounds so that load on the machine hits both,
and the median of the per-round times is reported, with ratio = ours / PyTorch.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_layers.py [--rounds 7] [--only lstm conv2 ...]
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn as nn  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402


def copy_weights(ours, theirs):
    ours.load_state_dict({k: Tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})


def cases(torch):
    """name -> (our step, PyTorch's step, calls per round); each step runs forward and backward."""
    TN, TF = torch.nn, torch.nn.functional
    rng = np.random.default_rng(0)
    out = {}

    def layer_case(name, ours, theirs, x, reps, grad_input=True):
        copy_weights(ours, theirs)
        xa, xb = Tensor(x, requires_grad=grad_input), torch.tensor(x, requires_grad=grad_input)

        def step_ours():
            y = ours(xa)
            (y[0] if isinstance(y, tuple) else y).sum().backward()

        def step_torch():
            y = theirs(xb)
            (y[0] if isinstance(y, tuple) else y).sum().backward()
        out[name] = (step_ours, step_torch, reps)

    img = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    act1 = rng.standard_normal((64, 32, 26, 26)).astype(np.float32)
    act2 = rng.standard_normal((64, 64, 24, 24)).astype(np.float32)
    layer_case("conv1 1->32 3x3 (64,1,28,28)", nn.Conv2d(1, 32, 3), TN.Conv2d(1, 32, 3), img, 3, grad_input=False)
    layer_case("conv2 32->64 3x3 (64,32,26,26)", nn.Conv2d(32, 64, 3), TN.Conv2d(32, 64, 3), act1, 1)
    layer_case("max_pool2d 2 (64,64,24,24)", nn.MaxPool2d(2), TN.MaxPool2d(2), act2, 2)
    layer_case("avg_pool2d 2 (64,64,24,24)", nn.AvgPool2d(2), TN.AvgPool2d(2), act2, 2)
    layer_case("adaptive_avg_pool2d 1 (64,64,24,24)", nn.AdaptiveAvgPool2d(1), TN.AdaptiveAvgPool2d(1), act2, 2)
    layer_case("batch_norm2d (64,32,26,26)", nn.BatchNorm2d(32), TN.BatchNorm2d(32), act1, 2)
    layer_case("conv_transpose2d 128->64 4x4 s2 p1 (64,128,16,16)", nn.ConvTranspose2d(128, 64, 4, 2, 1),
               TN.ConvTranspose2d(128, 64, 4, 2, 1), rng.standard_normal((64, 128, 16, 16)).astype(np.float32), 1)
    layer_case("conv1d 64->64 k5 pad 2 (32,64,128)", nn.Conv1d(64, 64, 5, padding=2), TN.Conv1d(64, 64, 5, padding=2),
               rng.standard_normal((32, 64, 128)).astype(np.float32), 2)

    # the PyTorch MNIST example's network, as written there
    class NetTorch(TN.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = TN.Conv2d(1, 32, 3, 1), TN.Conv2d(32, 64, 3, 1)
            self.dropout1, self.dropout2 = TN.Dropout(0.25), TN.Dropout(0.5)
            self.fc1, self.fc2 = TN.Linear(9216, 128), TN.Linear(128, 10)

        def forward(self, x):
            x = TF.relu(self.conv1(x))
            x = TF.relu(self.conv2(x))
            x = TF.max_pool2d(x, 2)
            x = torch.flatten(self.dropout1(x), 1)
            x = self.dropout2(TF.relu(self.fc1(x)))
            return TF.log_softmax(self.fc2(x), dim=1)

    class NetOurs(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
            self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
            self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x).flatten(1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    net_o, net_t = NetOurs(), NetTorch()
    copy_weights(net_o, net_t)
    target = rng.integers(0, 10, 64)
    xa, xb, ya, yb = Tensor(img), torch.tensor(img), Tensor(target), torch.tensor(target)

    def mnist_ours():
        F.nll_loss(net_o(xa), ya).backward()

    def mnist_torch():
        TF.nll_loss(net_t(xb), yb).backward()
    out["MNIST example net, batch 64"] = (mnist_ours, mnist_torch, 1)

    L, N, E = 35, 20, 200
    seq = rng.standard_normal((L, N, E)).astype(np.float32)
    for name, mo, mt in (("LSTM", nn.LSTM, TN.LSTM), ("GRU", nn.GRU, TN.GRU), ("RNN", nn.RNN, TN.RNN)):
        layer_case(f"{name} 2x200, seq 35, batch 20", mo(E, E, 2, dropout=0.2), mt(E, E, 2, dropout=0.2), seq, 1)

    enc_o = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, 2, E, 0.2), 2)
    enc_t = TN.TransformerEncoder(TN.TransformerEncoderLayer(E, 2, E, 0.2), 2, enable_nested_tensor=False)
    copy_weights(enc_o, enc_t)
    mask_o = nn.Transformer.generate_square_subsequent_mask(L)
    mask_t = TN.Transformer.generate_square_subsequent_mask(L)
    sa, sb = Tensor(seq, requires_grad=True), torch.tensor(seq, requires_grad=True)

    def enc_ours():
        enc_o(sa, mask_o).sum().backward()

    def enc_torch():
        enc_t(sb, mask_t).sum().backward()
    out["TransformerEncoder 2x200, nhead 2, seq 35, batch 20"] = (enc_ours, enc_torch, 1)

    for oname in ("RMSprop", "Adagrad", "Adadelta"):
        po = [p for p in net_o.parameters()]
        pt = [p for p in net_t.parameters()]
        for p, q in zip(po, pt):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad, q.grad = Tensor(g), torch.tensor(g)
        oo = getattr(tl.optim, oname)(po, lr=1e-4)
        ot = getattr(torch.optim, oname)(pt, lr=1e-4, foreach=False)
        ot_fe = getattr(torch.optim, oname)(pt, lr=1e-4, foreach=True)
        out[f"{oname}.step, 1.2M params (torch foreach=False)"] = (oo.step, ot.step, 3)
        out[f"{oname}.step, 1.2M params (torch foreach=True)"] = (oo.step, ot_fe.step, 3)
    return out


def time_pair(fo, ft, reps, rounds):
    fo(), ft()  # warm up (caches, first-call allocations)
    to, tt = [], []
    for _ in range(rounds):
        for f, acc in ((fo, to), (ft, tt)):
            t0 = time.perf_counter()
            for _ in range(reps):
                f()
            acc.append((time.perf_counter() - t0) / reps)
    return float(np.median(to)), float(np.median(tt))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--only", nargs="*", default=None, help="run the cases whose name contains one of these words")
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tl.manual_seed(0)
    rows = []
    print(f"{'case (forward + backward)':58s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for name, (fo, ft, reps) in cases(torch).items():
        if args.only and not any(w.lower() in name.lower() for w in args.only):
            continue
        a, b = time_pair(fo, ft, reps, args.rounds)
        rows.append((name, a, b))
        print(f"{name:58s} {a * 1e3:9.2f} {b * 1e3:9.2f} {a / b:6.2f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
