"""The GPT (models/gpt.py), its char-level data (models/chartext.py) and the sort task: shapes,
masks (no future leakage), loss falls, seeded generation, checkpoints, the CLI and clear errors."""
import json
import math

import numpy as np
import pytest

import tinygrad_lite as tg
from models import chartext
from models.chartext import CharVocab, get_batch, load_text, train_val_split
from models.gpt import GPT, GPTConfig, TrainConfig, get_lr, load_checkpoint, main, sample_main, save_checkpoint, train

TEXT = ("First Citizen: Before we proceed any further, hear me speak.\nAll: Speak, speak.\n"
        "First Citizen: You are all resolved rather to die than to famish?\nAll: Resolved. resolved.\n") * 8


def small(**kw):
    cfg = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    tg.manual_seed(0)
    return GPT(GPTConfig(**cfg))


# ------------------------------------------------------------------ model
def test_shapes_and_initial_loss():
    m = small()
    idx = np.random.default_rng(0).integers(0, 11, (3, 8))
    logits, loss = m(idx, idx)
    assert logits.shape == (3, 8, 11) and loss.shape == ()
    assert abs(loss.item() - math.log(11)) < 0.3                    # near-uniform predictions at init
    logits, loss = m(idx[:, :5])
    assert logits.shape == (3, 5, 11) and loss is None


def test_nanogpt_names_init_and_tying():
    m = small(n_layer=3)
    names = dict(m.named_parameters())
    for n in ["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight",
              "h.2.mlp.c_fc.weight", "h.2.mlp.c_proj.bias", "h.1.ln_2.bias", "ln_f.weight"]:
        assert n in names, n
    assert m.lm_head.weight is m.wte.weight                          # tied
    big = GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=3, n_head=4, n_embd=256))
    assert abs(big.h[0].mlp.c_fc.weight.detach().numpy().std() - 0.02) < 0.002
    assert abs(big.h[0].mlp.c_proj.weight.detach().numpy().std() - 0.02 / math.sqrt(6)) < 0.001
    assert (big.h[0].attn.c_attn.bias.detach().numpy() == 0).all()
    untied, tied = small(tie_weights=False), small()
    assert untied.lm_head.weight is not untied.wte.weight
    assert untied.num_params() == tied.num_params() + 11 * 16         # one more V x C matrix


def test_targets_minus_one_are_ignored():
    m = small()
    rng = np.random.default_rng(1)
    idx, tgt = rng.integers(0, 11, (2, 8)), rng.integers(0, 11, (2, 8))
    masked = tgt.copy()
    masked[:, :4] = -1
    logits, loss = m(idx, masked)
    lp = logits.detach().numpy()[:, 4:]
    lp = lp - np.log(np.exp(lp - lp.max(-1, keepdims=True)).sum(-1, keepdims=True)) - lp.max(-1, keepdims=True)
    ref = -np.take_along_axis(lp, tgt[:, 4:, None], -1).mean()
    assert abs(loss.item() - ref) < 1e-5


def test_no_future_leakage():
    """Changing a later token never changes an earlier position's logits (and only with the mask on)."""
    m = small()
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 11, (2, 8))
    base = m(idx)[0].detach().numpy()
    for t in range(8):
        idx2 = idx.copy()
        idx2[:, t] = (idx2[:, t] + 1 + rng.integers(0, 10)) % 11
        out = m(idx2)[0].detach().numpy()
        np.testing.assert_array_equal(out[:, :t], base[:, :t])
        assert np.abs(out[:, t:] - base[:, t:]).max() > 0


def test_an_early_position_gets_no_gradient_from_later_positions():
    m = small()
    idx = np.random.default_rng(3).integers(0, 11, (1, 8))
    logits, _ = m(idx)
    logits[0, 2].sum().backward()                                   # position 2's scores...
    g = m.wpe.weight.grad.numpy()
    assert (g[3:] == 0).all() and np.abs(g[:3]).max() > 0            # ...depend on positions 0..2 only


def test_loss_falls():
    vocab = CharVocab.from_text(TEXT)
    data = vocab.encode(TEXT)
    tg.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=len(vocab), block_size=16, n_layer=2, n_head=2, n_embd=32))
    tc = TrainConfig(max_iters=60, batch_size=16, learning_rate=3e-3, warmup_iters=5, eval_interval=0)
    losses = train(m, data, None, tc)["train_loss"]
    assert len(losses) == 60
    assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 0.8, (losses[:5], losses[-10:])


def test_generate_reproducible_and_respects_options():
    m = small()
    prompt = np.array([[1, 2, 3]])
    a = m.generate(prompt, 20, generator=123).numpy()
    b = m.generate(prompt, 20, generator=123).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (1, 23) and (a[:, :3] == prompt).all()
    tg.manual_seed(5)
    c = m.generate(prompt, 20).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(c, m.generate(prompt, 20).numpy())
    assert not (m.generate(prompt, 20, generator=1).numpy() == m.generate(prompt, 20, generator=2).numpy()).all()
    greedy = m.generate(prompt, 20, temperature=0).numpy()          # longer than block_size: crops context
    np.testing.assert_array_equal(greedy, m.generate(prompt, 20, temperature=0).numpy())
    top1 = m.generate(prompt, 20, top_k=1, generator=7).numpy()
    np.testing.assert_array_equal(top1, greedy)
    m.train()
    m.generate(prompt, 2)
    assert m.training                                               # mode restored


def test_generate_seeded_with_temperature_and_top_k():
    """temperature != 1 and top_k > 1: the seed alone decides the tokens, and each one is among the
    top_k likeliest for its context."""
    m = small()
    prompt = np.array([[1, 2, 3]])
    opts = dict(temperature=1.7, top_k=3)
    a = m.generate(prompt, 16, generator=11, **opts).numpy()
    np.testing.assert_array_equal(a, m.generate(prompt, 16, generator=11, **opts).numpy())
    np.testing.assert_array_equal(a, m.generate(prompt, 16, generator=np.random.default_rng(11), **opts).numpy())
    b = m.generate(prompt, 16, generator=12, **opts).numpy()
    assert (a[:, :3] == prompt).all() and (b[:, :3] == prompt).all()
    assert not (a == b).all(), "different seeds gave the same 16 tokens"
    for seq in (a[0], b[0]):                                          # top_k=3 really filters
        for t in range(3, seq.size):
            ctx = seq[max(0, t - 8):t][None]                          # block_size 8
            logits = m(ctx)[0].detach().numpy()[0, -1]
            assert seq[t] in np.argsort(logits)[-3:], (t, seq[t], logits)
    greedy = m.generate(prompt, 16, temperature=0).numpy()
    assert not (a == greedy).all()                                    # it samples, not argmax
    np.testing.assert_array_equal(m.generate(prompt, 16, temperature=1e-6, top_k=3, generator=11).numpy(), greedy)


@pytest.mark.parametrize("kw,match", [(dict(top_k=0), r"top_k must be None or an integer >= 1, got 0"),
                                      (dict(top_k=-2), r"top_k .* got -2"),
                                      (dict(top_k=2.5), r"top_k .* got 2.5"),
                                      (dict(top_k=0, temperature=0), r"top_k .* got 0"),
                                      (dict(temperature=-0.5), r"temperature must be a number >= 0 .* got -0.5"),
                                      (dict(temperature=float("nan")), r"temperature .* got nan"),
                                      (dict(max_new_tokens=-1), r"max_new_tokens .* got -1")])
def test_generate_rejects_bad_sampling_options(kw, match):
    m = small()
    kw = {"max_new_tokens": 3, **kw}
    with pytest.raises(ValueError, match=match):
        m.generate(np.array([[1, 2]]), **kw)


def test_dropout_only_in_training():
    m = small(dropout=0.5)
    idx = np.random.default_rng(4).integers(0, 11, (2, 8))
    m.eval()
    np.testing.assert_array_equal(m(idx)[0].detach().numpy(), m(idx)[0].detach().numpy())
    m.train()
    assert np.abs(m(idx)[0].detach().numpy() - m(idx)[0].detach().numpy()).max() > 0


# ------------------------------------------------------------------ bad input
def test_bad_inputs_give_clear_errors():
    m = small()
    with pytest.raises(ValueError, match="block_size"):
        m(np.zeros((1, 9), np.int64))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 11\)"):
        m(np.array([[0, 11]]))
    with pytest.raises(TypeError, match="integer"):
        m(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="targets"):
        m(np.zeros((1, 3), np.int64), np.zeros((1, 4), np.int64))
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"not in the vocabulary: 'x', 'z'"):
        vocab.encode("abxcz")
    with pytest.raises(ValueError, match="empty"):
        CharVocab.from_text("")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="block_size"):
        get_batch(np.arange(5), 2, 5, np.random.default_rng(0))


def test_empty_text_file_is_a_clear_error(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_text(str(p))
    with pytest.raises(SystemExit, match="empty"):
        main(["--text", str(p), "--quiet"])
    with pytest.raises(SystemExit, match="No such file"):
        main(["--text", str(tmp_path / "missing.txt"), "--quiet"])
    p.write_text("abc")
    with pytest.raises(SystemExit, match="too short for block_size"):
        main(["--text", str(p), "--quiet"])


# ------------------------------------------------------------------ data, schedule, checkpoints, CLI
def test_vocab_roundtrip_split_and_default_text():
    text = chartext.default_text()
    assert len(text) > 100_000                                     # ships with Python: no download needed
    vocab = CharVocab.from_text(text)
    s = text[1000:1200]
    assert vocab.decode(vocab.encode(s)) == s
    tr, va = train_val_split(np.arange(100), 0.1)
    assert len(tr) == 90 and va[0] == 90
    x, y = get_batch(np.arange(100), 4, 10, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 10) and (y == x + 1).all()


def test_lr_schedule_warmup_then_cosine():
    tc = TrainConfig(max_iters=100, learning_rate=1.0, min_lr=0.1, warmup_iters=10)
    lrs = [get_lr(i, tc) for i in range(120)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1.0
    assert abs(lrs[10] - 1.0) < 1e-12 and abs(lrs[55] - 0.55) < 1e-12
    assert all(a >= b for a, b in zip(lrs[10:100], lrs[11:101])) and lrs[110] == 0.1


def test_checkpoint_roundtrip(tmp_path):
    m = small()
    vocab = CharVocab.from_text("abcdefghijk")
    path = tmp_path / "sub" / "ckpt.pt"
    save_checkpoint(str(path), m, vocab, {"iter": 3})
    m2, v2, extra = load_checkpoint(str(path))
    idx = np.array([[1, 2, 3, 4]])
    np.testing.assert_array_equal(m(idx)[0].detach().numpy(), m2(idx)[0].detach().numpy())
    assert v2.chars == vocab.chars and extra["iter"] == 3
    assert m2.lm_head.weight is m2.wte.weight
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]   # no temporary left behind
    with pytest.raises(FileNotFoundError, match="train first"):
        load_checkpoint(str(tmp_path / "nope.pt"))


def test_cli_train_then_sample(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text(TEXT)
    out = tmp_path / "run"
    metrics = main(["--text", str(text), "--out", str(out), "--steps", "12", "--n-layer", "1", "--n-embd", "16",
                    "--block-size", "8", "--batch-size", "4", "--eval-interval", "6", "--eval-iters", "2",
                    "--quiet"])
    assert (out / "ckpt.pt").exists()
    saved = json.loads((out / "metrics.json").read_text())
    assert len(saved["train_loss"]) == 12 and saved["val"][-1][0] == 12 and saved["tokens_per_s"] > 0
    assert metrics["final_val_loss"] == saved["final_val_loss"]
    samples = sample_main(["--sample", "--out", str(out), "--prompt", "All", "--max-new-tokens", "10",
                           "--seed", "3"])
    again = sample_main(["--out", str(out), "--prompt", "All", "--max-new-tokens", "10", "--seed", "3"])
    assert samples == again and samples[0].startswith("All") and len(samples[0]) == 13
    with pytest.raises(SystemExit, match="not in the vocabulary"):
        sample_main(["--out", str(out), "--prompt", "Q#"])
    with pytest.raises(SystemExit, match="train first"):
        sample_main(["--out", str(tmp_path / "nothing")])


@pytest.mark.parametrize("args,message", [
    (["--block-size", "0"], "argument --block-size: must be >= 1, got 0"),
    (["--n-embd", "0"], "argument --n-embd: must be >= 1, got 0"),
    (["--n-layer", "-1"], "argument --n-layer: must be >= 1, got -1"),
    (["--n-head", "0"], "argument --n-head: must be >= 1, got 0"),
    (["--steps", "0"], "argument --steps: must be >= 1, got 0"),
    (["--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
    (["--top-k", "0"], "argument --top-k: must be >= 1, got 0"),
    (["--lr", "0"], "argument --lr: must be > 0, got 0"),
    (["--lr", "nan"], "argument --lr: must be > 0, got nan"),
    (["--dropout", "1"], "argument --dropout: must be in [0, 1), got 1"),
    (["--dropout", "-0.1"], "argument --dropout: must be in [0, 1), got -0.1"),
    (["--temperature", "-1"], "argument --temperature: must be >= 0, got -1"),
    (["--block-size", "x"], "argument --block-size: expected an integer, got 'x'"),
    (["--n-embd", "30", "--n-head", "4"], "--n-embd 30 must be divisible by --n-head 4"),
])
def test_cli_flags_are_range_checked(args, message, capsys):
    """Out-of-range hyperparameters are usage errors (exit 2) before any work, not numpy errors."""
    with pytest.raises(SystemExit) as e:
        main(args + ["--quiet"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err, err


def test_cli_flags_accept_their_edge_values():
    from models.gpt import _parser
    a = _parser().parse_args(["--dropout", "0", "--temperature", "0", "--top-k", "1", "--block-size", "1",
                              "--lr", "1e-9", "--steps", "1"])
    assert (a.dropout, a.temperature, a.top_k, a.block_size, a.lr, a.steps) == (0.0, 0.0, 1, 1, 1e-9, 1)


@pytest.mark.parametrize("args,message", [(["--length", "0"], "argument --length: must be >= 1, got 0"),
                                          (["--n-head", "5"], "--n-embd 48 must be divisible by --n-head 5"),
                                          (["--lr", "-1"], "argument --lr: must be > 0, got -1"),
                                          (["--length", "20"], "too many to enumerate")])
def test_sort_task_flags_are_range_checked(args, message, capsys):
    from models import sort_task
    with pytest.raises(SystemExit) as e:
        sort_task.main(args)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


# ------------------------------------------------------------------ the sort task learns
def test_sort_task_learns_quickly():
    from models.sort_task import exact_accuracy, make_batch, make_dataset, train_sorter
    tr, te = make_dataset(5, 3, seed=0)
    assert not set(map(tuple, tr)) & set(map(tuple, te))            # held-out sequences are unseen
    x, y = make_batch(te[:2])
    assert x.shape == (2, 9) and (y[:, :4] == -1).all() and (y[:, 4:] == np.sort(te[:2], 1)).all()
    r = train_sorter(length=5, num_digits=3, n_layer=1, n_head=2, n_embd=32, steps=400, batch_size=64, lr=1e-2,
                     eval_every=50, seed=0)
    assert r["accuracy"] >= 0.99, r["history"]
    assert exact_accuracy(r["model"], te) == r["accuracy"]


def test_train_with_a_time_budget_ends_decayed_and_evaluated():
    """train(seconds=...) stops on the clock before max_iters, its learning rate has followed the
    cosine to (nearly) min_lr by then, and it evaluated at the start and at the end."""
    tg.manual_seed(0)
    data = np.random.default_rng(0).integers(0, 7, 400)
    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=8))
    tc = TrainConfig(max_iters=10**6, batch_size=2, learning_rate=1e-2, min_lr=1e-3, warmup_iters=2,
                     eval_interval=10**6 // 4, eval_iters=1)
    lrs = []
    m = train(model, data, data, tc, seconds=0.4, on_step=lambda it, loss, lr, dt: lrs.append(lr))
    assert 3 < m["steps"] == len(lrs) == len(m["train_loss"]) < tc.max_iters
    assert lrs[-1] < tc.min_lr + 0.1 * (tc.learning_rate - tc.min_lr)        # decayed although cut short
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:]))                      # monotone after warmup
    assert m["val"][0][0] == 0 and m["val"][-1][0] == m["steps"] and len(m["val"]) >= 2


def test_train_without_budget_evaluates_every_eval_interval():
    tg.manual_seed(0)
    data = np.random.default_rng(0).integers(0, 7, 400)
    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=8))
    m = train(model, data, data, TrainConfig(max_iters=12, batch_size=2, eval_interval=5, eval_iters=1))
    assert [v[0] for v in m["val"]] == [0, 5, 10, 12] and m["steps"] == 12
