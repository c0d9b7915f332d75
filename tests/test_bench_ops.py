"""bench/bench_ops.py times every op of the registry (or says why one has no PyTorch peer): a new op
cannot be left out of the per-op benchmark. Not timed: the cases are only checked to run."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite.sparse  # noqa: F401  (registers its rows, so the check does not depend on test order)
from tinygrad_lite.ops import REGISTRY

_PATH = Path(__file__).resolve().parents[1] / "bench" / "bench_ops.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_ops", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_registry_op_is_benchmarked_or_has_a_reason():
    b = _bench()
    covered = {c.op for c in b.CASES}
    assert not covered & set(b.NO_PEER), "an op is both timed and listed as without a peer"
    assert set(REGISTRY) - covered - set(b.NO_PEER) == set(), "ops missing from bench/bench_ops.py CASES"
    assert covered | set(b.NO_PEER) <= set(REGISTRY), "bench_ops names an op the registry does not have"
    assert all(b.NO_PEER.values())


def test_each_case_records_the_op_it_claims_and_runs_on_both_frameworks():
    """Each case's ours-side call must actually record its op (so the table's rows mean what they say)."""
    torch = pytest.importorskip("torch")
    b = _bench()
    namespaces = b._namespaces()
    seen = {}
    for c in b.CASES:
        arrays = c.make(np.random.default_rng(0), b.SMALL)
        out = c.fn(namespaces[0], **b._inputs(namespaces[0], arrays, c.const, np.float32))
        ops, stack, visited = set(), [out], set()
        while stack:  # the ops recorded in the graph of this one call
            t = stack.pop()
            if id(t) in visited or getattr(t, "_op", None) is None:
                continue
            visited.add(id(t))
            ops.add(t._op.name)
            stack.extend(t._inputs or ())
        assert c.op in ops, f"{c.label}: recorded {ops}, not {c.op}"
        theirs = c.torch_fn(namespaces[1], **b._inputs(namespaces[1], arrays, c.const, np.float32))
        assert tuple(theirs.shape) == tuple(out.shape), c.label
        seen[c.label] = True
    assert torch is not None and len(seen) == len(b.CASES)
