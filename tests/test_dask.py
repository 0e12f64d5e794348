"""The dask backend: a real scheduler and workers on loopback, same numbers."""

import pytest

from benchmarks.errors import AblateError
from benchmarks.grids import load_grid
from benchmarks.runner import connect_dask, run
from benchmarks.store import Store

distributed = pytest.importorskip("dask.distributed")

GRID = """
seeds = 2
[[sweep]]
variants = ["cnn"]
settings = { epochs = 1 }
[[sweep]]
task = "circle"
variants = ["*"]
settings = { epochs = 3 }
"""


def _metrics(store: Store):
    frame = store.results().set_index("key").sort_index()
    return frame[["status", "train_accuracy", "test_accuracy", "train_loss"]]


def test_dask_cluster_gives_the_local_numbers(tmp_path, mnist_dir):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    grid = load_grid(str(path))
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    )  # fmt: skip
    with cluster, Store(tmp_path / "dask.sqlite") as store:
        summary = run(
            grid, store, jobs=-1, backend="dask",
            scheduler=cluster.scheduler_address, data_dir=mnist_dir,
        )  # fmt: skip
        assert summary.trained == len(grid.trials) and not summary.failed
        remote = _metrics(store)
        assert set(store.results()["backend"]) == {"dask"}
    with Store(tmp_path / "local.sqlite") as store:
        run(grid, store, jobs=2, data_dir=mnist_dir)
        local = _metrics(store)
    assert remote.equals(local)


def test_an_unreachable_scheduler_is_one_clear_error():
    with pytest.raises(AblateError, match="cannot reach the dask scheduler"):
        connect_dask("tcp://127.0.0.1:9", timeout=2)
