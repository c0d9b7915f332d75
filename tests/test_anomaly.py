"""detect_anomaly: the first op whose gradient turns non-finite is named, with where the user's code made it."""
import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor
from tinygrad_lite.autograd import detect_anomaly, is_anomaly_enabled, set_detect_anomaly


def _model(x):
    h = x * 2.0
    r = h.sqrt()  # the culprit: d sqrt(h)/dh = 1/(2 sqrt(h)) is inf at h = 0
    return (r * 3.0).sum()


def test_backward_names_the_op_and_the_users_line():
    x = Tensor(np.array([0.0, 1.0, 4.0]), requires_grad=True)
    with detect_anomaly():
        loss = _model(x)
        with pytest.raises(FloatingPointError) as e:
            loss.backward()
    msg = str(e.value)
    assert "'sqrt'" in msg and "input x" in msg and "shape (3,)" in msg
    assert "test_anomaly.py" in msg and "r = h.sqrt()" in msg  # the forward line in the user's code
    assert "tinygrad_lite/" not in msg.split("made here:")[1]  # only the user's frames
    assert not is_anomaly_enabled()


def test_off_it_does_not_raise_and_costs_no_recording():
    make = Tensor.__dict__["_make"]
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    _model(x).backward()
    assert np.isinf(x.grad._data[0])
    with detect_anomaly():
        assert Tensor.__dict__["_make"] is not make
    assert Tensor.__dict__["_make"] is make  # the plain constructor is back: nothing runs per op when off


def test_forward_check_and_the_flag_form():
    with detect_anomaly(check_forward=True):
        with pytest.raises(FloatingPointError, match="forward of 'log'"):
            Tensor(np.array([-1.0, 1.0]), requires_grad=True).log()
    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
        x = Tensor(np.array([0.0]), requires_grad=True)
        with pytest.raises(FloatingPointError, match="sqrt"):
            _model(x).backward()
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()
    with set_detect_anomaly(True):
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_finite_graphs_pass_and_ops_made_before_are_reported_as_unrecorded():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with detect_anomaly():
        (x.exp() * x).sum().backward()
    np.testing.assert_allclose(x.grad._data, np.exp([1.0, 2.0]) * np.array([2.0, 3.0]))
    y = Tensor(np.array([0.0]), requires_grad=True)
    loss = _model(y)  # made with anomaly mode off
    with detect_anomaly(), pytest.raises(FloatingPointError, match="not recorded"):
        loss.backward()


def test_decorator_form_and_tl_autograd_names():
    assert tl.autograd.detect_anomaly is detect_anomaly and tl.autograd.set_detect_anomaly is set_detect_anomaly

    @detect_anomaly()
    def step(x):
        return _model(x).backward()

    with pytest.raises(FloatingPointError, match="sqrt"):
        step(Tensor(np.array([0.0]), requires_grad=True))
