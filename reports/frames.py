"""Helpers over the tidy trial frames: scores, factor columns, settings, status.

Every other module of ``reports`` reads the two frames described in the store
contract through these functions:

- ``results``: one row per stored trial (``key``, ``task``, ``variant``,
  ``seed``, ``status``, ``error``, one column per factor, metrics as fractions,
  ``train_seconds``, ``num_params``, ``curves``, ``state``...).
- ``expected``: one row per trial the grid asks for (``key``, ``task``,
  ``variant``, ``seed`` and the factor columns).

The *score* is the number the tables and figures report for a task, in
percent: test accuracy for ``digits``, test error (100 - accuracy) for
``circle``.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.factors import TASK_FACTORS

STATUSES = ("ok", "failed", "diverged", "missing")
TRIAL_COLUMNS = ["key", "task", "variant", "seed"]
RESULT_COLUMNS = [
    *TRIAL_COLUMNS, "status", "error", "train_accuracy", "test_accuracy",
    "val_accuracy", "train_loss", "train_digit_accuracy", "test_digit_accuracy",
    "train_seconds", "num_params", "threads", "stack_size", "curves", "state",
]  # fmt: skip


@dataclass(frozen=True)
class Score:
    """How a task's trials are scored: a metric turned into percent."""

    name: str  # in words, for titles and sentences: "test accuracy"
    higher_is_better: bool

    @property
    def label(self) -> str:
        return f"{self.name} (%)"

    def from_accuracy(self, accuracy: Any) -> Any:
        """Accuracy as a fraction in [0, 1] -> score in percent (same shape)."""
        percent = 100.0 * accuracy
        return percent if self.higher_is_better else 100.0 - percent

    def best_index(self, values: pd.Series) -> Any:
        """Index label of the best value; NaNs ignored."""
        return values.idxmax() if self.higher_is_better else values.idxmin()


SCORES: dict[str, Score] = {
    "digits": Score("test accuracy", higher_is_better=True),
    "circle": Score("test error", higher_is_better=False),
}


def score_of(task: str) -> Score:
    """The score of ``task``; KeyError naming the known tasks."""
    if task not in SCORES:
        raise KeyError(f"unknown task {task!r}; tasks are {sorted(SCORES)}")
    return SCORES[task]


def with_scores(results: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``results`` with ``score`` and ``val_score`` columns in percent.

    ``score`` comes from ``test_accuracy``, ``val_score`` from ``val_accuracy``
    (NaN where absent), both converted with the row's task score.
    """
    scored = results.copy()
    scored["score"] = np.nan
    scored["val_score"] = np.nan
    for task, rows in scored.groupby("task", sort=False).groups.items():
        score = score_of(str(task))
        for source, target in (
            ("test_accuracy", "score"),
            ("val_accuracy", "val_score"),
        ):
            if source in scored:
                values = pd.to_numeric(scored.loc[rows, source], errors="coerce")
                scored.loc[rows, target] = score.from_accuracy(values)
    return scored


def factor_columns(frame: pd.DataFrame, task: str) -> list[str]:
    """The factor columns of ``task`` present in ``frame``, in schema order."""
    return [name for name in TASK_FACTORS[task] if name in frame.columns]


def _num_levels(values: pd.Series) -> int:
    return len(pd.unique(values.dropna()))


def varying_factors(frame: pd.DataFrame, task: str) -> list[str]:
    """Factors of ``task`` with more than one non-null value in ``frame``."""
    rows = frame[frame["task"] == task]
    return [name for name in factor_columns(rows, task) if _num_levels(rows[name]) > 1]


def swept_factors(frame: pd.DataFrame, task: str) -> list[str]:
    """Factors of ``task`` that take several values within one variant.

    These, with the variant, name a *setting*. A factor that only differs
    between variants (a locked one like ``weight_sharing``) is not swept: the
    variant name already says its value.
    """
    rows = frame[frame["task"] == task]
    swept = []
    for name in factor_columns(rows, task):
        levels = rows.groupby("variant")[name].agg(_num_levels)
        if (levels > 1).any():
            swept.append(name)
    return swept


def is_missing(value: Any) -> bool:
    """True for None and NaN (any scalar pandas treats as missing)."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def format_value(value: Any) -> str:
    """A factor value as short text: ``0.001``, ``True``, ``relu``, ``n/a``."""
    if is_missing(value):
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        return (
            str(int(value)) if value.is_integer() and abs(value) < 1e6 else f"{value:g}"
        )
    return str(value)


def matches(values: pd.Series, level: Any) -> pd.Series:
    """Which ``values`` equal ``level`` as factor values (missing equals missing)."""
    if is_missing(level):
        return values.isna()
    return values.map(format_value) == format_value(level)


def setting_label(row: pd.Series | dict, columns: list[str]) -> str:
    """``"aux_coef=0.5, dropout=0.2"`` for the given factor columns of a row."""
    return ", ".join(f"{name}={format_value(row[name])}" for name in columns)


def variant_setting_label(row: pd.Series | dict, columns: list[str]) -> str:
    """``"siamese (aux_coef=0.5)"``; factors the row lacks are left out."""
    setting = setting_label(
        row, [name for name in columns if not is_missing(row[name])]
    )
    return f"{row['variant']} ({setting})" if setting else str(row["variant"])


def row_factors(row: pd.Series, task: str) -> dict[str, Any]:
    """The row's non-missing factors of ``task`` as plain Python values.

    Values are coerced to the factor's kind, so an integer factor stored in a
    float column (because the other task leaves it NaN) comes back as ``int``.
    """
    factors = {}
    for name, factor in TASK_FACTORS[task].items():
        if name not in row.index or is_missing(row[name]):
            continue
        value = row[name]
        if factor.kind is int:
            value = int(value)
        elif factor.kind is float:
            value = float(value)
        elif factor.kind is bool:
            value = bool(value)
        else:
            value = str(value)
        factors[name] = value
    return factors


def conform(frame: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """A copy of ``frame`` with each absent column of ``columns`` added, empty.

    Lets a store leave out what it never recorded (no ``curves``, no
    ``state``, or no rows and no columns at all) without breaking the report.
    """
    frame = pd.DataFrame() if frame is None else frame.copy()
    for name in columns:
        if name not in frame.columns:
            frame[name] = pd.Series(None, index=frame.index, dtype=object)
    return frame


def all_trials(results: pd.DataFrame, expected: pd.DataFrame | None) -> pd.DataFrame:
    """Stored trials plus one ``status == "missing"`` row per absent expected key.

    Missing rows carry the expected factor columns and NaN metrics, so they
    fall into the same settings as the stored trials when grouped. Without
    ``expected`` (None or empty) nothing is missing.
    """
    if expected is None or expected.empty:
        return results.reset_index(drop=True)
    stored_keys = set(results["key"]) if "key" in results else set()
    missing = expected[~expected["key"].isin(stored_keys)].copy()
    missing["status"] = "missing"
    missing["error"] = None
    if missing.empty:
        return results.reset_index(drop=True)
    if results.empty:
        return missing.reset_index(drop=True)
    return pd.concat([results, missing], ignore_index=True)


def key_strings(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One string per row joining ``columns``, with all missing values equal.

    Used to pair or group rows on columns that may hold NaN, None and mixed
    types, where equality and hashing of the raw values would be unreliable.
    """
    if not columns:
        return pd.Series("", index=frame.index, dtype=object)
    parts = [frame[name].map(format_value).astype(object) for name in columns]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    return joined


def finite(values: Any) -> np.ndarray:
    """The finite entries of ``values`` as a float64 array of shape (n,)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def percent(value: float, digits: int = 1) -> str:
    """``97.8%``, or ``n/a`` for NaN."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}%"
