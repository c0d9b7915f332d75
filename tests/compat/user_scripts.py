"""What users' own scripts do beyond the tutorials, written as a user would: a VAE step (reparameterisation,
KL term), a GAN step (two optimizers, .detach()), a char-LSTM step with clip_grad_norm_, a regression with
register_buffer, model.apply init, parameter groups and OneCycleLR, and the ops such scripts reach for
(F.pad, prod, norm, torch.linalg, diag, outer, log1p, unique, bincount, interpolate). Weights and noise come
from numpy so that PyTorch and tinygrad_lite start equal. Prints numbers one per line, and `shape ...` / `text ...`
lines (torch.Size, tensors) that must read the same; tests/test_compat_scripts.py runs it under both and compares."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
rs = np.random.RandomState(0)


def show(x):
    print(repr(float(x.detach()) if isinstance(x, torch.Tensor) else float(x)))


def randn(*shape):
    return torch.tensor(rs.standard_normal(shape))


def set_weights(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rs.standard_normal(tuple(p.shape)) * 0.3))


# --- ops with gradients: each term's gradient is checked through the sum
a = randn(4, 5).requires_grad_()
z = randn(3, 4)
z[1, 2] = 0.0
z[2, 0] = z[2, 3] = 0.0
z.requires_grad_()
terms = [F.pad(a, (1, 2, 0, 1), value=0.5).pow(2).sum(), F.pad(a[None], (2, 1), mode="reflect").sum(),
         F.pad(a[None, None], (1, 1, 2, 2), mode="replicate").pow(2).sum(), F.pad(a[None], (1, 3), "circular").sum(),
         z.prod(), z.prod(1).sum(), torch.prod(a, 0, keepdim=True).sum(), a.norm(), a.norm(dim=1).sum(),
         a.norm(p=1), torch.norm(a, float("inf"), dim=0).sum(), torch.linalg.norm(a), torch.linalg.vector_norm(a, 3),
         torch.linalg.norm(a, 1), torch.linalg.matrix_norm(a), torch.diag(a[:4, :4]).sum(), torch.diag(a[0], 1).pow(2).sum(),
         torch.trace(a[:, :4]), a.diagonal(offset=1).sum(), torch.outer(a[0], a[1]).pow(2).sum(),
         a.abs().log1p().sum(), torch.expm1(a * 1e-3).sum(), F.interpolate(a[None, None], scale_factor=2).pow(2).sum()]
for t in terms:
    show(t)
total = sum(terms)
total.backward()
show(a.grad.pow(2).sum())
for v in z.grad.flatten().tolist():
    show(v)
idx = torch.tensor([[0, 2], [1, 1], [4, 3], [2, 0]])
u, inv, cnt = torch.unique(idx, return_inverse=True, return_counts=True)
for v in u.tolist() + inv.flatten().tolist() + cnt.tolist() + idx[:, 0].bincount(minlength=6).tolist():
    show(v)
print("shape", a.shape, a.size(), a.T.shape, z.prod(1).shape, F.pad(a, (1, 1)).shape)
print("shape", torch.Size([2, 3]), a.shape == (4, 5), a.shape[1:], a.shape.numel())
for row in ([torch.tensor([0.75, -1.25]), torch.tensor([[1.0, 2.0], [30.0, 4.0]]), u, torch.tensor([1e-5, 1.0])],
            [torch.tensor([3.5], dtype=torch.float32), torch.tensor([True, False]), torch.arange(6.0).reshape(2, 3) / 8]):
    print("text", " ".join(str(t).replace("\n", "") for t in row))


# --- a VAE step: reparameterisation with numpy noise, KL term, model.apply init
class VAE(nn.Module):
    def __init__(self, d=6, h=8, k=2):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU())
        self.mu, self.logvar = nn.Linear(h, k), nn.Linear(h, k)
        self.dec = nn.Sequential(nn.Linear(k, h), nn.Tanh(), nn.Linear(h, d), nn.Sigmoid())

    def forward(self, x, eps):
        hid = self.enc(x)
        mu, logvar = self.mu(hid), self.logvar(hid)
        zz = mu + eps * torch.exp(0.5 * logvar)
        return self.dec(zz), mu, logvar


def init_bias(m):
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.bias, 0.01)


vae = VAE()
set_weights(vae)
vae.apply(init_bias)
opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
x = torch.tensor(rs.uniform(0, 1, (5, 6)))
for _ in range(3):
    recon, mu, logvar = vae(x, torch.from_numpy(rs.standard_normal((5, 2))))
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    loss = F.binary_cross_entropy(recon, x, reduction="sum") + kld
    opt.zero_grad()
    loss.backward()
    opt.step()
    show(loss)

# --- a policy-gradient step with torch.distributions (fixed actions and returns, so no sampling)
from torch.distributions import Categorical, Normal, kl_divergence  # noqa: E402

policy = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
set_weights(policy)
popt = torch.optim.RAdam(policy.parameters(), lr=1e-2)
obs, actions = randn(6, 4), torch.from_numpy(rs.randint(0, 3, 6))
returns = randn(6)
for _ in range(3):
    dist = Categorical(logits=policy(obs))
    ploss = -(dist.log_prob(actions) * returns).mean() - 0.01 * dist.entropy().mean()
    popt.zero_grad()
    ploss.backward()
    popt.step()
    show(ploss)
q, prior = Normal(randn(3), torch.exp(randn(3) * 0.1)), torch.distributions.Normal(torch.zeros(3), torch.ones(3))
show(kl_divergence(q, prior).sum())
show(q.log_prob(torch.zeros(3)).sum())

# --- a GAN step: two optimizers, the fake batch detached for the discriminator
G = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 2))
D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1), nn.Sigmoid())
set_weights(G)
set_weights(D)
optG = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
optD = torch.optim.SGD(D.parameters(), lr=0.05, momentum=0.9)
crit = nn.BCELoss()
for _ in range(3):
    real, noise = randn(6, 2) + 2.0, randn(6, 2)
    D.zero_grad()
    label = torch.full((6,), 1.0)
    err_real = crit(D(real).view(-1), label)
    err_real.backward()
    fake = G(noise)
    label.fill_(0.0)
    err_fake = crit(D(fake.detach()).view(-1), label)
    err_fake.backward()
    optD.step()
    G.zero_grad()
    label.fill_(1.0)
    err_g = crit(D(fake).view(-1), label)
    err_g.backward()
    optG.step()
    show(err_real + err_fake)
    show(err_g)


# --- a char-LSTM step with gradient clipping
class CharRNN(nn.Module):
    def __init__(self, vocab=7, hidden=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, 4)
        self.lstm = nn.LSTM(4, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


rnn = CharRNN()
set_weights(rnn)
opt = torch.optim.RMSprop(rnn.parameters(), lr=1e-2)
ids = torch.from_numpy(rs.randint(0, 7, (3, 6)))
for _ in range(2):
    logits, (h, c) = rnn(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    show(torch.nn.utils.clip_grad_norm_(rnn.parameters(), 0.5))
    opt.step()
    show(loss)
print("shape", logits.shape, h.shape, c.shape)


# --- a regression: register_buffer, parameter groups, OneCycleLR, inference_mode, in-place updates
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(1, 8), nn.Linear(8, 1)])
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, inp):
        return self.layers[1](torch.tanh(self.layers[0](inp))) * self.scale


net = Net()
set_weights(net)
decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
rest = [p for n, p in net.named_parameters() if not n.endswith("weight")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-2)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=6)
xs = torch.linspace(-2, 2, 16).unsqueeze(1)
ys = torch.sin(xs)
for _ in range(6):
    loss = F.mse_loss(net(xs), ys)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    show(loss)
    show(opt.param_groups[0]["lr"])
    show(opt.param_groups[1]["betas"][0])
with torch.inference_mode():
    show(net(xs).sum())
with torch.no_grad():
    net.layers[0].weight.mul_(0.5).add_(0.1)
show(net(xs).sum())
print("shape", [tuple(b.shape) for _, b in net.named_buffers()], net.scale.shape)
