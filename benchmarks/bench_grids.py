"""Whole-grid throughput: trials per minute for the shipped grids, on 2 workers.

Usage::

    tox -e bench -- -k grids

Each grid runs with 2 seeds (``--seeds 2``) into a fresh store; the per-trial
cost is the same as with 20 seeds, so trials per minute carry over.
"""

import time

import pytest

from benchmarks.grids import load_grid
from benchmarks.runner import run
from benchmarks.store import Store


@pytest.mark.parametrize("name", ["digits", "circle"])
def test_grid_throughput(benchmark, speeds, name, mnist_dir, tmp_path):
    grid = load_grid(name).select(seeds=2)
    elapsed = []

    def run_grid() -> None:
        start = time.perf_counter()
        with Store(tmp_path / f"{len(elapsed)}.sqlite") as store:
            summary = run(grid, store, jobs=2, data_dir=mnist_dir)
        elapsed.append(time.perf_counter() - start)
        assert not summary.failed, summary.failed[:3]

    benchmark.pedantic(run_grid, rounds=1, iterations=1)
    per_minute = 60 * len(grid.trials) / elapsed[-1]
    benchmark.extra_info.update(trials=len(grid.trials), trials_per_minute=per_minute)
    speeds.record(
        f"{name} grid throughput (2 workers)",
        f"{per_minute:.0f} trials/min",
        f"{len(grid.trials)} trials in {elapsed[-1]:.0f} s",
    )
