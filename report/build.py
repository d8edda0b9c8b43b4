"""A sweep and options -> every output of a report, in memory (nothing is written here).

Gather, then write (mkdocs' `build()`): `build_report` computes the numbers once
(`summary`), builds the charts from them, draws their pictures and renders the page; the
caller (`cli`, or a notebook) decides where the bytes go.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
import PIL.Image

from report import charts, colors, export, groups, render, summary
from report.errors import ReportError, UsageError
from report.parse import release_freed_memory
from report.tables import EMA_SPAN, RUN_COLUMNS, Sweep

GRID_PNG = "dynamics.png"
OVERLAY_PNG = "dynamics_hack_overlay.png"
TIME_TO_HACK_PNG = "time_to_hack.png"
ALIGNED_PNG = "onset_aligned.png"
# Each chart's picture beside the page, by chart key.
PICTURE_FILES = {"grid": GRID_PNG, "overlay": OVERLAY_PNG, "time_to_hack": TIME_TO_HACK_PNG,
                 "aligned": ALIGNED_PNG}
SERIES_FILE = "series.csv.gz"
# Device pixels per CSS pixel of the pictures inside the page, seen only with JavaScript
# off: 2x pictures inlined as base64 would push an emailed demo page past 2 MB. The
# files beside the page are drawn at `Options.png_scale`, crisp for slides.
PICTURE_SCALE = 1.0
# Above this, the tidy series no longer rides inside the page (it would dominate an
# emailed file); it is written beside the HTML instead, and the page says so.
SERIES_EMBED_LIMIT = 1_500_000
# Above this many rows the gzipped series could not ride inside the page anyway, and
# writing millions of rows as CSV takes longer than all the rest of the report: then it
# is written beside the page only when asked (`Options.series`).
SERIES_CSV_MAX_ROWS = 500_000
# Up to this many rows of tidy series, a report that keeps its series while the pictures
# are drawn (`--watch`, for its next rebuild) draws them with one process per core
# (`drawing_jobs`); past it, in its own process: each drawing process takes up to a few
# hundred MB, which a big sweep's report holding its series cannot add and stay under
# 1 GB in all. The command, which lets its series go first, always has one per core.
PARALLEL_PICTURES_MAX_ROWS = 500_000
# The page stays under this whatever the sweep: the series rides inside only if it fits.
PAGE_LIMIT = 4_000_000
# Rows a per-run or per-file table (Runs, the input files, the command lines) shows on the
# page, at most: past it the page lists the first ones, says so, and its downloads, then
# gzipped, carry every row (thousands of rows would double the page and its layout).
TABLE_ROWS = 500


@dataclass(frozen=True)
class Options:
    """What a report is asked to be; the command line's flags, for library callers."""

    title: str = "Training dynamics"
    arm_colors: Literal["fixed", "rank"] = "fixed"
    max_points: int = 1000
    png: bool = True
    png_scale: float = 2.0
    series: bool = False  # write a big sweep's tidy series beside the page (slow)
    baseline: str | None = None  # the arm the others are compared with (None: vanilla/first)
    onset_threshold: float = 0.0  # onset: raw hack rate above this ...
    onset_patience: int = 1  # ... for this many measured steps in a row
    group_by: tuple[str, ...] = groups.DEFAULT_KEYS  # what a group of runs is (--group-by)
    metrics: tuple[str, ...] | None = None  # the All-metrics section's (None: every one)
    refresh_seconds: int = 0  # `--watch`: the page reloads itself this often (0: never)
    strict_csp: bool = False  # no 'unsafe-eval': Vega interprets its expressions (slower)
    # Processes drawing the pictures. More than one starts worker processes, which import
    # the calling script again, as any use of processes does: call it under
    # `if __name__ == "__main__":` (the command line asks for `drawing_jobs`).
    jobs: int = 1


@dataclass
class BuiltReport:
    """Every output, in memory: the page, and the files beside it (name -> bytes)."""

    html: str
    extras: dict[str, bytes] = field(default_factory=dict)


def build_report(sweep: Sweep, options: Options | None = None) -> BuiltReport:
    """The page and the files beside it, for `sweep` as `options` ask. UsageError for
    options these logs cannot answer (a --group-by key no run has, a --baseline that is
    no group, a --metrics name no run logged)."""
    return finish_report(prepare_report(sweep, options))


@dataclass
class PreparedReport:
    """All of a report that reads its sweep's tidy series: the numbers (in the page's
    tables and the charts), the charts' Vega-Lite specs, and the series itself as the
    gzipped CSV the page or a file beside it carries (None: it goes nowhere, a big sweep
    not asked for it). It holds no table of the sweep, so a caller that lets its sweep go
    frees the series before `finish_report` starts the pictures' engines."""

    page: render.Page
    specs: dict[str, charts.Chart]
    metric_of: dict[str, str]  # the All-metrics charts' metric, by chart key
    options: Options
    series_gz: bytes | None


def prepare_report(sweep: Sweep, options: Options | None = None) -> PreparedReport:
    """What `build_report` computes from `sweep` (`PreparedReport`); UsageError as there."""
    options = options or Options()
    runs = groups.group_runs(sweep.runs, options.group_by)
    grouping = groups.grouping(runs, options.group_by)
    metrics = _chosen_metrics(sweep.series, options.metrics)
    rule = summary.OnsetRule(threshold=options.onset_threshold, patience=options.onset_patience)
    numbers = summary.summarize(runs, sweep.series, rule=rule, baseline=options.baseline,
                                groups=grouping)
    specs, metric_of, metric_groups = _charts(runs, sweep.series, numbers, grouping, metrics,
                                              options)
    page = _page(sweep, runs, numbers, grouping, options)
    page.metrics_without_values = [m for m in metrics if m not in metric_of.values()]
    page.metric_groups = metric_groups
    return PreparedReport(page, specs, metric_of, options,
                          _series_gz(sweep.series, options, page))


def finish_report(prepared: PreparedReport) -> BuiltReport:
    """The report's pictures drawn, its page rendered: every output, in memory."""
    page, specs, options = prepared.page, prepared.specs, prepared.options
    # What the caller and the charts let go (the series, the seed means, the charts' own
    # tables) goes back to the system first: the pictures' engines keep heaps of their
    # own, which could not reuse it.
    release_freed_memory()
    scales = (PICTURE_SCALE, options.png_scale) if options.png else (PICTURE_SCALE,)
    vega, pictures = _draw(specs, scales, options.jobs)
    page.charts = [
        render.ChartBlock(key=key, spec=vega[key], png=inline_picture(pictures[key][0]),
                          png_scale=PICTURE_SCALE, metric=prepared.metric_of.get(key, ""),
                          seed_lines=seed_lines(specs[key]))
        for key in specs
    ]
    page.dark_colors = dark_colors(vega.values())
    page.javascript = export.javascript_bundle()
    extras: dict[str, bytes] = {}
    if options.png:
        extras.update({picture_file(key): pictures[key][-1] for key in specs})
    html = _page_with_series(page, prepared.series_gz, extras)
    return BuiltReport(html=html, extras=extras)


def drawing_jobs(sweep: Sweep, *, series_kept: bool = False) -> int:
    """The processes the command draws `sweep`'s pictures with, unless told (`-j`): one
    per core; but one (its own) for a big sweep whose series is kept while they are
    drawn (`series_kept`: PARALLEL_PICTURES_MAX_ROWS)."""
    from report.workers import cores

    big = len(sweep.series) > PARALLEL_PICTURES_MAX_ROWS
    return 1 if series_kept and big else cores()


def seed_lines(chart: charts.Chart) -> tuple[int, int] | None:
    """(runs drawn, runs) when `chart` draws only some runs' seed lines, else None."""
    meta = getattr(chart, "usermeta", None)
    drawn = meta.get("seed_lines") if isinstance(meta, dict) else None
    return (int(drawn["drawn"]), int(drawn["runs"])) if drawn else None


def _charts(
    runs: pd.DataFrame, series: pd.DataFrame, numbers: summary.Summary,
    grouping: groups.Grouping, metrics: Sequence[str], options: Options,
) -> tuple[dict[str, charts.Chart], dict[str, str], dict[str, list[str]]]:
    """Every chart of the page by key, the All-metrics charts' metric by key, and the
    groups that logged each of those metrics."""
    colors = charts.arm_colors(
        runs[numbers.by], mode=options.arm_colors, final_hack=numbers.final_hack_by_arm(),
        by_arm=grouping.by_arm,
    )
    specs: dict[str, charts.Chart] = {
        "grid": charts.grid_chart(runs, series, numbers=numbers, max_points=options.max_points),
        "overlay": charts.overlay_chart(
            runs, series, numbers=numbers, colors=colors, max_points=options.max_points,
        ),
        "time_to_hack": charts.time_to_hack_chart(numbers, colors=colors),
    }
    if charts.has_aligned_view(numbers):
        specs["aligned"] = charts.aligned_chart(runs, numbers, max_points=options.max_points)
    drawn = charts.metric_charts(runs, series, metrics, numbers=numbers, colors=colors,
                                 max_points=options.max_points)
    metric_of = {metric_key(metric, i): metric for i, metric in enumerate(drawn)}
    specs.update({key: drawn[metric].chart for key, metric in metric_of.items()})
    return specs, metric_of, {metric: made.groups for metric, made in drawn.items()}


def _page(sweep: Sweep, runs: pd.DataFrame, numbers: summary.Summary,
          grouping: groups.Grouping, options: Options) -> render.Page:
    """The page's tables, downloads and words; its charts and script come later."""
    config = [c for c in runs.columns if c not in (*RUN_COLUMNS, "sweep")]
    runs_csv = numbers.per_run.merge(
        runs[["run", "path", "preset_arm", "v_hack", "refresh", *config]], on="run", how="left"
    )
    word = grouping.column
    files = pd.DataFrame({"file": [f.path for f in sweep.files],
                          "bytes": [f.size for f in sweep.files],
                          "sha256": [f.sha256 for f in sweep.files]})
    argvs = runs[["run", "argv"]]
    long_tables = max(len(runs), len(files)) > TABLE_ROWS
    downloads = [
        _download("runs.csv", "runs table", runs_csv, zipped=long_tables),
        render.Download("arms.csv", f"{word}s table (CSV)", "text/csv",
                        _csv_bytes(numbers.per_arm)),
        render.Download("comparisons.csv", f"{word}s against the baseline (CSV)", "text/csv",
                        _csv_bytes(numbers.comparisons)),
    ]
    # the provenance tables' every row, when the page lists only the first
    provenance = [_download("files.csv", "input files", files, zipped=True),
                  _download("argv.csv", "command lines", argvs, zipped=True)
                  ] if long_tables else []
    rule = numbers.rule
    return render.Page(
        title=options.title,
        sweep=_sweep_facts(runs, grouping),
        charts=[],
        runs=numbers.per_run.head(TABLE_ROWS).to_dict("records"),
        arms=numbers.per_arm.to_dict("records"),
        files=[{"path": f.path, "size": f.size, "sha256": f.sha256}
               for f in sweep.files[:TABLE_ROWS]],
        argvs=list(zip(argvs["run"].head(TABLE_ROWS), argvs["argv"].head(TABLE_ROWS),
                       strict=True)),
        counts={"runs": len(runs), "files": len(files)},
        provenance_downloads=provenance,
        versions=versions(),
        generated=generation_time(),
        warnings=list(sweep.warnings),
        downloads=downloads,
        javascript="",
        strict_csp=options.strict_csp,
        ema_span=EMA_SPAN,
        max_points=options.max_points,
        longest_line=charts.longest_line(sweep.series),
        comparisons=numbers.comparisons.to_dict("records"),
        baseline=numbers.baseline,
        onset_rule={"threshold": rule.threshold, "patience": rule.patience,
                    "reference": rule.is_reference},
        align_window=numbers.align_window,
        group_word=word,
        group_by=list(grouping.keys),
        sweeps=[str(s) for s in runs["sweep"].cat.categories] if "sweep" in runs else [],
        paired_baselines=len(set(numbers.baselines.values())) > 1,
        refresh_seconds=options.refresh_seconds,
    )


def metric_key(metric: str, number: int) -> str:
    """The chart key (element id, picture name) of an All-metrics chart: `metric-loss`;
    a name that is not a plain word gets its number too (`metric-3-kl`)."""
    slug = re.sub(r"[^A-Za-z0-9_]+", "-", metric).strip("-")
    return f"metric-{slug}" if slug == metric else f"metric-{number}-{slug}".rstrip("-")


def picture_file(key: str) -> str:
    """The picture beside the page of chart `key`: PICTURE_FILES, `metric_loss.png`."""
    return PICTURE_FILES.get(key) or key.replace("-", "_", 1) + ".png"


def _chosen_metrics(series: pd.DataFrame, asked: Sequence[str] | None) -> list[str]:
    """The All-metrics section's metrics: those asked for (`--metrics`), each of which
    some run logged, else every metric the grid does not draw."""
    extra = charts.extra_metrics(series)
    if asked is None:
        return extra
    logged = set(series["metric"].unique())
    unknown = [m for m in asked if m not in logged]
    if unknown:
        have = ", ".join([*charts.METRICS, *extra])
        msg = f"no run logged {unknown[0]!r}; the metrics are: {have}"
        raise UsageError(msg, "--metrics")
    return list(dict.fromkeys(asked))


def _draw(
    specs: dict[str, charts.Chart], scales: tuple[float, ...], jobs: int
) -> tuple[dict[str, dict], dict[str, list[bytes]]]:
    """Each chart compiled to Vega once: that spec for the page, and its pictures at
    `scales`, drawn from the same spec without the pointer's marks, by up to `jobs`
    processes (`export.draw_charts`)."""
    drawn = export.draw_charts({key: chart.to_dict(validate=False)
                                for key, chart in specs.items()},
                               scales, charts.POINTER_LAYER_SUFFIX, jobs)
    return ({key: vega for key, (vega, _) in drawn.items()},
            {key: pictures for key, (_, pictures) in drawn.items()})


_HEX_COLOR = re.compile(r'"(#[0-9a-fA-F]{6})"')


def dark_colors(specs: Iterable[dict]) -> dict[str, str]:
    """Every colour the compiled `specs` name outside their data -> the colour it takes
    on the dark page (`colors.dark_variant`); the page's script swaps them when the
    reader's system asks for a dark scheme. The pictures stay light."""
    found: set[str] = set()
    for spec in specs:
        found.update(_HEX_COLOR.findall(json.dumps({k: v for k, v in spec.items() if k != "data"})))
    return {color.lower(): colors.dark_variant(color) for color in sorted(found)}


def inline_picture(png: bytes) -> bytes:
    """A chart's picture as the page carries it: on white, in 256 colours (maximum
    coverage, no dithering: no channel off by more than a few levels), or the original
    (already as Pillow writes it: `export.to_pngs`) should that be smaller.

    Only readers without JavaScript (a mail client) see it. A chart has a handful of hues
    and their blends with white; 256 of them draw it unchanged to the eye, in well under
    half the bytes of full colour, which keeps an emailed page under its bound. The
    files beside the page are full colour."""
    try:
        picture = PIL.Image.open(io.BytesIO(png))
        on_white = PIL.Image.new("RGBA", picture.size, "white")
        on_white.alpha_composite(picture.convert("RGBA"))
        palette = on_white.convert("RGB").quantize(
            256, method=PIL.Image.Quantize.MAXCOVERAGE, dither=PIL.Image.Dither.NONE
        )
        out = io.BytesIO()
        palette.save(out, format="PNG")
    except (OSError, ValueError):
        return png
    return min(out.getvalue(), png, key=len)


def _series_gz(series: pd.DataFrame, options: Options, page: render.Page) -> bytes | None:
    """The tidy series as gzipped CSV, or None when it goes nowhere: more rows than
    SERIES_CSV_MAX_ROWS and not asked for (`Options.series`), which the page then says."""
    if len(series) > SERIES_CSV_MAX_ROWS and not options.series:
        page.series_omitted = True
        return None
    return _gzip(_csv_bytes(series))


def _page_with_series(page: render.Page, series_gz: bytes | None,
                      extras: dict[str, bytes]) -> str:
    """The page, carrying the tidy series (`_series_gz`) as a download when it fits;
    else the series goes beside it (`extras`), and the page says so."""
    if series_gz is None:
        return render.render_page(page)
    if len(series_gz) <= SERIES_EMBED_LIMIT:
        download = render.Download(
            SERIES_FILE, "tidy series, every step (gzipped CSV)", "application/gzip",
            series_gz, note="run, step, metric, value, ema, and k, n of k/n cells",
        )
        page.downloads.append(download)
        html = render.render_page(page)
        if len(html.encode("utf-8")) <= PAGE_LIMIT:
            return html
        page.downloads.remove(download)  # with it, the page would outgrow its bound
    extras[SERIES_FILE] = series_gz
    page.series_beside = SERIES_FILE
    return render.render_page(page)


def _sweep_facts(runs: pd.DataFrame, grouping: groups.Grouping) -> dict[str, object]:
    """What the page's one-line description says of the sweep: runs, arms (or groups,
    and their keys), sweeps, seeds, steps."""
    from report.tables import arm_order

    return {
        "runs": len(runs),
        "arms": arm_order(runs["arm"]) if grouping.by_arm else grouping.names,
        "word": "arm" if grouping.by_arm else "group",
        "keys": list(grouping.keys),
        "sweeps": [str(s) for s in runs["sweep"].cat.categories] if "sweep" in runs else [],
        "seeds": sorted(int(s) for s in runs["seed"].dropna().unique()),
        "min_steps": int(runs["steps"].min()),
        "max_steps": int(runs["steps"].max()),
    }


# OWASP's advice against CSV injection: a spreadsheet takes a cell that starts with one of
# these for a formula, so such a cell that is not a number gets a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as CSV, each text cell that a spreadsheet would run neutralised."""
    frame = frame.copy(deep=False)
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = [neutral_cell(c) for c in values.cat.categories]
            if len(set(categories)) == len(categories):  # millions of rows: rename once
                frame[column] = values.cat.rename_categories(categories)
                continue
            values = values.astype(object)
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            frame[column] = values.map(neutral_cell, na_action="ignore")
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def neutral_cell(value: object) -> object:
    """A text cell a spreadsheet would take for a formula (`=1+1`, `@SUM(...)`, `-2+3`),
    with a leading apostrophe; numbers (`-0.25`) and everything else as they are."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def _download(name: str, label: str, frame: pd.DataFrame, zipped: bool) -> render.Download:
    """`frame` as a CSV download (`name`), gzipped (`name.gz`) when `zipped`."""
    if not zipped:
        return render.Download(name, f"{label} (CSV)", "text/csv", _csv_bytes(frame))
    return render.Download(f"{name}.gz", f"{label} (gzipped CSV)", "application/gzip",
                           _gzip(_csv_bytes(frame)))


def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as fh:
        fh.write(data)
    return buffer.getvalue()


def generation_time() -> str:
    """Now (UTC), or SOURCE_DATE_EPOCH when set, for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            moment = datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError):
            msg = f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix timestamp"
            raise ReportError(msg) from None
    else:
        moment = datetime.now(tz=UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def versions() -> dict[str, str]:
    """The versions of everything that made the page, for its provenance."""
    import importlib.metadata as md

    import altair
    import jinja2
    import numpy
    import vl_convert

    import report

    return {
        "report": report.__version__,
        "python": sys.version.split()[0],
        "altair": altair.__version__,
        "vega-lite": altair.SCHEMA_VERSION.lstrip("v"),
        "vl-convert-python": md.version("vl-convert-python"),
        "vega": vl_convert.get_vega_version(),
        "vega-tooltip": export.VEGA_TOOLTIP_VERSION,
        "jinja2": jinja2.__version__,
        "pandas": pd.__version__,
        "numpy": numpy.__version__,
    }
