"""How a tensor prints under the torch import hook: PyTorch's layout, so that a script's `print(x)` lines
read the same on both. Floats get 4 decimals (`0.7500`), whole numbers a bare point (`2.`), and
scientific notation (`1.0000e-05`) when the non-zero magnitudes span more than 1000x or leave [1e-4, 1e8]
(whole numbers: span more than 1000x or exceed 1e8);
the elements are right-aligned to one width; `dtype=torch.float64` is named unless it is the default
float dtype, int64 or bool."""
import numpy as np


def _float_format(d):
    """A function formatting one element, and the width every element is padded to."""
    fin = d[np.isfinite(d)]
    mags = np.abs(fin[fin != 0])
    whole = fin.size == 0 or bool(np.all(fin == np.round(fin)))
    big = mags.size and (mags.max() > 1e8 or mags.max() / mags.min() > 1000 or (not whole and mags.min() < 1e-4))
    if big:
        def one(v):
            return f"{v:.4e}" if np.isfinite(v) else str(float(v))
    elif whole:
        def one(v):
            return f"{v:.0f}." if np.isfinite(v) else str(float(v))
    else:
        def one(v):
            return f"{v:.4f}" if np.isfinite(v) else str(float(v))
    width = max((len(one(v)) for v in d.reshape(-1)), default=0)
    return lambda v: one(v).rjust(width)


def torch_repr(t):
    d = t._data
    if d.size == 0:
        body = "[]"
    else:
        kw = {"float_kind": _float_format(d)} if d.dtype.kind == "f" else {}
        if d.dtype.kind in "iu":
            width = max(len(str(v)) for v in d.reshape(-1))
            kw = {"int": lambda v: str(v).rjust(width)}
        body = np.array2string(d, separator=", ", prefix="tensor(", formatter=kw or None, threshold=1000, edgeitems=3,
                               max_line_width=80)
    return f"tensor({body}{t._repr_tail(f'torch.{d.dtype}')})"
