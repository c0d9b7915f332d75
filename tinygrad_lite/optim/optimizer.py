"""The Optimizer base class: parameter groups, per-parameter state, zero_grad and state dicts.

Same structure as torch.optim.Optimizer. Subclasses implement ``step()`` by writing into
``p._data`` in place (numpy ufuncs with ``out=``) and calling ``p._bump()`` so the autograd
in-place check sees that the parameter changed.
"""
import numpy as np

from ..grad_mode import enable_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyper-parameter that has no default (torch.optim.optimizer.required)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _is_sparse(g):
    return getattr(g, "is_sparse", False) is True


class Optimizer:
    """Base class of all optimizers.

    params: an iterable of Tensors, or of dicts ``{"params": [...], "lr": ..., ...}`` (parameter
    groups; missing keys take `defaults`). ``self.state[p]`` holds each parameter's state
    (moment buffers, step counts), ``self.param_groups`` the groups.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts, but got a Tensor of shape "
                            f"{params.shape}; wrap it in a list: [tensor]")
        if isinstance(params, dict):
            params = [params]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs; use a list instead")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group ``{"params": [Tensor, ...], **hyperparameters}``; unset keys take the defaults.

        A parameter may belong to one group only; every parameter must be a floating-point leaf Tensor."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: a param group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs; use a list instead")
        else:
            params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but parameter {i} of the group is a "
                                f"{type(p).__name__}")
            if p._op is not None:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (parameter {i}, shape {p.shape}, made "
                                 f"by '{p._op.name}'); optimize the leaf, or .detach().requires_grad_()")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: parameter {i} has dtype {p.dtype} (shape {p.shape}); only floating-point "
                                "tensors can be optimized")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group contains the same parameter more than once")
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required optimization "
                                 f"parameter {key}")
            group.setdefault(key, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}.add_param_group: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None (default), or to zeros in place
        (a sparse gradient becomes an empty one)."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif _is_sparse(g):
                    from ..sparse import RowSparseGrad
                    p.grad = RowSparseGrad(np.zeros(0, np.int64), np.zeros((0,) + g.shape[1:], g.dtype), g.shape,
                                           True)
                elif g.requires_grad or g._op is not None or not g._data.flags.writeable:
                    p.grad = Tensor._leaf(np.zeros(g.shape, g.dtype))
                else:
                    g._data.fill(0)
                    g._bump()

    def step(self, closure=None):
        """Perform one update; `closure` (optional) re-evaluates the model and returns the loss."""
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    def _closure(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state dicts
    def state_dict(self):
        """The optimizer's state as plain data, in PyTorch's layout::

            {"state": {param_index: {name: Tensor or number}},
             "param_groups": [{hyperparameters..., "params": [param_index, ...]}]}

        Parameters are numbered in order over all groups. The state Tensors are the live buffers
        (not copies), as in PyTorch; `tinygrad_lite.save` writes them out."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a state from `state_dict()` (for the same parameters in the same order).

        State tensors are copied and cast to their parameter's dtype (the step count is kept as is);
        the groups' hyperparameters are taken from the saved groups."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                             f"(from Optimizer.state_dict()), got {type(state_dict).__name__}"
                             f"{' with keys ' + str(sorted(map(str, state_dict))) if isinstance(state_dict, dict) else ''}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        id_map = {}
        for gi, (g, sg) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(f"{name}.load_state_dict: loaded parameter group {gi} has {len(sg['params'])} "
                                 f"parameters, this optimizer's group {gi} has {len(g['params'])}")
            for saved_i, p in zip(sg["params"], g["params"]):
                id_map[int(saved_i)] = p
        new_state = {}
        for k, s in state_dict["state"].items():
            p = id_map.get(int(k))
            if p is None:
                continue  # torch ignores state for unknown indices too
            entry = {}
            for key, v in s.items():
                if isinstance(v, (Tensor, np.ndarray)):
                    arr = v._data if isinstance(v, Tensor) else v
                    if key == "step":
                        entry[key] = Tensor._leaf(np.array(arr, copy=True))
                        continue
                    if arr.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter {k} has shape "
                                         f"{arr.shape}, but the parameter has shape {p.shape}")
                    entry[key] = Tensor._leaf(np.array(arr, dtype=p.dtype if arr.dtype.kind == "f" else arr.dtype,
                                                       copy=True))
                else:
                    entry[key] = v
            new_state[p] = entry
        groups = []
        for g, sg in zip(self.param_groups, saved_groups):
            ng = {k: (tuple(v) if isinstance(v, list) and isinstance(g.get(k), tuple) else v)
                  for k, v in sg.items() if k != "params"}
            ng["params"] = g["params"]
            groups.append(ng)
        self.state = new_state
        self.param_groups = groups

    # ------------------------------------------------------------------ helpers for subclasses
    def _state_of(self, p):
        s = self.state.get(p)
        if s is None:
            s = self.state[p] = {}
        return s
