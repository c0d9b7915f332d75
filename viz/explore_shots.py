"""Screenshots of the explorer for the README: `python -m viz.explore_shots docs/img`.

Opens explorer pages in headless Chromium (Debian's `chromium`, driven by Playwright) and saves:
  explorer_forward.png      the skip-gram step (king -> queen), forward step 2: the matmul
                            C = A @ B with its numbers
  explorer_accumulate.png   the README's small graph, the backward step where the third gradient
                            of h arrives and the sum of its three uses is complete
Needs `pip install playwright` (no `playwright install`: it uses the system Chromium).
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def readme_graph():
    """The README's example: h = tanh(x @ w + b) used three times, so its gradients add up."""
    import tinygrad_lite as tl
    w = tl.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True)
    b = tl.tensor([0.1, -0.2], requires_grad=True)
    x = tl.tensor([[1.0, 2.0], [-1.0, 0.5]])
    x.name = "x"
    h = (x @ w + b).tanh()
    h.name = "h"
    loss = (h * h).sum() + h.sum() * 0.5
    loss.name = "loss"
    return loss, {"w": w, "b": b}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m viz.explore_shots", description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="docs/img")
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from viz.steps import STEPS as GRAPH_STEPS

    from .explore import explore
    os.makedirs(a.out, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    loss, naming, title = GRAPH_STEPS["skipgram"](0)
    skipgram = explore(loss, tmp / "skipgram.html", title=title, **naming).path
    loss, params = readme_graph()
    small = explore(loss, tmp / "small.html", params=params, title="h = tanh(x @ w + b); loss = Σ h² + 0.5 Σ h").path
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 820})
        page.goto(skipgram.as_uri())
        for _ in range(2):
            page.keyboard.press("ArrowRight")
        out1 = os.path.join(a.out, "explorer_forward.png")
        page.screenshot(path=out1)
        page.goto(small.as_uri())
        page.click("#btn-backward")
        while "gradient 3 of 3 arrives" not in page.inner_text("#panel"):
            page.keyboard.press("ArrowRight")
        page.locator(".acc").last.scroll_into_view_if_needed()
        out2 = os.path.join(a.out, "explorer_accumulate.png")
        page.screenshot(path=out2)
        browser.close()
    for path in (out1, out2):
        print(f"{path}  ({os.path.getsize(path) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
