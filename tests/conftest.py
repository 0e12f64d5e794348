"""Shared fixtures: prepared MNIST, and the subprocess runs of the fault tests."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from runs import MIXED, MIXED_TRIALS, Run, group, numbers, write

from benchmarks import runner
from benchmarks.grids import load_grid
from benchmarks.mnist import prepare_mnist
from benchmarks.store import Store


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


@pytest.fixture
def launch(tmp_path):
    """Start ``ablate`` subprocesses; any group still running at the end is killed."""
    started: list[Run] = []

    def launch(name: str, *args: str, env: dict | None = None) -> Run:
        log = tmp_path / name
        with (
            log.with_suffix(".out").open("w") as out,
            log.with_suffix(".err").open("w") as err,
        ):
            process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.cli", *args],
                stdout=out, stderr=err, cwd=tmp_path, env=env,
                start_new_session=True,
            )  # fmt: skip
        started.append(Run(process, log))
        return started[-1]

    yield launch
    for run in started:
        if group(run.pid):
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(run.pid, signal.SIGKILL)
        if run.process.poll() is None:
            run.process.wait(timeout=60)


@pytest.fixture(scope="session")
def reference(tmp_path_factory, mnist_dir) -> dict[str, tuple]:
    """The ``MIXED`` grid's stored numbers from one uninterrupted run, --jobs 1."""
    folder = tmp_path_factory.mktemp("reference")
    grid = load_grid(str(write(folder, "mixed.toml", MIXED)))
    with Store(folder / "s.sqlite") as store:
        summary = runner.run(grid, store, jobs=1, data_dir=str(mnist_dir))
    assert summary.trained == MIXED_TRIALS and not summary.failed, summary
    return numbers(folder / "s.sqlite")
