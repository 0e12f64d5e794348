"""Figures of the digit-pair task: auxiliary-loss sweep and digit vs comparison.

Accuracy per variant, learning curves and time per run are in
``reports.figures_common``. As there, each figure pairs an aggregation
function with a plot function that returns the figure, or None when the data
hold nothing to draw (no ``aux_coef`` sweep, no digit accuracies).
"""

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.figures_common import new_axes, ok_trials
from reports.frames import (
    finite,
    key_strings,
    setting_label,
    swept_factors,
)
from reports.palette import palette_for
from reports.stats import summarize

SHARING_NAMES = {True: "shared", False: "unshared"}
SHARING_STYLES = {True: "-", False: "--"}


def aux_coef_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy against ``aux_coef``, one line per variant and setting.

    A line is a variant (with the values of the other swept factors) that ran
    at least two ``aux_coef`` values. Columns: ``line`` (legend label),
    ``variant``, ``weight_sharing``, ``aux_coef``, ``seeds``, ``mean``,
    ``ci_low``, ``ci_high`` (test accuracy in %, 95% bootstrap CI).
    """
    columns = ["line", "variant", "weight_sharing", "aux_coef", "seeds", "mean"]
    columns += ["ci_low", "ci_high"]
    trials = ok_trials(results, "digits")
    if "aux_coef" not in trials:
        return pd.DataFrame(columns=columns)
    trials = trials[trials["aux_coef"].notna()]
    others = [name for name in swept_factors(trials, "digits") if name != "aux_coef"]
    rows = []
    for _, line in trials.groupby(key_strings(trials, ["variant", *others]), sort=True):
        if line["aux_coef"].nunique() < 2:
            continue
        first = line.iloc[0]
        sharing = first.get("weight_sharing")
        label = str(first["variant"])
        if sharing in SHARING_NAMES:
            label += f" ({SHARING_NAMES[bool(sharing)]})"
        if others:
            label += f", {setting_label(first, others)}"
        for aux, group in line.groupby("aux_coef", sort=True):
            stats = summarize(100.0 * group["test_accuracy"].to_numpy(dtype=float))
            rows.append(
                {"line": label, "variant": first["variant"]}
                | {"weight_sharing": sharing, "aux_coef": float(aux)}
                | {"seeds": stats.num_values, "mean": stats.mean}
                | {"ci_low": stats.ci_low, "ci_high": stats.ci_high}
            )
    return pd.DataFrame(rows, columns=columns)


def plot_aux_coef(
    results: pd.DataFrame, palette: dict | None = None, ax: Axes | None = None
) -> Figure | None:
    """Test accuracy against the auxiliary loss weight, shared vs unshared.

    Solid lines: shared branches (``weight_sharing=True``); dashed: unshared.
    Bands: 95% bootstrap CI of the mean over seeds.
    """
    lines = aux_coef_summary(results)
    if lines.empty:
        return None
    palette = palette_for(lines, palette)
    figure, ax = new_axes(ax, 7.0, 4.5)
    markers = "os^Dv<>p"
    for index, (label, line) in enumerate(lines.groupby("line", sort=True)):
        first = line.iloc[0]
        color = palette[first["variant"]]
        style = SHARING_STYLES.get(first["weight_sharing"], ":")
        ax.plot(
            line["aux_coef"], line["mean"], style, color=color, label=label,
            marker=markers[index % len(markers)],
        )  # fmt: skip
        ax.fill_between(
            line["aux_coef"], line["ci_low"], line["ci_high"], color=color,
            alpha=0.2, lw=0,
        )  # fmt: skip

    ax.set_xlabel("aux_coef: weight of the digit losses (0 = comparison loss only)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(
        "Digits: test accuracy against the auxiliary loss weight,\n"
        "shared (solid) vs unshared (dashed) branches (mean, 95% bootstrap CI)"
    )
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return figure


def digit_comparison_points(results: pd.DataFrame) -> pd.DataFrame:
    """Per successful trial: ``variant``, ``seed``, ``digit_accuracy`` and
    ``comparison_accuracy`` (test set, %), for trials that report both."""
    columns = ["variant", "seed", "digit_accuracy", "comparison_accuracy"]
    trials = ok_trials(results, "digits")
    if "test_digit_accuracy" not in trials:
        return pd.DataFrame(columns=columns)
    points = pd.DataFrame(
        {
            "variant": trials["variant"],
            "seed": trials["seed"],
            "digit_accuracy": 100.0
            * pd.to_numeric(trials["test_digit_accuracy"], errors="coerce"),
            "comparison_accuracy": 100.0
            * pd.to_numeric(trials["test_accuracy"], errors="coerce"),
        }
    )
    return points.dropna().reset_index(drop=True)


def plot_digit_vs_comparison(
    results: pd.DataFrame, palette: dict | None = None, ax: Axes | None = None
) -> Figure | None:
    """Comparison accuracy against digit accuracy, one dot per trial."""
    points = digit_comparison_points(results)
    if points.empty:
        return None
    palette = palette_for(points, palette)
    figure, ax = new_axes(ax, 6.0, 4.5)
    for variant, group in points.groupby("variant", sort=True):
        ax.scatter(
            group["digit_accuracy"], group["comparison_accuracy"], s=18,
            color=palette[variant], label=variant, alpha=0.8, lw=0,
        )  # fmt: skip

    ax.set_xlabel("test digit accuracy (%, both images of each pair)")
    ax.set_ylabel("test comparison accuracy (%)")
    ax.set_title(
        "Digits: comparison accuracy against digit accuracy\n(one dot per trial)"
    )
    ax.legend(fontsize="small", title="variant")
    ax.grid(alpha=0.3)
    return figure


def correlation(points: pd.DataFrame) -> float:
    """Pearson correlation of digit and comparison accuracy; NaN if undefined."""
    x = finite(points["digit_accuracy"])
    y = finite(points["comparison_accuracy"])
    if x.size < 3 or x.size != y.size or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])
