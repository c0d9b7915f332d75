"""Demo stage: the embedding space evolving while skip-gram trains on real text (head500).

Trains skip-gram with negative sampling on the first 500 Wikipedia articles of the shared data
(../shared/data/head500.noblanks.cor) with snapshots of king, queen, man, woman, car, ... and
writes evolution/{snapshots.json, evolution.html, evolution.gif}; the report shows the GIF, the
pairs' cosines at start and end, and links the HTML page (a slider over the frames).
"""
import os
from pathlib import Path

CORPUS = "head500.noblanks.cor"


def find_corpus():
    """The head500 corpus: $TINYGRAD_LITE_DATA, <repo>/../shared/data, /work/shared/data; None if absent."""
    here = Path(__file__).resolve().parents[1]
    dirs = [os.environ.get("TINYGRAD_LITE_DATA"), here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data",
            Path("/work/shared/data")]
    for d in dirs:
        if d and (Path(d) / CORPUS).is_file():
            return Path(d) / CORPUS
    return None


def stage(d, res, skip):
    """Train with snapshots and write the pictures; `skip(msg)` raises the demo's skip exception."""
    from models.text import read_sentences
    from models.word2vec_objectives import Snapshots, train_word2vec, write_snapshot_outputs
    path = find_corpus()
    if path is None:
        skip(f"the corpus {CORPUS} was not found (looked in $TINYGRAD_LITE_DATA and ../shared/data)")
    sentences = read_sentences(str(path))
    fast = d.s.smoke_test
    if fast:
        sentences = [s[:2000] for s in sentences[:20]]
    snaps = Snapshots(n=6 if fast else 40)
    epochs = 1 if fast else 5
    d.log(f"embedding evolution: skip-gram on {path.name}, {sum(map(len, sentences)):,} words, {epochs} epochs, "
          "snapshots of " + ", ".join(snaps.requested_words[:6]) + ", ...")
    model, stats = train_word2vec(sentences, dim=16 if fast else 50, epochs=epochs, min_count=2 if fast else 5,
                                  seed=d.seed, progress=not d.quiet, snapshots=snaps)
    outdir = d.out / "evolution"
    outdir.mkdir(parents=True, exist_ok=True)
    paths = write_snapshot_outputs(snaps, str(outdir), gif=not fast)  # --fast: no matplotlib animation
    cos = snaps.cosines
    res.data.update(pairs=[(a, b, float(cos[0, j]), float(cos[-1, j])) for j, (a, b) in enumerate(snaps.pairs)],
                    gif=next((p for p in paths if p.endswith(".gif")), None), html="evolution/evolution.html",
                    missing=snaps.missing, frames=len(snaps.steps), corpus=path.name,
                    words_per_sec=stats["words_per_sec"])
    res.message = f"{len(snaps.steps)} snapshots of {len(snaps.words)} words, {stats['words_per_sec']:,.0f} words/s"


def report_section(rep, d, status_box):
    """The report's section for this stage."""
    sec = rep.section("The embedding space evolving", intro="Skip-gram (negative sampling) trained on real text, "
                      "the first 500 Wikipedia articles (head500), with snapshots of a few words' vectors: a PCA on "
                      "a fixed basis (the final vectors' principal directions), so the frames are comparable, and "
                      "the cosine similarity of chosen pairs over training. king and queen draw closer in angle; "
                      "car moves away from both.")
    r = d.results.get("evolution")
    if not status_box(sec, r):
        return
    if r.data.get("gif"):
        sec.image(r.data["gif"], "PCA (fixed basis) and pair cosines over training (evolution/evolution.gif)",
                  max_width=800)
    sec.html('<p>Interactive version with a slider: <a href="evolution/evolution.html">evolution/evolution.html</a> '
             '(self-contained).</p>')
    sec.table(["word a", "word b", "cosine at the start", "cosine at the end"],
              [[a, b, c0, c1] for a, b, c0, c1 in r.data["pairs"]])
    if r.data.get("missing"):
        sec.text("Not in this corpus's vocabulary, so not followed: " + ", ".join(r.data["missing"]) + ".")
