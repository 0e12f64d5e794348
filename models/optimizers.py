"""Adam and SGD for the digits trainer: torch.optim's numbers, without its start.

``torch.optim.Optimizer`` imports ``torch._dynamo`` the first time a process
builds or steps one (its ``add_param_group``, ``zero_grad`` and ``step`` are
wrapped to disable compilation). That import takes about 2 s, and every
worker of a grid pays it; on two cores it was a quarter of a ten-trial run's
wall time. These subclasses replace exactly those methods with plain ones and
apply the same element-wise updates, in the same order, as torch's default
single-tensor CPU implementation, so every parameter comes out bitwise equal
(tests/test_optimizers.py checks this over hundreds of steps, schedules
included).

They stay ``torch.optim.Optimizer`` instances, so torch's learning-rate
schedulers drive them: ``OneCycleLR`` sets ``lr`` and cycles ``betas`` (Adam)
or ``momentum`` (SGD) in ``param_groups``, and ``step`` reads them afresh each
time. Supported: one or more parameter groups of dense CPU or CUDA tensors;
not supported (torch.optim's extras): AMSGrad, Nesterov, dampening,
``maximize``, sparse or complex gradients, and state dicts interchangeable
with torch.optim's (Adam keeps its step count as an int, not a tensor).
"""

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor


class _Plain(torch.optim.Optimizer):
    """An ``Optimizer`` whose bookkeeping never touches ``torch._dynamo``."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group ``{"params": tensors, **overrides}`` with the defaults."""
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for param in params:
            if not isinstance(param, Tensor) or not param.is_leaf:
                raise TypeError("an optimizer takes leaf tensors as parameters")
        group = {**self.defaults, **param_group, "params": params}
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.detach_().zero_()

    @torch.no_grad()
    def step(self, closure=None) -> None:
        """One update of every parameter that has a gradient."""
        if closure is not None:
            raise ValueError(f"this {type(self).__name__} takes no closure")
        for group in self.param_groups:
            params = [param for param in group["params"] if param.grad is not None]
            if params:
                self._update_group(group, params)

    def _update_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Update ``params``, the group's parameters that have a gradient."""
        raise NotImplementedError


class Adam(_Plain):
    """``torch.optim.Adam(params, lr, betas, eps, weight_decay)``, bit for bit.

    Per step t: ``d = grad + wd * p``, ``m = lerp(m, d, 1 - b1)``,
    ``v = b2 v + (1 - b2) d**2`` and
    ``p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        # Parameters at the same step update together, through torch's
        # _foreach ops: on CPU they loop over the same per-tensor kernels
        # (the same numbers) in C++, half the time of a Python loop.
        by_step: dict[int, list[Tensor]] = {}
        for param in params:
            state = self.state[param]
            if not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(param)
                state["exp_avg_sq"] = torch.zeros_like(param)
            state["step"] += 1
            by_step.setdefault(state["step"], []).append(param)
        for step, same_step in by_step.items():
            self._update(group, step, same_step)

    def _update(self, group: dict[str, Any], step: int, params: list[Tensor]) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        grads = [param.grad for param in params]
        if weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
        exp_avgs = [self.state[param]["exp_avg"] for param in params]
        exp_avg_sqs = [self.state[param]["exp_avg_sq"] for param in params]
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)

        # torch.optim keeps the step count in a float32 tensor and reads it
        # back as a Python float; exact for counts below 2**24.
        step_size = lr / (1 - beta1 ** float(step))
        correction2_sqrt = (1 - beta2 ** float(step)) ** 0.5
        denoms = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denoms, correction2_sqrt)
        torch._foreach_add_(denoms, eps)
        torch._foreach_addcdiv_(params, exp_avgs, denoms, value=-step_size)


class SGD(_Plain):
    """``torch.optim.SGD(params, lr, momentum, weight_decay)``, bit for bit.

    ``d = grad + wd * p``; with momentum, ``buf = d`` at the first step and
    ``buf = momentum * buf + d`` after, and ``d = buf``; then ``p -= lr * d``.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        weight_decay = group["weight_decay"]
        for param in params:
            grad = param.grad
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            if momentum != 0:
                state = self.state[param]
                buffer = state.get("momentum_buffer")
                if buffer is None:
                    buffer = state["momentum_buffer"] = grad.detach().clone()
                else:
                    buffer.mul_(momentum).add_(grad)
                grad = buffer
            param.add_(grad, alpha=-lr)
