"""The idioms of PyTorch's beginner tutorials (tensors, autograd, nn, optim, data, save/load), written as a
user would, with weights from numpy so that PyTorch and tinygrad_lite start equal. Prints one number per
line; tests/test_compat_scripts.py runs it under both and compares the lines."""
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

torch.set_default_dtype(torch.float64)
rs = np.random.RandomState(0)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
out = []


def show(x):
    out.append(float(x.detach()) if isinstance(x, torch.Tensor) else float(x))


# --- tensors: creation, indexing, joining, arithmetic, in-place ops, numpy bridge
data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
x_np = torch.from_numpy(np.array(data))
x_ones = torch.ones_like(x_data)
x_rand = torch.rand_like(x_data, dtype=torch.float)
shape = (2, 3,)
t = torch.tensor(rs.standard_normal((4, 4)), device=device)
t[:, 1] = 0
show(t[0].sum()); show(t[:, 0].sum()); show(t[..., -1].sum())
t1 = torch.cat([t, t, t], dim=1)
y1 = t @ t.T
y2 = t.matmul(t.T)
y3 = torch.rand_like(y1)
z1 = t * t
agg = t.sum()
show(agg.item()); show(t1.sum()); show((y1 - y2).abs().max()); show(z1.mean())
t.add_(5)
show(t.sum())
n = t.numpy()
t.add_(1)
show(n.sum())
show(x_np.sum() + x_ones.sum() + x_data.float().mean())

# --- autograd: polynomial fit of sin with manual updates
xs = torch.linspace(-math.pi, math.pi, 200, device=device)
ys = torch.sin(xs)
a, b, c, d = (torch.tensor(v, requires_grad=True) for v in rs.standard_normal(4))
lr = 1e-6
for it in range(30):
    y_pred = a + b * xs + c * xs ** 2 + d * xs ** 3
    loss = (y_pred - ys).pow(2).sum()
    loss.backward()
    with torch.no_grad():
        a -= lr * a.grad
        b -= lr * b.grad
        c -= lr * c.grad
        d -= lr * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None
show(loss.item()); show(d.item())


# --- a custom autograd Function
class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


w = torch.tensor(0.3, requires_grad=True)
P3 = LegendrePolynomial3.apply
loss = (P3(w * xs) - ys).pow(2).sum()
loss.backward()
show(loss.item()); show(w.grad.item())

# --- nn + optim: a polynomial model in nn.Sequential, MSELoss(reduction='sum')
p = torch.tensor([1, 2, 3])
xx = xs.unsqueeze(-1).pow(p)
model = nn.Sequential(nn.Linear(3, 1))
with torch.no_grad():
    model[0].weight.copy_(torch.tensor(rs.standard_normal((1, 3)) * 0.1))
    model[0].bias.fill_(0.0)
loss_fn = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for it in range(20):
    y_pred = model(xx).view(-1)
    loss = loss_fn(y_pred, ys)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
linear_layer = model[0]
show(loss.item()); show(linear_layer.bias.item()); show(linear_layer.weight[:, 0].item())

# --- Dataset / DataLoader training loop with accuracy, train/eval, save/load of the state dict
X = torch.tensor(rs.standard_normal((64, 8)))
Y = torch.tensor(rs.randint(0, 3, 64))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear_relu_stack = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        logits = self.linear_relu_stack(x.view(x.size(0), -1))
        return logits


net = Net().to(device)
with torch.no_grad():
    for name, prm in sorted(net.named_parameters()):
        prm.copy_(torch.tensor(rs.standard_normal(tuple(prm.shape)) * 0.3))
loader = DataLoader(TensorDataset(X, Y), batch_size=16)
opt = torch.optim.SGD(net.parameters(), lr=1e-1, momentum=0.9)
for epoch in range(2):
    net.train()
    size = len(loader.dataset)
    for batch, (xb, yb) in enumerate(loader):
        xb, yb = xb.to(device), yb.to(device)
        pred = net(xb)
        loss = F.cross_entropy(pred, yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        show(loss.item())
    net.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in loader:
            pred = net(xb)
            correct += (pred.argmax(1) == yb).type(torch.float).sum().item()
    show(correct / size)
path = os.path.join(tempfile.mkdtemp(), "model.pth")
torch.save(net.state_dict(), path)
net2 = Net()
net2.load_state_dict(torch.load(path, weights_only=True))
net2.eval()
show(F.softmax(net2(X[:2]), dim=1)[1, 2])

# --- misc tensor surface: sort/topk/cumsum/einsum/gather/where/clamp/stack/chunks
m = torch.tensor(rs.standard_normal((3, 5)))
v, i = torch.sort(m, dim=1, descending=True)
show(v.sum()); show(i.sum())
show(torch.topk(m, 2).values.sum()); show(m.cumsum(1)[:, -1].sum()); show(torch.einsum("ij,kj->ik", m, m).sum())
show(torch.where(m > 0, m, torch.zeros_like(m)).sum()); show(m.clamp(-0.5, 0.5).sum())
show(torch.stack(m.chunk(3, dim=0)).sum()); show(m.gather(1, torch.tensor([[0], [1], [2]])).sum())
show(m.argmax().item()); show(m.max(dim=1).values.sum()); show(m.std()); show(m.flip(0)[0, 0]); show(m.roll(1, 1)[0, 0])
print("\n".join(repr(v) for v in out))
