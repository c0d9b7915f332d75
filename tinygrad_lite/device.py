"""Devices, as PyTorch names them. tinygrad_lite computes on the CPU only, so `device('cpu')` is the
one device that holds tensors; asking for CUDA (or MPS, XPU...) fails with PyTorch's own answer on a
machine without that backend, so scripts that check for a GPU take their CPU branch."""

CUDA_ERROR = "Torch not compiled with CUDA enabled"
_KNOWN = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "mtia", "hpu", "ipu", "privateuseone")


class device:
    """torch.device: `device('cpu')`, `device('cuda:0')`, `device('cuda', 1)`. Only 'cpu' can hold a
    tensor; a device object for another type can still be made and compared, as in PyTorch."""
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002  (PyTorch's parameter name)
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int):
            raise RuntimeError(f"device({type}): an integer is a CUDA device index; {CUDA_ERROR}")
        elif not isinstance(type, str):
            raise TypeError(f"device(): expected a string such as 'cpu', got {type.__class__.__name__}")
        else:
            name, _, idx = type.partition(":")
            if idx:
                if index is not None or not idx.isdigit():
                    raise RuntimeError(f"Invalid device string: '{type}'")
                index = int(idx)
            type = name
        if type not in _KNOWN:
            raise RuntimeError(f"Expected one of {', '.join(_KNOWN)} device type at start of device string: {type}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


def check_device(dev, op="tensor"):
    """Accept None, 'cpu', device('cpu') (or 'cpu:0'); any other device fails as PyTorch without that backend.
    Returns the cpu device."""
    if dev is None or dev is CPU:
        return CPU
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cpu":
        return CPU
    if d.type == "cuda":
        raise AssertionError(CUDA_ERROR)
    if d.type == "meta":
        raise NotImplementedError(f"{op}: the 'meta' device is not supported by tinygrad_lite (it computes on the cpu)")
    raise RuntimeError(f"{op}: device '{d}' is not available: tinygrad_lite computes on the cpu only")
