"""Fast tests of models/skipgram.py: the worked example exactly, SGNS learns on a tiny corpus,
queries, save/load round trips, evaluation helpers and clear errors on bad input."""
import json

import numpy as np
import pytest

from models.skipgram import (PairBatches, SkipGramNS, SkipGramSoftmax, WordVectors, cosine, main, train_sgns,
                             worked_example)
from models.text import Vocab, default_corpus, read_sentences, tokenize
from models.word_eval import evaluate_analogies, evaluate_word_pairs, rankdata, read_word_pairs, spearman


# ---------------------------------------------------------------------- the worked example
def test_worked_example_exact():
    r = worked_example()
    np.testing.assert_allclose(r["scores"], [0.46, 0.52, 0.58], atol=1e-12)
    np.testing.assert_allclose(r["probs"], [0.31355, 0.33293, 0.35352], atol=5e-6)
    assert r["loss"] == pytest.approx(1.09981, abs=5e-6)
    np.testing.assert_allclose(r["dL_ds"], [0.31355, -0.66707, 0.35352], atol=5e-6)
    np.testing.assert_allclose(r["dL_de_king"], [0.0039976] * 3, atol=5e-8)
    np.testing.assert_allclose(r["e_king_after"], [0.0996, 0.1996, 0.2996], atol=5e-6)
    assert round(r["cos_close"], 5) == 0.99022
    assert round(r["cos_far"], 5) == 0.63300
    assert cosine([1, 0], [0, 2]) == 0.0


def test_softmax_model_loss_falls():
    m = SkipGramSoftmax(4, 3, seed=0)
    from tinygrad_lite import optim
    opt = optim.SGD(m.parameters(), lr=0.5)
    centre, ctx = np.array([0, 1, 2, 3]), np.array([1, 0, 3, 2])
    losses = []
    for _ in range(50):
        loss = m.loss(centre, ctx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5


# ---------------------------------------------------------------------- SGNS
def _toy_corpus(n=400, seed=0):
    """Two topics: animals share contexts with each other, vehicles with each other."""
    rng = np.random.default_rng(seed)
    animals, vehicles = ["cat", "dog", "cow"], ["car", "bus", "van"]
    a_ctx, v_ctx = ["eats", "sleeps", "barks", "fur"], ["drives", "road", "engine", "wheels"]
    sents = []
    for _ in range(n):
        if rng.random() < 0.5:
            w, ctx = rng.choice(animals), a_ctx
        else:
            w, ctx = rng.choice(vehicles), v_ctx
        c = list(rng.choice(ctx, 4))
        sents.append(c[:2] + [w] + c[2:])
    return sents


def test_sgns_loss_falls_and_similar_contexts_get_closer():
    model, stats = train_sgns(_toy_corpus(), dim=16, window=2, negative=3, min_count=1, epochs=5, sample=0,
                              batch_size=64, lr=0.05, seed=0, progress=False)
    hist = stats["loss_history"]
    assert hist[-1] < hist[0] * 0.9, hist
    wv = model.wv
    assert wv.similarity("cat", "dog") > wv.similarity("cat", "car") + 0.3
    assert wv.similarity("bus", "van") > wv.similarity("bus", "cow") + 0.3
    top = [w for w, _ in wv.most_similar("cat", topn=2)]
    assert set(top) <= {"dog", "cow", "eats", "sleeps", "barks", "fur"}
    assert stats["words_per_sec"] > 0 and stats["effective_words"] > 0


def test_sgns_uses_row_sparse_gradients():
    from tinygrad_lite.sparse import is_sparse
    vocab = Vocab.build(_toy_corpus(50), min_count=1)
    m = SkipGramNS(vocab, dim=8)
    assert np.all(m.W_out.detach().numpy() == 0)
    assert np.abs(m.W_in.detach().numpy()[:-1]).max() <= 0.5 / 8
    ctx = np.array([[0, 1, m.pad, m.pad]])
    targets = np.array([[2, 3, 4]])
    weight = np.ones((1, 4, 3), np.float32)
    weight[:, 2:] = 0
    loss = m.loss(ctx, targets, weight)
    loss.backward()
    assert is_sparse(m.W_in.grad) and is_sparse(m.W_out.grad)
    assert set(m.W_in.grad.indices.tolist()) == {0, 1}  # the padding row gets no gradient
    assert set(m.W_out.grad.indices.tolist()) == {2, 3, 4}


def test_pair_batches_windows_subsampling_and_noise():
    ids = np.arange(20) % 5
    sent = np.repeat([0, 1], 10)
    counts = np.bincount(ids, minlength=5)
    pb = PairBatches(ids, sent, counts, window=3, negative=4, sample=0, batch_size=7,
                     rng=np.random.default_rng(0))
    seen = 0
    for ctx, targets, weight, n_raw, n_c, n_p, band in pb.epoch():
        assert ctx.shape == (n_c, 6) and targets.shape == (n_c, 5)
        assert weight.shape == ctx.shape + (5,)
        valid = ctx != pb.pad
        assert (weight[:, :, 0] == valid).all() and n_p == valid.sum()
        seen += n_c
    assert seen == 20 and n_raw == 20
    # noise ~ count^0.75
    noise = pb.noise(200000)
    freq = np.bincount(noise, minlength=5) / 200000
    expect = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(freq, expect, atol=0.01)
    # word2vec's keep probability: (sqrt(f/(s*T)) + 1) * s*T/f, capped at 1
    pb2 = PairBatches(np.r_[np.zeros(990, int), np.arange(1, 11)], np.zeros(1000, int),
                      np.r_[990, np.ones(10, int)], sample=1e-3)
    thr = 1e-3 * 1000
    assert pb2.keep_prob[0] == pytest.approx((np.sqrt(990 / thr) + 1) * thr / 990)
    assert pb2.keep_prob[1] == 1.0


# ---------------------------------------------------------------------- word2vec's conventions
def test_sgns_learning_rate_decays_linearly_to_the_floor():
    # sample=0 keeps every position, so batch k ends after exactly min((k+1)*B, N) raw words of its epoch
    corpus = _toy_corpus(100)                      # 100 sentences of 5 words: N = 500
    lr, ratio, B, epochs = 0.04, 0.05, 32, 3
    _, stats = train_sgns(corpus, dim=4, window=2, negative=2, min_count=1, epochs=epochs, lr=lr,
                          min_lr_ratio=ratio, sample=0, batch_size=B, seed=0, progress=False)
    N = stats["corpus_words"]
    assert N == 500
    done = [ep * N + min(e, N) for ep in range(epochs) for e in range(B, N + B, B)]
    expected = [lr * max(1 - d / (epochs * N + 1), ratio) for d in done]
    got = np.array(stats["lr_history"])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert stats["start_lr"] == got[0] > 0.95 * lr and stats["final_lr"] == pytest.approx(lr * ratio)
    # linear over the run (constant steps between full batches) until it reaches the floor
    steps = np.diff(got[got > lr * ratio][:N // B])
    np.testing.assert_allclose(steps, -lr * B / (epochs * N + 1), rtol=1e-9)
    assert (np.diff(got) <= 0).all() and got.min() == pytest.approx(lr * ratio)


def _batch_positions(pb):
    """Run one epoch of PairBatches (sample=0) over a corpus whose ids are the positions themselves
    (ids = arange(N)); returns (centre positions (M,), context positions (M, 2W), valid mask)."""
    centres, ctxs = [], []
    for ctx, targets, *_ in pb.epoch():
        centres.append(targets[:, 0])
        ctxs.append(ctx)
    ctx = np.concatenate(ctxs)
    return np.concatenate(centres), ctx, ctx != pb.pad


def test_reduced_window_sizes_are_uniform_over_1_to_W():
    W, N = 5, 30000
    ids = np.arange(N)
    pb = PairBatches(ids, np.zeros(N, np.int64), np.ones(N), window=W, negative=1, sample=0, batch_size=1000,
                     rng=np.random.default_rng(123))
    centre, ctx, valid = _batch_positions(pb)
    np.testing.assert_array_equal(centre, ids)
    inner = (centre >= W) & (centre < N - W)      # centres whose full window lies inside the sentence
    offs = pb.offsets
    b = np.where(valid, np.abs(offs)[None, :], 0).max(1)[inner]  # the window each centre got
    # the window is contiguous: exactly the offsets with |o| <= b, and the context ids are centre + o
    np.testing.assert_array_equal(valid[inner], np.abs(offs)[None, :] <= b[:, None])
    np.testing.assert_array_equal(ctx[inner][valid[inner]], (centre[inner][:, None] + offs)[valid[inner]])
    freq = np.bincount(b, minlength=W + 1) / len(b)
    assert freq[0] == 0                          # never an empty window
    np.testing.assert_allclose(freq[1:], 1 / W, atol=0.015)  # uniform: ~6 standard errors
    chi2 = ((np.bincount(b, minlength=W + 1)[1:] - len(b) / W) ** 2 / (len(b) / W)).sum()
    assert chi2 < 20.5                           # chi-square, 4 degrees of freedom: p ~ 0.0004
    assert b.mean() == pytest.approx((W + 1) / 2, abs=0.05)


def test_no_pair_crosses_a_sentence_boundary(tmp_path):
    # 300 lines of 1..9 words, every word distinct, so a word id identifies its corpus position
    # (a word spells its position in letters: the tokenizer drops digits)
    rng = np.random.default_rng(0)
    letters = "abcdefghijklmnopqrstuvwxyz"

    def spell(k):
        return "w" + letters[k // 676] + letters[k // 26 % 26] + letters[k % 26]

    lines, n = [], 0
    for _ in range(300):
        m = int(rng.integers(1, 10))
        lines.append(" ".join(spell(n + j) for j in range(m)) + ".")
        n += m
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines) + "\n")
    sentences = read_sentences(str(path))      # one sentence per line
    assert len(sentences) == 300
    vocab = Vocab.build(sentences, min_count=1)
    ids, sent = vocab.encode(sentences)
    assert [vocab.words[i] for i in ids] == [spell(p) for p in range(n)]
    pos_of = np.empty(len(vocab), np.int64)
    pos_of[ids] = np.arange(n)
    pb = PairBatches(ids, sent, vocab.counts, window=4, negative=2, sample=0, batch_size=64,
                     rng=np.random.default_rng(5))
    for _ in range(3):                         # a few epochs: other windows each time
        centre, ctx, valid = _batch_positions(pb)
        cpos = pos_of[centre]
        np.testing.assert_array_equal(cpos, np.arange(n))
        xpos = np.where(valid, pos_of[np.where(valid, ctx, 0)], -1)
        c_line = np.broadcast_to(sent[cpos][:, None], ctx.shape)
        assert (sent[xpos[valid]] == c_line[valid]).all()  # no (centre, context) pair crosses a line
        assert valid.sum() > 2 * n                          # (and there are pairs)
        # within a line the pairs are there: offsets +-1 are always in the reduced window
        for o in (-1, 1):
            col = list(pb.offsets).index(o)
            q = cpos + o
            same = (q >= 0) & (q < n) & (sent[np.clip(q, 0, n - 1)] == sent[cpos])
            np.testing.assert_array_equal(valid[:, col], same)
            np.testing.assert_array_equal(xpos[same, col], q[same])


def test_pair_batches_respect_sentences_under_subsampling():
    # a very frequent word 'the' (half the tokens) is mostly dropped; the windows then reach further,
    # but still never into another sentence: every other word belongs to exactly one sentence
    rng = np.random.default_rng(1)
    sentences = []
    for k in range(400):
        own = [f"s{k}w{j}" for j in range(3)]
        sentences.append([w for j in range(int(rng.integers(2, 8))) for w in ("the", own[j % 3])])
    vocab = Vocab.build(sentences, min_count=1)
    ids, sent = vocab.encode(sentences)
    owner = {vocab[w]: k for k, s in enumerate(sentences) for w in s if w != "the"}
    the = vocab["the"]
    pb = PairBatches(ids, sent, vocab.counts, window=5, negative=2, sample=1e-3, batch_size=128,
                     rng=np.random.default_rng(2))
    assert pb.keep_prob[the] < 0.1
    n_pairs = 0
    for ctx, targets, *_ in pb.epoch():
        for c, row in zip(targets[:, 0], ctx):
            if c == the:
                continue
            for x in row[(row != pb.pad) & (row != the)]:
                assert owner[int(x)] == owner[int(c)]
                n_pairs += 1
    assert n_pairs > 1000


# ---------------------------------------------------------------------- queries and I/O
def _wv():
    words = ["king", "queen", "man", "woman", "car"]
    vec = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0.1], [0, -1, 0.1], [0, 0, 1]], np.float32)
    return WordVectors(words, vec, counts=[5, 4, 3, 2, 1])


def test_queries():
    wv = _wv()
    assert wv.similarity("king", "queen") == pytest.approx(0.0, abs=1e-6)
    assert wv.most_similar("king", topn=1)[0][0] == "man"
    assert wv.most_similar(np.array([0, 0, 2.0]), topn=1)[0] == ("car", pytest.approx(1.0))
    assert wv.analogy("man", "king", "woman")[0][0] == "queen"
    for bad in (lambda: wv.similarity("king", "prince"), lambda: wv.most_similar("prince"),
                lambda: wv.analogy("man", "prince", "woman"), lambda: wv["prince"]):
        with pytest.raises(KeyError, match="prince"):
            bad()


def test_save_load_round_trips(tmp_path):
    wv = _wv()
    wv.save(str(tmp_path / "v.tgl"))
    back = WordVectors.load(str(tmp_path / "v.tgl"))
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)
    np.testing.assert_array_equal(back.counts, wv.counts)
    wv.save_word2vec_format(str(tmp_path / "v.txt"))
    lines = (tmp_path / "v.txt").read_text().splitlines()
    assert lines[0] == "5 3" and lines[1].split()[0] == "king"
    back = WordVectors.load_word2vec_format(str(tmp_path / "v.txt"))
    assert back.words == wv.words
    np.testing.assert_allclose(back.vectors, wv.vectors, atol=1e-6)
    (tmp_path / "bad.txt").write_text("2 3\nx 1 2 3\n")
    with pytest.raises(ValueError, match="header"):
        WordVectors.load_word2vec_format(str(tmp_path / "bad.txt"))


def test_evaluation_files(tmp_path):
    wv = _wv()
    (tmp_path / "pairs.tsv").write_text("# comment\nking\tman\t9\nqueen\twoman\t8\nking\tcar\t1\n"
                                        "man\tcar\t2\nking\tprince\t5\n")
    r = evaluate_word_pairs(wv, str(tmp_path / "pairs.tsv"))
    assert r["n_pairs"] == 4 and r["n_oov"] == 1 and r["oov_ratio"] == pytest.approx(20.0)
    assert r["spearman"] == pytest.approx(0.9486832980505138)  # scipy.stats.spearmanr
    (tmp_path / "an.txt").write_text(": family\nman king woman queen\nman king woman car\nman prince woman queen\n")
    a = evaluate_analogies(wv, str(tmp_path / "an.txt"))
    assert a["total"] == 2 and a["correct"] == 1 and a["skipped"] == 1
    assert a["sections"][0]["section"] == "family" and a["accuracy"] == 0.5


def test_word_pairs_in_the_original_simlex_layout(tmp_path):
    # SimLex-999.txt as distributed: a header, then word1 word2 POS SimLex999 conc(w1) conc(w2) ...
    header = "word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)\tSimAssoc333\tSD(SimLex)\n"
    rows = [("king", "man", "N", 9.0, 4.1), ("Queen", "woman", "N", 8.0, 4.5), ("king", "car", "N", 1.0, 4.9),
            ("man", "car", "N", 2.0, 4.2), ("king", "prince", "N", 5.0, 4.0)]
    (tmp_path / "SimLex-999.txt").write_text(header + "".join(
        f"{a}\t{b}\t{pos}\t{sim:.2f}\t{conc:.2f}\t4.52\t2\t0.25\t0\t1.31\n" for a, b, pos, sim, conc in rows))
    pairs = read_word_pairs(str(tmp_path / "SimLex-999.txt"))
    assert pairs == [(a.lower(), b, sim) for a, b, _, sim, _ in rows]  # the SimLex999 column, not POS/conc
    assert read_word_pairs(str(tmp_path / "SimLex-999.txt"), score_column=4)[0] == ("king", "man", 4.1)
    r = evaluate_word_pairs(_wv(), str(tmp_path / "SimLex-999.txt"))
    assert r["n_pairs"] == 4 and r["n_oov"] == 1
    assert r["spearman"] == pytest.approx(0.9486832980505138)  # as the same pairs in the 3-column layout
    # a whitespace table whose third column is the score keeps using it; WordSim's combined.csv too
    (tmp_path / "ws.txt").write_text("king man 9 0.5\nqueen woman 8 0.1\n")
    assert read_word_pairs(str(tmp_path / "ws.txt")) == [("king", "man", 9.0), ("queen", "woman", 8.0)]
    (tmp_path / "combined.csv").write_text("Word 1,Word 2,Human (mean)\nlove,sex,6.77\ntiger,cat,7.35\n")
    assert read_word_pairs(str(tmp_path / "combined.csv")) == [("love", "sex", 6.77), ("tiger", "cat", 7.35)]


def test_spearman_ties_average_rank():
    np.testing.assert_array_equal(rankdata([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # value checked against scipy.stats.spearmanr
    assert spearman([1, 2, 2, 3, 5], [2, 1, 4, 4, 3]) == pytest.approx(0.3947368421052632)


# ---------------------------------------------------------------------- bad input
def test_bad_input_errors():
    with pytest.raises(ValueError, match="empty"):
        train_sgns([], progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_sgns([[], []], progress=False)
    with pytest.raises(ValueError, match="min_count=50 leaves no word"):
        train_sgns([["a", "b", "a"]], min_count=50, progress=False)
    with pytest.raises(KeyError, match="'zebra'"):
        Vocab.build([["a", "a"]], min_count=1)["zebra"]


def test_text_helpers():
    # inner apostrophes and hyphens stay inside a word; digits, underscores and punctuation split/drop
    assert tokenize("Hello, World! It's 2024 re-run.") == ["hello", "world", "it's", "re-run"]
    assert tokenize("Don\u2019t stop: state-of-the-art x2y _under_ -dash- 'quoted' Caf\u00e9") == \
        ["don\u2019t", "stop", "state-of-the-art", "x", "y", "under", "dash", "quoted", "caf\u00e9"]
    assert tokenize("ABC Def", lower=False) == ["ABC", "Def"]
    corpus = default_corpus()
    assert sum(map(len, corpus)) > 50000
    v = Vocab.build(corpus, min_count=5)
    assert len(v) > 1000 and v.counts[0] >= v.counts[-1] >= 5


def test_cli_default_corpus_quick(tmp_path):
    m = main(["--epochs", "1", "--dim", "16", "--topn", "5", "--no-progress", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("final_loss", "words_per_sec", "wall_time", "vocab_size", "start_lr", "final_lr"):
        assert key in saved
    assert saved["final_loss"] == pytest.approx(m["final_loss"])
    assert np.isfinite(saved["final_loss"]) and saved["words_per_sec"] > 0 and saved["wall_time"] > 0
    assert saved["final_lr"] == pytest.approx(0.025 * 1e-4)  # decayed to lr * min_lr_ratio
    wv = WordVectors.load(str(tmp_path / "vectors.tgl"))
    assert len(wv) == saved["vocab_size"] and wv.dim == 16
    txt = WordVectors.load_word2vec_format(str(tmp_path / "vectors.txt"))
    np.testing.assert_allclose(txt.vectors, wv.vectors, rtol=1e-4, atol=1e-6)

    # similarity results are always there (no --wordsim given): neighbours of the default query words
    # in the vocabulary, recomputed here from the saved vectors with plain numpy
    nbrs = saved["neighbours"]
    assert list(nbrs) == ["function", "class", "list"]  # the first three defaults, all in the vocabulary
    unit = wv.vectors.astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    for q, got in nbrs.items():
        cos = unit @ unit[wv.index[q]]
        cos[wv.index[q]] = -np.inf  # a word is not its own neighbour
        rows = [wv.index[w] for w, _ in got]
        scores = np.array([c for _, c in got])
        assert len(got) == 5 and len(set(rows)) == 5 and wv.index[q] not in rows
        np.testing.assert_allclose(scores, cos[rows], atol=1e-5)  # the scores are the cosines
        assert (np.diff(scores) <= 1e-7).all()                     # best first
        rest = np.delete(cos, rows)
        assert scores[-1] >= rest.max() - 1e-5                     # and they are the top 5
    sims = saved["similarities"]
    assert [(a, b) for a, b, _ in sims] == [("function", "class"), ("function", "list"), ("class", "list")]
    for a, b, c in sims:
        assert c == pytest.approx(float(unit[wv.index[a]] @ unit[wv.index[b]]), abs=1e-5)

    # the checkpoint loads back into a model with the trained weights and the vocabulary
    model = SkipGramNS.load(str(tmp_path / "checkpoint.tgl"))
    assert model.vocab.words == wv.words and model.config["dim"] == 16 and model.config["epochs"] == 1
    np.testing.assert_array_equal(model.W_in.detach().numpy()[:-1], wv.vectors)
    np.testing.assert_array_equal(model.W_in.detach().numpy()[-1], 0)  # padding row
    w_out = model.W_out.detach().numpy()
    assert w_out.shape == (len(wv), 16) and np.abs(w_out).max() > 0  # trained (it starts at zero)
    assert [w for w, _ in model.wv.most_similar("class", topn=5)] == [w for w, _ in nbrs["class"]]
    with pytest.raises(ValueError, match="not a skip-gram checkpoint"):
        SkipGramNS.load(str(tmp_path / "vectors.tgl"))


def test_cli_metrics_have_neighbours_for_any_corpus(tmp_path):
    """A corpus without the default query words: the most frequent words are queried instead;
    --query words are used as given, unknown ones listed."""
    text = tmp_path / "c.txt"
    text.write_text("\n".join(" ".join(s) for s in _toy_corpus(200)) + "\n")
    main(["--text", str(text), "--min-count", "1", "--epochs", "1", "--dim", "8", "--topn", "2", "--no-progress",
          "--out", str(tmp_path / "a")])
    saved = json.loads((tmp_path / "a" / "metrics.json").read_text())
    wv = WordVectors.load(str(tmp_path / "a" / "vectors.tgl"))
    assert list(saved["neighbours"]) == wv.words[:3] and len(saved["similarities"]) == 3
    m = main(["--text", str(text), "--min-count", "1", "--epochs", "1", "--dim", "8", "--topn", "2", "--no-progress",
              "--query", "cat", "--query", "zebra"])
    assert list(m["neighbours"]) == ["cat"] and m["unknown_queries"] == ["zebra"]
    assert len(m["neighbours"]["cat"]) == 2 and m["similarities"] == []


def test_band_lookup_gives_the_same_loss_and_gradients():
    corpus = _toy_corpus(30)
    vocab = Vocab.build(corpus, min_count=1)
    ids, sent = vocab.encode(corpus)
    pb = PairBatches(ids, sent, vocab.counts, window=3, negative=2, sample=0, batch_size=16,
                     rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for ctx, targets, weight, *_, band in list(pb.epoch())[:3]:
        grads = []
        for use_band in (False, True):
            m = SkipGramNS(vocab, dim=6, seed=0)
            m.W_out._data[...] = rng.standard_normal(m.W_out.shape).astype(np.float32) if not grads else w_out
            w_out = m.W_out._data.copy()
            loss = m.loss(ctx, targets, weight, band=band if use_band else None)
            loss.backward()
            grads.append((loss.item(), np.asarray(m.W_in.grad), np.asarray(m.W_out.grad)))
        (l0, gi0, go0), (l1, gi1, go1) = grads
        assert l0 == pytest.approx(l1, rel=1e-6)
        np.testing.assert_allclose(gi0, gi1, atol=1e-6)
        np.testing.assert_allclose(go0, go1, atol=1e-6)


def test_cli_bad_input_exits_with_a_clear_message(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(SystemExit, match="corpus is empty"):
        main(["--text", str(empty), "--no-progress"])
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("a b c\n")
    with pytest.raises(SystemExit, match="min_count=5 leaves no word"):
        main(["--text", str(tiny), "--no-progress"])
