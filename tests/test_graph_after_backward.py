"""The graph survives backward, as PyTorch's grad_fn chain does: draw and explain after a plain
backward() (MLP, skip-gram, GPT), memory after backward, kept gradients, module clusters that
follow the module calls that really ran each op."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
import tinygrad_lite.nn.functional as F
from tinygrad_lite.autograd import FreedValue, keep_graph
from tinygrad_lite.graph import build_graph
import viz


def _intermediate_arrays(root):
    """Weak references to the value arrays of every non-leaf tensor behind root (not root itself) that
    still holds its value (release.py frees, at a module's exit, the values no backward rule reads)."""
    out, seen, stack = [], set(), list(root._inputs)
    while stack:
        t = stack.pop()
        if id(t) in seen or t._op is None:
            continue
        seen.add(id(t))
        if type(t._data) is not FreedValue:
            out.append(weakref.ref(t._data))
        stack.extend(t._inputs)
    return out


def _mlp_loss(seed=0):
    tl.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 8))
    x, y = tl.randn(64, 4), tl.tensor(np.arange(64) % 8)  # (values under 1 KiB are left in place)
    return model, F.cross_entropy(model(x), y)


def test_no_activation_is_kept_alive_by_the_kept_structure(no_gc):
    model, loss = _mlp_loss()
    refs = _intermediate_arrays(loss)
    assert len(refs) >= 2 and all(r() is not None for r in refs)
    loss.backward()
    assert all(r() is None for r in refs), "backward must free the activations even while the loss is kept"
    # the structure is still there: ops, shapes, dtypes
    v = build_graph(loss, model=model, grads=True)
    assert [o.name for o in v.ops][-1] == "cross_entropy_idx" and len(v.ops) >= 4
    assert all(n.shape for n in v.tensors if n.kind == "intermediate")


def test_memory_after_backward_is_the_memory_without_the_graph():
    """tracemalloc: keeping the loss after backward costs about what keeping nothing costs."""
    import tracemalloc

    def run(keep):
        tl.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
        x, y = tl.randn(512, 64), tl.tensor(np.arange(512) % 10)
        gc.collect()
        tracemalloc.start()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        kept = loss if keep else None
        del loss
        gc.collect()
        cur = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
        return cur

    without, with_loss = run(False), run(True)
    activations = 512 * (256 + 256 + 256 + 256 + 10) * 4  # what the graph's values weigh
    assert with_loss - without < activations / 10, (with_loss, without)


def test_values_the_user_holds_are_never_released():
    x = tl.randn(3, 4, requires_grad=True)
    h = (x * 2).relu()          # the user keeps h
    loss = (h * h).sum()
    before = h._data.copy()
    loss.backward()
    assert type(h._data) is np.ndarray and np.array_equal(h._data, before)
    logits = x @ tl.randn(4, 5)
    F.cross_entropy(logits, tl.tensor([0, 1, 2])).backward()
    assert logits.argmax(-1).shape == (3,)  # the usual accuracy after backward works


def test_second_backward_raises_and_retain_graph_allows_it():
    x = tl.randn(5, requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    x.grad = None
    loss2 = (x.exp() * x).sum()
    loss2.backward(retain_graph=True)
    loss2.backward()
    np.testing.assert_allclose(x.grad._data, 2 * (np.exp(x._data) * (x._data + 1)), rtol=1e-5)


def test_retained_grads_and_keep_graph_show_intermediate_numbers():
    model, loss = _mlp_loss()
    hidden = model[0]  # keep the first layer's output gradient via retain_grad
    tl.manual_seed(0)
    x, y = tl.randn(64, 4), tl.tensor(np.arange(64) % 8)
    h = hidden(x)
    h.retain_grad()
    loss = F.cross_entropy(model[2](model[1](h)), y)
    loss.backward()
    v = build_graph(loss, model=model, grads=True)
    n = v.node_of(h)
    assert n.grad is not None and not n.grad_freed
    np.testing.assert_allclose(n.grad.norm, np.linalg.norm(h.grad._data), rtol=1e-6)
    with keep_graph():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    v = build_graph(loss, model=model, grads=True, values=True)
    inter = [n for n in v.tensors if n.kind == "intermediate"]
    assert inter and all(n.grad is not None and n.value is not None for n in inter)
    assert not any(o.freed for o in v.ops)
    loss.backward()  # kept: a second backward works


def test_draw_after_backward_skipgram():
    sg = pytest.importorskip("models.skipgram")
    m = sg.SkipGramSoftmax(3, 3, W_e=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]],
                           W_o=[[0.2, 0.3, 0.4], [0.5, 0.6, 0.7], [0.8, 0.9, 1.0]], b_o=[0.1, 0.1, 0.1])
    loss = m.loss([0], [1])
    loss.backward()
    params = {"W_e": m.W_e, "W_o": m.W_o, "b_o": m.b_o}
    src = viz.draw_graph(loss, params=params, show_grads=True, show_values=True).source
    assert "W_e" in src and "W_o" in src and "getitem" in src and "log_softmax" in src
    v = build_graph(loss, params=params, grads=True)
    for name, p in params.items():
        if p.grad is not None:
            g = p.grad._data if hasattr(p.grad, "_data") else np.asarray(p.grad)
            assert np.isclose(v.node_of(p).grad.norm, np.linalg.norm(g))
    assert "Step 1:" in viz.explain_backward(loss, params=params)


def test_draw_after_backward_gpt():
    gpt = pytest.importorskip("models.gpt")
    tl.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=2, n_embd=16))
    idx = tl.tensor(np.random.default_rng(0).integers(0, 16, (2, 8)))
    _, loss = model(idx, idx)
    loss.backward()
    dot = viz.draw_graph(loss, model=model, collapse_depth=2, show_grads=True)
    assert "h.0 (Block)" in dot.source and "h.1 (Block)" in dot.source
    text = viz.explain_backward(loss, model=model)
    assert "wte.weight" in text or "transformer.wte.weight" in text or "weight" in text
    v = build_graph(loss, model=model, grads=True)
    for name, p in model.named_parameters():
        n = v.node_of(p)
        if n is not None and p.grad is not None:
            assert n.name == name and np.isclose(n.grad.norm, np.linalg.norm(np.asarray(p.grad._data)), rtol=1e-5)
    assert any(type(n.tensor._data) is FreedValue for n in v.tensors if n.kind == "intermediate")


def test_module_clusters_follow_the_calls_that_ran_each_op():
    """MultiHeadAttention: reshape/permute/matmul/softmax run in the attention module's own forward,
    not inside out_proj (whose Linear only consumes their result)."""
    from models.attention import MultiHeadAttention

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = MultiHeadAttention(8, 2)

        def forward(self, x):
            return self.mha(x)[0]

    tl.manual_seed(0)
    net = Net()
    x = tl.randn(2, 5, 8, requires_grad=True)
    loss = net(x).sum()
    for trace in (None, "traced"):
        if trace:
            with viz.trace_modules(net) as tr:
                loss = net(x).sum()
        v = build_graph(loss, model=net, trace=tr if trace else None)
        by_module = {}
        for o in v.ops:
            by_module.setdefault(o.module, []).append(o.name)
        assert set(by_module.get("mha.out_proj", [])) <= {"linear"}, by_module
        assert {"matmul", "softmax"} & set(by_module.get("mha", [])) or \
            {"matmul", "masked_softmax"} & set(by_module.get("mha", [])), by_module
        assert "reshape" in by_module.get("mha", []) or "permute" in by_module.get("mha", [])
        assert by_module.get("mha.q_proj") == ["linear"]


def test_values_held_in_any_way_survive_backward():
    """A value is released only when nothing but the graph refers to its tensor: not when it sits in a
    list, a closure, a dict, is an input of grad() or of backward(inputs=...), or has a hook."""
    x = tl.randn(32, 32, requires_grad=True)
    kept = {}
    box = [x * 2]
    kept["d"] = box[0].tanh()

    def closure_holder(t=(box[0] + 1).exp()):
        return t
    hooked = kept["d"] * 3
    hooked.register_hook(lambda g: None)
    loss = (closure_holder() + hooked + box[0]).sum()
    values = {k: np.array(v._data) for k, v in [("box", box[0]), ("d", kept["d"]), ("c", closure_holder()),
                                                 ("hooked", hooked)]}
    loss.backward()
    for k, t in [("box", box[0]), ("d", kept["d"]), ("c", closure_holder()), ("hooked", hooked)]:
        assert type(t._data) is np.ndarray and np.array_equal(t._data, values[k]), k
    h = (x * 3).relu()
    (g,) = tl.autograd.grad((h * h).sum(), h)
    assert type(h._data) is np.ndarray and np.allclose(g._data, 2 * h._data)
    h2 = (x * 4).sigmoid()
    (h2 * 5).sum().backward(inputs=[h2])
    assert type(h2._data) is np.ndarray


def test_released_values_are_shape_and_dtype_only():
    x = tl.randn(64, 64, requires_grad=True)
    loss = ((x * 2).exp() * 3).sum()
    loss.backward()
    mid = loss._inputs[0]
    assert type(mid._data) is FreedValue and mid.shape == (64, 64) and mid.dtype == np.float32
    assert "freed by backward" in repr(mid._data)
