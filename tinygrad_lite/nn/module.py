"""Module, Parameter and the containers (Sequential, ModuleList, ModuleDict), with PyTorch's API.

A `Module` registers the Parameters, sub-Modules and buffers assigned to its attributes, in
assignment order, so that `named_parameters()` gives PyTorch's dotted names
(`blocks.0.attn.c_attn.weight`) and `state_dict()` / `load_state_dict()` round-trip.

`Parameter(data, requires_grad=True)` returns a plain `Tensor` leaf (it shares `data`'s storage)
that is marked as a parameter: `isinstance(p, Parameter)` is True for it. It is deliberately not a
Tensor subclass, so that every fast path of the engine (which tests `type(x) is Tensor`) treats
parameters exactly like other tensors.
"""
import functools
import inspect
import weakref
from collections import OrderedDict, deque, namedtuple
from collections.abc import Mapping

import numpy as np

from ..device import _KNOWN as _DEVICE_TYPES, CUDA_ERROR, check_device, device
from ..dtypes import to_dtype
from ..grad_mode import no_grad
from ..release import release_unread
from ..tensor import Tensor
from ..versions import next_seq

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict", "IncompatibleKeys"]

_PARAMS = {}  # id(tensor) -> weakref to it, for the tensors made by Parameter(...)


def _forget(key):
    return lambda ref: _PARAMS.pop(key, None) if _PARAMS.get(key) is ref else None


class _ParameterMeta(type):
    def __instancecheck__(cls, obj):
        ref = _PARAMS.get(id(obj))
        return ref is not None and ref() is obj

    def __call__(cls, data=None, requires_grad=True):
        """Parameter(data, requires_grad=True) -> a Tensor leaf marked as a parameter."""
        if data is None:
            arr = np.zeros((0,), np.float32)
        elif isinstance(data, Tensor):
            arr = data._data  # shares storage, as torch.nn.Parameter does
        else:
            arr = np.asarray(data)
            if arr.dtype.kind == "f" and not isinstance(data, np.ndarray):
                from ..dtypes import DEFAULT
                arr = arr.astype(DEFAULT.dtype)
        t = Tensor._leaf(arr)
        if requires_grad:
            t.requires_grad_(True)
        return _mark(t)


class Parameter(metaclass=_ParameterMeta):
    """A Tensor that a Module registers as a learnable parameter.

    Parameter(data: Tensor | array, requires_grad=True) -> Tensor of data's shape (storage shared).
    `isinstance(t, Parameter)` is True for the tensors it returns; `type(t)` is `Tensor`."""


# The recent forward calls of all modules: (id(module), creation number before, after). Every tensor made
# during a call has a creation number in between, so graph pictures can put each op in the module that
# actually ran it (graph.build_graph); bounded, so it never grows.
_CALLS = deque(maxlen=50000)


def module_calls():
    """The recorded forward calls, oldest first: (id(module), first creation number, end)."""
    return list(_CALLS)


def _mark(t):
    key = id(t)
    _PARAMS[key] = weakref.ref(t, _forget(key))
    return t


def _is_param(obj):
    ref = _PARAMS.get(id(obj))
    return ref is not None and ref() is obj


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


class Module:
    """Base class of all layers and models. Subclasses call `super().__init__()` first, assign
    Parameters / Modules as attributes, and define `forward(*inputs)`; call the module itself."""

    _version = 1

    def __init_subclass__(cls, **kwargs):
        """tinygrad_lite's own layers that take PyTorch's `device=` check it when they are built: the cpu
        (or None) passes, 'cuda' fails with PyTorch's error on a machine without CUDA."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or not cls.__module__.startswith("tinygrad_lite."):
            return
        sig = inspect.signature(init)
        if "device" not in sig.parameters:
            return

        @functools.wraps(init)
        def checked(self, *args, **kw):
            dev = kw["device"] if "device" in kw else sig.bind_partial(self, *args, **kw).arguments.get("device")
            check_device(dev, type(self).__name__)
            init(self, *args, **kw)
        cls.__init__ = checked

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments; "
                            "Module.__init__ takes none")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        """Compute the module's output; subclasses override this (call the module, not forward)."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        start = next_seq()
        if not (self._forward_pre_hooks or self._forward_hooks):
            out = self.forward(*args, **kwargs)
        else:
            for hook in list(self._forward_pre_hooks.values()):
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
            out = self.forward(*args, **kwargs)
            for hook in list(self._forward_hooks.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        _CALLS.append((id(self), start, next_seq()))
        release_unread(out, start)  # the call's intermediate values that no backward rule reads
        return out

    def register_forward_hook(self, hook):
        """hook(module, inputs, output) -> None or a replacement output; returns a handle with .remove()."""
        return _Handle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """hook(module, inputs) -> None or replacement inputs; returns a handle with .remove()."""
        return _Handle(self._forward_pre_hooks, hook)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if _is_param(value):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._drop(name, "_parameters")
            params[name] = value
            return
        if isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign a submodule before Module.__init__() call")
            self._drop(name, "_modules")
            d["_modules"][name] = value
            return
        if params is not None:
            if name in params:
                if value is not None:
                    raise TypeError(f"cannot assign a {type(value).__name__} as parameter '{name}' "
                                    "(a Parameter or None is expected)")
                params[name] = None
                return
            if name in d["_modules"]:
                if value is not None:
                    raise TypeError(f"cannot assign a {type(value).__name__} as child module '{name}' "
                                    "(a Module or None is expected)")
                d["_modules"][name] = None
                return
            if name in d["_buffers"]:
                if value is not None and not isinstance(value, Tensor):
                    raise TypeError(f"cannot assign a {type(value).__name__} as buffer '{name}' "
                                    "(a Tensor or None is expected)")
                d["_buffers"][name] = value
                return
        object.__setattr__(self, name, value)

    def _drop(self, name, keep=None):
        """Forget `name` everywhere except in the store `keep` (so a reassignment keeps its position)."""
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            if key != keep:
                d[key].pop(name, None)
        if keep != "_buffers":
            d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name):  # only called when normal lookup fails
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d[key]:
                del d[key][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register `param` (a Parameter or None) under `name`."""
        if param is not None and not _is_param(param):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}")
        if "." in name or not name:
            raise KeyError(f"register_parameter: invalid name {name!r} (non-empty, no dots)")
        self._drop(name, "_parameters")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-learnable tensor (saved in state_dict unless persistent=False)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        if "." in name or not name:
            raise KeyError(f"register_buffer: invalid name {name!r} (non-empty, no dots)")
        self._drop(name, "_buffers")
        self._non_persistent_buffers.discard(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Register a child module (or None) under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        if "." in name or not name:
            raise KeyError(f"add_module: invalid name {name!r} (non-empty, no dots)")
        self._drop(name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The module at the dotted path `target` ('' is self)."""
        mod = self
        for part in target.split(".") if target else ():
            if part not in mod._modules or mod._modules[part] is None:
                raise AttributeError(f"get_submodule: {type(mod).__name__} has no submodule '{part}' (path '{target}')")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target):
        """The parameter at the dotted path `target`, e.g. 'layers.0.weight'."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"get_parameter: no parameter '{target}'")
        return mod._parameters[name]

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for self and all descendants, depth first, each module once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        """self and all descendant modules (each once)."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, module) for the direct children."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        """The direct child modules (each once)."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, v in getattr(mod, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs in registration order; a shared (tied) parameter appears once,
        under the first name it was reached by."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """All parameters (each once, even if tied)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, buffer) pairs, as named_parameters."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """All buffers (registered with register_buffer), each once."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, only_trainable=False):
        """Total number of scalar parameters (tied parameters counted once). A method, not a property."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not only_trainable)

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode=True):
        """Set training mode (affects Dropout) on self and all descendants; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("train: training mode is expected to be a bool")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        """Evaluation mode: train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters (to None by default, or to zeros in place)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if isinstance(g, Tensor) and g._data.flags.writeable:
                    g._data[...] = 0
                    g._bump()
                else:
                    p.grad = Tensor._leaf(np.zeros(p.shape, p.dtype))

    def apply(self, fn):
        """Call fn(module) on every child (recursively) and then on self, as PyTorch does; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype
    def to(self, *args, dtype=None, **kwargs):
        """Convert floating parameters and buffers to `dtype` in place (the same Parameter objects,
        now holding converted data; their grads are converted too). A device argument must be
        the cpu ('cuda' fails as in PyTorch without CUDA). Returns self."""
        check_device(kwargs.pop("device", None), "Module.to")
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"Module.to: unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, device) or (isinstance(a, str) and a.split(":")[0] in _DEVICE_TYPES):
                check_device(a, "Module.to")  # 'cpu' passes; 'cuda' fails as PyTorch without CUDA
                continue
            if isinstance(a, Tensor):
                dtype = a.dtype
                continue
            dtype = a
        if dtype is None:
            return self
        d = to_dtype(dtype)
        if d.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are accepted, got {d}")

        def convert(m):
            for p in m._parameters.values():
                if p is not None and p.dtype.kind == "f" and p.dtype != d:
                    p._data = p._data.astype(d)
                    p._bump()
                    if isinstance(p.grad, Tensor):
                        p.grad = Tensor._leaf(p.grad._data.astype(d))
            for k, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f" and b.dtype != d:
                    b._data = b._data.astype(d)
                    b._bump()
        return self.apply(convert)

    def double(self):
        """Convert floating parameters and buffers to float64 in place; returns self."""
        return self.to(np.float64)

    def float(self):
        """Convert floating parameters and buffers to float32 in place; returns self."""
        return self.to(np.float32)

    def half(self):
        """Convert floating parameters and buffers to float16 in place; returns self."""
        return self.to(np.float16)

    def cpu(self):
        """No-op (everything lives in host memory); returns self."""
        return self

    def cuda(self, device=None):
        """Fails as PyTorch does on a machine without CUDA (tinygrad_lite computes on the cpu)."""
        raise AssertionError(CUDA_ERROR)

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """OrderedDict of dotted name -> Tensor for every parameter and persistent buffer.
        Values share storage with the module's tensors (detached unless keep_vars=True)."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from `state_dict` (name -> Tensor or array) into the parameters and buffers,
        in place. Returns (missing_keys, unexpected_keys). With strict=True (default) any missing or
        unexpected key raises; a wrongly shaped entry always raises, naming the key and both shapes."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of names to tensors (e.g. model.state_dict() or "
                            f"tinygrad_lite.load(path)), got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v._data if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != target.shape:
                errors.append(f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(target.shape)}.")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for k, target in own.items():
                if k not in state_dict:
                    continue
                v = state_dict[k]
                arr = v._data if isinstance(v, Tensor) else np.asarray(v)
                if assign:
                    target._data = np.array(arr, dtype=target.dtype)
                else:
                    np.copyto(target._data, arr, casting="unsafe")
                target._bump()
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def extra_repr(self):
        """Extra text shown inside this module's repr (override in subclasses)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(m), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __deepcopy__(self, memo):
        """A deep copy whose parameters are new Parameters (tied ones stay tied)."""
        import copy
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            new.__dict__[k] = copy.deepcopy(v, memo)
        for p in new.__dict__["_parameters"].values():
            if p is not None:
                _mark(p)
        return new

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._modules) | set(self._buffers))


class _Handle:
    _next = [0]

    def __init__(self, store, fn):
        self.store = store
        self.id = _Handle._next[0] = _Handle._next[0] + 1
        store[self.id] = fn

    def remove(self):
        self.store.pop(self.id, None)


# ---------------------------------------------------------------------- containers


from .containers import ModuleDict, ModuleList, Sequential  # noqa: E402,F401  (PyTorch's nn.modules.container)
