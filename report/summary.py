"""Tables -> the numbers a reader quotes: onsets, final rates, seed means, per-arm stats.

Everything here reads the full-resolution `series` table; charts may thin their lines
for display, but no number on the page comes from thinned data.

A big sweep's series has millions of rows but only a few hundred lines (run, metric), so
the work is done line by line on numpy slices rather than by grouping millions of
strings; the results are the same numbers, in the same order, as the plain pandas
definitions in the docstrings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from report import inference
from report.errors import ReportError
from report.groups import group_order
from report.parse import METRICS
from report.tables import Lines, in_line_order

if TYPE_CHECKING:
    from report.groups import Grouping

COS_METRICS = ("teacher", "student")


@dataclass(frozen=True)
class OnsetRule:
    """When a run starts hacking: the first step from which its RAW hack rate stays above
    `threshold` for `patience` consecutive measured steps (steps whose hack rate is
    missing, such as routing's steps between evaluations, are skipped). The default,
    above 0 once, is the reference's rule."""

    threshold: float = 0.0
    patience: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold < 1.0:
            msg = f"onset threshold must be in [0, 1), got {self.threshold}"
            raise ReportError(msg)
        if self.patience < 1:
            msg = f"onset patience must be at least 1 step, got {self.patience}"
            raise ReportError(msg)

    @property
    def is_reference(self) -> bool:
        return self.threshold == 0.0 and self.patience == 1


def onset_step(steps: np.ndarray, hack: np.ndarray, rule: OnsetRule | None = None) -> int | None:
    """The run's onset under `rule` (default: the first step whose RAW hack value is > 0),
    or None if the run never hacks.

    Computed on the unsmoothed series: the EMA would blur the very step we mark.
    """
    rule = rule or OnsetRule()
    values = np.asarray(hack, dtype=float)
    measured = ~np.isnan(values)
    above = values[measured] > rule.threshold
    if rule.patience > 1:
        # A window of `patience` measured steps all above starts where its sum is full.
        window = np.ones(rule.patience, dtype=np.int64)
        above = np.convolve(above.astype(np.int64), window, mode="valid") == rule.patience
    hits = np.flatnonzero(above)
    return int(np.asarray(steps)[measured][hits[0]]) if len(hits) else None


def _fragmented(lines: Lines) -> bool:
    """Rows in no useful order: too many lines to visit one by one (pandas groups)."""
    return len(lines.starts) > max(4096, int(lines.stops[-1]) // 64 if len(lines.stops) else 0)


def _onsets(series: pd.DataFrame, lines: Lines, rule: OnsetRule) -> dict[str, int]:
    if rule.patience > 1:
        return _sustained_onsets(series, rule)
    if _fragmented(lines):
        hacking = series[(series["metric"] == "hack") & (series["value"] > rule.threshold)]
        first = hacking.groupby("run", sort=False)["step"].min()
        return {run: int(step) for run, step in first.items()}
    steps = series["step"].to_numpy()
    hacking = series["value"].to_numpy(dtype=float) > rule.threshold
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


def _sustained_onsets(series: pd.DataFrame, rule: OnsetRule) -> dict[str, int]:
    """Onsets that need several measured steps in a row: each run's hack line in step
    order, read by `onset_step`."""
    hack = series[series["metric"] == "hack"]
    ordered, starts = in_line_order(hack, ("run",))
    steps = ordered["step"].to_numpy()
    values = ordered["value"].to_numpy(dtype=float)
    runs = ordered["run"].to_numpy(dtype=object)
    onsets: dict[str, int] = {}
    for start, stop in zip(starts, np.r_[starts[1:], len(ordered)], strict=True):
        onset = onset_step(steps[start:stop], values[start:stop], rule)
        if onset is not None and not pd.isna(runs[start]):
            onsets[runs[start]] = onset
    return onsets


def run_onsets(series: pd.DataFrame, rule: OnsetRule | None = None) -> dict[str, int]:
    """run -> onset step, for the runs that hack. By default the least step whose raw
    hack value is > 0 (`series[hack > 0].groupby("run")["step"].min()`), in order of
    first appearance; `rule` asks for a higher threshold or several steps in a row."""
    return _onsets(series, Lines.of(series), rule or OnsetRule())


def _last_measured(series: pd.DataFrame, lines: Lines) -> dict[str, int]:
    """run -> the last step whose raw hack value was measured (not missing): how long a
    run that never hacks was watched not hacking."""
    if _fragmented(lines):
        rows = series[(series["metric"] == "hack") & series["value"].notna()]
        last = rows.groupby("run", sort=False, observed=True)["step"].max()
        return {run: int(step) for run, step in last.items()}
    steps = series["step"].to_numpy()
    measured = ~np.isnan(series["value"].to_numpy(dtype=float))
    result: dict[str, int] = {}
    for b in lines.of_metric("hack"):
        start, stop = lines.starts[b], lines.stops[b]
        seen = steps[start:stop][measured[start:stop]]
        run = lines.run[b]
        if len(seen) and not pd.isna(run):
            result[run] = max(result.get(run, int(seen.max())), int(seen.max()))
    return result


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
    runs: pd.DataFrame,
    series: pd.DataFrame,
    *,
    onsets: Mapping[str, int] | None = None,
    rule: OnsetRule | None = None,
    by: str = "arm",
) -> pd.DataFrame:
    """One row per run: run, arm, seed, steps, onset_step, final_hack, final_solve and
    last_measured_step (the last step with a measured hack rate: where a run that never
    hacks is censored). `onsets` (from `run_onsets(series, rule)`) saves computing them
    again; `rule` is the onset rule (default: the reference's). `by`: the runs column of
    their groups (`arm`, or `group`: then it comes second, before arm); `sweep` follows
    when the runs have one (labelled inputs)."""
    lines = Lines.of(series)
    if onsets is None:
        onsets = _onsets(series, lines, rule or OnsetRule())
    columns = ["run", *dict.fromkeys([by, "arm"])]
    columns += ["sweep"] if "sweep" in runs.columns else []
    table = runs[[*columns, "seed", "steps"]].copy()
    table["onset_step"] = pd.array([onsets.get(r) for r in table["run"]], dtype="Int64")
    for metric in ("hack", "solve"):
        finals = _last_ema(series, metric, lines)
        table[f"final_{metric}"] = [float(finals.get(r, np.nan)) for r in table["run"]]
    last = _last_measured(series, lines)
    table["last_measured_step"] = pd.array([last.get(r) for r in table["run"]], dtype="Int64")
    return table.reset_index(drop=True)


def mean_onsets(
    runs: pd.DataFrame, series: pd.DataFrame, *, onsets: Mapping[str, int] | None = None,
    by: str = "arm",
) -> dict[str, float]:
    """arm (or group: `by`) -> mean of its seeds' onsets (only seeds that hack); arms that
    never hack are absent. `onsets` (from `run_onsets(series)`) saves computing them
    again."""
    if onsets is None:
        onsets = run_onsets(series)
    result: dict[str, float] = {}
    for arm, members in runs.groupby(by, sort=False, observed=True)["run"]:
        steps = [onsets[r] for r in members if r in onsets]
        if steps:
            result[str(arm)] = float(np.mean(steps))
    return result


# The band columns of `seed_means`, for each of its value columns (ema, value).
BAND_COLUMNS = ("ci_low", "ci_high", "min", "max")


def seed_means(runs: pd.DataFrame, series: pd.DataFrame, by: str = "arm") -> pd.DataFrame:
    """Mean over seeds per (arm, metric, step), aligned by step over the seeds present,
    with the spread of those seeds.

    The reference truncated every arm to its shortest seed; averaging the seeds that
    reached a step is what readers expect. A seed is present at every step of its arm's
    from its first logged step to its last, with its row at its latest logged step at or
    before it (held, as a step curve): seeds logged on different step grids (one on even
    steps, one on odd) then give a mean of all of them at every step, not one that jumps
    between them. Seeds on one grid are not changed by this.
    Columns: arm (the runs column `by`: `group` when runs are grouped by other keys),
    metric, step, value, ema, seeds, then for each of ema and value (`ema_ci_low`, ...):
    `ci_low`/`ci_high`, the 95% t interval of the mean over the seeds with a value at
    that step, and `min`/`max`, their range; all four
    NaN where fewer than 2 seeds have a value; `seeds` counts the seeds present.
    Rows in arm order, then metric (hack, solve, teacher, student, then the extra metrics
    in the series' order), then step.
    """
    arms = group_order(runs[by])
    arm_rank = {a: i for i, a in enumerate(arms)}
    # A repeated run: the last.
    run_arm = {r: str(a) for r, a in zip(runs["run"], runs[by], strict=False)}
    lines = Lines.of(series)
    listed = (series["metric"].cat.categories
              if isinstance(series["metric"].dtype, pd.CategoricalDtype) else [])
    metrics = list(METRICS) + [
        m for m in dict.fromkeys([*listed, *lines.metric]) if m not in METRICS and not pd.isna(m)
    ]
    metric_rank = {m: i for i, m in enumerate(metrics)}
    # One integer code per block, spread over its rows: grouping three integer columns
    # gives the same groups, in the same row order (so the same sums), as grouping the
    # strings, and sorting the codes is the arm, metric, step order asked for.
    def arm_code(run: object) -> int:
        return -1 if pd.isna(run) or run not in run_arm else arm_rank.get(run_arm[run], -1)

    def metric_code(metric: object) -> int:
        return -1 if pd.isna(metric) else metric_rank.get(metric, -1)

    series, lines = _one_line_per_seed(series, lines)
    steps = series["step"].to_numpy()
    columns = {c: series[c].to_numpy(dtype=float) for c in ("value", "ema")}
    line_arm = np.array([arm_code(r) for r in lines.run], dtype=np.int64)
    line_metric = np.array([metric_code(m) for m in lines.metric], dtype=np.int64)
    means = _dense_means(lines, line_arm, line_metric, steps, columns)
    if means is None:
        means = _grouped_means(lines, line_arm, line_metric, steps, columns)
    arm_names = np.array(arms + [None], dtype=object)
    metric_names = np.array(metrics + [None], dtype=object)
    table = {
        by: pd.Series(arm_names[means.pop("a")], dtype=runs[by].dtype),
        "metric": pd.Series(metric_names[means.pop("m")], dtype=series["metric"].dtype),
        "step": means.pop("step").astype(steps.dtype, copy=False),
    }
    order = ["value", "ema", "seeds", *(f"{c}_{b}" for c in ("ema", "value") for b in BAND_COLUMNS)]
    table.update({c: means.pop(c) for c in order})
    return pd.DataFrame(table, copy=False)


def _bands(column: str, mean: np.ndarray, n: np.ndarray, sd: np.ndarray, lowest: np.ndarray,
           highest: np.ndarray) -> dict[str, np.ndarray]:
    """`column`'s mean and band columns from its per-step mean, count, sd, min and max."""
    n = np.asarray(n, dtype=float)
    half = inference.t_half_width(np.asarray(sd, dtype=float), n)
    enough = n >= 2
    return {
        column: np.asarray(mean, dtype=float),
        f"{column}_ci_low": mean - half,
        f"{column}_ci_high": mean + half,
        f"{column}_min": np.where(enough, lowest, np.nan),
        f"{column}_max": np.where(enough, highest, np.nan),
    }


def _one_line_per_seed(series: pd.DataFrame, lines: Lines) -> tuple[pd.DataFrame, Lines]:
    """The series with each (run, metric) as one line in step order, and its lines: the
    tables come so; anything else (rows in another order, a line cut in parts) is sorted
    first (stably: a step logged twice keeps its rows' order)."""
    pairs = set(zip(lines.run, lines.metric, strict=True))
    if not _fragmented(lines) and len(pairs) == len(lines.starts):
        return series, lines
    keys = [pd.factorize(series[c], use_na_sentinel=False)[0] for c in ("metric", "run")]
    ordered = series.iloc[np.lexsort((series["step"].to_numpy(), *keys))]
    return ordered, Lines.of(ordered)


def _grouped_means(
    lines: Lines,
    line_arm: np.ndarray,
    line_metric: np.ndarray,
    steps: np.ndarray,
    columns: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The seed means by pandas: group the integer codes (any row order, any steps)."""
    lengths = lines.stops - lines.starts
    codes = pd.DataFrame(
        {"a": np.repeat(line_arm, lengths), "m": np.repeat(line_metric, lengths),
         "step": steps, **columns}
    )
    codes = codes[(codes["a"] >= 0) & (codes["m"] >= 0)]
    grouped = codes.groupby(["a", "m", "step"], sort=True)
    spread = {
        f"{c}_{name}": (c, how)
        for c in columns
        for name, how in (("n", "count"), ("sd", "std"), ("min", "min"), ("max", "max"))
    }
    means = grouped.agg(value=("value", "mean"), ema=("ema", "mean"), seeds=("value", "size"),
                        **spread).reset_index()
    table = {c: means[c].to_numpy() for c in ("a", "m", "step", "seeds")}
    for c in columns:
        table.update(_bands(c, *(means[f"{c}{part}"].to_numpy(dtype=float)
                                 for part in ("", "_n", "_sd", "_min", "_max"))))
    return table


def _slots(at: np.ndarray) -> slice | np.ndarray:
    """Where a line's rows go among its (arm, metric)'s slots: a line without gaps in its
    steps fills a run of slots, a slice rather than an index array (the same additions,
    several times quicker)."""
    return slice(int(at[0]), int(at[-1]) + 1) if at[-1] - at[0] == len(at) - 1 else at


@dataclass
class _Grid:
    """The steps of one (arm, metric) as slots, and where each of its lines goes in them.

    Slots are the steps from the least to the greatest when the lines are dense enough,
    else the distinct steps logged (sparse logging). `present`: the slots some line
    logged (the table's rows); `seeds`: at each, the lines whose range holds it. A line
    missing some present slots within its own range (seeds on other step grids) is held
    there: its latest row at or before the slot's step."""

    spans: Sequence[tuple[int, int]]
    steps: np.ndarray  # the table's steps
    low: int
    grid: np.ndarray | None  # each slot's step, when not low + slot
    present: np.ndarray
    seeds: np.ndarray

    @classmethod
    def of(cls, spans: Sequence[tuple[int, int]], steps: np.ndarray) -> _Grid:
        low = min(int(steps[start]) for start, _ in spans)
        high = max(int(steps[stop - 1]) for _, stop in spans)
        rows = sum(stop - start for start, stop in spans)
        grid = None
        if high - low + 1 > 4 * rows + 1024:
            grid = np.unique(np.concatenate([steps[start:stop] for start, stop in spans]))
        made = cls(spans, steps, low, grid, np.empty(0, dtype=np.int64),
                   np.empty(0, dtype=np.int64))
        size = high - low + 1 if grid is None else len(grid)
        logged = np.zeros(size, dtype=bool)
        ranges = np.zeros(size + 1, dtype=np.int64)
        for line in range(len(spans)):
            at = made.slots_of(line)
            logged[_slots(at)] = True
            ranges[at[0]] += 1
            ranges[at[-1] + 1] -= 1
        made.present = np.flatnonzero(logged)
        made.seeds = np.cumsum(ranges)[made.present]
        return made

    def slots_of(self, line: int) -> np.ndarray:
        """The slots of the line's rows."""
        start, stop = self.spans[line]
        if self.grid is None:
            return self.steps[start:stop] - self.low
        return np.searchsorted(self.grid, self.steps[start:stop])

    def step_of(self, slots: np.ndarray) -> np.ndarray:
        return slots + self.low if self.grid is None else self.grid[slots]

    def measured(self, data: np.ndarray) -> Iterator[tuple[slice | np.ndarray, np.ndarray]]:
        """Each line's (slots, values) for the values that are not missing, in row order,
        a line's row held over the present slots it did not log within its range."""
        for line, (start, stop) in enumerate(self.spans):
            at, chunk = self.slots_of(line), data[start:stop]
            inside = self.present[np.searchsorted(self.present, at[0]):
                                  np.searchsorted(self.present, at[-1], side="right")]
            where: slice | np.ndarray = _slots(at)
            if len(inside) != len(at):  # slots others logged within this line's range
                chunk = chunk[np.searchsorted(at, inside, side="right") - 1]
                where = at = inside
            ok = ~np.isnan(chunk)
            yield (where, chunk) if ok.all() else (at[ok], chunk[ok])


def _slot_means(grid: _Grid, data: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, count) of one column's non-missing values in each slot. The sums are
    pandas' own: Kahan-compensated, added in row order."""
    total, compensation = np.zeros(slots), np.zeros(slots)
    seen = np.zeros(slots, dtype=np.int64)
    for where, chunk in grid.measured(data):
        with np.errstate(invalid="ignore"):  # inf - inf is NaN, reset just below
            y = chunk - compensation[where]
            t = total[where] + y
            c = (t - total[where]) - y
        c[np.isnan(c)] = 0.0  # an infinite value: keep it, not NaN (pandas GH#50367)
        compensation[where] = c
        total[where] = t
        seen[where] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seen > 0, total / np.maximum(seen, 1), np.nan)
    return mean, seen


def _slot_spread(
    grid: _Grid, data: np.ndarray, mean: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sd, min, max) of one column's values in each slot, around its `mean` (a second
    pass: squared deviations from the mean, not from zero, keep the sd accurate)."""
    squares = np.zeros(len(mean))
    lowest, highest = np.full(len(mean), np.inf), np.full(len(mean), -np.inf)
    for where, chunk in grid.measured(data):
        deviation = chunk - mean[where]
        squares[where] += deviation * deviation
        lowest[where] = np.fmin(lowest[where], chunk)
        highest[where] = np.fmax(highest[where], chunk)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(seen > 1, np.sqrt(squares / np.maximum(seen - 1, 1)), np.nan)
    return sd, lowest, highest


def _dense_means(
    lines: Lines,
    line_arm: np.ndarray,
    line_metric: np.ndarray,
    steps: np.ndarray,
    columns: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray] | None:
    """The seed means without grouping rows: each (arm, metric) holds one slot per step
    (`_Grid`), and its lines are added in row order, a whole line at a time, each held
    over the steps it did not log within its range.

    The sums are pandas' own (Kahan-compensated, NaN skipped, in row order within a
    group), so the means are the same to the last bit as pandas' of the held rows. Needs
    one line per (run, metric), its steps rising; None otherwise (a step logged twice:
    the caller groups with pandas).
    """
    keep = (line_arm >= 0) & (line_metric >= 0)
    pairs: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for b in np.flatnonzero(keep):
        key = (int(line_arm[b]), int(line_metric[b]))
        pairs.setdefault(key, []).append((int(lines.starts[b]), int(lines.stops[b])))
    if any(np.any(np.diff(steps[start:stop]) <= 0)
           for spans in pairs.values() for start, stop in spans):
        return None
    # First where each (arm, metric) has values, then the numbers, written straight into
    # the table's columns: no parts to stack, so no second copy of the table.
    grids = [(arm, metric, _Grid.of(spans, steps))
             for (arm, metric), spans in sorted(pairs.items())]
    if not grids:
        return None
    total = sum(len(grid.present) for *_, grid in grids)
    table: dict[str, np.ndarray] = {name: np.empty(total, dtype=np.int64)
                                    for name in ("a", "m", "step", "seeds")}
    at = 0
    for arm, metric, grid in grids:
        present = grid.present
        part = slice(at, at + len(present))
        block = {"a": arm, "m": metric, "step": grid.step_of(present), "seeds": grid.seeds}
        slots = int(present[-1]) + 1
        for name, data in columns.items():
            mean, seen = _slot_means(grid, data, slots)
            sd, lowest, highest = _slot_spread(grid, data, mean, seen)
            block.update(_bands(name, mean[present], seen[present], sd[present],
                                lowest[present], highest[present]))
        for name, values in block.items():
            table.setdefault(name, np.empty(total, dtype=float))[part] = values
        at += len(present)
    return table


def _mean_sd(values: pd.Series) -> tuple[float, float]:
    clean = values.dropna().astype(float)
    if clean.empty:
        return (np.nan, np.nan)
    sd = float(clean.std(ddof=1)) if len(clean) > 1 else np.nan
    return (float(clean.mean()), sd)


def _arm_row(arm: str, members: pd.DataFrame, median_onset: float,
             by: str = "arm") -> dict[str, object]:
    onset_mean, onset_sd = _mean_sd(members["onset_step"])
    row: dict[str, object] = {
        by: arm,
        # A group of other keys may hold several runs of one seed (grouped by refresh
        # period, one per arm): each run is one replicate of its numbers.
        "seeds": members["seed"].nunique(dropna=False) if by == "arm" else len(members),
        "hacked": int(members["onset_step"].notna().sum()),
        "runs": len(members),
    }
    for metric in ("hack", "solve"):
        finals = members[f"final_{metric}"].to_numpy(dtype=float)
        mean, low, high = inference.t_interval(finals)
        row |= {f"final_{metric}_mean": mean, f"final_{metric}_ci_low": low,
                f"final_{metric}_ci_high": high,
                f"final_{metric}_sd": _mean_sd(members[f"final_{metric}"])[1]}
    return row | {
        "median_onset_km": median_onset,
        "onset_mean": onset_mean,
        "onset_sd": onset_sd,
        "never_hacked": int(members["onset_step"].isna().sum()),
    }


def arm_summary(
    runs: pd.DataFrame,
    series: pd.DataFrame,
    *,
    per_run: pd.DataFrame | None = None,
    rule: OnsetRule | None = None,
    by: str = "arm",
) -> pd.DataFrame:
    """One row per arm, in chart order: seeds, seeds that hacked, final hack and final
    solve as the mean over seeds with its 95% t interval (`*_ci_low`, `*_ci_high`; none
    with one seed), the Kaplan-Meier median onset (`median_onset_km`, NaN when fewer than
    half are estimated to hack), then runs, the plain mean/sd onset of the seeds that
    hack, the never-hacked count and the finals' sample sd (ddof=1).
    `per_run` (from `run_summary`) saves computing it again; `rule`: the onset rule; `by`:
    the column of the groups (`group`: one row per group, the first column `group`)."""
    if per_run is None:
        per_run = run_summary(runs, series, rule=rule, by=by)
    rows = []
    for arm in group_order(per_run[by]):
        members = per_run[per_run[by] == arm]
        rows.append(_arm_row(arm, members, _survival(members).median(), by))
    return pd.DataFrame(rows)


# --- time to hack -----------------------------------------------------------------------


def _observations(members: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(onset steps of the runs that hack, last measured steps of those that do not)."""
    onsets = members["onset_step"]
    last = members["last_measured_step"]
    events = onsets[onsets.notna()].to_numpy(dtype=float)
    censored = last[onsets.isna() & last.notna()].to_numpy(dtype=float)
    return events, censored


def _survival(members: pd.DataFrame) -> inference.Survival:
    return inference.kaplan_meier(*_observations(members))


def time_to_hack(per_run: pd.DataFrame, start: int = 0, by: str = "arm") -> pd.DataFrame:
    """Per arm, the Kaplan-Meier estimate of the share of its seeds that have started
    hacking by each step, a seed that never hacks being censored at its last measured
    step. Columns: arm, step, share, at_risk (seeds watched and not yet hacking just
    before the step), hacked (onsets at the step), censored (seeds censored there). Each
    arm starts with a row at `start` (share 0, every seed at risk) and ends at its last
    measured step (the share holds after the last onset: nobody unhacks). `by`: the
    column of the groups (then the first column is `group`)."""
    parts = []
    for arm in group_order(per_run[by]):
        members = per_run[per_run[by] == arm]
        curve = _survival(members)
        if not len(curve.times):
            continue
        first = min(start, int(curve.times[0]))
        last = members["last_measured_step"].dropna()
        end = [int(last.max())] if len(last) and last.max() > curve.times[-1] else []
        parts.append(pd.DataFrame({
            by: arm,
            "step": np.r_[first, curve.times, end].astype(np.int64),
            "share": np.r_[0.0, curve.share, [curve.share[-1]] * len(end)],
            "at_risk": np.r_[curve.at_risk[0], curve.at_risk, [0] * len(end)].astype(np.int64),
            "hacked": np.r_[0, curve.events, [0] * len(end)].astype(np.int64),
            "censored": np.r_[0, curve.censored, [0] * len(end)].astype(np.int64),
        }))
    columns = [by, "step", "share", "at_risk", "hacked", "censored"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


# --- arms against the baseline --------------------------------------------------------

COMPARISON_COLUMNS = ["arm", "baseline", "metric", "diff", "ci_low", "ci_high", "p", "p_holm",
                      "seeds", "baseline_seeds", "note"]
COMPARED = ("final_hack", "final_solve", "time_to_hack")


def choose_baseline(arms: Sequence[str], requested: str | None = None) -> str:
    """The arm the others are compared with: `requested`, else vanilla, else the first."""
    if requested is not None:
        if requested not in arms:
            msg = (f"--baseline {requested!r} is not an arm of this sweep; "
                   f"the arms are: {', '.join(arms)}")
            raise ReportError(msg)
        return requested
    return "vanilla" if "vanilla" in arms else arms[0]


def _time_to_hack_difference(arm: pd.DataFrame, base: pd.DataFrame) -> inference.Difference:
    """Log-rank p-value, and the difference of the Kaplan-Meier medians where both exist."""
    first, second = _observations(arm), _observations(base)
    if min(len(first[0]) + len(first[1]), len(second[0]) + len(second[1])) < 2:
        return inference.Difference(note=inference.TOO_FEW_SEEDS)
    p = inference.logrank(first, second)
    if np.isnan(p):
        return inference.Difference(note=inference.NO_HACKS)
    diff = _survival(arm).median() - _survival(base).median()
    return inference.Difference(diff=diff, p=p, note="" if np.isfinite(diff) else
                                inference.NO_MEDIAN)


def comparisons(per_run: pd.DataFrame, baseline: str | Mapping[str, str],
                by: str = "arm") -> pd.DataFrame:
    """Each arm against `baseline`, on final hack, final solve (difference of means, its
    95% Welch interval, Welch's p) and time to hack (log-rank p, difference of medians);
    `p_holm` adjusts every p-value of the table together (Holm). `seeds` and
    `baseline_seeds` count the seeds each side contributes; `note` says why numbers are
    missing (`report.inference`'s codes). `baseline` may map each group to its own
    (`groups.baselines`); `by`: the column of the groups (then the first column is
    `group`)."""
    order = group_order(per_run[by])
    pairs = baseline if isinstance(baseline, Mapping) else {
        g: baseline for g in order if g != baseline}
    rows = []
    for arm in [g for g in order if g in pairs]:
        members = per_run[per_run[by] == arm]
        base = per_run[per_run[by] == pairs[arm]]
        for metric in COMPARED:
            if metric == "time_to_hack":
                result = _time_to_hack_difference(members, base)
                counts = [sum(map(len, _observations(side))) for side in (members, base)]
            else:
                result = inference.welch(members[metric], base[metric])
                counts = [int(np.isfinite(side[metric].to_numpy(dtype=float)).sum())
                          for side in (members, base)]
            rows.append({by: arm, "baseline": pairs[arm], "metric": metric,
                         "diff": result.diff, "ci_low": result.low, "ci_high": result.high,
                         "p": result.p, "seeds": counts[0], "baseline_seeds": counts[1],
                         "note": result.note})
    columns = [by if c == "arm" else c for c in COMPARISON_COLUMNS if c != "p_holm"]
    table = pd.DataFrame(rows, columns=columns)
    table.insert(7, "p_holm", inference.holm(table["p"].to_numpy(dtype=float)))
    return table


# --- onset-aligned view ---------------------------------------------------------------


def align_window(runs: pd.DataFrame) -> int:
    """Steps shown either side of each seed's onset: a quarter of the typical run's
    length, to one significant digit (200 steps -> 50), at least 5."""
    typical = float(np.median(runs["steps"])) if len(runs) else 20.0
    return int(float(f"{max(typical / 4, 5.0):.1g}"))


def onset_aligned(
    series: pd.DataFrame, onsets: Mapping[str, int], window: int,
    metrics: Sequence[str] = COS_METRICS,
) -> pd.DataFrame:
    """The tidy rows of `metrics` for the runs that hack, with `step` made the steps from
    the run's own onset, within `window` either side: run, step, metric, value, ema, in
    the series' order. Picked line by line: no temporary as long as the whole table."""
    lines = Lines.of(series)
    steps = series["step"].to_numpy()
    picked: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    for b in np.flatnonzero(np.isin(lines.metric, list(metrics))):
        run = lines.run[b]
        if pd.isna(run) or run not in onsets:
            continue
        start, stop = int(lines.starts[b]), int(lines.stops[b])
        offset = steps[start:stop] - onsets[run]
        near = np.flatnonzero(np.abs(offset) <= window)
        picked.append(start + near)
        offsets.append(offset[near])
    rows = np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
    aligned = series.iloc[rows][["run", "step", "metric", "value", "ema"]]
    return aligned.assign(
        step=np.concatenate(offsets).astype(np.int64) if offsets else np.empty(0, np.int64)
    ).reset_index(drop=True)


# --- everything at once -----------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Every number the page shows, computed once from the full-resolution tables;
    `charts` and the templates only read it."""

    per_run: pd.DataFrame  # run_summary
    per_arm: pd.DataFrame  # arm_summary
    means: pd.DataFrame  # seed_means
    onsets: dict[str, int]  # run -> onset step, for the runs that hack
    rule: OnsetRule  # how an onset is found
    baseline: str  # the arm the others are compared with
    km: pd.DataFrame  # time_to_hack
    comparisons: pd.DataFrame  # comparisons
    align_window: int  # steps either side of the onset in the onset-aligned view
    aligned: pd.DataFrame  # onset_aligned: hacking seeds' cosines, step = steps from onset
    aligned_means: pd.DataFrame  # seed_means of `aligned`
    # The column of `runs` its groups are (`arm`, or `group` for other --group-by keys):
    # the first column of per_arm, means, km and comparisons. "Arm" below means group.
    by: str = "arm"
    baselines: dict[str, str] = field(default_factory=dict)  # group -> the one it is compared with
    group_keys: tuple[str, ...] = ("arm",)  # what makes a group (--group-by)

    @property
    def arms(self) -> list[str]:
        """The arms (groups), in chart order."""
        return [str(arm) for arm in self.per_arm[self.by]]

    def _by_arm(self, column: str) -> dict[str, float]:
        return {str(a): float(v) for a, v in zip(self.per_arm[self.by], self.per_arm[column],
                                                 strict=True)}

    def final_hack_by_arm(self) -> dict[str, float]:
        return self._by_arm("final_hack_mean")

    def mean_onset_by_arm(self) -> dict[str, float]:
        """arm -> mean onset over its seeds that hack; arms that never hack are absent."""
        return {a: v for a, v in self._by_arm("onset_mean").items() if not np.isnan(v)}

    def seeds_by_arm(self) -> dict[str, int]:
        return {str(a): int(n) for a, n in zip(self.per_arm[self.by], self.per_arm["seeds"],
                                               strict=True)}

    def hacked_by_arm(self) -> dict[str, int]:
        """arm -> how many of its seeds hacked (the others have no onset)."""
        return {str(a): int(n) for a, n in zip(self.per_arm[self.by], self.per_arm["hacked"],
                                               strict=True)}


def summarize(
    runs: pd.DataFrame,
    series: pd.DataFrame,
    *,
    rule: OnsetRule | None = None,
    baseline: str | None = None,
    groups: Grouping | None = None,
) -> Summary:
    """All of this module's tables for one sweep, each computed once. `rule`: how an
    onset is found (default: the reference's); `baseline`: the arm the others are
    compared with (default: vanilla, else the first arm; an unknown arm is an error);
    `groups`: the runs' groups when they are not their arms (`groups.grouping` of the
    runs' `group` column), then `baseline` is read by `groups.baselines`."""
    from report import groups as grouping

    rule = rule or OnsetRule()
    by = groups.column if groups is not None else "arm"
    onsets = run_onsets(series, rule)
    per_run = run_summary(runs, series, onsets=onsets, by=by)
    per_arm = arm_summary(runs, series, per_run=per_run, by=by)
    if groups is None:
        chosen = choose_baseline([str(a) for a in per_arm["arm"]], baseline)
        pairs = {str(a): chosen for a in per_arm["arm"] if a != chosen}
    else:
        pairs = grouping.baselines(groups, baseline)
        chosen = grouping.baseline_words(groups, baseline, pairs)
    start = int(series["step"].min()) if len(series) else 0
    window = align_window(runs)
    aligned = onset_aligned(series, onsets, window)
    return Summary(
        per_run=per_run,
        per_arm=per_arm,
        means=seed_means(runs, series, by),
        onsets=onsets,
        rule=rule,
        baseline=chosen,
        km=time_to_hack(per_run, start, by),
        comparisons=comparisons(per_run, pairs, by),
        align_window=window,
        aligned=aligned,
        aligned_means=seed_means(runs, aligned, by),
        by=by,
        baselines=pairs,
        group_keys=groups.keys if groups is not None else ("arm",),
    )
