"""Tables, statistics and figures from stored trial results; never training.

``write_report(results, expected, out_dir, title)`` builds a whole report;
the functions below are its parts, each usable alone on the tidy frames of the
store contract (see ``reports.frames``).
"""

from reports.ablation import ablation_effects
from reports.build import save_figure, write_report
from reports.figures_circle import plot_decision_boundaries, plot_error_heatmaps
from reports.figures_common import (
    plot_learning_curves,
    plot_score_by_setting,
    plot_time_per_run,
)
from reports.figures_digits import plot_aux_coef, plot_digit_vs_comparison
from reports.formatting import latex_table, markdown_table, write_table
from reports.palette import variant_palette
from reports.stats import bootstrap_ci, cohens_dz, holm, paired_test, summarize
from reports.tables import (
    best_settings,
    problem_trials,
    status_counts,
    summary_table,
)

__all__ = [
    "ablation_effects",
    "best_settings",
    "bootstrap_ci",
    "cohens_dz",
    "holm",
    "latex_table",
    "markdown_table",
    "paired_test",
    "plot_aux_coef",
    "plot_decision_boundaries",
    "plot_digit_vs_comparison",
    "plot_error_heatmaps",
    "plot_learning_curves",
    "plot_score_by_setting",
    "plot_time_per_run",
    "problem_trials",
    "save_figure",
    "status_counts",
    "summarize",
    "summary_table",
    "variant_palette",
    "write_report",
    "write_table",
]
