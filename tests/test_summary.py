"""summary: onsets, finals, seed means and per-arm statistics, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from report.summary import arm_summary, mean_onsets, onset_step, run_summary, seed_means
from report.tables import ema


def test_onset_step_uses_raw_values() -> None:
    steps = np.array([10, 11, 12, 13])
    assert onset_step(steps, np.array([0.0, np.nan, 0.0, 0.25])) == 13
    assert onset_step(steps, np.array([0.0, 0.0, 0.0, 0.0])) is None
    assert onset_step(steps, np.array([np.nan] * 4)) is None


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


def _plain_seed_means(runs: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """seed_means by its definition, with pandas alone (slow, obviously right)."""
    merged = series.merge(runs[["run", "arm"]], on="run", how="left", sort=False)
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


@pytest.mark.parametrize("order", ["tables", "shuffled", "gaps"])
def test_seed_means_are_the_plain_group_means_to_the_bit(order: str) -> None:
    rng = np.random.default_rng(7)
    runs = pd.DataFrame({"run": [f"r{i}" for i in range(6)],
                         "arm": ["vanilla"] * 4 + ["routing"] * 2})
    rows = []
    for run in runs["run"]:
        steps = np.arange(50) if order != "gaps" else np.sort(rng.choice(10**6, 50, replace=False))
        for metric in ("hack", "solve"):
            values = rng.random(50) * 10.0 ** rng.integers(-8, 9, 50)  # sums that round
            values[rng.random(50) < 0.2] = np.nan
            rows += [(run, int(s), metric, v, v / 3) for s, v in zip(steps, values, strict=True)]
    series = pd.DataFrame(rows, columns=["run", "step", "metric", "value", "ema"])
    if order == "shuffled":
        series = series.sample(frac=1, random_state=1).reset_index(drop=True)
    got = seed_means(runs, series)
    pd.testing.assert_frame_equal(got, _plain_seed_means(runs, series), check_exact=True)


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
