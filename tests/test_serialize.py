"""Checkpoints: round trips, atomic writes, corrupted and foreign files, and no pickle anywhere."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import optim, serialize
from tinygrad_lite.serialize import CheckpointError


def _eq(a, b):
    """Deep equality of loaded structures (Tensors and arrays compared by dtype, shape and values)."""
    if isinstance(a, tl.Tensor):
        assert isinstance(b, tl.Tensor) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        assert a.requires_grad == b.requires_grad
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _eq(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _eq(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b)
    else:
        assert type(a) is type(b) and a == b, (a, b)


def test_round_trip_of_every_supported_kind(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "f32": tl.Tensor(rng.standard_normal((3, 4)).astype(np.float32)),
        "f64": tl.Tensor(rng.standard_normal(5), requires_grad=True),
        "f16": tl.Tensor(np.array([1.5, -2.0], np.float16)),
        "i64": tl.tensor([1, 2, 3]),
        "i32": tl.Tensor(np.array([[7]], np.int32)),
        "bool": tl.Tensor(np.array([True, False])),
        "u8": np.arange(4, dtype=np.uint8),
        "scalar_tensor": tl.Tensor(np.float64(3.25)),
        "empty": np.zeros((0, 3), np.float32),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
        "np_scalar": np.float32(1.5),
        "numbers": [1, 2.5, -0.0, float("inf"), float("-inf"), float("nan"), True, False, None, 10**30],
        "strings": ["", "héllo", "with \"quotes\" and \n newline"],
        "tuple": (1, (2, "x"), [3]),
        "nested": {"a": {"b": {"c": [tl.Tensor(np.ones(2))]}}},
        0: "int key", 2.5: "float key", None: "none key", True: "bool key",
        "__t__": "a key that looks like the format's tag",
    }
    tl.save(obj, tmp_path / "all.ckpt")
    back = tl.load(tmp_path / "all.ckpt")
    _eq(obj, back)
    assert back["np_scalar"].dtype == np.float32
    assert back["f64"].is_leaf and back["f64"].requires_grad


def test_model_and_optimizer_state_round_trip(tmp_path):
    import tinygrad_lite.nn as nn
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 3))
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    x = tl.Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    for _ in range(2):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    ck = {"model": model.state_dict(), "optim": opt.state_dict(), "step": 10,
          "config": {"lr": 1e-2, "layers": [4, 8, 3], "name": "mlp", "tied": False}}
    path = tmp_path / "ck.npz"
    tl.save(ck, path)
    back = tl.load(str(path))
    _eq(ck, back)
    model2 = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 3))
    model2.load_state_dict(back["model"])
    opt2 = optim.AdamW(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(back["optim"])
    np.testing.assert_array_equal(model(x).detach().numpy(), model2(x).detach().numpy())


def test_file_is_a_plain_npz_loadable_without_pickle(tmp_path):
    tl.save({"w": tl.Tensor(np.ones(3))}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        assert set(z.files) == {"a0", serialize.META_KEY}
        meta = json.loads(bytes(z[serialize.META_KEY]).decode())
        assert meta["format"] == serialize.FORMAT


def test_load_never_allows_pickle(tmp_path, monkeypatch):
    calls = []
    real = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real(*args, **kwargs)
    monkeypatch.setattr(np, "load", spy)
    tl.save([1, tl.Tensor(np.ones(2))], tmp_path / "c")
    tl.load(tmp_path / "c")
    assert calls == [False]
    src = open(serialize.__file__).read()
    assert "import pickle" not in src and "allow_pickle=True" not in src


def test_object_arrays_and_unknown_types_cannot_be_saved(tmp_path):
    with pytest.raises(TypeError, match=r"dtype object.*pickle"):
        tl.save({"bad": np.array([{}, None], dtype=object)}, tmp_path / "x")
    with pytest.raises(TypeError, match=r"type set at obj\['k'\]\[1\]"):
        tl.save({"k": [1, {2}]}, tmp_path / "x")
    with pytest.raises(TypeError, match="dict key"):
        tl.save({(1, 2): 3}, tmp_path / "x")
    assert not os.listdir(tmp_path)  # nothing written, not even a temp file


def test_a_pickled_object_inside_an_npz_is_refused_not_executed(tmp_path):
    path = tmp_path / "evil.npz"
    tl.save({"w": tl.Tensor(np.ones(2))}, path)
    # replace the array member with a pickled object array (np.save with allow_pickle=True)
    buf = io.BytesIO()
    np.save(buf, np.array([print], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["a0.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(CheckpointError, match=r"evil\.npz"):
        tl.load(path)


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    tl.save({"step": 1, "w": tl.Tensor(np.arange(5.0))}, path)
    good = path.read_bytes()

    def crash(f, members):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(serialize, "_write", crash)
    with pytest.raises(OSError, match="simulated"):
        tl.save({"step": 2, "w": tl.Tensor(np.zeros(5))}, path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ck.npz"]  # the temporary file was removed
    assert tl.load(path)["step"] == 1

    def interrupt(f, members):
        raise KeyboardInterrupt
    monkeypatch.setattr(serialize, "_write", interrupt)
    with pytest.raises(KeyboardInterrupt):
        tl.save({"step": 3}, path)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["ck.npz"]


def test_save_overwrites_atomically_with_os_replace(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.fspath(dst)))
        return real(src, dst)
    monkeypatch.setattr(os, "replace", spy)
    path = tmp_path / "ck.npz"
    tl.save({"a": 1}, path)
    tl.save({"a": 2}, path)
    assert tl.load(path) == {"a": 2}
    assert seen == [(str(tmp_path), str(path))] * 2


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_file_gives_a_clear_error(tmp_path, cut):
    path = tmp_path / "ck.npz"
    tl.save({"w": tl.Tensor(np.random.default_rng(0).standard_normal((50, 50)))}, path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CheckpointError, match=r"ck\.npz.*(truncated|corrupted)"):
        tl.load(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.npz is empty"):
        tl.load(path)


def test_foreign_files_are_not_checkpoints(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("just some text\n")
    with pytest.raises(CheckpointError, match=r"notes\.txt is not a tinygrad_lite checkpoint"):
        tl.load(txt)
    z = tmp_path / "random.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match=r"random\.zip is not a tinygrad_lite checkpoint"):
        tl.load(z)
    npz = tmp_path / "plain.npz"
    np.savez(npz, x=np.ones(2))
    with pytest.raises(CheckpointError, match=r"plain\.npz is not a tinygrad_lite checkpoint"):
        tl.load(npz)
    npy = tmp_path / "one.npy"
    np.save(npy, np.ones(2))
    with pytest.raises(CheckpointError, match=r"one\.npy is not a tinygrad_lite checkpoint"):
        tl.load(npy)
    assert issubclass(CheckpointError, ValueError)
    with pytest.raises(FileNotFoundError):
        tl.load(tmp_path / "missing.npz")


def test_saved_file_gets_normal_permissions(tmp_path):
    path = tmp_path / "ck.npz"
    umask = os.umask(0o022)
    try:
        tl.save({"a": 1}, path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    os.chmod(path, 0o640)
    tl.save({"a": 2}, path)
    assert path.stat().st_mode & 0o777 == 0o640  # overwriting keeps the old mode
