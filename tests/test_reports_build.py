"""The report builder: files written, REPORT.md content, determinism."""

import re
import sys
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from reports import readings, write_report  # noqa: E402
from reports.build import FigureSpec, _Report  # noqa: E402
from reports.figures_circle import CENTRE, RADIUS  # noqa: E402
from reports.figures_common import setting_summary  # noqa: E402
from reports.synthetic import fake_store  # noqa: E402

FIGURES = [
    "digits_score", "digits_aux_coef", "digits_learning_curves",
    "digits_digit_vs_comparison", "digits_time", "circle_score",
    "circle_heatmaps", "circle_learning_curves", "circle_decision_boundary",
    "circle_time",
]  # fmt: skip
TABLES = [
    "trial_status", "trials_not_ok", "digits_summary", "digits_ablation",
    "circle_summary", "circle_ablation", "ablation_by_setting",
]  # fmt: skip


def _decision_grid(factors: dict, state: bytes, resolution: int = 200):
    axis = np.linspace(0.0, 1.0, resolution)
    xx, yy = np.meshgrid(axis, axis)
    distance = np.hypot(xx - CENTRE[0], yy - CENTRE[1])
    return xx, yy, (distance < RADIUS).astype(float)


@pytest.fixture(scope="module")
def store() -> tuple[pd.DataFrame, pd.DataFrame]:
    return fake_store()


@pytest.fixture(scope="module")
def built(store, tmp_path_factory) -> Path:
    """A report of the fake store, written over a stale figure."""
    out_dir = tmp_path_factory.mktemp("report")
    (out_dir / "figures").mkdir()
    (out_dir / "figures" / "stale.png").write_bytes(b"old")
    (out_dir / "figures" / "notes.txt").write_text("keep")
    module = types.ModuleType("models.circle_train")
    module.decision_grid = _decision_grid
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "models.circle_train", module)
        path = write_report(*store, out_dir, "Fake results")
    assert path == out_dir / "REPORT.md"
    return out_dir


def test_report_writes_every_table_and_figure(built):
    for name in TABLES:
        for suffix in (".md", ".csv", ".tex"):
            assert (built / "tables" / f"{name}{suffix}").is_file(), name + suffix
    for name in FIGURES:
        for suffix in (".png", ".pdf"):
            path = built / "figures" / f"{name}{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, name + suffix


def test_report_removes_only_its_own_stale_files(built):
    assert not (built / "figures" / "stale.png").exists()
    assert (built / "figures" / "notes.txt").exists()


def test_report_links_every_figure_with_one_reading(built):
    text = (built / "REPORT.md").read_text()

    assert text.startswith("# Fake results\n")
    for name in FIGURES:
        match = re.search(rf"\]\(figures/{name}\.png\)\n\n(.+)\n", text)
        assert match, f"figure {name} is not in REPORT.md"
        reading = match.group(1).split(" ([pdf]")[0]
        assert reading.endswith(".") and ". " not in reading, (
            f"not one sentence: {reading}"
        )
        assert re.search(r"\d", reading), f"no number in the reading: {reading}"


def test_report_states_missing_and_failed_trials(built):
    text = (built / "REPORT.md").read_text()

    assert "Of 110 expected trials, 2 are missing, 1 failed and 9 diverged" in text
    assert "| digits | siamese | aux_coef=1 | 4 | missing |  |" in text
    failed = "| digits | twin | aux_coef=0 | 3 | failed | RuntimeError: out of memory |"
    assert failed in text
    status = pd.read_csv(built / "tables" / "trial_status.csv")
    assert status.set_index("variant").loc["circle_report2020", "missing"] == 1


def test_report_readings_come_from_the_data(built, store):
    text = (built / "REPORT.md").read_text()
    results, _ = store
    summary = setting_summary(results, "digits", best=False)

    assert readings.read_score_by_setting(summary, "digits") in text
    worse = results.copy()
    worse.loc[worse["variant"] == "baseline", "test_accuracy"] = 0.99
    sentence = readings.read_score_by_setting(
        setting_summary(worse, "digits", best=False), "digits"
    )
    assert sentence.startswith("baseline has the highest mean test accuracy (99.0%")


def test_report_is_deterministic(store, built, tmp_path):
    module = types.ModuleType("models.circle_train")
    module.decision_grid = _decision_grid
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "models.circle_train", module)
        again = write_report(*store, tmp_path, "Fake results").parent

    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert len(files) == 1 + 3 * len(TABLES) + 2 * len(FIGURES)
    for name in files:
        assert (built / name).read_bytes() == (again / name).read_bytes(), name


def test_missing_trainer_skips_the_decision_boundary(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "models.circle_train", None)
    report = _Report(tmp_path)

    def draw():
        from models.circle_train import decision_grid  # noqa: F401

    report.figure(FigureSpec("boundary", "decision boundary", draw, lambda: ""))

    assert report.lines[0].startswith("Not drawn (decision boundary)")
    assert not report.written
