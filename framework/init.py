"""Weight initialisations for ``Linear``, each drawing from an explicit generator.

Every initializer fills one layer's ``weight (out_features, in_features)`` and
``bias (out_features,)`` in place, so a stacked layer initialises model ``m`` by
passing ``weight[m]``, ``bias[m]`` and model ``m``'s own generator. They draw
with the same tensor methods as ``torch.nn.init``, so the same generator gives
the same numbers as torch:

- ``default``: what ``torch.nn.Linear`` does, ``kaiming_uniform_(a=sqrt(5))``,
  i.e. weight and bias uniform in ``(-1/sqrt(fan_in), 1/sqrt(fan_in))``.
- ``xavier_uniform``, ``xavier_normal``: Glorot's, with gain 1.
- ``he``: Kaiming normal with fan_in and the ReLU gain, std ``sqrt(2/fan_in)``.

The last three set the bias to zero, the usual companion of these schemes.
"""

import math
from collections.abc import Callable

import torch
from torch import Tensor


def default(weight: Tensor, bias: Tensor | None, generator: torch.Generator) -> None:
    """``torch.nn.Linear``'s initialisation: U(-b, b), b = 1/sqrt(fan_in)."""
    bound = 1 / math.sqrt(weight.shape[-1])
    weight.uniform_(-bound, bound, generator=generator)
    if bias is not None:
        bias.uniform_(-bound, bound, generator=generator)


def xavier_uniform(
    weight: Tensor, bias: Tensor | None, generator: torch.Generator
) -> None:
    """Weight U(-b, b) with b = sqrt(6 / (fan_in + fan_out)); zero bias."""
    fan_out, fan_in = weight.shape[-2:]
    bound = math.sqrt(6 / (fan_in + fan_out))
    weight.uniform_(-bound, bound, generator=generator)
    _zero(bias)


def xavier_normal(
    weight: Tensor, bias: Tensor | None, generator: torch.Generator
) -> None:
    """Weight N(0, 2 / (fan_in + fan_out)); zero bias."""
    fan_out, fan_in = weight.shape[-2:]
    weight.normal_(0, math.sqrt(2 / (fan_in + fan_out)), generator=generator)
    _zero(bias)


def he(weight: Tensor, bias: Tensor | None, generator: torch.Generator) -> None:
    """Kaiming normal for ReLU: weight N(0, 2 / fan_in); zero bias."""
    weight.normal_(0, math.sqrt(2 / weight.shape[-1]), generator=generator)
    _zero(bias)


def _zero(bias: Tensor | None) -> None:
    if bias is not None:
        bias.zero_()


Initializer = Callable[[Tensor, Tensor | None, torch.Generator], None]

INITIALIZERS: dict[str, Initializer] = {
    "default": default,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "he": he,
}


def get_initializer(init: str | Initializer) -> Initializer:
    """The initializer called ``init`` (or ``init`` itself when callable)."""
    if callable(init):
        return init
    if init not in INITIALIZERS:
        raise ValueError(f"unknown init {init!r}; choose from {sorted(INITIALIZERS)}")
    return INITIALIZERS[init]
