"""ops/jit.py: compiled kernels are lazy, optional and can be switched off."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_lite.ops import jit


def _run(code, env_value):
    env = dict(os.environ, TINYGRAD_LITE_JIT=env_value)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_kernel_compiles_on_first_call_and_matches_python():
    def twice_plus(x, out):
        for i in range(x.size):
            out[i] = 2 * x[i] + 1

    k = jit.kernel(twice_plus)
    assert k.compiled is None  # nothing compiled before the first call
    x = np.arange(5, dtype=np.float32)
    out = np.empty_like(x)
    k(x, out)
    assert k.compiled is not None
    np.testing.assert_array_equal(out, 2 * x + 1)


def test_switched_off_kernels_are_none_and_numba_is_not_imported():
    code = ("import sys; from tinygrad_lite.ops import jit; import tinygrad_lite\n"
            "assert not jit.available() and jit.kernel(lambda x: x) is None\n"
            "assert 'numba' not in sys.modules\nprint('ok')")
    r = _run(code, "0")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_import_does_not_load_numba():
    r = _run("import sys, tinygrad_lite; print('numba' in sys.modules)", "1")
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_a_bad_switch_value_names_the_variable():
    r = _run("import tinygrad_lite.ops.jit", "yes")
    assert r.returncode != 0 and "TINYGRAD_LITE_JIT must be '0'" in r.stderr


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_kernel_compiles_in_memory_without_a_cache_directory(monkeypatch):
    import numba
    real_njit, asked = numba.njit, []

    def njit(**options):
        asked.append(options["cache"])
        if options["cache"]:
            raise RuntimeError("cannot cache function 'f': no locator available for file")
        return real_njit(**options)
    monkeypatch.setattr(numba, "njit", njit)

    def plus_one(x, out):
        for i in range(x.size):
            out[i] = x[i] + 1

    k = jit.kernel(plus_one)
    x = np.arange(3, dtype=np.float32)
    out = np.empty_like(x)
    k(x, out)
    assert asked == [True, False]
    np.testing.assert_array_equal(out, x + 1)
