"""docs/tutorial.ipynb: the tutorial as a Jupyter notebook, generated from docs/tutorial.md by
jupytext (`jupytext --to ipynb --set-kernel python3 --output docs/tutorial.ipynb docs/tutorial.md`),
kept in step with the Markdown and executed end to end by nbclient with a kernel of this Python
(ipykernel), so it cannot rot. In CI (env CI set) missing nbclient/ipykernel/jupytext fails."""
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MD, NB = ROOT / "docs" / "tutorial.md", ROOT / "docs" / "tutorial.ipynb"
REGENERATE = "jupytext --to ipynb --set-kernel python3 --output docs/tutorial.ipynb docs/tutorial.md"


def _need(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        msg = f"the notebook tests need {', '.join(missing)} (pip install -e '.[test]')"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(msg)
        pytest.skip(msg)


def test_notebook_matches_the_markdown():
    _need("jupytext", "nbformat")
    import jupytext
    import nbformat
    want = jupytext.reads(MD.read_text(encoding="utf-8"), fmt="md")
    have = nbformat.read(NB, as_version=4)
    assert [(c.cell_type, c.source) for c in have.cells] == [(c.cell_type, c.source) for c in want.cells], \
        f"docs/tutorial.ipynb is out of date with docs/tutorial.md; regenerate it: {REGENERATE}"
    assert have.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") for c in have.cells if c.cell_type == "code")  # committed without outputs


def test_notebook_runs_end_to_end(tmp_path):
    _need("nbclient", "nbformat", "ipykernel")
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(NB, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    try:
        client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": str(tmp_path)}})
        client.execute()   # raises CellExecutionError naming the cell on any error
    finally:
        if env_path:
            os.environ["PYTHONPATH"] = env_path
        else:
            del os.environ["PYTHONPATH"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    printed = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "engine and hand agree on every gradient" in printed
    if shutil.which("dot"):  # the explorer cell displays the page inline: a sandboxed iframe
        explorer = next(c for c in code if "viz.explore(" in c.source)
        html = [o["data"]["text/html"] for o in explorer.outputs if o.output_type == "execute_result"]
        assert html and html[0].startswith("<iframe") and 'sandbox="allow-scripts"' in html[0]
        assert (tmp_path / "skipgram_explorer.html").is_file()
