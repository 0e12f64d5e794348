"""The runner: resumes, stays deterministic, and turns failures into rows."""

import pytest

from benchmarks import runner
from benchmarks.grids import load_grid
from benchmarks.runner import make_jobs, plan, run
from benchmarks.store import Store

TINY = """
seeds = 2
[settings]
epochs = 1
[[sweep]]
variants = ["cnn", "siamese"]
"""


@pytest.fixture
def tiny_grid(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return load_grid(str(path))


def _metrics(store: Store):
    frame = store.results().set_index("key").sort_index()
    return frame[["status", "train_accuracy", "test_accuracy", "train_loss"]]


def test_a_second_run_trains_nothing(tmp_path, tiny_grid, mnist_dir):
    with Store(tmp_path / "s.sqlite") as store:
        first = run(tiny_grid, store, data_dir=mnist_dir)
        second = run(tiny_grid, store, data_dir=mnist_dir)
        assert (first.trained, first.already_done) == (4, 0)
        assert (second.trained, second.already_done) == (0, 4)
        assert len(store.results()) == 4


def test_results_do_not_depend_on_jobs_or_order(tmp_path, tiny_grid, mnist_dir):
    with Store(tmp_path / "one.sqlite") as one, Store(tmp_path / "two.sqlite") as two:
        run(tiny_grid, one, jobs=1, data_dir=mnist_dir)
        tiny_grid.trials.reverse()
        run(tiny_grid, two, jobs=2, data_dir=mnist_dir)
        assert _metrics(one).equals(_metrics(two))
        assert set(two.results()["threads"]) == {1}


def test_a_grown_grid_trains_only_what_is_new(tmp_path, tiny_grid, mnist_dir):
    with Store(tmp_path / "s.sqlite") as store:
        run(tiny_grid.select(seeds=1), store, data_dir=mnist_dir)
        assert plan(tiny_grid, store)[1] == 2
        assert run(tiny_grid, store, data_dir=mnist_dir).trained == 2


def test_a_raising_trial_is_stored_as_failed_and_retried(
    tmp_path, tiny_grid, mnist_dir, monkeypatch
):
    import models.digits_train

    real = models.digits_train.train_digits

    def flaky(variant, factors, seed, *args):
        if seed == 1:
            raise RuntimeError("disk on fire\nsecond line")
        return real(variant, factors, seed, *args)

    # jobs=1 runs in this process, where the patch applies.
    monkeypatch.setattr(models.digits_train, "train_digits", flaky)
    with Store(tmp_path / "s.sqlite") as store:
        summary = run(tiny_grid, store, jobs=1, data_dir=mnist_dir)
        assert summary.trained == 4 and len(summary.failed) == 2
        assert {reason for _, reason in summary.failed} == {
            "RuntimeError: disk on fire"
        }
        assert run(tiny_grid, store, data_dir=mnist_dir).trained == 0

        monkeypatch.setattr(models.digits_train, "train_digits", real)
        retried = run(tiny_grid, store, retry_failed=True, data_dir=mnist_dir)
        assert retried.trained == 2 and not retried.failed
        assert set(store.results()["status"]) == {"ok"}


def test_an_exploding_loss_is_stored_as_diverged(tmp_path, mnist_dir):
    path = tmp_path / "boom.toml"
    path.write_text(
        "seeds = 1\n[[sweep]]\nvariants = ['mlp']\n"
        "settings = { epochs = 3, optimizer = 'sgd', lr = 10.0 }\n"
    )
    with Store(tmp_path / "s.sqlite") as store:
        summary = run(load_grid(str(path)), store, data_dir=mnist_dir)
        row = store.results().iloc[0]
    assert summary.diverged == 1 and not summary.failed
    assert row["status"] == "diverged"


def test_circle_trials_are_stacked_and_digits_trials_are_not():
    grid = load_grid("smoke")
    jobs = make_jobs(grid.trials, grid.trials)
    assert sorted(k for job in jobs for k in job.store) == sorted(
        t.key for t in grid.trials
    )
    for job in jobs:
        tasks = {trial.task for trial in job.trials}
        assert len(tasks) == 1
        if tasks == {"digits"}:
            assert len(job.trials) == 1
    assert max(len(job.trials) for job in jobs) > 1


def test_stacks_are_fixed_by_the_grid_not_by_what_is_left():
    grid = load_grid("circle")
    stacks = [job.trials for job in make_jobs(grid.trials, grid.trials)]
    assert max(len(stack) for stack in stacks) <= runner.MAX_STACK
    some = grid.trials[::7]
    for job in make_jobs(grid.trials, some):
        assert job.trials in stacks
        assert job.store <= {t.key for t in job.trials}
    assert {k for job in make_jobs(grid.trials, some) for k in job.store} == {
        t.key for t in some
    }
