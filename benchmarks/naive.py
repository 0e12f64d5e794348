"""The naive reference loop the suite's speed is measured against.

How a digits trial is commonly written: a script that trains one seed after
another, a ``DataLoader`` over a ``TensorDataset``, torch's default number of
threads and allocator, and the default (NCHW) memory layout. It does the same
work as ``models.digits_train.train_digits`` for end-to-end variants (same
data, standardization, loss, optimizer, epochs and per-epoch test evaluation)
so that the two are compared on equal terms.

The benchmark runs it as such a script, in a process of its own::

    python -m benchmarks.naive DATA_DIR siamese:0 siamese:1 cnn:0
"""

import sys

import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.data import generate_pair_sets
from models.digits_train import pair_loss
from models.registry import get_variant


def naive_digits_trial(variant: str, seed: int, data_dir) -> float:
    """Train one end-to-end digits variant the naive way; test accuracy."""
    factors = get_variant(variant).resolve()
    torch.manual_seed(seed)
    train_input, train_target, train_classes, test_input, test_target, _ = (
        generate_pair_sets(1000, seed, data_dir)
    )
    mean, std = train_input.mean(), train_input.std()
    train_input, test_input = (train_input - mean) / std, (test_input - mean) / std

    model = get_variant(variant).builder(**factors)
    optimizer = torch.optim.Adam(model.parameters(), lr=factors["lr"])
    loader = DataLoader(
        TensorDataset(train_input, train_target, train_classes),
        batch_size=factors["batch_size"],
        shuffle=True,
    )
    accuracy = 0.0
    for _ in range(factors["epochs"]):
        model.train()
        for input, target, classes in loader:
            batch = _Batch(input, target, classes)
            loss = pair_loss(model(input), batch, factors.get("aux_coef", 0.0))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            predicted = model(test_input).comparison.argmax(1)
            accuracy = (predicted == test_target).float().mean().item()
    return accuracy


class _Batch:
    def __init__(self, input, target, classes) -> None:
        self.input, self.target, self.classes = input, target, classes


def main(argv: list[str]) -> None:
    """``DATA_DIR VARIANT:SEED...``: train each trial, print its test accuracy."""
    data_dir, *trials = argv
    for trial in trials:
        variant, seed = trial.rsplit(":", 1)
        accuracy = naive_digits_trial(variant, int(seed), data_dir)
        print(f"{trial} {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
