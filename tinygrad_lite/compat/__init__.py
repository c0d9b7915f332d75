"""Run unmodified PyTorch code on tinygrad_lite: `import torch` resolves to tinygrad_lite.

    import tinygrad_lite.compat
    tinygrad_lite.compat.install()   # in a notebook; `tinygrad-lite run script.py` does this for a script
    import torch                      # now tinygrad_lite (this process only)

`install()` puts an import hook in front of sys.meta_path: `torch` and its submodules (torch.nn,
torch.nn.functional, torch.optim, torch.utils.data, torch.autograd, torch.cuda, torch.backends, ...)
become modules whose names are tinygrad_lite's objects. Nothing is installed into the environment and
nothing named torch is written to disk; `uninstall()` removes the hook and the modules.

A name tinygrad_lite does not have fails with one line naming it and the place in the script that
used it: `UnsupportedAPI: torch.fft is not supported by tinygrad_lite (used at train.py:12)`. It is
an AttributeError (an ImportError for `from torch.x import y`), so `hasattr(torch.nn.functional, ...)`
probes answer False as they would on an older PyTorch.
"""
import importlib.abc
import importlib.machinery
import os
import sys
import types

__all__ = ["install", "uninstall", "installed", "UnsupportedAPI", "UnsupportedImport"]

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the tinygrad_lite package folder


def caller_location():
    """'file:line' of the innermost frame outside tinygrad_lite and the import machinery (the user's code)."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not (os.path.abspath(fn).startswith(_HERE) or fn.startswith("<frozen")):
            return f"{os.path.basename(fn)}:{f.f_lineno}"
        f = f.f_back
    return "unknown location"


def _message(name, how="used"):
    return f"{name} is not supported by tinygrad_lite ({how} at {caller_location()})"


class UnsupportedAPI(AttributeError):
    """A torch name that tinygrad_lite does not have (or an argument value it cannot honour)."""


class UnsupportedImport(ImportError):
    """`import torch.x` / `from torch.x import y` for something tinygrad_lite does not have."""


def unsupported(name, how="called"):
    """The error to raise from a stand-in whose use tinygrad_lite cannot honour."""
    return UnsupportedAPI(_message(name, how))


class TorchModule(types.ModuleType):
    """One `torch...` module: its own names first, then those of the tinygrad_lite modules behind it.
    Assigning a name that a backing module has also assigns it there (so that a script's monkeypatch
    of torch.randint reaches tinygrad_lite's own callers, as it would reach PyTorch's)."""

    def __init__(self, name, sources=(), names=None, doc=None):
        super().__init__(name, doc or f"tinygrad_lite standing in for {name}")
        object.__setattr__(self, "_sources", tuple(sources))
        object.__setattr__(self, "__path__", [])  # a package: `import torch.nn.functional` asks the hook for its children
        for k, v in (names or {}).items():
            object.__setattr__(self, k, v)

    def __getattr__(self, attr):
        for src in self._sources:
            try:
                return getattr(src, attr)
            except AttributeError:
                pass
        if attr.startswith("__") or attr.startswith("_pytest"):
            raise AttributeError(attr)
        raise UnsupportedAPI(_message(f"{self.__name__}.{attr}"))

    def __setattr__(self, attr, value):
        object.__setattr__(self, attr, value)
        if attr.startswith("_") or isinstance(value, types.ModuleType):
            return  # (the import system sets submodules as attributes: those stay ours)
        for src in self._sources:
            if attr in getattr(src, "__dict__", {}):
                setattr(src, attr, value)

    def __dir__(self):
        out = set(self.__dict__)
        for src in self._sources:
            out.update(k for k in dir(src) if not k.startswith("_"))
        return sorted(out)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The import hook: serves `torch` and `torch.*` from the modules built by tinygrad_lite.compat.torch_api."""

    def __init__(self):
        self.modules = None

    def _tree(self):
        if self.modules is None:
            from . import torch_api
            self.modules = torch_api.build()
        return self.modules

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        if fullname not in self._tree():
            raise UnsupportedImport(_message(fullname, "imported"), name=fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return self._tree()[spec.name]

    def exec_module(self, module):
        pass


_FINDER = _Finder()


def install():
    """Make `import torch` (and torch.*) resolve to tinygrad_lite in this process. Idempotent.
    Fails if a real torch was already imported (its modules cannot be swapped under live objects)."""
    if _FINDER in sys.meta_path:
        return
    real = sys.modules.get("torch")
    if real is not None and not isinstance(real, TorchModule):
        raise RuntimeError("tinygrad_lite.compat.install(): the real torch is already imported in this process; "
                           "call install() before `import torch` (restart the kernel)")
    sys.meta_path.insert(0, _FINDER)


def uninstall():
    """Remove the hook and forget the torch modules it served."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
        if isinstance(sys.modules[k], TorchModule):
            del sys.modules[k]


def installed():
    return _FINDER in sys.meta_path
