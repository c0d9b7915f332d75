"""Compiled kernels, optional: numba when it is installed (the "fast" extra), numpy otherwise.

A few ops spend most of their time in numpy passes that one fused loop would do at once (exact GELU
is ~18 numpy passes over its input). `kernel(fn)` compiles such a loop with numba on its first call;
every caller keeps its numpy path beside it as the reference, and the tests compare the two.

    kernel(fn)     a lazily compiled `fn` (numba.njit: nopython, cache=True, nogil), or None when
                   compiled kernels are off; the caller then takes its numpy path
    available()    True when compiled kernels are on: numba importable and TINYGRAD_LITE_JIT is not 0

Nothing imports numba until a kernel is first called (numba's import costs ~0.2 s, a compile ~0.3 s
per kernel and dtype; cache=True keeps compiled kernels on disk beside this package).
Switch compiled kernels off with the environment variable TINYGRAD_LITE_JIT=0 before the import.
"""
import importlib.util
import os

_CHOICE = os.environ.get("TINYGRAD_LITE_JIT", "1").strip()
if _CHOICE not in ("0", "1"):
    raise ValueError(f"TINYGRAD_LITE_JIT must be '0' (numpy only) or '1' (numba kernels when installed), "
                     f"got {_CHOICE!r}")
_ON = _CHOICE == "1" and importlib.util.find_spec("numba") is not None


def available():
    """True when kernel() compiles: numba is installed and TINYGRAD_LITE_JIT is not 0."""
    return _ON


class _Lazy:
    """`fn`, compiled with numba on the first call."""

    def __init__(self, fn, options):
        self.fn, self.options, self.compiled = fn, options, None
        self.__name__, self.__doc__ = fn.__name__, fn.__doc__

    def __call__(self, *args):
        if self.compiled is None:
            import numba
            self.compiled = numba.njit(cache=True, nogil=True, **self.options)(self.fn)
        return self.compiled(*args)


def kernel(fn=None, **options):
    """Decorator: `fn` compiled with numba on its first call (options go to numba.njit), or None
    when compiled kernels are off. Use as `@kernel` or `@kernel(fastmath=...)`."""
    if fn is None:
        return lambda f: kernel(f, **options)
    return _Lazy(fn, options) if _ON else None
