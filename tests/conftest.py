"""Shared fixtures: one prepared MNIST directory for the whole test session."""

import os
from pathlib import Path

import pytest
import torch

from benchmarks.mnist import prepare_mnist


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """A data directory holding verified MNIST IDX files.

    Uses ``$PYTORCH_DATA_DIR`` or ``./data`` like the command line, so a
    machine that already prepared MNIST does not rebuild it for the tests.
    """
    source = prepare_mnist(os.environ.get("PYTORCH_DATA_DIR") or "data")
    return source.root


# Tests train many small networks: one thread avoids two threads fighting
# over tiny tensor operations, and matches the runner's default.
torch.set_num_threads(1)
