"""`tinygrad-lite convert`: our checkpoint <-> plain PyTorch state_dict (.pt, weights_only) <-> safetensors."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import tinygrad_lite as tg  # noqa: E402
from models import gpt, mlp  # noqa: E402
from models.backend import get_backend  # noqa: E402
from tinygrad_lite_app.cli import main as cli  # noqa: E402


@pytest.fixture(scope="module")
def gpt_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("gpt")
    gpt.main("--steps 3 --n-layer 1 --n-embd 16 --n-head 2 --block-size 8 --batch-size 4 --eval-interval 0 "
             f"--quiet --max-new-tokens 1 --out {d}".split())
    return d / "ckpt.pt"


def _arrays(path):
    return {k: v.numpy() for k, v in tg.load(str(path))["model"].items()}


def test_pt_is_a_plain_state_dict_that_torch_code_loads(gpt_ckpt, tmp_path):
    out = tmp_path / "gpt_state.pt"
    assert cli(["convert", str(gpt_ckpt), str(out)]) == 0
    state = torch.load(out, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    ours = _arrays(gpt_ckpt)
    assert list(state) == list(ours)
    for k in ours:
        np.testing.assert_array_equal(state[k].numpy(), ours[k], err_msg=k)
    # anyone's PyTorch code: load_state_dict into the torch-backend GPT, same outputs as ours
    m_tg, vocab, _ = gpt.load_checkpoint(str(gpt_ckpt))
    m_t = get_backend("torch").make(gpt.GPT, m_tg.config)
    m_t.load_state_dict(state)
    idx = vocab.encode("import")[None, :]
    np.testing.assert_allclose(m_t(idx)[0].detach().numpy(), m_tg(idx)[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / "gpt_state.pt.json").read_text())["tinygrad_lite"]["rest"]["config"]["n_embd"] == 16


@pytest.mark.parametrize("middle", ["gpt.pt", "gpt.safetensors"])
def test_round_trip_gives_a_checkpoint_that_samples_the_same(gpt_ckpt, tmp_path, middle, capsys):
    mid, back = tmp_path / middle, tmp_path / "back" / "ckpt.pt"
    assert cli(["convert", str(gpt_ckpt), str(mid)]) == 0
    assert cli(["convert", str(mid), str(back), "--to", "tinygrad_lite"]) == 0
    a, b = _arrays(gpt_ckpt), _arrays(back)
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    capsys.readouterr()
    outs = []
    for path in (gpt_ckpt, back):
        assert cli(["sample", str(path), "--max-new-tokens", "30", "--seed", "4"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and len(outs[0]) > 30


def test_mlp_and_skipgram_checkpoints_convert_too(tmp_path):
    from models.skipgram import SkipGramNS
    mlp.main(f"--epochs 1 --hidden 8 --no-progress --out {tmp_path / 'mlp'}".split())
    src = tmp_path / "mlp" / "checkpoint.tgl"
    assert cli(["convert", str(src), str(tmp_path / "mlp.safetensors")]) == 0
    assert cli(["convert", str(tmp_path / "mlp.safetensors"), str(tmp_path / "mlp2.tgl")]) == 0
    m1, c1 = mlp.load_checkpoint(str(src))
    m2, c2 = mlp.load_checkpoint(str(tmp_path / "mlp2.tgl"))
    assert c1["sizes"] == c2["sizes"] and c1["task"] == c2["task"]
    x = np.random.default_rng(0).random((3, 64)).astype(np.float32)
    np.testing.assert_array_equal(m1(tg.tensor(x)).detach().numpy(), m2(tg.tensor(x)).detach().numpy())
    # skip-gram: its checkpoint has no 'model' entry; every top-level array is a weight
    from models.text import Vocab
    sg = SkipGramNS(Vocab(["a", "b", "c"], np.array([3, 2, 1])), dim=4)
    sg.save(str(tmp_path / "sg.tgl"), config={"dim": 4})
    assert cli(["convert", str(tmp_path / "sg.tgl"), str(tmp_path / "sg.pt")]) == 0
    assert set(torch.load(tmp_path / "sg.pt", weights_only=True)) == {"W_in", "W_out", "counts"}
    assert cli(["convert", str(tmp_path / "sg.pt"), str(tmp_path / "sg2.tgl")]) == 0
    back = SkipGramNS.load(str(tmp_path / "sg2.tgl"))
    assert back.vocab.words == ["a", "b", "c"] and back.config == {"dim": 4}
    np.testing.assert_array_equal(back.W_in.detach().numpy(), sg.W_in.detach().numpy())


def test_bad_inputs_are_clear_errors(tmp_path, gpt_ckpt, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, not weights")
    assert cli(["convert", str(junk), str(tmp_path / "x.pt")]) == 1
    assert "unknown format" in capsys.readouterr().err
    assert cli(["convert", str(gpt_ckpt), str(tmp_path / "x.weird")]) == 1
    assert "add --to" in capsys.readouterr().err
    nested = tmp_path / "nested.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "step": 3}, nested)
    assert cli(["convert", str(nested), str(tmp_path / "y.tgl")]) == 1
    assert "not a plain state_dict" in capsys.readouterr().err
    assert cli(["convert", str(tmp_path / "missing.pt"), str(tmp_path / "y.tgl")]) == 1
    # a .pt without its JSON sidecar: weights only, said on stderr
    torch.save({"w": torch.ones(2, dtype=torch.float64)}, tmp_path / "plain.pt")
    assert cli(["convert", str(tmp_path / "plain.pt"), str(tmp_path / "plain.tgl")]) == 0
    assert "state_dict only" in capsys.readouterr().err
    np.testing.assert_array_equal(tg.load(str(tmp_path / "plain.tgl"))["model"]["w"].numpy(), [1.0, 1.0])
