"""The `tinygrad-lite` command line, the demo and its report (run through `python -m tinygrad_lite_app`).

Every failure a user can cause (missing file, bad flag, corrupt checkpoint, unknown word, no
Graphviz) must end with a non-zero exit status and a one-line message, never a traceback.
The demo runs once with --fast (module-scoped fixture) and its outputs feed the other tests.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import in_ci

ROOT = Path(__file__).resolve().parents[1]
HAS_DOT = shutil.which("dot") is not None


def run_cli(*args, cwd=None, env=None, timeout=120):
    """Run `python -m tinygrad_lite_app ARGS` in a subprocess; returns the CompletedProcess (text)."""
    e = dict(os.environ)
    e.setdefault("MPLBACKEND", "Agg")
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("TINYGRAD_LITE_DEBUG", None)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "tinygrad_lite_app", *map(str, args)], cwd=cwd or ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout)


def assert_clean_error(p, code=None):
    """A non-zero exit, a message on stderr, and no traceback anywhere."""
    assert p.returncode != 0, (p.stdout, p.stderr)
    if code is not None:
        assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr
    assert "error" in p.stderr.lower(), p.stderr


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    """Run `demo --fast` once; returns (output directory, CompletedProcess)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    p = run_cli("demo", "--fast", "--quiet", "--out", out, timeout=300)
    return out, p


# ----------------------------------------------------------------------------- help

@pytest.mark.parametrize("cmd", [[], ["demo"], ["train"], ["sample"], ["similar"], ["graph"]])
def test_help_of_every_subcommand(cmd):
    p = run_cli(*cmd, "--help")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: tinygrad-lite"), p.stdout
    assert "Traceback" not in p.stderr


def test_main_help_lists_subcommands():
    p = run_cli("--help")
    for sub in ("demo", "train", "sample", "similar", "graph"):
        assert re.search(rf"^\s+{sub}\s", p.stdout, re.M), p.stdout


@pytest.mark.parametrize("model", ["mlp", "skipgram", "gpt"])
def test_train_forwards_help_to_the_model(model):
    p = run_cli("train", model, "--help")
    assert p.returncode == 0, p.stderr
    assert "usage:" in p.stdout and "--out" in p.stdout, p.stdout


@pytest.mark.parametrize("model", ["mlp", "skipgram", "gpt"])
def test_train_help_names_the_command_typed(model, capsys):
    """`tinygrad-lite train MODEL --help` shows `usage: tinygrad-lite train MODEL`, not `python -m models.MODEL`;
    the model's own parser keeps its name when used directly."""
    import importlib
    from tinygrad_lite_app.cli import main
    assert main(["train", model, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tinygrad-lite train {model} "), out[:200]
    assert "python -m models" not in out
    assert importlib.import_module(f"models.{model}")._parser().prog == f"python -m models.{model}"  # restored


def test_no_command_prints_help_and_fails():
    p = run_cli()
    assert p.returncode == 2
    assert "usage: tinygrad-lite" in p.stdout + p.stderr


def test_version():
    p = run_cli("--version")
    assert p.returncode == 0 and "tinygrad-lite" in p.stdout


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("args", [["bogus"], ["graph", "--bogus"], ["graph", "--model", "resnet"],
                                  ["demo", "--seed", "x"], ["train", "lstm"], ["sample"],
                                  ["train", "gpt", "--no-such-flag"]])
def test_bad_flags_exit_2_without_traceback(args):
    assert_clean_error(run_cli(*args), code=2)


@pytest.mark.parametrize("args,message", [(["--block-size", "0"], "argument --block-size: must be >= 1, got 0"),
                                          (["--n-head", "3"], "--n-embd 64 must be divisible by --n-head 3"),
                                          (["--lr", "0"], "argument --lr: must be > 0, got 0"),
                                          (["--dropout", "1.0"], "argument --dropout: must be in [0, 1), got 1.0"),
                                          (["--top-k", "0"], "argument --top-k: must be >= 1, got 0")])
def test_train_gpt_out_of_range_flags_are_usage_errors(args, message):
    """Before the fix, `train gpt --block-size 0` got as far as a numpy 'zero-size array' error."""
    p = run_cli("train", "gpt", *args, "--steps", "1", "--quiet")
    assert_clean_error(p, code=2)
    assert f"tinygrad-lite train gpt: error: {message}" in p.stderr, p.stderr
    assert "usage: tinygrad-lite train gpt" in p.stderr and "zero-size" not in p.stderr


@pytest.mark.parametrize("args", [["sample", "no/such/ckpt.pt"], ["similar", "no/such/vectors.tgl", "king"],
                                  ["train", "skipgram", "--text", "no/such/corpus.txt", "--epochs", "1"],
                                  ["train", "gpt", "--text", "no/such/corpus.txt", "--steps", "1"]])
def test_missing_file_is_a_clear_error(args):
    p = run_cli(*args)
    assert_clean_error(p, code=1)
    assert "no/such" in p.stderr


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "ckpt.pt"
    bad.write_bytes(b"this is not a checkpoint at all" * 10)
    p = run_cli("sample", bad)
    assert_clean_error(p, code=1)
    assert p.stderr.startswith("tinygrad-lite: error:"), p.stderr
    p = run_cli("similar", bad, "king")
    assert_clean_error(p, code=1)


def test_truncated_checkpoint_is_a_clear_error(demo_out, tmp_path):
    out, _ = demo_out
    data = (out / "gpt" / "ckpt.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    p = run_cli("sample", cut, "--max-new-tokens", "5")
    assert_clean_error(p, code=1)
    assert "cut.pt" in p.stderr


def test_checkpoint_of_the_wrong_model(demo_out):
    out, _ = demo_out
    p = run_cli("sample", out / "skipgram" / "vectors.tgl")
    assert_clean_error(p, code=1)
    assert "not a GPT checkpoint" in p.stderr
    p = run_cli("similar", out / "gpt" / "ckpt.pt", "king")
    assert_clean_error(p, code=1)
    assert "does not hold word vectors" in p.stderr


def test_directory_without_checkpoint(tmp_path):
    assert_clean_error(run_cli("sample", tmp_path), code=1)
    assert_clean_error(run_cli("similar", tmp_path, "king"), code=1)


def test_graph_unsupported_extension(tmp_path):
    p = run_cli("graph", "--model", "skipgram", "--out", tmp_path / "g.bmp")
    assert_clean_error(p, code=1)
    assert ".svg" in p.stderr


def test_graph_without_graphviz_says_how_to_install(tmp_path):
    """With no `dot` on PATH: rendering fails with install instructions; DOT text still works."""
    env = {"PATH": str(tmp_path)}  # an empty directory: no dot
    p = run_cli("graph", "--model", "skipgram", "--out", tmp_path / "g.svg", env=env)
    assert_clean_error(p, code=1)
    assert "apt-get install graphviz" in p.stderr
    p = run_cli("graph", "--model", "skipgram", "--out", tmp_path / "g.dot", env=env)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


# ----------------------------------------------------------------------------- graph

@pytest.mark.skipif(not HAS_DOT and not in_ci(), reason="Graphviz dot not installed (CI=1 makes it a failure)")
@pytest.mark.parametrize("model,flags", [("skipgram", ["--values", "--grads"]), ("attention", ["--backward"]),
                                         ("mlp", ["--backward", "--grads"]), ("gpt", ["--collapse-depth", "2"])])
def test_graph_writes_svg(tmp_path, model, flags):
    out = tmp_path / f"{model}.svg"
    p = run_cli("graph", "--model", model, "--out", out, *flags)
    assert p.returncode == 0, p.stderr
    svg = out.read_text()
    assert "<svg" in svg and "</svg>" in svg
    assert "wrote" in p.stdout


def test_graph_explain_prints_backward_steps(tmp_path):
    p = run_cli("graph", "--model", "skipgram", "--explain", "--out", tmp_path / "g.dot")
    assert p.returncode == 0, p.stderr
    assert "matmul" in p.stdout


def test_graph_saved_rankdir_and_collapse_flags(tmp_path):
    """--saved, --rankdir and --collapse reach viz.draw_graph: the DOT text carries their marks."""
    plain = tmp_path / "plain.dot"
    assert run_cli("graph", "--model", "attention", "--out", plain).returncode == 0
    plain = plain.read_text()
    assert "saves:" not in plain and "rankdir=TB" in plain
    out = tmp_path / "saved.dot"
    p = run_cli("graph", "--model", "attention", "--saved", "--rankdir", "LR", "--out", out)
    assert p.returncode == 0, p.stderr
    dot = out.read_text()
    assert "saves:" in dot and "rankdir=LR" in dot and "rankdir=TB" not in dot
    out = tmp_path / "gpt.dot"
    p = run_cli("graph", "--model", "gpt", "--collapse", "h.0", "h.1", "--out", out)
    assert p.returncode == 0, p.stderr
    dot = out.read_text()
    boxes = re.findall(r"<B>([\w.]+) \((\w+)\)</B>.*?(\d+) ops \u00b7", dot)
    assert sorted(b[:2] for b in boxes) == [("h.0", "Block"), ("h.1", "Block")], boxes
    assert dot.count("box3d") == 2
    out = tmp_path / "gpt1.dot"
    assert run_cli("graph", "--model", "gpt", "--collapse", "h.1", "--out", out).returncode == 0
    boxes = re.findall(r"<B>([\w.]+) \((\w+)\)</B>.*?(\d+) ops \u00b7", out.read_text())
    assert [b[0] for b in boxes] == ["h.1"], boxes                   # --collapse replaces the default depth 2


def test_graph_collapse_of_an_unknown_module_is_a_clear_error(tmp_path):
    p = run_cli("graph", "--model", "gpt", "--collapse", "h.9", "--out", tmp_path / "g.dot")
    assert_clean_error(p, code=1)
    assert "'h.9'" in p.stderr and "h.0" in p.stderr
    p = run_cli("graph", "--model", "skipgram", "--collapse", "W_e", "--out", tmp_path / "g.dot")
    assert_clean_error(p, code=1)
    assert "no modules" in p.stderr
    assert_clean_error(run_cli("graph", "--rankdir", "BT", "--out", tmp_path / "g.dot"), code=2)
    assert not (tmp_path / "g.dot").exists()


def test_graph_out_creates_missing_parent_directories(tmp_path, capsys):
    """Documented in --help: `--out a/b/g.dot` creates a/b."""
    from tinygrad_lite_app.cli import main
    assert main(["graph", "--help"]) == 0
    assert "parent directories are created" in " ".join(capsys.readouterr().out.split())
    out = tmp_path / "new" / "sub" / "g.dot"
    assert main(["graph", "--model", "skipgram", "--out", str(out)]) == 0
    assert out.read_text().startswith("digraph") and f"wrote {out}" in capsys.readouterr().out


def test_sample_temperature_zero_is_greedy(tmp_path, capsys):
    """`sample --temperature 0` is accepted and means argmax (as GPT.generate documents): the seed
    does not matter; a negative temperature is a usage error."""
    import tinygrad_lite as tl
    from models.chartext import CharVocab
    from models.gpt import GPT, GPTConfig, save_checkpoint
    from tinygrad_lite_app.cli import main
    vocab = CharVocab.from_text("abcdefgh ")
    tl.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(vocab), block_size=8, n_layer=1, n_head=2, n_embd=16))
    ckpt = tmp_path / "ckpt.pt"
    save_checkpoint(str(ckpt), model, vocab)
    greedy = vocab.decode(model.generate(vocab.encode("ab")[None, :], 12, temperature=0)._data[0])
    outs = []
    for seed in ("1", "2"):
        assert main(["sample", str(tmp_path), "--prompt", "ab", "--max-new-tokens", "12", "--temperature", "0",
                     "--seed", seed]) == 0, capsys.readouterr().err
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == greedy + "\n"
    assert main(["sample", str(ckpt), "--prompt", "ab", "--max-new-tokens", "12", "--seed", "1"]) == 0
    assert capsys.readouterr().out != outs[0]                        # the default 0.8 samples
    for bad in (["--temperature", "-0.5"], ["--temperature", "nan"], ["--top-k", "0"]):
        assert main(["sample", str(ckpt), *bad]) == 2
        err = capsys.readouterr().err
        assert "error: argument " + bad[0] in err and "Traceback" not in err, err
    assert "must be >= 0 (0 = greedy)" in (run_cli("sample", ckpt, "--temperature", "-1").stderr)


# ----------------------------------------------------------------------------- demo

def test_demo_fast_succeeds(demo_out):
    out, p = demo_out
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stderr
    assert not (out / "errors.log").exists()


def test_demo_prints_results(demo_out):
    _, p = demo_out
    assert re.search(r"accuracy", p.stdout + p.stderr, re.I)
    assert "nearest to" in p.stdout


def test_demo_writes_outputs(demo_out):
    out, _ = demo_out
    for f in ("report.html", "gpt/ckpt.pt", "gpt/metrics.json", "skipgram/vectors.tgl", "skipgram/vectors.txt",
              "plots/gpt_curve.png", "plots/gpt_attention.png", "plots/word_vectors_pca.png",
              "graphs/mlp_forward.dot", "graphs/mlp_backward.dot", "graphs/attention_block.dot"):
        assert (out / f).is_file(), f
    if HAS_DOT:
        for f in ("graphs/mlp_forward.svg", "graphs/mlp_backward.svg", "graphs/attention_block.svg"):
            assert (out / f).is_file(), f


def test_report_is_self_contained(demo_out):
    out, _ = demo_out
    html = (out / "report.html").read_text(encoding="utf-8")
    for section in ("Overview", "MLP on the digits", "Skip-gram word vectors", "Character-level GPT",
                    "Computation graphs", "Nearest neighbours", "Test accuracy"):
        assert section in html, section
    assert html.count("data:image/png;base64,") >= 4         # curves, PCA, attention heat map
    if HAS_DOT:
        assert html.count("<svg") >= 3                        # graphs inlined as SVG
    # nothing is loaded from elsewhere: no external src/href except in-page anchors
    assert not re.search(r'\bsrc="(?!data:)', html)
    assert not re.search(r'<link\b', html)
    assert "<table>" in html and "<td>failed</td>" not in html and 'class="error"' not in html


def test_sample_and_similar_on_demo_outputs(demo_out):
    out, _ = demo_out
    p = run_cli("sample", out / "gpt", "--max-new-tokens", "20", "--prompt", "The ", "--seed", "3")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("The ")
    assert run_cli("sample", out / "gpt", "--max-new-tokens", "20", "--prompt", "The ", "--seed", "3").stdout \
        == p.stdout                                           # seeded: reproducible
    p = run_cli("similar", out / "skipgram", "function", "--pair", "list", "string", "--topn", "3")
    assert p.returncode == 0, p.stderr
    assert "nearest to 'function'" in p.stdout and "similarity('list', 'string')" in p.stdout
    p = run_cli("similar", out / "skipgram" / "vectors.txt", "zzzunknownzzz")
    assert_clean_error(p, code=1)
    assert "zzzunknownzzz" in p.stderr
    p = run_cli("sample", out / "gpt", "--prompt", "\u20ac\u20ac")
    assert_clean_error(p, code=1)


def test_demo_without_graphviz_completes_and_says_so(tmp_path):
    """No `dot` on PATH: the demo still succeeds; the report says graphs were skipped and how to install."""
    out = tmp_path / "out"
    p = run_cli("demo", "--fast", "--quiet", "--out", out, env={"PATH": str(tmp_path)}, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Graph pictures were skipped" in html and "apt-get install graphviz" in html
    assert (out / "graphs" / "mlp_forward.dot").is_file()


# ----------------------------------------------------------------------------- in-process units

def test_report_embeds_images(tmp_path):
    from tinygrad_lite_app.report import Report, fmt_number
    svg = tmp_path / "a.svg"
    svg.write_text('<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "x" "y">\n<svg xmlns="http://www.w3.org/2000/svg">'
                   '<text>hi &amp; bye</text></svg>')
    png = tmp_path / "b.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    rep = Report("t")
    sec = rep.section("S <1>", intro="a < b")
    sec.image(svg, "an svg").image(png, "a png").table(["k", "v"], [["acc", 0.9781], ["n", 1797]])
    html = rep.write(tmp_path / "r.html").read_text()
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html and "<svg" in html
    assert "data:image/png;base64," in html
    assert "a &lt; b" in html and "S &lt;1&gt;" in html
    assert '<td class="num">0.9781</td>' in html and "1,797" in html
    assert fmt_number(1.5e-5) == "1.500e-05" and fmt_number(2.0) == "2"
    with pytest.raises(FileNotFoundError):
        sec.image(tmp_path / "missing.png")


def test_cli_main_in_process_returns_codes(tmp_path, capsys):
    from tinygrad_lite_app.cli import main
    assert main(["similar", str(tmp_path / "nope"), "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-lite: error:") and "nope" in err
    assert main(["graph", "--bogus"]) == 2


def test_gpt_attention_weights_match_the_model():
    """The attention weights read from the graph (viz.attention) reproduce the model's attention output."""
    import tinygrad_lite as tl
    from models import gpt
    from viz.attention import attention_weights
    tl.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))
    idx = np.array([1, 5, 2, 7, 3, 3])
    maps = attention_weights(model, idx)
    assert len(maps) == 2 and maps[0].shape == (2, 6, 6)
    for w in maps:
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
        assert np.all(np.triu(w, 1) == 0)                     # causal: no weight on the future
    with tl.no_grad():                                        # layer 0: weights @ V, heads merged, c_proj
        T, C, H = 6, 16, 2
        x = model.wte(tl.Tensor(idx[None])) + model.wpe(tl.arange(T))
        b = model.h[0]
        _, _, v = b.attn.c_attn(b.ln_1(x)).split(C, dim=2)
        v = v.reshape(1, T, H, C // H).transpose(1, 2).numpy().astype(np.float64)[0]
        y = (maps[0] @ v).transpose(1, 0, 2).reshape(T, C)
        mine = b.attn.c_proj(tl.Tensor(y[None].astype(np.float32))).numpy()
        ref = b.attn(b.ln_1(x)).numpy()
    np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-5)


def test_failing_stage_fails_the_demo_clearly(tmp_path, monkeypatch, capsys):
    """A stage that breaks is reported (stderr, errors.log, report) and the exit status is 1."""
    from tinygrad_lite_app import demo

    def boom(d, r):
        raise RuntimeError("simulated breakage")

    monkeypatch.setattr(demo, "_stage_mlp", lambda d, r: None)
    for name in ("_stage_skipgram", "_stage_gpt", "_stage_graphs", "_stage_plots"):
        monkeypatch.setattr(demo, name, boom)
    assert demo.run(out=tmp_path, fast=True, quiet=True) == 1
    err = capsys.readouterr().err
    assert "4 stage(s) failed" in err and "simulated breakage" in err
    assert "simulated breakage" in (tmp_path / "errors.log").read_text()
    html = (tmp_path / "report.html").read_text()
    assert html.count('class="error"') >= 3 and "<td>failed</td>" in html


def test_settings_and_report_say_which_demo_ran(tmp_path):
    """The report says 'full demo' for the full settings and '--fast' for the smoke test."""
    from tinygrad_lite_app import demo
    assert demo.Settings.full().smoke_test is False and demo.Settings.fast().smoke_test is True
    for settings, words in ((demo.Settings.full(), "full demo"), (demo.Settings.fast(), "--fast")):
        d = demo._Demo(tmp_path / words.strip("-").replace(" ", "_"), settings, 0, True)
        d.out.mkdir(parents=True)
        html = demo.write_report(d, 1.0).read_text()
        assert f"Settings: {words}" in html


def test_demo_report_links_the_explorer_pages(demo_out):
    import shutil
    if shutil.which("dot") is None and not os.environ.get("CI"):
        pytest.skip("the explorer pages need Graphviz's dot")
    out, _ = demo_out
    report = (out / "report.html").read_text(encoding="utf-8")
    for name in ("skipgram", "mlp", "attention"):
        assert f'<a href="graphs/{name}_explorer.html">' in report
        page = (out / "graphs" / f"{name}_explorer.html").read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and 'id="explorer-data"' in page
