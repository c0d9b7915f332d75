"""optim.LBFGS against torch.optim.LBFGS: the same losses, iterations and evaluations, with and without the
strong-Wolfe line search, on a small tanh regression (float64) and on Rosenbrock's function."""
import numpy as np
import pytest
import torch

import tinygrad_lite as tl

_RNG = np.random.default_rng(0)
_X = _RNG.standard_normal((50, 4))
_Y = np.sin(_X @ _RNG.standard_normal(4))
_W = (_RNG.standard_normal((4, 8)) * 0.5, _RNG.standard_normal((8, 1)) * 0.5)


def _fit(lib, steps=5, dtype=np.float64, **kw):
    w1, w2 = (lib.tensor(w.astype(dtype), requires_grad=True) for w in _W)
    x, y = lib.tensor(_X.astype(dtype)), lib.tensor(_Y.astype(dtype))
    opt = lib.optim.LBFGS([w1, w2], **kw)

    def closure():
        opt.zero_grad()
        loss = (((x @ w1).tanh() @ w2).squeeze(-1) - y).pow(2).mean()
        loss.backward()
        return loss
    losses = [opt.step(closure).item() for _ in range(steps)]
    state = opt.state[w1]
    return losses, w1.detach().numpy().copy(), (state["func_evals"], state["n_iter"])


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("kw", [{}, dict(history_size=3, max_iter=7, lr=0.5), dict(max_iter=4, max_eval=3)])
def test_lbfgs_follows_torch(line_search_fn, kw):
    ours, theirs = _fit(tl, line_search_fn=line_search_fn, **kw), _fit(torch, line_search_fn=line_search_fn, **kw)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-7)  # the loss before each step
    np.testing.assert_allclose(ours[1], theirs[1], atol=1e-5)  # (100 iterations amplify summation-order rounding)
    assert ours[2] == theirs[2]  # function evaluations and iterations
    assert ours[0][-1] < ours[0][0] / 10


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_rosenbrock_like_torch(line_search_fn):
    def run(lib):
        p = lib.tensor(np.array([-1.5, 2.0]), requires_grad=True)
        opt = lib.optim.LBFGS([p], line_search_fn=line_search_fn, max_iter=100)

        def closure():
            opt.zero_grad()
            loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
            loss.backward()
            return loss
        for _ in range(5):
            opt.step(closure)
        return p.detach().numpy(), opt.state[p]["func_evals"]
    (ours, evals), (theirs, their_evals) = run(tl), run(torch)
    np.testing.assert_allclose(ours, [1.0, 1.0], atol=2e-5)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert evals == their_evals


def test_lbfgs_float32_and_errors():
    losses, w, _ = _fit(tl, steps=3, dtype=np.float32, line_search_fn="strong_wolfe")
    assert w.dtype == np.float32 and losses[-1] < losses[0]
    p = tl.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        tl.optim.LBFGS([{"params": [p]}, {"params": [tl.tensor([2.0], requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe', got 'armijo'"):
        tl.optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="LBFGS.step needs a closure"):
        tl.optim.LBFGS([p]).step(None)
