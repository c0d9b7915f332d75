"""The checkers must not pass by accident: each case below is a real bug that gradcheck or
gradgradcheck has to catch (as PyTorch's do), next to the correct version that passes."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import GradcheckError, gradcheck, gradgradcheck
from tinygrad_lite.autograd import Function


def x64(*shape, seed=0):
    return tl.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=tl.float64, requires_grad=True)


class Square(Function):
    """x**2 with a correct, recorded backward."""
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class SquareDetachedBackward(Square):
    """Right first derivative, but the backward cuts its result from the graph: the second derivative
    that create_graph=True hands back is unrecorded (wrong)."""
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (2 * x * g).detach()


class SquareWrongSecondDerivative(Square):
    """Right values of the first derivative, a wrong second derivative: 2*x computed as
    x**2 / x + x through a path whose derivative in x is wrong (uses x.detach() in one term)."""
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (x + x.detach()) * g                     # value 2x g, but d/dx of it is 1*g, not 2*g


class MulIgnoresSecondInput(Function):
    """x * y whose backward forgets y's gradient."""
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, None


def test_gradcheck_fails_for_a_detached_output():
    with pytest.raises(GradcheckError, match="no output requires grad"):
        gradcheck(lambda t: (t * 2).detach(), (x64(3),))


def test_gradcheck_fails_for_an_output_made_under_no_grad():
    def f(t):
        with tl.no_grad():
            return t * 2
    with pytest.raises(GradcheckError):
        gradcheck(f, (x64(3),))


def test_gradcheck_fails_when_one_of_several_outputs_is_detached():
    with pytest.raises(GradcheckError, match="output 1"):
        gradcheck(lambda t: (t * 2, (t * 3).detach()), (x64(3),))


def test_gradcheck_fails_for_a_rule_that_ignores_one_input():
    x, y = x64(2, 3, seed=1), x64(2, 3, seed=2)
    assert gradcheck(lambda a, b: a * b, (x, y))
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(MulIgnoresSecondInput.apply, (x, y))
    assert gradcheck(MulIgnoresSecondInput.apply, (x, y), raise_exception=False) is False


def test_gradgradcheck_passes_a_correct_recorded_backward():
    assert gradcheck(Square.apply, (x64(4),))
    assert gradgradcheck(Square.apply, (x64(4),))


def test_gradgradcheck_fails_for_an_unrecorded_first_gradient():
    assert gradcheck(SquareDetachedBackward.apply, (x64(4),))          # first order is right
    with pytest.raises(GradcheckError):
        gradgradcheck(SquareDetachedBackward.apply, (x64(4),))
    assert gradgradcheck(SquareDetachedBackward.apply, (x64(4),), raise_exception=False) is False


def test_gradgradcheck_fails_for_a_wrong_second_derivative():
    assert gradcheck(SquareWrongSecondDerivative.apply, (x64(4),))      # first order is right
    with pytest.raises(GradcheckError, match="mismatch"):
        gradgradcheck(SquareWrongSecondDerivative.apply, (x64(4),))


def test_gradcheck_fails_for_a_wrong_builtin_like_rule(monkeypatch):
    """A registry row with a wrong rule (sin-like: exp's rule replaced by 2*g) is caught."""
    from tinygrad_lite.ops import REGISTRY
    op = REGISTRY["exp"]
    assert gradcheck(lambda t: t.exp(), (x64(3),))
    wrong = (lambda g, *rest: g * 2,) + tuple(op.vjps[1:])
    monkeypatch.setattr(op, "vjps", wrong)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: t.exp(), (x64(3),))


def test_gradcheck_without_a_float_output_is_an_error():
    with pytest.raises(GradcheckError, match="no floating-point"):
        gradcheck(lambda t: t.argmax(), (x64(3),))
