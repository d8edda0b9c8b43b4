"""inference: every statistic against a published or hand-worked example, never against
scipy itself (scipy computes them; these numbers come from the literature)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from report import inference

# Student's sleep data (Cushny & Peebles 1905), R's `sleep`: extra hours of sleep with two
# drugs. R's documented `t.test(extra ~ group, data = sleep)` (Welch, the default) prints
#   t = -1.8608, df = 17.776, p-value = 0.07939
#   95 percent confidence interval: -3.3654832  0.2054832
#   mean in group 1 0.75, mean in group 2 2.33
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

# Freireich et al. (1963), the 6-MP leukemia remission trial (Gehan 1965): weeks in
# remission; the textbook Kaplan-Meier and log-rank example (Kleinbaum & Klein, Survival
# Analysis, ch. 2; Cox & Oakes 1984, table 1.1).
MP_RELAPSED = [6, 6, 6, 7, 10, 13, 16, 22, 23]
MP_CENSORED = [6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
# The published 6-MP table: time, at risk, relapses, S(t).
MP_TABLE = [
    (6, 21, 3, 0.857),
    (7, 17, 1, 0.807),
    (10, 15, 1, 0.753),
    (13, 12, 1, 0.690),
    (16, 11, 1, 0.627),
    (22, 7, 1, 0.538),
    (23, 6, 1, 0.448),
]


def test_t_interval_by_the_printed_t_table() -> None:
    # 1, 2, 3: mean 2, sd 1; t(0.975, 2) = 4.303 -> 2 +- 4.303 / sqrt(3).
    mean, low, high = inference.t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert (high - low) / 2 == pytest.approx(4.303 / math.sqrt(3), rel=2e-4)
    # 0.2, 0.4: mean 0.3, sd 0.1414; t(0.975, 1) = 12.706 -> 0.3 +- 12.706 * 0.1.
    mean, low, high = inference.t_interval([0.2, 0.4, np.nan])
    assert mean == pytest.approx(0.3)
    assert (low, high) == pytest.approx((0.3 - 1.2706, 0.3 + 1.2706), rel=1e-4)
    # Four values: t(0.975, 3) = 3.182; five: t(0.975, 4) = 2.776.
    assert inference.t_half_width(1.0, 4) == pytest.approx(3.182 / 2, rel=2e-4)
    assert inference.t_half_width(1.0, 5) == pytest.approx(2.776 / math.sqrt(5), rel=2e-4)
    # One value: a mean without an interval; none: nothing.
    assert inference.t_interval([0.5])[0] == 0.5 and np.isnan(inference.t_interval([0.5])[1])
    assert np.isnan(inference.t_interval([])[0])
    assert np.isnan(inference.t_half_width(1.0, 1))


def test_welch_is_r_on_the_sleep_data() -> None:
    result = inference.welch(SLEEP_1, SLEEP_2)
    assert result.diff == pytest.approx(0.75 - 2.33)
    assert result.p == pytest.approx(0.07939, abs=5e-6)
    assert result.low == pytest.approx(-3.3654832, abs=5e-8)
    assert result.high == pytest.approx(0.2054832, abs=5e-8)
    assert result.note == ""
    # The other way round: the same test, the difference and interval mirrored.
    back = inference.welch(SLEEP_2, SLEEP_1)
    assert (back.low, back.high) == pytest.approx((-0.2054832, 3.3654832), abs=5e-8)
    assert back.p == pytest.approx(result.p)


def test_welch_says_why_it_has_no_numbers() -> None:
    one = inference.welch([0.5], [0.1, 0.2, 0.3])
    assert one.note == inference.TOO_FEW_SEEDS and np.isnan(one.diff) and np.isnan(one.p)
    flat = inference.welch([0.0, 0.0, 0.0], [0.0, 0.0])
    assert flat.note == inference.NO_SPREAD and flat.diff == 0.0 and np.isnan(flat.p)
    # One side constant is still a test: the other side's spread carries it (df = 2).
    # Hand: diff 0.9, se = 0.1 / sqrt(3), t = 15.588; t(2)'s two-sided tail has the closed
    # form 1 - t / sqrt(2 + t^2) = 0.00409.
    half = inference.welch([1.0, 1.0, 1.0], [0.0, 0.1, 0.2])
    assert half.diff == pytest.approx(0.9) and half.p == pytest.approx(0.00409, abs=5e-6)
    assert (half.high - half.low) / 2 == pytest.approx(4.303 * 0.1 / math.sqrt(3), rel=2e-4)


def test_holm_is_the_worked_examples() -> None:
    # Holm-Bonferroni's textbook example (four hypotheses, alpha 0.05): p = 0.01, 0.04,
    # 0.03, 0.005 -> ordered 0.005*4, 0.01*3, 0.03*2, 0.04*1 = 0.02, 0.03, 0.06, 0.04,
    # made monotone: 0.02, 0.03, 0.06, 0.06 (H1 and H4 rejected at 0.05, H2 and H3 not).
    adjusted = inference.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") = 0.05 0.08 0.09 0.09 0.09.
    assert inference.holm([0.01, 0.02, 0.03, 0.04, 0.05]).tolist() == pytest.approx(
        [0.05, 0.08, 0.09, 0.09, 0.09])
    # Capped at 1; rows without a test stay empty and do not count in m.
    adjusted = inference.holm([0.4, np.nan, 0.6])
    assert adjusted[0] == pytest.approx(0.8) and np.isnan(adjusted[1]) and adjusted[2] == 0.8
    assert inference.holm([0.7, 0.9]).tolist() == [1.0, 1.0]
    assert inference.holm([]).tolist() == []


def test_kaplan_meier_is_the_published_6mp_table() -> None:
    curve = inference.kaplan_meier(MP_RELAPSED, MP_CENSORED)
    at = {int(t): n for n, t in enumerate(curve.times)}
    for time, at_risk, relapses, survival in MP_TABLE:
        n = at[time]
        assert curve.at_risk[n] == at_risk, time
        assert curve.events[n] == relapses, time
        assert 1 - curve.share[n] == pytest.approx(survival, abs=5e-4), time
    # Censored times are rows too (a censored remission at 6, a tie: relapses first).
    assert curve.censored[at[6]] == 1 and curve.censored[at[32]] == 2
    assert curve.share[at[35]] == pytest.approx(1 - 0.448, abs=5e-4)  # flat after 23
    assert curve.median() == 23  # the published median remission on 6-MP
    placebo = inference.kaplan_meier(PLACEBO, [])
    assert placebo.median() == 8  # and on placebo
    assert placebo.share[-1] == 1.0


def test_kaplan_meier_median_is_missing_below_one_half() -> None:
    # 3 seeds, one hacks at step 10, two watched to 200 without: S = 2/3 from 10 on.
    curve = inference.kaplan_meier([10], [200, 200])
    assert curve.share.tolist() == pytest.approx([1 / 3, 1 / 3])
    assert np.isnan(curve.median())
    # Exactly half by step 20 (4 seeds: hacks at 10 and 20): the median is 20.
    assert inference.kaplan_meier([10, 20], [200, 200]).median() == 20
    assert len(inference.kaplan_meier([], []).times) == 0


def test_logrank_is_the_published_6mp_test() -> None:
    # Log-rank chi-square 16.79 on 1 df (Kleinbaum & Klein; R's survdiff: Chisq = 16.8,
    # p = 4.17e-05).
    p = inference.logrank((np.array(MP_RELAPSED), np.array(MP_CENSORED)),
                          (np.array(PLACEBO), np.array([])))
    chi_square_p = math.erfc(math.sqrt(16.79 / 2))  # upper tail of chi-square(1) at 16.79
    assert p == pytest.approx(chi_square_p, rel=2e-3)
    assert p == pytest.approx(4.17e-5, rel=2e-3)
    # Nothing happened on either side: no test.
    assert np.isnan(inference.logrank((np.array([]), np.array([5.0, 6.0])),
                                      (np.array([]), np.array([4.0]))))
