"""The datasets keep the course helpers' semantics, checked against MNIST."""

import math

import torch
import torch.nn.functional as F

from benchmarks.data import DISC_RADIUS, generate_disc_set, generate_pair_sets
from benchmarks.mnist import load_mnist


def _pooled(train: bool, data_dir) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist(train, data_dir)
    return F.avg_pool2d(images.view(-1, 1, 28, 28).float(), 2).squeeze(1), labels


def _index_of(images: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
    """Row of ``pooled (M, 14, 14)`` equal to each of ``images (N, 14, 14)``."""
    flat = pooled.flatten(1)
    distance = torch.cdist(images.flatten(1), flat)
    index = distance.argmin(dim=1)
    assert torch.equal(flat[index], images.flatten(1)), "an image is not in the split"
    return index


def test_pair_sets_have_the_course_shapes_and_types(mnist_dir):
    sets = generate_pair_sets(1000, seed=0, data_dir=mnist_dir)
    shapes = [(1000, 2, 14, 14), (1000,), (1000, 2)] * 2
    dtypes = [torch.float32, torch.int64, torch.int64] * 2
    assert [tuple(t.shape) for t in sets] == shapes
    assert [t.dtype for t in sets] == dtypes
    assert sets[0].min() >= 0 and sets[0].max() <= 255 and sets[0].max() > 200


def test_pairs_are_pooled_images_of_the_right_split_with_matching_labels(mnist_dir):
    num = 300
    train_input, train_target, train_classes, test_input, test_target, test_classes = (
        generate_pair_sets(num, seed=3, data_dir=mnist_dir)
    )
    for train, pair_input, classes, target in (
        (True, train_input, train_classes, train_target),
        (False, test_input, test_classes, test_target),
    ):
        pooled, labels = _pooled(train, mnist_dir)
        index = _index_of(pair_input.flatten(0, 1), pooled).view(num, 2)
        # 2N distinct images per split, and classes are those images' labels.
        assert index.unique().numel() == 2 * num
        assert torch.equal(labels[index], classes)
        assert torch.equal(target, (classes[:, 0] <= classes[:, 1]).long())


def test_target_is_balanced_like_the_course_data(mnist_dir):
    target = generate_pair_sets(1000, seed=1, data_dir=mnist_dir)[1]
    # P(first <= second) for uniform digits is 0.55.
    assert 0.5 < target.float().mean() < 0.6


def test_pair_sets_are_deterministic_per_seed_and_leave_global_rng(mnist_dir):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = generate_pair_sets(100, seed=7, data_dir=mnist_dir)
    assert torch.equal(torch.get_rng_state(), before), "global RNG state changed"
    again = generate_pair_sets(100, seed=7, data_dir=mnist_dir)
    other = generate_pair_sets(100, seed=8, data_dir=mnist_dir)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    assert not torch.equal(first[3], other[3])


def test_disc_set_labels_points_inside_the_disk():
    points, target = generate_disc_set(1000, seed=0)
    assert points.shape == (1000, 2) and points.dtype == torch.float32
    assert target.shape == (1000,) and target.dtype == torch.int64
    assert points.min() >= 0 and points.max() <= 1
    distance = (points - 0.5).norm(dim=1)
    assert torch.equal(target, (distance < 1 / math.sqrt(2 * math.pi)).long())
    assert math.isclose(DISC_RADIUS**2 * math.pi, 0.5)
    assert 0.45 < target.float().mean() < 0.55


def test_disc_set_is_deterministic_per_seed():
    assert torch.equal(generate_disc_set(50, 4)[0], generate_disc_set(50, 4)[0])
    assert not torch.equal(generate_disc_set(50, 4)[0], generate_disc_set(50, 5)[0])
