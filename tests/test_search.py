"""models/search.py and the `search`, `embed` and `train encoder` commands: corpus files, the
embedding cache, exact and HNSW indexes, the help-topics corpus and its labelled queries."""
import json
import os

import numpy as np
import pytest

from models.search import (ExactIndex, LABELLED_QUERIES, cache_path, corpus_embeddings, is_answer, labelled_recall,
                           pydoc_documents, pydoc_pairs, read_documents,
                           section_text)
from tinygrad_lite_app.cli import main as cli

from test_encoder import needs_model
from encoder_cases import shared_minilm


def test_read_documents_plain_and_jsonl(tmp_path):
    plain = tmp_path / "docs.txt"
    plain.write_text("first doc\n\n  second doc  \n")
    assert read_documents(plain) == ["first doc", "second doc"]
    js = tmp_path / "docs.jsonl"
    js.write_text(json.dumps({"title": "T", "text": "body one"}) + "\n" + json.dumps({"body": "b", "text": "two"}) + "\n")
    assert read_documents(js) == ["body one", "two"]
    assert read_documents(js, titles=True) == (["body one", "two"], ["T", None])
    with pytest.raises(ValueError, match=r"docs.jsonl:1: expected a JSON object with a string field 'body'"):
        read_documents(js, field="body")
    (tmp_path / "bad.jsonl").write_text("not json\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: not a JSON line"):
        read_documents(tmp_path / "bad.jsonl")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="no documents"):
        read_documents(tmp_path / "empty.txt")


def test_exact_index_is_brute_force_cosine():
    rng = np.random.default_rng(0)
    v, q = rng.normal(size=(200, 16)), rng.normal(size=(5, 16))
    scores, ids = ExactIndex(v).search(q, k=7)
    cos = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (v / np.linalg.norm(v, axis=1, keepdims=True)).T
    np.testing.assert_array_equal(ids, np.argsort(-cos, axis=1)[:, :7])
    np.testing.assert_allclose(scores, np.take_along_axis(cos, ids, 1), rtol=1e-5)
    assert ExactIndex(v).search(q, k=500)[1].shape == (5, 200)                # k capped at n
    many = rng.normal(size=(200_000, 16))                                     # queries in several chunks
    np.testing.assert_array_equal(ExactIndex(many).search(many[:130], 3)[1][:, 0], np.arange(130))
    with pytest.raises(ValueError, match="queries have 3 dims, the index 16"):
        ExactIndex(v).search(np.zeros((1, 3)))


def test_hnsw_index_recall_against_exact():
    pytest.importorskip("faiss")
    from models.search import HnswIndex
    rng = np.random.default_rng(1)
    v, q = rng.normal(size=(3000, 24)).astype(np.float32), rng.normal(size=(50, 24)).astype(np.float32)
    _, exact = ExactIndex(v).search(q, 10)
    scores, approx = HnswIndex(v).search(q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.9
    assert np.all(np.diff(scores, axis=1) <= 1e-6)                             # best first


def test_pydoc_corpus_and_labels():
    docs = pydoc_documents()
    assert 150 <= len(docs) <= 400
    assert len({(d["title"], d["text"]) for d in docs}) == len(docs)          # no duplicate sections
    titles = [d["title"] for d in docs]
    for query, answers in LABELLED_QUERIES:                                  # every query has an answer
        assert any(is_answer(t, answers) for t in titles), query
    pairs = dict(pydoc_pairs())
    assert pairs['The "try" statement'].startswith('The "try" statement specifies exception handlers')


# ----------------------------------------------------------------------------- with the model
@needs_model
def test_cache_is_reused_until_file_or_model_changes(tmp_path):
    model = shared_minilm()
    f = tmp_path / "c.txt"
    f.write_text("cats purr\ndogs bark\n")
    docs, emb, cache, reused = corpus_embeddings(model, f)
    assert not reused and os.path.exists(cache) and emb.shape == (2, 384)
    docs2, emb2, cache2, reused2 = corpus_embeddings(model, f)
    assert reused2 and cache2 == cache and np.array_equal(emb, emb2)
    f.write_text("cats purr\ndogs bark\nbirds sing\n")
    _, emb3, cache3, reused3 = corpus_embeddings(model, f)
    assert not reused3 and cache3 != cache and emb3.shape == (3, 384)
    assert not os.path.exists(cache)                                          # the stale cache is removed
    np.testing.assert_allclose(emb3[:2], emb, atol=1e-6)
    other = shared_minilm().__class__.from_pretrained(model.source)
    other.max_seq_length = 128                                                # a different model set-up
    assert cache_path(other, f) != cache3


@needs_model
def test_labelled_queries_find_their_sections():
    """Each labelled question among the sections that answer the questions plus every fourth other
    section (about 90 of the 168; the README's recall figures use all of them)."""
    model = shared_minilm()
    docs = [d for i, d in enumerate(pydoc_documents())
            if i % 4 == 0 or any(is_answer(d["title"], a) for _, a in LABELLED_QUERIES)]
    emb = model.encode([section_text(d, short=True) for d in docs])
    recall, rows = labelled_recall(model, docs, emb, k=5)
    assert recall >= 0.8, [r for r in rows if not r[2]]
    top = dict((q, titles) for q, titles, _ in rows)
    assert is_answer(top["how do I catch an exception"][0], ['"try" statement', '"except" clause', "exceptions"])


@needs_model
def test_search_and_embed_commands(tmp_path, capsys):
    corpus = tmp_path / "animals.txt"
    corpus.write_text("The cat sleeps on the sofa.\nStock markets fell sharply today.\n"
                      "A recipe for tomato soup.\nPuppies love to play fetch in the park.\n")
    assert cli(["search", "--corpus", str(corpus), "-k", "2", "kittens", "and", "dogs"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.strip().startswith(("1.", "2."))]
    assert len(lines) == 2 and all(("cat" in ln or "Puppies" in ln) for ln in lines), out
    assert cli(["search", "--corpus", str(corpus), "soup"]) == 0
    assert "(cached)" in capsys.readouterr().out
    assert cli(["embed", str(corpus), "--out", str(tmp_path / "x.npy")]) == 0
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (4, 384)
    np.testing.assert_allclose(x, shared_minilm().encode(corpus.read_text().splitlines()), atol=1e-6)
    assert cli(["search", "--corpus", str(tmp_path / "missing.txt"), "q"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert cli(["search", "--corpus", str(corpus), "-k", "0", "q"]) == 2


@needs_model
def test_train_encoder_command_writes_a_checkpoint_search_uses(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sort a list\tlist.sort() orders the items\nread a file\topen() gives a file object\n"
                     "square root\tmath.sqrt returns the root\nrandom number\trandom.random gives a float\n"
                     "join strings\tstr.join concatenates strings\nupper case\tstr.upper capitalises letters\n")
    out = tmp_path / "ft"
    rc = cli(["train", "encoder", "--pairs", str(pairs), "--out", str(out), "--batch-size", "2",
              "--val-fraction", "0.34", "--lr", "1e-4", "--max-pairs", "2"])
    text = capsys.readouterr().out
    assert rc == 0 and "held-out retrieval before" in text and "after" in text, text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_pairs"] == 2 and len(metrics["losses"]) == 1 and metrics["val_pairs"] == 2
    assert os.path.exists(out / "model.safetensors") and os.path.exists(out / "tokenizer.json")
    corpus = tmp_path / "c.txt"
    corpus.write_text("list.sort() orders the items\nmath.sqrt returns the root\n")
    assert cli(["search", "--model", str(out), "--corpus", str(corpus), "-k", "1", "sort a list"]) == 0
    assert "list.sort" in capsys.readouterr().out
    pairs.write_text("no tab here\n")
    assert cli(["train", "encoder", "--pairs", str(pairs), "--out", str(out)]) == 1
    assert "expected `query<TAB>positive`" in capsys.readouterr().err


@needs_model
def test_demo_search_stage(tmp_path):
    """The demo's semantic-search stage (fast settings): its questions find their sections, the
    report gets the table and the attention heat maps."""
    from tinygrad_lite_app import demo
    d = demo._Demo(tmp_path, demo.Settings.fast(), 0, True)
    res = demo.StageResult("search")
    demo._stage_search(d, res)
    answers = dict(LABELLED_QUERIES)
    for q, top in res.data["results"]:
        assert any(is_answer(t, answers[q]) for t, _ in top), (q, top)
    assert res.data["recall"] == 1.0 and res.data["plot"].exists()
    assert (tmp_path / "search" / "pydoc_sections.jsonl").exists()
