"""Tables -> the numbers a reader quotes: onsets, final rates, seed means, per-arm stats.

Everything here reads the full-resolution `series` table; charts may thin their lines
for display, but no number on the page comes from thinned data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from report.tables import arm_order


def onset_step(steps: np.ndarray, hack: np.ndarray) -> int | None:
    """First step whose RAW hack value is > 0, or None if the run never hacks.

    Computed on the unsmoothed series: the EMA would blur the very step we mark.
    """
    hits = np.flatnonzero(np.asarray(hack, dtype=float) > 0)
    return int(np.asarray(steps)[hits[0]]) if len(hits) else None


def _metric(series: pd.DataFrame, metric: str) -> pd.DataFrame:
    return series[series["metric"] == metric]


def run_onsets(series: pd.DataFrame) -> dict[str, int]:
    """run -> onset step, for the runs that hack (series rows are in step order)."""
    hacking = _metric(series, "hack")
    hacking = hacking[hacking["value"] > 0]
    first = hacking.groupby("run", sort=False)["step"].min()
    return {run: int(step) for run, step in first.items()}


def _last_ema(series: pd.DataFrame, metric: str) -> pd.Series:
    """run -> the EMA value at the run's last step: where its line ends."""
    rows = _metric(series, metric)
    if not len(rows):
        return pd.Series(dtype=float)
    last = rows.loc[rows.groupby("run", sort=False)["step"].idxmax()]
    return last.set_index("run")["ema"]


def run_summary(runs: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """One row per run: run, arm, seed, steps, onset_step, final_hack, final_solve."""
    onsets = run_onsets(series)
    table = runs[["run", "arm", "seed", "steps"]].copy()
    table["onset_step"] = pd.array([onsets.get(r) for r in table["run"]], dtype="Int64")
    for metric in ("hack", "solve"):
        finals = _last_ema(series, metric)
        table[f"final_{metric}"] = [float(finals.get(r, np.nan)) for r in table["run"]]
    return table.reset_index(drop=True)


def mean_onsets(runs: pd.DataFrame, series: pd.DataFrame) -> dict[str, float]:
    """arm -> mean of its seeds' onsets (only seeds that hack); arms that never hack are absent."""
    onsets = run_onsets(series)
    result: dict[str, float] = {}
    for arm, members in runs.groupby("arm", sort=False)["run"]:
        steps = [onsets[r] for r in members if r in onsets]
        if steps:
            result[str(arm)] = float(np.mean(steps))
    return result


def seed_means(runs: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (arm, metric, step), aligned by step over the seeds present.

    The reference truncated every arm to its shortest seed; averaging the seeds that
    reached a step is what readers expect. Columns: arm, metric, step, value, ema, seeds.
    """
    merged = series.merge(runs[["run", "arm"]], on="run", how="left", sort=False)
    grouped = merged.groupby(["arm", "metric", "step"], sort=False)
    means = grouped.agg(value=("value", "mean"), ema=("ema", "mean"), seeds=("run", "size"))
    means = means.reset_index()
    rank = {a: i for i, a in enumerate(arm_order(runs["arm"]))}
    metric_rank = {m: i for i, m in enumerate(("hack", "solve", "teacher", "student"))}
    means["_a"] = means["arm"].map(rank)
    means["_m"] = means["metric"].map(metric_rank)
    means = means.sort_values(["_a", "_m", "step"], kind="stable").drop(columns=["_a", "_m"])
    return means.reset_index(drop=True)


def _mean_sd(values: pd.Series) -> tuple[float, float]:
    clean = values.dropna().astype(float)
    if clean.empty:
        return (np.nan, np.nan)
    sd = float(clean.std(ddof=1)) if len(clean) > 1 else np.nan
    return (float(clean.mean()), sd)


def arm_summary(runs: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """One row per arm, in chart order: seeds, onset mean/sd and never-hacked count,
    final hack and final solve mean/sd (sample sd, ddof=1; NaN with one seed)."""
    per_run = run_summary(runs, series)
    rows = []
    for arm in arm_order(per_run["arm"]):
        members = per_run[per_run["arm"] == arm]
        onset_mean, onset_sd = _mean_sd(members["onset_step"])
        hack_mean, hack_sd = _mean_sd(members["final_hack"])
        solve_mean, solve_sd = _mean_sd(members["final_solve"])
        rows.append(
            {
                "arm": arm,
                "runs": len(members),
                "seeds": members["seed"].nunique(dropna=False),
                "onset_mean": onset_mean,
                "onset_sd": onset_sd,
                "never_hacked": int(members["onset_step"].isna().sum()),
                "final_hack_mean": hack_mean,
                "final_hack_sd": hack_sd,
                "final_solve_mean": solve_mean,
                "final_solve_sd": solve_sd,
            }
        )
    return pd.DataFrame(rows)
