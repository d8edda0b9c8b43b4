"""`ParsedLog` records -> the tidy `runs` and `series` tables (the contract between layers).

See docs/architecture.md for their columns. EMA-5 is computed here, once, on the full
resolution data, so every later number and line reads the same smoothed values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from report.parse import ARM_ORDER, METRICS, InputFile, ParsedLog

EMA_SPAN = 5

RUN_COLUMNS = [
    "run",
    "path",
    "preset_arm",
    "arm",
    "seed",
    "v_hack",
    "refresh",
    "steps",
    "argv",
    "missing",
    "group",
]
# After RUN_COLUMNS: `sweep` (the input's label, when inputs are labelled `LABEL=PATH`),
# then one column per configuration key some run was started with (`groups`).
SERIES_COLUMNS = ["run", "step", "metric", "value", "ema", "k", "n"]


def arm_order(arms: Iterable[str]) -> list[str]:
    """vanilla, static erasure, online erasure, routing, then any other arm by name."""
    present = {str(arm) for arm in arms if not pd.isna(arm)}
    known = [a for a in ARM_ORDER if a in present]
    return known + sorted(present - set(ARM_ORDER))


def ema(values: np.ndarray, span: int = EMA_SPAN) -> np.ndarray:
    """Causal EMA with alpha = 2/(span+1), as the reference computes it.

    A missing value (NaN) holds the previous smoothed value -- the sparse routing
    series becomes a step curve -- and leading missing values stay missing.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values.copy()
    # adjust=False is the recursive form; ignore_na=True means a gap neither decays nor
    # resets the average, and pandas holds the last value through it.
    smoothed = pd.Series(values).ewm(alpha=2.0 / (span + 1), adjust=False, ignore_na=True)
    return smoothed.mean().to_numpy()


@dataclass
class Sweep:
    """A sweep's logs as tables: `runs` (one row per run) and `series` (tidy)."""

    runs: pd.DataFrame
    series: pd.DataFrame
    files: list[InputFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _seed_key(seed: int | None) -> tuple[int, int]:
    return (1, 0) if seed is None else (0, seed)


def metric_order(logs: Sequence[ParsedLog]) -> list[str]:
    """Every metric of `logs`: the four METRICS, then the extra metrics in header order --
    a metric one log adds comes right after the one before it in that log's header."""
    order = list(METRICS)
    for lg in logs:
        before = len(METRICS) - 1
        for metric in lg.metrics:
            if metric in METRICS:
                continue
            if metric not in order:
                order.insert(before + 1, metric)
            before = order.index(metric)
    return order


def _config_columns(ordered: Sequence[ParsedLog]) -> dict[str, pd.Series]:
    """One column per configuration key (argv flags and preset fields, as strings; <NA>
    for a run without it), named by `groups.config_column`. `seed` and `arm` are not
    repeated: `seed` and `preset_arm` hold them."""
    from report.groups import config_column

    configs = [lg.config for lg in ordered]
    keys = dict.fromkeys(k for config in configs for k in config if k not in ("seed", "arm"))
    return {config_column(key): pd.Series([c.get(key) for c in configs], dtype="str")
            for key in keys}


def build_tables(
    logs: Sequence[ParsedLog], sweeps: Sequence[str] = (), *, consume: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tidy `runs` and `series` tables, in a canonical order whatever the input order:
    by arm, then sweep (`sweeps`: the labels in the order given; none: inputs were not
    labelled), then seed, then run name. Runs are grouped by arm (`groups.group_runs`
    groups them by other keys). `consume`: the logs' arrays are emptied as they are
    copied into the series (load_sweep's logs are read for nothing else)."""
    arms = arm_order(log.arm for log in logs)
    rank = {arm: i for i, arm in enumerate(arms)}
    sweep_rank = {label: i for i, label in enumerate(sweeps)}
    ordered = sorted(logs, key=lambda lg: (rank[lg.arm], sweep_rank.get(lg.sweep, -1),
                                           _seed_key(lg.seed), lg.name))
    runs = pd.DataFrame(
        {
            "run": [lg.name for lg in ordered],
            "path": [lg.path for lg in ordered],
            "preset_arm": [lg.preset_arm for lg in ordered],
            "arm": [lg.arm for lg in ordered],
            "seed": pd.array([lg.seed for lg in ordered], dtype="Int64"),
            "v_hack": [lg.v_hack for lg in ordered],
            "refresh": np.array([lg.refresh for lg in ordered], dtype=np.int64),
            "steps": np.array([len(lg.steps) for lg in ordered], dtype=np.int64),
            "argv": [lg.argv for lg in ordered],
            "missing": [", ".join(lg.missing) for lg in ordered],
            "group": pd.Categorical([lg.arm for lg in ordered], categories=arms, ordered=True),
        },
        columns=RUN_COLUMNS,
    )
    if sweeps:
        runs["sweep"] = pd.Categorical([lg.sweep for lg in ordered], categories=list(sweeps),
                                       ordered=True)
    runs = pd.concat([runs, pd.DataFrame(_config_columns(ordered), index=runs.index)], axis=1)
    metrics = metric_order(ordered)
    return runs, _series(ordered, metrics, consume)


def _series(ordered: Sequence[ParsedLog], metrics: Sequence[str], consume: bool) -> pd.DataFrame:
    """The tidy series of `ordered` logs, every column filled line by line into its final
    array: besides the logs, reading holds the table and one line's temporaries, never
    lists of parts then their concatenation. `consume`: each log's arrays are dropped
    once copied (the caller has no further use for them), so the logs and the table are
    never both whole in memory."""
    # One entry per line (run, metric); the string columns are repeated from them in one
    # step each, not filled line by line: millions of object cells cost a second that way.
    lines = [(lg, m) for lg in ordered for m in metrics if m in lg.metrics]
    lengths = np.array([len(lg.metrics[m]) for lg, m in lines], dtype=np.int64)
    starts = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    rows = int(starts[-1])
    step = np.empty(rows, dtype=np.int64)
    value = np.empty(rows, dtype=float)
    smoothed = np.empty(rows, dtype=float)
    k, n = Counts(rows), Counts(rows)
    for (lg, metric), at, stop in zip(lines, starts[:-1], starts[1:], strict=True):
        step[at:stop] = lg.steps
        value[at:stop] = lg.metrics[metric]
        smoothed[at:stop] = ema(value[at:stop])
        if metric in lg.counts:
            k.fill(at, lg.counts[metric][0])
            n.fill(at, lg.counts[metric][1])
        if consume:
            lg.metrics[metric] = _EMPTY
            lg.counts.pop(metric, None)

    def repeated(names: list[str], categories: Sequence[str]) -> pd.Categorical:
        # Categorical: one integer per row (millions of rows) instead of a string each.
        code = {name: i for i, name in enumerate(categories)}
        codes = np.repeat(np.array([code[n] for n in names], dtype=np.int32), lengths)
        return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))

    return pd.DataFrame(
        {
            "run": repeated([lg.name for lg, _ in lines],
                            list(dict.fromkeys(lg.name for lg in ordered))),
            "step": step,
            "metric": repeated([m for _, m in lines], metrics),
            "value": value,
            "ema": smoothed,
            "k": k.array(),
            "n": n.array(),
        },
        columns=SERIES_COLUMNS,
        copy=False,
    )


_EMPTY = np.empty(0)


class Counts:
    """A nullable Int32 column of `rows` rows, missing but where `fill` writes counts
    (read as floats, NaN: not a fraction) as whole numbers. A count beyond Int32 is no
    batch size: missing. Filled in place, line by line: the cosines' lines, half the
    table, have no counts at all."""

    def __init__(self, rows: int) -> None:
        self.whole = np.zeros(rows, dtype=np.int32)
        self.missing = np.ones(rows, dtype=bool)

    def fill(self, at: int, values: np.ndarray) -> None:
        lost = ~(np.abs(values) <= np.iinfo(np.int32).max)  # NaN compares False
        self.whole[at : at + len(values)] = np.where(lost, 0, values)
        self.missing[at : at + len(values)] = lost

    def array(self) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(self.whole, self.missing)


def line_starts(frame: pd.DataFrame, by: Sequence[str] = ("run", "metric")) -> np.ndarray:
    """True where a row starts a new line: the first row, or any `by` value changed from
    the row before (adjacent comparisons: ~10x cheaper than factorizing the strings)."""
    starts = np.zeros(len(frame), dtype=bool)
    starts[:1] = True
    for col in by:
        values = row_keys(frame[col])
        starts[1:] |= values[1:] != values[:-1]
    return starts


@dataclass(frozen=True)
class Lines:
    """A table cut into lines: runs of consecutive rows with one (run, metric) each.

    In the tables' own order a line is a whole (run, metric) series; in any other order
    one series may be several lines, and callers combine them (`summary`) or sort first
    (`in_line_order`). Every layer finds its lines here.
    """

    starts: np.ndarray  # first row of each line
    stops: np.ndarray  # one past its last row
    run: np.ndarray  # the line's run (object array)
    metric: np.ndarray  # the line's metric (object array)

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Lines:
        starts = np.flatnonzero(line_starts(frame, ("run", "metric")))
        stops = np.r_[starts[1:], len(frame)].astype(np.int64)
        return cls(starts, stops, values_at(frame["run"], starts),
                   values_at(frame["metric"], starts))

    @property
    def lengths(self) -> np.ndarray:
        return self.stops - self.starts

    def of_metric(self, metric: str) -> np.ndarray:
        """Indices of the lines of `metric`."""
        return np.flatnonzero(self.metric == metric)


def in_line_order(
    frame: pd.DataFrame, by: Sequence[str] = ("run", "metric"), x: str = "step"
) -> tuple[pd.DataFrame, np.ndarray]:
    """`frame` grouped by line (`by`) in `x` order, and the row where each line starts.

    The tables come that way (their contract), and then this only finds the starts;
    anything else is sorted first.
    """
    by = list(by)
    starts = line_starts(frame, by)
    steps = frame[x].to_numpy()
    if not _rising_within_lines(steps, starts):
        codes = np.zeros(len(frame), dtype=np.int64)
        for col in by:
            col_codes, uniques = pd.factorize(frame[col], sort=False, use_na_sentinel=False)
            codes = codes * len(uniques) + col_codes
        frame = frame.iloc[np.lexsort((steps, codes))]
        starts = line_starts(frame, by)
    return frame, np.flatnonzero(starts)


_CHUNK_ROWS = 1 << 20


def _rising_within_lines(steps: np.ndarray, starts: np.ndarray) -> bool:
    """Whether `steps` rise strictly within every line (`starts`: True where one begins),
    checked a million rows at a time: no temporaries as long as the table."""
    for at in range(1, len(steps), _CHUNK_ROWS):
        stop = min(at + _CHUNK_ROWS, len(steps))
        falls = steps[at:stop] <= steps[at - 1 : stop - 1]
        if np.any(falls & ~starts[at:stop]):
            return False
    return True


def row_keys(column: pd.Series) -> np.ndarray:
    """Values whose equality is `column`'s, cheap to compare row by row: a categorical's
    integer codes (missing: -1), else the values themselves."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()
    return column.to_numpy()


def values_at(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """`column.to_numpy()[rows]`, without first turning every row of a categorical into
    an object."""
    return column.iloc[rows].to_numpy(dtype=object)
