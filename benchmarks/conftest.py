"""Fixtures and reporting for the speed benchmarks (``tox -e bench``).

Each ``bench_*.py`` measures with pytest-benchmark. Comparisons that a target
is about (suite against naive loop, stack against one-by-one, framework
against torch.nn) are measured side by side in one test and recorded with
``speeds.record``; the session ends with a table of those ratios and their
targets. The reference kernel's speed goes into the saved machine info.
"""

import os
from dataclasses import dataclass, field

import pytest
import torch

from benchmarks.mnist import prepare_mnist
from benchmarks.timing import matmul_flops_per_second, reference_seconds
from benchmarks.worker import tune_allocator


@dataclass
class Speeds:
    """Measured figures, printed as one table when the session ends."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def record(self, name: str, value: str, target: str = "") -> None:
        self.rows.append((name, value, target))


_SPEEDS = Speeds()


@pytest.fixture(scope="session")
def speeds() -> Speeds:
    return _SPEEDS


@pytest.fixture(scope="session")
def mnist_dir():
    return prepare_mnist(os.environ.get("PYTORCH_DATA_DIR") or "data").root


@pytest.fixture(scope="session", autouse=True)
def reference_kernel() -> float:
    """Time the reference kernel once, before any benchmark starts its clock.

    With ``--benchmark-timer benchmarks.timing.reference_units`` the first
    reading of the timer would otherwise include this measurement.
    """
    return reference_seconds()


@pytest.fixture(scope="session", autouse=True)
def like_a_worker() -> None:
    """This process trains with the allocator tuned as a suite worker's is."""
    tune_allocator()


@pytest.fixture(autouse=True)
def one_thread():
    """Benchmarks run on one thread unless they say otherwise."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["reference_matmul_seconds"] = reference_seconds()
    machine_info["matmul_gflops_one_thread"] = matmul_flops_per_second() / 1e9
    machine_info["torch"] = torch.__version__
    machine_info["cores"] = len(os.sched_getaffinity(0))


def pytest_terminal_summary(terminalreporter):
    if not _SPEEDS.rows:
        return
    write = terminalreporter.write_line
    width = max(len(name) for name, _, _ in _SPEEDS.rows)
    terminalreporter.section("speeds measured side by side")
    write(
        f"reference kernel: {reference_seconds() * 1e3:.2f} ms "
        f"({matmul_flops_per_second() / 1e9:.1f} GFLOP/s on one thread)"
    )
    for name, value, target in _SPEEDS.rows:
        write(f"{name:{width}s}  {value:>22s}  {target}")
