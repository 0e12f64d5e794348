"""Faults survived: a run killed, interrupted or resumed, and workers that die.

Each test does the fault for real to a real ``ablate run`` (see ``runs.py``)
and checks that no trial is lost, duplicated or changed.
"""

import os
import signal

import pytest
from runs import (
    DIED_TWICE,
    DOOM_HOOK,
    MIXED,
    MIXED_TRIALS,
    WORKER_DIED,
    assert_complete,
    assert_same_numbers,
    cnn_grid,
    count,
    group,
    kill_a_worker,
    numbers,
    query,
    run_cli,
    summary,
    wait_for,
    where,
    write,
)

from benchmarks import runner
from benchmarks.grids import load_grid
from benchmarks.store import Store

# Killed, interrupted, resumed


def _signal_mid_grid(tmp_path, launch, mnist_dir, name: str, signum: int):
    """Start the mixed grid on 2 workers and signal its whole process group
    once a digits trial is stored; (grid path, store path, the run)."""
    grid = write(tmp_path, "mixed.toml", MIXED)
    store = tmp_path / "s.sqlite"
    run = launch(name, "run", str(grid), "--jobs", "2", *where(store, mnist_dir))
    # Circle stacks go first, so a digits row means the grid is part way.
    wait_for(lambda: count(store, "task = 'digits'") > 0, "a digits trial", run)
    os.killpg(run.pid, signum)
    return grid, store, run


def test_sigkill_mid_grid_then_a_rerun_trains_only_what_is_missing(
    tmp_path, launch, capsys, mnist_dir, reference
):
    grid, store, run = _signal_mid_grid(
        tmp_path, launch, mnist_dir, "killed", signal.SIGKILL
    )
    assert run.wait() == -signal.SIGKILL
    wait_for(lambda: not group(run.pid), "the killed group to vanish", timeout=30)
    before = dict(query(store, "SELECT key, finished_at FROM trials"))
    assert 0 < len(before) < MIXED_TRIALS, (
        f"{len(before)} of {MIXED_TRIALS} trials stored when killed: the test "
        "needs the kill to land mid-grid"
    )

    # The rerun trains in this process (--jobs 1), the quickest to start.
    status, out, err = run_cli(
        capsys, "run", str(grid), "--jobs", "1", *where(store, mnist_dir)
    )
    assert status == 0, err
    trained, done, failed, _, elsewhere = summary(out)
    assert (trained, done, failed, elsewhere) == (
        MIXED_TRIALS - len(before), len(before), 0, 0
    ), f"the rerun should train just the missing trials:\n{out}"  # fmt: skip
    after = dict(query(store, "SELECT key, finished_at FROM trials"))
    assert all(after[key] == stamp for key, stamp in before.items()), (
        "the rerun rewrote trials that the killed run had stored"
    )
    assert_complete(store, grid)
    assert_same_numbers(store, reference)


def test_ctrl_c_stops_workers_keeps_results_and_a_rerun_completes(
    tmp_path, launch, capsys, mnist_dir, reference
):
    # A terminal's Ctrl-C goes to the whole foreground group, workers included.
    grid, store, run = _signal_mid_grid(
        tmp_path, launch, mnist_dir, "stopped", signal.SIGINT
    )
    assert run.wait() == 130, run.stderr()
    wait_for(lambda: not group(run.pid), "the workers to exit", timeout=30)
    stored = count(store, "status = 'ok'")
    message = (
        f"interrupted: {stored} of {MIXED_TRIALS} trials of mixed are stored; "
        "rerun the same command to resume"
    )
    assert message in run.stderr(), f"expected {message!r} in:\n{run.stderr()}"
    assert "Traceback" not in run.stderr(), run.stderr()
    assert count(store, table="claims") == 0, "the interrupted run kept its claims"

    status, out, err = run_cli(
        capsys, "run", str(grid), "--jobs", "1", *where(store, mnist_dir)
    )
    assert status == 0, err
    assert summary(out)[:2] == (MIXED_TRIALS - stored, stored), out
    assert_complete(store, grid)
    assert_same_numbers(store, reference)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_main_process_alone_stops_its_workers(
    tmp_path, launch, mnist_dir, signum
):
    # `kill PID` or a batch system reaches only the main process: its workers
    # must not be orphaned to finish their trial and idle for minutes.
    grid = write(tmp_path, "digits.toml", cnn_grid(8))
    store = tmp_path / "s.sqlite"
    run = launch("run", "run", str(grid), "--jobs", "2", *where(store, mnist_dir))
    wait_for(lambda: count(store) > 0, "a stored trial", run)
    os.kill(run.pid, signum)
    assert run.wait() == 130, run.stderr()
    wait_for(lambda: not group(run.pid), "the workers to exit", timeout=30)
    assert "of 8 trials of digits are stored" in run.stderr(), run.stderr()
    assert count(store) == count(store, "status = 'ok'") > 0
    assert count(store, table="claims") == 0, "the stopped run kept its claims"


def test_a_resumed_run_stores_the_numbers_of_an_uninterrupted_one(
    tmp_path, mnist_dir, reference
):
    grid = load_grid(str(write(tmp_path, "mixed.toml", MIXED)))

    def interrupt(trial, result):
        raise KeyboardInterrupt

    # One job stored, then the run stops: the resumed run trains circle stacks
    # and digits trials alike.
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            runner.run(
                grid, store, jobs=1, data_dir=str(mnist_dir), on_result=interrupt
            )
        stored = store.statuses()
        left = [t for t in grid.trials if t.key not in stored]
        assert {t.task for t in left} == {"circle", "digits"}, (
            f"the interruption left {len(left)} trials, not of both tasks"
        )
        resumed = runner.run(grid, store, jobs=1, data_dir=str(mnist_dir))
        assert resumed.trained == len(left), resumed
    assert_same_numbers(tmp_path / "s.sqlite", reference)


# Worker processes dying


def test_a_worker_killed_mid_grid_costs_only_a_retry(
    tmp_path, launch, mnist_dir, reference
):
    grid = write(tmp_path, "mixed.toml", MIXED)
    store = tmp_path / "s.sqlite"
    run = launch("run", "run", str(grid), "--jobs", "2", *where(store, mnist_dir))
    wait_for(lambda: count(store, "task = 'digits'") > 0, "a digits trial", run)
    kill_a_worker(run.pid)

    assert run.wait() == 0, run.stderr()
    assert WORKER_DIED in run.stderr(), f"no retry reported:\n{run.stderr()}"
    assert summary(run.stdout())[:3] == (MIXED_TRIALS, 0, 0), run.stdout()
    assert_complete(store, grid)
    assert_same_numbers(store, reference)


@pytest.mark.slow
def test_a_trial_whose_worker_dies_twice_is_failed_and_spares_its_neighbours(
    tmp_path, launch, mnist_dir, reference
):
    # Seed 3's worker dies whenever it trains it; the trials in flight beside
    # it are retried and must end ok.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(DOOM_HOOK)
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    path = [str(hook), *filter(None, [os.getenv("PYTHONPATH")])]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "DOOMED_SEED": "3",
        "DEATHS": str(deaths),
    }
    grid = write(tmp_path, "digits.toml", cnn_grid(6))
    store = tmp_path / "s.sqlite"
    run = launch(
        "run", "run", str(grid), "--jobs", "2", *where(store, mnist_dir), env=env
    )

    assert run.wait() == 1, f"a failed trial should give status 1:\n{run.stderr()}"
    assert len(list(deaths.iterdir())) == 2, "seed 3 should be tried twice"
    assert WORKER_DIED in run.stderr(), run.stderr()
    assert summary(run.stdout())[:3] == (6, 0, 1), run.stdout()
    rows = query(store, "SELECT seed, status, error, key FROM trials ORDER BY seed")
    assert [(seed, status) for seed, status, *_ in rows] == [
        (seed, "failed" if seed == 3 else "ok") for seed in range(6)
    ], f"expected only seed 3 failed, got {rows}"
    assert rows[3][2] == DIED_TWICE, rows[3]

    # These are trials of the mixed grid too: retries change no number.
    stored = numbers(store)
    ok = [key for key in stored if key != rows[3][3]]
    assert all(stored[key] == reference[key] for key in ok), (
        "a retried trial stored other numbers than an undisturbed run"
    )
