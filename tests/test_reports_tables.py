"""Tables of ``reports``: summaries, trial counts, best settings and formats."""

import numpy as np
import pandas as pd
import pytest

from reports.formatting import latex_table, markdown_table, write_table
from reports.frames import row_factors, swept_factors
from reports.synthetic import fake_store
from reports.tables import (
    best_settings,
    problem_trials,
    status_counts,
    summary_table,
)


@pytest.fixture(scope="module")
def store() -> tuple[pd.DataFrame, pd.DataFrame]:
    return fake_store()


def _row(table: pd.DataFrame, **match) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for name, value in match.items():
        mask &= (table[name] == value).to_numpy()
    assert mask.sum() == 1, f"{mask.sum()} rows match {match}"
    return table[mask].iloc[0]


def test_fake_store_has_both_tasks_and_every_status(store):
    results, expected = store

    assert set(results["task"]) == {"digits", "circle"}
    assert set(results["status"]) == {"ok", "failed", "diverged"}
    assert len(set(expected["key"]) - set(results["key"])) == 2
    assert results["key"].is_unique and expected["key"].is_unique


def test_summary_counts_seeds_and_problems_per_setting(store):
    table = summary_table(*store, task="digits")

    assert list(table.columns[:2]) == ["variant", "aux_coef"]
    assert len(table) == 7, "baseline plus two variants at three aux_coef values"
    missing = _row(table, variant="siamese", aux_coef=1.0)
    assert (missing["seeds"], missing["missing"], missing["trials"]) == (4, 1, 5)
    diverged = _row(table, variant="siamese", aux_coef=0.0)
    assert (diverged["seeds"], diverged["diverged"]) == (4, 1)
    failed = _row(table, variant="twin", aux_coef=0.0)
    assert (failed["seeds"], failed["failed"]) == (4, 1)
    assert _row(table, variant="baseline")["seeds"] == 5


def test_summary_statistics_are_consistent(store):
    results, expected = store
    table = summary_table(results, expected, "digits")
    row = _row(table, variant="twin", aux_coef=0.5)
    trials = results[
        (results["variant"] == "twin")
        & (results["aux_coef"] == 0.5)
        & (results["status"] == "ok")
    ]

    assert row["mean"] == pytest.approx(100 * trials["test_accuracy"].mean())
    assert row["std"] == pytest.approx(100 * trials["test_accuracy"].std())
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert row["time_s"] == pytest.approx(trials["train_seconds"].mean())
    assert row["params"] == 70_000
    assert table.equals(summary_table(results, expected, "digits")), "not stable"


def test_circle_summary_reports_test_error(store):
    results, expected = store
    table = summary_table(results, expected, "circle")

    assert swept_factors(results, "circle") == ["activation", "init", "dropout", "lr"]
    report = _row(table, variant="circle_report2020")
    trials = results[(results["variant"] == "circle_report2020")]
    assert report["mean"] == pytest.approx(100 * (1 - trials["test_accuracy"].mean()))
    assert report["missing"] == 1
    assert table["diverged"].sum() == 8


def test_summary_without_expected_has_nothing_missing(store):
    table = summary_table(store[0], None, "digits")

    assert table["missing"].sum() == 0
    assert table["seeds"].sum() == 32, (
        "35 digits trials less 1 missing, failed, diverged"
    )


def test_status_counts_per_variant(store):
    results, expected = store
    extra = results.iloc[[0]].assign(key="not-in-grid")
    counts = status_counts(pd.concat([results, extra]), expected)

    totals = counts[["expected", "ok", "failed", "diverged", "missing", "extra"]].sum()
    assert totals.to_dict() == {
        "expected": 110, "ok": 99, "failed": 1, "diverged": 9, "missing": 2,
        "extra": 1,
    }  # fmt: skip
    siamese = _row(counts, variant="siamese")
    assert (siamese["diverged"], siamese["missing"]) == (1, 1)


def test_problem_trials_lists_every_trial_that_is_not_ok(store):
    problems = problem_trials(*store)

    assert len(problems) == 12
    assert problems["status"].value_counts().to_dict() == {
        "diverged": 9, "missing": 2, "failed": 1,
    }  # fmt: skip
    failed = _row(problems, status="failed")
    assert (failed["variant"], failed["setting"], failed["seed"]) == (
        "twin",
        "aux_coef=0",
        3,
    )
    assert "out of memory" in failed["error"]
    assert set(problems.loc[problems["status"] == "missing", "error"]) == {""}


def test_best_settings_prefer_validation_scores(store):
    results, expected = store
    digits, digits_on = best_settings(
        summary_table(results, expected, "digits"), "digits"
    )
    circle, circle_on = best_settings(
        summary_table(results, expected, "circle"), "circle"
    )

    assert digits_on == "validation" and circle_on == "test"
    assert list(digits["variant"]) == ["baseline", "siamese", "twin"]
    assert list(digits["aux_coef"].iloc[1:]) == [0.5, 0.5]
    best_mlp = _row(circle, variant="circle_mlp")
    mlp = summary_table(results, expected, "circle").query("variant == 'circle_mlp'")
    assert best_mlp["mean"] == mlp["mean"].min(), "circle's best is its lowest error"


def test_row_factors_coerce_to_the_factor_kinds(store):
    results, _ = store
    row = results[results["task"] == "circle"].iloc[0]

    factors = row_factors(row, "circle")

    assert type(factors["hidden"]) is int and type(factors["outputs"]) is int
    assert type(factors["lr"]) is float and type(factors["standardize"]) is bool
    assert "aux_coef" not in factors


def test_markdown_table_aligns_and_formats():
    table = pd.DataFrame(
        {"variant": ["a|b", "c"], "mean": [91.234, np.nan], "p_value": [0.0123, 1e-7]}
    )

    lines = markdown_table(table).splitlines()

    assert lines[0] == "| variant | mean | p_value |"
    assert lines[1] == "| --- | ---: | ---: |"
    assert lines[2] == "| a\\|b | 91.23 | 0.012 |"
    assert lines[3] == "| c | n/a | 1.0e-07 |"


def test_latex_table_escapes_names_and_caption():
    table = pd.DataFrame({"aux_coef": [0.5], "mean": [90.0]})

    latex = latex_table(table, caption="test accuracy (%) & more")

    assert "aux\\_coef" in latex
    assert "\\caption{test accuracy (\\%) \\& more}" in latex
    assert "90.00" in latex


def test_write_table_writes_three_formats(tmp_path):
    table = pd.DataFrame({"variant": ["x"], "mean": [1 / 3]})

    paths = write_table(table, tmp_path / "t", "caption")

    assert [p.name for p in paths] == ["t.md", "t.csv", "t.tex"]
    assert all(p.is_file() for p in paths)
    assert pd.read_csv(paths[1])["mean"].iloc[0] == pytest.approx(1 / 3)
    assert "0.33" in paths[0].read_text()
