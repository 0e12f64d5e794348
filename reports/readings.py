"""One sentence of reading per figure or table, written from the data.

Each function takes the aggregate a figure draws (the frames of
``figures_common``, ``figures_digits``, ``figures_circle``) or a table, and
returns one sentence stating what it shows: which setting is best and by how
much, where a curve ends, how a sweep moves the score. Nothing here is a
fixed claim; with other data the sentences say other things.
"""

import math

import pandas as pd

from reports.figures_common import metric_label
from reports.figures_digits import correlation
from reports.frames import format_value, percent, score_of, setting_label

SELECTION_NOTES = {
    "validation": "chosen on validation accuracy",
    "test": "chosen on the test set, as no validation accuracy was stored, "
    "which flatters",
}


def _interval(row: pd.Series) -> str:
    if math.isnan(row["ci_low"]):
        return f"{int(row['seeds'])} seed{'s' if row['seeds'] != 1 else ''}"
    return f"95% CI {row['ci_low']:.1f}-{row['ci_high']:.1f}, {int(row['seeds'])} seeds"


def read_completeness(counts: pd.DataFrame) -> str:
    """How many expected trials succeeded, failed, diverged or are missing."""
    total = counts[["ok", "failed", "diverged", "missing"]].sum()
    expected = int(counts["expected"].sum())
    if expected == 0:
        return (
            f"No grid was given: of {int(counts['extra'].sum())} stored trials, "
            f"{int(total['failed'])} failed and {int(total['diverged'])} diverged; "
            f"the statistics below use the {int(total['ok'])} successful ones."
        )
    sentence = (
        f"Of {expected} expected trials, {int(total['missing'])} are missing, "
        f"{int(total['failed'])} failed and {int(total['diverged'])} diverged; "
        f"the statistics below use only the {int(total['ok'])} successful trials"
    )
    extra = int(counts["extra"].sum())
    if extra:
        sentence += f", {extra} of which the grid does not list"
    return sentence + "."


def read_score_by_setting(summary: pd.DataFrame, task: str) -> str:
    """Best and worst setting of a ``setting_summary`` frame, with intervals."""
    score = score_of(task)
    ranked = summary.sort_values(
        "mean", ascending=not score.higher_is_better, kind="stable"
    )
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    high, low = (
        ("highest", "lowest") if score.higher_is_better else ("lowest", "highest")
    )
    sentence = (
        f"{best['label']} has the {high} mean {score.name} "
        f"({percent(best['mean'])}, {_interval(best)})"
    )
    if len(ranked) > 1:
        sentence += f"; {worst['label']} the {low} ({percent(worst['mean'])})"
    return sentence + "."


def read_aux_coef(lines: pd.DataFrame) -> str:
    """Where each line of ``aux_coef_summary`` peaks, against its lowest weight."""
    parts = []
    for label, line in lines.groupby("line", sort=True):
        peak = line.loc[line["mean"].idxmax()]
        start = line.loc[line["aux_coef"].idxmin()]
        part = (
            f"for {label}, test accuracy peaks at "
            f"aux_coef={format_value(peak['aux_coef'])} with {percent(peak['mean'])}"
        )
        if peak["aux_coef"] != start["aux_coef"]:
            part += (
                f" against {percent(start['mean'])} at "
                f"aux_coef={format_value(start['aux_coef'])}"
            )
        parts.append(part)
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def read_learning_curves(curves: pd.DataFrame, task: str, metric: str) -> str:
    """Which curve ends best and worst after its last epoch."""
    finals = (
        curves.dropna(subset=["mean"])
        .sort_values("epoch", kind="stable")
        .groupby("label", sort=True)
        .tail(1)
    )
    lower_is_better = metric.endswith("loss") or not score_of(task).higher_is_better
    ranked = finals.sort_values("mean", ascending=lower_is_better, kind="stable")
    name = metric_label(task, metric).replace(" (%)", "")
    best_word, worst_word = (
        ("lowest", "highest") if lower_is_better else ("highest", "lowest")
    )
    value = (lambda v: f"{v:.3g}") if metric.endswith("loss") else percent
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    sentence = (
        f"After its last epoch ({int(best['epoch'])}), {best['label']} has the "
        f"{best_word} mean {name} ({value(best['mean'])})"
    )
    if len(ranked) > 1:
        sentence += (
            f" and {worst['label']} the {worst_word} ({value(worst['mean'])} "
            f"after epoch {int(worst['epoch'])})"
        )
    selected_on = curves.attrs.get("selected_on")
    if selected_on in SELECTION_NOTES:
        note = SELECTION_NOTES[selected_on].replace("flatters", "flatters them")
        sentence += f"; settings {note}"
    return sentence + "."


def read_time(times: pd.DataFrame) -> str:
    """Slowest and fastest variant by mean training seconds per run."""
    ranked = times.sort_values("mean", ascending=False, kind="stable")
    slow, fast = ranked.iloc[0], ranked.iloc[-1]
    if len(ranked) == 1:
        return (
            f"{slow['variant']} takes {slow['mean']:.3g} s per run on average "
            f"({int(slow['runs'])} runs)."
        )
    ratio = slow["mean"] / fast["mean"]
    if ratio < 1.1:
        span = f"{fast['mean']:.3g}"
        if f"{slow['mean']:.3g}" != span:
            span += f"-{slow['mean']:.3g}"
        every = "Both" if len(ranked) == 2 else f"All {len(ranked)}"
        return f"{every} variants take about as long, {span} s per run on average."
    return (
        f"{slow['variant']} takes the longest, {slow['mean']:.3g} s per run on "
        f"average ({ratio:.1f} times {fast['variant']}, the fastest at "
        f"{fast['mean']:.3g} s)."
    )


def read_digit_vs_comparison(points: pd.DataFrame) -> str:
    """Correlation between digit and comparison accuracy over trials."""
    r = correlation(points)
    if math.isnan(r):
        return (
            f"{len(points)} trials report both accuracies: too few or too uniform "
            "for a correlation."
        )
    trend = "rises with" if r > 0.1 else "falls as" if r < -0.1 else "hardly follows"
    return (
        f"Across {len(points)} trials, comparison accuracy {trend} digit accuracy "
        f"(Pearson r = {r:.2f})."
    )


def read_heatmaps(cells: pd.DataFrame) -> str:
    """Lowest and highest mean test error among the heatmap cells."""
    columns = ["lr", "activation", "init", "dropout"]
    best = cells.loc[cells["mean"].idxmin()]
    worst = cells.loc[cells["mean"].idxmax()]
    return (
        f"The lowest mean test error of {best['variant']}, {percent(best['mean'])}, "
        f"is at {setting_label(best, columns)}; the highest, "
        f"{percent(worst['mean'])}, at {setting_label(worst, columns)}."
    )


def read_decision_boundaries(
    settings: list[tuple[str, pd.Series]], selected_on: str
) -> str:
    """The best setting's mean error against ``report2020``'s."""
    (_, best), others = settings[0], settings[1:]
    sentence = (
        f"The best setting, {best['label']}, has {percent(best['mean'])} mean test "
        "error"
    )
    for _, setting in others:
        sentence += f" against {percent(setting['mean'])} for {setting['label']}"
    note = SELECTION_NOTES[selected_on].replace("flatters", "flatters it")
    return f"{sentence}; it was {note}."


def read_ablation(effects: pd.DataFrame, task: str) -> str:
    """How many paired comparisons hold after Holm, and the largest effect."""
    rows = effects[effects["task"] == task].dropna(subset=["difference"])
    if rows.empty:
        return "No factor varies between trials that pair by seed."
    largest = rows.loc[rows["difference"].abs().idxmax()]
    unit = f"points of {score_of(task).name}"
    return (
        f"{int(rows['significant'].sum())} of {len(rows)} paired comparisons are "
        "significant after Holm correction (Wilcoxon signed-rank, 5% level); the "
        f"largest mean difference is {largest['factor']}="
        f"{format_value(largest['level'])} vs {format_value(largest['reference'])}"
        f" ({largest['difference']:+.2f} {unit}, 95% CI "
        f"{largest['ci_low']:+.2f} to {largest['ci_high']:+.2f}, "
        f"{int(largest['pairs'])} pairs)."
    )


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
