"""The statistics `summary` quotes, on `scipy.stats`: t intervals of a mean, Welch's test
of two means, Holm's adjustment, Kaplan-Meier and the log-rank test.

Everything here takes plain arrays and returns plain numbers; which seeds, arms and
steps they are is `summary`'s business. A result that cannot be computed says why in a
short code (`TOO_FEW_SEEDS`, ...) that the page turns into a sentence.

`scipy.stats` is imported when first needed, not with this module: importing it takes
most of a second, which `import report.charts` in a notebook need not pay.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import stats

CONFIDENCE = 0.95

# Why a comparison has no interval or no p-value (the page says it in words).
TOO_FEW_SEEDS = "too_few_seeds"  # fewer than 2 seeds on one side
NO_SPREAD = "no_spread"  # every seed the same on both sides: no test
NO_HACKS = "no_hacks"  # no seed hacked on either side: nothing to compare
NO_MEDIAN = "no_median"  # a side's Kaplan-Meier share never reaches one half


@contextmanager
def _quiet() -> Iterator[None]:
    """scipy warns about data it handles correctly (a constant sample's "catastrophic
    cancellation"); the notes here say what a reader needs."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def t_half_width(sd: np.ndarray | float, n: np.ndarray | float) -> np.ndarray:
    """Half the width of the 95% t interval of a mean of `n` values with sample sd `sd`:
    t(0.975, n - 1) * sd / sqrt(n); NaN where n < 2."""
    from scipy import stats

    sd = np.asarray(sd, dtype=float)
    n = np.asarray(n, dtype=float)
    # A few distinct counts over many steps: each quantile is computed once.
    counts, at = np.unique(n, return_inverse=True)
    with _quiet():
        quantiles = stats.t.ppf(0.5 + CONFIDENCE / 2, np.where(counts >= 2, counts - 1, np.nan))
        return np.asarray(quantiles[at].reshape(n.shape) * sd / np.sqrt(n), dtype=float)


def t_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of the finite `values`: the 95% t interval of their mean
    (low and high NaN with fewer than 2 values; the mean NaN with none)."""
    clean = np.asarray(values, dtype=float)
    clean = clean[np.isfinite(clean)]
    if not len(clean):
        return (np.nan, np.nan, np.nan)
    mean = float(clean.mean())
    if len(clean) < 2:
        return (mean, np.nan, np.nan)
    half = float(t_half_width(clean.std(ddof=1), len(clean)))
    return (mean, mean - half, mean + half)


@dataclass(frozen=True)
class Difference:
    """One comparison: `diff` (first minus second), its 95% interval, its p-value and,
    when something is missing, why (`note`, one of the codes above)."""

    diff: float = np.nan
    low: float = np.nan
    high: float = np.nan
    p: float = np.nan
    note: str = ""


def welch(first: Sequence[float] | np.ndarray, second: Sequence[float] | np.ndarray) -> Difference:
    """Welch's unequal-variance t test of mean(first) - mean(second), two-sided, with
    its 95% interval (Welch-Satterthwaite degrees of freedom). Non-finite values are
    dropped; fewer than 2 values on a side, or no spread on either, give no test."""
    from scipy import stats

    a = np.asarray(first, dtype=float)
    b = np.asarray(second, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return Difference(note=TOO_FEW_SEEDS)
    diff = float(a.mean() - b.mean())
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return Difference(diff=diff, note=NO_SPREAD)
    with _quiet():
        result = stats.ttest_ind(a, b, equal_var=False)
        interval = result.confidence_interval(CONFIDENCE)
    return Difference(diff=diff, low=float(interval.low), high=float(interval.high),
                      p=float(result.pvalue))


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's (1979) step-down adjustment of a family of p-values: the i-th smallest of
    m becomes max over j <= i of min(1, (m - j + 1) p_(j)). NaN entries are not tests:
    they stay NaN and do not count in m."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled)) if m else scaled
    return adjusted


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier of the time to an event, at each distinct time observed: the share
    that have had the event by then (1 - S(t)), how many were at risk just before, how
    many had the event and how many were censored there."""

    times: np.ndarray
    share: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray

    def median(self) -> float:
        """The first time at which half have had the event; NaN if the share never
        reaches one half."""
        reached = np.flatnonzero(self.share >= 0.5 - 1e-9)
        return float(self.times[reached[0]]) if len(reached) else np.nan


def _censored_data(events: np.ndarray, censored: np.ndarray) -> stats.CensoredData:
    from scipy import stats
    return stats.CensoredData(uncensored=np.asarray(events, dtype=float),
                              right=np.asarray(censored, dtype=float))


def kaplan_meier(events: Sequence[float] | np.ndarray,
                 censored: Sequence[float] | np.ndarray) -> Survival:
    """Kaplan-Meier from event times and right-censoring times (a censored subject was
    still without the event at its time; at a tie, events come first)."""
    from scipy import stats

    events = np.asarray(events, dtype=float)
    censored = np.asarray(censored, dtype=float)
    observed = np.r_[events, censored]
    times = np.unique(observed)
    if not len(times):
        empty = np.empty(0)
        return Survival(empty, empty, empty.astype(int), empty.astype(int), empty.astype(int))
    with _quiet():
        share = stats.ecdf(_censored_data(events, censored)).cdf.evaluate(times)
    return Survival(
        times=times,
        share=np.asarray(share, dtype=float),
        at_risk=(observed[None, :] >= times[:, None]).sum(axis=1),
        events=(events[None, :] == times[:, None]).sum(axis=1),
        censored=(censored[None, :] == times[:, None]).sum(axis=1),
    )


def logrank(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]) -> float:
    """Two-sided log-rank p-value of two (event times, censoring times) samples; NaN when
    neither has an event (nothing to compare)."""
    from scipy import stats

    if not len(first[0]) and not len(second[0]):
        return np.nan
    with _quiet():
        result = stats.logrank(_censored_data(*first), _censored_data(*second))
    return float(result.pvalue)
