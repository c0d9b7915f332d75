"""Autograd modes: anomaly detection (`detect_anomaly`, PyTorch's name) and, for teaching, `keep_graph`.

Both are read by the backward pass (autograd._run) through `MODES`; off, they cost one attribute read.
"""
import traceback
import weakref

import numpy as np

from .ops import LazyGrad
from .tensor import Tensor


class _Modes:
    __slots__ = ("anomaly", "check_forward", "keep")

    def __init__(self):
        self.anomaly = self.check_forward = self.keep = False


MODES = _Modes()
_new = object.__new__
class detect_anomaly:
    """Find the op that made a NaN (PyTorch's name): while on, every op records where the user's code
    created it, and backward raises at the first op whose gradient is not finite, naming the op and
    showing that forward traceback. check_forward=True also raises at the first op whose forward
    result is not finite. A context manager and a decorator; `set_detect_anomaly(True)` turns it on
    for good. Off, it costs nothing: the recording `_make` is installed only while it is on."""

    def __init__(self, check_nan=True, check_forward=False):
        self.check_nan, self.check_forward = check_nan, check_forward

    def __enter__(self):
        self._prev = (MODES.anomaly, MODES.check_forward)
        _set_anomaly(self.check_nan, self.check_forward)
        return self

    def __exit__(self, *exc):
        _set_anomaly(*self._prev)
        return False

    def __call__(self, fn):
        def wrapper(*a, **k):
            with detect_anomaly(self.check_nan, self.check_forward):
                return fn(*a, **k)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly mode on or off: `set_detect_anomaly(True)` (stays on), or as a context manager."""

    def __init__(self, mode, check_nan=True, check_forward=False):
        super().__init__(check_nan and bool(mode), check_forward and bool(mode))
        self._prev = (MODES.anomaly, MODES.check_forward)
        _set_anomaly(self.check_nan, self.check_forward)

    def __enter__(self):
        return self


def is_anomaly_enabled():
    """True while detect_anomaly is on."""
    return MODES.anomaly


_TRACES = {}  # id(tensor) -> (weak reference, the user's stack when its op ran), anomaly mode only
_plain_make = Tensor.__dict__["_make"]


def _set_anomaly(on, check_forward):
    MODES.anomaly, MODES.check_forward = bool(on), bool(on and check_forward)
    Tensor._make = staticmethod(_make_recording) if on else _plain_make


def _make_recording(arr, op, inputs, args, req):
    """Tensor._make while anomaly mode is on: also remembers the user's code that made the op."""
    t = _plain_make.__func__(arr, op, inputs, args, req)
    if t._op is not None:
        key = id(t)
        _TRACES[key] = (weakref.ref(t, lambda _r, k=key: _TRACES.pop(k, None)), traceback.extract_stack()[:-2])
        if MODES.check_forward and t._data.dtype.kind == "f" and not np.isfinite(t._data).all():
            raise FloatingPointError(f"detect_anomaly: the forward of '{op.name}' produced non-finite values "
                                     f"(shape {t.shape}); it was called from:\n{_where_made(t)}")
    return t


def _where_made(t):
    ref, stack = _TRACES.get(id(t), (None, ()))
    stack = [f for f in stack if "/tinygrad_lite/" not in f.filename.replace("\\", "/")] if ref and ref() is t else []
    if not stack:
        return "  (not recorded: the op was made before anomaly mode was turned on)"
    return "".join(traceback.format_list(stack[-6:])).rstrip()


def _check_finite(t, out):
    """Anomaly mode: raise at the first op whose gradient for an input is not finite."""
    for i, gx in enumerate(out):
        if gx is None:
            continue
        arr = gx._data if isinstance(gx, Tensor) else gx.dense() if isinstance(gx, LazyGrad) else gx
        arr = np.asarray(arr)
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            name = t._op.input_names(len(t._inputs))[i]
            raise FloatingPointError(
                f"detect_anomaly: the backward of '{t._op.name}' (result shape {t.shape}) returned a non-finite "
                f"gradient for its input {name} (shape {t._inputs[i].shape}); the op was made here:\n"
                f"{_where_made(t)}")


# ---------------------------------------------------------------------- keeping graphs (teaching)
class keep_graph:
    """For teaching: every backward inside keeps its graph's values, as if retain_graph=True were passed,
    so viz.draw_graph / explain_backward can show every intermediate value and gradient afterwards.
    Costs memory (every activation stays alive while the loss does). A context manager; or
    `keep_graph.set(True)` to turn it on for the session."""

    def __enter__(self):
        self._prev = MODES.keep
        MODES.keep = True
        return self

    def __exit__(self, *exc):
        MODES.keep = self._prev
        return False

    @staticmethod
    def set(mode):
        MODES.keep = bool(mode)
