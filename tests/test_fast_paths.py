"""Fast paths behind the public API (issue 12's per-op outliers) against the plain reference they
replace, on shapes that take the fast path and shapes that do not (minitorch style: the reference
is kept beside the fast path). PyTorch comparisons of the same ops: tests/torch/test_fast_paths_vs_torch.py."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_lite as tl
from tinygrad_lite.ops import numpy_fast


# ---------------------------------------------------------------------- copy_c: tiled transposed copies
@given(shape=st.lists(st.integers(1, 300), min_size=2, max_size=4), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from([np.float32, np.float64, np.int16, np.complex64]), flip=st.booleans())
def test_copy_c_equals_numpys_copy(shape, seed, dtype, flip):
    rng = np.random.default_rng(seed)
    if np.prod(shape) > 400_000:
        shape = [min(s, 80) for s in shape]
    a = rng.standard_normal(shape).astype(dtype).transpose(rng.permutation(len(shape)))
    if flip:
        a = a[::-1]
    got = numpy_fast.copy_c(a)
    assert got.flags.c_contiguous and got.flags.owndata and got.dtype == a.dtype
    np.testing.assert_array_equal(got, np.ascontiguousarray(a))


@pytest.mark.parametrize("shape,perm", [((1024, 700), (1, 0)), ((6, 300, 260), (0, 2, 1)), ((260, 3, 300), (2, 1, 0))])
def test_copy_c_tiles_large_transposes_and_is_exact(shape, perm):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32).transpose(perm)
    assert numpy_fast._tiled_axis(a) is not None  # the fast path is the one tested
    np.testing.assert_array_equal(numpy_fast.copy_c(a), np.ascontiguousarray(a))


def test_permute_and_contiguous_gradients_are_row_major_copies():
    x = tl.Tensor(np.random.default_rng(1).standard_normal((300, 520)), requires_grad=True)
    g = np.random.default_rng(2).standard_normal((520, 300))
    y = x.permute(1, 0).contiguous()
    assert y._data.flags.c_contiguous
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy().T)
    y.backward(tl.Tensor(g))
    assert x.grad._data.flags.c_contiguous and not np.shares_memory(x.grad._data, g)
    np.testing.assert_array_equal(x.grad.numpy(), g.T)
