"""Dtypes, following PyTorch: float32 by default for Python floats, numpy arrays keep their dtype."""
import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
half, float, double, long, int = float16, float32, float64, int64, int32  # noqa: A001 (torch aliases)


class _Default:
    __slots__ = ("dtype",)

    def __init__(self):
        self.dtype = float32


DEFAULT = _Default()


def set_default_dtype(dtype):
    """Set the dtype given to Python floats and float creation functions (float32 or float64)."""
    d = to_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    DEFAULT.dtype = d


def get_default_dtype():
    """The current default floating dtype."""
    return DEFAULT.dtype


def to_dtype(dtype):
    """Normalise a dtype spec (numpy dtype, type, or name such as 'float32') to a numpy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype.startswith("torch."):
        dtype = dtype[6:]
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; use e.g. tinygrad_lite.float32 or 'float64'") from None
    if d.kind not in "fiub":
        raise TypeError(f"unsupported dtype {d}: tensors hold float, int or bool data")
    return d
