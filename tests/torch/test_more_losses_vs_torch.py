"""The losses of nn/more_losses.py against PyTorch's in float64: values and gradients for every input that
takes one, each reduction, the module forms, and the shape errors."""
import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F

_RNG = np.random.default_rng(0)
_X, _X2 = _RNG.standard_normal((6, 5)), _RNG.standard_normal((6, 5))
_SIGNS = np.where(_RNG.random((6, 5)) < 0.5, -1.0, 1.0)
_ROW_SIGNS = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
_LABELS = (_RNG.random((6, 5)) < 0.4).astype(np.float64)
_CLASSES = np.array([0, 4, 2, 2, 1, 3])
_COUNTS = _RNG.poisson(2.0, (6, 5)).astype(np.float64)
_VAR = _RNG.uniform(0.1, 2.0, (6, 5))
_VAR[0, 0] = 1e-9  # below eps: clamped, the gradient still reaches it
_W5 = _RNG.uniform(0.5, 2.0, 5)
# class lists ended by -1: an empty one, a full one, a repeated class (counted twice, as PyTorch), one past the -1
_MULTI_TARGETS = np.array([[3, 0, -1, 1, 1], [-1, 2, 2, 2, 2], [0, 1, 2, 3, 4], [4, 4, -1, 0, 0], [1, -1, 3, 3, 3],
                           [2, 0, 4, -1, 1]])

# name -> (arrays, which take gradients, call(lib, *tensors, reduction))
CASES = {
    "soft_margin": ([_X, _SIGNS], [0], lambda m, x, y, r: m.nn.functional.soft_margin_loss(x, y, reduction=r)),
    "hinge_embedding": ([_X, _SIGNS], [0], lambda m, x, y, r: m.nn.functional.hinge_embedding_loss(x, y, 0.7, reduction=r)),
    "cosine_embedding": ([_X, _X2, _ROW_SIGNS], [0, 1],
                         lambda m, a, b, y, r: m.nn.functional.cosine_embedding_loss(a, b, y, 0.2, reduction=r)),
    "multi_margin_p1": ([_X, _CLASSES], [0], lambda m, x, y, r: m.nn.functional.multi_margin_loss(x, y, reduction=r)),
    "multi_margin_p2_weight": ([_X, _CLASSES, _W5], [0], lambda m, x, y, w, r: m.nn.functional.multi_margin_loss(
        x, y, p=2, margin=0.5, weight=w, reduction=r)),
    "multilabel_margin": ([_X, _MULTI_TARGETS], [0], lambda m, x, y, r: m.nn.functional.multilabel_margin_loss(
        x, y.long() if hasattr(y, "long") else y, reduction=r)),
    "multilabel_soft_margin": ([_X, _LABELS, _W5], [0], lambda m, x, y, w, r: m.nn.functional.multilabel_soft_margin_loss(
        x, y, weight=w, reduction=r)),
    "poisson_log": ([_X, _COUNTS], [0], lambda m, x, y, r: m.nn.functional.poisson_nll_loss(x, y, full=True, reduction=r)),
    "poisson_rate": ([np.abs(_X) + 0.1, _COUNTS], [0], lambda m, x, y, r: m.nn.functional.poisson_nll_loss(
        x, y, log_input=False, reduction=r)),
    "gaussian": ([_X, _X2, _VAR], [0, 1, 2], lambda m, x, y, v, r: m.nn.functional.gaussian_nll_loss(
        x, y, v, full=True, reduction=r)),
    "gaussian_shared_var": ([_X, _X2, _VAR[:, :1]], [0, 1, 2], lambda m, x, y, v, r: m.nn.functional.gaussian_nll_loss(
        x, y, v, reduction=r)),
    "gaussian_var_without_last_dim": ([_X, _X2, _VAR[:, 0]], [0, 2], lambda m, x, y, v, r:
                                      m.nn.functional.gaussian_nll_loss(x, y, v, reduction=r)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_matches_torch(name, reduction):
    arrays, grads, call = CASES[name]
    ours = [tl.tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    y, ty = call(tl, *ours, reduction), call(torch, *theirs, reduction)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    w = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * tl.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    for i in grads:
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-11, atol=1e-14,
                                   err_msg=f"{name}: gradient of input {i}")


def test_module_forms_match_torch():
    x, y = tl.tensor(_X, requires_grad=True), torch.tensor(_X, requires_grad=True)
    pairs = [(tl.nn.SoftMarginLoss(), torch.nn.SoftMarginLoss(), (_SIGNS,)),
             (tl.nn.HingeEmbeddingLoss(0.5, reduction="sum"), torch.nn.HingeEmbeddingLoss(0.5, reduction="sum"), (_SIGNS,)),
             (tl.nn.MultiMarginLoss(p=2), torch.nn.MultiMarginLoss(p=2), (_CLASSES,)),
             (tl.nn.MultiLabelSoftMarginLoss(), torch.nn.MultiLabelSoftMarginLoss(), (_LABELS,)),
             (tl.nn.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss(), (_MULTI_TARGETS,)),
             (tl.nn.PoissonNLLLoss(full=True), torch.nn.PoissonNLLLoss(full=True), (_COUNTS,)),
             (tl.nn.GaussianNLLLoss(eps=1e-3), torch.nn.GaussianNLLLoss(eps=1e-3), (_X2, _VAR)),
             (tl.nn.CosineEmbeddingLoss(0.1), torch.nn.CosineEmbeddingLoss(0.1), (_X2, _ROW_SIGNS))]
    for ours, theirs, rest in pairs:
        if isinstance(ours, tl.nn.CosineEmbeddingLoss):
            a, b = ours(x, tl.tensor(rest[0]), tl.tensor(rest[1])), theirs(y, torch.tensor(rest[0]), torch.tensor(rest[1]))
        else:
            a, b = ours(x, *map(tl.tensor, rest)), theirs(y, *map(torch.tensor, rest))
        np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12, err_msg=type(ours).__name__)
        assert repr(ours) == repr(theirs)


def test_unbatched_multi_margin_and_errors():
    x = tl.tensor(_X[0], requires_grad=True)
    np.testing.assert_allclose(F.multi_margin_loss(x, tl.tensor(3)).item(),
                               torch.nn.functional.multi_margin_loss(torch.tensor(_X[0]), torch.tensor(3)).item(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"soft_margin_loss: input of shape \(6, 5\) and target of shape \(5,\) must have"):
        F.soft_margin_loss(tl.tensor(_X), tl.tensor(_X[0]))
    with pytest.raises(ValueError, match="multilabel_margin_loss: target class 7 is out of range for 5 classes"):
        F.multilabel_margin_loss(tl.tensor(_X), tl.tensor(np.full((6, 5), 7)))
    with pytest.raises(ValueError, match="multi_margin_loss: only p == 1 and p == 2"):
        F.multi_margin_loss(tl.tensor(_X), tl.tensor(_CLASSES), p=3)
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var of shape \(6, 2\) does not fit input of shape \(6, 5\)"):
        F.gaussian_nll_loss(tl.tensor(_X), tl.tensor(_X2), tl.tensor(_VAR[:, :2]))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entry"):
        F.gaussian_nll_loss(tl.tensor(_X), tl.tensor(_X2), tl.tensor(-_VAR))
