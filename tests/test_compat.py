"""tinygrad_lite.compat and `tinygrad-lite run`: PyTorch scripts see torch as tinygrad_lite, get PyTorch's CPU
answers, and an API we lack fails with one line naming it and the script's file:line. Scripts run in
subprocesses (this test process may have imported the real torch)."""
import io
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler,
                                      SequentialSampler, Subset, TensorDataset, default_collate, random_split)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(tmp_path, code, *args, graph=None, name="script.py"):
    script = tmp_path / name
    script.write_text(textwrap.dedent(code))
    cmd = [sys.executable, "-m", "tinygrad_lite_app", "run"] + (["--graph", str(graph)] if graph else []) + \
        [str(script)] + list(args)
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_run_maps_torch_and_passes_argv(tmp_path):
    p = run_script(tmp_path, """
        import sys, torch, torch.nn as nn, torch.nn.functional as F, torch.optim, torch.autograd
        from torch.utils.data import DataLoader, TensorDataset
        from torch.utils.data.dataloader import DataLoader as DL2
        import tinygrad_lite
        assert torch.Tensor is not tinygrad_lite.Tensor and isinstance(torch.zeros(1), torch.Tensor)
        assert torch.nn.Linear is tinygrad_lite.nn.Linear and F.softmax is tinygrad_lite.nn.functional.softmax
        assert DL2 is DataLoader and torch.optim.AdamW is tinygrad_lite.optim.AdamW
        print(__name__, sys.argv[1:])
        """, "--lr", "3")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "__main__ ['--lr', '3']"


@pytest.mark.parametrize("code,name,line", [
    ("import torch\nx = torch.ones(3)\ny = torch.fft.fft(x)\n", "torch.fft", 3),
    ("import torch\nfrom torch.nn import Conv9d\n", "torch.nn.Conv9d", 2),
    ("import torch.fx\n", "torch.fx", 1),
    ("import torch\nimport torch.distributed as dist\n\ndist.init_process_group('gloo')\n",
     "torch.distributed.init_process_group", 4),
])
def test_unsupported_api_is_one_line_naming_it_and_the_place(tmp_path, code, name, line):
    p = run_script(tmp_path, code)
    assert p.returncode == 1
    err = p.stderr.strip().splitlines()
    assert len(err) == 1, p.stderr
    assert name in err[0] and f"script.py:{line}" in err[0] and "not supported by tinygrad_lite" in err[0]


def test_hasattr_probes_answer_false_and_script_errors_keep_their_traceback(tmp_path):
    p = run_script(tmp_path, """
        import torch
        assert not hasattr(torch, "fft") and hasattr(torch.nn.functional, "scaled_dot_product_attention")
        def f():
            raise ValueError("boom")
        f()
        """)
    assert p.returncode == 1 and "ValueError: boom" in p.stderr and "script.py" in p.stderr
    assert "cmd_run.py" not in p.stderr and "runpy" not in p.stderr
    p = run_script(tmp_path, "import sys\nsys.exit(3)\n")
    assert p.returncode == 3


def test_cuda_questions_get_pytorchs_cpu_answers(tmp_path):
    p = run_script(tmp_path, """
        import warnings, torch, torch.nn as nn
        assert torch.cuda.is_available() is False and torch.cuda.device_count() == 0
        assert torch.backends.mps.is_available() is False and torch.backends.cudnn.is_available() is False
        assert torch.accelerator.is_available() is False and torch.accelerator.current_accelerator() is None
        torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
        torch.cuda.manual_seed(0); torch.cuda.manual_seed_all(0); torch.cuda.empty_cache()
        torch.set_default_device("cpu")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        x = torch.ones(2, 3, device=device)
        assert x.device == torch.device("cpu") and str(x.device) == "cpu" and x.device.type == "cpu"
        assert x.to(device) is x and x.cpu() is x and x.to("cpu", torch.float64).dtype == torch.float64
        assert x.to(torch.zeros(1, dtype=torch.float64)).dtype == torch.float64
        assert torch.device("cuda:1").index == 1 and repr(torch.device("cpu")) == "device(type='cpu')"
        for make in (lambda: x.cuda(), lambda: torch.zeros(2, device="cuda"), lambda: x.to("cuda"),
                     lambda: nn.Linear(2, 2).to("cuda"), lambda: nn.Linear(2, 2).cuda(), lambda: torch.cuda.synchronize(),
                     lambda: nn.Linear(2, 2, device="cuda"), lambda: torch.tensor([1.0], device="cuda:0"),
                     lambda: nn.Conv2d(1, 1, 3, device="cuda"), lambda: nn.LSTM(2, 2, device="cuda")):
            try:
                make()
                raise SystemExit("no error")
            except AssertionError as e:
                assert str(e) == "Torch not compiled with CUDA enabled", e
        m = nn.Linear(2, 2).to(torch.device("cpu"))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            scaler = torch.cuda.amp.GradScaler(enabled=True)
            with torch.amp.autocast(device_type="cuda", dtype=torch.float16):
                loss = m(x[:, :2]).sum()
        assert not scaler.is_enabled() and len(w) == 2
        scaler.scale(loss).backward()
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        scaler.unscale_(opt); scaler.step(opt); scaler.update()
        assert torch.compile(m) is m
        print("ok")
        """)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_graph_of_the_first_loss(tmp_path):
    out = tmp_path / "g" / "loss.dot"
    p = run_script(tmp_path, """
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        for step in range(2):
            loss = model(torch.randn(5, 3)).pow(2).mean()
            loss.backward()
        """, graph=out)
    assert p.returncode == 0, p.stderr
    dot = out.read_text()
    assert "digraph" in dot and "tanh" in dot and "0.weight" in dot
    p = run_script(tmp_path, "print('no backward here')\n", graph=tmp_path / "none.dot")
    assert p.returncode == 1 and "never called backward" in p.stderr


def test_install_in_process_and_uninstall(tmp_path):
    code = textwrap.dedent("""
        import sys, tinygrad_lite.compat as compat
        compat.install()
        import torch
        assert torch.ones(2).sum().item() == 2.0 and compat.installed()
        torch.randint = lambda *a, **k: "patched"
        import tinygrad_lite
        assert tinygrad_lite.randint() == "patched"  # a monkeypatch of torch.X reaches tinygrad_lite's callers
        compat.uninstall()
        assert "torch" not in sys.modules and not compat.installed()
        print("ok")
        """)
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_no_numpy_warnings_reach_the_user(tmp_path):
    p = run_script(tmp_path, """
        import torch, torch.nn.functional as F
        x = torch.tensor([0.0, 1.0], requires_grad=True)
        x.log().sum().backward()
        F.softmax(torch.tensor([[float("-inf")] * 3, [0.0, 1.0, 2.0]]), dim=-1)
        torch.tensor([[float("-inf")] * 3]).log_softmax(-1)
        torch.tensor([1.0, 0.0]) / 0.0, torch.tensor([-1.0]).sqrt(), torch.tensor([1000.0]).exp()
        import numpy as np
        np.log(np.zeros(1))  # the script's own numpy keeps its warning
        """)
    assert p.returncode == 0
    assert p.stderr.count("RuntimeWarning") == 1 and "np.log(np.zeros(1))" in p.stderr


# ----------------------------------------------------------------------------------------- in process
def test_legacy_tensor_constructor_semantics(tmp_path):
    p = run_script(tmp_path, """
        import torch, numpy as np
        assert torch.Tensor([1, 2]).dtype == torch.float32 and torch.Tensor(2, 3).shape == (2, 3)
        assert torch.Tensor(np.array([1, 2])).dtype == torch.float32 and torch.Tensor().shape == (0,)
        t = torch.tensor([1, 2]); assert torch.Tensor(t) is t and t.dtype == torch.int64
        assert issubclass(type(t), torch.Tensor) and torch.Tensor.sum is type(t).sum
        print("ok")
        """)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_grad_assignment_is_checked():
    t = tl.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got grad of type float"):
        t.grad = 0.0
    with pytest.raises(RuntimeError, match="different size"):
        t.grad = tl.zeros(3)
    t.grad = tl.ones(2)
    t.grad = None


def test_view_follows_pytorchs_stride_rule():
    torch = pytest.importorskip("torch")
    base = np.arange(24.0).reshape(2, 3, 4)
    cases = [lambda x: x.transpose(1, 2).view(-1), lambda x: x.transpose(1, 2).view(2, 12),
             lambda x: x[:, :, 1:3].view(2, 3, 2, 1), lambda x: x[:, :, 1:3].view(6, 2),
             lambda x: x.permute(2, 0, 1).view(4, 6), lambda x: x.transpose(0, 1).view(3, 2, 2, 2),
             lambda x: x.transpose(1, 2).contiguous().view(-1), lambda x: x.view(4, 6)]
    for f in cases:
        try:
            want = f(torch.tensor(base)).numpy()
        except RuntimeError as e:
            with pytest.raises(RuntimeError, match="view size is not compatible"):
                f(tl.tensor(base))
            assert "view size is not compatible" in str(e)
        else:
            np.testing.assert_array_equal(f(tl.tensor(base)).numpy(), want)


def test_integer_ops_format_and_keywords_match_pytorch():
    torch = pytest.importorskip("torch")
    a, b = np.array([7, -7, 5, -5, 0]), np.array([2, 2, -3, -3, 4])
    tt, ta, tb = torch.tensor(a), torch.tensor(a), torch.tensor(b)
    ot, ob = tl.tensor(a), tl.tensor(b)
    np.testing.assert_array_equal((ot // ob).numpy(), (tt // tb).numpy())
    np.testing.assert_array_equal((ot % ob).numpy(), (tt % tb).numpy())
    np.testing.assert_array_equal((ot // 3).numpy(), (ta // 3).numpy())
    np.testing.assert_array_equal((-7 % ob).numpy(), (-7 % tb).numpy())
    np.testing.assert_array_equal(abs(ot).numpy(), abs(tt).numpy())
    np.testing.assert_array_equal(ot.cumsum(0).numpy(), tt.cumsum(0).numpy())
    assert (ot.cumsum(0).dtype, tl.tensor([True, True]).cumsum(0).dtype) == (np.int64, np.int64)
    f = np.array([5.5, -5.5, 0.25])
    np.testing.assert_allclose((tl.tensor(f) // 2).numpy(), (torch.tensor(f) // 2).numpy())
    np.testing.assert_allclose((tl.tensor(f) % -2).numpy(), (torch.tensor(f) % -2).numpy())
    for spec in (".4f", "", ">10.2e", "g"):
        assert format(tl.tensor(3.14159), spec) == format(torch.tensor(3.14159), spec)
    with pytest.raises(TypeError, match="only 0-d tensors"):
        format(tl.tensor([1.0]), ".2f")
    assert tl.matmul(input=tl.ones(2, 2), other=tl.ones(2)).tolist() == [2.0, 2.0]
    assert tl.sum(input=tl.ones(2, 3), dim=1).tolist() == [3.0, 3.0]


def test_sort_topk_argsort_indices_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).permutation(24).reshape(2, 3, 4).astype(np.float64)
    x[0, 0, :2] = 5.0  # ties: the stable order keeps them in place, as PyTorch's stable sort does
    for d in (0, 1, 2, -1):
        for desc in (False, True):
            o, t = tl.tensor(x).sort(d, descending=desc, stable=True), torch.tensor(x).sort(dim=d, descending=desc,
                                                                                          stable=True)
            np.testing.assert_array_equal(o.values.numpy(), t.values.numpy())
            np.testing.assert_array_equal(o.indices.numpy(), t.indices.numpy())
            np.testing.assert_array_equal(tl.tensor(x).argsort(d, descending=desc, stable=True).numpy(),
                                          torch.tensor(x).argsort(dim=d, descending=desc, stable=True).numpy())
    y = np.random.default_rng(1).permutation(30).reshape(5, 6).astype(np.float64)
    for k in (1, 3, 6):
        for largest in (True, False):
            o, t = tl.topk(tl.tensor(y), k, largest=largest), torch.topk(torch.tensor(y), k, largest=largest)
            np.testing.assert_array_equal(o.indices.numpy(), t.indices.numpy())
            np.testing.assert_array_equal(o.values.numpy(), t.values.numpy())
    with pytest.raises(RuntimeError, match="out of range"):
        tl.tensor(y).topk(7)


def test_random_functions_forms_and_generators():
    assert tl.randint(5, (2, 3)).shape == (2, 3) and tl.randint(3, 5, (4,)).min().item() >= 3
    assert tl.randint(high=4, size=(3,)).max().item() < 4 and tl.randint(2, 3, size=(2,)).tolist() == [2, 2]
    with pytest.raises(TypeError, match="randint"):
        tl.randint(5)
    with pytest.raises(ValueError, match="low < high"):
        tl.randint(5, 5, (1,))
    g1, g2 = tl.Generator().manual_seed(3), tl.Generator().manual_seed(3)
    assert tl.randn(4, generator=g1).tolist() == tl.randn(4, generator=g2).tolist()
    tl.manual_seed(1)
    a = tl.rand(3).tolist()
    tl.manual_seed(1)
    assert tl.rand(3).tolist() == a
    p = tl.tensor([[0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 0.0, 1.0]])
    s = tl.multinomial(p, 3)  # default: without replacement
    assert all(len(set(r)) == 3 for r in s.tolist()) and 2 not in s[1].tolist()
    with pytest.raises(RuntimeError, match="without replacement"):
        tl.multinomial(p, 4)
    assert tl.multinomial(p, 10, replacement=True).shape == (2, 10)
    assert tl.multinomial(tl.tensor([0.0, 1.0]), 1).tolist() == [1]


def test_from_numpy_shares_memory_and_inference_mode():
    a = np.zeros(3)
    t = tl.from_numpy(a)
    a[1] = 5.0
    t[2] = 7.0
    assert t.tolist() == [0.0, 5.0, 7.0] and a[2] == 7.0 and t.data_ptr() == a.ctypes.data
    with pytest.raises(TypeError, match="from_numpy"):
        tl.from_numpy([1, 2])
    w = tl.ones(2, requires_grad=True)
    with tl.inference_mode():
        assert not (w * 2).requires_grad
    with tl.inference_mode(False):
        assert (w * 2).requires_grad

    @tl.inference_mode()
    def f(x):
        return x * 2

    @tl.inference_mode
    def g(x):
        return x * 2
    assert not f(w).requires_grad and not g(w).requires_grad and (w * 2).requires_grad


def test_new_constructors_and_like_helpers():
    x = tl.ones(2, dtype=tl.float64)
    assert x.new_zeros(3).dtype == np.float64 and x.new_ones((2, 2)).shape == (2, 2)
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_tensor([1, 2]).dtype == np.float64
    assert x.new_zeros(2, dtype=tl.int64).dtype == np.int64 and x.new_empty(4).shape == (4,)
    assert x.type_as(tl.zeros(1)).dtype == np.float32 and x.view_as(tl.zeros(2, 1)).shape == (2, 1)


# ----------------------------------------------------------------------------------------- utils.data
class Squares(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return {"x": float(i), "y": i * i, "name": f"n{i}", "pair": (np.array([i, i + 1]), tl.tensor([i]))}


def test_dataloader_batches_collates_and_matches_pytorch():
    torch = pytest.importorskip("torch")
    import torch.utils.data as tud
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    ours = list(DataLoader(TensorDataset(tl.tensor(x), tl.tensor(y)), batch_size=4))
    theirs = list(tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4))
    assert len(ours) == len(theirs) == 3
    for (ox, oy), (tx, ty) in zip(ours, theirs):
        np.testing.assert_array_equal(ox.numpy(), tx.numpy())
        assert ox.dtype == np.float64 and oy.dtype == np.int64 and oy.tolist() == ty.tolist()
    assert len(list(DataLoader(TensorDataset(tl.tensor(x)), batch_size=4, drop_last=True))) == 2
    assert len(DataLoader(TensorDataset(tl.tensor(x)), batch_size=4, drop_last=True)) == 2
    b = next(iter(DataLoader(Squares(), batch_size=3)))
    assert b["x"].dtype == np.float64 and b["x"].tolist() == [0.0, 1.0, 2.0] and b["y"].dtype == np.int64
    assert b["name"] == ["n0", "n1", "n2"] and b["pair"][0].tolist() == [[0, 1], [1, 2], [2, 3]]
    assert b["pair"][1].shape == (3, 1)
    # collation of python numbers, as PyTorch: floats -> float64, ints -> int64, bools -> bool
    for batch in ([1.5, 2.5], [1, 2], [True, False], [(1, 2.0), (3, 4.0)]):
        ref = torch.utils.data.default_collate(batch)
        got = default_collate(batch)
        if isinstance(ref, list):
            assert [g.tolist() for g in got] == [r.tolist() for r in ref]
            assert [str(g.dtype) for g in got] == [str(r.dtype).replace("torch.", "") for r in ref]
        else:
            assert got.tolist() == ref.tolist() and str(got.dtype) == str(ref.dtype).replace("torch.", "")


def test_shuffle_is_seeded_and_samplers():
    ds = TensorDataset(tl.arange(10))
    order = lambda **kw: [int(v) for (b,) in DataLoader(ds, batch_size=3, shuffle=True, **kw) for v in b.tolist()]  # noqa
    a = order(generator=tl.Generator().manual_seed(0))
    assert sorted(a) == list(range(10)) and a != list(range(10))
    assert order(generator=tl.Generator().manual_seed(0)) == a
    tl.manual_seed(5)
    b1 = order()
    tl.manual_seed(5)
    assert order() == b1
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    rs = list(RandomSampler(range(5), replacement=True, num_samples=70))
    assert len(rs) == 70 and set(rs) <= set(range(5))
    assert sorted(RandomSampler(range(6))) == list(range(6)) and len(RandomSampler(range(6), num_samples=9)) == 9
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    loader = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, True), num_workers=2)
    assert [b.tolist() for (b,) in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)


def test_random_split_subsets_concat():
    parts = random_split(range(10), [7, 3], generator=tl.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [7, 3] and sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    assert [len(p) for p in random_split(range(10), [0.5, 0.3, 0.2])] == [5, 3, 2]
    assert [len(p) for p in random_split(range(11), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="sum to"):
        random_split(range(10), [3, 3])
    c = ConcatDataset([Subset(range(10), [1, 2]), range(3)])
    assert len(c) == 5 and [c[i] for i in range(5)] == [1, 2, 0, 1, 2] and c[-1] == 2
    with pytest.raises(ValueError, match="same size"):
        TensorDataset(tl.zeros(2), tl.zeros(3))


# ----------------------------------------------------------------------------------------- save / load
def test_save_load_map_location_weights_only_and_file_objects(tmp_path):
    sd = {"w": tl.randn(2, 3), "step": 3, "cfg": {"name": "x", "betas": (0.9, 0.95)}, "best": tl.tensor(1.5)}
    path = tmp_path / "ck.pt"
    tl.save(sd, path)
    for kw in ({}, {"map_location": "cpu"}, {"map_location": tl.device("cpu")}, {"map_location": {"cuda:0": "cpu"}},
               {"weights_only": True}, {"weights_only": False, "map_location": lambda t, loc: t}):
        back = tl.load(path, **kw)
        assert back["w"].tolist() == sd["w"].tolist() and back["cfg"]["betas"] == (0.9, 0.95)
        assert f"{back['best']:.1f}" == "1.5"
    doubled = tl.load(path, map_location=lambda t, loc: t * 2)
    assert doubled["best"].item() == 3.0
    with pytest.raises(AssertionError, match="CUDA"):
        tl.load(path, map_location="cuda")
    buf = io.BytesIO()
    tl.save(sd, buf)
    buf.seek(0)
    assert tl.load(buf)["w"].tolist() == sd["w"].tolist()


def test_loading_a_pytorch_pickle_checkpoint_says_so(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2)}, tmp_path / "t.pt")
    with pytest.raises(ValueError, match="PyTorch \\(pickle\\) checkpoint; tinygrad_lite never unpickles"):
        tl.load(tmp_path / "t.pt")


def test_install_refuses_when_real_torch_is_loaded():
    pytest.importorskip("torch")
    import tinygrad_lite.compat as compat
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="real torch is already imported"):
            compat.install()


# ----------------------------------------------------------------------------------------- in-place on non-leaves
def _inplace_chain(lib, x0, w0):
    x = lib.tensor(x0, requires_grad=True)
    w = lib.tensor(w0, requires_grad=True)
    h = x * 2
    early = h + 1  # made before the updates: its gradient goes to h's value at that time
    h.add_(w)
    h.mul_(3.0)
    h[:, 0] = w[1] * 5
    h[h > 10] = 0.0
    h.clamp_(-4, 9)
    h.sub_(w, alpha=2)
    h += 1
    h.div_(w.abs() + 1)
    g = h.clone()
    g.copy_(h * w)
    loss = (h * h).sum() + (early * early).sum() + (g * g).sum()
    loss.backward()
    return loss.item(), x.grad.numpy().copy(), w.grad.numpy().copy(), h.detach().numpy().copy()


def test_inplace_ops_on_non_leaves_are_recorded_like_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for _ in range(3):
        x0, w0 = rng.uniform(-3, 3, (2, 3)), rng.uniform(-1, 1, 3)
        ours, theirs = _inplace_chain(tl, x0, w0), _inplace_chain(torch, x0, w0)
        assert ours[0] == pytest.approx(theirs[0], rel=1e-12)
        for o, t in zip(ours[1:], theirs[1:]):
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14)


def test_inplace_conflicts_and_leaves_still_fail():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.5
    y = h * x  # mul saves h as an input
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad is being used in an in-place operation"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="view of a tensor that requires grad"):
        (x * 2)[:1].add_(1)
    with tl.no_grad():
        x.add_(1)  # the usual parameter update
    assert x.tolist() == [2.0, 3.0]
    h = x * 2
    h.fill_(0.5)
    (h * x).sum().backward()
    assert x.grad.tolist() == [0.5, 0.5]


def test_missing_tensor_method_is_one_line_and_hasattr_false(tmp_path):
    p = run_script(tmp_path, "import torch\nx = torch.ones(2)\nassert not hasattr(x, 'stft')\ny = x.stft(4)\n")
    assert p.returncode == 1 and p.stderr.strip() == \
        "tinygrad-lite run: Tensor.stft is not supported by tinygrad_lite (used at script.py:4)"


def test_add_alpha_and_masked_fill_inplace_match_pytorch():
    torch = pytest.importorskip("torch")
    x0, w0 = np.array([[1.0, -2.0], [3.0, 0.5]]), np.array([0.3, -0.7])
    res = []
    for lib in (tl, torch):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        h = x.add(w, alpha=2).sub(x, alpha=0.5)
        h.masked_fill_(h > 1, 0.25)
        (h * h * w).sum().backward()
        res.append((h.detach().numpy().copy(), x.grad.numpy().copy(), w.grad.numpy().copy()))
        with lib.no_grad():
            x.masked_fill_(lib.tensor(x0 < 0), 9.0)
        res[-1] += (x.detach().numpy().copy(),)
    for o, t in zip(*res):
        np.testing.assert_allclose(o, t, rtol=1e-12)
