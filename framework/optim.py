"""Optimizers: SGD with momentum and Adam, with torch.optim's update rules.

An optimizer takes the ``(parameter, gradient)`` pairs of ``Module.param()``
and updates the parameters in place. Weight decay adds ``weight_decay * p`` to
the gradient first (L2 regularisation, as in ``torch.optim.SGD`` and
``torch.optim.Adam``).

For a stack of M models, ``lr``, ``weight_decay`` and ``momentum`` may each be
a tensor of shape ``(M,)``: model m's slice of every parameter (its first axis)
is updated with its own values, in the same tensor operation as the others.
"""

import math

import torch
from torch import Tensor

Hyper = float | Tensor
"""A hyperparameter: one float for all models, or a tensor (M,) per model."""


class Optimizer:
    """Holds the parameter pairs and one per-parameter view of each hyperparameter."""

    def __init__(self, params: list[tuple[Tensor, Tensor]]) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters")

    def zero_grad(self) -> None:
        for _, grad in self.params:
            grad.zero_()

    def step(self) -> None:
        raise NotImplementedError

    def _views(self, value: Hyper) -> list[Hyper]:
        """``value`` shaped to broadcast against each parameter's model slices."""
        if not isinstance(value, Tensor):
            return [float(value)] * len(self.params)
        assert value.dim() == 1, "a per-model hyperparameter has shape (M,)"
        views = []
        for p, _ in self.params:
            assert p.shape[0] == value.shape[0], (
                f"{value.shape[0]} per-model values for parameters of shape "
                f"{tuple(p.shape)}"
            )
            views.append(value.to(p.dtype).view(-1, *[1] * (p.dim() - 1)))
        return views


def _is_zero(value: Hyper) -> bool:
    return not bool(torch.as_tensor(value).any())


def _plus_scaled(y: Tensor, a: Hyper, x: Tensor) -> Tensor:
    """``y + a * x`` as a new tensor, in one operation."""
    return y.add(x, alpha=a) if isinstance(a, float) else torch.addcmul(y, x, a)


def _subtract_scaled_(p: Tensor, a: Hyper, x: Tensor) -> None:
    """``p -= a * x`` in place, in one operation."""
    if isinstance(a, float):
        p.add_(x, alpha=-a)
    else:
        p.addcmul_(x, a, value=-1)


class SGD(Optimizer):
    """``torch.optim.SGD`` without dampening or Nesterov.

    ``d = grad + weight_decay * p``; with momentum, ``buf = d`` at the first
    step and ``buf = momentum * buf + d`` after, and ``d = buf``; then
    ``p -= lr * d``.
    """

    def __init__(
        self,
        params: list[tuple[Tensor, Tensor]],
        lr: Hyper,
        momentum: Hyper = 0.0,
        weight_decay: Hyper = 0.0,
    ) -> None:
        super().__init__(params)
        self.lr = self._views(lr)
        self.momentum = None if _is_zero(momentum) else self._views(momentum)
        self.weight_decay = (
            None if _is_zero(weight_decay) else self._views(weight_decay)
        )
        self.buffers: list[Tensor | None] = [None] * len(self.params)

    def step(self) -> None:
        for i, (p, grad) in enumerate(self.params):
            d = grad
            if self.weight_decay is not None:
                d = _plus_scaled(d, self.weight_decay[i], p)

            if self.momentum is not None:
                if self.buffers[i] is None:
                    self.buffers[i] = d.clone()
                else:
                    self.buffers[i].mul_(self.momentum[i]).add_(d)
                d = self.buffers[i]

            _subtract_scaled_(p, self.lr[i], d)


class Adam(Optimizer):
    """``torch.optim.Adam`` (not AMSGrad); ``betas`` and ``eps`` are floats.

    ``m = b1 m + (1 - b1) d``, ``v = b2 v + (1 - b2) d**2`` and
    ``p -= lr / (1 - b1**t) * m / (sqrt(v / (1 - b2**t)) + eps)``.
    """

    def __init__(
        self,
        params: list[tuple[Tensor, Tensor]],
        lr: Hyper = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Hyper = 0.0,
    ) -> None:
        super().__init__(params)
        self.lr = self._views(lr)
        self.betas = betas
        self.eps = eps
        self.weight_decay = (
            None if _is_zero(weight_decay) else self._views(weight_decay)
        )
        self.exp_avg = [torch.zeros_like(p) for p, _ in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p, _ in self.params]
        self.num_steps = 0

    def step(self) -> None:
        beta1, beta2 = self.betas
        self.num_steps += 1
        correction1 = 1 - beta1**self.num_steps
        correction2_sqrt = math.sqrt(1 - beta2**self.num_steps)

        for i, (p, grad) in enumerate(self.params):
            d = grad
            if self.weight_decay is not None:
                d = _plus_scaled(d, self.weight_decay[i], p)

            m, v = self.exp_avg[i], self.exp_avg_sq[i]
            m.lerp_(d, 1 - beta1)
            v.mul_(beta2).addcmul_(d, d, value=1 - beta2)

            denom = (v.sqrt() / correction2_sqrt).add_(self.eps)
            _subtract_scaled_(p, self.lr[i] / correction1, m / denom)
