"""Losses: mean squared error, binary cross-entropy and cross-entropy.

A loss is a module whose ``forward(input, target)`` returns the mean over the
batch, as torch's default ``reduction="mean"`` does, and whose
``backward(grad_output=None)`` returns the gradient with respect to ``input``.

With ``num_models=M`` the first axis of ``input`` and ``target`` indexes
models: ``forward`` returns the M per-model means ``(M,)``, and ``backward``
returns the gradient of their sum, so each model receives the gradient of its
own loss and nothing from the others.
"""

import torch
from torch import Tensor

from framework.activations import sigmoid
from framework.module import Module


class _Loss(Module):
    """Shared reduction: a mean over everything, or over each model's part."""

    def __init__(self, num_models: int | None = None) -> None:
        self.num_models = num_models

    def _mean(self, values: Tensor) -> Tensor:
        """The mean of ``values``, per model when stacked: () or (M,)."""
        if self.num_models is None:
            return values.mean()
        return values.flatten(1).mean(1)

    def _scale(self, grad: Tensor, count: int, grad_output: Tensor | None) -> Tensor:
        """``grad`` divided by the per-model element count, times ``grad_output``."""
        if grad_output is None:
            return grad / count
        if self.num_models is not None:
            grad_output = grad_output.view(-1, *[1] * (grad.dim() - 1))
        return grad * (grad_output / count)

    def _count(self, values: Tensor) -> int:
        return values.numel() if self.num_models is None else values[0].numel()

    def extra_repr(self) -> str:
        return "" if self.num_models is None else f"num_models={self.num_models}"


class MSELoss(_Loss):
    """``mean((input - target)**2)``; input and target of the same shape."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        self.diff = input - target
        return self._mean(self.diff.square())

    def backward(self, grad_output: Tensor | None = None) -> Tensor:
        return self._scale(2 * self.diff, self._count(self.diff), grad_output)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities ``input`` against ``target``.

    Like torch, each log is clamped at -100, so a probability of exactly 0 or
    1 gives a large finite loss, and the gradient divides by
    ``max(input * (1 - input), 1e-12)``.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        self.input, self.target = input, target
        log_p = input.log().clamp(min=-100)
        log_not_p = (1 - input).log().clamp(min=-100)
        return self._mean(-(target * log_p + (1 - target) * log_not_p))

    def backward(self, grad_output: Tensor | None = None) -> Tensor:
        p = self.input
        grad = (p - self.target) / (p * (1 - p)).clamp(min=1e-12)
        return self._scale(grad, self._count(p), grad_output)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from logits."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        self.input, self.target = input, target

        # log(1 + exp(-|z|)) never overflows; the rest is linear in z. (Not
        # log1p, whose CPU kernel rounds a tensor's last elements differently.)
        softplus = (-input.abs()).exp_().add_(1).log_()
        return self._mean(input.clamp(min=0) - input * target + softplus)

    def backward(self, grad_output: Tensor | None = None) -> Tensor:
        grad = sigmoid(self.input) - self.target
        return self._scale(grad, self._count(self.input), grad_output)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits ``input (N, C)`` against labels ``(N,)``.

    Stacked: ``input (M, N, C)`` and ``target (M, N)`` of int64 class indices.
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        # Shifting by the row maximum keeps exp() from overflowing.
        shifted = input - input.amax(-1, keepdim=True)
        log_probs = shifted - shifted.exp().sum(-1, keepdim=True).log()
        self.probs = log_probs.exp()
        self.one_hot = torch.zeros_like(input).scatter_(-1, target.unsqueeze(-1), 1)
        return self._mean(-log_probs.gather(-1, target.unsqueeze(-1)))

    def backward(self, grad_output: Tensor | None = None) -> Tensor:
        count = self._count(self.probs) // self.probs.shape[-1]
        return self._scale(self.probs - self.one_hot, count, grad_output)
