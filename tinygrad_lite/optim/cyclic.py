"""CyclicLR (Smith's cyclical learning rates) with torch.optim.lr_scheduler.CyclicLR's arguments and
formulas: the lr climbs from base_lr to max_lr over step_size_up steps and back over step_size_down, its
amplitude scaled per cycle ('triangular': 1, 'triangular2': halved each cycle) or per step ('exp_range':
gamma ** step); momentum (or Adam's beta1) moves the opposite way when cycle_momentum."""
import math

from .lr_scheduler import LRScheduler
from .one_cycle import _CyclesMomentum, _per_group

_SCALES = {"triangular": (lambda c: 1.0, "cycle"),
           "triangular2": (lambda c: 1 / (2.0 ** (c - 1)), "cycle"),
           "exp_range": (None, "iterations")}  # (gamma ** step: set per instance)


class CyclicLR(_CyclesMomentum, LRScheduler):
    """Call scheduler.step() after every batch. `scale_fn(x)` (with scale_mode 'cycle' or 'iterations')
    replaces the mode's amplitude scaling, as in PyTorch."""

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        groups = optimizer.param_groups
        base_lrs = _per_group("base_lr", base_lr, groups, "CyclicLR")
        if last_epoch == -1:
            for lr, g in zip(base_lrs, groups):
                g["lr"] = lr
        self.max_lrs = _per_group("max_lr", max_lr, groups, "CyclicLR")
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if up <= 0 or down <= 0:
            raise ValueError(f"CyclicLR: step_size_up and step_size_down must be positive, got {up} and {down}")
        self.total_size, self.step_ratio = up + down, up / (up + down)
        if scale_fn is None:
            if mode not in _SCALES:
                raise ValueError(f"CyclicLR: mode must be one of {sorted(_SCALES)} when scale_fn is None, got {mode!r}")
            self.scale_fn, self.scale_mode = _SCALES[mode]
            if mode == "exp_range":
                self.scale_fn = lambda x: gamma ** x
        else:
            if scale_mode not in ("cycle", "iterations"):
                raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
            self.scale_fn, self.scale_mode = scale_fn, scale_mode
        self.mode, self.gamma = mode, gamma
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.base_momentums, self.max_momentums = self._start_momentum("CyclicLR", optimizer, base_momentum,
                                                                           max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle  # where in the cycle, in [0, 1)
        rise = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [low + (high - low) * rise * scale for low, high in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for g, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                self._set_momentum(g, high - (high - low) * rise * scale)
        return lrs

    def state_dict(self):
        """The scheduler's state without its functions (a custom scale_fn is not saved, as in PyTorch)."""
        return {k: v for k, v in super().state_dict().items() if k != "scale_fn"}
