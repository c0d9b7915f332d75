"""Executes every ```python code block in README.md, docs/*.md, docs/course/*.md (the backprop course)
and viz/README.md, so the documentation cannot rot. (With ``--here`` the course's pages run with
``docs`` as working directory: their pictures go to ``docs/img/course``, where their links point.)

Blocks of one file run in order in one shared namespace, inside a fresh temporary working
directory. A block is skipped only when its fence says so explicitly: ```python no-run. The blocks
need no Graphviz: only their rendering lines do (guarded by ``shutil.which("dot")``), and
``test_markdown_code_blocks_run_without_graphviz`` runs every file that uses viz again with ``dot``
hidden from PATH.

Run ``python tests/test_docs.py docs/tutorial.md --here`` to execute a file's blocks with the
markdown file's own directory as working directory (this regenerates the pictures it writes
under ``docs/img``), or ``--out DIR`` to run them in DIR (created) and keep what they write there.
"""
from __future__ import annotations

import os
import re
import sys
import traceback
from pathlib import Path

import pytest

from helpers import in_ci

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


def markdown_files() -> list[Path]:
    """The documentation: README.md, docs/*.md, docs/course/*.md and viz/README.md."""
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "docs" / "course").glob("*.md"))
    files += [ROOT / "viz" / "README.md"]
    return [f for f in files if f.is_file()]


def doc_files() -> list[Path]:
    """The markdown files whose python blocks are executed (those of markdown_files() that have some)."""
    return [f for f in markdown_files() if python_blocks(f)]


def python_blocks(path: Path) -> list[tuple[int, str, str]]:
    """(line number, fence info string, code) of each ```python block in a markdown file."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        blocks.append((line, m.group(1).strip(), m.group(2)))
    return blocks


class NeedsGraphviz(Exception):
    """A block renders a picture but Graphviz's `dot` program is not installed."""


def run_blocks(path: Path, workdir: Path) -> int:
    """Execute the runnable python blocks of ``path`` in sequence (shared namespace) in ``workdir``.

    Returns the number of blocks executed. Raises AssertionError naming the file and the block's
    line when a block fails, with the block's own traceback.
    """
    ns: dict = {"__name__": "__docs__"}
    ran = 0
    old = os.getcwd()
    os.chdir(workdir)
    try:
        for line, info, code in python_blocks(path):
            if "no-run" in info.split():
                continue
            try:
                exec(compile(code, f"{path.name}:{line}", "exec"), ns)
            except Exception as e:  # noqa: BLE001 - report which block broke
                if type(e).__name__ == "GraphvizNotInstalled":
                    raise NeedsGraphviz(f"{path.name}:{line} renders a picture and Graphviz's dot is "
                                        "missing (bash run.sh test installs it where it can)") from None
                tb = traceback.format_exc()
                raise AssertionError(f"code block at {path.name}:{line} failed:\n{tb}") from None
            ran += 1
    finally:
        os.chdir(old)
        try:
            import matplotlib.pyplot as plt  # close figures a block may have left open
            plt.close("all")
        except Exception:  # noqa: BLE001
            pass
    return ran


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_code_blocks_run(path, tmp_path, monkeypatch):
    """Every python block of the file runs without error (blocks share one namespace)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(ROOT))
    try:
        run_blocks(path, tmp_path)
    except NeedsGraphviz as e:
        if in_ci():  # CI must not skip the docs silently
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))


def drawing_files() -> list[Path]:
    """The doc files whose blocks use viz or graphviz (the others cannot depend on Graphviz, so running
    them a second time without it would only repeat test_markdown_code_blocks_run)."""
    return [f for f in doc_files() if any(re.search(r"\b(viz|graphviz)\b", code) for _, _, code in python_blocks(f))]


def test_drawing_files_are_found():
    names = {p.name for p in drawing_files()}
    assert {"README.md", "tutorial.md", "01_chain_rule.md", "07_attention.md"} <= names
    assert "05_gradient_health.md" not in names   # plots with matplotlib only


@pytest.mark.parametrize("path", drawing_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_code_blocks_run_without_graphviz(path, tmp_path, monkeypatch):
    """With no `dot` program on PATH every block still runs: only the rendering lines depend on
    Graphviz, and they fall back to writing DOT text (so a missing Graphviz never skips a file)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PATH", str(tmp_path / "no-graphviz-here"))
    monkeypatch.syspath_prepend(str(ROOT))
    import shutil
    assert shutil.which("dot") is None
    work = tmp_path / "work"
    work.mkdir()
    try:
        n = run_blocks(path, work)
    except NeedsGraphviz as e:
        pytest.fail(f"a docs block needs Graphviz beyond its rendering line: {e}", pytrace=False)
    assert n == sum(1 for b in python_blocks(path) if "no-run" not in b[1].split())
    written = {p.name for p in work.rglob("*")}
    assert not {w for w in written if w.endswith((".svg", ".png", ".pdf"))}, written
    if path.name == "README.md" and path.parent == ROOT:
        assert "neuron.dot" in written  # the ten-line example writes the DOT text instead


def test_no_run_marker_is_rare():
    """Skipping a block must stay the exception: at most a quarter of the blocks of any file."""
    for path in doc_files():
        blocks = python_blocks(path)
        skipped = [b for b in blocks if "no-run" in b[1].split()]
        assert len(skipped) * 4 <= max(len(blocks), 1), f"{path.name}: too many no-run blocks"


def test_local_links_and_images_exist():
    """Every relative link or image in README.md, docs/*.md and viz/README.md points at a file of the
    repository."""
    files = markdown_files()
    assert ROOT / "viz" / "README.md" in files
    for md in files:
        text = FENCE.sub("", md.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (md.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{md.name}: link to missing file {target}"


def test_fence_parser():
    """The block parser finds python blocks, their info string and ignores other languages."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.md"
        p.write_text("# t\n```python\nx = 1\n```\n```bash\nls\n```\n```python no-run\nboom()\n```\n"
                     "```python\nassert x == 1\n```\n")
        blocks = python_blocks(p)
        assert [b[1] for b in blocks] == ["", "no-run", ""]
        assert run_blocks(p, Path(d)) == 2


if __name__ == "__main__":  # pragma: no cover - manual helper
    argv = sys.argv[1:]
    out_dir = None
    if "--out" in argv:
        i = argv.index("--out")
        if i + 1 >= len(argv):
            sys.exit("--out needs a directory: python tests/test_docs.py docs/tutorial.md --out DIR")
        out_dir = Path(argv[i + 1]).resolve()
        del argv[i:i + 2]
    args = [a for a in argv if not a.startswith("--")]
    here = "--here" in argv
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("MPLBACKEND", "Agg")
    for arg in args or [str(p) for p in doc_files()]:
        p = Path(arg).resolve()
        if here:  # the course's pages write img/course/... from docs/ (their links read ../img/course/...)
            n = run_blocks(p, p.parent.parent if p.parent.name == "course" else p.parent)
        elif out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            n = run_blocks(p, out_dir)
            print(f"{p.name}: the files it wrote are in {out_dir}")
        else:
            import tempfile
            with tempfile.TemporaryDirectory() as d:
                n = run_blocks(p, Path(d))
        print(f"{p.name}: {n} blocks ran")
