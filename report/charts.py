"""Tables -> Altair charts: the training-dynamics grid, the arm-vs-arm hack overlay, and
the rest of the page's charts (time to hack, onset-aligned view, one per other metric).

A port of reference/plot_dynamics.py's two figures (`dynamics.png` and
`dynamics_hack_overlay.png`) to Vega-Lite, plus what a page can add to a picture:
tooltips, a hovered seed highlighted in every panel, zoom on the step axis and a
smoothed/raw switch -- all Vega-Lite params, so the same spec also draws the picture.

Functions here take the tidy `runs` and `series` tables (docs/architecture.md) and the
numbers `report.summary` computed from them; they never parse and never compute a number
a reader quotes. Lines are thinned for display only (`downsample`).

The chart data is embedded in the page, so it is kept small on purpose: each chart
holds one inline CSV table whose columns are

    arm       the arm's (group's) index into the chart's arm order (the facet field)
    run       the run's index (empty on per-arm rows)
    metric    the metric's index into METRICS, then the chart's other metrics
    step      optimizer step
    smoothed  EMA value          raw  raw value (label rows: the label's y in each mode);
              values to 3 decimals (a thousandth of an axis is below a pixel)
    kind      row kind: s seed line, m seed mean (S, M: the same, and also a tooltip and
              hover target), o seed onset, r mean onset, l direct label, z one row per
              arm (keeps every column present)
    ci, min, max, raw_ci, raw_min, raw_max
              mean rows only: the seed band (summary.seed_means) of the smoothed and the
              raw mean: `ci` half the width of the 95% t interval (symmetric: the band is
              mean - ci to mean + ci), `min`/`max` the seeds' range. Other rows end at
              `kind` (a CSV row may stop early: the missing cells read as empty), so the
              band costs bytes on mean rows only.

and every layer filters the rows it draws (a faceted layer must take its data from the
facet; `transform_lookup` inside it fails in Vega-Lite 6.4). Names shown to readers
(arm, run, seed, metric) come back through small arrays inside expressions.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import altair as alt
import numpy as np
import pandas as pd
from altair.utils.schemapi import debug_mode

from report.colors import ARM_COLORS, EXTRA_ARM_COLORS, RANK_RAMP, group_colors
from report.errors import ReportError
from report.groups import group_order
from report.parse import ARM_ORDER, METRICS
from report.summary import COS_METRICS, Summary, summarize
from report.tables import Lines, arm_order, in_line_order, line_starts, values_at

__all__ = [
    "ALIGNED_TITLE",
    "ARM_COLORS",
    "ARM_ORDER",
    "EXTRA_ARM_COLORS",
    "RANK_RAMP",
    "GRID_TITLE",
    "METRICS",
    "METRIC_COLORS",
    "MetricChart",
    "OVERLAY_TITLE",
    "Chart",
    "arm_colors",
    "arm_order",
    "downsample",
    "extra_metrics",
    "grid_chart",
    "longest_line",
    "metric_charts",
    "aligned_chart",
    "has_aligned_view",
    "overlay_chart",
    "time_to_hack_chart",
]


class Chart:
    """A chart's Vega-Lite spec. Altair makes its parts (each layer; a row's facet and a
    chart's top, made empty); they are put together here, as dicts: each compound chart
    of Altair's deep-copies all it holds when it is made, at every level, and again when
    it becomes a dict."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    @classmethod
    def of(cls, chart: alt.TopLevelMixin, **parts: Any) -> Chart:
        """`chart` as a dict, with `parts` (already dicts) set in it."""
        return cls({**chart.to_dict(validate=False), **parts})

    @property
    def usermeta(self) -> Any:
        return self.spec.get("usermeta")

    def to_dict(self, validate: bool = True) -> dict[str, Any]:
        """The spec (a copy), checked against Vega-Lite's schema when `validate`."""
        if validate:
            alt.TopLevelSpec.validate(self.spec)
        return copy.deepcopy(self.spec)


def _inner(layer: alt.Chart) -> dict[str, Any]:
    """A layer as a dict to go inside a chart whose data it draws."""
    return layer.to_dict(validate=False, context={"top_level": False, "data": None})


def _part(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """`chart` as a dict to go inside another: without what only a whole spec has (its
    data sets are the whole spec's to hold)."""
    return {k: v for k, v in chart.to_dict(validate=False).items()
            if k not in ("$schema", "config")}


_P = ParamSpec("_P")
_R = TypeVar("_R")

# The two rows measure different things, so they must not share a palette:
# red hack vs green solve, blue teacher-cos vs amber student-cos (the reference's).
METRIC_COLORS = {"hack": "#c1432b", "solve": "#2f7d4f", "teacher": "#33508c", "student": "#c98a2b"}
RATE_METRICS = ("hack", "solve")

# Titles say what the lines and the band show, in each position of the two controls:
# {values} and {band} are filled from the words below.
GRID_TITLES = (
    "Training dynamics: G_hack erasure vs vanilla "
    "({values}; band = {band}; dashed line = mean hack onset)"
)
OVERLAY_TITLES = "Student hack rate by arm ({values}; band = {band}; dot = mean onset)"
# Grouped by other keys than the arm: the keys say what the columns and lines are.
GROUP_GRID_TITLES = (
    "Training dynamics by {keys} ({values}; band = {band}; dashed line = mean hack onset)"
)
VALUE_WORDS = {"smoothed": "EMA-5 smoothed", "raw": "raw values"}
BAND_WORDS = {"ci": "95% CI of the seed mean", "minmax": "min-max of the seeds"}
GRID_TITLE = GRID_TITLES.format(values=VALUE_WORDS["smoothed"], band=BAND_WORDS["ci"])
GRID_TITLE_RAW = GRID_TITLES.format(values=VALUE_WORDS["raw"], band=BAND_WORDS["ci"])
OVERLAY_TITLE = OVERLAY_TITLES.format(values="EMA-5", band="95% CI")
OVERLAY_TITLE_RAW = OVERLAY_TITLES.format(values=VALUE_WORDS["raw"], band="95% CI")

PANEL_WIDTH = 215
COLUMN_SPACING = 42  # room for the direct labels right of the first column
PANEL_HEIGHT = 150
OVERLAY_WIDTH = 480
OVERLAY_HEIGHT = 300
# A chart faceted by arm wraps its columns into blocks of at most this many (a picture
# of 30 arms is six blocks of five, not a strip 8,000 pixels wide).
GRID_MAX_COLUMNS = 6
# The page sizes each chart to its column (templates/_embed.js reads a chart's
# `usermeta`): a panel of a faceted chart between these widths, a single chart (the
# overlay, time to hack) at least SINGLE_MIN_WIDTH wide; wider or narrower screens
# scroll the chart inside its own box. Pictures keep the widths above.
PANEL_MIN_WIDTH = 150
PANEL_MAX_WIDTH = 420
SINGLE_MIN_WIDTH = 180
SINGLE_MAX_WIDTH = 1400
# Vega's title limit (0: none): a single chart narrower than its picture limits its title
# to its width; `width` is 0 in a chart of panels.
NARROW_TITLE_LIMIT = f"width > 0 && width < {OVERLAY_WIDTH} ? width : 0"
RULE_GREY = "#8c8c8c"
LABEL_GREY = "#666666"
ZERO_GREY = "#cccccc"

# The controls: which column every line reads, and what the band around each mean shows.
# Every chart uses the same names so a page can keep them in step.
VALUES_PARAM = "values"
VALUE_OPTIONS = ("smoothed", "raw")
BAND_PARAM = "band"
BAND_OPTIONS = ("ci", "minmax")  # the first is the default, and what pictures show
BAND_LABELS = ("95% CI", "min-max")
# Light enough that seed lines and means read through it, as in the reference's look.
BAND_OPACITY = 0.16
HOVER_PARAM = "hover"
ZOOM_PARAM = "zoom"
# Layers that exist only for the pointer (invisible tooltip and hover targets) end so.
POINTER_LAYER_SUFFIX = "_points"
# False until a pointer first moves over the chart (the page sets it): until then those
# layers hold no rows, so a chart's first drawing does not make them.
POINTER_PARAM = "pointed"

# Rows of embedded data per chart: ~30 bytes each as CSV, so the grid stays near
# 0.7 MB and the overlay near 0.25 MB however long the sweep is (with the other charts,
# a 400-run page stays under build.PAGE_LIMIT).
GRID_MAX_ROWS = 24_000
OVERLAY_MAX_ROWS = 8_000
_MIN_LINE_POINTS = 60
MEAN_LINE_POINTS = 100
# Seed lines per chart (the All-metrics charts: all of them together), at most: each is a
# path the browser draws and rows of data, so past this a chart draws the lines of as
# many runs of each group as fit, spread evenly over its seeds, and the page says so
# (the means, bands and every number still use every run). With each chart's rows, this
# bounds its data however many runs a sweep has.
MAX_SEED_LINES = 400
# Invisible tooltip/hover points per chart, at most about: a 48-run grid would otherwise
# carry 22,000 of them, a quarter of the time the browser takes to draw the page.
POINTER_POINTS = 12_000


# --- arms and colours -------------------------------------------------------------


def arm_colors(
    arms: Iterable[str],
    mode: Literal["fixed", "rank"] = "fixed",
    final_hack: Mapping[str, float] | None = None,
    *,
    by_arm: bool = True,
) -> dict[str, str]:
    """arm (or group) -> hex colour, in arm order (a categorical's: its categories').

    fixed: the reference's colour per known arm; another arm gets a colour of its own
    that depends on its name only (so it keeps it when arms come and go); groups that are
    not arms (`by_arm=False`) take Paul Tol's muted scheme in order; more groups than
    distinct colours, a sequential ramp. rank: a ramp by final hack rate, most hacking =
    red; arms with no final hack rate are grey. See `report.colors`. Groups that are not
    arms are taken in the order given (or a categorical's).
    """
    categorical = isinstance(arms, pd.Series) and isinstance(arms.dtype, pd.CategoricalDtype)
    ordered = group_order(arms) if by_arm or categorical else list(dict.fromkeys(map(str, arms)))
    return group_colors(ordered, mode, final_hack, by_arm=by_arm)


# --- display-only thinning ---------------------------------------------------------


def downsample(
    series: pd.DataFrame,
    max_points: int = 1000,
    keep_steps: Mapping[str, int] | None = None,
    *,
    by: Sequence[str] = ("run", "metric"),
    columns: Sequence[str] = ("ema",),
    x: str = "step",
) -> pd.DataFrame:
    """Thin every line (one per `by` group) to at most `max_points` rows, for display only.

    Min/max buckets: each line keeps its first and last point, the lowest and highest
    point of each of `columns` in every bucket (so peaks and troughs survive) and the
    step `keep_steps[run]` (the onset tick must sit on the line). Lines no longer than
    `max_points` come back whole. Deterministic, vectorised, rows grouped by line in step order
    (input order when it already is).
    """
    n_rows = len(series)
    if n_rows <= max_points:
        return series
    series, starts = in_line_order(series, by, x)
    keep_at = None
    if keep_steps and "run" in series.columns:
        run_at_start = values_at(series["run"], starts)
        keep_at = [keep_steps.get(run) for run in run_at_start]
    value_columns = [c for c in columns if c in series.columns] or ["value"]
    keep = _thin(
        series[x].to_numpy(),
        [series[c].to_numpy(dtype=float) for c in value_columns],
        starts,
        max_points,
        keep_at,
    )
    return series if keep is None else series.iloc[np.flatnonzero(keep)]


def _thin(
    steps: np.ndarray,
    value_columns: Sequence[np.ndarray],
    starts: np.ndarray,
    max_points: int,
    keep_at: Sequence[Any] | None,
) -> np.ndarray | None:
    """`downsample`'s choice of rows, on arrays whose lines start at `starts` (each in
    step order): a mask of the rows kept, or None when every line is kept whole.
    `keep_at[line]` is a step that line must keep (None: nothing), or `keep_at` is None."""
    n_rows = len(steps)
    max_points = max(int(max_points), 4)
    lengths = np.diff(np.r_[starts, n_rows])
    ends = starts + lengths
    keep = np.repeat(lengths <= max_points, lengths)  # short lines stay whole
    keep[starts] = True
    keep[ends - 1] = True
    long_lines = np.flatnonzero(lengths > max_points)
    if not len(long_lines):
        return None

    extra = 0
    if keep_at is not None:
        extra = 1
        for line in long_lines.tolist():  # one lookup per line, never per point
            step = keep_at[line]
            if step is None or pd.isna(step):
                continue
            at = starts[line] + np.searchsorted(steps[starts[line] : ends[line]], step)
            if at < ends[line] and steps[at] == step:
                keep[at] = True

    n_buckets = max(1, (max_points - 2 - extra) // (2 * len(value_columns)))
    # Bucket k of a line holds its interior rows from s+1 + k*(L-2)//B on; after each
    # line's buckets one extra segment (its last row up to the next line's first
    # bucket) is reduced too and ignored, so one reduceat call covers every line.
    interior = lengths[long_lines] - 2
    first_rows = (starts[long_lines] + 1)[:, None] + (
        np.arange(n_buckets)[None, :] * interior[:, None]
    ) // n_buckets
    edges = np.concatenate([first_rows, (ends[long_lines] - 1)[:, None]], axis=1).ravel()
    is_bucket = np.tile(np.r_[np.ones(n_buckets, dtype=bool), False], len(long_lines))
    offset = int(edges[0])
    counts = np.diff(np.r_[edges, n_rows])
    row_number = np.arange(offset, n_rows)
    for column in value_columns:
        values = column[offset:]
        with np.errstate(invalid="ignore"):
            lows = np.fmin.reduceat(values, edges - offset)
            highs = np.fmax.reduceat(values, edges - offset)
        for extreme in (lows, highs):
            # The first row of each bucket that holds the extreme value.
            hit_rows = np.where(values == np.repeat(extreme, counts), row_number, n_rows)
            first_hit = np.minimum.reduceat(hit_rows, edges - offset)
            keep[first_hit[is_bucket & (first_hit < n_rows)]] = True
        # A bucket with no value at all keeps its first row, so gaps stay gaps.
        keep[edges[is_bucket & np.isnan(lows)]] = True
    return keep


def longest_line(series: pd.DataFrame, by: Sequence[str] = ("run", "metric")) -> int:
    """Rows in the longest line (one per `by` group): what `downsample` would thin."""
    if not len(series):
        return 0
    _, starts = in_line_order(series, by)
    return int(np.diff(np.r_[starts, len(series)]).max())


# --- the chart data ----------------------------------------------------------------

COLUMNS = ("arm", "run", "metric", "step", "smoothed", "raw", "kind")
# The band columns of mean rows (see the module docstring).
BAND_COLUMNS = ("ci", "min", "max", "raw_ci", "raw_min", "raw_max")
# Columns of rates and cosines, written to 3 decimals: a thousandth of the axis is below a
# pixel, and tooltips show 3 decimals (steps keep 4: a mean onset is fractional).
VALUE_COLUMNS = ("smoothed", "raw", *BAND_COLUMNS)


def _band_columns(means: pd.DataFrame) -> dict[str, np.ndarray]:
    """The chart's band columns from seed_means' (see the module docstring)."""
    band: dict[str, np.ndarray] = {}
    for prefix, source in (("", "ema"), ("raw_", "value")):
        low = means[f"{source}_ci_low"].to_numpy(dtype=float)
        high = means[f"{source}_ci_high"].to_numpy(dtype=float)
        band[f"{prefix}ci"] = (high - low) / 2
        band[f"{prefix}min"] = means[f"{source}_min"].to_numpy(dtype=float)
        band[f"{prefix}max"] = means[f"{source}_max"].to_numpy(dtype=float)
    return band


def _numbers(values: np.ndarray, decimals: int = 4) -> np.ndarray:
    """Shortest text for each number at `decimals`: 3, .25, -.0312 (no leading zero: a
    rate or cosine has one in almost every cell, and JavaScript reads `.25`); NaN ->
    empty. Only the cells that hold a number are formatted (a band column is empty on
    every row but the means')."""
    values = np.asarray(values, dtype=float)
    shown = ~np.isnan(values)
    if not shown.any():
        return np.full(values.shape, "", dtype="<U1")
    text = np.char.mod(f"%.{decimals}f", values[shown])
    text = np.char.rstrip(np.char.rstrip(text, "0"), ".")
    text = np.where(text == "-0", "0", text)
    for zero, bare in (("0.", "."), ("-0.", "-.")):
        text = np.where(np.char.startswith(text, zero),
                        np.char.replace(text, zero, bare, count=1), text)
    out = np.full(values.shape, "", dtype=text.dtype)
    out[shown] = text
    return out


def _csv_data(frame: pd.DataFrame) -> alt.InlineData:
    """Inline CSV: about half the bytes of JSON records, and deterministic. Empty cells at
    the end of a row are left out (Vega's CSV reader reads missing cells as empty)."""
    text = pd.DataFrame(
        {c: frame[c] if c == "kind" else _numbers(frame[c].to_numpy(dtype=float),
                                                  3 if c in VALUE_COLUMNS else 4)
         for c in frame}
    ).to_csv(index=False, lineterminator="\n")
    text = re.sub(r",+$", "", text, flags=re.MULTILINE)
    parse = {c: "number" for c in frame.columns if c != "kind"}
    return alt.InlineData(values=text, format=alt.CsvDataFormat(type="csv", parse=parse))


def _frame(arm: Any, run: Any, metric: Any, step: Any, smoothed: Any, raw: Any, kind: str,
           n: int, band: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Chart rows (see the module docstring); None/NaN cells are written empty. `band`:
    the band columns (BAND_SOURCES' keys), for mean rows."""

    def column(values: Any) -> np.ndarray:
        values = np.asarray(values if values is not None else np.nan, dtype=float)
        return np.broadcast_to(values, n)

    return pd.DataFrame(
        {"arm": column(arm), "run": column(run), "metric": column(metric),
         "step": column(step), "smoothed": column(smoothed), "raw": column(raw),
         "kind": np.full(n, kind),
         **{name: column(values) for name, values in (band or {}).items()}}
    )


class _Sweep:
    """What a chart needs of a sweep, gathered once: indices, its lines, the numbers."""

    def __init__(
        self,
        runs: pd.DataFrame,
        series: pd.DataFrame,
        numbers: Summary | None,
        *,
        metrics: Sequence[str],
        max_points: int,
        max_rows: int,
        aligned: bool = False,
        min_line_points: int = _MIN_LINE_POINTS,
    ) -> None:
        """`aligned`: `series` is `numbers.aligned` (steps from each seed's own onset),
        whose means are `numbers.aligned_means` and whose every onset is at 0.
        `min_line_points`: no line is thinned below this many points, whatever
        `max_rows` says."""
        if runs is None or runs.empty:
            msg = "no runs to chart"
            raise ReportError(msg)
        numbers = numbers if numbers is not None else summarize(runs, series)
        self.by = numbers.by  # the runs column of the groups: arm, or group
        self.keys = numbers.group_keys  # what makes a group (--group-by)
        self.group_word = "arm" if self.by == "arm" else "group"
        self.arms = group_order(runs[self.by])
        self.arm_index = {a: n for n, a in enumerate(self.arms)}
        self.metric_index = {m: n for n, m in enumerate(
            [*METRICS, *(m for m in metrics if m not in METRICS)])}
        self._index_runs(runs)
        self.seed_counts = numbers.seeds_by_arm()
        self.hacked = numbers.hacked_by_arm()
        self.mean_onset = {
            a: s for a, s in numbers.mean_onset_by_arm().items() if a in self.arm_index
        }
        self.onsets = {r: s for r, s in numbers.onsets.items() if r in self.run_index}
        means = numbers.means
        if aligned:
            self.mean_onset = {a: 0.0 for a in self.mean_onset}
            self.onsets = {r: 0 for r in self.onsets}
            means = numbers.aligned_means
        self._index_lines(series, metrics)
        self.drawn_runs, self.all_runs = self._keep_lines_within(MAX_SEED_LINES)
        self.means = means[means[self.by].isin(self.arm_index) & means["metric"].isin(metrics)]
        # (arm, metric) -> its mean rows, in table order: grouped once, not filtered per use.
        self.mean_groups: dict[tuple[str, str], pd.DataFrame] = {
            (str(a), str(m)): rows
            for (a, m), rows in self.means.groupby([self.by, "metric"], sort=False,
                                                   observed=True)
        }
        n_lines = len(self.lines) + len(self.mean_groups)
        self.line_points = min(int(max_points), max(min_line_points, max_rows // max(n_lines, 1)))
        # A bold mean line is what a reader follows: never fewer points than a thin seed's,
        # and at least MEAN_LINE_POINTS (there are few of them: one per group and metric).
        self.mean_points = min(int(max_points), max(self.line_points, MEAN_LINE_POINTS))
        window = numbers.align_window
        self.x_domain = [-window, window] if aligned else self._x_domain()

    def _index_runs(self, runs: pd.DataFrame) -> None:
        order = runs.assign(
            _a=[self.arm_index[str(a)] for a in runs[self.by]],
            _s=runs["seed"].astype("Float64").fillna(np.inf),
        )
        self.runs = order.sort_values(["_a", "_s", "run"], kind="stable").reset_index(drop=True)
        self.run_names = [str(r) for r in self.runs["run"]]
        self.run_index = {r: n for n, r in enumerate(self.run_names)}
        self.run_arm = self.runs["_a"].to_numpy(dtype=int)
        self.seed_labels = ["?" if pd.isna(s) else str(int(s)) for s in self.runs["seed"]]

    def _index_lines(self, series: pd.DataFrame, metrics: Sequence[str]) -> None:
        """The (run, metric) lines of `metrics`; their rows are picked by position from
        the arrays kept here: no copy of the big table."""
        ordered, _ = in_line_order(series, ("run", "metric"))
        lines = Lines.of(ordered)
        pairs = zip(lines.run, lines.metric, strict=True)
        wanted = np.array([r in self.run_index and m in metrics for r, m in pairs], dtype=bool)
        self.series = ordered
        self.steps = ordered["step"].to_numpy()
        self.columns = {c: ordered[c].to_numpy(dtype=float) for c in ("value", "ema")}
        self.lines = pd.DataFrame(
            {
                "run": lines.run[wanted],
                "metric": lines.metric[wanted],
                "rows": lines.lengths[wanted],
                "start": lines.starts[wanted],  # into self.series
            }
        )

    def _keep_lines_within(self, max_lines: int) -> tuple[int, int]:
        """Keep the lines of at most `max_lines`: every run's, else those of the most runs
        per group that fit, evenly spread over each group's runs in seed order (a run's
        lines are kept or left out together). Returns (runs drawn, runs with lines)."""
        runs = self.lines["run"].map(self.run_index).to_numpy(dtype=np.int64)
        per_run = np.bincount(runs, minlength=len(self.run_names))
        has_lines = np.flatnonzero(per_run)
        if len(self.lines) <= max_lines:
            return len(has_lines), len(has_lines)
        groups = [has_lines[self.run_arm[has_lines] == a] for a in range(len(self.arms))]
        for most in range(max(map(len, groups)), 0, -1):
            picked = np.concatenate([
                members[np.unique(np.linspace(0, len(members) - 1, min(most, len(members)))
                                  .round().astype(np.int64))]
                for members in groups if len(members)])
            if per_run[picked].sum() <= max_lines:
                break
        self.lines = self.lines[np.isin(runs, picked)].reset_index(drop=True)
        return len(picked), len(has_lines)

    def usermeta(self, panels: int) -> dict[str, Any]:
        """What a chart tells the page about itself: its sizing (`_sizing`) and, when
        only some runs' seed lines are drawn, how many of how many (`seed_lines`)."""
        meta: dict[str, Any] = {"sizing": _sizing(panels)}
        if self.drawn_runs != self.all_runs:
            meta["seed_lines"] = {"drawn": self.drawn_runs, "runs": self.all_runs}
        return meta

    def _x_domain(self) -> list[int]:
        starts = self.lines["start"].to_numpy()
        ends = np.concatenate([
            self.steps[starts],
            self.steps[starts + self.lines["rows"].to_numpy() - 1],
            self.means["step"].to_numpy(),
        ]) if len(self.lines) else self.means["step"].to_numpy()
        return [int(ends.min()), int(ends.max())] if len(ends) else [0, 1]

    def pointer_targets(self, width: int) -> int:
        """Tooltip/hover points per line: one every two pixels of a `width`-pixel line,
        fewer (down to one every eight) when a chart has so many lines that the points
        would pass POINTER_POINTS -- invisible, but each one costs the browser time."""
        per_line = POINTER_POINTS // max(len(self.lines) + len(self.mean_groups), 1)
        return min(width // 2, max(width // 8, per_line))

    def lines_of(self, metrics: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
        """The lines of `metrics` and the positions of their rows in `self.series`."""
        chosen = self.lines[self.lines["metric"].isin(metrics).to_numpy()]
        rows = chosen["rows"].to_numpy()
        first = chosen["start"].to_numpy() - (np.cumsum(rows) - rows)
        return chosen, np.repeat(first, rows) + np.arange(int(rows.sum()))

    def values_of(self, metrics: Sequence[str], column: str) -> np.ndarray:
        return self.columns[column][self.lines_of(metrics)[1]]

    def has(self, metrics: Sequence[str]) -> bool:
        return bool(self.lines["metric"].isin(metrics).any())

    def header(self, arm: str) -> list[str]:
        """A column's header: the group's name (one line per key), its seed count."""
        n = self.seed_counts.get(arm, 0)
        word = "seed" if self.by == "arm" else "run"  # a group may hold one seed twice
        return [*self.name_lines(arm), f"n={n} {word}{'s' if n != 1 else ''}"]

    def name_lines(self, arm: str) -> list[str]:
        """A group's name as header lines: `sweep=before, arm=vanilla` on two."""
        return [arm] if self.by == "arm" else arm.split(", ")

    def seed_rows(self, metrics: Sequence[str], targets: int) -> pd.DataFrame:
        """Thinned seed lines; about `targets` rows per line also carry tooltip/hover."""
        chosen, positions = self.lines_of(metrics)
        lengths = chosen["rows"].to_numpy()
        steps = self.steps[positions]
        ema, value = self.columns["ema"][positions], self.columns["value"][positions]
        keep = None
        if len(positions) > self.line_points:
            keep_at = [self.onsets.get(r) for r in chosen["run"]] if self.onsets else None
            starts = np.cumsum(lengths) - lengths
            keep = _thin(steps, [ema, value], starts, self.line_points, keep_at)
        kept = np.flatnonzero(keep) if keep is not None else np.arange(len(positions))
        run = np.repeat(chosen["run"].map(self.run_index).to_numpy(), lengths)[kept]
        metric = np.repeat(chosen["metric"].map(self.metric_index).to_numpy(), lengths)[kept]
        rows = _frame(self.run_arm[run] if len(run) else [], run, metric, steps[kept],
                      ema[kept], value[kept], "s", n=len(kept))
        return _mark_targets(rows, ("run", "metric"), targets, "S")

    def mean_rows(self, metrics: Sequence[str], targets: int) -> pd.DataFrame:
        means = self.means[self.means["metric"].isin(metrics)]
        means = downsample(
            means, self.mean_points, by=(self.by, "metric"), columns=("ema", "value")
        )
        rows = _frame(
            means[self.by].map(self.arm_index).to_numpy(dtype=float),
            None,
            means["metric"].map(self.metric_index).to_numpy(),
            means["step"].to_numpy(),
            means["ema"],
            means["value"],
            "m",
            n=len(means),
            band=_band_columns(means),
        )
        return _mark_targets(rows, ("arm", "metric"), targets, "M")

    def onset_rows(self) -> pd.DataFrame:
        """One row per hacking seed: its onset step, on its own hack line."""
        rows = []
        for line in self.lines[self.lines["metric"] == "hack"].itertuples():
            onset = self.onsets.get(line.run)
            if onset is None:
                continue
            steps = self.steps[line.start : line.start + line.rows]
            at = line.start + np.searchsorted(steps, onset)
            if at < line.start + line.rows and self.steps[at] == onset:
                rows.append(at)
        at_rows = self.series.iloc[rows]
        run = at_rows["run"].map(self.run_index).to_numpy()
        return _frame(self.run_arm[run] if len(run) else [], run, self.metric_index["hack"],
                      at_rows["step"].to_numpy(), at_rows["ema"], at_rows["value"], "o",
                      n=len(at_rows))

    def rule_rows(self) -> pd.DataFrame:
        arms = [a for a in self.arms if a in self.mean_onset]
        return _frame([self.arm_index[a] for a in arms], None, None,
                      [self.mean_onset[a] for a in arms], None, None, "r", n=len(arms))

    def arm_rows(self) -> pd.DataFrame:
        n = len(self.arms)
        return _frame(np.arange(n), None, None, None, np.nan, np.nan, "z", n=n)

    def mean_ends(self, arm: str, metric: str, column: str) -> tuple[float, float] | None:
        """(step, value) where the arm's mean line of `metric` ends in `column`."""
        rows = self.mean_groups.get((arm, metric), self.means.iloc[:0])
        rows = rows[rows[column].notna()]
        if rows.empty:
            return None
        last = rows.loc[rows["step"].idxmax()]
        return float(last["step"]), float(last[column])

    def mean_line(self, arm: str, metric: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.mean_groups.get((arm, metric), self.means.iloc[:0])
        rows = rows[rows[column].notna()].sort_values("step")
        return rows["step"].to_numpy(dtype=float), rows[column].to_numpy(dtype=float)

    def expressions(self) -> dict[str, str]:
        """Vega expressions that turn the integer codes back into names for tooltips (of
        the runs drawn: when some are left out, theirs are empty)."""
        names, labels = self.run_names, self.seed_labels
        if self.drawn_runs < self.all_runs:
            drawn = np.zeros(len(names), dtype=bool)
            drawn[self.lines["run"].map(self.run_index).to_numpy(dtype=np.int64)] = True
            names = [n if d else "" for n, d in zip(names, drawn, strict=True)]
            labels = [n if d else "" for n, d in zip(labels, drawn, strict=True)]
        runs, seeds = json.dumps(names), json.dumps(labels)
        return {
            "arm_name": f"{json.dumps(self.arms)}[datum.arm]",
            "seed_name": f"datum.kind == 'M' ? 'mean' : {seeds}[datum.run]",
            "run_name": f"datum.kind == 'M' ? 'mean of the seeds' : {runs}[datum.run]",
            "metric_name": f"{json.dumps(list(self.metric_index))}[datum.metric]",
            # Routing's raw hack/solve exist only at eval steps: say so, not "NaN".
            "raw_text": "isValid(datum.raw) ? format(datum.raw, '.3f')"
                        f" + {_band_text('raw', 'raw_')} : '- (not measured)'",
            "smoothed_text": "isValid(datum.smoothed) ? format(datum.smoothed, '.3f')"
                             f" + {_band_text('smoothed', '')} : '-'",
        }


def _band_text(value: str, prefix: str) -> str:
    """A mean's band as the tooltip says it after the value, as the band control is set:
    ', 95% CI 0.412 to 0.530' or ', seeds 0.380 to 0.561'; '' for seeds and no band."""
    def span(low: str, high: str) -> str:
        return f"format({low}, '.3f') + ' to ' + format({high}, '.3f')"
    ci = f"datum.{prefix}ci"
    interval = span(f"datum.{value} - {ci}", f"datum.{value} + {ci}")
    extremes = span(f"datum.{prefix}min", f"datum.{prefix}max")
    return (
        f"(datum.kind != 'M' ? '' : {BAND_PARAM} == 'minmax'"
        f" ? (isValid(datum.{prefix}min) ? ', seeds ' + {extremes} : '')"
        f" : (isValid({ci}) ? ', 95% CI ' + {interval} : ''))"
    )


def _mark_targets(rows: pd.DataFrame, by: Sequence[str], per_line: int, kind: str) -> pd.DataFrame:
    """Give about `per_line` evenly spaced rows of each line the `kind` of a hover target.

    The invisible tooltip points cost as much to draw as the lines themselves; one every
    two pixels or so is all a pointer can tell apart.
    """
    if rows.empty:
        return rows
    starts = np.flatnonzero(line_starts(rows, by))
    lengths = np.diff(np.r_[starts, len(rows)])
    stride = np.repeat(-(-lengths // max(per_line, 1)), lengths)
    position = np.arange(len(rows)) - np.repeat(starts, lengths)
    target = (position % stride == 0) | (position == np.repeat(lengths, lengths) - 1)
    kinds = rows["kind"].to_numpy().copy()
    kinds[target] = kind
    return rows.assign(kind=kinds)


def _label_positions(ends: list[tuple[float, float]], nudge: float) -> list[float]:
    """The reference's direct-label nudge: sort by endpoint, lowest down, highest up."""
    order = sorted(range(len(ends)), key=lambda n: ends[n][1])
    shifted = [y for _, y in ends]
    if len(ends) > 1:
        shifted[order[0]] -= nudge
        shifted[order[-1]] += nudge
    return shifted


def _spread(values: Sequence[float], gap: float, lo: float, hi: float) -> list[float]:
    """Move label positions apart to at least `gap`, keeping their order and the range."""
    if not values:
        return []
    order = np.argsort(values, kind="stable")
    placed = np.asarray(values, dtype=float)[order].copy()
    for n in range(1, len(placed)):
        placed[n] = max(placed[n], placed[n - 1] + gap)
    overflow = placed[-1] - hi
    if overflow > 0:
        placed[-1] = hi
        for n in range(len(placed) - 2, -1, -1):
            placed[n] = min(placed[n], placed[n + 1] - gap)
    placed = np.maximum(placed, lo)
    out = np.empty_like(placed)
    out[order] = placed
    return [float(v) for v in out]


# --- shared chart pieces -----------------------------------------------------------

_Y = f"{VALUES_PARAM} == 'raw' ? datum.raw : datum.smoothed"


def _band_edge(sign: str, extreme: str) -> str:
    """The band's low (sign -, extreme min) or high (+, max) edge for the controls'
    position: the mean `sign` its CI half-width, or the seeds' `extreme`."""
    def pick(smoothed: str, raw: str) -> str:
        return f"({VALUES_PARAM} == 'raw' ? {raw} : {smoothed})"
    # `x - null` is x in JavaScript: a missing interval must stay missing, not be 0 wide.
    ci = pick(f"(isValid(datum.ci) ? datum.smoothed {sign} datum.ci : null)",
              f"(isValid(datum.raw_ci) ? datum.raw {sign} datum.raw_ci : null)")
    return f"{BAND_PARAM} == 'minmax' ? {pick(f'datum.{extreme}', f'datum.raw_{extreme}')} : {ci}"


_BAND_LOW = _band_edge("-", "min")
_BAND_HIGH = _band_edge("+", "max")


def _band_layer(name: str, x: alt.X, y: alt.Y, color: alt.Color, detail: str) -> alt.Chart:
    """The band around each mean line (mean rows' band columns), under every line."""
    return (
        alt.Chart()
        .transform_filter(_kind("m", "M"))
        .transform_calculate(band_low=_BAND_LOW, band_high=_BAND_HIGH)
        .transform_filter("isValid(datum.band_low) && isValid(datum.band_high)"
                          " && isFinite(datum.band_low) && isFinite(datum.band_high)")
        .mark_area(clip=True)
        .encode(
            x=x, y=alt.Y("band_low:Q", scale=y["scale"], axis=y["axis"]),
            y2=alt.Y2("band_high:Q"),
            color=color, detail=alt.Detail(detail),
            fillOpacity=_hover_opacity(BAND_OPACITY, BAND_OPACITY, BAND_OPACITY / 3,
                                       alt.FillOpacityValue),
        )
        .properties(name=f"{name}_bands")
    )
_HOVER_EMPTY = f"!isValid({HOVER_PARAM}.run)"


def _hover_opacity(
    idle: float, picked: float, faded: float, channel: type = alt.StrokeOpacityValue
) -> Any:
    """idle while no seed is hovered; the hovered seed's marks `picked`, others `faded`.

    Lines fade through their stroke's opacity: for a stroke-only mark it draws the same
    as `opacity`, without an offscreen layer per line in the picture's renderer. Built as
    the channel's own class: a plain dict would be matched against the schema's candidate
    classes on every `encode`, a tenth of a second per chart.
    """
    return channel(
        condition=[
            {"test": _HOVER_EMPTY, "value": idle},
            {"param": HOVER_PARAM, "empty": False, "value": picked},
        ],
        value=faded,
    )


# Direct labels mark where a line ends: while zoomed, show only those whose end is in view
# (a mark outside the plot is not clipped, it would float over the next panel).
_LABEL_IN_VIEW = (
    f"!isValid({ZOOM_PARAM}.step) || "
    f"(datum.step >= {ZOOM_PARAM}.step[0] && datum.step <= {ZOOM_PARAM}.step[1])"
)


def _kind(*kinds: str) -> str:
    return " || ".join(f"datum.kind == '{k}'" for k in kinds)


def _with_y(chart: alt.Chart, *kinds: str) -> alt.Chart:
    """Rows of `kinds`, with y read from the smoothed or raw column as the control says."""
    return (
        chart.transform_filter(_kind(*kinds))
        .transform_calculate(y=_Y)
        .transform_filter("isValid(datum.y) && isFinite(datum.y)")
    )


def _params(views_zoom: list[str], views_hover: list[str], value: str) -> list[Any]:
    default = "raw" if value == "value" else "smoothed"
    return [
        alt.TopLevelSelectionParameter(
            name=ZOOM_PARAM,
            select=alt.IntervalSelectionConfig(type="interval", encodings=["x"]),
            bind="scales",
            views=views_zoom,
        ),
        alt.TopLevelSelectionParameter(
            name=HOVER_PARAM,
            select=alt.PointSelectionConfig(
                type="point", fields=["run"], on="pointerover", clear="pointerout"
            ),
            views=views_hover,
        ),
        alt.VariableParameter(name=POINTER_PARAM, value=False),
        alt.VariableParameter(
            name=VALUES_PARAM,
            value=default,
            bind=alt.BindRadioSelect(input="radio", options=list(VALUE_OPTIONS), name="values "),
        ),
        alt.VariableParameter(
            name=BAND_PARAM,
            value=BAND_OPTIONS[0],
            bind=alt.BindRadioSelect(input="radio", options=list(BAND_OPTIONS),
                                     labels=list(BAND_LABELS), name="band "),
        ),
    ]


def _title(
    template: str,
    values: Mapping[str, str] = VALUE_WORDS,
    band: Mapping[str, str] = BAND_WORDS,
) -> alt.Title:
    """The title for every position of the two controls: `template` with {values} and
    {band} filled from the words for each option."""

    def pick(param: str, options: Sequence[str], text: Callable[[str], str]) -> str:
        first, second = options
        return (f"{param} == {json.dumps(second)} ? {text(second)} : {text(first)}")

    def with_band(value: str) -> str:
        return pick(BAND_PARAM, BAND_OPTIONS, lambda b: json.dumps(
            template.format(values=values[value], band=band[b])))

    expr = pick(VALUES_PARAM, VALUE_OPTIONS, lambda v: f"({with_band(v)})")
    return alt.Title(
        text=alt.ExprRef(expr=expr), anchor="middle", fontSize=13, fontWeight="normal",
        # A single chart's title ends in an ellipsis rather than widen a narrow chart
        # (a phone); pictures and charts of panels keep it whole.
        limit=alt.ExprRef(expr=NARROW_TITLE_LIMIT),
    )


def _by_keys(by_arm: str, by_group: str, sweep: _Sweep) -> str:
    """A title template: the reference's when grouped by arm, else one naming the keys."""
    if sweep.by == "arm":
        return by_arm
    keys = ", ".join(sweep.keys).replace("{", "{{").replace("}", "}}")
    return by_group.replace("{keys}", keys)


def _tooltip_layer(name: str, sweep: _Sweep, x: alt.X, step_title: str = "step") -> alt.Chart:
    """Invisible points on every line: the tooltip and the hovered-seed target.

    A Vega line shows its first point's tooltip wherever it is hovered, and a 0.8 px
    line is hard to hit; one transparent point per target row solves both. They are made
    once a pointer has come over the chart (POINTER_PARAM), not with its first drawing.
    """
    chart = _with_y(alt.Chart().transform_filter(POINTER_PARAM), "S", "M")
    for field, expr in sweep.expressions().items():
        chart = chart.transform_calculate(**{field: expr})
    assert name.endswith(POINTER_LAYER_SUFFIX)  # pictures leave them out by name
    return (
        chart.mark_point(size=50, filled=True, opacity=0)
        .encode(
            x=x,
            y=alt.Y("y:Q"),
            tooltip=[
                alt.Tooltip("arm_name:N", title=sweep.group_word),
                alt.Tooltip("seed_name:N", title="seed"),
                alt.Tooltip("run_name:N", title="run"),
                alt.Tooltip("metric_name:N", title="metric"),
                alt.Tooltip("step:Q", title=step_title),
                alt.Tooltip("raw_text:N", title="raw"),
                alt.Tooltip("smoothed_text:N", title="smoothed (EMA-5)"),
            ],
        )
        .properties(name=name)
    )


def _unchecked(build: Callable[_P, _R]) -> Callable[_P, _R]:
    """Build a chart without Altair checking each object against the Vega-Lite schema as
    it is made (its debug mode: a sixth of a second per chart). The whole spec is still
    checked when it becomes a dict with validation, as the tests do."""

    @functools.wraps(build)
    def unchecked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with debug_mode(False):
            return build(*args, **kwargs)

    return unchecked


def _config() -> alt.Config:
    """The reference's look: no frame, no grid, quiet type (passed in, not chained:
    each `configure_*` call deep-copies the whole chart)."""
    return alt.Config(
        # A transparent fill makes the whole panel, not only its lines, take the pointer:
        # zoom and pan work wherever the wheel or drag starts.
        view=alt.ViewConfig(stroke=None, fill="transparent"),
        axis=alt.AxisConfig(
            grid=False,
            labelFontSize=10,
            titleFontSize=11,
            titleFontWeight="normal",
            domainColor="#333333",
            tickColor="#333333",
        ),
        header=alt.HeaderConfig(labelFontSize=11, labelColor="#222222"),
        # No ARIA description per mark item: Vega-Lite builds one string per point of
        # every line (its step, value, seed...), which only Vega's SVG renderer writes out;
        # the page draws on a canvas (named by its figure's title) and the pictures are
        # PNGs, so the strings were made for nothing, on every run of every chart.
        mark=alt.MarkConfig(aria=False),
    )


def _sizing(panels: int) -> dict[str, int]:
    """What the page needs to size a chart to its column (its `usermeta`): how many
    panels share the width (0: a single chart), and each one's least and greatest
    width."""
    if panels:
        return {"panels": panels, "min_width": PANEL_MIN_WIDTH, "max_width": PANEL_MAX_WIDTH}
    return {"panels": 0, "min_width": SINGLE_MIN_WIDTH, "max_width": SINGLE_MAX_WIDTH}


def column_blocks(columns: Sequence[int], most: int = GRID_MAX_COLUMNS) -> list[list[int]]:
    """`columns` wrapped into as few blocks of at most `most` as can be, of balanced
    lengths (7 columns: 4 and 3, not 6 and 1)."""
    count = len(columns)
    per = max(1, -(-count // max(1, -(-count // most))))
    return [list(columns[start:start + per]) for start in range(0, count, per)] or [[]]


def _wrapped_rows(
    rows: Sequence[tuple[_GridRow, pd.DataFrame]],
    sweep: _Sweep,
    *,
    header_expr: str | None,
    x_title: str | None,
    **options: Any,
) -> tuple[list[dict[str, Any]], int]:
    """The rows of a chart faceted by arm, their columns wrapped (`column_blocks`):
    every row of the first block of arms, then every row of the next, so each arm's rows
    stay together. The first row of a block carries the headers, its last the x title;
    a later block's rows are named `<row>_<block>`. Also: the most columns in a block."""
    present = sorted({int(a) for _, data in rows for a in data["arm"].dropna()})
    blocks = column_blocks(present)
    facets = []
    for number, block in enumerate(blocks):
        for place, (row, data) in enumerate(rows):
            facets.append(_grid_row(
                row.in_block(number), data[data["arm"].isin(block)], sweep,
                header_expr=header_expr if place == 0 else None,
                x_title=x_title if place == len(rows) - 1 else None, **options,
            ))
    return facets, max(len(block) for block in blocks)


def _step_axis(domain: list[int], title: str | None, ticks: int) -> alt.X:
    return alt.X(
        "step:Q",
        scale=alt.Scale(domain=domain, nice=True, zero=False),
        axis=alt.Axis(title=title, labels=title is not None, tickCount=ticks),
    )


# --- the grid ----------------------------------------------------------------------


@_unchecked
def grid_chart(
    runs: pd.DataFrame,
    series: pd.DataFrame,
    *,
    numbers: Summary | None = None,
    value: Literal["ema", "value"] = "ema",
    max_points: int = 1000,
    max_rows: int = GRID_MAX_ROWS,
    panel_width: int = PANEL_WIDTH,
    panel_height: int = PANEL_HEIGHT,
) -> Chart:
    """The reference's dynamics.png: columns = arms, rows = rates / cosines with v_hack.

    Thin per-seed EMA lines and a bold seed-mean line per series; an open circle at each
    seed's onset; a dashed rule at the arm's mean onset in both rows. `numbers` (seed
    means, onsets, seed counts) defaults to `report.summary.summarize`'s.
    `value` picks the lines shown first (the page's control switches them).
    Lines are thinned to `max_points` each and to `max_rows` rows in all.
    """
    sweep = _Sweep(runs, series, numbers, metrics=METRICS, max_points=max_points,
                   max_rows=max_rows)
    rows = [_GridRow("rates", RATE_METRICS, [0.0, 1.0], "student rate")]
    if sweep.has(COS_METRICS):
        rows.append(_GridRow("cos", COS_METRICS, _cos_domain(sweep), "cos(grad, v_hack)"))
    header_expr = json.dumps([sweep.header(a) for a in sweep.arms]) + "[datum.value]"
    facets, columns = _wrapped_rows(
        [(row, _grid_row_data(sweep, row, panel_width, panel_height)) for row in rows], sweep,
        header_expr=header_expr, x_title="optimizer step",
        width=panel_width, height=panel_height,
    )
    return _faceted_chart(facets, columns, value, _by_keys(GRID_TITLES, GROUP_GRID_TITLES, sweep),
                          sweep, spacing=12)


def _faceted_chart(
    facets: list[dict[str, Any]], columns: int, value: str, title: str, sweep: _Sweep,
    spacing: int = 20,
) -> Chart:
    """Faceted rows as one chart: the zoom moves every panel together; each row keeps
    its own y and colours."""
    names = [str(facet["name"]) for facet in facets]
    rows = [dict(facet) for facet in facets]
    datasets = {name: values for row in rows for name, values in row.pop("datasets", {}).items()}
    shared = {}  # rows that draw the same data take it from the whole (as Altair puts it)
    if all(row.get("data") == rows[0].get("data") for row in rows):
        shared = {"data": rows[0].get("data")}
        rows = [{k: v for k, v in row.items() if k != "data"} for row in rows]
    return Chart.of(alt.VConcatChart(
        vconcat=[],
        params=_params([f"{n}_seeds" for n in names], [f"{n}_points" for n in names], value),
        title=_title(title),
        spacing=spacing,
        resolve=alt.Resolve(scale=alt.ScaleResolveMap(x="shared", color="independent")),
        config=_config(),
        usermeta=sweep.usermeta(columns),
    ), **shared, vconcat=rows, datasets=datasets)


class _GridRow:
    """One metric group of the grid: its name, metrics, y domain and y title; its kind
    (what it draws: rates, cos, aligned, or a metric's) is its name in the first block
    of wrapped columns."""

    def __init__(self, name: str, metrics: Sequence[str], domain: list[float], title: str,
                 kind: str = ""):
        self.name, self.metrics, self.domain, self.title = name, metrics, domain, title
        self.kind = kind or name

    def in_block(self, number: int) -> _GridRow:
        """The same row in block `number` of wrapped columns (its own name past the first)."""
        name = self.name if number == 0 else f"{self.kind}_{number + 1}"
        return _GridRow(name, self.metrics, self.domain, self.title, self.kind)


def _cos_domain(sweep: _Sweep) -> list[float]:
    """min(-0.05, lowest cosine - 0.02) to 0.45: the zero line always shows."""
    cos = sweep.values_of(COS_METRICS, "value")
    low = float(np.nanmin(cos)) if np.isfinite(cos).any() else 0.0
    return [round(min(-0.05, low - 0.02), 4), 0.45]


def _grid_row_data(sweep: _Sweep, row: _GridRow, width: int, height: int) -> pd.DataFrame:
    targets = sweep.pointer_targets(width)
    return pd.concat(
        [
            sweep.seed_rows(row.metrics, targets=targets),
            sweep.mean_rows(row.metrics, targets=targets),
            *([sweep.onset_rows()] if row.kind == "rates" else []),
            sweep.rule_rows(),
            _grid_labels(sweep, row.metrics, row.domain, height),
            sweep.arm_rows(),
        ],
        ignore_index=True,
    )


def _grid_labels(
    sweep: _Sweep, metrics: Sequence[str], domain: list[float], height: int
) -> pd.DataFrame:
    """Direct labels for the leftmost column: at the mean lines' ends, nudged apart."""
    arm = sweep.arms[0]
    nudge = 7 * (domain[1] - domain[0]) / height  # 7 px in data units
    ema_ends: dict[str, tuple[float, float]] = {}
    raw_ends: dict[str, tuple[float, float]] = {}
    for metric in metrics:
        end = sweep.mean_ends(arm, metric, "ema")
        if end is not None:
            ema_ends[metric] = end
            raw_ends[metric] = sweep.mean_ends(arm, metric, "value") or end
    present = list(ema_ends)
    return _frame(
        0,
        None,
        [sweep.metric_index[m] for m in present],
        [ema_ends[m][0] for m in present],
        _label_positions([ema_ends[m] for m in present], nudge),
        _label_positions([raw_ends[m] for m in present], nudge),
        "l",
        n=len(present),
    )


def _grid_row(
    row: _GridRow,
    data: pd.DataFrame,
    sweep: _Sweep,
    *,
    header_expr: str | None,
    x_title: str | None,
    width: int,
    height: int,
    step_title: str = "step",
    color: alt.Color | None = None,
) -> dict[str, Any]:
    """One metric group as a faceted row (its own y scale), one column per arm. `color`:
    by group (an All-metrics chart: one metric, no direct labels) rather than by metric."""
    labels = color is None
    color = color or alt.Color(
        "metric:N",
        scale=alt.Scale(
            domain=[sweep.metric_index[m] for m in row.metrics],
            range=[METRIC_COLORS[m] for m in row.metrics],
        ),
        legend=None,
    )
    x = _step_axis(sweep.x_domain, x_title, 5)
    y = alt.Y(
        "y:Q",
        scale=alt.Scale(domain=row.domain, nice=False, zero=False),
        # A fixed axis width keeps the rows' panels aligned whatever their tick labels.
        axis=alt.Axis(title=row.title, tickCount=5, minExtent=32, maxExtent=32),
    )
    layers = [
        *_grid_backdrop(row.name, row.kind),
        *_grid_lines(row.name, x, y, color),
        *(_grid_onsets(row.name, x, y, color) if row.kind == "rates" else []),
        *([_rule_text(row.name, "onset", x)] if row.kind == "aligned" else []),
        *([_grid_label_layer(row.name, sweep, x, y, color)] if labels else
          [_rule_text(row.name, "mean onset", x)]),
        _tooltip_layer(f"{row.name}_points", sweep, x, step_title),
    ]
    header = (
        alt.Header(title=None, labelExpr=header_expr, labelFontSize=11)
        if header_expr is not None
        else alt.Header(title=None, labels=False)
    )
    faceted = _part(
        alt.layer()
        .properties(width=width, height=height)
        .facet(
            column=alt.Column("arm:O", sort="ascending", header=header, title=None),
            data=_csv_data(data),
            # Flush: the first column's direct labels spill into the gap instead of
            # widening that column, so both rows keep the same column positions.
            bounds="flush",
            spacing=COLUMN_SPACING,
            name=row.name,
        )
    )
    faceted["spec"]["layer"] = [_inner(layer) for layer in layers]
    return faceted


def _grid_backdrop(name: str, kind: str) -> list[alt.Chart]:
    """A transparent panel-sized rect under everything, and the cosine row's zero line.

    Pointer events in the empty part of a panel land on the rect, inside the cell, so
    wheel-zoom and drag-pan work anywhere in the panel (the cell's own background is
    outside the selection's scope)."""
    layers = [
        alt.Chart()
        .transform_filter(_kind("z"))
        # A tooltip (that shows nothing) is what makes Vega-Lite keep a mark pickable.
        .mark_rect(fill="transparent", stroke=None, tooltip=alt.ExprRef(expr="null"))
        .encode(
            # The panel's own size, whatever width the page gives it.
            x=alt.XValue(0), x2=alt.X2Value("width"), y=alt.YValue(0),
            y2=alt.Y2Value("height"),
        )
        .properties(name=f"{name}_background")
    ]
    if kind in ("cos", "aligned"):  # cosine rows
        layers.append(
            alt.Chart()
            .transform_filter(_kind("z"))
            .mark_rule(color=ZERO_GREY, strokeWidth=0.6)
            .encode(y=alt.Y(datum=0))
            .properties(name=f"{name}_zero")
        )
    return layers


def _grid_lines(name: str, x: alt.X, y: alt.Y, color: alt.Color) -> list[alt.Chart]:
    """The arm's mean-onset rule, the seed mean's band, thin seed lines, the bold mean."""
    return [
        alt.Chart()
        .transform_filter(_kind("r"))
        .mark_rule(color=RULE_GREY, strokeWidth=0.8, strokeDash=[4, 3], clip=True)
        .encode(x=x)
        .properties(name=f"{name}_onset_rule"),
        _band_layer(name, x, y, color, "metric:N"),
        _with_y(alt.Chart(), "s", "S")
        .mark_line(strokeWidth=0.8, strokeCap="round", clip=True)
        .encode(
            x=x, y=y, color=color, detail=alt.Detail("run:N"),
            strokeOpacity=_hover_opacity(0.35, 0.95, 0.08),
            strokeWidth=_hover_opacity(0.8, 1.6, 0.8, alt.StrokeWidthValue),
        )
        .properties(name=f"{name}_seeds"),
        _with_y(alt.Chart(), "m", "M")
        .mark_line(strokeWidth=2, strokeCap="round", clip=True)
        .encode(x=x, y=y, color=color, strokeOpacity=_hover_opacity(1.0, 1.0, 0.3))
        .properties(name=f"{name}_means"),
    ]


def _grid_onsets(name: str, x: alt.X, y: alt.Y, color: alt.Color) -> list[alt.Chart]:
    """Each seed's onset as an open circle on its hack line; "first hack" by the rule."""
    return [
        _with_y(alt.Chart(), "o")
        .mark_point(shape="circle", filled=False, size=30, strokeWidth=1.2, clip=True)
        .encode(
            x=x, y=y, color=color, detail=alt.Detail("run:N"),
            opacity=_hover_opacity(0.9, 1.0, 0.15, alt.OpacityValue),
        )
        .properties(name=f"{name}_onsets"),
        _rule_text(name, "first hack", x),
    ]


def _rule_text(name: str, text: str, x: alt.X) -> alt.Chart:
    """`text` at the top of each arm's onset rule."""
    return (
        alt.Chart()
        .transform_filter(_kind("r"))
        .mark_text(
            text=text, align="left", baseline="top", dx=3, dy=1,
            fontSize=9, color=LABEL_GREY, clip=True,
        )
        .encode(x=x, y=alt.YValue(0))
        .properties(name=f"{name}_onset_text")
    )


def _grid_label_layer(
    name: str, sweep: _Sweep, x: alt.X, y: alt.Y, color: alt.Color
) -> alt.Chart:
    return (
        _with_y(alt.Chart(), "l")
        .mark_text(align="left", baseline="middle", dx=4, fontSize=10, clip=False)
        .encode(
            x=x, y=y, color=color, text=alt.Text("metric_name:N"),
            opacity=alt.OpacityValue(condition={"test": _LABEL_IN_VIEW, "value": 1}, value=0),
        )
        .transform_calculate(metric_name=sweep.expressions()["metric_name"])
        .properties(name=f"{name}_labels")
    )


# --- the overlay -------------------------------------------------------------------


@_unchecked
def overlay_chart(
    runs: pd.DataFrame,
    series: pd.DataFrame,
    *,
    numbers: Summary | None = None,
    colors: Mapping[str, str] | None = None,
    value: Literal["ema", "value"] = "ema",
    max_points: int = 1000,
    max_rows: int = OVERLAY_MAX_ROWS,
    width: int = OVERLAY_WIDTH,
    height: int = OVERLAY_HEIGHT,
) -> Chart:
    """The reference's dynamics_hack_overlay.png: every arm's hack rate in one panel.

    Faint per-seed lines, a bold seed mean per arm, a dot at the arm's mean onset on
    its mean line, arm names at the line ends. `colors` defaults to `arm_colors`.
    """
    sweep = _Sweep(runs, series, numbers, metrics=("hack",), max_points=max_points,
                   max_rows=max_rows)
    palette = {**arm_colors(sweep.arms, by_arm=sweep.by == "arm"), **(colors or {})}
    color = alt.Color(
        "arm:N",
        scale=alt.Scale(
            domain=list(range(len(sweep.arms))), range=[palette[a] for a in sweep.arms]
        ),
        legend=None,
    )
    x = _step_axis(sweep.x_domain, "optimizer step", 8)
    y = alt.Y(
        "y:Q",
        scale=alt.Scale(domain=[0, 1], nice=False),
        axis=alt.Axis(title="student hack rate (hack_s)", tickCount=5),
    )
    return Chart.of(alt.LayerChart(
        layer=_overlay_layers(sweep, x, y, color),
        data=_csv_data(_overlay_data(sweep, width, height)),
        params=_params(["overlay_seeds"], ["overlay_points"], value),
        title=_title(_by_keys(OVERLAY_TITLES, OVERLAY_TITLES.replace("by arm", "by {keys}"),
                              sweep),
                     {"smoothed": "EMA-5", "raw": VALUE_WORDS["raw"]},
                     {"ci": "95% CI", "minmax": "min-max"}),
        width=width,
        height=height,
        config=_config(),
        usermeta=sweep.usermeta(0),
    ))


def _overlay_data(sweep: _Sweep, width: int, height: int) -> pd.DataFrame:
    """Seed and mean lines, a dot per arm at its mean onset, a label per arm."""
    dots, labels = [], []
    for n, arm in enumerate(sweep.arms):
        if arm in sweep.mean_onset:
            onset = sweep.mean_onset[arm]
            at = []
            for column in ("ema", "value"):
                xs, ys = sweep.mean_line(arm, "hack", column)
                at.append(float(np.interp(onset, xs, ys)) if len(xs) else np.nan)
            dots.append((n, onset, *at))
        ends = [sweep.mean_ends(arm, "hack", c) for c in ("ema", "value")]
        if ends[0] is not None:
            labels.append((n, ends[0][0], ends[0][1], (ends[1] or ends[0])[1]))
    gap = 12 / height  # 12 px between label baselines, in data units
    targets = sweep.pointer_targets(width)
    return pd.concat(
        [
            sweep.seed_rows(("hack",), targets=targets),
            sweep.mean_rows(("hack",), targets=targets),
            _frame([d[0] for d in dots], None, 0, [d[1] for d in dots],
                   [d[2] for d in dots], [d[3] for d in dots], "o", n=len(dots)),
            _frame([lb[0] for lb in labels], None, 0, [int(lb[1]) for lb in labels],
                   _spread([lb[2] for lb in labels], gap, 0.0, 1.0),
                   _spread([lb[3] for lb in labels], gap, 0.0, 1.0), "l", n=len(labels)),
        ],
        ignore_index=True,
    )


def _overlay_layers(sweep: _Sweep, x: alt.X, y: alt.Y, color: alt.Color) -> list[alt.Chart]:
    return [
        _band_layer("overlay", x, y, color, "arm:N"),
        _with_y(alt.Chart(), "s", "S")
        .mark_line(strokeWidth=0.7, strokeCap="round", clip=True)
        .encode(
            x=x, y=y, color=color, detail=alt.Detail("run:N"),
            strokeOpacity=_hover_opacity(0.25, 0.95, 0.06),
            strokeWidth=_hover_opacity(0.7, 1.6, 0.7, alt.StrokeWidthValue),
        )
        .properties(name="overlay_seeds"),
        _with_y(alt.Chart(), "m", "M")
        .mark_line(strokeWidth=2, strokeCap="round", clip=True)
        .encode(
            x=x, y=y, color=color, detail=alt.Detail("arm:N"),
            strokeOpacity=_hover_opacity(1.0, 1.0, 0.3),
        )
        .properties(name="overlay_means"),
        _with_y(alt.Chart(), "o")
        .mark_point(
            shape="circle", filled=True, size=55, opacity=1, stroke="white", strokeWidth=1,
            clip=True,
        )
        .encode(x=x, y=y, color=color)
        .properties(name="overlay_onsets"),
        _with_y(alt.Chart(), "l")
        .transform_calculate(arm_name=sweep.expressions()["arm_name"])
        .mark_text(align="left", baseline="middle", dx=5, fontSize=10, clip=False)
        .encode(
            x=x, y=y, color=color, text=alt.Text("arm_name:N"),
            opacity=alt.OpacityValue(condition={"test": _LABEL_IN_VIEW, "value": 1}, value=0),
        )
        .properties(name="overlay_labels"),
        _tooltip_layer("overlay_points", sweep, x),
    ]


# --- the onset-aligned view --------------------------------------------------------

ALIGNED_TITLES = (
    "Gradient alignment around each seed's hack onset ({values}; band = {band})"
)
ALIGNED_TITLE = ALIGNED_TITLES.format(values=VALUE_WORDS["smoothed"], band=BAND_WORDS["ci"])
ALIGNED_X_TITLE = "steps from the seed's own hack onset"
ALIGNED_MAX_ROWS = GRID_MAX_ROWS // 2


def has_aligned_view(numbers: Summary) -> bool:
    """Whether any seed hacked and logged cosines: the onset-aligned view has lines."""
    return not numbers.aligned.empty


@_unchecked
def aligned_chart(
    runs: pd.DataFrame,
    numbers: Summary,
    *,
    value: Literal["ema", "value"] = "ema",
    max_points: int = 1000,
    max_rows: int = ALIGNED_MAX_ROWS,
    panel_width: int = PANEL_WIDTH,
    panel_height: int = PANEL_HEIGHT,
) -> Chart:
    """The grid's cosine row with x = step minus each seed's own onset, within the
    summary's window: does the gradients' alignment with v_hack move before hacking
    starts? Seeds thin, their mean bold with its band, a rule at 0; one column per arm,
    headed with how many of its seeds hacked (the others have no onset: left out)."""
    sweep = _Sweep(runs, numbers.aligned, numbers, metrics=COS_METRICS, max_points=max_points,
                   max_rows=max_rows, aligned=True)
    row = _GridRow("aligned", COS_METRICS, _cos_domain(sweep), "cos(grad, v_hack)")
    headers = [
        [*sweep.name_lines(arm),
         f"{sweep.hacked.get(arm, 0)} of {sweep.seed_counts.get(arm, 0)} "
         f"{'seeds' if sweep.by == 'arm' else 'runs'} hacked"]
        for arm in sweep.arms
    ]
    facets, columns = _wrapped_rows(
        [(row, _grid_row_data(sweep, row, panel_width, panel_height))], sweep,
        header_expr=json.dumps(headers) + "[datum.value]", x_title=ALIGNED_X_TITLE,
        width=panel_width, height=panel_height, step_title="steps from onset",
    )
    return _faceted_chart(facets, columns, value, ALIGNED_TITLES, sweep)


# --- every other metric -------------------------------------------------------------

METRIC_TITLES = "{metric} by {word} ({values}; band = {band}; dashed line = mean hack onset)"
# Rows of embedded data for all the All-metrics charts together: each chart's lines get
# their share, so the section costs a fraction of the grid's bytes however many metrics;
# lines of a big sweep are thinned down to METRIC_LINE_POINTS (a thin line across a
# panel needs no more), not the other charts' floor; mean lines keep the grid's floor.
METRICS_MAX_ROWS = 6_666  # what the demo's metrics fit in
METRIC_LINE_POINTS = 32
METRIC_PANEL_HEIGHT = 120


def extra_metrics(series: pd.DataFrame) -> list[str]:
    """The metrics of `series` that are not drawn in the grid, in the series' order."""
    column = series["metric"]
    listed = (list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype)
              else list(dict.fromkeys(column)))
    present = set(column.unique())
    return [str(m) for m in listed if m in present and m not in METRICS]


@dataclass(frozen=True)
class MetricChart:
    """An All-metrics chart, and the arms (groups) that logged its metric: its columns."""

    chart: Chart
    groups: list[str]


@_unchecked
def metric_charts(
    runs: pd.DataFrame,
    series: pd.DataFrame,
    metrics: Sequence[str],
    *,
    numbers: Summary | None = None,
    colors: Mapping[str, str] | None = None,
    max_points: int = 1000,
    max_rows: int = METRICS_MAX_ROWS,
    panel_width: int = PANEL_WIDTH,
    panel_height: int = METRIC_PANEL_HEIGHT,
) -> dict[str, MetricChart]:
    """metric -> its small multiples: one column per arm (group) that logged it, each
    seed thin, the seed mean bold with its band, in the group's colour, the group's mean
    hack onset dashed; the grid's interaction (hover a seed, zoom the steps, the values
    and band controls). The charts share `max_rows` rows of data (and the pointer points'
    budget). A metric no group has a value of has no chart."""
    if not metrics:
        return {}
    sweep = _Sweep(runs, series, numbers, metrics=metrics, max_points=max_points,
                   max_rows=max_rows, min_line_points=METRIC_LINE_POINTS)
    palette = {**arm_colors(sweep.arms, by_arm=sweep.by == "arm"), **(colors or {})}
    targets = sweep.pointer_targets(panel_width)  # shared: counts every metric's lines
    made = {}
    for number, metric in enumerate(metrics):
        data = _metric_data(sweep, metric, targets)
        if data is None:
            continue
        chart = _metric_chart(sweep, metric, f"metric{number}", data, palette, panel_width,
                              panel_height)
        groups = [a for n, a in enumerate(sweep.arms) if n in set(data["arm"].dropna())]
        made[metric] = MetricChart(chart, groups)
    return made


def _metric_data(sweep: _Sweep, metric: str, targets: int) -> pd.DataFrame | None:
    """The chart rows of one metric: its seed and mean lines, the mean onset rule and one
    row per group, for the groups with a value of it (None: no group has one)."""
    seeds = sweep.seed_rows((metric,), targets=targets)
    if not np.isfinite(seeds[["smoothed", "raw"]].to_numpy(dtype=float)).any():
        return None
    present = set(seeds["arm"].dropna().astype(int))
    others = [sweep.mean_rows((metric,), targets=targets), sweep.rule_rows(), sweep.arm_rows()]
    return pd.concat([seeds, *(rows[rows["arm"].isin(present)] for rows in others)],
                     ignore_index=True)


def _metric_domain(sweep: _Sweep, metric: str, data: pd.DataFrame) -> tuple[list[float], str]:
    """The y domain and the axis title: [0, 1] for a rate (k/n cells) or a share of true
    (T/F cells, values 0 and 1); the values' extent (smoothed and raw) otherwise."""
    chosen, positions = sweep.lines_of((metric,))
    values = sweep.columns["value"][positions]
    finite = values[np.isfinite(values)]
    counted = "k" in sweep.series and bool(sweep.series["k"].iloc[positions].notna().any())
    if counted and finite.min() >= 0 and finite.max() <= 1:
        return [0.0, 1.0], f"{metric} (rate)"
    if np.isin(finite, (0.0, 1.0)).all():
        return [0.0, 1.0], f"{metric} (share of 1s)"
    shown = data.loc[data["kind"].isin(list("sSmM")), ["smoothed", "raw"]].to_numpy(dtype=float)
    shown = shown[np.isfinite(shown)]
    low, high = float(min(shown.min(), finite.min())), float(max(shown.max(), finite.max()))
    pad = (high - low) * 0.05 or 0.5  # lines clear of the frame; a constant in the middle
    return [low - pad, high + pad], metric


def _metric_chart(
    sweep: _Sweep, metric: str, name: str, data: pd.DataFrame, palette: Mapping[str, str],
    width: int, height: int,
) -> Chart:
    domain, title = _metric_domain(sweep, metric, data)
    row = _GridRow(name, (metric,), domain, title)
    color = alt.Color(
        "arm:N",
        scale=alt.Scale(domain=list(range(len(sweep.arms))),
                        range=[palette[a] for a in sweep.arms]),
        legend=None,
    )
    headers = json.dumps([sweep.header(a) for a in sweep.arms]) + "[datum.value]"
    facets, columns = _wrapped_rows([(row, data)], sweep, header_expr=headers,
                                    x_title="optimizer step", width=width, height=height,
                                    color=color)
    escaped = metric.replace("{", "{{").replace("}", "}}")
    template = _by_keys(METRIC_TITLES.replace("{word}", "arm"),
                        METRIC_TITLES.replace("{word}", "{keys}"), sweep)
    template = template.replace("{metric}", escaped)
    return _faceted_chart(facets, columns, "ema", template, sweep)


# --- time to hack -------------------------------------------------------------------

TIME_TO_HACK_TITLE = (
    "Share of seeds that have started hacking (Kaplan-Meier; tick = a seed that never hacked)"
)
KM_HEIGHT = 240
KM_COLUMNS = ("arm", "step", "share", "at_risk", "hacked", "censored", "seeds", "kind")


@_unchecked
def time_to_hack_chart(
    numbers: Summary,
    *,
    colors: Mapping[str, str] | None = None,
    width: int = OVERLAY_WIDTH,
    height: int = KM_HEIGHT,
) -> Chart:
    """Per arm, the Kaplan-Meier share of seeds that have started hacking by each step
    (summary.time_to_hack) as a step curve in the arm's colour; a tick where a seed that
    never hacked stops being watched; the arm's name beside the plot's end; a rule at one
    half (where a curve crosses it is the arm's median onset). Pointing at a curve shows
    the seeds at risk there."""
    arms = numbers.arms
    palette = {**arm_colors(arms, by_arm=numbers.by == "arm"), **(colors or {})}
    km = numbers.km[numbers.km[numbers.by].isin(arms)]
    color = alt.Color(
        "arm:N",
        scale=alt.Scale(domain=list(range(len(arms))), range=[palette[a] for a in arms]),
        legend=None,
    )
    steps = km["step"].to_numpy() if len(km) else np.array([0, 1])
    x = _step_axis([int(steps.min()), int(max(steps.max(), steps.min() + 1))],
                   "optimizer step", 8)
    y = alt.Y("share:Q", scale=alt.Scale(domain=[0, 1], nice=False),
              axis=alt.Axis(title="share of seeds hacking", format="%", tickCount=5))
    arm_names = json.dumps(arms) + "[datum.arm]"
    return Chart.of(alt.LayerChart(
        layer=_km_layers(x, y, color, arm_names, "arm" if numbers.by == "arm" else "group"),
        data=_csv_data(_km_data(km.rename(columns={numbers.by: "arm"}), arms,
                                numbers.seeds_by_arm(), height)),
        params=[
            alt.TopLevelSelectionParameter(
                name=ZOOM_PARAM,
                select=alt.IntervalSelectionConfig(type="interval", encodings=["x"]),
                bind="scales",
                views=["km_curves"],
            ),
        ],
        title=alt.Title(TIME_TO_HACK_TITLE, anchor="middle", fontSize=13, fontWeight="normal",
                        limit=alt.ExprRef(expr=NARROW_TITLE_LIMIT)),
        width=width,
        height=height,
        config=_config(),
        usermeta={"sizing": _sizing(0)},
    ))


def _km_data(km: pd.DataFrame, arms: list[str], seeds: Mapping[str, int],
             height: int) -> pd.DataFrame:
    """Curve vertices (k), a label per arm beside its curve's end (l), one row for rules
    (z). The labels share one x, the last step of all: a curve that ends sooner (runs
    logged every 10 steps end at 190, not 199) would have its label over the others'
    lines."""
    index = {a: n for n, a in enumerate(arms)}
    vertices = pd.DataFrame({
        "arm": km["arm"].map(index).to_numpy(dtype=float),
        "step": km["step"].to_numpy(dtype=float),
        "share": km["share"].to_numpy(dtype=float),
        "at_risk": km["at_risk"].to_numpy(dtype=float),
        "hacked": km["hacked"].to_numpy(dtype=float),
        "censored": km["censored"].to_numpy(dtype=float),
        "seeds": km["arm"].map(seeds).to_numpy(dtype=float),
        "kind": "k",
    })
    ends = vertices.groupby("arm", sort=True).tail(1)
    labels = ends.assign(step=vertices["step"].max(),
                         share=_spread(ends["share"].tolist(), 12 / height, 0.0, 1.0),
                         kind="l")[["arm", "step", "share", "kind"]]
    rule = pd.DataFrame({"kind": ["z"]})
    return pd.concat([vertices, labels, rule], ignore_index=True)[list(KM_COLUMNS)]


def _km_layers(x: alt.X, y: alt.Y, color: alt.Color, arm_names: str,
               word: str = "arm") -> list[alt.Chart]:
    def rows(*kinds: str) -> alt.Chart:
        return alt.Chart().transform_filter(_kind(*kinds))

    return [
        rows("z").mark_rule(color=ZERO_GREY, strokeWidth=0.8, strokeDash=[2, 2])
        .encode(y=alt.Y(datum=0.5)).properties(name="km_half"),
        rows("z").mark_text(text="half of the seeds", align="left", baseline="bottom", dx=2,
                            dy=-2, fontSize=9, color=LABEL_GREY)
        .encode(x=alt.XValue(0), y=alt.Y(datum=0.5)).properties(name="km_half_text"),
        rows("k").mark_line(interpolate="step-after", strokeWidth=2, clip=True)
        .encode(x=x, y=y, color=color, detail=alt.Detail("arm:N"),
                order=alt.Order("step:Q"))
        .properties(name="km_curves"),
        rows("k").transform_filter("datum.censored > 0")
        .mark_point(shape="M0,-1L0,1", size=50, strokeWidth=1.5, filled=False, opacity=1,
                    clip=True)
        .encode(x=x, y=y, color=color).properties(name="km_censored"),
        rows("l").transform_calculate(arm_name=arm_names)
        .mark_text(align="left", baseline="middle", dx=5, fontSize=10, clip=False)
        .encode(x=x, y=y, color=color, text=alt.Text("arm_name:N"),
                opacity=alt.OpacityValue(condition={"test": _LABEL_IN_VIEW, "value": 1},
                                         value=0))
        .properties(name="km_labels"),
        rows("k").transform_calculate(
            arm_name=arm_names,
            share_text="format(datum.share, '.0%')",
            risk_text="datum.at_risk + ' of ' + datum.seeds + ' seeds'",
        )
        .mark_point(size=80, filled=True, opacity=0)
        .encode(
            x=x, y=y,
            tooltip=[
                alt.Tooltip("arm_name:N", title=word),
                alt.Tooltip("step:Q", title="step"),
                alt.Tooltip("share_text:N", title="hacking by this step (Kaplan-Meier)"),
                alt.Tooltip("risk_text:N", title="at risk (watched, not yet hacking)"),
                alt.Tooltip("hacked:Q", title="started hacking here"),
                alt.Tooltip("censored:Q", title="stopped without hacking here"),
            ],
        )
        .properties(name="km" + POINTER_LAYER_SUFFIX),
    ]

