"""Attention weights as a model really computed them, read from the graph of its forward pass.

    maps = attention_weights(model, ids)        # [(H, T, T) array per attention module, in call order]

Works for any model that normalises its scores with a softmax op (softmax or the fused
masked_softmax): the results of those ops are the weights, grouped by the module that ran them
(from `trace_modules`). Nothing is recomputed, so the picture cannot drift from the model.
"""
from __future__ import annotations

import numpy as np

import tinygrad_lite as tl
from tinygrad_lite.graph import build_graph, trace_modules

SOFTMAX_OPS = ("masked_softmax", "softmax")


def attention_weights(model, ids):
    """Run `model(ids)` once and return its attention weights, one (H, T, T) float64 array per module
    whose softmax produced them (the first batch row), in the order the modules ran.

    ids: token ids (T,) or (1, T). Raises ValueError when the forward pass computes no softmax."""
    ids = np.asarray(ids, dtype=np.int64)
    ids = ids[None, :] if ids.ndim == 1 else ids
    was_training = model.training
    model.eval()                                # no dropout on the weights
    try:
        with trace_modules(model) as tr:
            out = model(tl.Tensor(ids))
    finally:
        model.train(was_training)
    root = out[0] if isinstance(out, tuple) else out
    view = build_graph(root, model=model, trace=tr)
    results = sorted((view.tensor(op.output) for op in view.ops if op.name in SOFTMAX_OPS),
                     key=lambda node: node.seq)                     # in the order the forward ran them
    maps = []
    for node in results:
        w = np.asarray(node.tensor._data, dtype=np.float64)
        maps.append(w[0] if w.ndim == 4 else w)
    if not maps:
        raise ValueError(f"{type(model).__name__}'s forward pass computes no softmax: no attention weights")
    return maps
