"""Inverted dropout, with per-model rates and random streams when stacked.

In training mode each element is zeroed with probability ``p`` and the others
are scaled by ``1 / (1 - p)``, so evaluation mode is the identity, as in
``torch.nn.Dropout``. An element is kept when a uniform draw in [0, 1) is at
least ``p``; ``p = 0`` therefore keeps everything and scales by exactly 1.

With ``num_models=M``, ``p`` may be a tensor of shape ``(M,)`` and
``generator`` a sequence of M generators: model m's mask comes only from
model m's generator, so a model draws the same masks in a stack as alone.
Drawing per model on every step would cost M Python calls per step, so
``predraw(num_examples)`` draws the uniforms for the next ``num_examples``
examples (one epoch, typically) with one call per model, and the following
forward passes consume them batch by batch.
"""

from collections.abc import Sequence

import torch
from torch import Tensor

from framework.module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scale the rest."""

    def __init__(
        self,
        p: float | Tensor = 0.5,
        *,
        num_models: int | None = None,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
    ) -> None:
        rates = torch.as_tensor(p, dtype=torch.float64)
        if not bool(((rates >= 0) & (rates < 1)).all()):
            raise ValueError(f"dropout p must be in [0, 1), got {p}")
        if num_models is None:
            assert rates.dim() == 0, "a per-model p needs num_models"
        else:
            rates = rates.expand(num_models).clone()
        self.p = rates
        self.num_models = num_models
        self.generator = generator
        self._noise: Tensor | None = None
        self._rows = 0
        self._cursor = 0
        self.mask: Tensor | None = None
        self._cached_rates: tuple[Tensor, Tensor] | None = None

    def predraw(self, num_examples: int) -> None:
        """Make the next forward passes use uniforms drawn now, per model.

        The uniforms for ``num_examples`` examples are drawn at the next forward
        pass (which tells the number of features) with one call per model; each
        training forward pass then takes the next ``N`` of them.
        """
        self._noise = None
        self._rows = num_examples
        self._cursor = 0

    def forward(self, x: Tensor) -> Tensor:
        """``x (N, F)`` or ``(M, N, F)``; the same shape out."""
        if not self.training:
            self.mask = None
            return x

        # Keep where the uniform is at least p, scaled so the mean is unchanged.
        # NOTE: sign(u - p) + 1, capped at 1, is exactly (u >= p), and three
        # times faster on CPU than comparing and converting a boolean mask.
        noise = self._take_noise(x)
        p, scale = self._rates(x)
        self.mask = (noise - p).sign_().add_(1).clamp_(max=1).mul_(scale)
        return x * self.mask

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output if self.mask is None else grad_output * self.mask

    def _rates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``p`` and ``1 / (1 - p)`` in x's dtype, shaped to broadcast per model."""
        if self._cached_rates is None or self._cached_rates[0].dtype != x.dtype:
            p = self.p.to(x.dtype)
            if self.num_models is not None:
                p = p.view(-1, *[1] * (x.dim() - 1))
            self._cached_rates = (p, 1 / (1 - p))
        return self._cached_rates

    def _take_noise(self, x: Tensor) -> Tensor:
        """Uniforms of x's shape: the next rows of the predrawn ones, or fresh."""
        if self._rows == 0:
            return self._draw(x.shape[-2], x)

        if self._noise is None:
            self._noise = self._draw(self._rows, x)
        num_rows = x.shape[-2]
        start, self._cursor = self._cursor, self._cursor + num_rows
        if self._cursor > self._rows:
            raise RuntimeError(
                f"dropout noise for {self._rows} examples is used up; "
                "call predraw() again before the next epoch"
            )
        return self._noise[..., start : self._cursor, :]

    def _draw(self, num_rows: int, x: Tensor) -> Tensor:
        """Uniforms for ``num_rows`` rows of x's features, per model."""
        # Laid out like x (features or rows contiguous): products of tensors
        # with different layouts run several times slower on CPU.
        features_major = x.stride(-2) == 1 and x.shape[-1] > 1
        shape = (x.shape[-1], num_rows) if features_major else (num_rows, x.shape[-1])
        if self.num_models is None:
            noise = torch.rand(shape, generator=self.generator, dtype=x.dtype)
        else:
            generators = self.generator
            if not isinstance(generators, Sequence):
                generators = [generators] * self.num_models
            assert len(generators) == self.num_models, "one generator per model"
            # Drawn in place, model by model: the same numbers as stacking M
            # torch.rand calls, without the copy (a sixth of the cost).
            noise = torch.empty((self.num_models, *shape), dtype=x.dtype)
            for rows, g in zip(noise, generators, strict=True):
                rows.uniform_(generator=g)
        return noise.mT if features_major else noise

    def extra_repr(self) -> str:
        if self.num_models is None:
            return f"p={float(self.p):g}"
        return f"p={[round(float(p), 4) for p in self.p]}, num_models={self.num_models}"
