"""Figures of the circle task: error heatmaps and decision boundaries.

Learning curves and time per run are in ``reports.figures_common``. The
heatmaps show the mean test error of one variant by learning rate and
activation, faceted by initialisation (columns) and dropout (rows). The
decision-boundary figure redraws a stored network's probability of "inside"
over [0, 1]^2 with ``models.circle_train.decision_grid`` and outlines the true
disk (centre (0.5, 0.5), radius 1/sqrt(2 pi), area 1/2).
"""

import math
import textwrap
from collections.abc import Callable

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from reports.figures_common import ok_trials, setting_summary, trials_of
from reports.frames import (
    format_value,
    matches,
    row_factors,
    score_of,
    setting_label,
    swept_factors,
    with_scores,
)
from reports.tables import best_setting, sort_levels

CENTRE = (0.5, 0.5)
RADIUS = 1.0 / math.sqrt(2.0 * math.pi)
REPORT_VARIANT = "circle_report2020"
TITLE_WIDTH = 55  # characters per line of a panel title
HEATMAP_AXES = ("lr", "activation")
HEATMAP_FACETS = ("dropout", "init")  # rows, columns
HEATMAP_CMAP = "rocket_r"  # light = low error
DISK_COLOR = "#ece133"  # the yellow of the colorblind palette: seen on red and blue

DecisionGrid = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


def heatmap_cells(results: pd.DataFrame, variant: str | None = None) -> pd.DataFrame:
    """Mean test error (%) per (dropout, init, lr, activation) of one variant.

    ``variant`` defaults to the one with the most such cells (ties: first
    by name). Columns: ``variant``, the four factors, ``seeds``, ``mean``.
    ``attrs["pooled"]`` lists other factors that vary within the variant and
    are averaged over.
    """
    names = [*HEATMAP_FACETS, *HEATMAP_AXES]
    columns = ["variant", *names, "seeds", "mean"]
    trials = with_scores(ok_trials(results, "circle"))
    trials = trials[trials["score"].notna()]
    if trials.empty or any(name not in trials for name in names):
        return pd.DataFrame(columns=columns)
    if variant is None:
        cells = trials.groupby("variant", sort=True)[names].apply(
            lambda group: len(group.drop_duplicates())
        )
        variant = str(cells.idxmax())
    trials = trials[trials["variant"] == variant]
    swept = swept_factors(trials, "circle")

    table = trials.groupby(names, dropna=False, sort=True)["score"].agg(
        ["count", "mean"]
    )
    table = table.rename(columns={"count": "seeds"}).reset_index()
    table.insert(0, "variant", variant)
    table.attrs["pooled"] = [name for name in swept if name not in names]
    return table[columns]


def plot_error_heatmaps(
    results: pd.DataFrame, variant: str | None = None
) -> Figure | None:
    """Test error heatmaps of learning rate x activation, per init and dropout.

    None unless the chosen variant has at least two (lr, activation) cells.
    A faceted figure, so it makes its own axes rather than taking one.
    """
    cells = heatmap_cells(results, variant)
    if len(cells.drop_duplicates(list(HEATMAP_AXES))) < 2:
        return None
    row_levels = sort_levels(cells[HEATMAP_FACETS[0]]) or [np.nan]
    col_levels = sort_levels(cells[HEATMAP_FACETS[1]]) or [np.nan]
    figure = Figure(
        figsize=(1.0 + 3.0 * len(col_levels), 1.2 + 2.4 * len(row_levels)),
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(row_levels), len(col_levels), squeeze=False)
    norm = Normalize(cells["mean"].min(), cells["mean"].max())
    lr_levels = sort_levels(cells["lr"])
    activations = sort_levels(cells["activation"])

    facets = [(i, j) for i in range(len(row_levels)) for j in range(len(col_levels))]
    for i, j in facets:
        ax, row_level, col_level = axes[i, j], row_levels[i], col_levels[j]
        facet = cells[
            matches(cells[HEATMAP_FACETS[0]], row_level)
            & matches(cells[HEATMAP_FACETS[1]], col_level)
        ]
        grid = facet.pivot_table(
            index="lr", columns="activation", values="mean", aggfunc="mean"
        ).reindex(index=lr_levels, columns=activations)
        grid.index = [format_value(lr) for lr in grid.index]
        sns.heatmap(
            grid.astype(float), ax=ax, annot=True, fmt=".1f", cmap=HEATMAP_CMAP,
            norm=norm, cbar=False, linewidths=0.5,
        )  # fmt: skip
        ax.set_title(
            f"init={format_value(col_level)}, dropout={format_value(row_level)}",
            fontsize="medium",
        )
        ax.set_xlabel("activation" if i == len(row_levels) - 1 else "")
        ax.set_ylabel("learning rate" if j == 0 else "")
        ax.tick_params(axis="y", rotation=0)

    mappable = ScalarMappable(
        norm=norm, cmap=sns.color_palette(HEATMAP_CMAP, as_cmap=True)
    )
    figure.colorbar(mappable, ax=axes, label="test error (%)", shrink=0.8)
    pooled = cells.attrs.get("pooled") or []
    over = "seeds" + "".join(f" and {name}" for name in pooled)
    figure.suptitle(
        f"Circle: mean test error (%) of {cells['variant'].iloc[0]} by learning rate"
        f" and activation,\nper init (columns) and dropout (rows); mean over {over}"
    )
    return figure


def representative_trial(results: pd.DataFrame, setting: pd.Series) -> pd.Series | None:
    """The stored-state trial of ``setting`` whose error is nearest its median.

    Ties go to the lowest seed; None when no trial of the setting has a state.
    """
    trials = with_scores(ok_trials(results, "circle"))
    if "state" not in trials:
        return None
    trials = trials_of(trials, setting, swept_factors(trials, "circle"))
    trials = trials[trials["state"].notna() & trials["score"].notna()]
    if trials.empty:
        return None
    distance = (trials["score"] - trials["score"].median()).abs()
    order = trials.assign(_distance=distance).sort_values(
        ["_distance", "seed"], kind="stable"
    )
    return order.iloc[0]


def boundary_settings(results: pd.DataFrame) -> tuple[list[tuple[str, pd.Series]], str]:
    """``[("best", setting), ("circle_report2020", setting)]`` and what "best" used.

    The best setting over all variants (see ``tables.best_setting``) and the
    2020 report's own setting: ``circle_report2020`` with its registered
    factor values, or its best setting when those did not run (or the
    registry cannot be imported). Only one entry when they coincide or
    ``circle_report2020`` is absent. Settings are rows of
    ``figures_common.setting_summary``.
    """
    summary = setting_summary(results, "circle", best=False)
    if summary.empty:
        return [], "test"
    best, selected_on = best_setting(summary, "circle")
    chosen = [("best", best)]
    report = summary[summary["variant"] == REPORT_VARIANT]
    if len(report) and best["variant"] != REPORT_VARIANT:
        registered = report[_registered(report, summary.attrs["swept"])]
        if len(registered):
            chosen.append((REPORT_VARIANT, registered.iloc[0]))
        else:
            chosen.append((REPORT_VARIANT, best_setting(report, "circle")[0]))
    return chosen, selected_on


def _registered(settings: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Which ``settings`` of ``REPORT_VARIANT`` have its registered factors."""
    try:
        from models.registry import get_variant

        factors = get_variant(REPORT_VARIANT).factors
    except (ImportError, KeyError):
        return pd.Series(False, index=settings.index)
    mask = pd.Series(True, index=settings.index)
    for name in columns:
        if name in factors:
            mask &= matches(settings[name], factors[name])
    return mask


def plot_decision_boundaries(
    results: pd.DataFrame,
    decision_grid: DecisionGrid | None = None,
    resolution: int = 200,
) -> Figure | None:
    """Probability of "inside" for the best setting and for ``circle_report2020``.

    One panel per setting (see ``boundary_settings``), each from the trial
    nearest the setting's median error, with the p = 0.5 contour and the
    true disk. ``decision_grid`` defaults to
    ``models.circle_train.decision_grid(factors, state, resolution)``. None
    when no chosen setting has a stored state.
    """
    settings, selected_on = boundary_settings(results)
    panels = []
    for role, setting in settings:
        trial = representative_trial(results, setting)
        if trial is not None:
            panels.append((role, setting, trial))
    if not panels:
        return None
    if decision_grid is None:
        from models.circle_train import decision_grid

    figure = Figure(figsize=(1.5 + 4.0 * len(panels), 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    cmap = sns.color_palette("vlag", as_cmap=True)
    score = score_of("circle")
    swept = swept_factors(ok_trials(results, "circle"), "circle")

    for ax, (role, setting, trial) in zip(axes, panels, strict=True):
        factors = row_factors(trial, "circle")
        grid = decision_grid(factors, trial["state"], resolution=resolution)
        xx, yy, prob = (np.asarray(array, dtype=float) for array in grid)
        mesh = ax.contourf(xx, yy, prob, levels=np.linspace(0, 1, 11), cmap=cmap)
        ax.contour(xx, yy, prob, levels=[0.5], colors="black", linewidths=1.5)
        ax.add_patch(
            Circle(CENTRE, RADIUS, fill=False, ls="--", lw=1.5, color=DISK_COLOR)
        )
        ax.set_aspect("equal")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="x1", ylabel="x2")
        title = [
            f"{role}: {setting['variant']}",
            # Long settings wrap, so that the two panels' titles never overlap.
            textwrap.fill(setting_label(setting, swept), TITLE_WIDTH),
            f"{score.name} {trial['score']:.1f}% (seed {int(trial['seed'])}; "
            f"setting mean {setting['mean']:.1f}%)",
        ]
        ax.set_title("\n".join(line for line in title if line), fontsize="small")

    figure.colorbar(mesh, ax=list(axes), label='predicted probability of "inside"')
    legend = [
        Line2D([], [], color="black", lw=1.5, label="decision boundary (p = 0.5)"),
        Line2D([], [], color=DISK_COLOR, ls="--", lw=1.5, label="true disk"),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=2)
    figure.suptitle(
        f"Circle: decision boundary of the best setting (chosen on {selected_on}"
        f" error) and of {REPORT_VARIANT}"
    )
    return figure
