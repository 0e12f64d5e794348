"""The ``ablate`` command line: prepare data, run grids, inspect and report.

    ablate data [--data-dir DIR]
    ablate list variants [PATTERN] [--task TASK] | ablate list grids
    ablate run GRID [--jobs N] [--backend loky|dask|ray] [--scheduler ADDR]
                    [--store PATH] [--seeds N] [--variants PATTERN]
                    [--retry-failed] [--dry-run]
    ablate status [GRID ...] [--store PATH]
    ablate results [GRID] [--format csv|json|markdown] [--store PATH]
    ablate report [GRID ...] [--store PATH] [--out DIR]

A user mistake prints one line, ``ablate: error: ...``, and exits with status
2 (``--debug`` shows the traceback instead). ``run`` exits with 1 when a trial
failed and with 130 when interrupted (Ctrl-C, or SIGTERM from ``kill``).
"""

import argparse
import logging
import os
import signal
import sys
import threading
import warnings

from benchmarks import commands
from benchmarks.errors import AblateError
from benchmarks.runner import BACKENDS, default_jobs
from benchmarks.store import DEFAULT_STORE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ablate",
        description="Benchmark and ablation suite for the EE-559 mini-projects.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="make MNIST available and describe it")
    _data_dir(data)

    lister = sub.add_parser("list", help="list variants or grids")
    lister.add_argument("what", choices=("variants", "grids"))
    lister.add_argument("pattern", nargs="?", default="*", help="wildcard pattern")
    lister.add_argument("--task", choices=("digits", "circle"))
    lister.add_argument(
        "--all", action="store_true", help="show every factor, not just notable ones"
    )

    run = sub.add_parser("run", help="train a grid's missing trials")
    run.add_argument("grid", help="shipped grid name or path to a .toml file")
    run.add_argument(
        "--jobs", type=int, default=default_jobs(),
        help="parallel workers (default: one per core; -1 with dask: all workers)",
    )  # fmt: skip
    run.add_argument("--backend", default="loky", help="|".join(BACKENDS))
    run.add_argument("--scheduler", help="dask scheduler address, tcp://HOST:PORT")
    run.add_argument(
        "--threads", type=int, default=1,
        help="torch threads per trial (default 1: results then do not depend on "
        "--jobs; more threads change float rounding)",
    )  # fmt: skip
    run.add_argument("--seeds", type=int, help="use seeds 0..N-1 instead")
    run.add_argument("--variants", help="only variants matching this pattern")
    run.add_argument("--retry-failed", action="store_true")
    run.add_argument("--dry-run", action="store_true", help="count, don't train")
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1...")
    run.add_argument("--quiet", action="store_true", help="print failures only")
    _store(run)
    _data_dir(run)

    status = sub.add_parser("status", help="done / failed / missing per grid")
    status.add_argument("grids", nargs="*", help="grids (default: all shipped)")
    _store(status)

    results = sub.add_parser("results", help="print one tidy row per trial")
    results.add_argument("grid", nargs="?", help="only this grid's trials")
    results.add_argument("--format", choices=("csv", "json", "markdown"), default="csv")
    _store(results)

    report = sub.add_parser("report", help="tables and figures from the store")
    report.add_argument("grids", nargs="+", help="grids to report on")
    report.add_argument(
        "--out", default="results", help="writes OUT/GRID/REPORT.md (default: results)"
    )
    _store(report)
    return parser


def _store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", default=str(DEFAULT_STORE), help=f"SQLite store ({DEFAULT_STORE})"
    )


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", help="MNIST directory (default: $PYTORCH_DATA_DIR, ./data)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # NOTE: loky replaces a worker whose memory grew past its leak threshold
    # (importing torch and caching MNIST can do that) and says so with a
    # warning that would break the progress bar; no trial is affected.
    warnings.filterwarnings("ignore", "A worker stopped while some jobs", UserWarning)
    _quiet_loky_resource_tracker()
    handler = getattr(commands, f"cmd_{args.command}")
    previous = _stop_on_sigterm() if args.command == "run" else None
    try:
        return handler(args)
    except AblateError as exc:
        if args.debug:
            raise
        print(f"ablate: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _quiet_loky_resource_tracker() -> None:
    """Keep loky's resource tracker from adding lines to a one-line error.

    The tracker is a process of its own; when a run stops on an error, it may
    warn at exit that a semaphore it meant to remove was already gone, which
    is harmless. It reads its warning filters from the environment.
    """
    quiet = "ignore:resource_tracker:UserWarning"
    filters = os.environ.get("PYTHONWARNINGS", "")
    if quiet not in filters:
        os.environ["PYTHONWARNINGS"] = f"{filters},{quiet}" if filters else quiet


def _stop_on_sigterm():
    """Make SIGTERM (``kill``, ``timeout``, a batch system) stop a run as Ctrl-C does.

    By default SIGTERM ends the main process at once and orphans its worker
    processes, which finish their trial and then sit idle for minutes. Returns
    the previous handler, or None where handlers cannot be set (not the main
    thread).
    """

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, interrupt)


if __name__ == "__main__":
    sys.exit(main())
