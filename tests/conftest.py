"""Shared pytest setup: thread limits, hypothesis profile, and the shared data fixture."""

import os

# Keep BLAS thread pools small and predictable on the 2-core CI machine.
# Must happen before numpy/torch are imported by any test module.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import fnmatch  # noqa: E402
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
# the separate fuzz job of .ci/run: not derandomised, many examples, its seed printed by hypothesis
# (`--hypothesis-profile fuzz --hypothesis-seed N` replays a run)
settings.register_profile(
    "fuzz",
    deadline=None,
    max_examples=int(os.environ.get("TGL_FUZZ_EXAMPLES", "1500")),
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")

from helpers import in_ci  # noqa: E402

TESTS = Path(__file__).resolve().parent
SKIP_ALLOWLIST = Path(os.environ.get("TGL_SKIP_ALLOWLIST", TESTS / "skip_allowlist.txt"))


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
    if not in_ci():
        return
    import importlib.util
    import shutil
    missing = [what for what, ok in (("torch (the reference of tests/torch)", importlib.util.find_spec("torch")),
                                     ("Graphviz's dot program", shutil.which("dot"))) if not ok]
    if missing:
        raise pytest.UsageError("CI is set but " + " and ".join(missing) + " is missing; `bash run.sh test` installs "
                                "both (pip install -e '.[test]', apt-get install graphviz)")


# ---------------------------------------------------------------------- markers that mean what they say

def pytest_addoption(parser):
    parser.addoption("--soak", action="store_true",
                     help="run the long soak tests (tests/soak, the separate CI job); they are deselected otherwise")


def pytest_collection_modifyitems(config, items):
    """Every test under tests/torch/ compares against PyTorch: it carries the `torch` marker, so
    `-m torch` / `-m "not torch"` select exactly those. Tests marked `soak` run only with --soak
    (deselected, not skipped, in the normal suite)."""
    for item in items:
        if TESTS / "torch" in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.torch)
    if not config.getoption("--soak"):
        soak = [item for item in items if item.get_closest_marker("soak")]
        if soak:
            config.hook.pytest_deselected(items=soak)
            items[:] = [item for item in items if not item.get_closest_marker("soak")]


# ---------------------------------------------------------------------- no silent skips in CI

def allowed_skips():
    """{node id pattern: reason} from tests/skip_allowlist.txt (lines `PATTERN  # reason`)."""
    allowed = {}
    for line in SKIP_ALLOWLIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, _, reason = line.partition("#")
            allowed[pattern.strip()] = reason.strip()
    return allowed


_SKIPPED = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append((report.nodeid, str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""))


def unlisted_skips(skipped, allowed):
    """The (node id, reason) pairs of `skipped` that no allow-list pattern matches."""
    return [(n, r) for n, r in skipped if not any(fnmatch.fnmatchcase(n, pat) for pat in allowed)]


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test fails the run unless tests/skip_allowlist.txt lists it with its reason."""
    if not in_ci() or exitstatus not in (0, 1):
        return
    bad = unlisted_skips(_SKIPPED, allowed_skips())
    if bad:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"CI: {len(bad)} test(s) skipped without an entry in {SKIP_ALLOWLIST.name}:"]
        lines += [f"  {n}: {r}" for n, r in bad]
        for line in lines:
            (tr.write_line(line, red=True) if tr else print(line))
        session.exitstatus = 1
