"""Figures both tasks share: score per setting, learning curves, time per run.

Each figure has an aggregation function (a tidy frame, usable on its own and
by ``reports.readings``) and a plot function that takes the trial frame, an
optional palette (``reports.palette``) and an optional matplotlib axis, and
returns the figure, or None when the data hold nothing to draw. Nothing is
saved or shown. Only successful trials count. Figures are drawn on Agg
canvases, without pyplot, so building a report never opens a window or keeps
figures alive in a global registry.
"""

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports.frames import (
    finite,
    matches,
    score_of,
    swept_factors,
    variant_setting_label,
)
from reports.palette import palette_for
from reports.tables import best_settings, summary_table

METRIC_NAMES = {
    "train_loss": "train loss",
    "train_accuracy": "train accuracy",
    "test_accuracy": "test accuracy",
    "val_accuracy": "validation accuracy",
    "test_digit_accuracy": "test digit accuracy",
}


def new_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new Agg figure of that size (inches)."""
    if ax is not None:
        return ax.figure, ax
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def ok_trials(results: pd.DataFrame, task: str) -> pd.DataFrame:
    """The successful trials of ``task``."""
    return results[(results["task"] == task) & (results["status"] == "ok")]


def setting_summary(results: pd.DataFrame, task: str, best: bool) -> pd.DataFrame:
    """``summary_table`` of the successful trials, with a ``label`` column.

    With ``best``, only the best setting of each variant (see
    ``tables.best_settings``); ``attrs["selected_on"]`` then says whether it
    was chosen on validation or test scores. Settings without a score are
    dropped.
    """
    trials = ok_trials(results, task)
    summary = summary_table(trials, None, task)
    summary = summary[summary["seeds"] > 0] if len(summary) else summary
    selected_on = None
    if best and len(summary):
        summary, selected_on = best_settings(summary, task)
    swept = swept_factors(trials, task)
    summary = summary.assign(
        label=[variant_setting_label(row, swept) for _, row in summary.iterrows()]
    )
    summary.attrs["selected_on"] = selected_on
    summary.attrs["swept"] = swept
    return summary.reset_index(drop=True)


def trials_of(trials: pd.DataFrame, row: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The trials of ``trials`` in the setting ``row`` (variant + columns)."""
    mask = trials["variant"] == row["variant"]
    for name in columns:
        mask &= matches(trials[name], row[name])
    return trials[mask]


def plot_score_by_setting(
    results: pd.DataFrame,
    task: str,
    best: bool = False,
    palette: dict | None = None,
    ax: Axes | None = None,
) -> Figure | None:
    """Mean score of each setting with its 95% bootstrap CI and per-seed dots.

    One row per setting (or per variant's best setting with ``best``), best
    at the top, coloured by variant.
    """
    summary = setting_summary(results, task, best)
    if summary.empty:
        return None
    score = score_of(task)
    palette = palette_for(summary, palette)
    summary = summary.sort_values(
        "mean", ascending=not score.higher_is_better, kind="stable"
    ).reset_index(drop=True)
    # A long setting goes on its own line under the variant name.
    labels = [label.replace(" (", "\n(", 1) for label in summary["label"]]
    row_height = 0.55 if any("\n" in label for label in labels) else 0.35
    longest = max(len(line) for label in labels for line in label.split("\n"))
    width = max(7.0, 4.5 + 0.065 * longest)  # room for the labels and the data
    figure, ax = new_axes(ax, width, 1.2 + row_height * len(summary))
    trials = ok_trials(results, task)
    rng = np.random.default_rng(0)

    for position, row in summary.iterrows():
        color = palette[row["variant"]]
        values = finite(
            score.from_accuracy(
                trials_of(trials, row, summary.attrs["swept"])["test_accuracy"]
            )
        )
        jitter = rng.uniform(-0.15, 0.15, size=values.size)
        ax.scatter(values, position + jitter, s=10, color=color, alpha=0.45, lw=0)
        error = [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]
        error = np.nan_to_num(error)
        ax.errorbar(row["mean"], position, xerr=error, fmt="o", color=color, capsize=3)

    ax.set_yticks(range(len(summary)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(score.label)
    which = "best setting per variant" if best else "all settings"
    ax.set_title(
        f"{task.capitalize()}: {score.name}, {which}\n"
        "mean with 95% bootstrap CI; dots: seeds"
    )
    ax.grid(axis="x", alpha=0.3)
    return figure


def curve_summary(
    results: pd.DataFrame, task: str, metric: str, best: bool = True
) -> pd.DataFrame:
    """Per-epoch mean and std over seeds of one curve, per setting.

    Columns: ``label``, ``variant``, ``epoch`` (from 1), ``mean``, ``std``
    (ddof=1, NaN for one seed) and ``seeds``. Accuracies become the task's
    score in percent (test error for circle); losses stay as stored.
    ``attrs["selected_on"]`` as in ``setting_summary``.
    """
    summary = setting_summary(results, task, best)
    trials = ok_trials(results, task)
    if "curves" not in trials:
        summary = summary.iloc[:0]
    score = score_of(task)
    rows = []
    for _, setting in summary.iterrows():
        members = trials_of(trials, setting, summary.attrs["swept"])
        curves = [
            np.asarray(c[metric], dtype=float)
            for c in members["curves"]
            if isinstance(c, dict) and c.get(metric) is not None and len(c[metric])
        ]
        if not curves:
            continue
        # Seeds may stop at different epochs: pad with NaN and count per epoch.
        stacked = np.full((len(curves), max(len(c) for c in curves)), np.nan)
        for i, curve in enumerate(curves):
            stacked[i, : len(curve)] = curve
        if metric.endswith("accuracy"):
            stacked = score.from_accuracy(stacked)
        seeds = np.isfinite(stacked).sum(axis=0)
        values = np.where(np.isfinite(stacked), stacked, 0.0)
        mean = values.sum(axis=0) / np.maximum(seeds, 1)
        spread = ((values - mean) ** 2 * np.isfinite(stacked)).sum(axis=0)
        std = np.sqrt(spread / np.maximum(seeds - 1, 1))
        rows.append(
            pd.DataFrame(
                {"label": setting["label"], "variant": setting["variant"]}
                | {"epoch": np.arange(1, stacked.shape[1] + 1)}
                | {"mean": np.where(seeds > 0, mean, np.nan)}
                | {"std": np.where(seeds > 1, std, np.nan), "seeds": seeds}
            )
        )
    columns = ["label", "variant", "epoch", "mean", "std", "seeds"]
    frame = (
        pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    )
    frame.attrs["selected_on"] = summary.attrs["selected_on"]
    return frame


def metric_label(task: str, metric: str) -> str:
    """Axis label of a curve metric: accuracies as the task's score."""
    if metric.endswith("accuracy"):
        score = score_of(task)
        name = METRIC_NAMES.get(metric, metric).replace("accuracy", "")
        if not score.higher_is_better:
            return f"{name}error (%)".strip()
        return f"{name}accuracy (%)".strip()
    return METRIC_NAMES.get(metric, metric)


def plot_learning_curves(
    results: pd.DataFrame,
    task: str,
    metric: str = "test_accuracy",
    best: bool = True,
    palette: dict | None = None,
    ax: Axes | None = None,
) -> Figure | None:
    """One curve per (best) setting: mean over seeds, band of one std."""
    curves = curve_summary(results, task, metric, best)
    if curves.empty:
        return None
    palette = palette_for(curves, palette)
    figure, ax = new_axes(ax, 7.0, 4.5)
    for label, curve in curves.groupby("label", sort=True):
        color = palette[curve["variant"].iloc[0]]
        ax.plot(curve["epoch"], curve["mean"], color=color, label=label, lw=1.5)
        low, high = curve["mean"] - curve["std"], curve["mean"] + curve["std"]
        ax.fill_between(curve["epoch"], low, high, color=color, alpha=0.2, lw=0)

    ax.set_xlabel("epoch")
    ax.set_ylabel(metric_label(task, metric))
    which = "each setting"
    if best:
        which = f"best setting per variant (chosen on {curves.attrs['selected_on']})"
    ax.set_title(
        f"{task.capitalize()}: {metric_label(task, metric)} per epoch\n"
        f"{which}; mean ± 1 std over seeds"
    )
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return figure


def time_summary(results: pd.DataFrame, task: str) -> pd.DataFrame:
    """Training seconds per successful run, per variant.

    Columns: ``variant``, ``mean``, ``median``, ``min``, ``max``, ``runs``;
    sorted by variant.
    """
    trials = ok_trials(results, task)
    seconds = pd.to_numeric(trials["train_seconds"], errors="coerce")
    trials = trials.assign(seconds=seconds)[seconds.notna()]
    grouped = trials.groupby("variant", sort=True)["seconds"]
    table = grouped.agg(["mean", "median", "min", "max", "count"])
    return table.rename(columns={"count": "runs"}).reset_index()


def plot_time_per_run(
    results: pd.DataFrame,
    task: str,
    palette: dict | None = None,
    ax: Axes | None = None,
) -> Figure | None:
    """Training time of every successful run (dots) and the mean (bar) per variant."""
    times = time_summary(results, task)
    if times.empty:
        return None
    palette = palette_for(times, palette)
    trials = ok_trials(results, task)
    figure, ax = new_axes(ax, 7.0, 1.4 + 0.4 * len(times))
    rng = np.random.default_rng(0)

    for position, row in times.iterrows():
        color = palette[row["variant"]]
        seconds = finite(
            trials.loc[trials["variant"] == row["variant"], "train_seconds"]
        )
        jitter = rng.uniform(-0.2, 0.2, size=seconds.size)
        ax.scatter(seconds, position + jitter, s=10, color=color, alpha=0.5, lw=0)
        ax.barh(position, row["mean"], color=color, alpha=0.35, height=0.6)

    ax.set_yticks(range(len(times)), times["variant"])
    ax.invert_yaxis()
    if times["max"].max() > 50 * times["min"].min() > 0:
        ax.set_xscale("log")
    ax.set_xlabel("training time per run (s, wall clock)")
    ax.set_title(
        f"{task.capitalize()}: training time per run by variant"
        f"{_run_conditions(trials)}"
        "\n(bar: mean; dots: single runs)"
    )
    ax.grid(axis="x", alpha=0.3)
    return figure


def _run_conditions(trials: pd.DataFrame) -> str:
    """`` (1 thread, stacks of 8)`` when all runs share those, else empty."""
    parts = []
    for column, word in (("threads", "thread"), ("stack_size", "stack")):
        if column not in trials:
            continue
        values = pd.to_numeric(trials[column], errors="coerce").dropna().unique()
        if len(values) == 1 and column == "threads":
            parts.append(f"{int(values[0])} {word}{'s' if values[0] != 1 else ''}")
        elif len(values) == 1 and values[0] > 1:
            parts.append(f"trained in stacks of {int(values[0])}")
    return f" ({', '.join(parts)})" if parts else ""
