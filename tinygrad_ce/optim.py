"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules (StepLR, CosineAnnealingLR).

Each ``step()`` applies the same update as PyTorch's optimizer of the same name for the same
gradients (the formulas are in each class docstring). Updates are written in place into
``p.data``; ``p.grad`` is only read, never modified. Parameters whose ``.grad`` is None are
skipped, and their state is left alone.

Parameters can be a list of Tensors or a list of groups, ``[{"params": [...], "lr": 0.1}, ...]``,
where a group's entries override the optimizer's defaults, as in PyTorch. Schedules change
``group["lr"]``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .autograd import writable_data
from .tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "Optimizer", "StepLR"]


class Optimizer:
    """Base class: holds parameter groups and per-parameter state.

    Subclasses implement ``_step_group(group)``, which updates the group's parameters that have
    a gradient (``p._data`` and ``p._grad`` are read directly: this loop runs every step).
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors, e.g. model.parameters()")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}
        seen: set[int] = set()
        for group in groups:
            self.add_param_group(group, seen)

    def add_param_group(self, group: dict[str, Any], _seen: set[int] | None = None) -> None:
        """Add a group of parameters with its own hyper-parameters."""
        seen = (
            _seen if _seen is not None else {id(p) for g in self.param_groups for p in g["params"]}
        )
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        params = list(params or [])
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"parameter {i} is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"parameter {i} has dtype {p.dtype}; only float tensors train")
            if id(p) in seen:
                raise ValueError(f"parameter {i} (shape {p.shape}) appears in more than one group")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)} for {type(self).__name__}")
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group: dict[str, Any]) -> None:
        """Validate a group's hyper-parameters (subclasses extend)."""
        if not group["lr"] >= 0.0:
            raise ValueError(f"learning rate must be >= 0, got {group['lr']}")
        if not group.get("weight_decay", 0.0) >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {group['weight_decay']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (or a new array of zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.data)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place.

        All or nothing: every gradient is checked (shape, real dtype) before the first
        parameter or state changes, so a step that raises leaves the model and the optimizer
        as they were. A parameter whose values a recorded op still holds (a graph kept with
        ``retain_graph=True``) gets new memory rather than being written into, so a later
        backward pass through that graph reports the change instead of using wrong values.
        """
        params = [p for group in self.param_groups for p in group["params"]]
        for i, p in enumerate(params):
            grad = p._grad
            if grad is None:
                continue
            if grad.shape != p._data.shape or grad.dtype.kind != "f":
                raise TypeError(
                    f"parameter {i} (shape {p.shape}, {p.dtype}) has a gradient of shape "
                    f"{grad.shape} and dtype {grad.dtype}; it must be a real floating-point "
                    f"array of the parameter's shape. Nothing was updated."
                )
            if not p._data.flags.writeable:
                writable_data(p)
        for group in self.param_groups:
            self._step_group(group)

    def _step_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    # --- state ------------------------------------------------------------------------------

    def _params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """The state (buffers, step counts) and hyper-parameters, with parameters numbered in
        order as in PyTorch: ``{"state": {index: {...}}, "param_groups": [{..., "params":
        [indices]}]}``. Arrays are copies."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[k]: copy.deepcopy(v) for k, v in self.state.items() if k in index}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (for the same parameters, same order)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(mine["params"])
            for g, mine in zip(groups, self.param_groups, strict=True)
        ):
            raise ValueError(
                "optimizer state dict has groups of sizes "
                f"{[len(g['params']) for g in groups]}, this optimizer "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        params = self._params()
        new_state = {}
        for i, s in state_dict["state"].items():
            i = int(i)
            if not 0 <= i < len(params):
                raise ValueError(f"optimizer state for parameter {i}, which does not exist")
            p = params[i]
            for key, value in s.items():
                if isinstance(value, np.ndarray) and value.shape != p.shape:
                    raise ValueError(
                        f"optimizer state {key!r} of parameter {i} has shape {value.shape}, "
                        f"the parameter {p.shape}"
                    )
            new_state[id(p)] = copy.deepcopy(s)
        self.state = new_state
        for g, mine in zip(groups, self.param_groups, strict=True):
            mine.update({k: v for k, v in g.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    With ``g`` the gradient, at each step (PyTorch's formulas, ``dampening=0``)::

        g = g + weight_decay * p
        b = g                     (first step)      b = momentum * b + g   (later steps)
        g = g + momentum * b      (nesterov)        g = b                  (otherwise)
        p = p - lr * g

    The buffer ``b`` is only used when ``momentum > 0``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        )

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        if not group["momentum"] >= 0.0:
            raise ValueError(f"momentum must be >= 0, got {group['momentum']}")
        if group["nesterov"] and group["momentum"] <= 0.0:
            raise ValueError("nesterov momentum needs momentum > 0")

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, momentum, wd = (
            float(group["lr"]),
            float(group["momentum"]),
            float(group["weight_decay"]),
        )
        nesterov = bool(group["nesterov"])
        for p in group["params"]:
            grad, data = p._grad, p._data
            if grad is None:
                continue
            g = grad + wd * data if wd != 0.0 else grad  # a new array: p.grad stays as it is
            if momentum != 0.0:
                state = self.state.setdefault(id(p), {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = np.array(g, dtype=data.dtype, copy=True)
                else:
                    buf *= momentum
                    buf += g
                g = g + momentum * buf if nesterov else buf
            data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba), as PyTorch computes it.

    With ``g`` the gradient and ``t`` the step number (1, 2, ...)::

        g = g + weight_decay * p                      (L2 penalty folded into the gradient)
        m = beta1 * m + (1 - beta1) * g               (m, v start at 0)
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        )

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
        if not group["eps"] >= 0.0:
            raise ValueError(f"eps must be >= 0, got {group['eps']}")

    decoupled_weight_decay = False  # AdamW: True

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
        one_minus_b1, one_minus_b2 = 1.0 - beta1, 1.0 - beta2
        states = self.state
        last_t, step_size, root_bc2 = -1, 0.0, 1.0  # bias corrections, shared by equal steps
        for p in group["params"]:
            grad = p._grad
            if grad is None:
                continue
            data = p._data
            g = grad
            if wd != 0.0:
                if self.decoupled_weight_decay:
                    data *= 1.0 - lr * wd
                else:
                    g = grad + wd * data  # a new array: p.grad stays as it is
            state = states.get(id(p))
            if state is None:
                state = states[id(p)] = {
                    "step": 0,
                    "exp_avg": np.zeros_like(data),
                    "exp_avg_sq": np.zeros_like(data),
                }
            t = state["step"] = state["step"] + 1
            if t != last_t:
                last_t = t
                step_size = lr / (1.0 - beta1**t)
                root_bc2 = math.sqrt(1.0 - beta2**t)
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += one_minus_b1 * g
            v *= beta2
            v += one_minus_b2 * (g * g)
            denom = np.sqrt(v) / root_bc2
            denom += eps
            data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch computes it.

    The decay shrinks the weights directly instead of entering the gradient::

        p = p * (1 - lr * weight_decay)
        then the Adam update above with weight_decay = 0
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    decoupled_weight_decay = True


# ---------------------------------------------------------------------------------------------
# learning-rate schedules


def _is_int(n: Any) -> bool:
    """A Python or numpy integer (``np.int64(3)`` from array arithmetic counts), not a bool."""
    return isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))


class LRScheduler:
    """Base class of schedules: call :meth:`step` once per epoch, after ``optimizer.step()``.

    Creating a schedule records each group's ``initial_lr`` and sets epoch 0, as PyTorch does.
    Subclasses implement ``_lr_at(base_lr, epoch)``, a closed form.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    "resuming a schedule (last_epoch != -1) needs 'initial_lr' in groups"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set each group's ``lr``."""
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = self._lr_at(base, self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group after the last :meth:`step`."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(copy.deepcopy(state_dict))


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if not _is_int(step_size) or step_size <= 0:
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from the base rate to ``eta_min`` over ``T_max`` epochs:
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    Past ``T_max`` the cosine goes on (back up), as PyTorch's does.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if not _is_int(T_max) or T_max <= 0:
            raise ValueError(f"T_max must be a positive integer, got {T_max!r}")
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr: float, epoch: int) -> float:
        return (
            self.eta_min
            + (base_lr - self.eta_min) * (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
        )
