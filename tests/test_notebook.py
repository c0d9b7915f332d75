"""The notebooks: docs/tutorial.ipynb and the course's docs/course/NN_*.ipynb, each generated from its
Markdown page by jupytext (`jupytext --update --to ipynb --set-kernel python3 --output X.ipynb X.md`;
--update keeps the cell ids, so a regenerated notebook differs only where the page changed), kept in
step with the Markdown (committed without outputs) and executed end to end by nbclient with a kernel
of this Python (ipykernel), so they cannot rot. In CI (env CI set) missing nbclient/ipykernel/jupytext
fails.

The tutorial runs in a kernel of its own. The eight course notebooks run one after another in ONE
kernel (a kernel start costs seconds on a loaded machine): before each, the kernel's namespace is
reset (`%reset -f`) and the working directory moves to a fresh directory of that notebook's own."""
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MD, NB = ROOT / "docs" / "tutorial.md", ROOT / "docs" / "tutorial.ipynb"
COURSE = sorted((ROOT / "docs" / "course").glob("[0-9][0-9]_*.md"))
PAIRS = [(MD, NB)] + [(md, md.with_suffix(".ipynb")) for md in COURSE]


def regenerate(md):
    rel = md.relative_to(ROOT)
    return f"jupytext --update --to ipynb --set-kernel python3 --output {rel.with_suffix('.ipynb')} {rel}"


REGENERATE = regenerate(MD)


def _need(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        msg = f"the notebook tests need {', '.join(missing)} (pip install -e '.[test]')"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(msg)
        pytest.skip(msg)


def test_every_course_page_has_a_notebook():
    assert len(COURSE) == 8, [p.name for p in COURSE]
    for md in COURSE:
        assert md.with_suffix(".ipynb").is_file(), f"{md.name} has no notebook; generate it: {regenerate(md)}"


@pytest.mark.parametrize("md,nb", PAIRS, ids=[str(nb.relative_to(ROOT)) for _, nb in PAIRS])
def test_notebook_matches_the_markdown(md, nb):
    _need("jupytext", "nbformat")
    import jupytext
    import nbformat
    want = jupytext.reads(md.read_text(encoding="utf-8"), fmt="md")
    have = nbformat.read(nb, as_version=4)
    assert [(c.cell_type, c.source) for c in have.cells] == [(c.cell_type, c.source) for c in want.cells], \
        f"{nb.relative_to(ROOT)} is out of date with {md.relative_to(ROOT)}; regenerate it: {regenerate(md)}"
    assert have.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") for c in have.cells if c.cell_type == "code")  # committed without outputs


class _Pythonpath:
    """PYTHONPATH with the repository first, for the kernel nbclient starts (restored afterwards)."""

    def __enter__(self):
        self.old = os.environ.get("PYTHONPATH", "")
        os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + self.old if self.old else "")

    def __exit__(self, *exc):
        if self.old:
            os.environ["PYTHONPATH"] = self.old
        else:
            del os.environ["PYTHONPATH"]


def test_notebook_runs_end_to_end(tmp_path):
    _need("nbclient", "nbformat", "ipykernel")
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(NB, as_version=4)
    with _Pythonpath():
        client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": str(tmp_path)}})
        client.execute()   # raises CellExecutionError naming the cell on any error
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    printed = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "engine and hand agree on every gradient" in printed
    if shutil.which("dot"):  # the explorer cell displays the page inline: a sandboxed iframe
        explorer = next(c for c in code if "viz.explore(" in c.source)
        html = [o["data"]["text/html"] for o in explorer.outputs if o.output_type == "execute_result"]
        assert html and html[0].startswith("<iframe") and 'sandbox="allow-scripts"' in html[0]
        assert (tmp_path / "skipgram_explorer.html").is_file()


def test_course_notebooks_run_end_to_end(tmp_path, monkeypatch):
    """Every course notebook runs without an error (its cells assert what the page claims), in one
    kernel: each starts from an empty namespace in a directory of its own, where it writes its
    pictures."""
    _need("nbclient", "nbformat", "ipykernel")
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    combined = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    owner = []  # (notebook name, cell) for every code cell of the course
    for md in COURSE:
        nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
        workdir = tmp_path / md.stem
        workdir.mkdir()
        start = nbformat.v4.new_code_cell(f"%reset -f\nimport os\nos.chdir({str(workdir)!r})\n"
                                          "import matplotlib.pyplot\nmatplotlib.pyplot.close('all')")
        combined.cells.append(start)
        for cell in nb.cells:
            combined.cells.append(cell)
            if cell.cell_type == "code":
                owner.append((md.with_suffix(".ipynb").name, cell))
    monkeypatch.setenv("MPLBACKEND", "Agg")   # the kernel draws the plots without a display
    with _Pythonpath():
        client = NotebookClient(combined, timeout=300, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": str(tmp_path)}})
        try:
            client.execute()
        except CellExecutionError as e:
            failed = next((name for name, cell in owner if cell.get("outputs") and any(
                o.output_type == "error" for o in cell.outputs)), "a course notebook")
            pytest.fail(f"{failed} failed:\n{e}", pytrace=False)
    assert all(cell.execution_count for _, cell in owner), "a course notebook cell did not run"
    if shutil.which("dot"):  # each page wrote its pictures into its own directory
        assert (tmp_path / "01_chain_rule" / "img" / "course" / "01_neuron.svg").is_file()
        assert (tmp_path / "07_attention" / "img" / "course" / "07_attention.svg").is_file()
    assert (tmp_path / "05_gradient_health" / "img" / "course" / "05_layer_stats.png").is_file()
