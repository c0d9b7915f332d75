"""The test suite's own rules: in CI a skip fails the run unless allow-listed with a reason, and
the markers mean what they say."""
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

PROBE = '''
import pytest

def test_runs():
    assert True

def test_skips():
    pytest.skip("no frobnicator here")
'''


def run_probe(tmp_path, ci, allowlist=""):
    (tmp_path / "conftest.py").write_text(       # the project's conftest hooks, loaded under another name
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        f"spec = importlib.util.spec_from_file_location('project_conftest', {str(TESTS / 'conftest.py')!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "globals().update({k: v for k, v in vars(mod).items() if k.startswith('pytest_')})\n")
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "allow.txt").write_text(allowlist)
    env = {**os.environ, "CI": "1" if ci else "", "TGL_SKIP_ALLOWLIST": str(tmp_path / "allow.txt")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_outside_ci_is_just_a_skip(tmp_path):
    p = run_probe(tmp_path, ci=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 skipped" in p.stdout


def test_an_unlisted_skip_fails_ci_naming_the_test(tmp_path):
    p = run_probe(tmp_path, ci=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "skipped without an entry" in p.stdout and "test_probe.py::test_skips" in p.stdout
    assert "no frobnicator here" in p.stdout


def test_an_allow_listed_skip_passes_ci(tmp_path):
    p = run_probe(tmp_path, ci=True, allowlist="*test_probe.py::test_skips  # needs a frobnicator\n")
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_torch_marker_covers_the_whole_torch_suite():
    """-m torch selects every test under tests/torch/ (others may carry the marker too), and
    -m "not torch" selects none of them."""
    def ids(*args):
        p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", *args, str(TESTS / "torch")],
                           capture_output=True, text=True, timeout=300, cwd=TESTS.parent)
        assert p.returncode in (0, 5), p.stdout[-2000:] + p.stderr[-2000:]
        return {ln for ln in p.stdout.splitlines() if "::" in ln}
    everything = ids()
    assert everything and ids("-m", "torch") == everything and not ids("-m", "not torch")


def test_every_allow_listed_skip_has_a_reason():
    for line in (TESTS / "skip_allowlist.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, _, reason = line.partition("#")
            assert pattern.strip() and reason.strip(), f"allow-list line without a reason: {line!r}"
