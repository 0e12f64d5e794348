"""Interval estimates, paired tests and multiple-comparison corrections.

Pure functions over 1-D arrays of per-seed values (shape ``(num_seeds,)``) or
of paired differences (shape ``(num_pairs,)``); NaNs are dropped first.

- Confidence intervals of a mean: percentile bootstrap, 10,000 resamples with a
  fixed seed, so the same values always give the same interval.
- Paired comparisons: Wilcoxon signed-rank test (two-sided; zero differences
  dropped, as in Wilcoxon's original method), which assumes no normality of
  the differences; seeds that diverge or land far from the rest do not
  dominate it the way they dominate a paired t-test.
- Effect sizes: mean paired difference with its bootstrap interval, and
  Cohen's d_z (mean difference over the standard deviation of the
  differences).
- Multiple comparisons: Holm's step-down correction, which controls the
  family-wise error rate under any dependence between the tests.
"""

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from reports.frames import finite

NUM_RESAMPLES = 10_000
CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0


def bootstrap_ci(
    values: np.ndarray,
    confidence: float = CONFIDENCE,
    num_resamples: int = NUM_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (shape (n,)).

    Returns ``(low, high)`` in the units of ``values``; ``(nan, nan)`` with
    fewer than two finite values, where resampling says nothing. The same
    arguments always give the same interval.
    """
    sample = finite(values)
    if sample.size < 2:
        return (float("nan"), float("nan"))

    # One generator per call, so an interval does not depend on call order.
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, sample.size, size=(num_resamples, sample.size))
    means = sample[indices].mean(axis=1)

    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return (float(low), float(high))


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one sample, in the sample's units."""

    num_values: int
    mean: float
    std: float  # sample standard deviation (ddof=1); NaN below two values
    ci_low: float
    ci_high: float
    median: float


def summarize(values: np.ndarray, **bootstrap_kwargs) -> Summary:
    """Count, mean, std, bootstrap CI of the mean and median of ``values``."""
    sample = finite(values)
    if sample.size == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan)
    std = float(sample.std(ddof=1)) if sample.size > 1 else float("nan")
    low, high = bootstrap_ci(sample, **bootstrap_kwargs)
    return Summary(
        sample.size, float(sample.mean()), std, low, high, float(np.median(sample))
    )


def cohens_dz(differences: np.ndarray) -> float:
    """Mean over standard deviation (ddof=1) of paired differences.

    NaN with fewer than two differences or when they are all equal (the ratio
    is then undefined or infinite).
    """
    sample = finite(differences)
    if sample.size < 2:
        return float("nan")
    std = sample.std(ddof=1)
    return float(sample.mean() / std) if std > 0 else float("nan")


@dataclass(frozen=True)
class PairedTest:
    """A Wilcoxon signed-rank test on paired differences, with effect sizes."""

    num_pairs: int
    mean_difference: float
    ci_low: float
    ci_high: float
    cohens_dz: float
    statistic: float  # Wilcoxon's W: the smaller of the signed rank sums
    p_value: float  # two-sided; NaN below two pairs


def paired_test(differences: np.ndarray, **bootstrap_kwargs) -> PairedTest:
    """Test whether paired differences (shape (num_pairs,)) centre on zero.

    All-zero differences give ``p = 1``: no pair shows any difference.
    """
    sample = finite(differences)
    low, high = bootstrap_ci(sample, **bootstrap_kwargs)
    mean = float(sample.mean()) if sample.size else float("nan")
    statistic = p_value = float("nan")
    if sample.size >= 2 and not np.any(sample):
        statistic, p_value = 0.0, 1.0
    elif sample.size >= 2:
        result = scipy_stats.wilcoxon(sample, alternative="two-sided")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return PairedTest(
        sample.size, mean, low, high, cohens_dz(sample), statistic, p_value
    )


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (shape (m,)), NaNs kept and not counted.

    The i-th smallest of the m p-values is multiplied by (m - i + 1); the
    results are made non-decreasing in that order and capped at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    if tested.size == 0:
        return adjusted

    order = tested[np.argsort(p[tested], kind="stable")]
    factors = tested.size - np.arange(tested.size)
    stepped = np.maximum.accumulate(p[order] * factors)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
