"""Networks for the digit-pair task: baselines, digit branches, comparators.

Every network takes ``x (N, 2, 14, 14)`` standardized pixels and returns a
``PairOutput``: comparison logits ``(N, 2)`` (class 1: first digit <= second)
and, for the networks that see digits one at a time, digit logits
``(N, 2, 10)``.

- ``PairMLP`` and ``PairCNN`` read the two images as one 2-channel input;
  ``PairCNN`` is the course's reference convnet (about 70,000 parameters).
- ``PairNet`` runs each image through a digit branch (one branch for both
  images when weights are shared, one per image otherwise) and feeds the two
  digit outputs to a comparator head.

Max-pooling comes before each ReLU: the two commute, and pooling first makes
the activation four times cheaper.
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from models.digits_conv import GemmConv2d


class PairOutput(NamedTuple):
    comparison: torch.Tensor  # (N, 2) logits
    digits: torch.Tensor | None  # (N, 2, 10) logits, or None


class PairMLP(nn.Module):
    """Two hidden layers on the flattened 2x14x14 pair."""

    def __init__(self, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * 14 * 14, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 2),
        )

    def forward(self, x: torch.Tensor) -> PairOutput:
        return PairOutput(self.net(x), None)


class MaxPool2x2(nn.Module):
    """``nn.MaxPool2d(2)``, faster where no gradient is needed.

    Training pools with torch's kernel, which records where each maximum came
    from for the backward pass. Evaluation needs only the maxima: on a
    channels-last CPU tensor they are two element-wise maxima of strided
    views (first over row pairs, then over column pairs), 1.6x (12x12
    inputs) to 2.9x (4x4) faster than the kernel and exactly equal to it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` to ``(N, C, H // 2, W // 2)``."""
        fast = not (torch.is_grad_enabled() and x.requires_grad)
        fast = fast and x.device.type == "cpu" and x.dim() == 4
        if not (fast and x.is_contiguous(memory_format=torch.channels_last)):
            return F.max_pool2d(x, 2)
        n, c, h, w = x.shape
        h, w = h // 2 * 2, w // 2 * 2  # floor mode drops an odd last row/column
        rows = x[:, :, :h, :w].permute(0, 2, 3, 1).reshape(n, h // 2, 2, w // 2, 2 * c)
        cols = torch.maximum(rows[:, :, 0], rows[:, :, 1]).view(n, h // 2, w // 2, 2, c)
        return torch.maximum(cols[..., 0, :], cols[..., 1, :]).permute(0, 3, 1, 2)


def _small_cnn(in_channels: int, hidden: int, dropout: float, outputs: int):
    """The course's convnet shape: two 3x3 convolutions, then two linear layers.

    14x14 -> conv 12x12 -> pool 6x6 -> conv 4x4 -> pool 2x2, 64 channels.
    The second convolution trains as a matrix product (``GemmConv2d``): on
    CPU its backward pass is about 1.25x faster than oneDNN's.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, kernel_size=3),
        MaxPool2x2(),
        nn.ReLU(),
        GemmConv2d(32, 64, kernel_size=3),
        MaxPool2x2(),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 2 * 2, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, outputs),
    )


def _large_cnn(hidden: int, dropout: float) -> nn.Sequential:
    """A wider digit CNN with padding and batch norm, for one 14x14 image.

    14x14 -> conv -> pool 7x7 -> conv -> pool 3x3 -> conv, 128 channels.
    """

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)]

    return nn.Sequential(
        *block(1, 32),
        MaxPool2x2(),
        nn.ReLU(),
        *block(32, 64),
        MaxPool2x2(),
        nn.ReLU(),
        *block(64, 128),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(128 * 3 * 3, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, 10),
    )


class PairCNN(nn.Module):
    """The course's baseline convnet on the 2-channel pair."""

    def __init__(self, hidden: int = 200, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = _small_cnn(2, hidden, dropout, outputs=2)

    def forward(self, x: torch.Tensor) -> PairOutput:
        return PairOutput(self.net(x), None)


def digit_branch(kind: str, hidden: int, dropout: float) -> nn.Sequential:
    """A CNN mapping ``(N, 1, 14, 14)`` images to ``(N, 10)`` digit logits."""
    if kind == "small":
        return _small_cnn(1, hidden, dropout, outputs=10)
    if kind == "large":
        return _large_cnn(hidden, dropout)
    raise ValueError(f"unknown digit branch {kind!r}")


def comparator_head(kind: str, hidden: int) -> nn.Sequential:
    """A head mapping two digits' outputs ``(N, 20)`` to comparison logits."""
    if kind == "linear":
        return nn.Sequential(nn.Linear(20, 2))
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(20, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2),
        )  # fmt: skip
    raise ValueError(f"unknown comparator {kind!r}")


class PairNet(nn.Module):
    """Digit branch per image (shared or not) followed by a comparator head.

    ``comparator_input`` chooses what the head sees of each digit: its raw
    logits, or its softmax probabilities.
    """

    def __init__(
        self,
        weight_sharing: bool = True,
        branch: str = "small",
        comparator: str = "mlp",
        comparator_input: str = "logits",
        hidden: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.weight_sharing = weight_sharing
        self.branch1 = digit_branch(branch, hidden, dropout)
        self.branch2 = None if weight_sharing else digit_branch(branch, hidden, dropout)
        self.head = comparator_head(comparator, min(hidden, 64))
        self.comparator_input = comparator_input

    def digit_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 2, 14, 14)`` pairs to ``(N, 2, 10)`` digit logits."""
        num_pairs = x.size(0)
        if self.branch2 is None:
            # One call on all 2N images: twice the batch, half the calls.
            images = x.reshape(num_pairs * 2, 1, 14, 14)
            return self.branch1(images).view(num_pairs, 2, 10)
        first = self.branch1(x[:, :1])
        second = self.branch2(x[:, 1:])
        return torch.stack((first, second), dim=1)

    def compare(self, digits: torch.Tensor) -> torch.Tensor:
        """``(N, 2, 10)`` digit logits to ``(N, 2)`` comparison logits."""
        if self.comparator_input == "softmax":
            digits = digits.softmax(dim=-1)
        return self.head(digits.flatten(1))

    def forward(self, x: torch.Tensor) -> PairOutput:
        digits = self.digit_logits(x)
        return PairOutput(self.compare(digits), digits)


class DigitArgmax(nn.Module):
    """A digit classifier whose comparison is ``argmax1 <= argmax2``.

    Nothing is learned for the comparison: its logits are the one-hot verdict.
    """

    def __init__(self, branch: str = "small", hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        self.branch1 = digit_branch(branch, hidden, dropout)

    def forward(self, x: torch.Tensor) -> PairOutput:
        num_pairs = x.size(0)
        digits = self.branch1(x.reshape(num_pairs * 2, 1, 14, 14)).view(
            num_pairs, 2, 10
        )
        predicted = digits.argmax(dim=-1)
        less_equal = (predicted[:, 0] <= predicted[:, 1]).float()
        comparison = torch.stack((1 - less_equal, less_equal), dim=1)
        return PairOutput(comparison, digits)
