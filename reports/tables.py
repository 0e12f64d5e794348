"""Per-setting summaries, trial bookkeeping and best-setting selection.

A *setting* is a variant plus the values of the factors swept within variants
(``frames.swept_factors``). ``summary_table`` gives one row per setting with
the number of successful seeds, the mean, spread and bootstrap interval of the
task's score, time and size, and how many of the setting's trials failed,
diverged or are missing, so that a mean over fewer seeds never passes
unnoticed.
"""

import numpy as np
import pandas as pd

from reports.frames import (
    STATUSES,
    all_trials,
    format_value,
    key_strings,
    score_of,
    setting_label,
    swept_factors,
    with_scores,
)
from reports.stats import summarize

SUMMARY_STATS = ["seeds", "mean", "std", "ci_low", "ci_high", "median", "val_mean"]
SUMMARY_COSTS = ["time_s", "params"]
PROBLEMS = ["failed", "diverged", "missing"]


def sort_key(values: pd.Series) -> pd.Series:
    """A sort key for a factor column: numeric when every value is a number.

    Mixed columns (strings with NaN, booleans with None) sort as text, with
    missing values last.
    """
    present = values.dropna()
    numeric = pd.to_numeric(present.astype(object), errors="coerce")
    if numeric.notna().all():
        return pd.to_numeric(values.astype(object), errors="coerce").astype(float)
    return values.map(lambda value: "\uffff" if pd.isna(value) else format_value(value))


def sort_levels(values: pd.Series) -> list:
    """The distinct non-null values of a factor column, in sort order."""
    present = values.dropna()
    present = present[~present.map(format_value).duplicated()]
    return list(present.sort_values(key=sort_key, kind="stable"))


def sort_settings(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` sorted by ``columns`` (see ``sort_key``), stably."""
    if not columns:
        return frame.reset_index(drop=True)
    ordered = frame.sort_values(columns, key=sort_key, kind="stable")
    return ordered.reset_index(drop=True)


def summary_table(
    results: pd.DataFrame, expected: pd.DataFrame | None, task: str
) -> pd.DataFrame:
    """One row per setting of ``task``: score statistics, costs and problems.

    Columns: ``variant``, the swept factor columns, ``seeds`` (successful
    trials with a score), ``mean``, ``std``, ``ci_low``/``ci_high`` (95%
    bootstrap interval of the mean), ``median`` and ``val_mean`` of the score
    in percent (test accuracy for digits, test error for circle; ``val_mean``
    from the validation accuracy), ``time_s`` (mean wall-clock training seconds
    per successful run), ``params`` (parameter count), ``failed``,
    ``diverged``, ``missing`` and ``trials`` (all trials of the setting).
    Without ``expected`` no trial counts as missing.
    """
    trials = all_trials(results, expected)
    trials = with_scores(trials[trials["task"] == task])
    swept = swept_factors(trials, task)
    columns = ["variant", *swept]
    if trials.empty:
        return pd.DataFrame(columns=[*columns, *SUMMARY_STATS, *SUMMARY_COSTS])

    rows = []
    for _, group in trials.groupby(key_strings(trials, columns), sort=False):
        ok = group[group["status"] == "ok"]
        stats = summarize(ok["score"].to_numpy(dtype=float))
        row = {name: group[name].iloc[0] for name in columns}
        row |= {
            "seeds": stats.num_values,
            "mean": stats.mean,
            "std": stats.std,
            "ci_low": stats.ci_low,
            "ci_high": stats.ci_high,
            "median": stats.median,
            "val_mean": _mean(ok, "val_score"),
            "time_s": _mean(ok, "train_seconds"),
            "params": _median(ok if len(ok) else group, "num_params"),
        }
        counts = group["status"].value_counts()
        row |= {status: int(counts.get(status, 0)) for status in PROBLEMS}
        row["trials"] = len(group)
        rows.append(row)
    return sort_settings(pd.DataFrame(rows), columns)


def _mean(frame: pd.DataFrame, column: str) -> float:
    if column not in frame or frame.empty:
        return float("nan")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def _median(frame: pd.DataFrame, column: str) -> float:
    if column not in frame or frame.empty:
        return float("nan")
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    return float(values.median()) if len(values) else float("nan")


def status_counts(results: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Trials per task and variant by status.

    Columns: ``task``, ``variant``, ``expected`` (trials the grid asks for),
    ``ok``, ``failed``, ``diverged``, ``missing`` and ``extra`` (stored trials
    whose key the grid does not list). Sorted by task and variant.
    """
    trials = all_trials(results, expected)
    expected_keys = set(expected["key"]) if "key" in expected else set()
    trials["_extra"] = ~trials["key"].isin(expected_keys)
    rows = []
    for (task, variant), group in trials.groupby(["task", "variant"], sort=True):
        counts = group["status"].value_counts()
        row = {"task": task, "variant": variant}
        row["expected"] = int((~group["_extra"]).sum())
        row |= {status: int(counts.get(status, 0)) for status in STATUSES}
        row["extra"] = int(group["_extra"].sum())
        rows.append(row)
    columns = ["task", "variant", "expected", *STATUSES, "extra"]
    return pd.DataFrame(rows, columns=columns)


def problem_trials(results: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Every trial that is not ``ok``: failed, diverged or missing.

    Columns: ``task``, ``variant``, ``setting`` (the swept factors, as text),
    ``seed``, ``status``, ``error`` (the stored one-line reason, empty for
    missing trials) and ``key``. Sorted by task, variant, setting and seed.
    """
    trials = all_trials(results, expected)
    problems = []
    for task in sorted(trials["task"].dropna().unique()):
        rows = trials[(trials["task"] == task) & (trials["status"] != "ok")]
        if rows.empty:
            continue
        swept = swept_factors(trials, task)
        rows = rows.assign(
            setting=[setting_label(row, swept) for _, row in rows.iterrows()]
        )
        problems.append(rows)
    columns = ["task", "variant", "setting", "seed", "status", "error", "key"]
    if not problems:
        return pd.DataFrame(columns=columns)
    table = pd.concat(problems, ignore_index=True)[columns]
    table["error"] = table["error"].map(lambda e: "" if pd.isna(e) else str(e))
    return sort_settings(table, ["task", "variant", "setting", "seed"])


def best_settings(summary: pd.DataFrame, task: str) -> tuple[pd.DataFrame, str]:
    """The best setting of each variant, and what it was selected on.

    Selection uses the mean validation score when every candidate setting
    (one with a successful seed) has one, else the mean test score; the second
    return value says which (``"validation"`` or ``"test"``): selecting on the
    test set flatters the chosen setting. Rows keep the columns of
    ``summary`` and are sorted by variant.
    """
    candidates = summary[summary["seeds"] > 0]
    if candidates.empty:
        return candidates, "test"
    on_validation = bool(candidates["val_mean"].notna().all())
    column = "val_mean" if on_validation else "mean"
    score = score_of(task)
    best = [
        score.best_index(group[column])
        for _, group in candidates.groupby("variant", sort=True)
    ]
    selected = summary.loc[best].sort_values("variant", kind="stable")
    return selected.reset_index(drop=True), "validation" if on_validation else "test"


def best_setting(summary: pd.DataFrame, task: str) -> tuple[pd.Series | None, str]:
    """The single best setting of ``summary`` (see ``best_settings``)."""
    per_variant, selected_on = best_settings(summary, task)
    if per_variant.empty:
        return None, selected_on
    column = "val_mean" if selected_on == "validation" else "mean"
    return per_variant.loc[score_of(task).best_index(per_variant[column])], selected_on
