"""The global random generator: `manual_seed` makes rand/randn, init and dropout reproducible."""
import numpy as np

_STATE = {"rng": np.random.default_rng()}


def manual_seed(seed):
    """Seed the global generator (used by rand, randn, nn.init, dropout, sampling)."""
    _STATE["rng"] = np.random.default_rng(int(seed))
    return _STATE["rng"]


def get_rng():
    """The global numpy Generator."""
    return _STATE["rng"]
