"""nn.functional, the layers and Module naming against PyTorch in float64: forward values and gradients."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import tinygrad_lite as tl  # noqa: E402
import tinygrad_lite.nn as nn  # noqa: E402
import tinygrad_lite.nn.functional as F  # noqa: E402
from tinygrad_lite import Tensor  # noqa: E402

ATOL = 1e-10


def pair(arr, requires_grad=True):
    """The same float64 values as a tinygrad_lite tensor and a torch tensor."""
    arr = np.asarray(arr, dtype=np.float64)
    return Tensor(arr, requires_grad=requires_grad), torch.tensor(arr, requires_grad=requires_grad)


def rnd(*shape, seed=0, scale=1.0):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale, dtype=np.float64)


def close(ours, theirs, atol=ATOL, rtol=1e-9):
    a = ours.detach().numpy() if isinstance(ours, Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol)


def check(fn_ours, fn_torch, *arrays, seed=1, atol=ATOL):
    """Forward equal and gradients (of sum(out * random weights)) equal for every float input."""
    ours = [pair(a) if np.asarray(a).dtype.kind == "f" else (Tensor(a), torch.tensor(a)) for a in arrays]
    out_a = fn_ours(*[o[0] for o in ours])
    out_b = fn_torch(*[o[1] for o in ours])
    close(out_a, out_b, atol)
    w = rnd(*out_b.shape, seed=seed)
    (out_a * Tensor(w, dtype=np.float64)).sum().backward()
    (out_b * torch.tensor(w)).sum().backward()
    for a, b in ours:
        if b.requires_grad:
            close(a.grad, b.grad, atol)


# ---------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "logsigmoid", "silu"])
def test_activations(name):
    x = rnd(3, 7, scale=4)
    check(getattr(F, name), getattr(TF, name), x)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    x = np.concatenate([rnd(50, scale=3), [0.0, -10.0, 10.0, 0.5, -0.5, 40.0, -40.0]])
    check(lambda t: F.gelu(t, approximate=approximate), lambda t: TF.gelu(t, approximate=approximate), x)


def test_gelu_module_and_erf_vs_torch():
    x = np.linspace(-8, 8, 1001)
    check(F.erf, torch.erf, x, atol=1e-15)
    check(nn.GELU(), torch.nn.GELU(), x.reshape(7, 143))
    check(nn.GELU("tanh"), torch.nn.GELU("tanh"), x.reshape(7, 143))


def test_logsigmoid_extreme_values():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    check(F.logsigmoid, TF.logsigmoid, x)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(dim):
    x = rnd(4, 5, 3, scale=3)
    check(lambda t: F.softmax(t, dim), lambda t: TF.softmax(t, dim), x)
    check(lambda t: F.log_softmax(t, dim), lambda t: TF.log_softmax(t, dim), x)
    check(lambda t: F.logsumexp(t, dim), lambda t: torch.logsumexp(t, dim), x)


def test_softmax_default_dim_is_pytorchs_legacy_choice():
    x = rnd(2, 3, 4)
    close(F.softmax(Tensor(x), None), torch.softmax(torch.tensor(x), 0))
    close(F.softmax(Tensor(rnd(2, 3)), None), torch.softmax(torch.tensor(rnd(2, 3)), 1))


# ---------------------------------------------------------------------- linear / embedding / norms
def test_linear_functional():
    x, w, b = rnd(2, 3, 5), rnd(4, 5, seed=2), rnd(4, seed=3)
    check(F.linear, TF.linear, x, w, b)
    check(lambda a, c: F.linear(a, c), lambda a, c: TF.linear(a, c), x, w)
    check(F.linear, TF.linear, rnd(5), w, b)  # 1-D input


def test_embedding_functional_with_padding():
    idx = np.array([[0, 2, 2], [1, 0, 3]])
    w = rnd(4, 3)
    check(lambda i, ww: F.embedding(i, ww, padding_idx=2), lambda i, ww: TF.embedding(i, ww, padding_idx=2), idx, w)
    check(lambda i, ww: F.embedding(i, ww), lambda i, ww: TF.embedding(i, ww), idx, w)


@pytest.mark.parametrize("shape,norm", [((3, 4, 6), (6,)), ((2, 3, 4), (3, 4)), ((5, 6), 6)])
def test_layer_norm_functional(shape, norm):
    nshape = (norm,) if isinstance(norm, int) else norm
    x, w, b = rnd(*shape, scale=2) + 1, rnd(*nshape, seed=4), rnd(*nshape, seed=5)
    check(lambda a, ww, bb: F.layer_norm(a, norm, ww, bb, 1e-5),
          lambda a, ww, bb: TF.layer_norm(a, nshape, ww, bb, 1e-5), x, w, b)
    check(lambda a: F.layer_norm(a, norm), lambda a: TF.layer_norm(a, nshape), x)
    check(lambda a, ww: F.layer_norm(a, norm, ww), lambda a, ww: TF.layer_norm(a, nshape, ww), x, w)


@pytest.mark.parametrize("p,dim", [(2, 1), (2, -1), (1, 0), (3, 1)])
def test_normalize(p, dim):
    x = rnd(3, 4)
    x[1] = 0.0 if dim in (1, -1) else x[1]
    check(lambda t: F.normalize(t, p=p, dim=dim), lambda t: TF.normalize(t, p=p, dim=dim), x)


def test_cosine_similarity_with_broadcast_and_zero_vector():
    a, b = rnd(4, 5), rnd(1, 5, seed=3)
    check(lambda u, v: F.cosine_similarity(u, v, dim=1), lambda u, v: TF.cosine_similarity(u, v, dim=1), a, b)
    a[2] = 0.0
    check(lambda u, v: F.cosine_similarity(u, v), lambda u, v: TF.cosine_similarity(u, v), a, rnd(4, 5, seed=9))
    check(lambda u, v: F.cosine_similarity(u, v, dim=0), lambda u, v: TF.cosine_similarity(u, v, dim=0),
          rnd(3, 2), rnd(3, 2, seed=7))


def test_one_hot():
    t = np.array([[0, 3], [2, 1]])
    ours = F.one_hot(Tensor(t))
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), TF.one_hot(torch.tensor(t)).numpy())
    np.testing.assert_array_equal(F.one_hot(Tensor(t), 6).numpy(), TF.one_hot(torch.tensor(t), 6).numpy())


# ---------------------------------------------------------------------- losses
CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=1),
    dict(ignore_index=1, reduction="none"),
    dict(label_smoothing=0.2),
    dict(label_smoothing=0.3, reduction="sum"),
    dict(label_smoothing=0.1, reduction="none"),
    dict(weight=True),
    dict(weight=True, reduction="sum"),
    dict(weight=True, ignore_index=0),
    dict(weight=True, label_smoothing=0.25),
    dict(weight=True, label_smoothing=0.25, ignore_index=2, reduction="none"),
    dict(weight=True, label_smoothing=0.25, ignore_index=2),
]


@pytest.mark.parametrize("kw", CE_CASES, ids=[str(c) for c in CE_CASES])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 4, 3, 2)])
def test_cross_entropy_index_targets(kw, shape):
    kw = dict(kw)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 2
    t = rng.integers(0, shape[1], size=(shape[0],) + shape[2:])
    t.flat[0] = 1  # so that ignore_index=1 really ignores something
    w = rng.uniform(0.5, 2.0, shape[1])
    ow = Tensor(w) if kw.get("weight") else None
    tw = torch.tensor(w) if kw.pop("weight", None) else None
    check(lambda a, tt: F.cross_entropy(a, tt, weight=ow, **kw), lambda a, tt: TF.cross_entropy(a, tt, weight=tw, **kw),
          x, t)


def test_cross_entropy_unbatched_and_module():
    x = rnd(5)
    check(lambda a, tt: F.cross_entropy(a, tt), lambda a, tt: TF.cross_entropy(a, tt), x, np.array(3))
    check(nn.CrossEntropyLoss(label_smoothing=0.1), torch.nn.CrossEntropyLoss(label_smoothing=0.1), rnd(4, 3),
          np.array([0, 2, 1, 1]))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4), (2, 3, 2, 2), (3,)])
def test_cross_entropy_probability_targets(shape):
    # N-d inputs (N, C, d1, ...): the mean is over N*d1*..., as PyTorch (a bug once divided by N only)
    x = np.random.default_rng(0).standard_normal(shape)
    cdim = 0 if len(shape) == 1 else 1
    p = np.moveaxis(np.random.default_rng(1).dirichlet(np.ones(shape[cdim]), shape[:cdim] + shape[cdim + 1:]), -1, cdim)
    w = np.array([0.5, 2.0, 1.0])
    for kw in (dict(), dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.2)):
        check(lambda a, tt: F.cross_entropy(a, tt, **kw), lambda a, tt: TF.cross_entropy(a, tt, **kw), x, p)
    check(lambda a, tt: F.cross_entropy(a, tt, weight=Tensor(w)),
          lambda a, tt: TF.cross_entropy(a, tt, weight=torch.tensor(w)), x, p)


@pytest.mark.parametrize("scale", [1e4, 1e8])
def test_cross_entropy_huge_logits_finite_and_right(scale):
    x = np.array([[1.0, -1.0, 0.5], [-1.0, 1.0, 0.0], [0.3, 0.2, -1.0]]) * scale
    t = np.array([1, 1, 0])
    a, b = pair(x)
    la, lb = F.cross_entropy(a, Tensor(t)), TF.cross_entropy(b, torch.tensor(t))
    la.backward()
    lb.backward()
    assert np.isfinite(la.item()) and np.all(np.isfinite(a.grad.numpy()))
    close(la, lb, atol=1e-6)
    close(a.grad, b.grad)


def test_cross_entropy_empty_batch_like_torch():
    x, t = np.zeros((0, 3)), np.zeros(0, np.int64)
    for red in ("mean", "sum", "none"):
        ours = F.cross_entropy(Tensor(x), Tensor(t), reduction=red).numpy()
        theirs = TF.cross_entropy(torch.tensor(x), torch.tensor(t), reduction=red).numpy()
        np.testing.assert_array_equal(ours, theirs)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x, t = rnd(2, 3), np.array([-100, -100])
    assert math.isnan(F.cross_entropy(Tensor(x), Tensor(t)).item())
    assert math.isnan(TF.cross_entropy(torch.tensor(x), torch.tensor(t)).item())
    close(F.cross_entropy(Tensor(x), Tensor(t), reduction="sum"), TF.cross_entropy(torch.tensor(x), torch.tensor(t),
                                                                                    reduction="sum"))


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"), dict(ignore_index=2),
                                dict(weight=True), dict(weight=True, ignore_index=0)])
def test_nll_loss(kw):
    kw = dict(kw)
    x = rnd(5, 4, 2)
    t = np.array([[0, 2], [1, 3], [2, 2], [0, 1], [3, 0]])
    w = np.array([0.5, 1.0, 2.0, 1.5])
    ow = Tensor(w) if kw.get("weight") else None
    tw = torch.tensor(w) if kw.pop("weight", None) else None
    check(lambda a, tt: F.nll_loss(F.log_softmax(a, 1), tt, weight=ow, **kw),
          lambda a, tt: TF.nll_loss(TF.log_softmax(a, 1), tt, weight=tw, **kw), x, t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    a, b = rnd(3, 4), rnd(3, 4, seed=2)
    check(lambda u, v: F.mse_loss(u, v, reduction=reduction), lambda u, v: TF.mse_loss(u, v, reduction=reduction), a, b)
    check(lambda u, v: F.l1_loss(u, v, reduction=reduction), lambda u, v: TF.l1_loss(u, v, reduction=reduction), a, b)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    x = np.concatenate([rnd(3, 4, scale=5), [[1e4, -1e4, 50.0, -50.0]]])
    y = np.random.default_rng(3).uniform(0, 1, x.shape)
    w, pw = np.random.default_rng(4).uniform(0.5, 2, (4,)), np.array([1.0, 2.0, 0.5, 3.0])
    check(lambda u, v: F.binary_cross_entropy_with_logits(u, v, reduction=reduction),
          lambda u, v: TF.binary_cross_entropy_with_logits(u, v, reduction=reduction), x, y)
    check(lambda u, v: F.binary_cross_entropy_with_logits(u, v, Tensor(w), reduction=reduction,
                                                          pos_weight=Tensor(pw)),
          lambda u, v: TF.binary_cross_entropy_with_logits(u, v, torch.tensor(w), reduction=reduction,
                                                           pos_weight=torch.tensor(pw)), x, y)


def test_binary_cross_entropy():
    p = np.random.default_rng(0).uniform(0.05, 0.95, (3, 4))
    y = np.random.default_rng(1).uniform(0, 1, (3, 4))
    check(F.binary_cross_entropy, TF.binary_cross_entropy, p, y)


def test_dropout_statistics_and_scaling():
    tl.manual_seed(0)
    x = Tensor(np.ones((200, 200)), requires_grad=True)
    y = F.dropout(x, 0.3)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7)


# ---------------------------------------------------------------------- attention
def _sdpa_pair(mask_ours=None, mask_torch=None, **kw):
    return (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask_ours, **kw),
            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=mask_torch, **kw))


def test_sdpa_plain_causal_scale():
    q, k, v = rnd(2, 3, 4, 5), rnd(2, 3, 6, 5, seed=2), rnd(2, 3, 6, 7, seed=3)
    check(*_sdpa_pair(), q, k, v)
    check(*_sdpa_pair(scale=0.3), q, k, v)
    qs = rnd(2, 3, 6, 5, seed=5)
    check(*_sdpa_pair(is_causal=True), qs, k, v)


def test_sdpa_bool_and_float_masks():
    q, k, v = rnd(2, 4, 5), rnd(2, 6, 5, seed=2), rnd(2, 6, 3, seed=3)
    m = np.random.default_rng(0).uniform(size=(4, 6)) > 0.4
    m[:, 0] = True  # every row keeps a key (torch's values for fully masked rows differ by version)
    check(*_sdpa_pair(Tensor(m), torch.tensor(m)), q, k, v)
    fm = rnd(2, 1, 6, seed=8)
    check(*_sdpa_pair(Tensor(fm), torch.tensor(fm)), q, k, v)
    fm[0, 0, 3] = -np.inf
    check(*_sdpa_pair(Tensor(fm), torch.tensor(fm)), q, k, v)


def test_sdpa_is_composed_from_engine_ops():
    q = Tensor(rnd(1, 3, 4), requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    names, stack, seen = set(), [out], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t._op is None:
            continue
        seen.add(id(t))
        names.add(t._op.name)
        stack.extend(t._inputs)
    assert {"matmul", "softmax", "where"} <= names


def _mha_pair(E=8, H=2, bias=True, seed=0):
    tl.manual_seed(seed)
    ours = nn.MultiheadAttention(E, H, bias=bias, batch_first=True).double()
    theirs = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True).double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("case", ["self", "cross", "kpm", "causal_mask", "float_mask", "both", "per_head",
                                  "no_avg", "no_bias", "unbatched", "float_kpm", "seq_first"])
def test_multihead_attention_matches_torch(case):
    ours, theirs = _mha_pair(bias=case != "no_bias")
    if case == "seq_first":
        ours.batch_first = theirs.batch_first = False
    N, L, S, E, H = 2, 4, 5, 8, 2
    q = rnd(N, L, E)
    kv = rnd(N, S, E, seed=2) if case != "self" else q
    val = rnd(N, S, E, seed=3) if case != "self" else q
    kw_o, kw_t = {}, {}
    kpm = np.zeros((N, S), bool)
    kpm[0, 3:] = True
    kpm[1, 4] = True  # every query keeps a key under the causal mask too (torch gives NaN rows otherwise)
    causal = ~np.tri(L, S, 0, dtype=bool)
    if case in ("kpm", "both"):
        kw_o["key_padding_mask"], kw_t["key_padding_mask"] = Tensor(kpm), torch.tensor(kpm)
    if case in ("causal_mask", "both"):
        kw_o["attn_mask"], kw_t["attn_mask"] = Tensor(causal), torch.tensor(causal)
    if case == "float_mask":
        fm = rnd(L, S, seed=6)
        kw_o["attn_mask"], kw_t["attn_mask"] = Tensor(fm), torch.tensor(fm)
    if case == "per_head":
        pm = np.random.default_rng(0).uniform(size=(N * H, L, S)) > 0.6
        pm[..., 1] = False
        kw_o["attn_mask"], kw_t["attn_mask"] = Tensor(pm), torch.tensor(pm)
    if case == "float_kpm":
        fk = rnd(N, S, seed=12)
        fk[0, 2] = -np.inf
        kw_o["key_padding_mask"], kw_t["key_padding_mask"] = Tensor(fk), torch.tensor(fk)
    if case == "no_avg":
        kw_o["average_attn_weights"] = kw_t["average_attn_weights"] = False
    if case == "unbatched":
        q, kv, val = q[0], kv[0], val[0]
    if case == "seq_first":
        q, kv, val = (np.ascontiguousarray(a.transpose(1, 0, 2)) for a in (q, kv, val))
    qa, qb = pair(q)
    ka, kb = pair(kv) if case != "self" else (qa, qb)
    va, vb = pair(val) if case != "self" else (qa, qb)
    oa, wa = ours(qa, ka, va, **kw_o)
    ob, wb = theirs(qb, kb, vb, **kw_t)
    close(oa, ob)
    close(wa, wb)
    g = rnd(*ob.shape, seed=11)
    ((oa * Tensor(g)).sum() + (wa * wa).sum()).backward()
    ((ob * torch.tensor(g)).sum() + (wb * wb).sum()).backward()
    for (n, p), (n2, p2) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, p2.grad)
    close(qa.grad, qb.grad)
    if case != "self":
        close(ka.grad, kb.grad)
        close(va.grad, vb.grad)


def test_mha_need_weights_false_and_is_causal():
    ours, theirs = _mha_pair()
    q = rnd(2, 4, 8)
    causal = ~np.tri(4, 4, 0, dtype=bool)
    oa, wa = ours(Tensor(q), Tensor(q), Tensor(q), need_weights=False, is_causal=True)
    ob, wb = theirs(torch.tensor(q), torch.tensor(q), torch.tensor(q), need_weights=False,
                    attn_mask=torch.tensor(causal), is_causal=True)
    assert wa is None and wb is None
    close(oa, ob)


# ---------------------------------------------------------------------- layers and module naming
def _copy_to_torch(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def test_linear_layernorm_embedding_layers():
    tl.manual_seed(0)
    lin, lin_t = nn.Linear(5, 3).double(), torch.nn.Linear(5, 3).double()
    _copy_to_torch(lin, lin_t)
    check(lin, lin_t, rnd(4, 5))
    for (_, p), (_, p2) in zip(lin.named_parameters(), lin_t.named_parameters()):
        close(p.grad, p2.grad)
    ln, ln_t = nn.LayerNorm(6).double(), torch.nn.LayerNorm(6).double()
    with tl.no_grad():
        ln.weight.copy_(Tensor(rnd(6, seed=3)))
        ln.bias.copy_(Tensor(rnd(6, seed=4)))
    _copy_to_torch(ln, ln_t)
    check(ln, ln_t, rnd(2, 3, 6))
    close(ln.weight.grad, ln_t.weight.grad)
    close(ln.bias.grad, ln_t.bias.grad)
    ln2, ln2_t = nn.LayerNorm((2, 3), bias=False).double(), torch.nn.LayerNorm((2, 3), bias=False).double()
    check(ln2, ln2_t, rnd(4, 2, 3))
    close(ln2.weight.grad, ln2_t.weight.grad)
    emb, emb_t = nn.Embedding(7, 3, padding_idx=1).double(), torch.nn.Embedding(7, 3, padding_idx=1).double()
    _copy_to_torch(emb, emb_t)
    idx = np.array([[1, 2, 2], [6, 1, 0]])
    oa, ob = emb(Tensor(idx)), emb_t(torch.tensor(idx))
    close(oa, ob)
    (oa * oa).sum().backward()
    (ob * ob).sum().backward()
    close(emb.weight.grad, emb_t.weight.grad)


def test_default_init_statistics_like_torch():
    tl.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    emb = nn.Embedding(1000, 50, padding_idx=3)
    e = emb.weight.detach().numpy()
    assert abs(e.std() - 1) < 0.02 and np.all(e[3] == 0)
    mha = nn.MultiheadAttention(16, 4)
    a = math.sqrt(6 / (16 + 48))
    assert np.abs(mha.in_proj_weight.detach().numpy()).max() <= a
    assert np.all(mha.in_proj_bias.detach().numpy() == 0) and np.all(mha.out_proj.bias.detach().numpy() == 0)


class _Block(nn.Module):
    def __init__(self, E):
        super().__init__()
        self.ln = nn.LayerNorm(E)
        self.attn = nn.MultiheadAttention(E, 2)
        self.mlp = nn.Sequential(nn.Linear(E, 2 * E), nn.GELU(), nn.Linear(2 * E, E), nn.Dropout(0.0))


class _Net(nn.Module):
    def __init__(self, V=11, E=8):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.blocks = nn.ModuleList([_Block(E) for _ in range(2)])
        self.heads = nn.ModuleDict({"lm": nn.Linear(E, V, bias=False), "cls": nn.Linear(E, 3)})
        self.register_buffer("pos", tl.zeros(4, E))


class _TNet(torch.nn.Module):
    def __init__(self, V=11, E=8):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        blk = []
        for _ in range(2):
            b = torch.nn.Module()
            b.ln = torch.nn.LayerNorm(E)
            b.attn = torch.nn.MultiheadAttention(E, 2, batch_first=True)
            b.mlp = torch.nn.Sequential(torch.nn.Linear(E, 2 * E), torch.nn.GELU(), torch.nn.Linear(2 * E, E),
                                        torch.nn.Dropout(0.0))
            blk.append(b)
        self.blocks = torch.nn.ModuleList(blk)
        self.heads = torch.nn.ModuleDict({"lm": torch.nn.Linear(E, V, bias=False), "cls": torch.nn.Linear(E, 3)})
        self.register_buffer("pos", torch.zeros(4, E))


def test_named_parameters_modules_and_state_dict_keys_equal_torch():
    ours, theirs = _Net(), _TNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(v.shape) for v in ours.state_dict().values()] == [tuple(v.shape) for v in theirs.state_dict().values()]
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_repr_matches_torch():
    for ours, theirs in [(_Net(), _TNet()),
                         (nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity(),
                                        nn.Dropout(0.1), nn.GELU("tanh"), nn.Embedding(5, 2, padding_idx=0),
                                        nn.LayerNorm((2, 3), eps=1e-6)),
                          torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Tanh(),
                                              torch.nn.Sigmoid(), torch.nn.Identity(), torch.nn.Dropout(0.1),
                                              torch.nn.GELU("tanh"), torch.nn.Embedding(5, 2, padding_idx=0),
                                              torch.nn.LayerNorm((2, 3), eps=1e-6)))]:
        r = repr(theirs).replace("Module(", "_Block(", 2).replace("_TNet(", "_Net(")
        assert repr(ours) == r


def test_small_model_trains_like_torch_over_sgd_steps():
    """Same weights, same data: the loss of a small MLP matches torch's over a few plain-SGD steps."""
    tl.manual_seed(0)
    ours = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 4)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.GELU(), torch.nn.LayerNorm(16),
                                 torch.nn.Linear(16, 4)).double()
    _copy_to_torch(ours, theirs)
    x, y = rnd(32, 6), np.random.default_rng(0).integers(0, 4, 32)
    for _ in range(5):
        la = F.cross_entropy(ours(Tensor(x)), Tensor(y), label_smoothing=0.05)
        lb = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y), label_smoothing=0.05)
        assert abs(la.item() - lb.item()) <= 1e-12 * abs(lb.item())
        ours.zero_grad()
        theirs.zero_grad()
        la.backward()
        lb.backward()
        with tl.no_grad(), torch.no_grad():
            for p, q in zip(ours.parameters(), theirs.parameters()):
                p.sub_(p.grad * 0.5)
                q.sub_(q.grad * 0.5)


class _TinyLM(nn.Module):
    """Embedding -> pre-norm self-attention block (causal, key padding) -> GELU MLP -> LayerNorm -> tied head."""

    def __init__(self, V=13, E=8, H=2):
        super().__init__()
        self.emb = nn.Embedding(V, E, padding_idx=0)
        self.ln1 = nn.LayerNorm(E)
        self.attn = nn.MultiheadAttention(E, H, batch_first=True)
        self.ln2 = nn.LayerNorm(E)
        self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(), nn.Linear(4 * E, E))
        self.ln_f = nn.LayerNorm(E)
        self.head = nn.Linear(E, V, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx, pad):
        x = self.emb(idx)
        h = self.ln1(x)
        T = idx.shape[1]
        a, _ = self.attn(h, h, h, key_padding_mask=pad, attn_mask=Tensor(~np.tri(T, T, 0, dtype=bool)),
                         need_weights=False)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return self.head(self.ln_f(x))


class _TTinyLM(torch.nn.Module):
    def __init__(self, V=13, E=8, H=2):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E, padding_idx=0)
        self.ln1 = torch.nn.LayerNorm(E)
        self.attn = torch.nn.MultiheadAttention(E, H, batch_first=True)
        self.ln2 = torch.nn.LayerNorm(E)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(E, 4 * E), torch.nn.GELU(), torch.nn.Linear(4 * E, E))
        self.ln_f = torch.nn.LayerNorm(E)
        self.head = torch.nn.Linear(E, 13, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx, pad):
        x = self.emb(idx)
        h = self.ln1(x)
        T = idx.shape[1]
        a, _ = self.attn(h, h, h, key_padding_mask=pad, attn_mask=torch.tensor(~np.tri(T, T, 0, dtype=bool)),
                         need_weights=False)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return self.head(self.ln_f(x))


def test_tiny_transformer_follows_torch_over_20_adamw_steps():
    optim = pytest.importorskip("tinygrad_lite.optim")
    tl.manual_seed(0)
    ours, theirs = _TinyLM().double(), _TTinyLM().double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _copy_to_torch(ours, theirs)
    rng = np.random.default_rng(0)
    idx = rng.integers(1, 13, (3, 6))
    pad = np.zeros((3, 6), bool)
    idx[2, 4:], pad[2, 4:] = 0, True  # a padded sequence (its padded queries still see earlier keys)
    tgt = np.where(pad, -100, rng.integers(0, 13, (3, 6)))
    oo = optim.AdamW(ours.parameters(), lr=0.01, weight_decay=0.1)
    ot = torch.optim.AdamW(theirs.parameters(), lr=0.01, weight_decay=0.1)
    losses = []
    for _ in range(20):
        la = F.cross_entropy(ours(Tensor(idx), Tensor(pad)).reshape(-1, 13), Tensor(tgt.reshape(-1)))
        lb = TF.cross_entropy(theirs(torch.tensor(idx), torch.tensor(pad)).reshape(-1, 13),
                              torch.tensor(tgt.reshape(-1)))
        assert abs(la.item() - lb.item()) <= 1e-8 * abs(lb.item())
        losses.append(la.item())
        oo.zero_grad()
        ot.zero_grad()
        la.backward()
        lb.backward()
        oo.step()
        ot.step()
    assert losses[-1] < losses[0] - 0.5  # it actually trains
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-7, atol=1e-9, err_msg=n)


@pytest.mark.parametrize("value", [np.float64(0.5), np.float32(0.5), np.float16(0.5), np.int32(3), 0.5, 3])
def test_tensor_from_numpy_scalar_keeps_its_dtype_like_torch(value):
    """Core regression: Tensor(np.float64(x)) used to become float32 (the default dtype)."""
    assert str(Tensor(value).dtype) == str(torch.tensor(value).dtype).replace("torch.", "")
