"""OneCycleLR (Smith and Topin's 1cycle policy) with torch.optim.lr_scheduler.OneCycleLR's arguments and
formulas: the lr climbs from max_lr / div_factor to max_lr over pct_start of the steps, then anneals to
initial_lr / final_div_factor; momentum (or Adam's beta1) moves the opposite way when cycle_momentum."""
import math

from .lr_scheduler import LRScheduler


def _cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _linear(start, end, pct):
    return (end - start) * pct + start


def _per_group(name, value, groups, owner="OneCycleLR"):
    """`value` for every param group: a list or tuple gives one per group, anything else is shared."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"{owner}: expected {len(groups)} values for {name} (one per param group), "
                             f"got {len(value)}")
        return list(value)
    return [value] * len(groups)


class _CyclesMomentum:
    """Shared by OneCycleLR and CyclicLR: momentum (or Adam's beta1) moves opposite to the lr."""

    def _start_momentum(self, owner, optimizer, base, high, last_epoch):
        """Check the optimizer has momentum or betas; on a fresh start set every group's momentum to its
        high value and record both ends in the group. Returns (base per group, high per group)."""
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(f"{owner}: optimizer must support momentum or beta1 with `cycle_momentum` enabled")
        self.use_beta1 = "betas" in optimizer.defaults
        groups = optimizer.param_groups
        bases, highs = _per_group("base_momentum", base, groups, owner), _per_group("max_momentum", high, groups, owner)
        if last_epoch == -1:
            for m, b, g in zip(highs, bases, groups):
                self._set_momentum(g, m)
                g["max_momentum"], g["base_momentum"] = m, b
        return bases, highs

    def _set_momentum(self, group, m):
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m


class OneCycleLR(_CyclesMomentum, LRScheduler):
    """Call scheduler.step() after every batch; stepping more than total_steps times is an error, as in PyTorch."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0 or not isinstance(total_steps, int):
            raise ValueError(f"OneCycleLR: expected a positive integer total_steps, got {total_steps}")
        if not 0 <= pct_start <= 1 or not isinstance(pct_start, float):
            raise ValueError(f"OneCycleLR: expected a float between 0 and 1 for pct_start, got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.total_steps, self._anneal = total_steps, _cos if anneal_strategy == "cos" else _linear
        up = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                             "max_momentum"),
                            (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        groups = optimizer.param_groups
        if last_epoch == -1:
            for lr, g in zip(_per_group("max_lr", max_lr, groups), groups):
                g["initial_lr"], g["max_lr"] = lr / div_factor, lr
                g["min_lr"] = g["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._start_momentum("OneCycleLR", optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(g[lr0], g[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(g, self._anneal(g[m0], g[m1], pct))
                    break
                start = end
        return lrs
