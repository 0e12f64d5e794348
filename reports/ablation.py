"""Ablation effects: what changing one factor does, paired by seed.

For each factor that takes several values among a task's successful trials,
each of its values (*level*) is compared with a *reference* value: the
factor's default in ``models.factors`` when the data hold it, else its most
common value. Two trials form a pair when they have the same seed and equal
values of every other factor of the task, and differ in that one factor; the
variant name is not part of the match, so two variants that differ only in a
locked factor (``siamese`` and ``twin`` in ``weight_sharing``) pair on it.
Where two variants with identical factors would make a match ambiguous, pairs
are only formed within a variant.

Each comparison pools its pairs over all settings of the other factors (one
row per factor and level) or, with ``by_setting=True``, gives one row per
setting. Differences are level minus reference, in score points (percentage
points of test accuracy for digits, of test error for circle), tested with
``stats.paired_test`` (Wilcoxon signed-rank) and Holm-corrected within each
task and table.
"""

import numpy as np
import pandas as pd

from models.factors import TASK_FACTORS
from reports.frames import (
    format_value,
    key_strings,
    score_of,
    setting_label,
    varying_factors,
    with_scores,
)
from reports.stats import holm, paired_test
from reports.tables import sort_levels, sort_settings

ALPHA = 0.05

EFFECT_COLUMNS = [
    "task",
    "factor",
    "level",
    "reference",
    "setting",
    "variants",
    "pairs",
    "mean_level",
    "mean_reference",
    "difference",
    "ci_low",
    "ci_high",
    "cohens_dz",
    "wilcoxon_w",
    "p_value",
    "p_holm",
    "significant",
    "better",
]


def reference_level(values: pd.Series, factor: str, task: str) -> object:
    """The value a factor's other levels are compared with (see module doc).

    Ties for the most common value go to the smallest one.
    """
    levels = sort_levels(values)
    default = TASK_FACTORS[task][factor].default
    texts = [format_value(level) for level in levels]
    if format_value(default) in texts:
        return levels[texts.index(format_value(default))]
    counts = values.dropna().map(format_value).value_counts()
    return max(levels, key=lambda level: counts[format_value(level)])


def _pairs(level: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Merge trials on ``_match``; ambiguous matches fall back to the variant.

    Returns columns ``_match``, ``variant_x``/``variant_y``, ``score_x``
    (level) and ``score_y`` (reference), one row per pair.
    """
    columns = ["_match", "_context", "variant", "score"]
    level, reference = level[columns], reference[columns]
    ambiguous = set(level["_match"][level["_match"].duplicated()])
    ambiguous |= set(reference["_match"][reference["_match"].duplicated()])
    clear = pd.merge(
        level[~level["_match"].isin(ambiguous)],
        reference[~reference["_match"].isin(ambiguous)],
        on=["_match", "_context"],
    )
    within = pd.merge(
        level[level["_match"].isin(ambiguous)],
        reference[reference["_match"].isin(ambiguous)],
        on=["_match", "_context", "variant"],
    ).drop_duplicates(["_match", "variant"], keep=False)
    within["variant_x"] = within["variant_y"] = within.pop("variant")
    return pd.concat([clear, within], ignore_index=True)


def _variants(pairs: pd.DataFrame) -> str:
    level = sorted(set(pairs["variant_x"]))
    reference = sorted(set(pairs["variant_y"]))
    if level == reference:
        return ", ".join(level)
    return f"{', '.join(level)} vs {', '.join(reference)}"


def _effect_row(pairs: pd.DataFrame, **labels) -> dict:
    test = paired_test((pairs["score_x"] - pairs["score_y"]).to_numpy(dtype=float))
    return labels | {
        "variants": _variants(pairs),
        "pairs": test.num_pairs,
        "mean_level": float(pairs["score_x"].mean()),
        "mean_reference": float(pairs["score_y"].mean()),
        "difference": test.mean_difference,
        "ci_low": test.ci_low,
        "ci_high": test.ci_high,
        "cohens_dz": test.cohens_dz,
        "wilcoxon_w": test.statistic,
        "p_value": test.p_value,
    }


def _task_effects(ok: pd.DataFrame, task: str, by_setting: bool) -> list[dict]:
    rows = []
    factors = [f for f in TASK_FACTORS[task] if f in ok.columns]
    varying = varying_factors(ok, task)
    for factor in varying:
        others = [name for name in factors if name != factor]
        context = [name for name in varying if name != factor]
        frame = ok[ok[factor].notna()].assign(
            _match=key_strings(ok, [*others, "seed"]),
            _context=key_strings(ok, context),
            _level=ok[factor].map(format_value),
        )
        reference = reference_level(frame[factor], factor, task)
        reference_rows = frame[frame["_level"] == format_value(reference)]
        for level in sort_levels(frame[factor]):
            if format_value(level) == format_value(reference):
                continue
            pairs = _pairs(
                frame[frame["_level"] == format_value(level)], reference_rows
            )
            if pairs.empty:
                continue
            labels = {"task": task, "factor": factor, "level": level}
            labels["reference"] = reference
            if not by_setting:
                rows.append(_effect_row(pairs, setting="all", **labels))
                continue
            contexts = frame.drop_duplicates("_context").set_index("_context")
            contexts = contexts.loc[sorted(set(pairs["_context"]))]
            # Name a setting by the factors that tell these settings apart.
            shown = [name for name in context if contexts[name].nunique() > 1]
            groups = dict(list(pairs.groupby("_context", sort=False)))
            ordered = sort_settings(contexts.reset_index(), shown)["_context"]
            for key in ordered:
                group = groups[key]
                setting = setting_label(contexts.loc[key], shown) or "all"
                rows.append(_effect_row(group, setting=setting, **labels))
    return rows


def ablation_effects(results: pd.DataFrame, by_setting: bool = False) -> pd.DataFrame:
    """Paired effect of each varying factor, per task (see module doc).

    One row per (task, factor, level) - or per (task, factor, level, setting
    of the other varying factors) with ``by_setting`` - with columns
    ``EFFECT_COLUMNS``: ``pairs``; ``mean_level`` and ``mean_reference``, the
    mean scores of the paired trials; ``difference``, the mean paired
    difference with its 95% bootstrap interval ``ci_low``/``ci_high``;
    ``cohens_dz``; Wilcoxon's ``wilcoxon_w`` and two-sided ``p_value``;
    ``p_holm``, Holm-adjusted within the task; ``significant`` (``p_holm`` <
    0.05); and ``better``, whether the level scores better than the reference
    on average. Only successful trials with a test accuracy count.
    """
    scored = with_scores(results[results["status"] == "ok"])
    scored = scored[np.isfinite(scored["score"].to_numpy(dtype=float))]
    rows = []
    for task in sorted(scored["task"].unique()):
        task_rows = _task_effects(scored[scored["task"] == task], task, by_setting)
        p_holm = holm(np.array([row["p_value"] for row in task_rows], dtype=float))
        score = score_of(task)
        for row, adjusted in zip(task_rows, p_holm, strict=True):
            row["p_holm"] = adjusted
            row["significant"] = bool(adjusted < ALPHA)
            gain = row["difference"] if score.higher_is_better else -row["difference"]
            row["better"] = bool(gain > 0)
        rows.extend(task_rows)
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)
