"""Stand-ins the PyTorch oracle runs of tests/compat need (shim.py and init_weights.py import this)."""
import sys


def tensorboard_stub():
    """Real PyTorch's torch.utils.tensorboard needs the tensorboard package; the oracle run only needs the
    name (makemore writes its scalars there), so without that package a do-nothing SummaryWriter stands in."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        import types
        mod = types.ModuleType("torch.utils.tensorboard")
        mod.SummaryWriter = type("SummaryWriter", (), {"__init__": lambda self, *a, **k: None,
                                                       "add_scalar": lambda self, *a, **k: None,
                                                       "flush": lambda self: None, "close": lambda self: None})
        sys.modules["torch.utils.tensorboard"] = mod
