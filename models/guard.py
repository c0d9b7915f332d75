"""Training that never fails silently: a non-finite loss stops the run with a message naming the
step, and a checkpoint is never written from non-finite weights (the last good one stays)."""
import math

import numpy as np


class TrainingDiverged(ValueError):
    """The loss (or the weights) became NaN or infinite: the run stopped instead of going on."""


def check_loss(value, step, what="training", lr=None, last_checkpoint=None):
    """Raise TrainingDiverged when the loss `value` of `step` is not finite; else return it.

    last_checkpoint: the path of the last checkpoint this run wrote (None: none yet), or a callable
    returning it, named in the message so the user knows what survives."""
    if math.isfinite(value):
        return value
    if callable(last_checkpoint):
        last_checkpoint = last_checkpoint()
    at_lr = f" (learning rate {lr:g})" if lr is not None else ""
    kept = (f"the last good checkpoint is {last_checkpoint}" if last_checkpoint
            else "no checkpoint was written by this run, and none was overwritten")
    raise TrainingDiverged(f"{what} diverged at step {step}: the loss is {value}{at_lr}. Stopped; {kept}. "
                           "Try a smaller --lr (or gradient clipping).")


def check_finite_weights(named_arrays, path):
    """Refuse to write `path` from non-finite weights: raise TrainingDiverged naming the first bad one.

    named_arrays: (name, array-like) pairs, e.g. from a state_dict."""
    for name, value in named_arrays:
        arr = _as_array(value)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise TrainingDiverged(f"not writing {path}: weight {name!r} holds NaN or infinite values (the "
                                   "training diverged); any earlier file at that path is kept")


def _as_array(value):
    """A numpy view of a tinygrad_lite or torch tensor (detached, on the CPU) or of an array."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


# ---------------------------------------------------------------------- user errors versus bugs
_PROJECT_PACKAGES = ("tinygrad_lite", "tinygrad_lite_app", "models", "viz")
_ROOT = __import__("os").path.dirname(__import__("os").path.dirname(__import__("os").path.abspath(__file__)))


def raised_by_project(exc):
    """True when the innermost frame of `exc`'s traceback is in this project's own code: a ValueError
    our validation raised (bad input, said clearly) rather than one from deep inside numpy or
    another library (a bug of ours, whose traceback must show)."""
    import os
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = os.path.abspath(tb.tb_frame.f_code.co_filename)
    return any(path.startswith(os.path.join(_ROOT, pkg) + os.sep) for pkg in _PROJECT_PACKAGES)


def user_error(exc):
    """Whether `exc` is a user's mistake to report in one line (exit 1) rather than a bug to show:
    files (OSError), undecodable input, and ValueError/KeyError/IndexError raised by our own checks."""
    if isinstance(exc, (OSError, UnicodeDecodeError, TrainingDiverged)):
        return True
    return isinstance(exc, (ValueError, KeyError, IndexError)) and raised_by_project(exc)
