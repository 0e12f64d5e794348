"""What each ``ablate`` subcommand does, given its parsed arguments.

Every ``cmd_*`` returns the exit status; user mistakes raise ``AblateError``
before anything is trained or written.
"""

import argparse
import io
import sys
from pathlib import Path

from tqdm import tqdm

from benchmarks.errors import AblateError
from benchmarks.grids import Grid, Trial, grid_names, load_grid
from benchmarks.runner import BACKENDS, estimate_seconds, plan, run
from benchmarks.store import Store


def cmd_data(args: argparse.Namespace) -> int:
    from benchmarks.mnist import load_mnist, prepare_mnist

    source = prepare_mnist(args.data_dir)
    print(f"MNIST ready in {source.raw_dir} (from {source.source})")
    for train, name in ((True, "train"), (False, "test")):
        images, labels = load_mnist(train, source.root)
        counts = " ".join(str(n) for n in labels.bincount(minlength=10).tolist())
        print(f"  {name:5s} {len(labels):6d} images {tuple(images.shape[1:])}, "
              f"per digit 0-9: {counts}")  # fmt: skip
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "grids":
        for name in grid_names():
            grid = load_grid(name)
            print(f"{name:12s} {len(grid.trials):6d} trials  {grid.description}")
        return 0

    from models.factors import TASK_FACTORS
    from models.registry import get_variant, list_models

    names = list_models(args.pattern, task=args.task)
    if not names:
        raise AblateError(f"no variant matches {args.pattern!r}")
    for name in names:
        variant = get_variant(name)
        schema = TASK_FACTORS[variant.task]
        shown = {
            key: value
            for key, value in variant.factors.items()
            if args.all or not schema[key].common or value != schema[key].default
        }
        factors = " ".join(f"{k}={v}" for k, v in shown.items())
        print(f"{name:22s} {variant.task:6s} {_num_params(variant):>8,d} params  "
              f"{factors}")  # fmt: skip
        if variant.description:
            print(f"{'':22s} {variant.description}")
    return 0


def _num_params(variant) -> int:
    model = variant.build()
    if hasattr(model, "parameters"):
        return sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p, _ in model.param())


def _selected_grid(args: argparse.Namespace) -> Grid:
    grid = load_grid(args.grid)
    return grid.select(variants=args.variants, seeds=args.seeds)


def cmd_run(args: argparse.Namespace) -> int:
    if args.backend not in BACKENDS:
        raise AblateError(
            f"--backend {args.backend!r} is not one of {', '.join(BACKENDS)}"
        )
    if args.jobs == 0 or args.jobs < -1:
        raise AblateError(f"--jobs must be a positive number or -1, got {args.jobs}")
    if args.threads < 1:
        raise AblateError(f"--threads must be at least 1, got {args.threads}")
    if args.scheduler and args.backend != "dask":
        raise AblateError("--scheduler only applies with --backend dask")
    grid = _selected_grid(args)
    with Store(args.store) as store:
        if args.dry_run:
            todo, done = plan(grid, store, args.retry_failed)
            seconds = estimate_seconds(todo, store, max(args.jobs, 1))
            print(f"{grid.name}: {len(grid.trials)} trials, {done} done, "
                  f"{len(todo)} to train, about {_duration(seconds)} "
                  f"with {args.jobs} job(s)")  # fmt: skip
            return 0
        if args.backend == "dask":
            from benchmarks.runner import connect_dask

            connect_dask(args.scheduler).close()  # fail early when unreachable
        varying = _varying_factors(grid.trials)

        def report(trial: Trial, result: dict) -> None:
            if result["status"] == "failed" or not args.quiet:
                tqdm.write(_result_line(trial, result, varying))

        try:
            summary = run(
                grid, store, jobs=args.jobs, backend=args.backend,
                scheduler=args.scheduler, threads=args.threads,
                retry_failed=args.retry_failed, data_dir=args.data_dir,
                device=args.device, on_result=report,
                progress=lambda total: tqdm(
                    total=total, desc=grid.name, unit="trial", file=sys.stderr
                ),
            )  # fmt: skip
        except KeyboardInterrupt:
            stored = sum(
                s == "ok" for s in store.statuses(t.key for t in grid.trials).values()
            )
            print(f"\ninterrupted: {stored} of {len(grid.trials)} trials of "
                  f"{grid.name} are stored; rerun the same command to resume",
                  file=sys.stderr)  # fmt: skip
            return 130

    print(f"{grid.name}: {summary.trained} trained, {summary.already_done} already "
          f"done, {len(summary.failed)} failed, {summary.diverged} diverged"
          + (f", {summary.busy_elsewhere} left to another running `ablate run`"
             if summary.busy_elsewhere else ""))  # fmt: skip
    if summary.failed:
        print(f"rerun with --retry-failed to train the {len(summary.failed)} "
              "failed trials again", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _varying_factors(trials: list[Trial]) -> list[str]:
    """Factors that take more than one value among trials of the same variant."""
    seen: dict[tuple[str, str], set] = {}
    for trial in trials:
        for key, value in trial.factors.items():
            seen.setdefault((trial.variant, key), set()).add(repr(value))
    return sorted({key for (_, key), values in seen.items() if len(values) > 1})


def _result_line(trial: Trial, result: dict, varying: list[str]) -> str:
    factors = " ".join(
        f"{key}={trial.factors[key]}" for key in varying if key in trial.factors
    )
    head = f"{result['status']:8s} {trial.variant:20s} seed {trial.seed:<3d} {factors}"
    if result["status"] == "failed":
        return f"{head}  {result.get('error')}"
    test, train = result.get("test_accuracy"), result.get("train_accuracy")
    return (
        f"{head}  test {_percent(test)}  train {_percent(train)}  "
        f"{result.get('train_seconds', float('nan')):.2f}s"
    )


def _percent(value) -> str:
    return "   n/a" if value is None or value != value else f"{100 * value:6.2f}%"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_status(args: argparse.Namespace) -> int:
    names = args.grids or grid_names()
    grids = [load_grid(name) for name in names]
    with Store(args.store) as store:
        statuses = store.statuses()
    print(f"{'grid':14s} {'trials':>7s} {'ok':>7s} {'diverged':>9s} "
          f"{'failed':>7s} {'missing':>8s}")  # fmt: skip
    for grid in grids:
        counts = {"ok": 0, "diverged": 0, "failed": 0, "missing": 0}
        for trial in grid.trials:
            counts[statuses.get(trial.key, "missing")] += 1
        print(f"{grid.name:14s} {len(grid.trials):7d} {counts['ok']:7d} "
              f"{counts['diverged']:9d} {counts['failed']:7d} "
              f"{counts['missing']:8d}")  # fmt: skip
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    keys = None
    if args.grid:
        keys = [t.key for t in load_grid(args.grid).trials]
    with Store(args.store) as store:
        frame = store.results(keys)
    frame = frame.drop(columns=["curves"], errors="ignore")
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        frame.to_json(sys.stdout, orient="records", lines=True)
        print()
    else:
        from reports.formatting import markdown_table

        buffer = io.StringIO()
        buffer.write(markdown_table(frame))
        print(buffer.getvalue())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from reports import write_report

    grids = [load_grid(name) for name in args.grids]
    if not Path(args.store).is_file():
        raise AblateError(
            f"store {args.store} does not exist; run `ablate run GRID` first or "
            "pass --store"
        )
    with Store(args.store) as store:
        for grid in grids:
            results = store.results([t.key for t in grid.trials], with_state=True)
            expected = pd.DataFrame.from_records(
                {"key": t.key, "task": t.task, "variant": t.variant, "seed": t.seed,
                 **t.factors}
                for t in grid.trials
            )  # fmt: skip
            path = write_report(
                results, expected, Path(args.out) / grid.name,
                title=f"{grid.name}: {grid.description}",
            )  # fmt: skip
            ok = int((results["status"] == "ok").sum()) if len(results) else 0
            missing = len(grid.trials) - ok
            print(f"{grid.name}: {path} ({len(results)} of {len(grid.trials)} "
                  f"trials stored, {missing} not ok)")  # fmt: skip
    return 0
