"""Tables -> the numbers a reader quotes: onsets, final rates, seed means, per-arm stats.

Everything here reads the full-resolution `series` table; charts may thin their lines
for display, but no number on the page comes from thinned data.

A big sweep's series has millions of rows but only a few hundred lines (run, metric), so
the work is done line by line on numpy slices rather than by grouping millions of
strings; the results are the same numbers, in the same order, as the plain pandas
definitions in the docstrings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from report.parse import METRICS
from report.tables import Lines, arm_order


def onset_step(steps: np.ndarray, hack: np.ndarray) -> int | None:
    """First step whose RAW hack value is > 0, or None if the run never hacks.

    Computed on the unsmoothed series: the EMA would blur the very step we mark.
    """
    hits = np.flatnonzero(np.asarray(hack, dtype=float) > 0)
    return int(np.asarray(steps)[hits[0]]) if len(hits) else None


def _fragmented(lines: Lines) -> bool:
    """Rows in no useful order: too many lines to visit one by one (pandas groups)."""
    return len(lines.starts) > max(4096, int(lines.stops[-1]) // 64 if len(lines.stops) else 0)


def _onsets(series: pd.DataFrame, lines: Lines) -> dict[str, int]:
    if _fragmented(lines):
        hacking = series[(series["metric"] == "hack") & (series["value"] > 0)]
        first = hacking.groupby("run", sort=False)["step"].min()
        return {run: int(step) for run, step in first.items()}
    steps = series["step"].to_numpy()
    hacking = series["value"].to_numpy(dtype=float) > 0
    onsets: dict[str, int] = {}
    for b in lines.of_metric("hack"):
        start, stop = lines.starts[b], lines.stops[b]
        hits = steps[start:stop][hacking[start:stop]]
        if not len(hits):
            continue
        run, first = lines.run[b], int(hits.min())
        if pd.isna(run):
            continue  # groupby drops a missing key
        onsets[run] = min(onsets.get(run, first), first)
    return onsets


def run_onsets(series: pd.DataFrame) -> dict[str, int]:
    """run -> onset step, for the runs that hack: the least step whose raw hack value is
    > 0 (`series[hack > 0].groupby("run")["step"].min()`), in order of first appearance."""
    return _onsets(series, Lines.of(series))


def _last_ema(series: pd.DataFrame, metric: str, lines: Lines) -> dict[str, float]:
    """run -> the EMA value at the run's last step: where its line ends (the first row
    with the run's greatest step, as `idxmax` picks it)."""
    if _fragmented(lines):
        rows = series[series["metric"] == metric]
        last = rows.loc[rows.groupby("run", sort=False)["step"].idxmax()]
        return {run: float(e) for run, e in zip(last["run"], last["ema"], strict=True)}
    steps = series["step"].to_numpy()
    emas = series["ema"].to_numpy(dtype=float)
    best: dict[str, tuple[int, int]] = {}  # run -> (step, row)
    for b in lines.of_metric(metric):
        start, stop = lines.starts[b], lines.stops[b]
        row = start + int(np.argmax(steps[start:stop]))
        run = lines.run[b]
        if pd.isna(run):
            continue
        if run not in best or steps[row] > best[run][0]:
            best[run] = (int(steps[row]), row)
    return {run: float(emas[row]) for run, (_, row) in best.items()}


def run_summary(
    runs: pd.DataFrame, series: pd.DataFrame, *, onsets: Mapping[str, int] | None = None
) -> pd.DataFrame:
    """One row per run: run, arm, seed, steps, onset_step, final_hack, final_solve.

    `onsets` (from `run_onsets(series)`) saves computing them again."""
    lines = Lines.of(series)
    if onsets is None:
        onsets = _onsets(series, lines)
    table = runs[["run", "arm", "seed", "steps"]].copy()
    table["onset_step"] = pd.array([onsets.get(r) for r in table["run"]], dtype="Int64")
    for metric in ("hack", "solve"):
        finals = _last_ema(series, metric, lines)
        table[f"final_{metric}"] = [float(finals.get(r, np.nan)) for r in table["run"]]
    return table.reset_index(drop=True)


def mean_onsets(
    runs: pd.DataFrame, series: pd.DataFrame, *, onsets: Mapping[str, int] | None = None
) -> dict[str, float]:
    """arm -> mean of its seeds' onsets (only seeds that hack); arms that never hack are
    absent. `onsets` (from `run_onsets(series)`) saves computing them again."""
    if onsets is None:
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
    Rows in arm order, then metric (hack, solve, teacher, student), then step.
    """
    arms = arm_order(runs["arm"])
    arm_rank = {a: i for i, a in enumerate(arms)}
    run_arm = dict(zip(runs["run"], runs["arm"], strict=False))  # a repeated run: the last
    lines = Lines.of(series)
    metrics = list(METRICS) + [
        m for m in dict.fromkeys(lines.metric) if m not in METRICS and not pd.isna(m)
    ]
    metric_rank = {m: i for i, m in enumerate(metrics)}
    # One integer code per block, spread over its rows: grouping three integer columns
    # gives the same groups, in the same row order (so the same sums), as grouping the
    # strings, and sorting the codes is the arm, metric, step order asked for.
    def arm_code(run: object) -> int:
        return -1 if pd.isna(run) or run not in run_arm else arm_rank.get(run_arm[run], -1)

    def metric_code(metric: object) -> int:
        return -1 if pd.isna(metric) else metric_rank.get(metric, -1)

    steps = series["step"].to_numpy()
    if _fragmented(lines):  # codes by value, not block by block
        row_arm = _codes(series["run"], arm_code)
        row_metric = _codes(series["metric"], metric_code)
        lines = Lines(np.arange(len(series)), np.arange(1, len(series) + 1),
                       series["run"].to_numpy(), series["metric"].to_numpy())
        line_arm, line_metric = row_arm, row_metric
        dense = None
    else:
        line_arm = np.array([arm_code(r) for r in lines.run], dtype=np.int64)
        line_metric = np.array([metric_code(m) for m in lines.metric], dtype=np.int64)
        dense = _dense_means(
            lines, line_arm, line_metric, steps,
            series["value"].to_numpy(dtype=float), series["ema"].to_numpy(dtype=float),
        )
    lengths = lines.stops - lines.starts
    if dense is not None:
        a_codes, m_codes, mean_steps, mean_values, mean_emas, counts = dense
        means = pd.DataFrame({"a": a_codes, "m": m_codes, "step": mean_steps,
                              "value": mean_values, "ema": mean_emas, "seeds": counts})
    else:
        means = _grouped_means(lines, line_arm, line_metric, lengths, series)
    arm_names = np.array(arms + [None], dtype=object)
    metric_names = np.array(metrics + [None], dtype=object)
    return pd.DataFrame(
        {
            "arm": pd.Series(arm_names[means["a"].to_numpy()], dtype=runs["arm"].dtype),
            "metric": pd.Series(
                metric_names[means["m"].to_numpy()], dtype=series["metric"].dtype
            ),
            "step": means["step"].to_numpy(dtype=steps.dtype),
            "value": means["value"].to_numpy(dtype=float),
            "ema": means["ema"].to_numpy(dtype=float),
            "seeds": means["seeds"].to_numpy(dtype=np.int64),
        }
    )


def _codes(column: pd.Series, code: Callable[[object], int]) -> np.ndarray:
    """`code(value)` for every row, computed once per distinct value."""
    positions, uniques = pd.factorize(column, use_na_sentinel=False)
    table = np.array([code(u) for u in uniques], dtype=np.int64)
    return table[positions] if len(table) else np.zeros(len(column), dtype=np.int64)


def _grouped_means(
    lines: Lines,
    line_arm: np.ndarray,
    line_metric: np.ndarray,
    lengths: np.ndarray,
    series: pd.DataFrame,
) -> pd.DataFrame:
    """The seed means by pandas: group the integer codes (any row order, any steps)."""
    codes = pd.DataFrame(
        {
            "a": np.repeat(line_arm, lengths),
            "m": np.repeat(line_metric, lengths),
            "step": series["step"].to_numpy(),
            "value": series["value"].to_numpy(),
            "ema": series["ema"].to_numpy(),
        }
    )
    codes = codes[(codes["a"] >= 0) & (codes["m"] >= 0)]
    grouped = codes.groupby(["a", "m", "step"], sort=True)
    means = grouped.agg(value=("value", "mean"), ema=("ema", "mean"), seeds=("value", "size"))
    return means.reset_index()


def _dense_means(
    lines: Lines,
    line_arm: np.ndarray,
    line_metric: np.ndarray,
    steps: np.ndarray,
    values: np.ndarray,
    emas: np.ndarray,
) -> tuple[np.ndarray, ...] | None:
    """The seed means without grouping rows: each (arm, metric) holds one slot per step,
    and its lines are added in row order, a whole line at a time.

    The sums are pandas' own (Kahan-compensated, NaN skipped, in row order within a
    group), so the means are the same to the last bit. Only for the tables' usual shape:
    steps rising within each block and spanning no more than a few times the rows;
    None otherwise (the caller groups with pandas).
    """
    keep = (line_arm >= 0) & (line_metric >= 0)
    pairs: dict[tuple[int, int], list[int]] = {}
    for b in np.flatnonzero(keep):
        pairs.setdefault((int(line_arm[b]), int(line_metric[b])), []).append(int(b))
    out: list[list[np.ndarray]] = [[], [], [], [], [], []]
    for (arm, metric), members in sorted(pairs.items()):
        spans = [(lines.starts[b], lines.stops[b]) for b in members]
        low = min(int(steps[start]) for start, _ in spans)
        high = max(int(steps[stop - 1]) for _, stop in spans)
        rows = sum(stop - start for start, stop in spans)
        if high - low + 1 > 4 * rows + 1024:
            return None
        if any(np.any(np.diff(steps[start:stop]) <= 0) for start, stop in spans):
            return None
        slots = high - low + 1
        counts = np.zeros(slots, dtype=np.int64)
        sums = {c: (np.zeros(slots), np.zeros(slots), np.zeros(slots, dtype=np.int64))
                for c in ("value", "ema")}
        for start, stop in spans:  # row order: the order pandas adds them in
            at = steps[start:stop] - low
            # A line without gaps in its steps fills a run of slots: a slice, not an index
            # array (the same additions, several times quicker).
            run: slice | np.ndarray = (
                slice(int(at[0]), int(at[-1]) + 1) if at[-1] - at[0] == len(at) - 1 else at
            )
            counts[run] += 1
            for column, data in (("value", values), ("ema", emas)):
                total, compensation, seen = sums[column]
                chunk = data[start:stop]
                ok = ~np.isnan(chunk)
                if ok.all():
                    where = run
                else:
                    where, chunk = at[ok], chunk[ok]
                with np.errstate(invalid="ignore"):  # inf - inf is NaN, reset just below
                    y = chunk - compensation[where]
                    t = total[where] + y
                    c = (t - total[where]) - y
                c[np.isnan(c)] = 0.0  # an infinite value: keep it, not NaN (pandas GH#50367)
                compensation[where] = c
                total[where] = t
                seen[where] += 1
        present = np.flatnonzero(counts)
        out[0].append(np.full(len(present), arm, dtype=np.int64))
        out[1].append(np.full(len(present), metric, dtype=np.int64))
        out[2].append(present + low)
        for k, column in ((3, "value"), (4, "ema")):
            total, _, seen = sums[column]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = total[present] / seen[present]
            out[k].append(np.where(seen[present] > 0, mean, np.nan))
        out[5].append(counts[present])
    if not pairs:
        return None
    return tuple(np.concatenate(parts) for parts in out)


def _mean_sd(values: pd.Series) -> tuple[float, float]:
    clean = values.dropna().astype(float)
    if clean.empty:
        return (np.nan, np.nan)
    sd = float(clean.std(ddof=1)) if len(clean) > 1 else np.nan
    return (float(clean.mean()), sd)


def arm_summary(
    runs: pd.DataFrame, series: pd.DataFrame, *, per_run: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per arm, in chart order: seeds, onset mean/sd and never-hacked count,
    final hack and final solve mean/sd (sample sd, ddof=1; NaN with one seed).
    `per_run` (from `run_summary`) saves computing it again."""
    if per_run is None:
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


@dataclass(frozen=True)
class Summary:
    """Every number the page shows, computed once from the full-resolution tables;
    `charts` and the templates only read it."""

    per_run: pd.DataFrame  # run_summary
    per_arm: pd.DataFrame  # arm_summary
    means: pd.DataFrame  # seed_means
    onsets: dict[str, int]  # run -> onset step, for the runs that hack

    @property
    def arms(self) -> list[str]:
        """The arms, in chart order."""
        return [str(arm) for arm in self.per_arm["arm"]]

    def _by_arm(self, column: str) -> dict[str, float]:
        return {str(a): float(v) for a, v in zip(self.per_arm["arm"], self.per_arm[column],
                                                 strict=True)}

    def final_hack_by_arm(self) -> dict[str, float]:
        return self._by_arm("final_hack_mean")

    def mean_onset_by_arm(self) -> dict[str, float]:
        """arm -> mean onset over its seeds that hack; arms that never hack are absent."""
        return {a: v for a, v in self._by_arm("onset_mean").items() if not np.isnan(v)}

    def seeds_by_arm(self) -> dict[str, int]:
        return {str(a): int(n) for a, n in zip(self.per_arm["arm"], self.per_arm["seeds"],
                                               strict=True)}


def summarize(runs: pd.DataFrame, series: pd.DataFrame) -> Summary:
    """All of this module's tables for one sweep, each computed once."""
    onsets = run_onsets(series)
    per_run = run_summary(runs, series, onsets=onsets)
    return Summary(
        per_run=per_run,
        per_arm=arm_summary(runs, series, per_run=per_run),
        means=seed_means(runs, series),
        onsets=onsets,
    )
