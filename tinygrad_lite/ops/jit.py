"""Compiled kernels, optional: numba when it is installed (the "fast" extra), numpy otherwise.

A few ops spend most of their time in numpy passes that one fused loop would do at once (exact GELU
is ~18 numpy passes over its input). `kernel(fn)` compiles such a loop with numba on its first call;
every caller keeps its numpy path beside it as the reference, and the tests compare the two.

    kernel(fn)     a lazily compiled `fn` (numba.njit: nopython, cache=True, nogil, and numpy's error model:
                   x / 0 is inf or NaN, not an exception, which also keeps loops with a division
                   vectorisable), or None when compiled kernels are off; the caller then takes its
                   numpy path
    available()    True when compiled kernels are on: numba importable and TINYGRAD_LITE_JIT is not 0
    flat(a)        a as the 1-d C-contiguous array kernels take (a view when it can be)
    elementwise32(loop, *arrays)
                   an elementwise float32 kernel's result, a new array of arrays[0]'s shape
    float32_from_bits(i), bits_of_float32(f)
                   reinterpret an int32 as a float32 and back, inside kernels (an exp of our own builds
                   2^k from its exponent bits: numba's math.exp is a call per element, never vectorised)
    fma32(a, b, c) a * b + c of float32s with one rounding (the processor's fused multiply-add): where a
                   kernel asks for it, always, not where LLVM's optional contraction happens to apply
                   (which differs between a loop's vectorised body and its scalar rest: results would
                   then depend on the alignment of the arrays)

A kernel may call other kernels and these three: they are compiled with it (its globals are read
when it is compiled, the first time it is called). numba's disk cache checks only the kernel's own
file; ours also keys it on the sources of the kernels it calls and of this module, so an edit there
cannot leave a stale compiled kernel behind.

Nothing imports numba until a kernel is first called (numba's import costs ~0.2 s, a compile ~0.3 s
per kernel and dtype; cache=True keeps compiled kernels on disk beside this package).
Switch compiled kernels off with the environment variable TINYGRAD_LITE_JIT=0 before the import.
"""
import contextlib
import hashlib
import importlib.util
import os
import types

import numpy as np

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
        return (self.compiled or self.dispatcher())(*args)

    def dispatcher(self):
        """The numba dispatcher of fn (created once; it compiles per argument types when called)."""
        if self.compiled is None:
            import numba
            fn = self.fn
            numba_fn = types.FunctionType(fn.__code__, _numba_globals(fn), fn.__name__, fn.__defaults__, fn.__closure__)
            numba_fn.__qualname__, numba_fn.__module__ = fn.__qualname__, fn.__module__
            options = {"cache": True, "nogil": True, "error_model": "numpy", **self.options}
            try:
                self.compiled = numba.njit(**options)(numba_fn)
            except RuntimeError:  # ("cannot cache function": no writable cache directory) compile in memory
                options["cache"] = False
                self.compiled = numba.njit(**options)(numba_fn)
            if options["cache"]:
                try:
                    _key_cache_on_sources(self.compiled, _source_files(fn))
                except (ImportError, AttributeError, OSError):  # (sources unreadable, or numba's internals moved)
                    pass                                          # numba's own key then: the kernel's file only
        return self.compiled


def _source_files(fn):
    """The files of fn, of the kernels it calls (recursively) and of this module."""
    seen, todo = set(), [fn]
    while todo:
        f = todo.pop()
        seen.add(f)
        todo += [v.fn for v in map(f.__globals__.get, f.__code__.co_names) if isinstance(v, _Lazy) and v.fn not in seen]
    return {__file__} | {f.__code__.co_filename for f in seen}


def _key_cache_on_sources(dispatcher, files):
    """Key the dispatcher's disk cache also on the contents of `files` (numba's own key: the bytecode
    of the function and the time stamp of its file only)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        with open(name, "rb") as f:
            digest.update(f.read())
    key = digest.hexdigest()
    from numba.core.caching import FunctionCache

    class SourceKeyedCache(FunctionCache):
        def _index_key(self, sig, codegen):
            return (*super()._index_key(sig, codegen), key)
    dispatcher._cache = SourceKeyedCache(dispatcher.py_func)


def flat(a):
    """a as a 1-d C-contiguous array: a view when a is C-contiguous, else a copy (kernels take their
    arrays so: one compiled version each, vectorised, instead of one more per layout, strided ones not)."""
    return np.ascontiguousarray(a).reshape(-1)


def elementwise32(loop, *arrays):
    """loop(*flat arrays, flat out) into a new float32 array of arrays[0]'s shape: how an elementwise
    kernel over 1-d float32 arrays is called on arrays of any shape and layout."""
    out = np.empty(arrays[0].shape, np.float32)
    loop(*map(flat, arrays), out.reshape(-1))
    return out


def float32_from_bits(i):
    """The float32 whose bits are the int32 i (compiled kernels use numba's version of it)."""
    return np.array(i, np.int32).view(np.float32)[()]


def bits_of_float32(f):
    """The int32 holding the bits of the float32 f (compiled kernels use numba's version of it)."""
    return np.array(f, np.float32).view(np.int32)[()]


def fma32(a, b, c):
    """a * b + c of float32s rounded to float32 (here through a double: rarely off by a double rounding;
    compiled kernels use the processor's fused multiply-add, rounded once)."""
    return np.float32(float(a) * float(b) + float(c))


_INTRINSIC_NAMES = ("float32_from_bits", "bits_of_float32", "fma32")


def _numba_globals(fn):
    """fn's globals as numba compiles them: the kernels it calls as their dispatchers, the bit casts and
    fma32 as numba intrinsics."""
    names = fn.__code__.co_names
    g = dict(fn.__globals__)
    for name in names:
        v = g.get(name)
        if isinstance(v, _Lazy):
            g[name] = v.dispatcher()
        elif getattr(v, "__module__", None) == __name__ and getattr(v, "__name__", None) in _INTRINSIC_NAMES:
            g[name] = _intrinsics()[v.__name__]
    return g


_INTRINSICS = {}


def _intrinsics():
    """numba intrinsics of the bit casts (an LLVM bitcast: free, and it keeps loops vectorisable) and of
    fma32 (LLVM's llvm.fma)."""
    if not _INTRINSICS:
        from numba import types as nt
        from numba.extending import intrinsic

        def bitcast(src, dst):
            @intrinsic
            def cast(typingctx, v):
                if v != src:
                    return None

                def codegen(context, builder, sig, args):
                    return builder.bitcast(args[0], context.get_value_type(dst))
                return dst(src), codegen
            return cast

        @intrinsic
        def fma(typingctx, a, b, c):
            if not (a == b == c == nt.float32):
                return None

            def codegen(context, builder, sig, args):
                return builder.fma(*args)
            return nt.float32(nt.float32, nt.float32, nt.float32), codegen
        _INTRINSICS["float32_from_bits"] = bitcast(nt.int32, nt.float32)
        _INTRINSICS["bits_of_float32"] = bitcast(nt.float32, nt.int32)
        _INTRINSICS["fma32"] = fma
    return _INTRINSICS


def kernel(fn=None, **options):
    """Decorator: `fn` compiled with numba on its first call (options go to numba.njit), or None
    when compiled kernels are off. Use as `@kernel` or `@kernel(fastmath=...)`."""
    if fn is None:
        return lambda f: kernel(f, **options)
    return _Lazy(fn, options) if _ON else None


@contextlib.contextmanager
def numpy_kernels(module, *names):
    """Inside the block the compiled kernels `names` of `module` are off (None), so their callers take the
    numpy paths: how the tests and benchmarks compare a kernel with its reference in one process."""
    saved = [getattr(module, n) for n in names]
    for n in names:
        setattr(module, n, None)
    try:
        yield
    finally:
        for n, v in zip(names, saved):
            setattr(module, n, v)
