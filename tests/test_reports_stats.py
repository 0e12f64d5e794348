"""Statistics of ``reports``: bootstrap intervals, paired tests, Holm, ablations."""

import numpy as np
import pandas as pd
import pytest

from reports.ablation import ablation_effects, reference_level
from reports.stats import bootstrap_ci, cohens_dz, holm, paired_test, summarize


def test_bootstrap_ci_contains_the_mean_and_is_stable():
    values = np.random.default_rng(1).normal(90.0, 1.0, size=10)

    low, high = bootstrap_ci(values)

    assert low < values.mean() < high, f"({low}, {high}) misses {values.mean()}"
    assert (low, high) == bootstrap_ci(values), "same input gave another interval"
    assert high - low < 2.0, f"interval ({low}, {high}) is too wide for sd 1, n 10"


def test_bootstrap_ci_narrows_with_more_values():
    rng = np.random.default_rng(2)
    few, many = rng.normal(0, 1, size=5), rng.normal(0, 1, size=500)

    few_low, few_high = bootstrap_ci(few)
    many_low, many_high = bootstrap_ci(many)

    assert many_high - many_low < few_high - few_low


def test_bootstrap_ci_needs_two_values_and_drops_nan():
    assert all(np.isnan(bootstrap_ci(np.array([3.0]))))
    assert all(np.isnan(bootstrap_ci(np.array([]))))
    low, high = bootstrap_ci(np.array([1.0, np.nan, 3.0]))
    assert 1.0 <= low <= high <= 3.0


def test_summarize_counts_finite_values():
    summary = summarize(np.array([1.0, 2.0, 3.0, np.nan]))

    assert summary.num_values == 3
    assert summary.mean == pytest.approx(2.0)
    assert summary.median == pytest.approx(2.0)
    assert summary.std == pytest.approx(1.0)
    assert summary.ci_low <= summary.mean <= summary.ci_high


def test_paired_test_finds_a_consistent_shift():
    rng = np.random.default_rng(3)
    differences = 1.0 + rng.normal(0.0, 0.3, size=12)

    test = paired_test(differences)

    assert test.num_pairs == 12
    assert test.p_value < 0.01, f"p = {test.p_value} for a clear shift"
    assert test.ci_low < test.mean_difference < test.ci_high
    assert test.ci_low > 0
    assert test.cohens_dz > 2


def test_paired_test_finds_no_effect_in_symmetric_noise():
    differences = np.array([-0.3, 0.2, -0.1, 0.15, 0.25, -0.2, 0.05, -0.12])

    test = paired_test(differences)

    assert test.p_value > 0.05, f"p = {test.p_value} for noise around zero"
    assert test.ci_low < 0 < test.ci_high


def test_paired_test_of_identical_pairs_is_not_significant():
    test = paired_test(np.zeros(6))

    assert test.p_value == 1.0
    assert test.mean_difference == 0.0
    assert np.isnan(test.cohens_dz)


def test_cohens_dz_is_mean_over_std():
    differences = np.array([1.0, 2.0, 3.0])

    assert cohens_dz(differences) == pytest.approx(2.0)
    assert np.isnan(cohens_dz(np.array([1.0])))


def test_holm_matches_hand_computation():
    adjusted = holm(np.array([0.01, 0.04, 0.03, np.nan]))

    # Sorted 0.01, 0.03, 0.04 times 3, 2, 1 -> 0.03, 0.06, 0.04 -> monotone 0.06.
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[3])


def test_holm_caps_at_one_and_keeps_single_p():
    np.testing.assert_allclose(holm(np.array([0.6, 0.7])), [1.0, 1.0])
    np.testing.assert_allclose(holm(np.array([0.02])), [0.02])


def _pair_store(effect: float, num_seeds: int = 12) -> pd.DataFrame:
    """siamese and twin at equal aux_coef per seed; twin loses ``effect`` points.

    Seeds shift both variants a lot (sd 5 points) and each trial a little, so
    only a test that pairs by seed sees a one-point effect.
    """
    rng = np.random.default_rng(4)
    seed_shift = rng.normal(0.0, 0.05, size=num_seeds)
    rows = []
    for seed in range(num_seeds):
        for variant, shared in (("siamese", True), ("twin", False)):
            accuracy = 0.85 + seed_shift[seed] + rng.normal(0.0, 0.001)
            accuracy -= 0.0 if shared else effect / 100
            rows.append(
                {"key": f"{variant}-{seed}", "task": "digits", "variant": variant}
                | {"seed": seed, "status": "ok", "error": None}
                | {"architecture": "branch", "weight_sharing": shared}
                | {"aux_coef": 0.5, "lr": 1e-3, "test_accuracy": accuracy}
            )
    return pd.DataFrame(rows)


def test_ablation_pairs_variants_that_differ_in_a_locked_factor():
    effects = ablation_effects(_pair_store(effect=1.0))

    row = effects.set_index("factor").loc["weight_sharing"]
    assert row["pairs"] == 12
    assert row["variants"] == "twin vs siamese"
    assert row["level"] == False and row["reference"] == True  # noqa: E712
    assert row["difference"] == pytest.approx(-1.0, abs=0.1)
    assert row["significant"], f"Holm p = {row['p_holm']} for a paired 1-point loss"
    assert not row["better"]


def test_ablation_finds_nothing_without_an_effect():
    effects = ablation_effects(_pair_store(effect=0.0))

    row = effects.set_index("factor").loc["weight_sharing"]
    assert not row["significant"], f"Holm p = {row['p_holm']} without an effect"
    assert row["ci_low"] < 0 < row["ci_high"]


def test_ablation_applies_holm_within_each_task():
    store = _pair_store(effect=1.0)
    extra = store[store["variant"] == "siamese"].assign(aux_coef=1.0, variant="siamese")
    extra["key"] = extra["key"] + "-aux1"
    extra["test_accuracy"] += 0.002
    effects = ablation_effects(pd.concat([store, extra], ignore_index=True))

    assert len(effects) == 2, effects[["factor", "level"]]
    np.testing.assert_allclose(effects["p_holm"], holm(effects["p_value"].to_numpy()))
    assert (effects["p_holm"] >= effects["p_value"]).all()


def test_ablation_skips_failed_trials_and_unpaired_seeds():
    store = _pair_store(effect=1.0)
    store.loc[store["key"] == "twin-0", "status"] = "failed"
    store = store[store["key"] != "siamese-1"]

    row = ablation_effects(store).set_index("factor").loc["weight_sharing"]

    assert row["pairs"] == 10


def test_ablation_pairs_only_within_a_variant_when_twins_are_ambiguous():
    store = _pair_store(effect=1.0)
    copy = store[store["variant"] == "siamese"].assign(variant="siamese_copy")
    copy["key"] = copy["key"] + "-copy"

    effects = ablation_effects(pd.concat([store, copy], ignore_index=True))

    assert "weight_sharing" not in set(effects["factor"])


def test_ablation_by_setting_splits_on_the_other_factors():
    store = _pair_store(effect=1.0)
    other = store.assign(aux_coef=1.0)
    other["key"] = other["key"] + "-aux1"

    effects = ablation_effects(pd.concat([store, other]), by_setting=True)

    sharing = effects[effects["factor"] == "weight_sharing"]
    assert list(sharing["setting"]) == ["aux_coef=0.5", "aux_coef=1"]
    assert list(sharing["pairs"]) == [12, 12]


def test_reference_is_the_default_else_the_most_common_value():
    assert reference_level(pd.Series([0.0, 0.5, 1.0]), "aux_coef", "digits") == 0.5
    assert reference_level(pd.Series([0.2, 0.2, 0.7]), "aux_coef", "digits") == 0.2
    assert reference_level(pd.Series(["he", "default"]), "init", "circle") == "default"
