"""tinygrad_lite.runtime: the allocator policy applied on import (and its opt-out), the BLAS thread
limit, and the models' old import path. Each import check runs in a fresh interpreter."""
import os
import subprocess
import sys

import pytest

import tinygrad_lite as tl
from tinygrad_lite import runtime

GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None

# RSS after a 64 MiB array is filled and freed (glibc unmaps it at once by default; the policy keeps it)
_PROBE = r"""
import sys
import numpy as np
import tinygrad_lite
from tinygrad_lite import runtime
def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
before = rss_mib()
a = np.ones(64 * 2**18, np.float32)  # 64 MiB, every page touched
del a
print(runtime.state["malloc"], round(rss_mib() - before))
"""


def _probe(env_value=None):
    env = {k: v for k, v in os.environ.items() if k != "TINYGRAD_LITE_MALLOC"}
    if env_value is not None:
        env["TINYGRAD_LITE_MALLOC"] = env_value
    return subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True)


@pytest.mark.skipif(not GLIBC, reason="the policy is glibc's mallopt")
def test_import_applies_the_reuse_policy_and_the_env_var_opts_out():
    out = _probe()
    assert out.returncode == 0, out.stderr
    state, kept = out.stdout.split()
    assert state == "reuse" and int(kept) >= 60  # the freed 64 MiB stays in the heap for the next step
    out = _probe("default")
    state, kept = out.stdout.split()
    assert state == "default" and int(kept) < 8  # glibc's own policy: unmapped at once


def test_a_bad_env_value_is_a_clear_error():
    out = _probe("fast")
    assert out.returncode != 0
    assert "TINYGRAD_LITE_MALLOC must be 'reuse' or 'default', got 'fast'" in out.stderr


def test_limit_blas_threads_sets_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("numpy reports no BLAS thread pool")
    before = blas_threads()
    with tl.runtime.limit_blas_threads(1):
        assert blas_threads() == {1}
    assert blas_threads() == before
    with pytest.raises(ValueError, match="positive int"):
        runtime.limit_blas_threads(0)
    with runtime.limit_blas_threads(None):  # no limit: what a CLI passes when --threads is not given
        assert blas_threads() == before


def test_models_keep_their_import_path():
    from models import progress
    assert progress.limit_blas_threads is runtime.limit_blas_threads
    assert progress.reuse_freed_memory is runtime.reuse_freed_memory
