"""Multi-pass numpy formulas evaluated in cache-sized pieces: the one helper every fast kernel uses.

A formula of k elementwise passes over a large array streams the array (and its temporaries)
through main memory k times. Run on a piece of CHUNK elements at a time, the piece and a few
scratch buffers of the same size stay in the L2 cache (1 MiB per core here) between the passes,
so only the first read and the last write reach memory (GELU-tanh on (32, 64, 512) float32:
forward 3.5 -> 1.3 ms, backward 6.8 -> 2.1 ms, measured).

* `chunked(fn, out, *arrays)`: elementwise formulas; fn(out_piece, *array_pieces, scratch) on flat
  pieces of the arrays (all of out's shape). Used by erf, both GELUs and sigmoid.
* `const(v, dtype)`: a constant piece to compare against (numpy's scalar broadcast is slow there).

Row-wise formulas (softmax, layer norm) were tried in blocks of whole rows the same way and gained
nothing measurable here: a 1024x1024 float32 array (4 MiB) already stays in the 32 MiB L3 cache
between passes, and the per-block Python calls cost what the L2 saves (bench/RESULTS.md, issue 12).
"""
import numpy as np

CHUNK = 1 << 15  # elements per piece: 128 KiB of float32, 256 KiB of float64; a few fit in L2 at once


def pieces(n, size=None):
    """(start, stop) of consecutive pieces of at most `size` (default CHUNK) covering range(n)."""
    size = size or CHUNK
    return ((i, min(i + size, n)) for i in range(0, n, size))


def chunked(fn, out, *arrays, scratch=3, scratch_dtype=None, size=1):
    """fn(out_piece, *array_pieces, scratch_pieces) over flat pieces of `size` * CHUNK elements of arrays
    of out's shape (each made C-contiguous first); `scratch` buffers of `scratch_dtype` (default: out's
    dtype), one piece long, are reused for every piece. Returns out."""
    flats = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    of = out.reshape(-1)
    n = of.size
    step = size * CHUNK  # (CHUNK read now: tests shrink it)
    bufs = [np.empty(min(step, n), scratch_dtype or out.dtype) for _ in range(scratch)]
    for i, j in pieces(n, step):
        fn(of[i:j], *(f[i:j] for f in flats), [s[:j - i] for s in bufs])
    return out


def const(v, dtype=np.float32, _cache={}):
    """A read-only array of CHUNK copies of v (slice it to a piece's length): numpy's maximum, minimum
    and comparisons against a scalar take a slow path (21 vs 4 us per float32 piece, measured)."""
    key = (v, np.dtype(dtype), CHUNK)
    a = _cache.get(key)
    if a is None:
        a = _cache[key] = np.full(CHUNK, v, dtype)
        a.flags.writeable = False
    return a

