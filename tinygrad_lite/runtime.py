"""Process settings that make numpy-backed training fast, in one place.

* `reuse_freed_memory()`: applied when tinygrad_lite is imported (see `apply_on_import`). Training
  allocates and frees the same large arrays every step. With glibc's default policy, a freed block
  above a threshold goes back to the kernel, and the next step's array of the same size is a fresh
  mapping that the kernel zero-fills page by page: on the chain `((a*b + c).relu() * d).sum()`
  forward + backward at 256x256 that made us 4-6x slower than PyTorch, and it was a fifth of a GPT
  step (bench/bench_chain.py measures it in fresh processes). The policy asks glibc to keep freed
  blocks for reuse: peak memory is unchanged (the same arrays are alive at the peak), but the
  process does not hand memory back to the kernel when arrays are freed (up to 1 GiB of free
  heap is kept for reuse; blocks >= 1 GiB are still mapped and unmapped directly).
  Opt out before the import with the environment variable TINYGRAD_LITE_MALLOC=default. A no-op
  off glibc (macOS, Windows, musl).
* `limit_blas_threads(n)`: not applied on import (it would override the user's own choice for
  every numpy call in the process). One line, for a script of small or medium matrix products:
  `tinygrad_lite.runtime.limit_blas_threads(1)` (a context manager too). A multi-threaded BLAS
  on a busy 2-core machine made the MLP 30x slower; PyTorch comparisons pin both to one thread.
"""
import contextlib
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
_KEEP = 1 << 30

state = {"malloc": "default"}  # what reuse_freed_memory did: "reuse", "default" or "unavailable"


def reuse_freed_memory():
    """Ask glibc's malloc to serve blocks under 1 GiB from its heap and keep freed heap memory for
    reuse instead of returning it to the kernel at once. Returns True when the policy is in force."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _KEEP) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, _KEEP) == 1
    except (OSError, AttributeError):  # not glibc
        ok = False
    state["malloc"] = "reuse" if ok else "unavailable"
    return ok


class limit_blas_threads(contextlib.ContextDecorator):
    """Cap numpy's BLAS thread pool at `n` threads (threadpoolctl): at once when called, and back to
    the previous setting when used as a context manager and the block ends. n=None changes nothing
    (the CLIs' default when --threads is not given)."""

    def __init__(self, n):
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ValueError(f"limit_blas_threads: n must be a positive int (or None: no limit), got {n!r}")
        from threadpoolctl import threadpool_limits
        self.n = n
        self._limits = threadpool_limits(limits=n, user_api="blas")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._limits.restore_original_limits()
        return False


def apply_on_import():
    """The import-time policy: reuse freed memory unless TINYGRAD_LITE_MALLOC=default."""
    choice = os.environ.get("TINYGRAD_LITE_MALLOC", "reuse").strip().lower()
    if choice not in ("reuse", "default"):
        raise ValueError(f"TINYGRAD_LITE_MALLOC must be 'reuse' or 'default', got {choice!r}")
    if choice == "reuse":
        reuse_freed_memory()
