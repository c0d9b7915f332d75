"""nn.Module, Parameter, containers, layers and init without PyTorch: registration, traversal, modes,
state dicts (round trip and strict errors), dtype conversion, weight tying, repr, init schemes."""
import math

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.nn import init


class MLP(nn.Module):
    def __init__(self, d_in=4, d_hidden=8, d_out=3):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_out)
        self.drop = nn.Dropout(0.5)
        self.register_buffer("scale", tl.ones(d_out))
        self.register_buffer("tmp", tl.zeros(1), persistent=False)
        self.not_registered = Tensor(np.ones(2))

    def forward(self, x):
        return self.drop(self.fc2(self.norm(self.act(self.fc1(x))))) * self.scale


# ---------------------------------------------------------------------- Parameter
def test_parameter_is_a_leaf_that_works_in_every_op():
    p = nn.Parameter(Tensor(np.array([1.0, 2.0, 3.0])))
    assert isinstance(p, nn.Parameter) and isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert not isinstance(Tensor(np.ones(2)), nn.Parameter) and not isinstance(3, nn.Parameter)
    assert not isinstance(p * 1, nn.Parameter) and not isinstance(p.detach(), nn.Parameter)
    q = nn.Parameter(np.eye(3), requires_grad=True)
    x = Tensor(np.ones((2, 3)))
    out = (p * p).sum() + (x @ q).sum() + (p + 1).sum() + (1 - p).sum() + (q @ p).sum()
    out.backward()
    np.testing.assert_allclose(p.grad.numpy(), 2 * np.array([1.0, 2.0, 3.0]) + 1 - 1 + 1)
    np.testing.assert_allclose(q.grad.numpy(), np.full((3, 3), 2.0) + np.tile([1.0, 2.0, 3.0], (3, 1)))
    frozen = nn.Parameter(Tensor(np.ones(2)), requires_grad=False)
    assert isinstance(frozen, nn.Parameter) and not frozen.requires_grad


def test_parameter_shares_storage_with_its_data():
    t = Tensor(np.zeros(3))
    p = nn.Parameter(t)
    with tl.no_grad():
        p.add_(1.0)
    assert t.tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------------- registration and traversal
def test_registration_order_names_and_buffers():
    m = MLP()
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc1.bias", "norm.weight", "norm.bias",
                                                    "fc2.weight", "fc2.bias"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "norm", "fc2", "drop"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "norm", "fc2", "drop"]
    assert [n for n, _ in m.named_buffers()] == ["scale", "tmp"]
    assert list(m.state_dict()) == ["scale", "fc1.weight", "fc1.bias", "norm.weight", "norm.bias",
                                    "fc2.weight", "fc2.bias"]
    assert len(list(m.parameters(recurse=False))) == 0
    assert m.num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3
    m.fc1.weight.requires_grad_(False)
    assert m.num_parameters(only_trainable=True) == m.num_parameters() - 32
    assert m.get_submodule("fc2") is m.fc2 and m.get_parameter("fc2.bias") is m.fc2.bias
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope


def test_reassigning_and_deleting_attributes():
    m = MLP()
    m.fc1 = nn.Linear(4, 8, bias=False)
    assert [n for n, _ in m.named_parameters()][:2] == ["fc1.weight", "norm.weight"]
    m.act = None
    assert "act" not in [n for n, _ in m.named_children()]
    del m.norm
    assert "norm.weight" not in dict(m.named_parameters())
    with pytest.raises(TypeError, match="cannot assign a int as parameter 'weight'"):
        m.fc2.weight = 3
    m.fc2.bias = None
    assert "fc2.bias" not in m.state_dict()


def test_nested_containers_give_dotted_names():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.ModuleDict({"c_attn": nn.Linear(4, 12), "c_proj": nn.Linear(4, 4)})

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block() for _ in range(2)])
            self.head = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))

    names = [n for n, _ in Model().named_parameters()]
    assert names[:2] == ["blocks.0.attn.c_attn.weight", "blocks.0.attn.c_attn.bias"]
    assert "blocks.1.attn.c_proj.bias" in names and names[-2:] == ["head.2.weight", "head.2.bias"]


def test_sequential_modulelist_moduledict_behaviour():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[1], nn.ReLU) and isinstance(s[-1], nn.Linear)
    assert isinstance(s[:2], nn.Sequential) and len(s[:2]) == 2
    assert [type(m).__name__ for m in s] == ["Linear", "ReLU", "Linear"]
    s.append(nn.Tanh())
    assert len(s) == 4 and s(Tensor(np.ones((5, 2)))).shape == (5, 1)
    with pytest.raises(IndexError, match="out of range"):
        s[7]
    ml = nn.ModuleList([nn.Linear(2, 2)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh(), nn.Sigmoid()])
    ml.insert(1, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Linear", "Identity", "ReLU", "Tanh", "Sigmoid"]
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2", "3", "4"]
    assert len(ml[1:3]) == 2 and isinstance(ml[-1], nn.Sigmoid)
    md = nn.ModuleDict({"a": nn.Linear(2, 2)})
    md["b"] = nn.Linear(2, 3)
    assert list(md) == ["a", "b"] and "b" in md and len(md) == 2
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    seq = nn.Sequential(__import__("collections").OrderedDict([("first", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in seq.named_parameters()] == ["first.weight", "first.bias"]


def test_train_eval_propagate_and_dropout_is_identity_in_eval():
    m = MLP()
    assert m.training and m.drop.training
    m.eval()
    assert not m.training and not m.drop.training and not m.fc1.training
    x = Tensor(np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))
    np.testing.assert_array_equal(m(x).detach().numpy(), m(x).detach().numpy())
    m.train()
    tl.manual_seed(0)
    a = m(x).detach().numpy()
    tl.manual_seed(0)
    b = m(x).detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert (a == 0).any()


def test_zero_grad_and_apply():
    m = MLP().double()
    F.mse_loss(m(Tensor(np.ones((2, 4)))), Tensor(np.zeros((2, 3)))).backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "GELU", "LayerNorm", "Linear", "Dropout", "MLP"]

    def reinit(mod):
        if isinstance(mod, nn.Linear):
            init.zeros_(mod.weight)
    m.apply(reinit)
    assert np.all(m.fc1.weight.detach().numpy() == 0)


def test_to_dtype_converts_in_place_keeping_parameter_objects():
    m = MLP()
    params = list(m.parameters())
    assert all(p.dtype == np.float32 for p in params)
    assert m.double() is m
    assert all(a is b for a, b in zip(params, m.parameters()))
    assert all(p.dtype == np.float64 for p in m.parameters()) and m.scale.dtype == np.float64
    assert all(isinstance(p, nn.Parameter) for p in m.parameters())
    m.to(tl.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
    m.to("cpu")
    m.to("float64")
    assert m.fc1.weight.dtype == np.float64
    out = m(Tensor(np.ones((2, 4))))
    assert out.dtype == np.float64


# ---------------------------------------------------------------------- state dicts
def test_state_dict_round_trip_and_values_are_tensors_sharing_storage():
    tl.manual_seed(0)
    a = MLP()
    tl.manual_seed(1)
    b = MLP()
    sd = a.state_dict()
    assert all(isinstance(v, Tensor) and not v.requires_grad for v in sd.values())
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (n, p), (n2, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    x = Tensor(np.ones((3, 4), np.float32))
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    with tl.no_grad():
        a.fc1.weight.add_(1.0)
    np.testing.assert_array_equal(sd["fc1.weight"].numpy(), a.fc1.weight.detach().numpy())  # shared storage
    # loading keeps b's Parameter objects (optimizers hold them)
    w = b.fc1.weight
    b.load_state_dict({k: v.numpy() * 2 for k, v in a.state_dict().items()})
    assert b.fc1.weight is w
    np.testing.assert_allclose(w.detach().numpy(), a.fc1.weight.detach().numpy() * 2)


def test_load_state_dict_strict_errors_name_keys_and_shapes():
    m = MLP()
    sd = m.state_dict()
    bad = dict(sd)
    del bad["fc1.bias"]
    bad["extra.weight"] = Tensor(np.ones(2))
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "fc1.bias"' in msg and 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    res = m.load_state_dict(bad, strict=False)
    assert res == (["fc1.bias"], ["extra.weight"]) and res.missing_keys == ["fc1.bias"]
    wrong = dict(sd)
    wrong["fc2.weight"] = Tensor(np.ones((4, 8)))
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for fc2.weight: copying a param with shape \(4, 8\) "
                                               r"from checkpoint, the shape in current model is \(3, 8\)"):
            m.load_state_dict(wrong, strict=strict)
    with pytest.raises(TypeError, match=r"load_state_dict: expected a mapping of names to tensors .* got list"):
        m.load_state_dict(list(sd.values()))  # (not a misleading "missing keys" error)


# ---------------------------------------------------------------------- weight tying
def test_weight_tying_accumulates_both_gradients_and_is_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight = self.emb.weight

    m = Tied().double()
    assert [n for n, _ in m.named_parameters()] == ["emb.weight"]
    assert len(list(m.parameters())) == 1 and m.num_parameters() == 15
    assert list(m.state_dict()) == ["emb.weight", "head.weight"]  # as PyTorch: both names saved
    idx = Tensor(np.array([0, 2, 2]))
    h = m.emb(idx)
    loss = (m.head(h) ** 2).sum()
    loss.backward()
    w = m.emb.weight.detach().numpy()
    hn = w[[0, 2, 2]]
    g_out = 2 * hn @ w.T
    expected = g_out.T @ hn                      # through the head
    np.add.at(expected, [0, 2, 2], g_out @ w)    # through the lookup
    np.testing.assert_allclose(m.emb.weight.grad.numpy(), expected, rtol=1e-12)


def test_deepcopy_gives_independent_parameters():
    import copy
    m = MLP()
    c = copy.deepcopy(m)
    assert all(isinstance(p, nn.Parameter) for p in c.parameters())
    assert all(p is not q for p, q in zip(m.parameters(), c.parameters()))
    with tl.no_grad():
        c.fc1.weight.add_(1.0)
    assert not np.array_equal(c.fc1.weight.detach().numpy(), m.fc1.weight.detach().numpy())
    c.fc1 = nn.Linear(4, 8)  # still a registered child
    assert "fc1.weight" in dict(c.named_parameters())


# ---------------------------------------------------------------------- layers
def test_linear_error_message_and_shapes():
    lin = nn.Linear(64, 10)
    with pytest.raises(ValueError, match=r"Linear: expected input with last dimension 64 \(in_features\), "
                                         r"got shape \(8, 32\)"):
        lin(Tensor(np.ones((8, 32), np.float32)))
    assert lin(Tensor(np.ones((2, 3, 64), np.float32))).shape == (2, 3, 10)
    assert nn.Linear(4, 2, bias=False).bias is None


def test_embedding_padding_row_zero_and_no_gradient_and_sparse():
    tl.manual_seed(0)
    e = nn.Embedding(6, 3, padding_idx=2)
    assert np.all(e.weight.detach().numpy()[2] == 0)
    out = e(Tensor(np.array([[2, 1], [2, 2]])))
    (out * 3).sum().backward()
    g = e.weight.grad.numpy()
    assert np.all(g[2] == 0) and np.all(g[1] == 3) and np.all(g[[0, 3, 4, 5]] == 0)
    s = nn.Embedding(6, 3, padding_idx=2, sparse=True)
    with tl.no_grad():
        s.weight.copy_(e.weight)
    (s(Tensor(np.array([[2, 1], [2, 2]]))) * 3).sum().backward()
    from tinygrad_lite.sparse import is_sparse
    assert is_sparse(s.weight.grad)
    np.testing.assert_array_equal(s.weight.grad.to_dense().numpy() if hasattr(s.weight.grad.to_dense(), "numpy")
                                  else s.weight.grad.to_dense(), g)
    assert repr(s) == "Embedding(6, 3, padding_idx=2, sparse=True)"


def test_layernorm_normalises_and_mha_shapes_and_masks():
    ln = nn.LayerNorm(6).double()
    y = ln(Tensor(np.random.default_rng(0).standard_normal((4, 6)) * 5 + 3)).detach().numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-4)
    mha = nn.MultiheadAttention(8, 2).double()
    x = Tensor(np.random.default_rng(1).standard_normal((2, 5, 8)))
    out, w = mha(x, x, x, is_causal=True)
    assert out.shape == (2, 5, 8) and w.shape == (2, 5, 5)
    np.testing.assert_allclose(np.triu(w.detach().numpy()[0], 1), 0)
    kpm = np.zeros((2, 5), bool)
    kpm[1] = True  # batch 1 sees no key at all: zeros, not NaN
    out, w = mha(x, x, x, key_padding_mask=Tensor(kpm), average_attn_weights=False)
    assert w.shape == (2, 2, 5, 5) and np.all(np.isfinite(out.detach().numpy()))
    assert np.all(w.detach().numpy()[1] == 0)
    out.sum().backward()
    assert all(np.all(np.isfinite(p.grad.numpy())) for p in mha.parameters())
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(8, 3)


def test_dropout_module_seeded():
    d = nn.Dropout(0.25)
    x = Tensor(np.ones(1000))
    tl.manual_seed(5)
    a = d(x).numpy()
    tl.manual_seed(5)
    np.testing.assert_array_equal(a, d(x).numpy())
    assert 0.2 < (a == 0).mean() < 0.3
    assert d.eval()(x) is x


def test_repr_of_module_tree():
    m = MLP()
    assert repr(m) == (
        "MLP(\n"
        "  (fc1): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (act): GELU(approximate='none')\n"
        "  (norm): LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)\n"
        "  (fc2): Linear(in_features=8, out_features=3, bias=True)\n"
        "  (drop): Dropout(p=0.5, inplace=False)\n"
        ")")
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == \
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)"
    assert repr(nn.Sequential()) == "Sequential()"


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda mod, inp, out: calls.append(out.shape))
    lin(Tensor(np.ones((3, 2), np.float32)))
    h.remove()
    lin(Tensor(np.ones((3, 2), np.float32)))
    assert calls == [(3, 2)]


def test_missing_forward_and_super_init_errors():
    class NoForward(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="forward"):
        NoForward()(1)

    class NoInit(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()


# ---------------------------------------------------------------------- init
def test_init_schemes_bounds_statistics_and_seeding():
    w = nn.Parameter(Tensor(np.zeros((300, 200))))
    tl.manual_seed(0)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    a = w.detach().numpy().copy()
    tl.manual_seed(0)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    np.testing.assert_array_equal(a, w.detach().numpy())
    assert np.abs(a).max() <= 1 / math.sqrt(200)
    init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.detach().numpy().std() - math.sqrt(2 / 200)) < 0.01 * math.sqrt(2 / 200) * 5
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.detach().numpy().std() - math.sqrt(2 / 300)) < 0.05 * math.sqrt(2 / 300)
    init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w.detach().numpy()).max() <= 2 * math.sqrt(6 / 500)
    init.xavier_normal_(w)
    assert abs(w.detach().numpy().std() - math.sqrt(2 / 500)) < 0.05 * math.sqrt(2 / 500)
    init.trunc_normal_(w, std=0.02, a=-0.03, b=0.03)
    v = w.detach().numpy()
    assert v.min() >= -0.03 and v.max() <= 0.03 and abs(v.std() - 0.0154) < 0.001  # std of the truncated law
    init.uniform_(w, -0.5, 0.25)
    assert w.detach().numpy().min() >= -0.5 and w.detach().numpy().max() <= 0.25
    init.normal_(w, 1.0, 0.1)
    assert abs(w.detach().numpy().mean() - 1.0) < 0.01
    init.constant_(w, 0.3)
    assert np.all(w.detach().numpy() == 0.3)
    init.ones_(w)
    init.zeros_(w)
    assert np.all(w.detach().numpy() == 0) and w.requires_grad and w.grad is None
    assert calculate_gain_table() == [1, 5 / 3, math.sqrt(2), math.sqrt(2 / (1 + 0.01 ** 2)), math.sqrt(2 / 1.04), 0.75]
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(Tensor(np.zeros(3)))


def calculate_gain_table():
    return [init.calculate_gain("sigmoid"), init.calculate_gain("tanh"), init.calculate_gain("relu"),
            init.calculate_gain("leaky_relu"), init.calculate_gain("leaky_relu", 0.2), init.calculate_gain("selu")]
