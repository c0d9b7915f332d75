"""Backends: one model definition, run on tinygrad_lite or on PyTorch, chosen at run time.

A model in `models/` is written once. Its modules subclass `models.backend.Module` and read the
layers, functions and helpers they need from `self.bk`, a small `Backend` object:

    bk.nn, bk.F, bk.optim   the backend's own namespaces (tinygrad_lite.nn or torch.nn, ...)
    bk.tensor(array)        numpy -> tensor on bk.device (floats in bk.dtype, integers as int64)
    bk.numpy(t)             tensor -> numpy array (a view on CPU, no copy)
    bk.no_grad(), bk.arange(n), bk.masked_softmax(scores, scale, mask)
    bk.sparse_embedding(weight, ids), bk.stack, bk.const(array)   (skip-gram's lookups and constants)

`GPT(config, backend="torch")` then builds a GPT whose class derives from both `models.gpt.GPT`
and `torch.nn.Module` (the same class body, the same file), so the layers are torch's, the
parameters are torch tensors, and DistributedDataParallel or CUDA work on it. With no `backend`
(or "tinygrad_lite") it is an ordinary tinygrad_lite module, as before.

`bk.build(cls, *args)` is how the command lines build a model: on torch it also draws the initial
weights from tinygrad_lite's seeded generator (it builds a tinygrad_lite twin and copies it), so
one `--seed` gives the same initial weights on both backends and the runs can be compared step by
step. Both it and `bk.make(cls, *args)` (no twin: for a model whose weights are loaded next) put
the model on bk.device in bk.dtype.

Checkpoints are one format for both backends (tinygrad_lite.save's .npz): `checkpoint_state(model)`
turns either backend's state_dict into tinygrad_lite Tensors, `bk.load_state` loads them into either.

PyTorch is optional (`pip install 'tinygrad-lite[torch]'`) and imported only when the torch
backend is asked for.
"""
import contextlib

import numpy as np

import tinygrad_lite as tg

BACKENDS = ("tinygrad_lite", "torch")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")

_CACHE = {}


class CheckpointMismatch(ValueError):
    """A checkpoint's weights do not fit the model its config (or the caller) describes."""


class BackendError(RuntimeError):
    """The asked-for backend cannot run here (PyTorch missing, no GPU, a bad name)."""


def get_backend(backend=None, device="cpu", dtype=None):
    """The Backend for a name ('tinygrad_lite' or 'torch'), device ('cpu' or 'cuda') and dtype
    ('float32' or 'float64'; None = tinygrad_lite's current default). A Backend passes through."""
    if isinstance(backend, Backend):
        return backend
    name = backend or "tinygrad_lite"
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if device not in DEVICES:
        raise BackendError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    dtype = np.dtype(dtype or tg.get_default_dtype()).name
    if dtype not in DTYPES:
        raise BackendError(f"unsupported dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    key = (name, device, dtype)
    if key not in _CACHE:
        _CACHE[key] = (TorchBackend if name == "torch" else TinygradBackend)(device, dtype)
    return _CACHE[key]


def add_backend_args(parser):
    """--backend, --device, --dtype: the flags every model's command line takes (same meaning everywhere)."""
    g = parser.add_argument_group("backend")
    g.add_argument("--backend", choices=BACKENDS, default="tinygrad_lite",
                   help="engine that runs the model: tinygrad_lite, or torch (pip install 'tinygrad-lite[torch]')")
    g.add_argument("--device", choices=DEVICES, default="cpu", help="cuda needs --backend torch and a GPU")
    g.add_argument("--dtype", choices=DTYPES, default="float32", help="parameter dtype")
    return g


def backend_from_args(args):
    """The Backend named by --backend/--device/--dtype; a clear SystemExit when it cannot run here.
    On torch, --threads (if the command has it) caps torch's CPU threads."""
    try:
        bk = get_backend(args.backend, args.device, args.dtype)
    except BackendError as e:
        raise SystemExit(f"error: {e}") from None
    if bk.name == "torch" and getattr(args, "threads", None):
        bk.torch.set_num_threads(args.threads)   # --threads: torch's CPU threads, as BLAS's for tinygrad_lite
    return bk


class Module:
    """Base class of the models' modules. `Cls(*args, backend=bk)` makes an instance of a subclass
    of both Cls and bk.nn.Module (made once per class and backend), whose `bk` is the Backend.
    Subclasses take `backend=None` in __init__, call super().__init__() first, and pass
    `backend=self.bk` to the sub-modules they build."""

    bk = None  # set on the per-backend subclasses

    def __new__(cls, *args, backend=None, **kwargs):
        if cls.bk is not None:                       # already a backend class (e.g. type(model)(...))
            return cls.bk.nn.Module.__new__(cls)
        bk = get_backend(backend)
        return bk.nn.Module.__new__(bk.module_class(cls))


class Backend:
    """What a model needs from an engine; see the module docstring. Subclasses: one per engine."""

    name = None

    def __init__(self, device, dtype):
        self.device, self.dtype = device, dtype
        self._classes = {}

    def __repr__(self):
        return f"Backend({self.name!r}, device={self.device!r}, dtype={self.dtype!r})"

    def module_class(self, cls):
        """The subclass of `cls` and this backend's nn.Module (cached)."""
        sub = self._classes.get(cls)
        if sub is None:
            sub = self._classes[cls] = type(cls.__name__, (cls, self.nn.Module),
                                            {"bk": self, "__module__": cls.__module__,
                                             "__qualname__": cls.__qualname__, "__doc__": cls.__doc__})
        return sub

    def load_state(self, model, state, strict=True):
        """Load {name: numpy array or tensor of either backend} into `model`.

        Weights that do not fit the model (another size, a missing or extra tensor) raise
        CheckpointMismatch with one line: the first difference and how many there are."""
        arrays = {k: _to_numpy(v) for k, v in state.items()}
        try:
            return model.load_state_dict({k: self.tensor(a) for k, a in arrays.items()}, strict=strict)
        except RuntimeError as e:
            diffs = [line.strip() for line in str(e).splitlines()[1:] if line.strip()]
            if not diffs:
                raise
            more = f" (and {len(diffs) - 1} more difference{'s' * (len(diffs) > 2)})" if len(diffs) > 1 else ""
            raise CheckpointMismatch(f"the weights do not fit the {type(model).__name__} the checkpoint's config "
                                     f"describes: {diffs[0][:300]}{more}") from None


def checkpoint_state(model):
    """model.state_dict() of either backend as tinygrad_lite Tensors (copies on the CPU): what the
    checkpoints store, so a checkpoint is the same file whichever backend trained the model."""
    return {k: tg.Tensor._leaf(np.array(_to_numpy(v))) for k, v in model.state_dict().items()}


def _to_numpy(v):
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, tg.Tensor):
        return v.detach().numpy()
    return v.detach().cpu().numpy()  # a torch tensor


@contextlib.contextmanager
def tg_default_dtype(dtype):
    """tinygrad_lite's default dtype set to `dtype` inside the block, restored after it."""
    old = tg.get_default_dtype()
    tg.set_default_dtype(dtype)
    try:
        yield
    finally:
        tg.set_default_dtype(old)


class TinygradBackend(Backend):
    """tinygrad_lite on numpy (CPU only)."""

    name = "tinygrad_lite"

    def __init__(self, device, dtype):
        if device != "cpu":
            raise BackendError(f"the tinygrad_lite backend runs on the CPU only (numpy); for --device {device} "
                               "use --backend torch")
        super().__init__(device, dtype)
        from tinygrad_lite import nn, optim
        from tinygrad_lite.nn import functional as F
        from tinygrad_lite.ops.fused import masked_softmax
        from tinygrad_lite.sparse import embedding
        self.tg, self.nn, self.F, self.optim = tg, nn, F, optim
        self.masked_softmax = masked_softmax
        self.sparse_embedding = embedding        # (weight, ids, padding_idx=None): row-sparse gradient
        self.stack = tg.stack
        self.np_dtype = np.dtype(dtype)

    def const(self, array):
        """A constant operand (no gradient): numpy arrays are tinygrad_lite operands as they are."""
        return array

    def tensor(self, array, requires_grad=False):
        a = np.asarray(array)
        if a.dtype.kind == "f" and a.dtype != self.np_dtype:
            a = a.astype(self.np_dtype)
        elif a.dtype.kind in "iub":
            a = a.astype(np.int64, copy=False)
        return tg.Tensor._leaf(a, requires_grad=requires_grad)

    def numpy(self, t):
        return t._data

    def dtype_kind(self, t):
        """numpy's kind letter of a tensor's dtype: 'f' float, 'i' signed, 'u' unsigned, 'b' bool."""
        return t.dtype.kind

    def to_device(self, t):
        return t

    def no_grad(self):
        return tg.no_grad()

    def arange(self, n):
        return tg.arange(n)

    def make(self, cls, *args, **kwargs):
        """cls(*args, backend=self) with parameters in self.dtype, from tinygrad_lite's generator."""
        with tg_default_dtype(self.dtype):
            return cls(*args, backend=self, **kwargs)

    build = make



class TorchBackend(Backend):
    """PyTorch (optional extra), on CPU or CUDA."""

    name = "torch"

    def __init__(self, device, dtype):
        try:
            import torch
        except ImportError:
            raise BackendError("--backend torch needs PyTorch, which is an optional extra: "
                               "pip install 'tinygrad-lite[torch]'") from None
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError("--device cuda: PyTorch sees no GPU here (torch.cuda.is_available() is False; "
                               f"torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
                               "use --device cpu, or install a CUDA build of PyTorch on a machine with a GPU")
        super().__init__(device, dtype)
        self.torch, self.nn, self.F, self.optim = torch, torch.nn, torch.nn.functional, torch.optim
        self.torch_dtype = getattr(torch, dtype)
        self.stack = torch.stack
        self._masks = {}

    def const(self, array):
        """A constant operand (no gradient) as a tensor on the device."""
        return self.tensor(array)

    def sparse_embedding(self, weight, ids, padding_idx=None, sparse=True):
        """Rows `ids` of `weight`, with a sparse gradient (torch.sparse_coo) as tinygrad_lite.sparse.embedding;
        sparse=False gives a dense gradient (what DistributedDataParallel all-reduces for a plain parameter)."""
        return self.F.embedding(self.tensor(ids), weight, padding_idx=padding_idx, sparse=sparse)

    def tensor(self, array, requires_grad=False):
        torch = self.torch
        if isinstance(array, torch.Tensor):
            t = array.to(self.device)
        else:
            a = np.asarray(array)
            if a.dtype.kind in "iub":
                a = a.astype(np.int64, copy=False)
            t = torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
        if t.is_floating_point() and t.dtype != self.torch_dtype:
            t = t.to(self.torch_dtype)
        return t.requires_grad_(True) if requires_grad else t

    def numpy(self, t):
        return t.detach().cpu().numpy()

    def dtype_kind(self, t):
        if t.dtype == self.torch.bool:
            return "b"
        if t.is_floating_point():
            return "f"
        if t.is_complex():
            return "c"
        return "u" if t.dtype == self.torch.uint8 else "i"

    def to_device(self, t):
        return t.to(self.device)

    def no_grad(self):
        return self.torch.no_grad()

    def arange(self, n):
        return self.torch.arange(n, device=self.device)

    def masked_softmax(self, scores, scale, mask):
        """softmax(scores * scale with True positions of the bool array `mask` set to -inf), last dim."""
        key = (mask.shape, mask.tobytes())
        m = self._masks.get(key)
        if m is None:
            m = self._masks[key] = self.torch.from_numpy(np.array(mask, dtype=bool)).to(self.device)
        return (scores * scale).masked_fill(m, float("-inf")).softmax(-1)

    def build(self, cls, *args, **kwargs):
        """cls(*args, backend=self) on self.device in self.dtype, its initial weights drawn from
        tinygrad_lite's generator (a tinygrad_lite twin is built and copied), so that a seed gives
        the same starting point on both backends."""
        twin = get_backend("tinygrad_lite", "cpu", self.dtype).build(cls, *args, **kwargs)
        model = self.make(cls, *args, **kwargs)
        self.load_state(model, twin.state_dict())
        return model

    def make(self, cls, *args, **kwargs):
        """cls(*args, backend=self) on self.device in self.dtype (initialised by torch's generator)."""
        with self.torch.device(self.device):
            model = cls(*args, backend=self, **kwargs)
        return model.to(dtype=self.torch_dtype)
