"""The two exercises' datasets, with the course helpers' exact semantics.

``generate_pair_sets`` reproduces the course's digit-pair sets: MNIST images
average-pooled from 28x28 to 14x14, a random permutation of each split whose
first 2N images form N pairs stacked on the channel axis, and a target of 1
when the first digit is less than or equal to the second. Pixel values stay in
0-255; standardizing is the model's job.

``generate_disc_set`` draws the circle task's points uniformly in [0,1]^2,
labelled 1 inside the disk of area 1/2 centred at (0.5, 0.5).

Both draw from a local ``torch.Generator`` seeded by ``seed``, so they never
touch the global random state and the same seed gives the same sets.
"""

import math
import os
from functools import lru_cache

import torch
import torch.nn.functional as F

from benchmarks.mnist import load_mnist, prepare_mnist

DISC_CENTRE = 0.5
DISC_RADIUS = 1 / math.sqrt(2 * math.pi)


def generate_pair_sets(
    num_pairs: int, seed: int, data_dir: str | os.PathLike | None = None
) -> tuple[torch.Tensor, ...]:
    """Training and test digit pairs for one seed.

    Returns ``train_input (N, 2, 14, 14) float32`` (raw 0-255 values),
    ``train_target (N,) int64`` (1 when the first digit is <= the second),
    ``train_classes (N, 2) int64``, then the same three for the test split.
    Training pairs come from MNIST's training split and test pairs from its
    test split; each split's pairs use 2N distinct images.
    """
    if not 0 < num_pairs <= 5000:
        raise ValueError(f"num_pairs must be in 1..5000 (test split), got {num_pairs}")
    root = str(prepare_mnist(data_dir).root)
    generator = torch.Generator().manual_seed(seed)
    train = _pairs(num_pairs, *_pooled(root, True), generator)
    test = _pairs(num_pairs, *_pooled(root, False), generator)
    return train + test


def preload_mnist(data_dir: str | os.PathLike | None = None) -> None:
    """Load and pool both MNIST splits into this process's cache.

    ``generate_pair_sets`` then draws pairs without touching the disk. The
    cache holds about 110 MB; loading takes a few hundred MB more, once.
    """
    root = str(prepare_mnist(data_dir).root)
    _pooled(root, True)
    _pooled(root, False)


@lru_cache(maxsize=4)
def _pooled(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole split as ``(N, 1, 14, 14) float32`` images and ``(N,)`` labels."""
    images, labels = load_mnist(train, root)
    pooled = F.avg_pool2d(images.view(-1, 1, 28, 28).float(), kernel_size=2)
    return pooled, labels


def _pairs(
    num_pairs: int,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    index = torch.randperm(images.size(0), generator=generator)
    index = index[: 2 * num_pairs].view(num_pairs, 2)
    pair_input = torch.cat((images[index[:, 0]], images[index[:, 1]]), dim=1)
    classes = labels[index]
    target = (classes[:, 0] <= classes[:, 1]).long()
    return pair_input, target, classes


def generate_disc_set(num_points: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of the circle task for one seed.

    Returns ``input (N, 2) float32`` uniform in [0,1]^2 and ``target (N,)
    int64``, 1 inside the disk centred at (0.5, 0.5) with radius
    1/sqrt(2*pi) (area 1/2, so the classes are balanced), else 0.
    """
    generator = torch.Generator().manual_seed(seed)
    points = torch.rand(num_points, 2, generator=generator)
    inside = (points - DISC_CENTRE).pow(2).sum(dim=1) < DISC_RADIUS**2
    return points, inside.long()
