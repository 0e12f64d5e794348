"""The fully connected layer, alone or as a stack of independent models.

``Linear(in_features, out_features)`` maps ``(N, in_features)`` to
``(N, out_features)`` with ``weight (out_features, in_features)`` and
``bias (out_features,)``, exactly like ``torch.nn.Linear``.

With ``num_models=M`` the layer holds M independent layers of the same shape:
``weight (M, out_features, in_features)``, ``bias (M, out_features)``, and it
maps ``(M, N, in_features)`` to ``(M, N, out_features)`` with one batched
matrix product, so M networks train for the price of one Python call per step.
"""

from collections.abc import Sequence

import torch
from torch import Tensor

from framework.init import Initializer, get_initializer
from framework.module import Module


class Linear(Module):
    """``y = x @ weight.T + bias``, optionally for M models at once.

    ``init`` names an initializer of ``framework.init`` (or is one); with a
    model axis it may be a sequence of M of them. ``generator`` is a
    ``torch.Generator`` (all models draw from it in turn) or a sequence of M,
    one per model, so that model m gets the same weights as it would alone.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        num_models: int | None = None,
        init: str | Initializer | Sequence[str | Initializer] = "default",
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.in_features = in_features
        self.out_features = out_features
        self.num_models = num_models
        shape = (out_features, in_features)
        if num_models is not None:
            shape = (num_models, *shape)
        self.weight = torch.empty(shape, dtype=dtype)
        self.weight_grad = torch.zeros(shape, dtype=dtype)
        self.bias = torch.empty(shape[:-1], dtype=dtype) if bias else None
        self.bias_grad = torch.zeros(shape[:-1], dtype=dtype) if bias else None
        self.reset_parameters(init, generator)

    def reset_parameters(
        self,
        init: str | Initializer | Sequence[str | Initializer] = "default",
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
    ) -> None:
        """Draw fresh weights; model m uses ``init[m]`` and ``generator[m]``."""
        if self.num_models is None:
            get_initializer(init)(self.weight, self.bias, generator)
            return

        # One model at a time, so each generator sees the draws it would alone.
        inits = _per_model(init, self.num_models, "init")
        generators = _per_model(generator, self.num_models, "generator")
        for m in range(self.num_models):
            bias = None if self.bias is None else self.bias[m]
            get_initializer(inits[m])(self.weight[m], bias, generators[m])

    def forward(self, x: Tensor) -> Tensor:
        """``x (N, in)`` or ``(M, N, in)`` to ``(N, out)`` or ``(M, N, out)``."""
        assert x.dim() == self.weight.dim(), (
            f"Linear expects a {self.weight.dim()}-d input, got shape {tuple(x.shape)}"
        )
        self.input = x
        if self.num_models is None:
            if self.bias is None:
                return x @ self.weight.T
            return torch.addmm(self.bias, x, self.weight.T)

        if self.bias is None:
            return _batched_product(x, self.weight.mT)
        if x.shape[-2] > self.out_features:
            # The faster way round: y.T = W x.T + b (see _batched_product).
            return torch.baddbmm(self.bias.unsqueeze(2), self.weight, x.mT).mT
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.mT)

    def backward(self, grad_output: Tensor) -> Tensor:
        """Accumulate the weight and bias gradients; return ``dL/dx``."""
        if self.num_models is None:
            self.weight_grad.addmm_(grad_output.T, self.input)
        elif self.out_features > self.in_features:
            self.weight_grad += _batched_product(grad_output.mT, self.input)
        else:
            self.weight_grad.baddbmm_(grad_output.mT, self.input)
        if self.bias_grad is not None:
            self.bias_grad += grad_output.sum(-2)

        if self.num_models is None:
            return grad_output @ self.weight
        return _batched_product(grad_output, self.weight)

    def param(self) -> list[tuple[Tensor, Tensor]]:
        pairs = [(self.weight, self.weight_grad)]
        if self.bias is not None:
            pairs.append((self.bias, self.bias_grad))
        return pairs

    def extra_repr(self) -> str:
        text = f"in_features={self.in_features}, out_features={self.out_features}"
        text += f", bias={self.bias is not None}"
        if self.num_models is not None:
            text += f", num_models={self.num_models}"
        return text


def _batched_product(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` for stacks of matrices ``(M, n, k) @ (M, k, p)``.

    NOTE: on CPU, small batched products run up to twice as fast when the
    result has more columns than rows, so a tall result is computed as the
    transpose of ``b.T @ a.T``. Both give the same numbers up to rounding, and
    the choice depends on the shapes only, never on M.
    """
    if a.shape[-2] > b.shape[-1]:
        return torch.bmm(b.mT, a.mT).mT
    return torch.bmm(a, b)


def _per_model(value, num_models: int, name: str) -> list:
    """``value`` repeated for each model, or checked to hold one per model."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != num_models:
            raise ValueError(f"{name} has {len(value)} entries for {num_models} models")
        return list(value)
    return [value] * num_models
