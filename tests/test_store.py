"""The SQLite store: one row per trial, never overwriting ok, refusing strangers."""

import os
import sqlite3
import threading

import pandas as pd
import pytest

from benchmarks.errors import AblateError
from benchmarks.grids import Trial
from benchmarks.store import Store


def _trial(seed: int = 0, variant: str = "cnn") -> Trial:
    return Trial("digits", variant, {"lr": 1e-3, "epochs": 1}, seed)


def _result(status: str = "ok", accuracy: float = 0.9, **extra) -> dict:
    return {
        "status": status,
        "test_accuracy": accuracy,
        "train_accuracy": 1.0,
        "train_seconds": 1.5,
        "num_params": 10,
        "curves": {"train_loss": [1.0, float("nan")]},
        **extra,
    }


def test_rows_round_trip_as_tidy_results(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.put(_trial(0), _result(), {"git_commit": "abc"})
        store.put(_trial(1), _result("diverged", float("nan"), error="loss is nan"), {})
        frame = store.results().set_index("seed", drop=False)
    assert sorted(frame["seed"]) == [0, 1]
    assert list(frame.loc[[0, 1], "status"]) == ["ok", "diverged"]
    assert frame.loc[0, "test_accuracy"] == 0.9
    assert frame.loc[1, "test_accuracy"] != frame.loc[1, "test_accuracy"]  # NaN
    assert frame.loc[0, "lr"] == 1e-3 and frame.loc[0, "git_commit"] == "abc"
    assert frame.loc[0, "curves"]["train_loss"][0] == 1.0


def test_results_do_not_depend_on_the_order_trials_finished(tmp_path):
    # Reports resample rows for their bootstrap intervals: the same trials
    # stored in another order must give the same frame, row for row.
    trials = [_trial(seed, variant) for variant in ("cnn", "mlp") for seed in range(5)]
    frames = []
    for name, order in (("forward", trials), ("backward", trials[::-1])):
        with Store(tmp_path / f"{name}.sqlite") as store:
            for trial in order:
                store.put(trial, _result(accuracy=0.5 + trial.seed / 10), {})
            frames.append(store.results().drop(columns="curves"))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    # Seed order within a variant: equal results resample alike.
    assert list(frames[0]["variant"]) == ["cnn"] * 5 + ["mlp"] * 5
    assert list(frames[0]["seed"]) == [0, 1, 2, 3, 4] * 2


def test_ok_rows_are_never_overwritten_but_failed_ones_are(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.put(_trial(0), _result(accuracy=0.9), {})
        store.put(_trial(0), _result(accuracy=0.1), {})
        store.put(_trial(1), _result("failed", error="boom"), {})
        store.put(_trial(1), _result(accuracy=0.8), {})
        frame = store.results().set_index("seed")
    assert len(frame) == 2
    assert frame.loc[0, "test_accuracy"] == 0.9
    assert frame.loc[1, "status"] == "ok" and frame.loc[1, "test_accuracy"] == 0.8


def test_results_filter_by_keys(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        for seed in range(3):
            store.put(_trial(seed), _result(), {})
        frame = store.results([_trial(2).key])
        assert store.statuses([_trial(1).key, "missing"]) == {_trial(1).key: "ok"}
    assert list(frame["seed"]) == [2]


def test_claims_exclude_other_live_runners_but_not_dead_ones(tmp_path):
    path = tmp_path / "s.sqlite"
    keys = [_trial(seed).key for seed in range(3)]
    with Store(path) as first, Store(path) as second:
        assert first.claim(keys) == set(keys)
        # Same process here, so make the second store look like another runner.
        second.owner = ("elsewhere", 1, 0.0)
        assert second.claim(keys) == set()
        first.release_claims()
        assert second.claim(keys) == set(keys)
    with Store(path) as third:
        # A claim whose process is gone does not count.
        third.db.execute("UPDATE claims SET host = ?, pid = ?", (third.owner[0], 2**22))
        assert third.claim(keys) == set(keys)


def test_claims_skip_finished_trials(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.put(_trial(0), _result(), {})
        assert store.claim([_trial(0).key, _trial(1).key]) == {_trial(1).key}


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(AblateError, match="is a directory"):
        Store(tmp_path)


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("my precious notes\n")
    with pytest.raises(AblateError, match="not an SQLite database"):
        Store(path)
    assert path.read_text() == "my precious notes\n"


def test_another_programs_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(AblateError, match="another program"):
        Store(path)
    assert path.read_bytes() == before


def test_an_unwritable_location_gives_a_clear_error():
    # /proc refuses new files even to root, unlike a chmod-ed directory.
    with pytest.raises(AblateError, match="cannot be created"):
        Store("/proc/ablate-test/results.sqlite")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_store_gives_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(AblateError, match="cannot be used"), Store(path):
            pass
    finally:
        tmp_path.chmod(0o755)
        path.chmod(0o644)


def test_bad_status_is_a_bug(tmp_path):
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(ValueError):
        store.put(_trial(), _result("maybe"), {})


def test_runs_creating_one_store_at_once_all_accept_it(tmp_path):
    # Each new store is opened by several threads at the same moment, as two
    # `ablate run` started together do; none may see a half-made schema, and
    # none may give up on the race to switch the journal to WAL (lost in
    # about one attempt in 30 before it was retried).
    refused = []

    def open_store(path, barrier) -> None:
        barrier.wait()
        try:
            Store(path).close()
        except AblateError as error:
            refused.append(str(error))

    for attempt in range(100):
        path = tmp_path / f"s{attempt}.sqlite"
        barrier = threading.Barrier(6)
        threads = [
            threading.Thread(target=open_store, args=(path, barrier)) for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not refused, refused[0]
