"""The explorer page in a real browser: headless Chromium (Debian's package) driven by Playwright.

The tests click through every step of a small graph and compare what the page shows (read from
the DOM, as a learner sees it: 4 significant digits) with the engine's own values and gradients,
taken from a real `loss.backward()` with hooks, and check the order of the backward steps against
the order in which the engine ran. Any JavaScript error in the console fails the test, and so does
any network request (the file must work offline). Without Chromium or Playwright these tests skip,
except in CI (env CI set), where they fail: `bash run.sh test` installs both.
"""
import importlib.util
import os
import shutil

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.graph import build_graph

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _need_browser():
    missing = []
    if chromium_path() is None:
        missing.append("Chromium (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python (pip install playwright)")
    if shutil.which("dot") is None:
        missing.append("Graphviz's dot (apt-get install graphviz)")
    if missing:
        msg = "the explorer's browser tests need " + " and ".join(missing)
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(msg + "; CI must run them (bash run.sh test installs them)")
        pytest.skip(msg)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page of the explorer opened from disk, with console errors and network requests recorded."""

    def __init__(self, browser, path):
        self.errors, self.requests = [], []
        self.pg = browser.new_page(viewport={"width": 1400, "height": 900})
        self.pg.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.pg.on("pageerror", lambda e: self.errors.append(str(e)))
        self.pg.on("request", lambda r: None if r.url.startswith(("file:", "data:", "about:")) else
                   self.requests.append(r.url))
        self.pg.goto(path.resolve().as_uri())

    def numbers(self, selector):
        """The numbers shown in the table of the array block(s) matching selector."""
        texts = self.pg.eval_on_selector_all(selector + " td.num", "els => els.map(e => e.textContent)")
        return np.array([float(t) for t in texts])

    def body(self, attr):
        return self.pg.get_attribute("body", attr)

    def close(self):
        self.pg.close()


def shown(a, want, what):
    """The page shows 4 significant digits: compare at that precision."""
    want = np.asarray(want, np.float64).reshape(-1)
    assert a.shape == want.shape, (what, a, want)
    np.testing.assert_allclose(a, want, rtol=6e-4, atol=1e-9, err_msg=what)


def small_graph():
    """h = tanh(x @ w + b) used three times (twice by h * h, once by h.sum()): gradients accumulate."""
    w = tl.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True)
    b = tl.tensor([0.1, -0.2], requires_grad=True)
    x = tl.tensor([[1.0, 2.0], [-1.0, 0.5]])
    h = (x @ w + b).tanh()
    loss = (h * h).sum() + h.sum() * 0.5
    return loss, {"w": w, "b": b}, h


def test_click_through_every_step_of_a_small_graph(browser, tmp_path):
    from viz import explore
    loss, params, h = small_graph()
    path = explore(loss, tmp_path / "small.html", params=params, title="small graph").path
    view = build_graph(loss, params=params)
    # the engine's own run: the order its rules run (a tensor's hooks fire just before its op's
    # rule) and each tensor's complete gradient
    order, grads = [], {}
    for n in view.tensors:
        if n.requires_grad:
            n.tensor.register_hook(lambda g, t=n.tensor: order.append(t) or grads.__setitem__(id(t), g._data.copy()))
    loss.backward(retain_graph=True)
    for name, p in params.items():
        grads[id(p)] = p.grad._data
    engine_ops = [view.node_of(t).producer for t in order if t._op is not None]
    n_ops = len(engine_ops)

    page = Page(browser, path)
    try:
        assert page.body("data-phase") == "start"
        # ---- forward: in creation order, each op's result value as the engine computed it
        for k in range(1, n_ops + 1):
            page.pg.click("#btn-next")
            op = view.op(engine_ops[n_ops - k])
            assert page.body("data-phase") == "forward" and page.body("data-step") == str(k)
            assert page.body("data-op") == op.id
            assert page.pg.inner_text("#step-label") == f"forward {k} / {n_ops}: {op.name}"
            shown(page.numbers('#panel .arr[data-role="value"]'), view.tensor(op.output).tensor._data, f"F{k} value")
            blocks = page.pg.locator('#panel .arr[data-role="input"]')
            assert blocks.count() == len(op.inputs)
            for i, tid in enumerate(op.inputs):  # in argument order (h * h shows h twice)
                assert blocks.nth(i).get_attribute("data-tensor") == tid
                got = np.array([float(t) for t in blocks.nth(i).locator("td.num").all_text_contents()])
                shown(got, view.tensor(tid).tensor._data, f"F{k} input {tid}")
            assert page.pg.locator("#graph g.node.cur").count() == 1
        # ---- backward: arrow keys; the order and every gradient are the engine's
        accum_seen = {}
        for k in range(1, n_ops + 1):
            page.pg.keyboard.press("ArrowRight")
            op = view.op(engine_ops[k - 1])
            assert page.body("data-phase") == "backward" and page.body("data-step") == str(k)
            assert page.body("data-op") == op.id, f"backward step {k}: the page runs {page.body('data-op')}, " \
                                                 f"the engine ran {op.id}"
            assert page.pg.inner_text("#step-label") == f"backward {k} / {n_ops}: {op.name}"
            out = view.tensor(op.output).tensor
            shown(page.numbers('#panel .arr[data-role="grad-in"]'), grads[id(out)], f"B{k} dC")
            sends = page.pg.locator('#panel .arr[data-role="grad-out"]')
            sent = {}
            for i in range(sends.count()):
                tid = sends.nth(i).get_attribute("data-tensor")
                texts = sends.nth(i).locator("td.num").all_text_contents()
                sent.setdefault(tid, []).append(np.array([float(t) for t in texts]))
            assert set(sent) == {t for t in op.inputs if view.tensor(t).requires_grad}
            for tid, got in sent.items():
                x = view.tensor(tid)
                if x.grad_uses == 1:   # its one use: what it receives is its whole gradient
                    shown(got[0], grads[id(x.tensor)], f"B{k} d{tid}")
            # where gradients accumulate: the sum being formed, and the total = the engine's gradient
            boxes = page.pg.locator('#panel .acc[data-role="accum"]')
            for i in range(boxes.count()):
                box = boxes.nth(i)
                tid = box.get_attribute("data-tensor")
                n_seen = accum_seen.get(tid, 0)
                before = box.locator('.arr[data-role="partial-before"] td.num').all_text_contents()
                add = np.array([float(t) for t in box.locator('.arr[data-role="partial-add"] td.num').all_text_contents()])
                after_sel = '.arr[data-role="partial-total"], .arr[data-role="partial-after"]'
                after = np.array([float(t) for t in box.locator(after_sel).locator("td.num").all_text_contents()])
                assert bool(before) == (n_seen > 0)
                prev = np.array([float(t) for t in before]) if before else 0.0
                np.testing.assert_allclose(after, prev + add, rtol=2e-3, atol=2e-3)
                accum_seen[tid] = n_seen + 1
                x = view.tensor(tid)
                if accum_seen[tid] == x.grad_uses:
                    assert box.locator('.arr[data-role="partial-total"]').count() == 1
                    shown(after, grads[id(x.tensor)], f"B{k} total of {tid}")
                assert f"gradient {n_seen + 1} of {x.grad_uses} arrives" in box.inner_text()
            assert page.pg.locator("#graph g.node.cur").count() == 1
            assert page.pg.locator("#graph g.edge.gout").count() >= 1
        hid = view.node_of(h).id
        assert accum_seen == {hid: 3}
        assert page.pg.locator("#btn-next").is_disabled()
        # ---- clicking a parameter shows its value and its gradient (= w.grad)
        wid = view.node_of(params["w"]).id
        page.pg.click(f'#graph g.node:has(title:text-is("{wid}"))')
        shown(page.numbers('#panel .arr[data-role="value"]'), params["w"]._data, "w value")
        shown(page.numbers('#panel .arr[data-role="grad"]'), params["w"].grad._data, "w grad")
        # ---- back with the left arrow key
        page.pg.keyboard.press("ArrowLeft")
        assert page.body("data-step") == str(n_ops - 1)
        # ---- a tensor's name in the panel is a link to that tensor (here: h, the result of tanh)
        page.pg.keyboard.press("ArrowLeft")
        assert page.pg.inner_text("#step-label") == f"backward {n_ops - 2} / {n_ops}: tanh"
        page.pg.locator(f'#panel a.tref[data-select="{view.node_of(h).id}"]').first.click()
        shown(page.numbers('#panel .arr[data-role="value"]'), h._data, "h value")
        shown(page.numbers('#panel .arr[data-role="grad"]'), grads[id(h)], "h grad")
        assert page.pg.locator("#panel h2").inner_text() == "tanh"
        assert page.errors == [], page.errors
        assert page.requests == [], page.requests
    finally:
        page.close()


def test_gpt_modules_open_on_click_and_heat_maps_draw(browser, tmp_path):
    from viz.steps import STEPS as GRAPH_STEPS
    from viz import explore
    loss, naming, title = GRAPH_STEPS["gpt"](0)
    path = explore(loss, tmp_path / "gpt.html", collapse_depth=2, title=title, **naming).path
    page = Page(browser, path)
    try:
        assert page.pg.locator("#layout-label").inner_text() == ""
        page.pg.click('#graph g.node.box:has-text("h.0")')
        assert page.pg.locator("#layout-label").inner_text() == "module h.0 opened"
        page.pg.click('#graph g.node.box:has-text("h.0.attn")')
        assert page.pg.locator("#layout-label").inner_text() == "module h.0.attn opened"
        assert page.pg.locator("#graph g.node:has-text('masked_softmax')").count() >= 1
        page.pg.click("#btn-up")
        assert page.pg.locator("#layout-label").inner_text() == "module h.0 opened"
        page.pg.click("#btn-backward")
        assert page.body("data-phase") == "backward" and page.body("data-step") == "1"
        for _ in range(12):
            page.pg.keyboard.press("ArrowRight")
        assert page.pg.locator("#panel canvas").count() >= 1   # larger tensors: heat maps
        inside = page.pg.locator("#inside-label").inner_text()   # the current op is drawn inside a box?
        cur_is_box = page.pg.locator("#graph g.node.cur.box").count() == 1
        assert cur_is_box == inside.startswith("the current op is inside ")
        assert page.pg.locator("#graph g.node.cur").count() == 1
        page.pg.click("#btn-overview")
        assert page.pg.locator("#layout-label").inner_text() == ""
        assert page.errors == [], page.errors
        assert page.requests == [], page.requests
    finally:
        page.close()


def test_notebook_display_runs_inside_its_sandboxed_iframe(browser, tmp_path):
    """What Jupyter shows: _repr_html_'s iframe (srcdoc, scripts allowed, nothing else) runs the page."""
    from viz import explore
    loss, params, _ = small_graph()
    page = explore(loss, None, params=params)
    host = tmp_path / "notebook_output.html"
    host.write_text("<!DOCTYPE html><html><body>" + page._repr_html_() + "</body></html>", encoding="utf-8")
    p = Page(browser, host)
    try:
        frame = p.pg.frame_locator("iframe")
        assert frame.locator("#step-label").inner_text() == "start"
        frame.locator("#btn-backward").click()
        assert frame.locator("#step-label").inner_text() == "backward 1 / 8: add"
        assert frame.locator("#graph g.node.cur").count() == 1
        assert p.errors == [] and p.requests == []
    finally:
        p.close()


def _nan_graph():
    a = tl.tensor([1.0, -1.0, 0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        return (a.log() * a).sum()


def _cat_slice_graph():
    p = tl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    q = tl.tensor([[5.0, 6.0]], requires_grad=True)
    return (tl.cat([p, q], dim=0)[1:, :] ** 2).sum()


def _gather_graph():
    tl.manual_seed(0)
    w = tl.randn(50, 8, requires_grad=True)          # 400 numbers: heat maps
    idx = tl.tensor(np.array([0, 2, 2, 7]))
    return (w[idx] * w[idx]).sum()


def _non_scalar_root():
    v = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    return v * 2


def _no_ops():
    return tl.tensor([1.0, 2.0]).sum() * 2           # nothing requires grad: nothing recorded


@pytest.mark.parametrize("build", [_nan_graph, _cat_slice_graph, _gather_graph, _non_scalar_root, _no_ops],
                         ids=lambda f: f.__name__.strip("_"))
def test_any_user_graph_steps_to_the_end_without_errors(browser, tmp_path, build):
    from viz import explore
    with np.errstate(all="ignore"):
        loss = build()
        page = explore(loss, tmp_path / "g.html")
    p = Page(browser, page.path)
    try:
        seen = 0
        while not p.pg.locator("#btn-next").is_disabled():
            p.pg.keyboard.press("ArrowRight")
            seen += 1
            assert p.pg.locator("#graph g.node.cur").count() == 1
        assert seen == 2 * page.steps
        if page.steps:
            assert p.pg.inner_text("#step-label").startswith(f"backward {page.steps} / {page.steps}")
        else:
            assert "No ops were recorded" in p.pg.inner_text("#panel")
        p.pg.locator("#graph g.node").first.click()
        assert p.pg.locator('#panel .arr[data-role="value"]').count() == 1
        assert p.errors == [] and p.requests == []
    finally:
        p.close()


def test_page_after_a_plain_backward_marks_what_was_freed(browser, tmp_path):
    """explore after loss.backward() (no retain_graph): every step plays without errors, the leaves
    show their .grad, freed values and gradients read 'freed' / 'not kept'."""
    from viz import explore
    w = tl.tensor(np.linspace(-1, 1, 600).reshape(20, 30), requires_grad=True)
    b = tl.tensor([0.5, -0.25], requires_grad=True)
    loss = (w.tanh() * 2.0).sum() + (b * b).sum()
    loss.backward()
    page = explore(loss, tmp_path / "f.html", params={"w": w, "b": b})
    p = Page(browser, page.path)
    try:
        texts = []
        while not p.pg.locator("#btn-next").is_disabled():
            p.pg.keyboard.press("ArrowRight")
            texts.append(p.pg.inner_text("#panel"))
        assert len(texts) == 2 * page.steps
        assert any("value freed by backward()" in t for t in texts)
        assert any("not kept: backward() freed what this op saved" in t for t in texts)
        view = build_graph(loss, params={"w": w, "b": b})
        p.pg.locator(f'#graph g.node:has(title:text-is("{view.node_of(b).id}"))').first.click()
        shown(p.numbers('#panel .arr[data-role="grad"]'), b.grad._data, "b.grad after a plain backward")
        assert p.errors == [] and p.requests == []
    finally:
        p.close()
