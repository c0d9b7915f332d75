"""CBOW / hierarchical softmax / full softmax / contrastive word2vec objectives (models/word2vec_objectives.py),
the Huffman tree, snapshots of the space and their pictures, analogies, neighbour indexes."""
import itertools
import json

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor
from tinygrad_lite.gradcheck import gradcheck
from models.huffman import HuffmanTree
from models.skipgram import PairBatches, WordVectors
from models.text import Vocab
from models.word2vec_objectives import ARCHS, LOSSES, Snapshots, Word2Vec, train_word2vec

COMBOS = list(itertools.product(ARCHS, LOSSES))


# ---------------------------------------------------------------- Huffman tree
def test_huffman_paths_and_codes_match_a_hand_built_tree():
    # counts 10 6 5 3 1. Merges (smaller child gets code 0): A = w4(1) + w3(3) = 4, B = A(4) + w2(5) = 9,
    # C = w1(6) + B(9) = 15, root D = w0(10) + C(15). Inner ids in creation order: A0 B1 C2 D3.
    t = HuffmanTree([10, 6, 5, 3, 1])
    assert t.path(0) == ([3], [0])
    assert t.path(1) == ([3, 2], [1, 0])
    assert t.path(2) == ([3, 2, 1], [1, 1, 1])
    assert t.path(3) == ([3, 2, 1, 0], [1, 1, 0, 1])
    assert t.path(4) == ([3, 2, 1, 0], [1, 1, 0, 0])
    assert t.lengths.tolist() == [1, 2, 3, 4, 4] and t.L == 4 and t.pad == 4
    assert t.points[0].tolist() == [3, 4, 4, 4] and t.mask[1].tolist() == [1, 1, 0, 0]


def test_huffman_probabilities_sum_to_one_and_cost_is_optimal():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 1000, 37)
    t = HuffmanTree(counts)
    scores = rng.standard_normal(t.n_inner)
    total = sum(np.exp(t.log_prob(lambda p: scores[p], w)) for w in range(37))
    assert abs(total - 1.0) < 1e-12  # the leaves' probabilities form a distribution
    assert abs(sum(2.0 ** -t.lengths) - 1.0) < 1e-12  # Kraft equality: a full binary tree
    # optimal code length: the Huffman cost equals the sum of the merged counts, computed independently
    import heapq
    h = list(map(int, counts))
    heapq.heapify(h)
    cost = 0
    while len(h) > 1:
        a, b = heapq.heappop(h), heapq.heappop(h)
        cost += a + b
        heapq.heappush(h, a + b)
    assert int((counts * t.lengths).sum()) == cost


from hypothesis import given, settings, strategies as st


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=60))
def test_huffman_tree_is_a_prefix_code_for_any_counts(counts):
    t = HuffmanTree(counts)
    V = len(counts)
    codes = ["".join(map(str, t.path(w)[1])) for w in range(V)]
    assert len(set(codes)) == V and all(not b.startswith(a) for a in codes for b in codes if a != b)
    assert abs(sum(2.0 ** -t.lengths) - 1.0) < 1e-9                      # a full binary tree
    assert all(t.path(w)[0][0] == V - 2 for w in range(V))                # every path starts at the root
    assert set(t.points[t.mask > 0].tolist()) == set(range(V - 1))        # every inner node is used
    assert (t.points[t.mask == 0] == t.pad).all() and (t.codes[t.mask == 0] == 0).all()
    # no word with a strictly larger count has a longer code (Huffman codes are monotone)
    c, n = np.asarray(counts), t.lengths
    assert not ((c[:, None] > c[None, :]) & (n[:, None] > n[None, :])).any()


def test_huffman_rejects_bad_counts():
    with pytest.raises(ValueError, match="V >= 2"):
        HuffmanTree([5])
    with pytest.raises(ValueError, match=">= 0"):
        HuffmanTree([3, -1])


# ---------------------------------------------------------------- a tiny batch
def tiny_batch(arch, loss, seed=0, B=6, W=2, K=3):
    rng = np.random.default_rng(seed)
    V = 9
    vocab = Vocab([f"w{i}" for i in range(V)], sorted(rng.integers(1, 50, V).tolist(), reverse=True))
    ids = rng.integers(0, V, 40)
    sent = np.repeat(np.arange(4), 10)
    k = K if loss in ("negative", "contrastive") else 0
    pb = PairBatches(ids, sent, vocab.counts, window=W, negative=k, sample=0, batch_size=B, pad=V,
                     rng=np.random.default_rng(seed + 1))
    ctx, targets, weight, _, _, _, band = next(pb.epoch())
    model = Word2Vec(vocab, dim=4, arch=arch, loss=loss, seed=seed)
    w_in = rng.standard_normal(model.W_in.shape) * 0.5
    w_in[V] = 0.0
    w_out = rng.standard_normal(model.W_out.shape) * 0.5
    return model, (ctx, targets, weight, band), w_in, w_out


def _set(model, w_in, w_out):
    model.W_in = Tensor(w_in, requires_grad=True)
    model.W_out = Tensor(w_out, requires_grad=True)


def _dense(g):
    return np.asarray(g.to_dense().numpy() if hasattr(g, "to_dense") else g.numpy(), np.float64)


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_gradients_match_finite_differences(arch, loss):
    model, (ctx, targets, weight, band), w_in, w_out = tiny_batch(arch, loss)
    model.cbow_grad = "mean"  # the true gradient of the loss (word2vec's CBOW update is tested below)

    def f(wi, wo):
        model.W_in, model.W_out = wi, wo
        return model.loss(ctx, targets, weight, band=band)

    wi = Tensor(w_in, requires_grad=True)
    wo = Tensor(w_out, requires_grad=True)
    assert gradcheck(f, (wi, wo), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_band_lookup_equals_per_pair_lookup(arch, loss):
    model, (ctx, targets, weight, band), w_in, w_out = tiny_batch(arch, loss, seed=3)
    out = []
    for b in (band, None):
        _set(model, w_in, w_out)
        v = model.loss(ctx, targets, weight, band=b)
        v.backward()
        out.append((v.item(), _dense(model.W_in.grad), _dense(model.W_out.grad)))
    assert abs(out[0][0] - out[1][0]) < 1e-10
    np.testing.assert_allclose(out[0][1], out[1][1], atol=1e-12)
    np.testing.assert_allclose(out[0][2], out[1][2], atol=1e-12)


def test_hs_gradient_touches_only_the_paths_rows():
    model, (ctx, targets, weight, band), w_in, w_out = tiny_batch("skipgram", "hs")
    _set(model, w_in, w_out)
    model.loss(ctx, targets, weight, band=band).backward()
    g = model.W_out.grad
    assert getattr(g, "is_sparse", False)
    centres = targets[:, 0][(ctx != model.pad).any(1)]
    on_paths = set(model.tree.points[centres][model.tree.mask[centres] > 0].tolist())
    assert set(g.coalesce().indices.tolist()) <= on_paths and model.tree.pad not in set(g.indices.tolist())


# ---------------------------------------------------------------- CBOW against PyTorch
@pytest.mark.torch
@pytest.mark.parametrize("loss", ["negative", "hs"])
@pytest.mark.parametrize("cbow_grad", ["word2vec", "mean"])
@pytest.mark.parametrize("pair_weights", [True, False])
def test_cbow_sgd_step_matches_pytorch(loss, cbow_grad, pair_weights):
    """pair_weights=False: the batch carries weight=None (as the trainer's CBOW batches) and the loss
    finds the noise words equal to the centre itself; the reference still reads PairBatches' weight."""
    torch = pytest.importorskip("torch")
    model, (ctx, targets, weight, band), w_in, w_out = tiny_batch("cbow", loss, seed=5)
    if loss == "negative":  # the batch exercises the mask: some noise word equals its centre
        assert (targets[:, 1:] == targets[:, :1]).any()
    model.cbow_grad = cbow_grad
    lr = 0.3
    _set(model, w_in, w_out)
    opt = tg.optim.SGD(model.parameters(), lr=lr)
    value = model.loss(ctx, targets, weight if pair_weights else None, band=band)
    value.backward()
    opt.step()

    # PyTorch, float64, dense, written from the definitions
    Wi = torch.tensor(w_in, requires_grad=True)
    Wo = torch.tensor(w_out, requires_grad=True)
    valid = torch.tensor(ctx != model.pad)
    n = valid.sum(1).clamp(min=1).double()
    ctx_t = torch.tensor(ctx)
    h = (Wi[ctx_t] * valid[..., None]).sum(1) / n[:, None]          # (B, d) mean of the real contexts
    hl = h.detach().requires_grad_(True)
    has = valid.any(1).double()
    if loss == "negative":
        t = torch.tensor(targets)
        s = (Wo[t] * hl[:, None, :]).sum(-1)                         # (B, K+1)
        sign = torch.tensor([1.0] + [-1.0] * (targets.shape[1] - 1), dtype=torch.float64)
        keep = torch.tensor(weight.max(1), dtype=torch.float64)
        L = -(torch.nn.functional.logsigmoid(s * sign) * keep * has[:, None]).sum()
    else:
        tree = model.tree
        c = targets[:, 0]
        pts = torch.tensor(tree.points[c])
        code = torch.tensor(tree.codes[c], dtype=torch.float64)
        m = torch.tensor(tree.mask[c], dtype=torch.float64)
        s = (Wo[pts] * hl[:, None, :]).sum(-1)
        L = -(torch.nn.functional.logsigmoid((1 - 2 * code) * s) * m * has[:, None]).sum()
    L.backward()
    dh = hl.grad if cbow_grad == "word2vec" else hl.grad / n[:, None]  # word2vec: the undivided error
    gWi = torch.zeros_like(Wi)
    gWi.index_add_(0, ctx_t[valid], (dh[:, None, :].expand(-1, ctx.shape[1], -1))[valid])
    assert abs(value.item() - L.item()) < 1e-10
    np.testing.assert_allclose(model.W_in.detach().numpy(), (Wi - lr * gWi).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(model.W_out.detach().numpy(), (Wo - lr * Wo.grad).detach().numpy(), atol=1e-12)


# ---------------------------------------------------------------- training end to end
def toy_sentences(n=300, seed=0):
    """Two topics whose words co-occur only within their topic."""
    rng = np.random.default_rng(seed)
    royal = ["king", "queen", "prince", "princess", "crown", "throne", "palace"]
    road = ["car", "truck", "road", "wheel", "engine", "driver", "bus"]
    out = []
    for i in range(n):
        words = royal if i % 2 == 0 else road
        out.append([words[j] for j in rng.integers(0, len(words), 12)])
    return out


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_every_mode_trains_and_separates_two_topics(arch, loss):
    model, stats = train_word2vec(toy_sentences(), arch=arch, loss=loss, dim=16, window=3, min_count=1, epochs=4,
                                  sample=0, batch_size=64, progress=False,
                                  lr=0.05 if loss != "contrastive" else 0.05)
    assert stats["loss_history"][-1] < stats["loss_history"][0]
    wv = model.wv
    same = np.mean([wv.similarity("king", w) for w in ("queen", "prince", "throne")])
    other = np.mean([wv.similarity("king", w) for w in ("car", "truck", "road")])
    assert same > other + 0.2, (same, other)


def topic_corpus(n_sent=1500, seed=0):
    """8 topics of 20 words each, 40% of every sentence drawn from 10 frequent words shared by all."""
    rng = np.random.default_rng(seed)
    common = [f"the{i}" for i in range(10)]
    topics = [[f"t{k}w{i}" for i in range(20)] for k in range(8)]
    sents = [[common[rng.integers(0, 10)] if rng.random() < 0.4 else topics[s % 8][rng.integers(0, 20)]
              for _ in range(20)] for s in range(n_sent)]
    return sents, topics


def test_full_softmax_skipgram_learns_with_batched_steps():
    """Every output row takes part in every full-softmax prediction, and a skip-gram batch of 512 centres
    sums ~2,800 of them into one step: without the shared-row cap training diverges within ~40 batches;
    with it the topics separate."""
    from models.guard import TrainingDiverged
    sents, topics = topic_corpus()
    kw = dict(arch="skipgram", loss="softmax", dim=50, min_count=1, epochs=2, progress=False, batch_size=512, sample=0)
    with pytest.raises(TrainingDiverged):
        train_word2vec(sents, hs_row_cap=0, **kw)
    model, stats = train_word2vec(sents, **kw)
    assert stats["loss_history"][-1] < stats["loss_history"][0]
    wv = model.wv
    same = np.mean([wv.similarity(t[0], w) for t in topics for w in t[1:6]])
    other = np.mean([wv.similarity(topics[k][0], topics[(k + 1) % 8][i]) for k in range(8) for i in range(1, 6)])
    assert same > other + 0.3, (same, other)


def test_train_word2vec_rejects_bad_choices():
    with pytest.raises(ValueError, match="arch must be one of"):
        train_word2vec(toy_sentences(10), arch="glove")
    with pytest.raises(ValueError, match="loss must be one of"):
        train_word2vec(toy_sentences(10), loss="nce")
    with pytest.raises(ValueError, match="negative >= 1"):
        train_word2vec(toy_sentences(10), loss="contrastive", negative=0, min_count=1)


def test_softmax_warns_for_a_large_vocabulary(capsys):
    sents = [[f"w{i}" for i in range(j, j + 20)] for j in range(0, 2400, 2)]
    model, _ = train_word2vec(sents, loss="softmax", dim=8, min_count=1, epochs=1, progress=False, max_batches=1)
    err = capsys.readouterr().err
    assert len(model.vocab) > 2000
    assert f"full softmax over V={len(model.vocab)} words" in err and "--loss negative or --loss hs" in err
    train_word2vec(sents[:50], loss="softmax", dim=8, min_count=1, epochs=1, progress=False, max_batches=1)
    assert "full softmax" not in capsys.readouterr().err  # a small vocabulary: no warning


def test_checkpoint_round_trip(tmp_path):
    model, _ = train_word2vec(toy_sentences(40), arch="cbow", loss="hs", dim=8, min_count=1, epochs=1,
                              progress=False)
    model.save(tmp_path / "c.tgl")
    back = Word2Vec.load(tmp_path / "c.tgl")
    assert (back.arch, back.loss_name) == ("cbow", "hs")
    np.testing.assert_array_equal(back.W_in.detach().numpy(), model.W_in.detach().numpy())
    np.testing.assert_array_equal(back.W_out.detach().numpy(), model.W_out.detach().numpy())


# ---------------------------------------------------------------- snapshots and their pictures
def test_snapshots_record_vectors_and_cosines(tmp_path):
    snaps = Snapshots(words=["king", "queen", "car", "nosuchword"], pairs=[("king", "queen"), ("king", "car")], n=5)
    model, stats = train_word2vec(toy_sentences(), dim=8, window=3, min_count=1, epochs=2, sample=0,
                                  batch_size=64, progress=False, snapshots=snaps)
    assert snaps.words == ["king", "queen", "car"] and snaps.missing == ["nosuchword"]
    T = len(snaps.steps)
    assert snaps.steps[0] == 0 and snaps.steps[-1] == stats["batches"] and 5 <= T <= 7
    assert snaps.vectors.shape == (T, 3, 8) and snaps.cosines.shape == (T, 2)
    rows = [model.vocab[w] for w in snaps.words]
    np.testing.assert_allclose(snaps.vectors[-1], model.W_in.detach().numpy()[rows])
    wv = model.wv
    assert abs(snaps.cosines[-1, 0] - wv.similarity("king", "queen")) < 1e-5
    assert snaps.cosines[-1, 0] > snaps.cosines[-1, 1]  # same topic ends closer in angle
    snaps.save(tmp_path / "s.json")
    back = Snapshots.load(tmp_path / "s.json")
    np.testing.assert_allclose(back.vectors, snaps.vectors, rtol=1e-6)


def test_fixed_pca_uses_one_basis_for_all_frames():
    from viz.embedding_evolution import fixed_pca
    rng = np.random.default_rng(0)
    final = rng.standard_normal((6, 5))
    frames = np.stack([0.5 * final, final])
    coords, ratio = fixed_pca(frames)
    # one affine projection for every frame: halving the vectors halves the coordinates up to one shift
    shift = coords[0] - 0.5 * coords[1]
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-12)
    # the two directions are the final frame's top principal axes (eigenvalues of its covariance)
    ev = np.sort(np.linalg.eigvalsh(np.cov(final.T, bias=True)))[::-1]
    np.testing.assert_allclose(coords[1].var(0), ev[:2], rtol=1e-10)
    # the basis comes from the last frame: its coordinates are centred and capture most variance
    np.testing.assert_allclose(coords[1].mean(0), 0, atol=1e-12)
    assert 0 < ratio.sum() <= 1
    with pytest.raises(ValueError, match="frames, words >= 2"):
        fixed_pca(np.zeros((3, 1, 4)))


def test_evolution_html_and_gif(tmp_path):
    from viz.embedding_evolution import write_evolution_gif, write_evolution_html
    snaps = Snapshots(words=["king", "queen", "car", "truck"], pairs=[("king", "queen"), ("king", "car")], n=6)
    train_word2vec(toy_sentences(), dim=8, window=3, min_count=1, epochs=1, sample=0, batch_size=64,
                   progress=False, snapshots=snaps)
    page = write_evolution_html(snaps, tmp_path / "e.html")
    text = open(page, encoding="utf-8").read()
    assert 'type="range"' in text and "king / queen" not in text  # labels are drawn by the script
    assert "<script src" not in text and "https://" not in text and "<link" not in text  # self-contained
    data = json.loads(text.split("const D = ", 1)[1].split(";\n", 1)[0])
    assert len(data["coords"]) == len(snaps.steps) and data["words"] == snaps.words
    gif = write_evolution_gif(snaps, tmp_path / "e.gif", max_frames=4)
    from PIL import Image
    with Image.open(gif) as im:
        assert im.n_frames == 4


# ---------------------------------------------------------------- analogies
def test_most_similar_positive_negative_is_the_analogy():
    rng = np.random.default_rng(0)
    words = ["king", "man", "woman", "queen", "car", "road"]
    vec = rng.standard_normal((6, 5)).astype(np.float32)
    u = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    vec[3] = u[0] - u[1] + u[2] + 0.01  # queen ~ king - man + woman
    wv = WordVectors(words, vec)
    res = wv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    assert res[0][0] == "queen" and {w for w, _ in res}.isdisjoint({"king", "woman", "man"})
    target = u[0] + u[2] - u[1]
    expect = {w: float(wv.unit[i] @ target / np.linalg.norm(target)) for i, w in enumerate(words)}
    for w, c in res:
        assert abs(c - expect[w]) < 1e-5
    old = wv.analogy("man", "king", "woman", topn=3)
    assert [w for w, _ in res] == [w for w, _ in old] and np.allclose([c for _, c in res], [c for _, c in old], atol=1e-6)
    with pytest.raises(ValueError, match="either a query"):
        wv.most_similar("king", positive=["queen"])
    with pytest.raises(KeyError, match="nosuch"):
        wv.most_similar(positive=["nosuch"])


def test_parse_analogy_forms():
    from tinygrad_lite_app.similar_query import parse_analogy
    assert parse_analogy(["king", "-", "man", "+", "woman"]) == (["king", "woman"], ["man"])
    assert parse_analogy(["king - man + woman"]) == (["king", "woman"], ["man"])
    assert parse_analogy(["man", "king", "woman"]) == (["king", "woman"], ["man"])
    for bad in (["king", "man"], ["king", "-", "-", "man"], ["king", "+"], ["king", "man", "+", "woman"]):
        with pytest.raises(ValueError, match="--analogy"):
            parse_analogy(bad)


# ---------------------------------------------------------------- neighbour indexes
def test_indexes_find_the_exact_neighbours():
    from models.ann import build_index, recall_at_k
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 32)).astype(np.float32)
    q = X[:50] + 0.05 * rng.standard_normal((50, 32)).astype(np.float32)
    exact = build_index(X, "exact")
    ids, sims = exact.search(q, k=10)
    brute = np.argsort(-(q / np.linalg.norm(q, axis=1, keepdims=True)) @ (X / np.linalg.norm(X, axis=1, keepdims=True)).T,
                       axis=1)[:, :10]
    assert recall_at_k(ids, brute) == 1.0 and (np.diff(sims, axis=1) <= 1e-6).all()
    assert (ids[:, 0] == np.arange(50)).all()
    for kind in ("lsh", "hnsw"):
        idx = build_index(X, kind)
        found, fs = idx.search(q, k=10)
        assert found.shape == (50, 10) and (found[:, 0] == np.arange(50)).mean() > 0.9
        assert recall_at_k(found, ids) > 0.6, kind
        np.testing.assert_allclose(fs[:, 0], sims[:, 0], atol=1e-4)
    with pytest.raises(ValueError, match="kind must be one of"):
        build_index(X, "annoy")
    with pytest.raises(ValueError, match="dims"):
        exact.search(np.zeros(3), k=2)


# ---------------------------------------------------------------- pictures of one step
@pytest.mark.parametrize("arch,loss", COMBOS)
def test_graph_of_one_step_is_readable(arch, loss):
    import re
    import viz
    from models.word2vec_objectives import tiny_step
    value, naming, title = tiny_step(arch, loss)
    src = viz.draw_graph(value, title=title, **naming).source
    n_nodes = len(re.findall(r"^\s+(?:t|op|box)\d+ \[", src, re.M))
    assert n_nodes <= 45, n_nodes                       # fits on a page
    ops = set(re.findall(r"<B>([a-z_]+)", src))
    assert src.count(">W_in<") == 1 and src.count(">W_out<") == 1   # each parameter drawn once, by name
    # row lookups, not dense one-hot products: CBOW's context bags in one embedding_bag row
    assert ("embedding_bag" in ops) == (arch == "cbow")
    # CBOW scores its output rows with one embedding_dot row (negative, hs)
    assert ("embedding_dot" in ops) == (arch == "cbow" and loss in ("negative", "hs"))
    assert "embedding_sparse" in ops or (arch == "cbow" and loss != "contrastive")
    objective_op = {"negative": "logsigmoid", "hs": "logsigmoid", "softmax": "cross_entropy_idx",
                    "contrastive": "log_softmax"}[loss]
    assert objective_op in ops, ops
    assert ("matmul" in ops) == (arch == "skipgram" or loss == "softmax")  # CBOW scores with an einsum
    assert ("einsum" in ops) == (arch == "cbow" and loss == "contrastive")
    assert title in src
    value.backward()                                    # and it is a real training step
    assert naming["params"]["W_in"].grad is not None and naming["params"]["W_out"].grad is not None


# ---------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    from tinygrad_lite_app.cli import main
    d = tmp_path_factory.mktemp("w2v")
    text = d / "toy.txt"
    sents = toy_sentences(200) + [["king", "man", "queen", "woman", "king", "man", "queen", "woman"]] * 30
    text.write_text("\n".join(" ".join(s) for s in sents) + "\n")
    rc = main(["train", "skipgram", "--text", str(text), "--arch", "cbow", "--loss", "hs", "--dim", "8",
               "--min-count", "1", "--epochs", "2", "--window", "3", "--snapshots", "--snapshot-words",
               "king,queen,car,truck,nosuch", "--snapshot-pairs", "king:queen,king:car", "--no-progress",
               "--out", str(d / "out")])
    assert rc in (0, None)
    return d / "out"


def test_cli_trains_cbow_hs_with_snapshots(trained_dir, capsys):
    for name in ("vectors.tgl", "vectors.txt", "checkpoint.tgl", "metrics.json", "snapshots.json",
                 "evolution.html", "evolution.gif"):
        assert (trained_dir / name).is_file(), name
    m = Word2Vec.load(trained_dir / "checkpoint.tgl")
    assert (m.arch, m.loss_name) == ("cbow", "hs") and m.tree is not None
    snaps = Snapshots.load(trained_dir / "snapshots.json")
    assert snaps.words == ["king", "queen", "car", "truck"] and snaps.missing == ["nosuch"]
    metrics = json.loads((trained_dir / "metrics.json").read_text())
    assert metrics["arch"] == "cbow" and metrics["loss"] == "hs"


def test_cli_similar_analogy_forms_and_indexes(trained_dir, capsys):
    from tinygrad_lite_app.cli import main
    assert main(["similar", str(trained_dir), "--analogy", "king", "-", "man", "+", "woman", "--topn", "3"]) == 0
    out = capsys.readouterr().out
    assert "king + woman - man = ?" in out and len(out.strip().splitlines()) == 4
    assert main(["similar", str(trained_dir), "--analogy", "man", "king", "woman", "--topn", "3"]) == 0
    assert capsys.readouterr().out == out  # the A B C form asks the same question
    exact = None
    for index in ("exact", "lsh", "hnsw"):
        assert main(["similar", str(trained_dir), "king", "--index", index, "--topn", "3"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert lines[0] == "nearest to 'king':" and len(lines) == 4
        words = [ln.split()[0] for ln in lines[1:]]
        exact = exact or words
        assert words[0] == exact[0], index  # 14 words: every index finds the true nearest
    assert main(["similar", str(trained_dir), "--analogy", "king", "-", "-", "man"]) == 1
    assert "two operators in a row" in capsys.readouterr().err
    assert main(["similar", str(trained_dir), "--analogy", "king", "-", "nosuch"]) == 1
    assert "nosuch" in capsys.readouterr().err


def test_cli_rejects_unknown_loss(capsys):
    from tinygrad_lite_app.cli import main
    assert main(["train", "skipgram", "--loss", "nce"]) == 2
    assert "invalid choice: 'nce'" in capsys.readouterr().err
