"""Element-wise activations: ReLU, Tanh and Sigmoid.

They act on every element, so they work the same with or without a leading
model axis. Each keeps its output from the forward pass, because all three
derivatives are cheapest to write in terms of the output.

``sigmoid`` and ``tanh`` are written with ``exp``: torch's own CPU kernels
round the last few elements of a tensor differently from the rest (a scalar
tail after the vectorized loop), so a model's values would depend on its place
in a stack. ``exp`` and the basic arithmetic do not, and the ``exp`` forms are
also faster than torch's ``tanh``.
"""

from torch import Tensor

from framework.module import Module


def sigmoid(x: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``, the same for every element wherever it sits."""
    return (-x).exp_().add_(1).reciprocal_()


def tanh(x: Tensor) -> Tensor:
    """``2 sigmoid(2x) - 1``, the same for every element wherever it sits."""
    return (-2 * x).exp_().add_(1).reciprocal_().mul_(2).sub_(1)


class ReLU(Module):
    """``max(x, 0)``; its derivative is 1 where the output is positive, else 0."""

    def forward(self, x: Tensor) -> Tensor:
        self.output = x.clamp(min=0)
        return self.output

    def backward(self, grad_output: Tensor) -> Tensor:
        # NOTE: sign() of the non-negative output is exactly that 0/1 derivative,
        # and several times faster on CPU than a boolean mask (output > 0).
        return grad_output * self.output.sign()


class Tanh(Module):
    """``tanh(x)``; its derivative is ``1 - tanh(x)**2``."""

    def forward(self, x: Tensor) -> Tensor:
        self.output = tanh(x)
        return self.output

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output * (1 - self.output.square())


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``; its derivative is ``s * (1 - s)``."""

    def forward(self, x: Tensor) -> Tensor:
        self.output = sigmoid(x)
        return self.output

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output * self.output * (1 - self.output)
