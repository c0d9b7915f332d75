"""Size: the type of `x.shape` and `x.size()`, a tuple of ints as torch.Size is.

It compares equal to (and hashes as) the plain tuple, indexes, unpacks and slices like one, and
numpy takes it wherever a shape goes. Only its printout differs under `tinygrad-lite run` (the
`torch` import hook): there it prints as PyTorch does, `torch.Size([4, 5])`, so a script's
`print(x.shape)` lines read the same on both; elsewhere it prints as the tuple `(4, 5)`."""
import numpy as np


class Size(tuple):
    __slots__ = ()

    def numel(self):
        """The number of elements of a tensor of this shape."""
        return int(np.prod(self, dtype=np.int64))

    def __getitem__(self, i):
        out = tuple.__getitem__(self, i)
        return Size(out) if type(i) is slice else out

    def __add__(self, other):
        return Size(tuple.__add__(self, other)) if type(other) is not list else tuple.__add__(self, other)

    def __repr__(self):
        from .compat import installed
        return f"torch.Size({list(self)})" if installed() else tuple.__repr__(self)

    __str__ = __repr__

    def __reduce__(self):  # pickles (and deep-copies) as a plain tuple: loading needs no tinygrad_lite
        return (tuple, (tuple(self),))
