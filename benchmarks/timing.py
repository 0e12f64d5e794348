"""A fixed reference kernel, so speeds compare as ratios across runs and machines.

Timings on a shared or different machine mean little in seconds. Every
benchmark session therefore times one reference kernel, a 512x512 float32
matrix product on one thread, and ``reference_units`` is a timer that counts
in multiples of that kernel's time. pytest-benchmark run with
``--benchmark-timer benchmarks.timing.reference_units`` stores and compares
every statistic in those units, so ``--benchmark-compare-fail`` gates on
ratios, not seconds.

``matmul_flops_per_second`` is also the machine's limit used to say how close
a training run comes to it.
"""

import time
from functools import cache

import torch

SIZE = 512
FLOPS = 2 * SIZE**3  # one multiply and one add per inner-product term


@cache
def reference_seconds(repeats: int = 50) -> float:
    """Best-of-``repeats`` wall time of the reference matmul on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(SIZE, SIZE, generator=generator)
        b = torch.randn(SIZE, SIZE, generator=generator)
        for _ in range(5):  # warm-up: page faults, kernel selection
            a @ b
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return best


def matmul_flops_per_second() -> float:
    """One core's float32 matmul rate, in FLOP/s: the practical ceiling."""
    return FLOPS / reference_seconds()


def reference_units() -> float:
    """A clock ticking once per reference-kernel time (pytest-benchmark timer)."""
    return time.perf_counter() / reference_seconds()
