"""The circle task's network, built from its factors, and how its outputs are read.

``build_network`` turns a ``CIRCLE_FACTORS`` dict into a ``framework``
network: an optional ``Standardize`` step, ``num_hidden_layers`` hidden
layers of ``hidden`` units, each followed by the activation (and by dropout
when ``dropout > 0``), then ``outputs`` units with an optional output
activation. Given a list of factor dicts it builds a stack of that many
networks, which may differ in ``init`` and ``dropout`` only.

The head decides what the outputs mean. Targets span the output activation's
range: 0/1 for ``none`` and ``sigmoid``, -1/+1 for ``tanh``.

- ``mse``: two outputs regress a one-hot code of the class (the course's
  setting), one output regresses the label itself.
- ``bce``: each output is a probability: the output itself after a sigmoid,
  ``sigmoid(output)`` without activation (computed from logits), and
  ``(output + 1) / 2`` after a tanh; two outputs are scored against the one-hot
  code.
- ``ce``: two outputs are softmax logits; one output is the logit of "inside",
  which is the same thing (a softmax over logits (0, z) is ``sigmoid(z)``).

``inside_probability`` maps outputs to a number in [0, 1] that is above 0.5
exactly when the network predicts "inside" (for two outputs, when output 1
beats output 0), so accuracies and decision maps agree.

``build_torch_twin`` builds the same network with ``torch.nn``, the reference
for correctness and speed; ``copy_to_twin`` and ``copy_from_twin`` move weights.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

import framework as fw
from framework.activations import sigmoid

ARCHITECTURE_FACTORS = (
    "activation",
    "num_hidden_layers",
    "hidden",
    "outputs",
    "output_activation",
    "standardize",
)
"""Factors every network of a stack must share; init and dropout may differ."""

ACTIVATIONS = {"relu": fw.ReLU, "tanh": fw.Tanh, "sigmoid": fw.Sigmoid}
TORCH_ACTIVATIONS = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
}

Generators = torch.Generator | Sequence[torch.Generator] | None


class Standardize(fw.Module):
    """``(x - mean) / std`` with fixed training statistics; no parameters.

    ``mean`` and ``std`` have shape ``(2,)``, or ``(M, 1, 2)`` for a stack.
    """

    def __init__(
        self, num_models: int | None = None, dtype: torch.dtype = torch.float32
    ) -> None:
        shape = (2,) if num_models is None else (num_models, 1, 2)
        self.mean = torch.zeros(shape, dtype=dtype)
        self.std = torch.ones(shape, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output / self.std


def build_network(
    factors: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    init_generator: Generators = None,
    dropout_generator: Generators = None,
    dtype: torch.dtype = torch.float32,
) -> fw.Sequential:
    """The framework network for one factor dict, or a stack for a list of them.

    A single network maps ``(N, 2)`` points to ``(N, outputs)``; a stack of M
    maps ``(M, N, 2)`` to ``(M, N, outputs)``. The generators are single ones,
    or one per model for a stack (model m then draws exactly what it would
    alone). Without generators, torch's global generator is used.
    """
    stacked = not isinstance(factors, Mapping)
    factor_list = list(factors) if stacked else [factors]
    first = factor_list[0]
    for other in factor_list[1:]:
        for key in ARCHITECTURE_FACTORS:
            if other[key] != first[key]:
                raise ValueError(
                    f"a stack needs one {key}, got {first[key]!r} and {other[key]!r}"
                )
    num_models = len(factor_list) if stacked else None
    init = [f["init"] for f in factor_list] if stacked else first["init"]
    rates = [f["dropout"] for f in factor_list]
    p = torch.tensor(rates) if stacked else rates[0]

    def linear(in_features: int, out_features: int) -> fw.Linear:
        return fw.Linear(
            in_features,
            out_features,
            num_models=num_models,
            init=init,
            generator=init_generator,
            dtype=dtype,
        )

    layers: list[fw.Module] = []
    if first["standardize"]:
        layers.append(Standardize(num_models, dtype))
    width = 2
    for _ in range(first["num_hidden_layers"]):
        layers += [linear(width, first["hidden"]), ACTIVATIONS[first["activation"]]()]
        if max(rates) > 0:
            layers.append(
                fw.Dropout(p, num_models=num_models, generator=dropout_generator)
            )
        width = first["hidden"]
    layers.append(linear(width, first["outputs"]))
    if first["output_activation"] != "none":
        layers.append(ACTIVATIONS[first["output_activation"]]())
    return fw.Sequential(*layers)


def num_parameters(network: fw.Module) -> int:
    """Parameters of one network (of one model's slice, for a stack)."""
    linears = [m for m in network.modules() if isinstance(m, fw.Linear)]
    stacked = linears[0].num_models is not None
    return sum(p[0].numel() if stacked else p.numel() for p, _ in network.param())


def target_range(factors: Mapping[str, Any]) -> tuple[float, float]:
    """The values that code "outside" and "inside": the output's range."""
    return (-1.0, 1.0) if factors["output_activation"] == "tanh" else (0.0, 1.0)


def encode_targets(
    labels: Tensor, factors: Mapping[str, Any], dtype: torch.dtype = torch.float32
) -> Tensor:
    """The loss's targets for labels ``(..., N)`` of 0/1.

    ``(..., N)`` int64 classes for ``ce`` with two outputs, else float
    ``(..., N, outputs)``: the one-hot code or the label, in ``target_range``
    for ``mse`` and in 0/1 for the cross-entropies.
    """
    if factors["loss"] == "ce" and factors["outputs"] == 2:
        return labels
    low, high = target_range(factors) if factors["loss"] == "mse" else (0.0, 1.0)
    inside = labels.to(dtype).unsqueeze(-1)
    if factors["outputs"] == 2:
        inside = torch.cat((1 - inside, inside), dim=-1)
    return low + (high - low) * inside


class _TanhBCELoss(fw.Module):
    """Binary cross-entropy of the probabilities ``(output + 1) / 2``."""

    def __init__(self, num_models: int | None = None) -> None:
        self.bce = fw.BCELoss(num_models=num_models)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return self.bce.forward((input + 1) / 2, target)

    def backward(self, grad_output: Tensor | None = None) -> Tensor:
        return self.bce.backward(grad_output) / 2


def make_loss(factors: Mapping[str, Any], num_models: int | None = None) -> fw.Module:
    """The framework loss of ``factors``, taking outputs and ``encode_targets``."""
    loss, activation = factors["loss"], factors["output_activation"]
    if loss == "mse":
        return fw.MSELoss(num_models=num_models)
    if loss == "ce" and factors["outputs"] == 2:
        return fw.CrossEntropyLoss(num_models=num_models)
    if loss == "bce" and activation == "sigmoid":
        return fw.BCELoss(num_models=num_models)
    if loss == "bce" and activation == "tanh":
        return _TanhBCELoss(num_models=num_models)
    return fw.BCEWithLogitsLoss(num_models=num_models)


def inside_probability(outputs: Tensor, factors: Mapping[str, Any]) -> Tensor:
    """Outputs ``(..., N, outputs)`` to ``(..., N)`` in [0, 1]; > 0.5 is inside."""
    loss, activation = factors["loss"], factors["output_activation"]
    if loss == "ce" or (loss == "bce" and activation == "none"):
        # Logits: a softmax over two of them is the sigmoid of their difference.
        logit = outputs[..., -1]
        if factors["outputs"] == 2:
            logit = logit - outputs[..., 0]
        return sigmoid(logit)

    # Rescale to the 0/1 code, then compare the two outputs if there are two.
    low, high = target_range(factors)
    score = (outputs - low) / (high - low)
    if factors["outputs"] == 2:
        return ((score[..., 1] - score[..., 0] + 1) / 2).clamp(0, 1)
    return score[..., 0].clamp(0, 1)


class TorchStandardize(torch.nn.Module):
    """``Standardize`` for the torch.nn twin, with its statistics as buffers."""

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(2, dtype=dtype))
        self.register_buffer("std", torch.ones(2, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def build_torch_twin(
    factors: Mapping[str, Any], dtype: torch.dtype = torch.float32
) -> torch.nn.Sequential:
    """The same single network in ``torch.nn``, layer for layer (torch's init)."""
    layers: list[torch.nn.Module] = []
    if factors["standardize"]:
        layers.append(TorchStandardize(dtype))
    width = 2
    for _ in range(factors["num_hidden_layers"]):
        layers.append(torch.nn.Linear(width, factors["hidden"], dtype=dtype))
        layers.append(TORCH_ACTIVATIONS[factors["activation"]]())
        if factors["dropout"] > 0:
            layers.append(torch.nn.Dropout(factors["dropout"]))
        width = factors["hidden"]
    layers.append(torch.nn.Linear(width, factors["outputs"], dtype=dtype))
    if factors["output_activation"] != "none":
        layers.append(TORCH_ACTIVATIONS[factors["output_activation"]]())
    return torch.nn.Sequential(*layers)


def copy_to_twin(
    network: fw.Sequential, twin: torch.nn.Sequential, model: int | None = None
) -> None:
    """Copy the framework network's weights (model ``model`` of a stack) to twin."""
    with torch.no_grad():
        for theirs, ours in zip(_twin_tensors(twin), _tensors(network), strict=True):
            theirs.copy_(ours if model is None else ours[model].reshape(theirs.shape))


def copy_from_twin(
    twin: torch.nn.Sequential, network: fw.Sequential, model: int | None = None
) -> None:
    """Copy the twin's weights into the framework network (or one model's slice)."""
    with torch.no_grad():
        for theirs, ours in zip(_twin_tensors(twin), _tensors(network), strict=True):
            target = ours if model is None else ours[model]
            target.copy_(theirs.reshape(target.shape))


def _tensors(network: fw.Sequential) -> list[Tensor]:
    """Standardization statistics, then parameters, in layer order."""
    tensors = [p for p, _ in network.param()]
    if isinstance(network[0], Standardize):
        tensors = [network[0].mean, network[0].std, *tensors]
    return tensors


def _twin_tensors(twin: torch.nn.Sequential) -> list[Tensor]:
    tensors = list(twin.parameters())
    if isinstance(twin[0], TorchStandardize):
        tensors = [twin[0].mean, twin[0].std, *tensors]
    return tensors
