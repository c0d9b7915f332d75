"""Shared pytest setup: thread limits, hypothesis profile, and the shared data fixture."""

import os

# Keep BLAS thread pools small and predictable on the 2-core CI machine.
# Must happen before numpy/torch are imported by any test module.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


@pytest.fixture
def no_gc():
    """The cycle collector off during the test (collected once before): what the test sees freed was
    freed by reference counting alone."""
    import gc
    gc.collect()
    gc.disable()
    yield
    gc.enable()


@pytest.fixture
def shared_data() -> Path:
    """Path of ../shared/data beside the repo root; skips the test when it is absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared data directory not found: {path}")
    return path


def pytest_sessionstart(session):
    """In CI (CI=1, set by .ci/run) the suites that compare against PyTorch and render with Graphviz
    must run: their tools missing is a failure of the set-up, not a reason to skip them quietly."""
    if not os.environ.get("CI"):
        return
    import importlib.util
    import shutil
    missing = [what for what, ok in (("torch (the reference of tests/torch)", importlib.util.find_spec("torch")),
                                     ("Graphviz's dot program", shutil.which("dot"))) if not ok]
    if missing:
        raise pytest.UsageError("CI is set but " + " and ".join(missing) + " is missing; `bash run.sh test` installs "
                                "both (pip install -e '.[test]', apt-get install graphviz)")
