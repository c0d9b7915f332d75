"""Whether operations are being recorded for autograd: `no_grad`, `enable_grad`, `set_grad_enabled`.

The flag lives in one module-level object so the hot path reads it with a single attribute lookup.
"""
import functools


class _GradMode:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


GRAD = _GradMode()


def is_grad_enabled():
    """True when new operations are recorded in the graph."""
    return GRAD.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns recording on or off, restoring the old mode on exit."""

    def __init__(self, mode):
        self.prev = GRAD.enabled
        GRAD.enabled = bool(mode)
        self.mode = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        GRAD.enabled = self.prev
        return False

    def __call__(self, fn):
        """@set_grad_enabled(False): the mode holds inside fn only (construction had already set it:
        undo that, as PyTorch does)."""
        GRAD.enabled = self.prev
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class _Mode:
    """Base of no_grad/enable_grad: a re-entrant context manager that also works as a decorator."""
    mode = True

    def __new__(cls, fn=None):
        if fn is not None:  # used as a bare decorator, @no_grad without parentheses (as PyTorch allows)
            return cls()(fn)
        return super().__new__(cls)

    def __init__(self, fn=None):
        self._prev = []

    def __enter__(self):
        self._prev.append(GRAD.enabled)
        GRAD.enabled = self.mode
        return self

    def __exit__(self, *exc):
        GRAD.enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_Mode):
    """Do not record operations: results have requires_grad=False. Use for evaluation and updates."""
    mode = False


class enable_grad(_Mode):
    """Record operations again inside a `no_grad` block."""
    mode = True


class inference_mode(_Mode):
    """PyTorch's inference_mode: like no_grad (nothing is recorded). `inference_mode(False)` records as usual.
    Works as a context manager and as a decorator, with or without parentheses."""
    mode = False

    def __new__(cls, mode=True):
        if callable(mode):  # @inference_mode without parentheses
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode=True):
        super().__init__()
        self._off = bool(mode)

    def __enter__(self):
        self._prev.append(GRAD.enabled)
        if self._off:
            GRAD.enabled = False
        return self

    def __call__(self, fn):
        off = self._off

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(off):
                return fn(*args, **kwargs)
        return wrapper


def is_inference_mode_enabled():
    """False: tinygrad_lite keeps no inference-mode state apart from grad mode."""
    return False
