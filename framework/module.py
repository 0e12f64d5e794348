"""The module protocol every layer, activation and loss of the framework follows.

A module's ``forward(*inputs)`` returns its output and keeps what the backward
pass will need; ``backward(*grad_outputs)`` adds the gradients of its
parameters into their gradient tensors (``+=``, so several backward passes
accumulate) and returns the gradient with respect to its input. ``param()``
lists ``(parameter, gradient)`` pairs, the tensors an optimizer updates in
place. This is the protocol of the EE-559 mini-project 2, with torch's names.

Nothing here needs autograd; ``no_grad()`` switches it off for a block so that
torch does not record the tensor operations the framework performs.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor


@contextmanager
def no_grad() -> Iterator[None]:
    """Run the block with torch's autograd off, restoring the previous mode."""
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    try:
        yield
    finally:
        torch.set_grad_enabled(previous)


class Module:
    """Base class: forward caches, backward accumulates and returns input grads."""

    training: bool = True

    def forward(self, *inputs: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def backward(self, *grad_outputs: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def param(self) -> list[tuple[Tensor, Tensor]]:
        """The ``(parameter, gradient)`` pairs; empty without parameters."""
        return []

    def children(self) -> list["Module"]:
        """The modules directly inside this one."""
        return []

    def modules(self) -> Iterator["Module"]:
        """This module and every module inside it, depth first."""
        yield self
        for child in self.children():
            yield from child.modules()

    def zero_grad(self) -> None:
        for _, grad in self.param():
            grad.zero_()

    def train(self, mode: bool = True) -> "Module":
        """Switch training behaviour (dropout) on or off, here and inside."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def __call__(self, *inputs: Tensor) -> Tensor:
        return self.forward(*inputs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Sequential(Module):
    """Modules applied one after the other; backward runs them in reverse."""

    def __init__(self, *modules: Module) -> None:
        self.layers = list(modules)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_output: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def param(self) -> list[tuple[Tensor, Tensor]]:
        return [pair for layer in self.layers for pair in layer.param()]

    def children(self) -> list[Module]:
        return list(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
