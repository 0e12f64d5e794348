"""Figures of ``reports``: titles, labels, colours, and None without data."""

import sys
import types

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from reports.figures_circle import (  # noqa: E402
    CENTRE,
    RADIUS,
    boundary_settings,
    plot_decision_boundaries,
    plot_error_heatmaps,
)
from reports.figures_common import (  # noqa: E402
    plot_learning_curves,
    plot_score_by_setting,
    plot_time_per_run,
)
from reports.figures_digits import plot_aux_coef, plot_digit_vs_comparison  # noqa: E402
from reports.palette import variant_palette  # noqa: E402
from reports.synthetic import fake_store  # noqa: E402


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return fake_store(num_seeds=3)[0]


def fake_decision_grid(calls: list):
    """A decision_grid stand-in: the true disk, recording its arguments."""

    def decision_grid(factors: dict, state: bytes, resolution: int = 200):
        calls.append((factors, state, resolution))
        axis = np.linspace(0.0, 1.0, resolution)
        xx, yy = np.meshgrid(axis, axis)
        distance = np.hypot(xx - CENTRE[0], yy - CENTRE[1])
        return xx, yy, 1.0 / (1.0 + np.exp((distance - RADIUS) * 40))

    return decision_grid


def _legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_palette_maps_sorted_names_to_colorblind_colors():
    palette = variant_palette(["twin", "siamese", "baseline", "twin"])

    assert list(palette) == ["baseline", "siamese", "twin"]
    assert palette == variant_palette(["siamese", "baseline", "twin"])
    assert len(set(palette.values())) == 3


def test_score_figure_labels_and_colours(results):
    palette = variant_palette(results.loc[results["task"] == "digits", "variant"])

    figure = plot_score_by_setting(results, "digits", palette=palette)

    ax = figure.axes[0]
    assert isinstance(figure, Figure)
    assert ax.get_xlabel() == "test accuracy (%)"
    assert ax.get_title().startswith("Digits: test accuracy, all settings")
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert "siamese\n(aux_coef=0.5)" in labels and "baseline" in labels
    assert labels[0] == "siamese\n(aux_coef=0.5)", "best setting should be on top"
    colours = {to_rgb(line.get_color()) for line in ax.get_lines()}
    assert to_rgb(palette["twin"]) in colours


def test_score_figure_of_circle_shows_test_error_of_best_settings(results):
    figure = plot_score_by_setting(results, "circle", best=True)

    ax = figure.axes[0]
    assert ax.get_xlabel() == "test error (%)"
    assert "best setting per variant" in ax.get_title()
    assert len(ax.get_yticklabels()) == 2


def test_aux_coef_figure_separates_shared_and_unshared(results):
    figure = plot_aux_coef(results)

    ax = figure.axes[0]
    assert ax.get_xlabel().startswith("aux_coef")
    assert ax.get_ylabel() == "test accuracy (%)"
    assert "shared (solid) vs unshared (dashed)" in ax.get_title()
    assert _legend_texts(ax) == ["siamese (shared)", "twin (unshared)"]
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles == {"siamese (shared)": "-", "twin (unshared)": "--"}


def test_learning_curves_figure(results):
    figure = plot_learning_curves(results, "digits", "test_accuracy")
    loss = plot_learning_curves(results, "circle", "train_loss")

    ax = figure.axes[0]
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "test accuracy (%)"
    assert "chosen on validation" in ax.get_title()
    assert _legend_texts(ax) == [
        "baseline", "siamese (aux_coef=0.5)", "twin (aux_coef=0.5)",
    ]  # fmt: skip
    assert len(ax.get_lines()[0].get_xdata()) == 12, "one point per epoch"
    assert loss.axes[0].get_ylabel() == "train loss"
    assert "chosen on test" in loss.axes[0].get_title()


def test_time_figure(results):
    figure = plot_time_per_run(results, "circle")

    ax = figure.axes[0]
    assert ax.get_xlabel() == "training time per run (s, wall clock)"
    assert "stacks of 8" in ax.get_title()
    assert [tick.get_text() for tick in ax.get_yticklabels()] == [
        "circle_mlp",
        "circle_report2020",
    ]


def test_digit_vs_comparison_figure(results):
    figure = plot_digit_vs_comparison(results)

    ax = figure.axes[0]
    assert ax.get_xlabel().startswith("test digit accuracy (%")
    assert ax.get_ylabel() == "test comparison accuracy (%)"
    assert _legend_texts(ax) == ["siamese", "twin"], "baseline has no digit output"


def test_error_heatmaps_facet_by_init_and_dropout(results):
    figure = plot_error_heatmaps(results)

    facets = [ax for ax in figure.axes if ax.get_title()]
    assert [ax.get_title() for ax in facets] == [
        "init=default, dropout=0", "init=he, dropout=0",
        "init=default, dropout=0.2", "init=he, dropout=0.2",
    ]  # fmt: skip
    assert facets[0].get_ylabel() == "learning rate"
    assert facets[2].get_xlabel() == "activation"
    assert "mean test error (%) of circle_mlp" in figure.get_suptitle()
    ticks = [tick.get_text() for tick in facets[0].get_yticklabels()]
    assert ticks == ["0.001", "0.01", "0.1"]


def test_decision_boundaries_of_best_and_report_setting(results):
    calls = []

    figure = plot_decision_boundaries(results, fake_decision_grid(calls), resolution=20)

    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles[0].startswith("best: circle_mlp")
    assert titles[1].startswith("circle_report2020")
    assert "decision boundary" in figure.get_suptitle()
    factors, state, resolution = calls[1]
    assert factors["lr"] == 1e-5 and type(factors["hidden"]) is int
    assert state.startswith(b"circle_report2020") and resolution == 20


def test_decision_boundaries_use_circle_train_by_default(results, monkeypatch):
    calls = []
    module = types.ModuleType("models.circle_train")
    module.decision_grid = fake_decision_grid(calls)
    monkeypatch.setitem(sys.modules, "models.circle_train", module)

    assert plot_decision_boundaries(results, resolution=10) is not None
    assert len(calls) == 2


def test_figures_without_their_data_return_none(results):
    digits = results[results["task"] == "digits"]
    circle = results[results["task"] == "circle"]
    no_aux = digits[digits["aux_coef"].isna() | (digits["aux_coef"] == 0.5)]

    assert plot_aux_coef(circle) is None
    assert plot_aux_coef(no_aux) is None
    assert plot_digit_vs_comparison(digits.assign(test_digit_accuracy=np.nan)) is None
    assert plot_error_heatmaps(digits) is None
    assert plot_decision_boundaries(circle.assign(state=None)) is None
    assert plot_learning_curves(digits.assign(curves=None), "digits") is None
    assert plot_score_by_setting(digits.assign(status="failed"), "digits") is None
    assert plot_time_per_run(circle, "digits") is None


def test_palette_must_cover_every_variant(results):
    with pytest.raises(KeyError, match="baseline"):
        plot_score_by_setting(results, "digits", palette={"siamese": (0, 0, 0)})


def test_decision_boundary_shows_the_registered_2020_setting(results):
    # A better-scoring variation of circle_report2020 must not stand in for
    # the report's own setting.
    from models.registry import get_variant

    registered = results[results["variant"] == "circle_report2020"].copy()
    for key, value in get_variant("circle_report2020").factors.items():
        if key in registered:
            registered[key] = value
    registered["key"] = registered["key"] + "-registered"
    registered["test_accuracy"] = 0.5
    both = pd.concat([results, registered], ignore_index=True)

    settings, _ = boundary_settings(both)
    roles = [role for role, _ in settings]
    assert roles == ["best", "circle_report2020"], roles
    setting = settings[1][1]
    assert setting["init"] == "xavier_uniform" and setting["lr"] == 1e-5
    assert setting["mean"] == pytest.approx(50.0), "the registered setting's error"
