"""Member-level statistics for an experiment's arms.

Members are the unit: one member's impressions and actions are not
independent of each other, so every interval resamples members (a
bootstrap over members, 2,000 resamples, fixed seed so a page shows the same
figures on every load), never events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

RESAMPLES = 2000
ALPHA = 0.05
POWER = 0.9


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def _resamples(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(RESAMPLES, n))


def _interval(estimate: float, draws: np.ndarray) -> Interval:
    low, high = np.nanpercentile(draws, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return Interval(float(estimate), float(low), float(high))


def mean_interval(values, seed: int = 0) -> Interval | None:
    """The mean over members of a per-member figure, with its 95% interval."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return None
    draws = values[_resamples(len(values), seed)].mean(axis=1)
    return _interval(values.mean(), draws)


def ratio_interval(numerators, denominators, seed: int = 0) -> Interval | None:
    """sum(numerators) / sum(denominators) over members (a rate per event,
    e.g. opens per impression), its interval from resampling members."""
    num, den = np.asarray(numerators, float), np.asarray(denominators, float)
    if len(num) < 2 or den.sum() == 0:
        return None
    picks = _resamples(len(num), seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = num[picks].sum(axis=1) / den[picks].sum(axis=1)
    return _interval(num.sum() / den.sum(), draws)


def difference_interval(a, b, seed: int = 0) -> Interval | None:
    """mean(b) - mean(a) over members, arms resampled independently."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return None
    draws = b[_resamples(len(b), seed + 1)].mean(axis=1) - a[_resamples(len(a), seed)].mean(axis=1)
    return _interval(b.mean() - a.mean(), draws)


def sign_test(wins_a: int, wins_b: int) -> float | None:
    """Two-sided p-value of an exact sign test: members who preferred A vs
    those who preferred B (ties left out), under "no preference" (p = 1/2)."""
    from scipy.stats import binomtest

    n = wins_a + wins_b
    return float(binomtest(wins_b, n, 0.5).pvalue) if n else None


def planned_members_interleaving(margin: float) -> int | None:
    """Members with a preference needed for the sign test to find, with
    probability POWER at ALPHA, a preference share of 1/2 + ``margin``/2
    (``margin``: B's wins minus A's, as a share of members with a preference)."""
    if not 0 < margin < 1:
        return None
    p = 0.5 + margin / 2
    z_a, z_b = NormalDist().inv_cdf(1 - ALPHA / 2), NormalDist().inv_cdf(POWER)
    return math.ceil(((z_a * 0.5 + z_b * math.sqrt(p * (1 - p))) / (p - 0.5)) ** 2)


def planned_members_per_arm(sd: float, mean: float, mde: float) -> int | None:
    """Members per arm for a two-sided test at ALPHA to find a relative
    change ``mde`` of ``mean`` with probability POWER, for a per-member
    figure of standard deviation ``sd``: 2 (z[1 - ALPHA/2] + z[POWER])^2 sd^2 / (mde mean)^2."""
    if mean <= 0 or sd <= 0 or mde <= 0:
        return None
    z = NormalDist().inv_cdf(1 - ALPHA / 2) + NormalDist().inv_cdf(POWER)
    return math.ceil(2 * z**2 * sd**2 / (mde * mean) ** 2)
