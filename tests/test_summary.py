"""summary: onsets, finals, seed means and per-arm statistics, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from report.errors import ReportError
from report.summary import (
    OnsetRule,
    arm_summary,
    choose_baseline,
    comparisons,
    mean_onsets,
    onset_aligned,
    onset_step,
    run_onsets,
    run_summary,
    seed_means,
    summarize,
    time_to_hack,
)
from report.tables import ema


def test_onset_step_uses_raw_values() -> None:
    steps = np.array([10, 11, 12, 13])
    assert onset_step(steps, np.array([0.0, np.nan, 0.0, 0.25])) == 13
    assert onset_step(steps, np.array([0.0, 0.0, 0.0, 0.0])) is None
    assert onset_step(steps, np.array([np.nan] * 4)) is None


def test_onset_rule_threshold_and_patience_by_hand() -> None:
    steps = np.arange(8)
    hack = np.array([0.0, 0.1, 0.0, 0.3, 0.4, np.nan, 0.5, 0.2])
    assert onset_step(steps, hack) == 1  # the reference: the first value above 0
    assert onset_step(steps, hack, OnsetRule(threshold=0.25)) == 3
    # Above 0.25 at 3, 4, (5 not measured), 6: three measured steps in a row from 3.
    assert onset_step(steps, hack, OnsetRule(threshold=0.25, patience=3)) == 3
    assert onset_step(steps, hack, OnsetRule(threshold=0.25, patience=4)) is None
    assert onset_step(steps, hack, OnsetRule(threshold=0.35, patience=2)) == 4
    assert onset_step(steps, hack, OnsetRule(threshold=0.45, patience=2)) is None
    for bad in ({"threshold": 1.0}, {"threshold": -0.1}, {"patience": 0}):
        with pytest.raises(ReportError):
            OnsetRule(**bad)  # type: ignore[arg-type]


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two vanilla seeds of different length and one routing seed that never hacks."""
    runs = pd.DataFrame(
        {
            "run": ["a", "b", "c"],
            "arm": ["vanilla", "vanilla", "routing"],
            "seed": pd.array([1, 2, 1], dtype="Int64"),
            "steps": [4, 2, 3],
        }
    )
    raw = {
        ("a", "hack"): [0.0, 0.0, 0.5, 1.0],
        ("a", "solve"): [0.5, 0.5, 0.5, 0.5],
        ("b", "hack"): [0.0, 0.25],
        ("b", "solve"): [1.0, 0.0],
        ("c", "hack"): [0.0, np.nan, 0.0],
        ("c", "solve"): [0.2, np.nan, np.nan],
    }
    rows = []
    for (run, metric), values in raw.items():
        smoothed = ema(np.array(values))
        for step, (v, e) in enumerate(zip(values, smoothed, strict=True)):
            rows.append({"run": run, "step": step, "metric": metric, "value": v, "ema": e})
    return runs, pd.DataFrame(rows)


def test_run_summary_by_hand() -> None:
    runs, series = _tables()
    table = run_summary(runs, series)
    assert list(table["onset_step"].astype("object").where(table["onset_step"].notna(), None)) == [
        2,
        1,
        None,
    ]
    # a: hack EMA 0, 0, 0.5/3, 1/3 + (0.5/3)*(2/3); b: 0, 0.25/3; c: 0, 0, 0.
    assert table["final_hack"].tolist() == pytest.approx([1 / 3 + 1 / 9, 0.25 / 3, 0.0])
    # c's solve holds its only value through the missing steps.
    assert table["final_solve"].tolist() == pytest.approx([0.5, 1 / 3 * 0 + 2 / 3 * 1.0, 0.2])


def test_mean_onsets_skip_seeds_that_never_hack() -> None:
    runs, series = _tables()
    assert mean_onsets(runs, series) == {"vanilla": 1.5}


def test_seed_mean_aligned_by_step_over_seeds_present() -> None:
    runs, series = _tables()
    means = seed_means(runs, series)
    hack = means[(means.arm == "vanilla") & (means.metric == "hack")]
    assert list(hack["step"]) == [0, 1, 2, 3]
    # steps 0-1 average both seeds; steps 2-3 only seed a (not truncated to b's length).
    assert hack["ema"].tolist() == pytest.approx([0.0, 0.25 / 6, 0.5 / 3, 1 / 3 + 1 / 9])
    assert hack["seeds"].tolist() == [2, 2, 1, 1]
    assert list(means["arm"].unique()) == ["vanilla", "routing"]


def test_arm_summary_by_hand() -> None:
    runs, series = _tables()
    table = arm_summary(runs, series).set_index("arm")
    assert list(table.index) == ["vanilla", "routing"]
    assert table.loc["vanilla", "seeds"] == 2
    assert table.loc["vanilla", "onset_mean"] == pytest.approx(1.5)
    assert table.loc["vanilla", "onset_sd"] == pytest.approx(np.std([2, 1], ddof=1))
    assert table.loc["vanilla", "never_hacked"] == 0
    finals = [1 / 3 + 1 / 9, 0.25 / 3]
    assert table.loc["vanilla", "final_hack_mean"] == pytest.approx(np.mean(finals))
    assert table.loc["vanilla", "final_hack_sd"] == pytest.approx(np.std(finals, ddof=1))
    assert table.loc["routing", "never_hacked"] == 1
    assert np.isnan(table.loc["routing", "onset_mean"])
    assert np.isnan(table.loc["routing", "final_hack_sd"])  # one seed: no spread


def _held_rows(runs: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Each seed's rows on its arm's steps within its own range, its latest row at or
    before each step held there (the definition of seed_means' alignment), with its arm;
    runs in order of first appearance, each line in step order."""
    merged = series.merge(runs[["run", "arm"]], on="run", how="left", sort=False)
    order = {r: i for i, r in enumerate(pd.unique(merged["run"]))}
    merged = merged.assign(_r=merged["run"].map(order)).sort_values(
        ["_r", "metric", "step"], kind="stable")
    grids = merged.groupby(["arm", "metric"])["step"].unique()
    held = []
    for (_, metric), rows in merged.groupby(["_r", "metric"], sort=True):
        grid = np.sort(grids[(rows["arm"].iloc[0], metric)])
        grid = grid[(grid >= rows["step"].min()) & (grid <= rows["step"].max())]
        line = rows.set_index("step").reindex(grid, method="ffill")
        held.append(line.rename_axis("step").reset_index())
    return pd.concat(held, ignore_index=True).drop(columns="_r")


def _plain_seed_means(runs: pd.DataFrame, series: pd.DataFrame, *,
                      held: bool = True) -> pd.DataFrame:
    """seed_means by its definition, with pandas alone (slow, obviously right): the
    group means of the held rows (`held=False`: of the rows as logged)."""
    merged = (_held_rows(runs, series) if held else
              series.merge(runs[["run", "arm"]], on="run", how="left", sort=False))
    means = (
        merged.groupby(["arm", "metric", "step"], sort=False)
        .agg(value=("value", "mean"), ema=("ema", "mean"), seeds=("run", "size"))
        .reset_index()
    )
    arm_rank = {a: i for i, a in enumerate(["vanilla", "routing"])}
    metric_rank = {m: i for i, m in enumerate(["hack", "solve", "teacher", "student"])}
    means = means.assign(_a=means["arm"].map(arm_rank), _m=means["metric"].map(metric_rank))
    means = means.sort_values(["_a", "_m", "step"], kind="stable")
    return means.drop(columns=["_a", "_m"]).reset_index(drop=True)


@pytest.mark.parametrize("order", ["tables", "shuffled", "gaps", "odd_even"])
def test_seed_means_are_the_plain_group_means_to_the_bit(order: str) -> None:
    rng = np.random.default_rng(7)
    runs = pd.DataFrame({"run": [f"r{i}" for i in range(6)],
                         "arm": ["vanilla"] * 4 + ["routing"] * 2})
    rows = []
    for number, run in enumerate(runs["run"]):
        steps = {"gaps": np.sort(rng.choice(10**6, 50, replace=False)),
                 "odd_even": np.arange(50) * 2 + number % 2 + number // 2}.get(order,
                                                                            np.arange(50))
        for metric in ("hack", "solve"):
            values = rng.random(50) * 10.0 ** rng.integers(-8, 9, 50)  # sums that round
            values[rng.random(50) < 0.2] = np.nan
            rows += [(run, int(s), metric, v, v / 3) for s, v in zip(steps, values, strict=True)]
    series = pd.DataFrame(rows, columns=["run", "step", "metric", "value", "ema"])
    if order == "shuffled":
        series = series.sample(frac=1, random_state=1).reset_index(drop=True)
    got = seed_means(runs, series)
    plain = _plain_seed_means(runs, series)
    pd.testing.assert_frame_equal(got[list(plain.columns)], plain, check_exact=True)
    _assert_plain_bands(got, _held_rows(runs, series))
    if order == "tables":  # one grid: nothing is held, the plain means of the rows logged
        logged = _plain_seed_means(runs, series, held=False)
        pd.testing.assert_frame_equal(got[list(logged.columns)], logged, check_exact=True)


def test_seeds_on_even_and_odd_steps_by_hand() -> None:
    """Seed a logs steps 0, 2, 4, 6 (EMA 0, .2, .4, .6), seed b steps 1, 3, 5, 7 (EMA .1,
    .3, .5, .7): at each step the mean is of a's and b's latest values, each only within
    its own steps 0-6 and 1-7."""
    runs = pd.DataFrame({"run": ["a", "b"], "arm": ["vanilla"] * 2})
    rows = [("a", 2 * k, 0.2 * k) for k in range(4)] + [("b", 2 * k + 1, 0.2 * k + 0.1)
                                                         for k in range(4)]
    series = pd.DataFrame([(r, s, "hack", v, v) for r, s, v in rows],
                          columns=["run", "step", "metric", "value", "ema"])
    series.loc[(series["run"] == "b") & (series["step"] == 3), "value"] = np.nan
    means = seed_means(runs, series).set_index("step")
    assert means.index.tolist() == list(range(8))
    # 0: a alone (b starts at 1); 1: a's 0 and b's .1; 2: a's .2 and b's .1; ... 7: b alone.
    expected = [0.0, 0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.7]
    assert means["ema"].tolist() == pytest.approx(expected)
    assert means["seeds"].tolist() == [1, 2, 2, 2, 2, 2, 2, 1]
    # The band at step 3: a's .2 and b's .3 -> min-max .2-.3, sd .1/sqrt 2, t(0.975, 1)
    # = 12.706: half-width 12.706 * .05.
    assert (means.loc[3, "ema_min"], means.loc[3, "ema_max"]) == pytest.approx((0.2, 0.3))
    half = (means.loc[3, "ema_ci_high"] - means.loc[3, "ema_ci_low"]) / 2
    assert half == pytest.approx(12.706 * 0.05, abs=1e-3)
    assert np.isnan(means.loc[0, "ema_min"]) and np.isnan(means.loc[7, "ema_ci_low"])
    # The raw values hold each seed's row too: b's raw value at 3 is missing, so at 3
    # and 4 only a's raw .2 counts (b still counts as a seed present: its EMA does).
    assert means.loc[3, "value"] == pytest.approx(0.2)
    assert means.loc[4, "value"] == pytest.approx(0.4)
    assert np.isnan(means.loc[4, "value_min"])
    assert means.loc[5, "value"] == pytest.approx(0.45)


def _total_variation(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.abs(np.diff(values)).sum())


def test_seeds_on_other_step_grids_give_a_smooth_mean_with_the_simulator(tmp_path) -> None:
    """Four simulated seeds logging every 2 steps, two from step 0 and two from step 1:
    the mean of their smoothed hack rates moves no more than a seed's own line does
    (one jumping between two pairs of seeds would move far more)."""
    from report import load_sweep
    from tests.simulate import simulate_sweep, write_sweep

    for seed in (1, 2, 3, 4):
        write_sweep(tmp_path, simulate_sweep(("vanilla",), (seed,), 600, log_every=2,
                                             log_offset=seed % 2))
    sweep = load_sweep(str(tmp_path))
    means = seed_means(sweep.runs, sweep.series)
    for metric in ("hack", "teacher"):
        line = means[means["metric"] == metric].sort_values("step")
        assert (np.diff(line["step"]) == 1).all()
        assert (line["seeds"].iloc[1:-1] == 4).all()
        rows = sweep.series[sweep.series["metric"] == metric]
        own = [_total_variation(r.sort_values("step")["ema"].to_numpy())
               for _, r in rows.groupby("run", observed=True)]
        assert _total_variation(line["ema"].to_numpy()) <= 1.1 * float(np.mean(own))


# t(0.975, df) from a printed table, by the number of values n = df + 1.
T_TABLE = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776}


def _assert_plain_bands(got: pd.DataFrame, merged: pd.DataFrame) -> None:
    """The band columns by their definition, with pandas and the printed t table, from
    the held rows (`_held_rows`)."""
    for column in ("value", "ema"):
        spread = merged.groupby(["arm", "metric", "step"])[column].agg(
            ["count", "std", "min", "max", "mean"])
        rows = got.set_index(["arm", "metric", "step"]).loc[spread.index]
        n = spread["count"].to_numpy()
        quantile = np.array([T_TABLE.get(k, np.nan) for k in n])
        half = quantile * spread["std"].to_numpy() / np.sqrt(n)
        low, high = rows[f"{column}_ci_low"].to_numpy(), rows[f"{column}_ci_high"].to_numpy()
        # The table's 3 decimals: the half-width to 2e-4, the centre to rounding.
        np.testing.assert_allclose((high - low) / 2, half, rtol=2e-4)
        np.testing.assert_allclose((high + low) / 2, spread["mean"].where(n >= 2), rtol=1e-9)
        for name in ("min", "max"):
            np.testing.assert_array_equal(rows[f"{column}_{name}"].to_numpy(),
                                          spread[name].where(n >= 2).to_numpy(dtype=float))


def test_precomputed_parts_give_the_same_tables() -> None:
    from report.summary import run_onsets

    runs, series = _tables()
    onsets = run_onsets(series)
    per_run = run_summary(runs, series, onsets=onsets)
    pd.testing.assert_frame_equal(per_run, run_summary(runs, series))
    pd.testing.assert_frame_equal(
        arm_summary(runs, series, per_run=per_run), arm_summary(runs, series)
    )
    assert mean_onsets(runs, series, onsets=onsets) == mean_onsets(runs, series)


def test_run_onsets_with_a_rule() -> None:
    runs, series = _tables()
    assert run_onsets(series) == {"a": 2, "b": 1}
    # b's 0.25 is not above 0.3; a's 0.5 is.
    assert run_onsets(series, OnsetRule(threshold=0.3)) == {"a": 2}
    # Two measured steps above 0 in a row: a has 0.5 then 1.0 (from 2); b only its last.
    assert run_onsets(series, OnsetRule(patience=2)) == {"a": 2}
    table = run_summary(runs, series, rule=OnsetRule(patience=2))
    assert table["onset_step"].isna().tolist() == [False, True, True]


def test_last_measured_step_is_where_a_seed_that_never_hacks_is_censored() -> None:
    runs, series = _tables()
    series = series.copy()
    series.loc[(series["run"] == "c") & (series["metric"] == "hack") & (series["step"] == 2),
               "value"] = np.nan  # c's hack rate was last measured at step 0
    table = run_summary(runs, series).set_index("run")
    assert table["last_measured_step"].tolist() == [3, 1, 0]


def _band_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three vanilla seeds: 0.1, 0.2, 0.6 at step 0; at step 1 only one measured value."""
    runs = pd.DataFrame({"run": ["r1", "r2", "r3"], "arm": ["vanilla"] * 3,
                         "seed": pd.array([1, 2, 3], dtype="Int64"), "steps": [2, 2, 1]})
    rows = [("r1", 0, 0.1), ("r1", 1, 0.5), ("r2", 0, 0.2), ("r2", 1, np.nan), ("r3", 0, 0.6)]
    series = pd.DataFrame([(run, step, "hack", v, v) for run, step, v in rows],
                          columns=["run", "step", "metric", "value", "ema"])
    return runs, series


def test_seed_mean_bands_by_hand() -> None:
    runs, series = _band_tables()
    means = seed_means(runs, series).set_index("step")
    # Step 0: mean 0.3, sd sqrt(0.07), t(0.975, 2) = 4.303 -> 0.3 +- 4.303 sqrt(0.07/3)
    # (the printed quantile has 3 decimals: good to 1e-4 here).
    half = 4.303 * np.sqrt(0.07 / 3)
    for column in ("value", "ema"):
        assert means.loc[0, column] == pytest.approx(0.3)
        assert means.loc[0, f"{column}_ci_low"] == pytest.approx(0.3 - half, abs=1e-4)
        assert means.loc[0, f"{column}_ci_high"] == pytest.approx(0.3 + half, abs=1e-4)
        assert (means.loc[0, f"{column}_min"], means.loc[0, f"{column}_max"]) == (0.1, 0.6)
        # Step 1: one value (r2 missing, r3 ended): a mean, no band.
        assert means.loc[1, column] == 0.5
        assert means.loc[1, [f"{column}_{b}" for b in ("ci_low", "ci_high", "min", "max")]
                         ].isna().all()
    assert means["seeds"].tolist() == [3, 2]


def test_arm_summary_intervals_and_time_to_hack() -> None:
    runs, series = _tables()
    table = arm_summary(runs, series).set_index("arm")
    finals = np.array([1 / 3 + 1 / 9, 0.25 / 3])
    # Two seeds: t(0.975, 1) = 12.706, sd / sqrt(2) = |a - b| / 2.
    half = 12.706 * abs(finals[0] - finals[1]) / 2
    assert table.loc["vanilla", "final_hack_ci_low"] == pytest.approx(finals.mean() - half,
                                                                       rel=1e-4)
    assert table.loc["vanilla", "final_hack_ci_high"] == pytest.approx(finals.mean() + half,
                                                                        rel=1e-4)
    assert table.loc["vanilla", "hacked"] == 2 and table.loc["routing", "hacked"] == 0
    # Onsets 2 and 1: half have hacked by step 1.
    assert table.loc["vanilla", "median_onset_km"] == 1
    assert np.isnan(table.loc["routing", "median_onset_km"])
    assert np.isnan(table.loc["routing", "final_hack_ci_low"])  # one seed: no interval
    for column in ("arm", "seeds", "hacked", "final_hack_mean", "final_hack_ci_low",
                   "final_hack_ci_high", "final_solve_mean", "final_solve_ci_low",
                   "final_solve_ci_high", "median_onset_km"):
        assert column in table.reset_index().columns


def _per_run(arm: str, onsets: list[float | None], last: list[int],
             finals: list[float] | None = None) -> pd.DataFrame:
    n = len(onsets)
    finals = finals if finals is not None else [np.nan] * n
    return pd.DataFrame({
        "run": [f"{arm}{i}" for i in range(n)], "arm": arm, "seed": pd.array(range(n),
                                                                              dtype="Int64"),
        "steps": last, "onset_step": pd.array(onsets, dtype="Int64"),
        "final_hack": finals + [np.nan] * (n - len(finals)),
        "final_solve": finals + [np.nan] * (n - len(finals)),
        "last_measured_step": pd.array(last, dtype="Int64"),
    })


def test_time_to_hack_counts_seeds_that_never_hack_as_censored() -> None:
    # Four seeds: onsets at 10 and 30; one stopped at 20 and one ran to 50 without hacking.
    # The mean onset of the hacking seeds says 20; half hacked, so a naive median says 10-30.
    # Kaplan-Meier: S = 3/4 after 10 (4 at risk), 3/4 * 1/2 after 30 (2 at risk).
    per_run = _per_run("vanilla", [10, None, 30, None], [60, 20, 60, 50])
    km = time_to_hack(per_run)
    # The curve starts at step 0 and holds to the arm's last measured step (60).
    assert km["step"].tolist() == [0, 10, 20, 30, 50, 60]
    assert km["share"].tolist() == pytest.approx([0, 1 / 4, 1 / 4, 5 / 8, 5 / 8, 5 / 8])
    assert km["at_risk"].tolist() == [4, 4, 3, 2, 1, 0]
    assert km["hacked"].tolist() == [0, 1, 0, 1, 0, 0]
    assert km["censored"].tolist() == [0, 0, 1, 0, 1, 0]
    assert arm_summary(None, None, per_run=per_run)["median_onset_km"].item() == 30


SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
MP = ([6, 6, 6, 7, 10, 13, 16, 22, 23], [6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35])
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def test_comparisons_welch_logrank_and_holm_from_published_examples() -> None:
    """routing = the sleep data's group 1 and the 6-MP arm, vanilla = group 2 and placebo
    (tests/test_inference.py names the sources); static erasure has one seed."""
    per_run = pd.concat([
        _per_run("vanilla", PLACEBO, [40] * 21, SLEEP_2),
        _per_run("routing", MP[0] + [None] * 12, MP[0] + MP[1], SLEEP_1),
        _per_run("static erasure", [5], [40], [0.5]),
    ], ignore_index=True)
    table = comparisons(per_run, "vanilla")
    assert list(table.columns[:8]) == ["arm", "baseline", "metric", "diff", "ci_low",
                                       "ci_high", "p", "p_holm"]
    rows = table.set_index(["arm", "metric"])
    for metric in ("final_hack", "final_solve"):
        row = rows.loc[("routing", metric)]
        assert row["diff"] == pytest.approx(0.75 - 2.33)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((-3.3654832, 0.2054832),
                                                                abs=5e-8)
        assert row["p"] == pytest.approx(0.07939, abs=5e-6)
        assert (row["seeds"], row["baseline_seeds"]) == (10, 10)
    ttl = rows.loc[("routing", "time_to_hack")]
    assert ttl["p"] == pytest.approx(4.17e-5, rel=2e-3)  # log-rank chi-square 16.79
    assert ttl["diff"] == 23 - 8  # the published medians
    assert np.isnan(ttl["ci_low"]) and (ttl["seeds"], ttl["baseline_seeds"]) == (21, 21)
    # Holm over the three tests: 3 x 4.17e-5, then 2 x 0.07939 for both Welch rows.
    assert ttl["p_holm"] == pytest.approx(3 * 4.17e-5, rel=2e-3)
    assert rows.loc[("routing", "final_hack"), "p_holm"] == pytest.approx(2 * 0.07939, abs=1e-5)
    assert rows.loc[("routing", "final_solve"), "p_holm"] == pytest.approx(2 * 0.07939, abs=1e-5)
    for metric in ("final_hack", "final_solve", "time_to_hack"):
        row = rows.loc[("static erasure", metric)]
        assert row["note"] == "too_few_seeds" and np.isnan(row["p"]) and np.isnan(row["p_holm"])
        assert np.isnan(row["diff"])
    assert (table["baseline"] == "vanilla").all()


def test_baseline_is_vanilla_else_the_first_arm_or_the_one_asked_for() -> None:
    assert choose_baseline(["vanilla", "routing"]) == "vanilla"
    assert choose_baseline(["static erasure", "routing"]) == "static erasure"
    assert choose_baseline(["vanilla", "routing"], "routing") == "routing"
    with pytest.raises(ReportError, match=r"'nope'.*vanilla, routing"):
        choose_baseline(["vanilla", "routing"], "nope")


def test_onset_aligned_rows_are_steps_from_each_seeds_onset() -> None:
    runs, series = _tables()
    cos = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 2 + ["c"] * 3, "metric": "teacher",
                        "step": [0, 1, 2, 3, 0, 1, 0, 1, 2], "value": np.arange(9) / 10})
    cos["ema"] = cos["value"]
    aligned = onset_aligned(pd.concat([series, cos], ignore_index=True), {"a": 2, "b": 1}, 1)
    # a: onset 2, steps 1-3; b: onset 1, steps 0-1 (its last); c never hacked: absent.
    assert list(zip(aligned["run"], aligned["step"], aligned["value"], strict=True)) == [
        ("a", -1, 0.1), ("a", 0, 0.2), ("a", 1, 0.3), ("b", -1, 0.4), ("b", 0, 0.5)]
    assert set(aligned["metric"]) == {"teacher"}


def test_summarize_takes_the_rule_and_the_baseline() -> None:
    runs, series = _tables()
    numbers = summarize(runs, series, rule=OnsetRule(threshold=0.3))
    assert numbers.onsets == {"a": 2} and numbers.rule.threshold == 0.3
    assert numbers.baseline == "vanilla"
    assert set(numbers.comparisons["note"]) == {"too_few_seeds"}  # routing has one seed
    assert summarize(runs, series, baseline="routing").baseline == "routing"
    with pytest.raises(ReportError, match="vanilla, routing"):
        summarize(runs, series, baseline="online erasure")


def test_every_number_per_group() -> None:
    """Grouped by another key, a group holds the runs of several arms: its seed mean is
    over all of them (two runs of one seed are two replicates), its tables' first column
    is `group`, and its baseline may be a group per group."""
    from report.groups import group_runs, grouping

    runs, series = _tables()
    runs["lr"] = ["1e-05", "1e-05", "3e-05"]
    grouped = group_runs(runs, ["lr"])
    numbers = summarize(grouped, series, groups=grouping(grouped, ["lr"]))
    assert numbers.by == "group" and numbers.group_keys == ("lr",)
    assert list(numbers.per_arm["group"]) == ["lr=1e-05", "lr=3e-05"]
    assert list(numbers.per_arm["seeds"]) == [2, 1]  # runs a and b; run c
    assert list(numbers.per_run.columns[:3]) == ["run", "group", "arm"]
    hack = numbers.means[(numbers.means["group"] == "lr=1e-05")
                         & (numbers.means["metric"] == "hack")]
    assert hack["ema"].tolist() == pytest.approx([0.0, 0.25 / 6, 0.5 / 3, 1 / 3 + 1 / 9])
    assert numbers.baseline == "lr=1e-05" and numbers.baselines == {"lr=3e-05": "lr=1e-05"}
    assert list(numbers.comparisons["group"].unique()) == ["lr=3e-05"]
    assert list(numbers.km.columns[:2]) == ["group", "step"]
    # One comparison table, a baseline per group.
    paired = comparisons(numbers.per_run, {"lr=3e-05": "lr=1e-05", "lr=1e-05": "lr=3e-05"},
                         "group")
    assert list(zip(paired["group"], paired["baseline"], strict=True))[::3] == [
        ("lr=1e-05", "lr=3e-05"), ("lr=3e-05", "lr=1e-05")]
