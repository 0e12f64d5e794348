"""The suite: datasets, grids, the store, the parallel runner and the CLI.

``benchmarks.data`` holds the course datasets; ``ablate`` (``benchmarks.cli``)
is the command line. The ``bench_*.py`` files here are pytest-benchmark
speed benchmarks (``tox -e bench``).
"""
