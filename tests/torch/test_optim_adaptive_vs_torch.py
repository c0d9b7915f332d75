"""RMSprop, Adagrad and Adadelta against PyTorch in float64: the same parameters after 20 steps with the
same gradients, the same state, PyTorch's defaults, and state dicts that round-trip."""
import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite import optim  # noqa: E402

from test_optim_vs_torch import _run_pair  # noqa: E402

CASES = {
    "RMSprop": [dict(), dict(lr=0.05, alpha=0.9), dict(lr=0.01, momentum=0.9), dict(lr=0.01, centered=True),
                dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, eps=1e-4),
                dict(lr=0.02, maximize=True, weight_decay=0.01)],
    "Adagrad": [dict(), dict(lr=0.1, lr_decay=0.05), dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6),
                dict(lr=0.1, weight_decay=0.1, maximize=True)],
    "Adadelta": [dict(), dict(lr=0.5, rho=0.8), dict(lr=1.0, eps=1e-3, weight_decay=0.05),
                 dict(lr=0.3, maximize=True)],
}
PAIRS = [(name, kw) for name, kws in CASES.items() for kw in kws]
STATE = {"RMSprop": ["square_avg", "momentum_buffer", "grad_avg"], "Adagrad": ["sum"],
         "Adadelta": ["square_avg", "acc_delta"]}


@pytest.mark.parametrize("name,kw", PAIRS, ids=[f"{n}-{kw}" for n, kw in PAIRS])
def test_matches_torch(name, kw):
    o, t = _run_pair(lambda ps: getattr(optim, name)(ps, **kw), lambda ps: getattr(torch.optim, name)(ps, **kw))
    for p, q in zip(o.param_groups[0]["params"], t.param_groups[0]["params"]):
        assert float(o.state[p]["step"].item()) == float(t.state[q]["step"])
        for key in STATE[name]:
            assert (key in o.state[p]) == (key in t.state[q]), key
            if key in t.state[q]:
                np.testing.assert_allclose(o.state[p][key].numpy(), t.state[q][key].numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(CASES))
def test_defaults_match_torch(name):
    ours = getattr(optim, name)([tl.Tensor(np.zeros(2), requires_grad=True)]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    for k, v in ours.items():
        assert theirs[k] == v, (k, v, theirs[k])
    sig = inspect.signature(getattr(optim, name).__init__)
    assert "lr" in sig.parameters


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_continues_identically(name):
    kw = CASES[name][-1]
    rng = np.random.default_rng(3)
    a = [tl.Tensor(rng.standard_normal((3, 2)), requires_grad=True)]
    b = [tl.Tensor(a[0].detach().numpy().copy(), requires_grad=True)]
    oa, ob = getattr(optim, name)(a, **kw), getattr(optim, name)(b, **kw)
    grads = [rng.standard_normal((3, 2)) for _ in range(6)]
    for g in grads[:3]:
        a[0].grad = tl.Tensor(g)
        oa.step()
        b[0].grad = tl.Tensor(g)
        ob.step()
    fresh = [tl.Tensor(b[0].detach().numpy().copy(), requires_grad=True)]
    oc = getattr(optim, name)(fresh, **kw)
    oc.load_state_dict(ob.state_dict())
    for g in grads[3:]:
        a[0].grad = tl.Tensor(g)
        oa.step()
        fresh[0].grad = tl.Tensor(g)
        oc.step()
    np.testing.assert_array_equal(a[0].detach().numpy(), fresh[0].detach().numpy())


def test_errors():
    p = [tl.Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match="RMSprop: invalid lr value"):
        optim.RMSprop(p, lr=-1)
    with pytest.raises(ValueError, match="Adadelta: invalid rho value"):
        optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="Adagrad: invalid lr_decay value"):
        optim.Adagrad(p, lr_decay=-0.1)
