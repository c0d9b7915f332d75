"""nn.functional without PyTorch: erf accuracy, gradchecks (also second order), numerical stability,
fully masked attention rows, dropout seeding, error messages, and the cross-entropy fast path."""
import math

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.ops import REGISTRY
from tinygrad_lite.ops.special import erf_np


def t64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def rnd(*shape, seed=0, scale=1.0):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape) * scale, dtype=np.float64)


# ---------------------------------------------------------------------- erf
def test_erf_matches_math_erf_to_double_precision():
    x = np.concatenate([np.linspace(-30, 30, 60001), np.geomspace(1e-300, 6, 3000), -np.geomspace(1e-300, 6, 3000),
                        [0.0, -0.0, 0.5, -0.5, 4.0, -4.0, 26.6, np.inf, -np.inf]])
    ref = np.array([math.erf(v) for v in x])
    got = erf_np(x)
    assert np.max(np.abs(got - ref)) <= 4.5e-16
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)) <= 1e-15
    assert np.isnan(erf_np(np.array([np.nan]))[0])
    assert erf_np(np.float32([0.3])).dtype == np.float32


def test_erf_is_a_registered_primitive_with_the_right_vjp():
    assert "erf" in REGISTRY and "gelu" in REGISTRY and "cross_entropy_idx" in REGISTRY
    x = t64(np.linspace(-3, 3, 7))
    y = F.erf(x)
    assert y.grad_fn == "erf"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 / math.sqrt(math.pi) * np.exp(-np.linspace(-3, 3, 7) ** 2), rtol=1e-14)


@pytest.mark.parametrize("fn", [F.erf, F.gelu, lambda t: F.gelu(t, approximate="tanh"), F.logsigmoid, F.silu,
                                lambda t: F.softplus(t, beta=2.0)])
def test_elementwise_gradcheck_and_gradgradcheck(fn):
    x = t64(rnd(6, scale=2))
    assert tl.gradcheck(fn, (x,))
    assert tl.gradgradcheck(fn, (x,))


def test_gelu_values_against_math_erf():
    x = np.linspace(-6, 6, 101)
    # Phi(v) = erfc(-v/sqrt 2)/2: accurate for v < 0 too, where 1 + erf(v/sqrt 2) cancels
    ref = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(F.gelu(t64(x, False)).numpy(), ref, rtol=1e-14, atol=1e-300)


# ---------------------------------------------------------------------- cross entropy
def _ce_reference(x, t, w=None, ignore=-100, eps=0.0, reduction="mean"):
    x = x - x.max(1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    C = x.shape[1]
    w = np.ones(C) if w is None else w
    keep = t != ignore
    ts = np.where(keep, t, 0)
    nll = -logp[np.arange(len(t)), ts] * w[ts] * keep
    smooth = -(logp * w).sum(1) * keep
    if reduction == "none":
        return (1 - eps) * nll + eps / C * smooth
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / C * smooth.sum()
    d = (w[ts] * keep).sum()
    return (1 - eps) * nll.sum() / d + eps / C * smooth.sum() / d


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"), dict(ignore=2),
                                dict(eps=0.2), dict(w=True, eps=0.1, ignore=0), dict(w=True, reduction="none")])
def test_cross_entropy_against_numpy_reference_and_gradcheck(kw):
    x = rnd(5, 4, scale=2)
    t = np.array([0, 2, 3, 2, 1])
    w = np.array([0.5, 1.0, 2.0, 1.5]) if kw.pop("w", False) else None
    ignore, eps, red = kw.get("ignore", -100), kw.get("eps", 0.0), kw.get("reduction", "mean")

    def f(a):
        return F.cross_entropy(a, Tensor(t), weight=None if w is None else Tensor(w), ignore_index=ignore,
                               reduction=red, label_smoothing=eps)
    np.testing.assert_allclose(f(t64(x, False)).numpy(), _ce_reference(x, t, w, ignore, eps, red), rtol=1e-13)
    assert tl.gradcheck(f, (t64(x),))
    assert tl.gradgradcheck(f, (t64(x),))  # the fused op's vjp also runs on Tensors (create_graph)


def test_cross_entropy_nd_targets_gradcheck():
    x, t = t64(rnd(2, 3, 2, 2)), Tensor(np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]]))
    assert tl.gradcheck(lambda a: F.cross_entropy(a, t, reduction="none"), (x,))
    assert tl.gradcheck(lambda a: F.cross_entropy(a, t, label_smoothing=0.3), (x,))
    assert F.cross_entropy(x, t, reduction="none").shape == (2, 2, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_huge_logits_is_finite_and_exact(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [0.0, 1.0, 2.0]], dtype=dtype)
    t = np.array([1, 1, 2])
    a = Tensor(x, requires_grad=True)
    loss = F.cross_entropy(a, Tensor(t))
    loss.backward()
    # row 0: logit of the target is 2e4 below the max -> loss 2e4; rows 1, 2 as usual
    r2 = math.log(math.exp(-2) + math.exp(-1) + 1)
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.item(), (2e4 + 0.0 + r2) / 3, rtol=1e-6)
    g = a.grad.numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[0], [1 / 3, -1 / 3, 0], atol=1e-7)
    np.testing.assert_allclose(g[1], [0, 0, 0], atol=1e-7)


def test_cross_entropy_errors_name_shapes_and_values():
    x = Tensor(rnd(4, 3))
    with pytest.raises(IndexError, match=r"cross_entropy: target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, Tensor(np.array([0, 1, 3, 0])))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\) for input of shape \(4, 3\)"):
        F.cross_entropy(x, Tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, Tensor(np.array([0, 1, 2, 0])), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, Tensor(np.array([0, 1, 2, 0])), weight=Tensor(np.ones(4)))


def test_cross_entropy_hot_path_is_one_node():
    """Integer targets take the fused row: one node whose only input is the logits (its speed against
    PyTorch and hand-written numpy is measured in bench/, not here: this machine's speed drifts)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 10)).astype(np.float32)
    t = Tensor(rng.integers(0, 10, 128))
    a = Tensor(x, requires_grad=True)
    loss = F.cross_entropy(a, t)
    assert loss.grad_fn == "cross_entropy_idx" and loss._inputs == (a,)


# ---------------------------------------------------------------------- other losses and helpers
def test_nll_loss_and_bce_gradcheck():
    t = Tensor(np.array([1, 0, 2]))
    assert tl.gradcheck(lambda a: F.nll_loss(a, t, ignore_index=0), (t64(rnd(3, 4)),))
    y = Tensor(np.random.default_rng(1).uniform(0, 1, (3, 4)))
    assert tl.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y, pos_weight=Tensor(np.arange(1.0, 5.0))),
                        (t64(rnd(3, 4, scale=3)),))


def test_bce_with_logits_is_stable_for_huge_logits():
    x = t64(np.array([1e4, -1e4, 800.0, -800.0]))
    y = Tensor(np.array([1.0, 0.0, 0.0, 1.0]))
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [0, 0, 800, 800], atol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 1, -1], atol=1e-12)


def test_normalize_and_cosine_similarity_zero_vectors_have_finite_gradients():
    x = rnd(3, 4)
    x[1] = 0
    a = t64(x)
    F.normalize(a, dim=1).sum().backward()
    assert np.all(np.isfinite(a.grad.numpy())) and np.all(a.grad.numpy()[1] == 1e12)
    b, c = t64(x), t64(rnd(3, 4, seed=2))
    F.cosine_similarity(b, c).sum().backward()
    assert np.all(np.isfinite(b.grad.numpy())) and np.all(np.isfinite(c.grad.numpy()))
    assert tl.gradcheck(lambda u, v: F.cosine_similarity(u, v, dim=0), (t64(rnd(3, 2)), t64(rnd(3, 2, seed=5))))


def test_one_hot_and_errors():
    out = F.one_hot(Tensor(np.array([2, 0])), 4)
    assert out.dtype == np.int64 and out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    assert F.one_hot(Tensor(np.array([[1], [3]]))).shape == (2, 1, 4)
    with pytest.raises(ValueError, match="one_hot"):
        F.one_hot(Tensor(np.array([5])), 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(Tensor(np.array([1.0])))


def test_linear_error_names_the_expected_dimension():
    w = Tensor(rnd(3, 64))
    with pytest.raises(ValueError, match=r"linear: expected input with last dimension 64 \(in_features\), "
                                         r"got shape \(8, 32\)"):
        F.linear(Tensor(rnd(8, 32)), w)


def test_embedding_errors_and_padding_gradient():
    w = t64(rnd(5, 2))
    with pytest.raises(IndexError, match="out of range for 5 rows"):
        F.embedding(Tensor(np.array([0, 5])), w)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding(Tensor(np.array([0, -1])), w)  # as PyTorch: no negative indices
    with pytest.raises(TypeError, match="integer"):
        F.embedding(Tensor(np.array([0.0])), w)
    out = F.embedding(Tensor(np.array([[0, 1], [1, 4]])), w, padding_idx=1)
    np.testing.assert_array_equal(out.detach().numpy()[0, 1], w.detach().numpy()[1])  # value still looked up
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [0, 0], [0, 0], [0, 0], [1, 1]])
    w2 = t64(rnd(5, 2))
    assert tl.gradcheck(lambda ww: F.embedding(Tensor(np.array([[0, 3], [3, 3]])), ww), (w2,))
    assert tl.gradgradcheck(lambda ww: F.embedding(Tensor(np.array([0, 3, 3])), ww, padding_idx=0) ** 2, (w2,))


def test_layer_norm_gradcheck_multi_dim():
    assert tl.gradcheck(lambda a, w, b: F.layer_norm(a, (2, 3), w, b),
                        (t64(rnd(2, 2, 3)), t64(rnd(2, 3, seed=1)), t64(rnd(2, 3, seed=2))))
    with pytest.raises(ValueError, match=r"layer_norm: expected input with trailing shape \(4,\)"):
        F.layer_norm(Tensor(rnd(2, 3)), 4)


# ---------------------------------------------------------------------- dropout
def test_dropout_is_seeded_by_manual_seed_and_identity_in_eval():
    x = Tensor(np.ones((50, 50)))
    tl.manual_seed(123)
    a = F.dropout(x, 0.5).numpy()
    tl.manual_seed(123)
    b = F.dropout(x, 0.5).numpy()
    c = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    assert set(np.unique(a)) == {0.0, 2.0}
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


# ---------------------------------------------------------------------- attention
def _naive_attention(q, k, v, allowed, scale):
    s = q @ np.swapaxes(k, -1, -2) * scale
    s = np.where(allowed, s, -np.inf)
    m = np.max(s, -1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    den = e.sum(-1, keepdims=True)
    p = np.divide(e, den, out=np.zeros_like(e), where=den > 0)
    return p @ v


def test_sdpa_fully_masked_rows_are_zero_and_gradients_finite():
    q, k, v = t64(rnd(2, 3, 4)), t64(rnd(2, 5, 4, seed=1)), t64(rnd(2, 5, 3, seed=2))
    mask = np.ones((2, 3, 5), bool)
    mask[0, 1] = False       # query 1 of batch 0 sees nothing
    mask[1, :, 2:] = False
    with np.errstate(all="raise"):  # no NaN/inf arithmetic anywhere
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=Tensor(mask))
        np.testing.assert_array_equal(out.detach().numpy()[0, 1], 0.0)
        ref = _naive_attention(q.detach().numpy(), k.detach().numpy(), v.detach().numpy(), mask, 0.5)
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12, atol=1e-14)
        out.sum().backward()
    for t in (q, k, v):
        assert np.all(np.isfinite(t.grad.numpy()))
    np.testing.assert_array_equal(q.grad.numpy()[0, 1], 0.0)
    qq, kk, vv = t64(rnd(2, 3, 4)), t64(rnd(2, 5, 4, seed=1)), t64(rnd(2, 5, 3, seed=2))
    assert tl.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=Tensor(mask)), (qq, kk, vv))


def test_sdpa_float_mask_with_a_fully_neg_inf_row():
    q, k, v = t64(rnd(1, 2, 4)), t64(rnd(1, 3, 4, seed=1)), t64(rnd(1, 3, 2, seed=2))
    fm = np.zeros((2, 3))
    fm[0] = -np.inf
    fm[1, 1] = -np.inf
    fm[1, 0] = 0.5
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=Tensor(fm))
    out.sum().backward()
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], 0.0)
    assert all(np.all(np.isfinite(t.grad.numpy())) for t in (q, k, v))
    s = q.detach().numpy()[0, 1] @ k.detach().numpy()[0].T / 2 + fm[1]
    p = np.exp(s - s[np.isfinite(s)].max())
    np.testing.assert_allclose(out.detach().numpy()[0, 1], p / p.sum() @ v.detach().numpy()[0], rtol=1e-12)


def test_sdpa_causal_gradcheck_and_argument_errors():
    q, k, v = t64(rnd(1, 3, 2)), t64(rnd(1, 3, 2, seed=1)), t64(rnd(1, 3, 2, seed=2))
    assert tl.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out.detach().numpy()[0, 0], v.detach().numpy()[0, 0], rtol=1e-14)
    with pytest.raises(ValueError, match="same last dim"):
        F.scaled_dot_product_attention(q, Tensor(rnd(1, 3, 5)), v)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=Tensor(np.ones((3, 3), bool)), is_causal=True)
