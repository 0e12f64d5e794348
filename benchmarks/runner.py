"""Run a grid's missing trials in parallel and store each result as it lands.

The main process plans *jobs* (one digits trial, or a stack of circle trials
that share a network shape and train together through the framework's model
axis), claims them in the store, and hands them to
``joblib.Parallel(return_as="generator_unordered")``. Workers train; only the
main process writes, one row per trial as soon as its job returns.

A trial that raises becomes a ``failed`` row, one whose loss blows up a
``diverged`` row, and the grid goes on. A worker process that dies (killed,
out of memory) costs only the jobs it held: each is retried once, alone, and
a job whose worker dies again while it runs alone is stored as failed.
"""

import contextlib
import logging
import os
import platform
import socket
import sqlite3
import subprocess
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from joblib import Parallel, delayed, parallel_config

from benchmarks.errors import AblateError
from benchmarks.grids import Grid, Trial
from benchmarks.store import Store
from models.factors import circle_stack_key

log = logging.getLogger(__name__)

BACKENDS = ("loky", "dask", "ray")
MAX_STACK = 100
# Rough seconds per trial at one thread, for estimates before anything ran.
DEFAULT_SECONDS = {"digits": 8.0, "circle": 0.5}


@dataclass
class Job:
    """Trials trained together by one worker call.

    ``store`` names the trials whose results are wanted: a stack may train
    trials that are already stored, to keep its composition fixed.
    """

    trials: list[Trial]
    store: set[str]
    crashes: int = 0  # worker deaths while this job was in flight


@dataclass
class RunSummary:
    """What one ``run`` did."""

    total: int  # trials in the grid
    already_done: int
    trained: int = 0
    failed: list[tuple[Trial, str]] = field(default_factory=list)
    diverged: int = 0
    busy_elsewhere: int = 0  # claimed by another live runner, so skipped


def default_jobs() -> int:
    """One worker per usable core: with one thread each, the fastest setting."""
    return _num_cores()


def plan(
    grid: Grid, store: Store, retry_failed: bool = False
) -> tuple[list[Trial], int]:
    """The trials still to train, and how many of the grid are done."""
    statuses = store.statuses(t.key for t in grid.trials)
    rerun = {"failed"} if retry_failed else set()
    todo = [t for t in grid.trials if t.key not in statuses or statuses[t.key] in rerun]
    return todo, len(grid.trials) - len(todo)


def make_jobs(trials: list[Trial], todo: list[Trial]) -> list[Job]:
    """Jobs that train every trial of ``todo``, a subset of the grid's ``trials``.

    One job per digits trial. Circle trials train in stacks of up to
    ``MAX_STACK`` that share a network shape and training loop. A stack's
    members are fixed by the whole grid, not by what is left to do or by the
    number of workers: CPU matrix kernels round a model's numbers differently
    in stacks of different make-up, so a fixed make-up keeps results bitwise
    identical across ``--jobs``, backends and resumed runs.
    """
    wanted = {trial.key for trial in todo}
    groups: dict[tuple, list[Trial]] = {}
    singles = []
    for trial in trials:
        if trial.task == "circle":
            groups.setdefault(circle_stack_key(trial.factors), []).append(trial)
        elif trial.key in wanted:
            singles.append(Job([trial], {trial.key}))
    stacks = []
    for members in groups.values():
        members.sort(key=lambda trial: trial.key)
        for start in range(0, len(members), MAX_STACK):
            chunk = members[start : start + MAX_STACK]
            keys = {trial.key for trial in chunk} & wanted
            if keys:
                stacks.append(Job(chunk, keys))
    # Big jobs first, so the last minutes are not spent waiting for one stack.
    stacks.sort(key=lambda job: -len(job.trials))
    return stacks + singles


def estimate_seconds(trials: list[Trial], store: Store, jobs: int) -> float:
    """Wall seconds ``trials`` should take on ``jobs`` workers."""
    measured = store.mean_seconds()
    total = sum(
        measured.get(t.variant, DEFAULT_SECONDS.get(t.task, 5.0)) for t in trials
    )
    return total / max(1, jobs)


def run_job(
    job: Job, threads: int, data_dir: str | None, device: str
) -> list[tuple[Trial, dict[str, Any]]]:
    """Train one job in a worker; never raises for a trial's own failure."""
    import torch

    from benchmarks.worker import configure_worker

    configure_worker(threads)
    trials = job.trials
    if data_dir is not None:
        # NOTE: loky restarts a worker whose memory grew by 300 MB after its
        # first job, which costs a torch import and an MNIST load. Loading
        # MNIST in every job of a grid with digits trials, circle stacks
        # included, puts that growth inside the first job. A digits trial
        # reports a failure to load it by itself.
        from benchmarks.data import preload_mnist

        with contextlib.suppress(AblateError, OSError):
            preload_mnist(data_dir)
    try:
        if trials[0].task == "circle":
            from models.circle_train import train_circle_stack

            results = train_circle_stack(
                [t.factors for t in trials], [t.seed for t in trials]
            )
        else:
            from models.digits_train import train_digits

            trial = trials[0]
            results = [
                train_digits(trial.variant, trial.factors, trial.seed, data_dir, device)
            ]
    except Exception as exc:  # noqa: BLE001 - a failed trial is a result
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        results = [{"status": "failed", "error": message} for _ in trials]

    worker = {
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        # torch.__version__ is a str subclass: unpickling it imports torch.
        "torch": str(torch.__version__),
        "device": device,
    }
    for result in results:
        result.setdefault("threads", threads)
        result["worker"] = worker
    return list(zip(trials, results, strict=True))


def run(
    grid: Grid,
    store: Store,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    threads: int = 1,
    retry_failed: bool = False,
    data_dir: str | None = None,
    device: str = "cpu",
    on_result: Callable[[Trial, dict], None] | None = None,
    progress: Callable[[int], Any] | None = None,
) -> RunSummary:
    """Train every missing trial of ``grid`` and store the results.

    Each trial uses ``threads`` torch threads. The default of one keeps
    results bitwise identical whatever ``jobs`` is: torch's CPU kernels
    round differently with different numbers of threads.

    ``on_result(trial, result)`` is called after each row is stored;
    ``progress(total)`` returns an object with ``update(n)`` and ``close()``
    (a tqdm bar, say).
    """
    todo, done = plan(grid, store, retry_failed)
    summary = RunSummary(total=len(grid.trials), already_done=done)
    if not todo:
        return summary
    if any(t.task == "digits" for t in todo):
        # Prepare MNIST here, once, so workers never race to write it.
        from benchmarks.mnist import prepare_mnist

        data_dir = str(prepare_mnist(data_dir).root)
    else:
        data_dir = None  # circle trials need no MNIST

    try:
        claimed = store.claim(t.key for t in todo)
    except sqlite3.Error as exc:
        raise _write_error(store, exc) from None
    summary.busy_elsewhere = len(todo) - len(claimed)
    todo = [t for t in todo if t.key in claimed]
    pending = make_jobs(grid.trials, todo)
    provenance = run_provenance(backend, scheduler)
    bar = progress(len(todo)) if progress else None
    try:
        with _backend(backend, scheduler):
            while pending:
                # After a worker death, the jobs it may have held rerun one at
                # a time, so a second death is charged to the job that caused
                # it and not to a healthy job that shared the pool with it.
                suspect = next((job for job in pending if job.crashes), None)
                batch, rest = pending, []
                if suspect is not None:
                    batch = [suspect]
                    rest = [job for job in pending if job is not suspect]
                pending = _run_round(
                    batch, jobs, threads, data_dir, device, store, provenance,
                    summary, on_result, bar,
                ) + rest  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
        _release_claims(store)
    return summary


def _run_round(
    pending, jobs, threads, data_dir, device, store, provenance, summary, on_result, bar
) -> list[Job]:
    """Run the pending jobs; after a worker death, return those to run again."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    dispatched: set[int] = set()  # indices of the jobs handed to joblib
    returned: set[int] = set()

    def feed() -> Iterator:
        for index, job in enumerate(pending):
            dispatched.add(index)
            yield delayed(_indexed)(index, job, threads, data_dir, device)

    parallel = Parallel(
        n_jobs=jobs,
        return_as="generator_unordered",
        batch_size=1,
        pre_dispatch="n_jobs",
    )
    outputs = parallel(feed())
    try:
        for job_index, rows in outputs:
            job = pending[job_index]
            returned.add(job_index)
            rows = [(t, r) for t, r in rows if t.key in job.store]
            _store(store, rows, provenance, summary, on_result)
            if bar is not None:
                bar.update(len(rows))
        return []
    except TerminatedWorkerError:
        log.warning("a worker process died; retrying the trials it may have held")
    finally:
        _cancel(outputs)

    # Jobs in flight when the worker died are charged one crash each.
    retry = []
    for index, job in enumerate(pending):
        if index in returned:
            continue
        if index in dispatched:
            job.crashes += 1
        if job.crashes < 2:
            retry.append(job)
            continue
        reason = "worker died twice while training it (killed or out of memory)"
        rows = [
            (trial, {"status": "failed", "error": reason})
            for trial in job.trials
            if trial.key in job.store
        ]
        _store(store, rows, provenance, summary, on_result)
        if bar is not None:
            bar.update(len(rows))
    return retry


def _cancel(outputs: Iterator) -> None:
    """Stop joblib's generator, which stops the jobs still running."""
    with warnings.catch_warnings():
        # joblib warns that unfinished jobs are dropped: here that is the point,
        # and the warning would bury the one line saying why the run stopped.
        warnings.filterwarnings(
            "ignore", r"\d+ tasks (have been|which were)", UserWarning
        )
        outputs.close()


def _release_claims(store: Store) -> None:
    """Drop this run's claims, unless the store refuses the write."""
    try:
        store.release_claims()
    except sqlite3.Error as exc:
        # NOTE: a claim dies with the process that made it, so a claim left
        # here blocks no later run; raising would hide why this run stopped.
        log.debug("claims left in %s: %s", store.path, exc)


def _write_error(store: Store, exc: sqlite3.Error) -> AblateError:
    return AblateError(
        f"cannot write to store {store.path}: {exc}; the trials stored so far "
        "are safe, free space or fix permissions and rerun to resume"
    )


def _indexed(index: int, job: Job, *args) -> tuple[int, list]:
    """``run_job`` that also returns which job it ran."""
    return index, run_job(job, *args)


def _store(store, rows, provenance, summary, on_result) -> None:
    """Store one job's rows in one transaction, then count and report them."""
    records = [
        (trial, result, {**provenance, **result.pop("worker", {})})
        for trial, result in rows
    ]
    try:
        store.put_many(records)
    except sqlite3.Error as exc:
        raise _write_error(store, exc) from None
    for trial, result in rows:
        summary.trained += 1
        if result["status"] == "failed":
            summary.failed.append((trial, result.get("error") or "unknown error"))
        elif result["status"] == "diverged":
            summary.diverged += 1
        if on_result is not None:
            on_result(trial, result)


def run_provenance(backend: str, scheduler: str | None) -> dict[str, Any]:
    """What produced the results: package, git commit, backend, Python."""
    commit, dirty = _git_state()
    return {
        "ablate_version": _package_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "backend": backend,
        "scheduler": scheduler,
        "python": platform.python_version(),
    }


class _backend:
    """Context that routes joblib to the chosen backend."""

    def __init__(self, backend: str, scheduler: str | None) -> None:
        self.backend, self.scheduler = backend, scheduler
        self.client = None
        self.config = None

    def __enter__(self) -> None:
        if self.backend == "dask":
            self.client = connect_dask(self.scheduler)
        elif self.backend == "ray":
            try:
                from ray.util.joblib import register_ray
            except ImportError:
                raise AblateError(
                    "--backend ray needs ray: pip install 'ablate[ray]'"
                ) from None
            register_ray()
        self.config = parallel_config(backend=self.backend)
        self.config.__enter__()

    def __exit__(self, *exc_info) -> None:
        self.config.__exit__(*exc_info)
        if self.client is not None:
            self.client.close()


def connect_dask(scheduler: str | None, timeout: float = 10):
    """A dask.distributed client of the scheduler at ``scheduler``."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise AblateError(
            "--backend dask needs dask.distributed: pip install 'ablate[dask]'"
        ) from None
    if not scheduler:
        raise AblateError(
            "--backend dask needs --scheduler tcp://HOST:PORT of a running "
            "dask scheduler (see the README)"
        )
    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise AblateError(
            f"cannot reach the dask scheduler at {scheduler} ({exc}); check the "
            "address and that `dask scheduler` is running"
        ) from None


def _num_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _package_version() -> str:
    try:
        return metadata.version("ablate")
    except metadata.PackageNotFoundError:
        return "unknown"


def _git_state() -> tuple[str | None, bool | None]:
    """The source checkout's commit and whether it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, bool(status.strip())
