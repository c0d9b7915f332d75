"""nn.utils.weight_norm / remove_weight_norm (Salimans and Kingma's reparameterisation), PyTorch's original
API: the parameter `name` is replaced by `name_g` (its norm over every dim but `dim`) and `name_v` (its
direction), and a forward pre-hook recomputes name = g * v / ||v|| before every call, so gradients reach
g and v through the engine."""
from ..tensor import Tensor
from .module import Parameter

__all__ = ["weight_norm", "remove_weight_norm"]


def _norm_except_dim(v, dim):
    """||v|| over every dim but `dim` (keeping v's rank, size 1 there); over everything when dim is None."""
    if dim is None:
        return v.norm()
    dim = dim % v.ndim
    return v.norm(2, tuple(d for d in range(v.ndim) if d != dim), keepdim=True)


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def weight(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparameterise module.<name> as g * v / ||v|| (norm over every dim but `dim`; dim=None: the whole
    tensor). Returns the module."""
    w = getattr(module, name, None)
    if not isinstance(w, Tensor) or name not in module._parameters:
        raise ValueError(f"weight_norm: the module has no parameter named {name!r}")
    if any(isinstance(h, _WeightNorm) and h.name == name for h in module._forward_pre_hooks.values()):
        raise RuntimeError(f"weight_norm: cannot register two weight_norm hooks on the same parameter {name}")
    fn = _WeightNorm(name, dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(w.detach(), dim)))
    module.register_parameter(name + "_v", Parameter(w.detach().clone()))
    fn(module, ())
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo weight_norm: module.<name> becomes one parameter again, with the current g * v / ||v||."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _WeightNorm) and hook.name == name:
            w = hook.weight(module).detach()
            del module._forward_pre_hooks[key]
            del module._parameters[name + "_g"], module._parameters[name + "_v"]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(w))
            return module
    raise ValueError(f"remove_weight_norm: weight_norm of {name!r} not found in {type(module).__name__}")
