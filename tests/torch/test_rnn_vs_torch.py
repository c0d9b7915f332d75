"""RNN, LSTM, GRU and their cells against PyTorch in float64: same state_dict loaded into both, outputs,
final states and the gradients of the input, the initial states and every parameter."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn as nn  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402

ATOL, RTOL = 1e-11, 1e-10


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def close(a, b, what=""):
    a = a.detach().numpy() if isinstance(a, Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.shape == b.shape, (what, a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL, err_msg=what)


def twins(cls, *args, **kw):
    """A torch module (seeded) and ours with its state_dict, both float64."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(*args, **kw).double()
    ours = getattr(nn, cls)(*args, **kw).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    ours.load_state_dict({k: Tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def flat(out):
    """(output, h) or (output, (h, c)) -> [output, h, (c)]."""
    o, h = out
    return [o] + (list(h) if isinstance(h, tuple) else [h])


def run_both(ours, theirs, x, states=None, seed=1):
    xa, xb = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    sa = sb = None
    if states is not None:
        sa = [Tensor(s, requires_grad=True) for s in states]
        sb = [torch.tensor(s, requires_grad=True) for s in states]
    lstm = isinstance(theirs, (torch.nn.LSTM, torch.nn.LSTMCell))
    pack = (lambda s: tuple(s)) if lstm else (lambda s: s[0])
    outs_a = ours(xa, None if sa is None else pack(sa))
    outs_b = theirs(xb, None if sb is None else pack(sb))
    if isinstance(theirs, torch.nn.RNNBase):
        fa, fb = flat(outs_a), flat(outs_b)
    else:
        fa, fb = (list(outs_a), list(outs_b)) if lstm else ([outs_a], [outs_b])
    loss_a, loss_b = 0, 0
    for i, (a, b) in enumerate(zip(fa, fb)):
        close(a, b, f"output {i}")
        w = rnd(*b.shape, seed=seed + i)
        loss_a = loss_a + (a * Tensor(w)).sum()
        loss_b = loss_b + (b * torch.tensor(w)).sum()
    loss_a.backward()
    loss_b.backward()
    close(xa.grad, xb.grad, "input grad")
    for i, (a, b) in enumerate(zip(sa or [], sb or [])):
        close(a.grad, b.grad, f"initial state {i} grad")
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, q.grad, n)


CONFIGS = [dict(), dict(num_layers=2), dict(bidirectional=True), dict(num_layers=2, bidirectional=True),
           dict(batch_first=True, num_layers=2), dict(bias=False)]


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", CONFIGS, ids=[str(k) for k in CONFIGS])
def test_recurrent_layers_match_torch(cls, kw):
    ours, theirs = twins(cls, 4, 5, **kw)
    x = rnd(3, 6, 4) if kw.get("batch_first") else rnd(6, 3, 4)
    run_both(ours, theirs, x)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_initial_states_get_gradients(cls):
    ours, theirs = twins(cls, 3, 4, num_layers=2, bidirectional=True)
    n_states = 2 if cls == "LSTM" else 1
    run_both(ours, theirs, rnd(5, 2, 3), states=[rnd(4, 2, 4, seed=10 + i) for i in range(n_states)])


def test_rnn_relu_and_unbatched():
    ours, theirs = twins("RNN", 3, 4, nonlinearity="relu", num_layers=2)
    run_both(ours, theirs, rnd(5, 2, 3))
    run_both(*twins("GRU", 3, 4, num_layers=2), rnd(5, 3))  # unbatched (L, H_in)
    run_both(*twins("LSTM", 3, 4), rnd(5, 3), states=[rnd(1, 4, seed=3), rnd(1, 4, seed=4)])


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(cls):
    ours, theirs = twins(cls, 3, 5)
    n_states = 2 if cls == "LSTMCell" else 1
    run_both(ours, theirs, rnd(4, 3), states=[rnd(4, 5, seed=7 + i) for i in range(n_states)])
    ours, theirs = twins(cls, 3, 5)
    run_both(ours, theirs, rnd(4, 3))


def test_dropout_between_layers_only_in_training():
    ours, theirs = twins("LSTM", 3, 4, num_layers=3, dropout=0.5)
    ours.eval()
    theirs.eval()
    run_both(ours, theirs, rnd(4, 2, 3))  # eval: no dropout, same numbers
    ours.train()
    tl.manual_seed(0)
    x = Tensor(rnd(4, 2, 3))
    a = ours(x)[0].detach().numpy()
    b = ours(x)[0].detach().numpy()
    assert not np.allclose(a, b)  # training: fresh masks between layers
    one = nn.LSTM(3, 4, num_layers=1, dropout=0.5)  # a single layer: nothing between layers to drop
    np.testing.assert_array_equal(one(x)[0].detach().numpy(), one(x)[0].detach().numpy())


def test_init_and_repr_match_torch():
    tl.manual_seed(0)
    m = nn.LSTM(10, 16, num_layers=2, bidirectional=True, batch_first=True, dropout=0.25)
    t = torch.nn.LSTM(10, 16, num_layers=2, bidirectional=True, batch_first=True, dropout=0.25)
    assert repr(m) == repr(t)
    assert repr(nn.RNN(3, 4, nonlinearity="relu", bias=False)) == repr(torch.nn.RNN(3, 4, nonlinearity="relu",
                                                                                   bias=False))
    assert repr(nn.GRUCell(3, 4)) == repr(torch.nn.GRUCell(3, 4))
    assert sorted(m.state_dict()) == sorted(t.state_dict())
    bound = 1 / 4.0
    for p in m.parameters():
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound  # U(-1/sqrt(H), 1/sqrt(H))


def test_errors():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape \(L, N, 3\)"):
        m(Tensor(rnd(5, 2, 4)))
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 2, 4\)"):
        m(Tensor(rnd(5, 2, 3)), (Tensor(rnd(1, 2, 4)), Tensor(rnd(2, 2, 4))))
    with pytest.raises(ValueError, match="hx must be a tuple"):
        m(Tensor(rnd(5, 2, 3)), Tensor(rnd(2, 2, 4)))
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
