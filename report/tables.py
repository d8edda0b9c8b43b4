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
]
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


def build_tables(logs: Sequence[ParsedLog]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tidy `runs` and `series` tables, in a canonical order whatever the input order."""
    rank = {arm: i for i, arm in enumerate(arm_order(log.arm for log in logs))}
    ordered = sorted(logs, key=lambda lg: (rank[lg.arm], _seed_key(lg.seed), lg.name))
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
        },
        columns=RUN_COLUMNS,
    )
    # One entry per line (run, metric); the string columns are repeated from them in one
    # step each, not filled line by line: millions of object cells cost a second that way.
    line_runs: list[str] = []
    line_metrics: list[str] = []
    lengths: list[int] = []
    step_col: list[np.ndarray] = []
    value_col: list[np.ndarray] = []
    ema_col: list[np.ndarray] = []
    fractions: list[tuple[int, np.ndarray, np.ndarray]] = []  # (first row, k, n) of a line
    for lg in ordered:
        for metric in METRICS:
            if metric not in lg.metrics:
                continue
            values = lg.metrics[metric]
            line_runs.append(lg.name)
            line_metrics.append(metric)
            lengths.append(len(values))
            step_col.append(lg.steps)
            value_col.append(values)
            ema_col.append(ema(values))
            if metric in lg.counts:
                fractions.append((sum(lengths) - len(values), *lg.counts[metric]))

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        if not parts:
            return np.empty(0, dtype=dtype)
        return np.concatenate(parts).astype(dtype, copy=False)  # a new array: no aliasing

    def repeated(names: list[str], categories: Sequence[str]) -> pd.Categorical:
        # Categorical: one integer per row (millions of rows) instead of a string each.
        code = {name: i for i, name in enumerate(categories)}
        codes = np.repeat(np.array([code[n] for n in names], dtype=np.int32), lengths)
        return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))

    series = pd.DataFrame(
        {
            "run": repeated(line_runs, list(dict.fromkeys(lg.name for lg in ordered))),
            "step": joined(step_col, np.int64),
            "metric": repeated(line_metrics, METRICS),
            "value": joined(value_col, float),
            "ema": joined(ema_col, float),
            "k": counts(sum(lengths), [(at, k) for at, k, _ in fractions]),
            "n": counts(sum(lengths), [(at, n) for at, _, n in fractions]),
        },
        columns=SERIES_COLUMNS,
        copy=False,
    )
    return runs, series


def counts(rows: int, parts: Sequence[tuple[int, np.ndarray]]) -> pd.arrays.IntegerArray:
    """A nullable Int32 column of `rows` rows, missing but where a part (first row, counts
    read as floats, NaN: not a fraction) fills it: written as whole numbers, empty where
    missing. A count beyond Int32 is no batch size: missing. Filled in place, line by
    line: the cosines' lines, half the table, have no counts at all."""
    whole = np.zeros(rows, dtype=np.int32)
    missing = np.ones(rows, dtype=bool)
    for at, values in parts:
        lost = ~(np.abs(values) <= np.iinfo(np.int32).max)  # NaN compares False
        whole[at : at + len(values)] = np.where(lost, 0, values)
        missing[at : at + len(values)] = lost
    return pd.arrays.IntegerArray(whole, missing)


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
    inner = ~starts[1:]
    if np.any(steps[1:][inner] <= steps[:-1][inner]):
        codes = np.zeros(len(frame), dtype=np.int64)
        for col in by:
            col_codes, uniques = pd.factorize(frame[col], sort=False, use_na_sentinel=False)
            codes = codes * len(uniques) + col_codes
        frame = frame.iloc[np.lexsort((steps, codes))]
        starts = line_starts(frame, by)
    return frame, np.flatnonzero(starts)


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
