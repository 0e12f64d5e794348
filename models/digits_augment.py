"""Label-preserving augmentations of digit pairs, drawn from a given generator.

- ``shift_images``: every 14x14 image moves by its own random whole-pixel
  offset, the uncovered border repeating the image's edge (background).
- ``swap_pairs``: each pair's two images trade places with probability 1/2,
  with classes swapped and the target recomputed from them.

Both run as a few tensor operations over the whole training set, once per
epoch, so they add almost nothing to a trial's time.
"""

import torch
import torch.nn.functional as F


def shift_images(
    input: torch.Tensor, max_shift: int, generator: torch.Generator
) -> torch.Tensor:
    """``(N, C, H, W)`` images, each channel shifted by up to ``max_shift`` px."""
    num, channels, height, width = input.shape
    images = input.reshape(num * channels, 1, height, width)
    padded = F.pad(images, (max_shift,) * 4, mode="replicate").squeeze(1)

    # One (row, column) offset per image, then a single gather of all crops.
    offsets = torch.randint(
        0, 2 * max_shift + 1, (num * channels, 2), generator=generator
    ).to(input.device)
    rows = offsets[:, :1] + torch.arange(height, device=input.device)
    cols = offsets[:, 1:] + torch.arange(width, device=input.device)
    which = torch.arange(num * channels, device=input.device)[:, None, None]
    crops = padded[which, rows[:, :, None], cols[:, None, :]]
    return crops.view(num, channels, height, width)


def swap_pairs(split, generator: torch.Generator):
    """A copy of ``split`` with about half of its pairs' images swapped."""
    swap = (torch.rand(len(split), generator=generator) < 0.5).to(split.input.device)
    input = torch.where(swap[:, None, None, None], split.input.flip(1), split.input)
    classes = torch.where(swap[:, None], split.classes.flip(1), split.classes)
    target = (classes[:, 0] <= classes[:, 1]).long()
    return type(split)(input, target, classes)
