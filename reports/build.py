"""The report builder: tables, figures and REPORT.md from stored results.

``write_report(results, expected, out_dir, title)`` writes::

    out_dir/REPORT.md                 the report, linking everything below
    out_dir/tables/*.md|csv|tex       completeness, summaries, ablation effects
    out_dir/figures/*.png|pdf         one file pair per figure

It never trains: it reads the trial frames of the store contract (see
``reports.frames``). Each figure comes with one sentence of reading written
from the data (``reports.readings``), and the report lists every failed,
diverged or missing trial before any mean that lacks them. Output is
deterministic: the same frames give byte-identical files (fixed bootstrap
seed, fixed jitter, no timestamps or version strings in PNG and PDF
metadata). Files of those kinds left in ``tables/`` and ``figures/`` by an
earlier build and not written by this one are removed, so the folder always
matches REPORT.md.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports import readings
from reports.ablation import ablation_effects
from reports.figures_circle import (
    boundary_settings,
    heatmap_cells,
    plot_decision_boundaries,
    plot_error_heatmaps,
)
from reports.figures_common import (
    curve_summary,
    plot_learning_curves,
    plot_score_by_setting,
    plot_time_per_run,
    setting_summary,
    time_summary,
)
from reports.figures_digits import (
    aux_coef_summary,
    digit_comparison_points,
    plot_aux_coef,
    plot_digit_vs_comparison,
)
from reports.formatting import markdown_table, write_table
from reports.frames import RESULT_COLUMNS, SCORES, TRIAL_COLUMNS, conform, score_of
from reports.palette import variant_palette
from reports.stats import CONFIDENCE, NUM_RESAMPLES
from reports.tables import problem_trials, status_counts, summary_table

logger = logging.getLogger(__name__)

MAX_LISTED = 50  # problem trials listed in REPORT.md; all are in the table files
MAX_EMBEDDED_ROWS = 40  # longer tables are linked, and cut in REPORT.md
MAX_SETTINGS_SHOWN = 30  # above this, score figures show each variant's best
PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "Creator": None, "Producer": None}
OUTPUT_SUFFIXES = {".md", ".csv", ".tex", ".png", ".pdf"}
OPTIONAL_MODULES = {"models.circle_train"}


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the report: file name, alt text, how to draw and read it."""

    name: str
    alt: str
    draw: Callable[[], Figure | None]
    read: Callable[[], str]


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png (150 dpi) and ``stem``.pdf without timestamps."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    figure.savefig(png, dpi=150, metadata=PNG_METADATA)
    figure.savefig(pdf, metadata=PDF_METADATA)
    return [png, pdf]


def _learning_curves(results: pd.DataFrame, task: str, palette: dict) -> Figure | None:
    """Train loss and test score per epoch, side by side."""
    if curve_summary(results, task, "test_accuracy").empty:
        return None
    figure = Figure(figsize=(14.0, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    loss_ax, score_ax = figure.subplots(1, 2)
    plot_learning_curves(results, task, "train_loss", palette=palette, ax=loss_ax)
    plot_learning_curves(results, task, "test_accuracy", palette=palette, ax=score_ax)
    return figure


def _figure_specs(results: pd.DataFrame, task: str, palette: dict) -> list[FigureSpec]:
    """The figures of ``task``, in report order."""
    num_settings = len(setting_summary(results, task, best=False))
    best = num_settings > MAX_SETTINGS_SHOWN or task == "circle"
    score = score_of(task)
    specs = [
        FigureSpec(
            f"{task}_score",
            f"{score.name} per {'variant' if best else 'setting'}",
            lambda: plot_score_by_setting(results, task, best=best, palette=palette),
            lambda: readings.read_score_by_setting(
                setting_summary(results, task, best=best), task
            ),
        )
    ]
    if task == "digits":
        specs.append(
            FigureSpec(
                "digits_aux_coef",
                "test accuracy against aux_coef, shared vs unshared",
                lambda: plot_aux_coef(results, palette=palette),
                lambda: readings.read_aux_coef(aux_coef_summary(results)),
            )
        )
    if task == "circle":
        specs.append(
            FigureSpec(
                "circle_heatmaps",
                "test error by learning rate and activation, per init and dropout",
                lambda: plot_error_heatmaps(results),
                lambda: readings.read_heatmaps(heatmap_cells(results)),
            )
        )
    specs.append(
        FigureSpec(
            f"{task}_learning_curves",
            "learning curves",
            lambda: _learning_curves(results, task, palette),
            lambda: readings.read_learning_curves(
                curve_summary(results, task, "test_accuracy"), task, "test_accuracy"
            ),
        )
    )
    if task == "digits":
        specs.append(
            FigureSpec(
                "digits_digit_vs_comparison",
                "comparison accuracy against digit accuracy",
                lambda: plot_digit_vs_comparison(results, palette=palette),
                lambda: readings.read_digit_vs_comparison(
                    digit_comparison_points(results)
                ),
            )
        )
    if task == "circle":
        specs.append(
            FigureSpec(
                "circle_decision_boundary",
                "decision boundaries of the best setting and of report2020",
                lambda: plot_decision_boundaries(results),
                lambda: readings.read_decision_boundaries(*boundary_settings(results)),
            )
        )
    specs.append(
        FigureSpec(
            f"{task}_time",
            "training time per run",
            lambda: plot_time_per_run(results, task, palette=palette),
            lambda: readings.read_time(time_summary(results, task)),
        )
    )
    return specs


def _embed(table: pd.DataFrame, stem: str) -> list[str]:
    """Markdown lines showing ``table`` (cut at MAX_EMBEDDED_ROWS) and its files."""
    links = f"Files: [md](tables/{stem}.md), [csv](tables/{stem}.csv), "
    links += f"[tex](tables/{stem}.tex)."
    if table.empty:
        return ["(empty)", "", links, ""]
    shown = table.head(MAX_EMBEDDED_ROWS)
    lines = [markdown_table(shown)]
    if len(table) > len(shown):
        lines.append(f"First {len(shown)} of {len(table)} rows.")
    return [*lines, links, ""]


class _Report:
    """Collects REPORT.md lines and the paths written, so stale files can go."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.lines: list[str] = []
        self.written: set[Path] = set()

    def table(self, table: pd.DataFrame, stem: str, caption: str) -> None:
        paths = write_table(table, self.out_dir / "tables" / stem, caption)
        self.written.update(paths)
        self.lines += [f"**{caption}**", "", *_embed(table, stem)]

    def figure(self, spec: FigureSpec) -> None:
        try:
            figure = spec.draw()
        except ModuleNotFoundError as error:
            # The decision boundary needs the circle trainer to rebuild a net.
            if error.name not in OPTIONAL_MODULES:
                raise
            logger.warning("figure %s skipped: %s", spec.name, error)
            self.lines += [f"Not drawn ({spec.alt}): `{error.name}` is missing.", ""]
            return
        if figure is None:
            logger.info("figure %s skipped: nothing to draw", spec.name)
            return
        self.written.update(save_figure(figure, self.out_dir / "figures" / spec.name))
        self.lines += [
            f"![{spec.alt}](figures/{spec.name}.png)",
            "",
            f"{spec.read()} ([pdf](figures/{spec.name}.pdf))",
            "",
        ]

    def remove_stale(self) -> None:
        for folder in (self.out_dir / "tables", self.out_dir / "figures"):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix in OUTPUT_SUFFIXES and path not in self.written:
                    logger.info("removing stale report file %s", path)
                    path.unlink()


def _completeness(
    report: _Report, results: pd.DataFrame, expected: pd.DataFrame
) -> None:
    """Counts per variant, a reading, and the list of trials left out."""
    counts = status_counts(results, expected)
    problems = problem_trials(results, expected)
    report.lines += ["## Completeness", "", readings.read_completeness(counts), ""]
    report.table(counts, "trial_status", "Trials per variant by status")
    if problems.empty:
        report.lines += ["Every expected trial is stored and succeeded.", ""]
        return
    listed = problems.drop(columns=["key"]).head(MAX_LISTED)
    report.lines += ["Trials that are not in the statistics:", ""]
    report.lines += [markdown_table(listed)]
    if len(problems) > MAX_LISTED:
        report.lines += [f"First {MAX_LISTED} of {len(problems)} trials.", ""]
    paths = write_table(problems, report.out_dir / "tables" / "trials_not_ok", "")
    report.written.update(paths)
    report.lines += [
        "All of them, with their keys: [md](tables/trials_not_ok.md), "
        "[csv](tables/trials_not_ok.csv), [tex](tables/trials_not_ok.tex).",
        "",
    ]


def _task_section(
    report: _Report,
    results: pd.DataFrame,
    expected: pd.DataFrame,
    effects: pd.DataFrame,
    task: str,
) -> None:
    """Summary, ablation effects and figures of one task."""
    score = score_of(task)
    # Colours from every variant of the task, so absent ones keep their slot.
    palette = variant_palette(
        [
            *results.loc[results["task"] == task, "variant"],
            *expected.loc[expected["task"] == task, "variant"],
        ]
    )
    report.lines += [f"## {task.capitalize()}", ""]

    summary = summary_table(results, expected, task)
    report.table(
        summary,
        f"{task}_summary",
        f"{task.capitalize()}: {score.label} per setting (successful seeds; "
        "95% bootstrap CI of the mean; time_s: mean training seconds per run)",
    )

    pooled = effects[effects["task"] == task].drop(columns=["task", "setting"])
    report.lines += [readings.read_ablation(effects, task), ""]
    report.table(
        pooled,
        f"{task}_ablation",
        f"{task.capitalize()}: paired effect of each factor on {score.label}, "
        "level minus reference, pooled over the other factors",
    )

    for spec in _figure_specs(results, task, palette):
        report.figure(spec)


METHODS = f"""## Methods

- Scores: test accuracy (digits) and test error = 100 - test accuracy (circle), in
  percent, from successful trials only; failed, diverged and missing trials are
  counted and listed above, never averaged in.
- Intervals: {CONFIDENCE:.0%} percentile bootstrap of the mean over seeds,
  {NUM_RESAMPLES:,} resamples, fixed seed (none below two seeds).
- Paired comparisons: trials with the same seed and equal values of every other
  factor, differing in one; level minus reference (the factor's default, else its
  most common value). Wilcoxon signed-rank test (two-sided, zero differences
  dropped), Holm correction over all comparisons of a task and table, effect size
  as the mean paired difference with its bootstrap interval and Cohen's d_z. With
  n pairs the smallest possible p is 2 / 2^n (0.0625 for five).
- Best settings are chosen on validation accuracy when every candidate has one,
  else on the test set, as each sentence says.
"""


def write_report(
    results: pd.DataFrame, expected: pd.DataFrame, out_dir: Path, title: str
) -> Path:
    """Write tables, figures and REPORT.md for ``results`` into ``out_dir``.

    ``results`` and ``expected`` follow the store contract (see
    ``reports.frames``). Returns the path of REPORT.md.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = _Report(out_dir)
    results = conform(results, RESULT_COLUMNS)
    expected = conform(expected, TRIAL_COLUMNS)
    report.lines += [
        f"# {title}",
        "",
        f"Built by `reports.write_report` from {len(results)} stored trials and a "
        f"grid of {len(expected)} expected trials. Tables are in `tables/` "
        "(Markdown, CSV, LaTeX), figures in `figures/` (PNG, PDF).",
        "",
    ]
    _completeness(report, results, expected)

    effects = ablation_effects(results)
    tasks = set(results["task"].dropna()) | set(expected["task"].dropna())
    for task in (name for name in SCORES if name in tasks):
        _task_section(report, results, expected, effects, task)

    by_setting = ablation_effects(results, by_setting=True)
    report.lines += ["## Paired effects per setting", ""]
    report.lines += [
        "The pooled effects above, split by the values of the other varying "
        "factors (Holm correction over these rows, per task).",
        "",
    ]
    report.table(by_setting, "ablation_by_setting", "Paired effects per setting")

    report.lines += [METHODS]
    path = out_dir / "REPORT.md"
    path.write_text("\n".join(report.lines).rstrip("\n") + "\n")
    report.written.add(path)
    report.remove_stale()
    return path
