"""Learning-rate schedules: each sets every param group's `lr` from a closed form of the step.

Usage, as PyTorch: build the scheduler after the optimizer (this already sets the lr for the
first update), then call `optimizer.step()` and `scheduler.step()` once per training step.
`last_epoch` counts the `scheduler.step()` calls: it is 0 while the first update is taken, so
the k-th optimizer update (k = 1, 2, ...) uses the lr computed for `last_epoch = k - 1`.

`LambdaLR` and `CosineAnnealingLR` are functions of `last_epoch`, exactly as in PyTorch. The two
warmup schedules here are written in terms of the update number `s = last_epoch + 1`, so they
peak at the optimizer's lr on update `s == warmup_steps` and never give a zero lr.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from tinygrad_attn.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: `step()` advances `last_epoch` and writes `get_lr()` into the groups.

    Shapes: one lr per param group (`base_lrs`, `get_last_lr()`).

    The base lr of each group is its lr when the scheduler is built, kept in the group as
    `"initial_lr"` (PyTorch's key). Subclasses implement `get_lr()` for `self.last_epoch`.
    """

    _unsaved: tuple[str, ...] = ("optimizer",)  # attributes state_dict() leaves out

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(type(self).__name__, optimizer)
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr'; resuming "
                    f"with last_epoch={last_epoch} needs an optimizer that had a scheduler"
                )
        self.optimizer = optimizer
        self.base_lrs = [float(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self.step()

    def get_lr(self) -> list[float]:
        """The lr of each group at `self.last_epoch`."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr")

    def step(self) -> None:
        """Advance one step and set each group's lr (a Python float, so dtypes never change)."""
        self.last_epoch += 1
        self._last_lr = [float(lr) for lr in self.get_lr()]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last `step()` (the ones the next optimizer update uses)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (and functions): numbers and lists of floats."""
        return {k: _copy(v) for k, v in vars(self).items() if k not in self._unsaved}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`; unknown or missing keys are a KeyError naming them."""
        expected = {k for k in vars(self) if k not in self._unsaved}
        missing, unexpected = expected - state_dict.keys(), state_dict.keys() - expected
        if missing or unexpected:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {sorted(missing)}, "
                f"unexpected keys {sorted(unexpected)}"
            )
        self.__dict__.update({k: _copy(v) for k, v in state_dict.items()})


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(last_epoch), one lambda for all groups or one per group.

    Shapes: lr_lambda: int -> float (or a list of those, one per param group).
    The lambdas are code, so `state_dict()` does not include them (as PyTorch for functions).
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("LambdaLR", optimizer)
        n_groups = len(optimizer.param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * n_groups
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != n_groups:
                raise ValueError(
                    f"LambdaLR: got {len(self.lr_lambdas)} lr_lambdas for {n_groups} param groups"
                )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """base_lr * lr_lambda(last_epoch) for each group, with that group's lambda."""
        return [base * fn(self.last_epoch) for base, fn in zip(self.base_lrs, self.lr_lambdas)]


class WarmupInverseSqrtLR(LRScheduler):
    """The Noam schedule (Vaswani et al. 2017, eq. 3): linear warmup, then lr ∝ 1/sqrt(step).

    Shapes: one lr per param group.

    With s = last_epoch + 1 (the update number, counted from 1) and w = warmup_steps:
        lr = base_lr * min(s / w, sqrt(w / s))
    The factor rises linearly from 1/w on the first update to exactly 1 on update s == w, the
    peak, then decays as sqrt(w / s); it is never 0. The paper's
    d_model**-0.5 * min(s**-0.5, s * w**-1.5) is this with lr = (d_model * w) ** -0.5.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, last_epoch: int = -1) -> None:
        self.warmup_steps = _check_int("WarmupInverseSqrtLR", "warmup_steps", warmup_steps, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """base_lr * min(s / w, sqrt(w / s)) for each group, s = last_epoch + 1."""
        s, w = self.last_epoch + 1, self.warmup_steps
        factor = min(s / w, math.sqrt(w / s))
        return [base * factor for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine from base_lr down to eta_min over T_max steps, PyTorch's closed form.

    Shapes: one lr per param group.

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2
    As in PyTorch the curve keeps going past T_max (it rises again, period 2 * T_max); use
    `CosineWithWarmupLR` for a schedule that stays at eta_min.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _check_int("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2 for each group."""
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


class CosineWithWarmupLR(LRScheduler):
    """Linear warmup to base_lr, then a cosine down to eta_min, then eta_min for good.

    Shapes: one lr per param group.

    With s = last_epoch + 1 (the update number, from 1), w = warmup_steps, T = T_max:
        s <= w:  lr = base_lr * s / w                          (peak base_lr at s == w)
        s >  w:  p = min(s - w, T - w) / (T - w)
                 lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * p)) / 2
    so the lr reaches eta_min on update s == T_max (the total number of updates) and stays.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.warmup_steps = _check_int("CosineWithWarmupLR", "warmup_steps", warmup_steps, 0)
        self.T_max = _check_int("CosineWithWarmupLR", "T_max", T_max, self.warmup_steps + 1)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """The warmup line up to s = warmup_steps, then the cosine held at eta_min from T_max on."""
        s, w = self.last_epoch + 1, self.warmup_steps
        if s <= w:
            return [base * s / w for base in self.base_lrs]
        progress = min(s - w, self.T_max - w) / (self.T_max - w)
        cosine = (1 + math.cos(math.pi * progress)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


def _check_optimizer(scheduler: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: expected an Optimizer, got {type(optimizer).__name__}")


def _check_int(scheduler: str, what: str, value: Any, minimum: int) -> int:
    """`value` as a Python int (numpy ints welcome), or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{scheduler}: {what} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _copy(value: Any) -> Any:
    """Lists are copied so a saved state dict is a snapshot; numbers are immutable."""
    return list(value) if isinstance(value, (list, tuple)) else value
