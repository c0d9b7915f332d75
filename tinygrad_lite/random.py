"""The global random generator: `manual_seed` makes rand/randn, init and dropout reproducible.

`Generator` is PyTorch's name for an explicit random stream (`torch.Generator().manual_seed(0)`); it is
a numpy Generator (PCG64), so everything that accepts `generator=` draws from it directly. The streams
are numpy's, not PyTorch's: a seed gives reproducible results, not PyTorch's numbers."""
import numpy as np

from .device import check_device


class Generator(np.random.Generator):
    """torch.Generator(device='cpu'): seed with manual_seed(seed) (returns itself, as in PyTorch)."""

    def __init__(self, device="cpu", seed=None):
        check_device(device, "Generator")
        self._seed = int(np.random.SeedSequence().entropy % (1 << 63)) if seed is None else int(seed)
        super().__init__(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.bit_generator.state = np.random.PCG64(self._seed).state
        return self

    def seed(self):
        """Re-seed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (1 << 63)))._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self.bit_generator.state

    def set_state(self, state):
        self.bit_generator.state = state
        return self

    device = property(lambda self: check_device("cpu"))


_STATE = {"rng": Generator(seed=np.random.SeedSequence().entropy % (1 << 63))}


def manual_seed(seed):
    """Seed the global generator (used by rand, randn, nn.init, dropout, sampling); returns it."""
    _STATE["rng"].manual_seed(int(seed))
    return _STATE["rng"]


def seed():
    return _STATE["rng"].seed()


def initial_seed():
    return _STATE["rng"].initial_seed()


def get_rng():
    """The global Generator."""
    return _STATE["rng"]


default_generator = _STATE["rng"]
