"""Two runs on one store, and a store that fills up or cannot be written."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest
from runs import (
    DISK_FULL_DRIVER,
    TIMEOUT,
    assert_complete,
    assert_one_error,
    can_mount_tmpfs,
    circle_grid,
    cnn_grid,
    count,
    freeze,
    run_cli,
    summary,
    wait_for,
    where,
    write,
)

from benchmarks import runner
from benchmarks.cli import main
from benchmarks.errors import AblateError
from benchmarks.grids import load_grid
from benchmarks.store import Store

# Two runs on one store


def test_a_second_run_leaves_claimed_trials_to_the_first(
    tmp_path, launch, capsys, mnist_dir
):
    # Trials of a few epochs, so that the first run cannot finish while
    # ``freeze`` waits for a moment when it holds no write lock.
    first_grid = write(tmp_path, "first.toml", cnn_grid(4, epochs=4))
    second_grid = write(tmp_path, "second.toml", cnn_grid(6, epochs=4))
    store = tmp_path / "s.sqlite"
    first = launch("first", "run", str(first_grid), "--jobs", "1",
                   *where(store, mnist_dir))  # fmt: skip

    # Freeze the first run once it holds its claims, as if it were very slow.
    wait_for(lambda: count(store, table="claims") > 0, "the first run's claims", first)
    freeze(first, store)
    try:
        status, out, err = run_cli(
            capsys, "run", str(second_grid), "--jobs", "1", *where(store, mnist_dir)
        )
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert status == 0, err
    trained, done, failed, _, elsewhere = summary(out)
    assert (trained, failed) == (2, 0) and elsewhere > 0 and done + elsewhere == 4, (
        f"the second run should train seeds 4-5 and leave 0-3:\n{out}"
    )

    assert first.wait() == 0, first.stderr()
    assert summary(first.stdout())[:3] == (4, 0, 0), first.stdout()
    assert_complete(store, second_grid)
    status, out, err = run_cli(
        capsys, "status", str(second_grid), "--store", str(store)
    )
    assert status == 0, err
    assert re.search(r"^second\s+6\s+6\s+0\s+0\s+0$", out, re.M), (
        f"ablate status should show 6 of 6 ok:\n{out}"
    )


@pytest.mark.slow
def test_two_runs_started_together_never_train_a_trial_twice(
    tmp_path, launch, mnist_dir
):
    grids = [write(tmp_path, f"g{n}.toml", cnn_grid(n)) for n in (4, 6)]
    store = tmp_path / "s.sqlite"
    runs = [
        launch(grid.stem, "run", str(grid), "--jobs", "1", *where(store, mnist_dir))
        for grid in grids
    ]
    for run in runs:
        assert run.wait() == 0, run.stderr()
    trained = [summary(run.stdout())[0] for run in runs]
    assert sum(trained) == 6, f"the runs trained {trained} trials of 6 in all"
    assert_complete(store, grids[1])


# Store faults


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_what_was_stored(
    tmp_path, mnist_dir
):
    if not can_mount_tmpfs(tmp_path / "probe"):
        pytest.skip("needs `unshare --mount` and tmpfs mounts (root on Linux)")
    grid = write(tmp_path, "digits.toml", cnn_grid(8))
    driver = tmp_path / "driver.py"
    driver.write_text(DISK_FULL_DRIVER)
    mount, report = tmp_path / "mount", tmp_path / "report.json"
    mount.mkdir()
    # The tmpfs lives in a private mount namespace: it vanishes with the test.
    subprocess.run(
        ["unshare", "--mount", "sh", "-c",
         'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"', str(mount),
         sys.executable, str(driver), str(mount), str(grid), str(mnist_dir),
         str(report)],
        check=True, cwd=tmp_path, timeout=4 * TIMEOUT,
    )  # fmt: skip
    out = json.loads(report.read_text())

    assert out["filled"] == "No space left on device", out["filled"]
    first = out["first"]
    assert_one_error(first["status"], first["stderr"], "disk is full")
    assert "cannot write to store" in first["stderr"], first["stderr"]
    assert 0 < out["stored"] < 8, (
        f"{out['stored']} trials stored before the disk filled"
    )
    results = out["results"]
    assert results["status"] == 0, results["stderr"]
    rows = [json.loads(line) for line in results["stdout"].splitlines() if line]
    assert len(rows) == out["stored"] and {row["status"] for row in rows} == {"ok"}
    # A rerun on the full disk stops with the same line; it may store a trial
    # or two first, in the space the first run's journal gave back.
    assert_one_error(out["while_full"]["status"], out["while_full"]["stderr"], "full")
    stored = out["stored_while_full"]
    assert out["stored"] <= stored < 8, f"{stored} trials stored while full"
    again = out["with_space"]
    assert again["status"] == 0, again["stderr"]
    assert summary(again["stdout"])[:2] == (8 - stored, stored)
    assert out["final"] == 8, f"{out['final']} of 8 trials stored in the end"


def test_a_full_store_stops_the_run_and_stays_readable(tmp_path, capsys):
    # SQLITE_FULL from max_page_count is the error a full disk gives.
    small = write(tmp_path, "small.toml", circle_grid("circle_mlp"))
    large = write(
        tmp_path, "large.toml", circle_grid("circle_mlp", "circle_course_baseline")
    )
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        runner.run(load_grid(str(small)), store, jobs=1)
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(AblateError, match="cannot write to store .* is full"):
            runner.run(load_grid(str(large)), store, jobs=1)

    assert main(["results", "--format", "json", "--store", str(path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert [row["variant"] for row in rows] == ["circle_mlp"] * 2, rows
    assert {row["status"] for row in rows} == {"ok"}


def test_a_store_that_cannot_be_created_is_one_line(tmp_path, capsys):
    grid = write(tmp_path, "small.toml", circle_grid("circle_mlp"))
    # /proc refuses new files even to root.
    status = main(["run", str(grid), "--store", "/proc/ablate-test/s.sqlite"])
    assert_one_error(status, capsys.readouterr().err, "cannot be created")
