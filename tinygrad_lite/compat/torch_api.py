"""The modules that `import torch...` gets under tinygrad_lite.compat: tinygrad_lite's own objects, plus
the CPU answers of torch.cuda / torch.backends / torch.accelerator / torch.amp / torch.distributed that
scripts ask before they decide to run on the cpu."""
import os
import time
import types
import warnings

import numpy as np

from . import TorchModule, unsupported
from ..device import CUDA_ERROR, check_device, device
from ..size import Size

PYTORCH_API = "2.13.0"  # the PyTorch release whose API (and error texts) this follows, tested against


class _NoDtype:
    """A torch dtype that numpy (so tinygrad_lite) does not have, such as bfloat16: naming it works
    (scripts build tables of dtypes), making a tensor of it fails with a clear error."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"

    @property
    def dtype(self):  # np.dtype(obj) reads obj.dtype: fail there with the name of the dtype
        raise unsupported(f"the dtype torch.{self.name}", "used")


def _cuda_missing(*args, **kwargs):
    raise AssertionError(CUDA_ERROR)


def _nothing(*args, **kwargs):
    return None


class GradScaler:
    """torch.amp.GradScaler / torch.cuda.amp.GradScaler on a machine without CUDA: disabled (with
    PyTorch's warning if enabled=True was asked), so scale/unscale_ do nothing and step calls
    optimizer.step(), exactly as PyTorch behaves there."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if enabled:
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.")
        self._enabled = False

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer):
        return None

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        return None

    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return 1.0

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        return None


class autocast:
    """torch.autocast / torch.amp.autocast: for 'cuda' it warns and disables itself (no CUDA here),
    as PyTorch does; mixed precision on the cpu (bfloat16) is not supported by tinygrad_lite."""

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if enabled and device_type == "cpu":
            raise unsupported("torch.autocast(device_type='cpu') (bfloat16 mixed precision)")
        if enabled:
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.")
        self.device, self.fast_dtype, self._enabled = device_type, dtype, False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        return fn


def _cuda_autocast(enabled=True, dtype=None, cache_enabled=True):
    return autocast("cuda", dtype, enabled, cache_enabled)


class SummaryWriter:
    """torch.utils.tensorboard.SummaryWriter, reduced to scalars: add_scalar appends `tag<TAB>step<TAB>value`
    lines to <log_dir>/scalars.tsv (TensorBoard's event files need the tensorboard package)."""

    def __init__(self, log_dir=None, comment="", **kwargs):
        self.log_dir = log_dir or os.path.join("runs", time.strftime("%b%d_%H-%M-%S") + comment)
        os.makedirs(self.log_dir, exist_ok=True)
        self._f = open(os.path.join(self.log_dir, "scalars.tsv"), "a", encoding="utf-8")

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, **kwargs):
        self._f.write(f"{tag}\t{global_step}\t{float(scalar_value)!r}\n")

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        for k, v in tag_scalar_dict.items():
            self.add_scalar(f"{main_tag}/{k}", v, global_step)

    def flush(self):
        self._f.flush()

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _TorchTensorMeta(type):
    """torch.Tensor under compat: isinstance/issubclass checks and attribute access are tinygrad_lite.Tensor's;
    calling it is PyTorch's legacy constructor (default float dtype), unlike torch.tensor(data)."""

    def __instancecheck__(cls, obj):
        from ..tensor import Tensor
        return isinstance(obj, Tensor)

    def __subclasscheck__(cls, sub):
        from ..tensor import Tensor
        return issubclass(sub, Tensor)

    def __getattr__(cls, name):
        from ..tensor import Tensor
        return getattr(Tensor, name)

    def __call__(cls, *args, requires_grad=False, device=None, dtype=None):
        """torch.Tensor(2, 3): a 2x3 tensor (zeros here); torch.Tensor([1, 2]) or an array: float32 values;
        torch.Tensor(t) for a tensor t: t itself; torch.Tensor(): an empty float tensor."""
        from ..dtypes import DEFAULT
        from ..tensor import Tensor
        check_device(device, "Tensor")
        if dtype is not None:
            raise TypeError("torch.Tensor() takes no dtype; use torch.tensor(data, dtype=...)")
        if len(args) == 1 and isinstance(args[0], Tensor):
            return args[0]
        if not args or all(isinstance(a, int) and not isinstance(a, bool) for a in args) or \
                (len(args) == 1 and isinstance(args[0], Size)):
            shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
            return Tensor._leaf(np.zeros(shape if args else (0,), DEFAULT.dtype)).requires_grad_(requires_grad)
        if len(args) != 1:
            raise TypeError(f"torch.Tensor(): expected sizes (ints) or one sequence of data, got {args!r}")
        return Tensor(args[0], dtype=DEFAULT.dtype, requires_grad=requires_grad)


class TorchTensor(metaclass=_TorchTensorMeta):
    """torch.Tensor: see _TorchTensorMeta."""


def compile(model=None, **kwargs):  # noqa: A001  (torch.compile)
    """torch.compile: tinygrad_lite does not compile, so the model (or function) is returned as it is."""
    if model is None:
        return lambda m: m
    return model


def set_default_device(dev):
    """Only the cpu (or None) is accepted; a GPU device fails as PyTorch without one does."""
    check_device(dev, "set_default_device")


def _set_float32_matmul_precision(precision):
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"set_float32_matmul_precision: invalid precision {precision!r}")
    # tinygrad_lite's matmul is numpy's: always full float32 precision, whatever is asked


def _set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    np.set_printoptions(**{k: v for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                                                   linewidth=linewidth).items() if v is not None})


def _module_builder():
    tree = {}

    def mod(name, sources=(), **names):
        m = tree[name] = TorchModule(name, sources, names)
        parent, _, child = name.rpartition(".")
        if parent:
            object.__setattr__(tree[parent], child, m)
        return m
    return tree, mod


def _parallel(nn):
    class DataParallel(nn.Module):
        """torch.nn.DataParallel without GPUs: a wrapper whose forward is the module's (as PyTorch's
        DataParallel with no CUDA devices)."""

        def __init__(self, module, device_ids=None, output_device=None, dim=0):
            super().__init__()
            if device_ids:
                raise AssertionError(CUDA_ERROR)
            self.module = module

        def forward(self, *args, **kwargs):
            return self.module(*args, **kwargs)

    class DistributedDataParallel(nn.Module):
        def __init__(self, *args, **kwargs):
            raise unsupported("torch.nn.parallel.DistributedDataParallel")

    return DataParallel, DistributedDataParallel


def build():
    """All torch modules, by name."""
    import tinygrad_lite as tl
    from tinygrad_lite import autograd, grad_mode, linalg, nn, optim, random, special, utils
    from tinygrad_lite.nn import functional, init
    from tinygrad_lite.nn import utils as nn_utils
    from tinygrad_lite.optim import lr_scheduler
    from tinygrad_lite.utils import data

    tree, mod = _module_builder()
    mod("torch", [tl], __version__=PYTORCH_API + "+tinygrad_lite", Tensor=TorchTensor, device=device, Size=Size, dtype=np.dtype,
        finfo=np.finfo, iinfo=np.iinfo, bfloat16=_NoDtype("bfloat16"), complex64=_NoDtype("complex64"),
        complex128=_NoDtype("complex128"), cfloat=_NoDtype("cfloat"), int8=np.dtype(np.int8),
        int16=np.dtype(np.int16), short=np.dtype(np.int16), uint16=np.dtype(np.uint16),
        compile=compile, autocast=autocast, set_default_device=set_default_device,
        get_default_device=lambda: check_device("cpu"), is_tensor=lambda x: isinstance(x, tl.Tensor),
        set_float32_matmul_precision=_set_float32_matmul_precision,
        get_float32_matmul_precision=lambda: "highest", use_deterministic_algorithms=_nothing,
        are_deterministic_algorithms_enabled=lambda: True, set_num_threads=_nothing,
        get_num_threads=lambda: os.cpu_count() or 1, set_printoptions=_set_printoptions,
        Generator=random.Generator, default_generator=random.default_generator, seed=random.seed,
        initial_seed=random.initial_seed)
    mod("torch.cuda", (), is_available=lambda: False, device_count=lambda: 0, is_initialized=lambda: False,
               manual_seed=_nothing, manual_seed_all=_nothing, seed=_nothing, seed_all=_nothing, empty_cache=_nothing,
               is_bf16_supported=lambda *a, **k: False, memory_allocated=lambda *a, **k: 0,
               max_memory_allocated=lambda *a, **k: 0, memory_reserved=lambda *a, **k: 0,
               reset_peak_memory_stats=_cuda_missing, synchronize=_cuda_missing, current_device=_cuda_missing,
               set_device=_cuda_missing, get_device_name=_cuda_missing, get_device_properties=_cuda_missing,
               get_device_capability=_cuda_missing, mem_get_info=_cuda_missing, init=_cuda_missing)
    mod("torch.cuda.amp", (), GradScaler=GradScaler, autocast=_cuda_autocast)
    mod("torch.amp", (), GradScaler=GradScaler, autocast=autocast)
    mod("torch.backends")
    mod("torch.backends.cuda", (), matmul=types.SimpleNamespace(allow_tf32=False,
                                                               allow_fp16_reduced_precision_reduction=True,
                                                               allow_bf16_reduced_precision_reduction=True),
        is_built=lambda: False, flash_sdp_enabled=lambda: False, mem_efficient_sdp_enabled=lambda: False,
        math_sdp_enabled=lambda: True)
    mod("torch.backends.cudnn", (), enabled=True, allow_tf32=True, benchmark=False, deterministic=False,
        is_available=lambda: False, version=lambda: None)
    mod("torch.backends.mps", (), is_available=lambda: False, is_built=lambda: False)
    mod("torch.backends.mkldnn", (), is_available=lambda: False, enabled=False)
    mod("torch.backends.openmp", (), is_available=lambda: False)
    mod("torch.accelerator", (), is_available=lambda: False, current_accelerator=lambda *a, **k: None,
        device_count=lambda: 0)
    mod("torch.mps", (), is_available=lambda: False, manual_seed=_nothing, empty_cache=_nothing)

    def _dist(name):
        def f(*args, **kwargs):
            raise unsupported(f"torch.distributed.{name}")
        f.__name__ = name
        return f
    mod("torch.distributed", (), is_available=lambda: False, is_initialized=lambda: False,
        **{n: _dist(n) for n in ("init_process_group", "destroy_process_group", "get_rank", "get_world_size",
                                 "barrier", "all_reduce", "broadcast", "all_gather", "reduce")})

    mod("torch.linalg", [linalg])
    mod("torch.special", [special])
    from tinygrad_lite import distributions
    mod("torch.distributions", [distributions])
    for sub in ("normal", "categorical", "bernoulli", "uniform", "kl"):
        mod(f"torch.distributions.{sub}", [distributions])
    mod("torch.nn", [nn])
    mod("torch.nn.functional", [functional])
    mod("torch.nn.init", [init])
    mod("torch.nn.utils", [nn_utils])
    mod("torch.nn.parameter", [nn], Parameter=nn.Parameter)
    mod("torch.nn.modules", [nn])
    mod("torch.nn.modules.module", [nn], Module=nn.Module)
    dp, ddp = _parallel(nn)
    object.__setattr__(tree["torch.nn"], "DataParallel", dp)
    mod("torch.nn.parallel", (), DataParallel=dp, DistributedDataParallel=ddp)
    mod("torch.optim", [optim])
    mod("torch.optim.lr_scheduler", [lr_scheduler])
    mod("torch.optim.optimizer", [optim])
    mod("torch.autograd", [autograd, grad_mode], Variable=tl.Tensor)
    mod("torch.autograd.grad_mode", [grad_mode])
    mod("torch.utils", [utils])
    for name in ("torch.utils.data", "torch.utils.data.dataloader", "torch.utils.data.dataset",
                 "torch.utils.data.sampler"):
        mod(name, [data])
    mod("torch.utils.tensorboard", (), SummaryWriter=SummaryWriter)
    return tree
