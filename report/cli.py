"""argv -> sweep -> charts -> page -> files. The only layer that touches the filesystem
for output, through one helper that writes atomically, after everything is built."""

from __future__ import annotations

import argparse
import gzip
import io
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from report.errors import ReportError

if TYPE_CHECKING:
    from report import export
    from report.tables import Sweep

log = logging.getLogger("report")

GRID_PNG = "dynamics.png"
OVERLAY_PNG = "dynamics_hack_overlay.png"
# Device pixels per CSS pixel of the pictures inside the page (the files beside it: 2).
PICTURE_SCALE = 1.0
# Above this, the tidy series no longer rides inside the page (it would dominate an
# emailed file); it is written beside the HTML instead, and the page says so.
SERIES_EMBED_LIMIT = 1_500_000
# Above this many rows the gzipped series could not ride inside the page anyway, and
# writing millions of rows as CSV takes longer than all the rest of the report (about
# 3 s a million rows): then it is written beside the page only when asked (--series).
SERIES_CSV_MAX_ROWS = 500_000
# The page stays under this whatever the sweep: the series rides inside only if it fits.
PAGE_LIMIT = 4_000_000
# Above this many series rows the grid's pictures are drawn in a helper process, in
# parallel with the rest of the report (below, starting the helper costs more).
HELPER_MIN_ROWS = 50_000

INTERACTION = (
    "Point at a line for its numbers (the seed lights up in every panel); scroll over a "
    "panel to zoom the step axis of all panels, drag to pan, double-click to reset."
)

EXAMPLES = """\
examples:
  python -m report logs/ -o site/index.html
  python -m report 'logs/*converge*.log' runs/old.log.gz -o out/report.html
  python -m report --demo -o site/index.html      # a report from built-in example logs
  python -m report logs/ --arm-colors rank -q      # colour arms by how much they hack
"""


@dataclass
class Options:
    """What the command line (or a library caller) asks of a report."""

    title: str = "Training dynamics"
    arm_colors: Literal["fixed", "rank"] = "fixed"
    max_points: int = 1000
    png: bool = True
    png_scale: float = 2.0
    series: bool = False  # write a big sweep's tidy series beside the page (slow)


@dataclass
class BuiltReport:
    """Every output file, in memory: name (relative to the HTML's folder) -> bytes."""

    html: str
    extras: dict[str, bytes] = field(default_factory=dict)


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


def _versions() -> dict[str, str]:
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
        "vega-embed": vl_convert.get_vega_embed_version(),
        "jinja2": jinja2.__version__,
        "pandas": pd.__version__,
        "numpy": numpy.__version__,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(runs: pd.DataFrame) -> str:
    """The one-line description of the sweep: runs, arms, seeds, steps."""
    from report.tables import arm_order

    arms = arm_order(runs["arm"])
    seeds = sorted(int(s) for s in runs["seed"].dropna().unique())
    lo, hi = int(runs["steps"].min()), int(runs["steps"].max())
    steps = f"{lo:,} steps each" if lo == hi else f"{lo:,} to {hi:,} steps"
    seed_text = "seed " if len(seeds) == 1 else "seeds "
    seed_text += ", ".join(map(str, seeds)) if seeds else "unknown"
    return (
        f"{_plural(len(runs), 'run')} · {_plural(len(arms), 'arm')} ({', '.join(arms)})"
        f" · {seed_text} · {steps}"
    )


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as fh:
        fh.write(data)
    return buffer.getvalue()


def _thinning_note(series: pd.DataFrame, max_points: int) -> str:
    """Say so on the page when lines were thinned for display."""
    from report import charts

    longest = charts.longest_line(series)
    if longest <= max_points:
        return ""
    return (
        f"Lines are drawn from at most about {max_points:,} points each (the lowest and highest "
        f"value of every step bucket, the first and last step and each onset step are kept) out "
        f"of up to {longest:,} steps; every number in the tables uses every step."
    )


def build_report(sweep: object, options: Options | None = None) -> BuiltReport:
    """Build the page and its extra files in memory; nothing is written here."""
    from report import export
    from report.tables import Sweep

    assert isinstance(sweep, Sweep)
    options = options or Options()
    export.prefetch_bundle()  # on a first run, the page's JavaScript is built meanwhile
    # A big sweep's charts are drawn with a helper process while the rest is built (it
    # starts now, so its engine is up when the first chart is ready); small ones here.
    # One: on two cores a second one only slows the others down.
    renderer = export.Renderer(helpers=1 if len(sweep.series) > HELPER_MIN_ROWS else 0)
    try:
        return _build(sweep, options, renderer)
    finally:
        renderer.close()


def _build(sweep: Sweep, options: Options, renderer: export.Renderer) -> BuiltReport:
    from report import charts, export, render, summary
    from report.tables import EMA_SPAN

    runs, series = sweep.runs, sweep.series
    # The page's own pictures, seen only with JavaScript off, are drawn at their CSS size:
    # 2x pictures inlined as base64 would push an emailed demo page past 2 MB. The PNG
    # files beside the page stay at `png_scale`, crisp for slides. Pictures are drawn
    # from the static variant of each spec (no invisible pointer layers) and once per
    # chart: the smaller picture is the larger one shrunk.
    scales = (PICTURE_SCALE, options.png_scale) if options.png else (PICTURE_SCALE,)
    means = summary.seed_means(runs, series)
    run_onsets = summary.run_onsets(series)
    per_run = summary.run_summary(runs, series, onsets=run_onsets)
    per_arm = summary.arm_summary(runs, series, per_run=per_run)
    onsets = summary.mean_onsets(runs, series, onsets=run_onsets)
    final_hack = dict(zip(per_arm["arm"], per_arm["final_hack_mean"], strict=True))
    colors = charts.arm_colors(runs["arm"], mode=options.arm_colors, final_hack=final_hack)
    # The overlay first: its SVG is compiled (by the helper, when there is one) while the
    # grid is built here, and its picture drawn here while the helper compiles the grid.
    # The specs are validated against the Vega-Lite schema in the tests; skipping it here
    # saves a third of a second.
    overlay = charts.overlay_chart(
        runs, series, colors=colors, means=means, onsets=run_onsets,
        max_points=options.max_points,
    )
    overlay_spec = overlay.to_dict(validate=False)
    overlay_later = renderer.submit(charts.static_spec(overlay_spec), scales)
    grid = charts.grid_chart(
        runs, series, means=means, onsets=run_onsets, max_points=options.max_points
    )
    grid_spec = grid.to_dict(validate=False)
    grid_later = renderer.submit(charts.static_spec(grid_spec), scales)

    arms_text = ", ".join(
        f"{arm} at step {onsets[arm]:.0f}" if arm in onsets else f"{arm} never"
        for arm in per_arm["arm"]
    )
    finals_text = ", ".join(
        f"{arm} {value:.2f}" for arm, value in zip(per_arm["arm"], per_arm["final_hack_mean"],
                                                    strict=True)
    )
    downsampled = _thinning_note(series, options.max_points)
    grid_block = render.ChartBlock(
        key="grid",
        title="Dynamics by arm",
        spec=grid_spec,
        png=b"",  # the grid's picture is set below, once drawn: all else is ready first
        png_scale=PICTURE_SCALE,
        alt=(
            f"Small multiples, one column per arm ({', '.join(per_arm['arm'])}): the top row "
            "shows the student's hack rate (red) and solve rate (green), the bottom row the "
            "cosine of the teacher's (blue) and student's (amber) gradient with v_hack, each "
            f"seed thin and the seed mean bold, against optimizer step. Mean hack onset: "
            f"{arms_text}."
        ),
        caption="EMA-5 smoothed; thin lines are seeds, bold lines their mean; open circles "
        "mark each seed's first hack; the dashed line is the arm's mean onset. " + INTERACTION,
        notes=[downsampled] if downsampled else [],
    )
    overlay_block = render.ChartBlock(
        key="overlay",
        title="Hack rate by arm",
        spec=overlay_spec,
        png=b"",  # set below, once drawn
        png_scale=PICTURE_SCALE,
        alt=(
            "One panel of the student's smoothed hack rate per arm against optimizer step, "
            f"seeds faint and arm means bold. Final mean hack rate: {finals_text}. "
            f"Mean onset: {arms_text}."
        ),
        caption="EMA-5 smoothed hack rate; faint lines are seeds, bold lines arm means; the "
        "dot marks each arm's mean onset. " + INTERACTION,
        notes=[downsampled] if downsampled else [],
    )

    runs_csv = per_run.merge(
        runs[["run", "path", "preset_arm", "v_hack", "refresh"]], on="run", how="left"
    )
    series_gz = None
    if len(series) <= SERIES_CSV_MAX_ROWS or options.series:
        series_gz = _gzip(_csv_bytes(series))
    extras: dict[str, bytes] = {}
    downloads = [
        render.Download("runs.csv", "runs table (CSV)", "text/csv", _csv_bytes(runs_csv)),
        render.Download("arms.csv", "arms table (CSV)", "text/csv", _csv_bytes(per_arm)),
    ]
    series_download = None
    if series_gz is not None and len(series_gz) <= SERIES_EMBED_LIMIT:
        series_download = render.Download(
            "series.csv.gz", "tidy series, every step (gzipped CSV)", "application/gzip",
            series_gz, note="run, step, metric, value, ema",
        )
        downloads.append(series_download)
    elif series_gz is not None:
        extras["series.csv.gz"] = series_gz

    javascript = export.javascript_bundle()  # built (a cold cache) while the charts draw
    overlay_pngs, grid_pngs = overlay_later(), grid_later()
    overlay_block.png = export.compact_png(overlay_pngs[0])
    grid_block.png = export.compact_png(grid_pngs[0])
    page = render.Page(
        title=options.title,
        description=describe(runs),
        charts=[grid_block, overlay_block],
        runs=per_run.to_dict("records"),
        arms=per_arm.to_dict("records"),
        files=[
            {"path": f.path, "size": f.size, "sha256": f.sha256} for f in sweep.files
        ],
        argvs=list(zip(runs["run"], runs["argv"], strict=True)),
        versions=_versions(),
        generated=generation_time(),
        warnings=list(sweep.warnings),
        downloads=downloads,
        series_beside="series.csv.gz" if "series.csv.gz" in extras else "",
        series_omitted=series_gz is None,
        javascript=javascript,
        ema_span=EMA_SPAN,
    )
    if options.png:
        extras[GRID_PNG], extras[OVERLAY_PNG] = grid_pngs[-1], overlay_pngs[-1]
    html = render.render_page(page)
    if series_download is not None and len(html.encode("utf-8")) > PAGE_LIMIT:
        # With the series inside, the page would outgrow its bound: it goes beside.
        page.downloads.remove(series_download)
        page.series_beside = "series.csv.gz"
        extras["series.csv.gz"] = series_download.data
        html = render.render_page(page)
    return BuiltReport(html=html, extras=extras)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _check_output(path: Path) -> None:
    """Fail before any work when the output cannot be written."""
    if path.is_dir():
        msg = f"-o {path}: is a directory; give a file name such as {path / 'index.html'}"
        raise ReportError(msg)
    if path.suffix.lower() not in (".html", ".htm"):
        msg = f"-o {path}: the output should be an .html file"
        raise ReportError(msg)
    parent = path.parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        msg = f"-o {path}: {existing} is a file, not a folder"
        raise ReportError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"-o {path}: folder {existing} is not writable"
        raise ReportError(msg)


def write_report(built: BuiltReport, output: Path) -> list[tuple[Path, int]]:
    """Write the HTML and its extras beside it; returns (path, size) of each file."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for name, data in sorted(built.extras.items()):
            target = output.parent / name
            write_atomic(target, data)
            written.append((target, len(data)))
        html = built.html.encode("utf-8")
        write_atomic(output, html)  # last: the page never points at missing files
        written.insert(0, (output, len(html)))
    except OSError as exc:
        msg = f"-o {output}: cannot write ({exc.strerror or exc})"
        raise ReportError(msg) from None
    return written


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size} B"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="report",
        description="Turn RL training logs into one static, self-contained HTML report of "
        "their training dynamics (plus PNGs of the charts beside it).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("logs", nargs="*", help="log files, directories (their *.log, *.log.gz) "
                    "or glob patterns")
    ap.add_argument("-o", "--output", type=Path, default=Path("site/index.html"),
                    help="the HTML file to write; PNGs go beside it (default: %(default)s)")
    ap.add_argument("--demo", action="store_true",
                    help="make the report from built-in example logs (no LOGS needed)")
    ap.add_argument("--title", default="Training dynamics", help="the page title")
    ap.add_argument("--arm-colors", choices=("fixed", "rank"), default="fixed",
                    help="overlay colours: fixed per arm, or rank = red-to-green by final hack "
                    "rate (default: %(default)s)")
    ap.add_argument("--max-points", type=int, default=1000, metavar="N",
                    help="at most N points per line in the page (display only; numbers use "
                    "every step) (default: %(default)s)")
    ap.add_argument("--no-png", action="store_true", help="do not write the PNGs beside the HTML")
    ap.add_argument("--series", action="store_true",
                    help="also write a big sweep's full tidy series beside the page "
                    "(series.csv.gz; slow: about 3 s a million rows)")
    ap.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                    help="parse with N processes (default: one per core, for large sweeps)")
    ap.add_argument("--strict", action="store_true",
                    help="fail (exit 1, nothing written) on any warning")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return ap


def _version() -> str:
    import report

    return report.__version__


class _Progress:
    """A one-line progress bar on stderr, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < 8:
            return
        width = 30
        filled = int(width * done / total)
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\rparsing [{bar}] {done}/{total} files")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.ERROR if quiet else logging.INFO)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.ERROR:
            return f"report: error: {record.getMessage()}"
        if record.levelno >= logging.WARNING:
            return f"report: warning: {record.getMessage()}"
        return record.getMessage()


def _demo_sweep() -> object:
    """The demo: realistic logs from the simulator, read by the real parser."""
    import hashlib

    from report import simulate
    from report.parse import InputFile, parse_bytes
    from report.tables import Sweep, build_tables

    logs = []
    for sim in simulate.simulate_sweep(preset="demo"):
        path = f"demo/{sim.name}"
        file = InputFile(path=path, size=len(sim.data), sha256=hashlib.sha256(sim.data).hexdigest())
        logs.append(parse_bytes(sim.data, path, sim.name, file=file))
    runs, series = build_tables(logs)
    files = [lg.file for lg in logs if lg.file is not None]
    return Sweep(runs=runs, series=series, files=sorted(files, key=lambda f: f.path))


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _setup_logging(args.quiet)
    if not args.logs and not args.demo:
        parser().error("give LOGS (files, folders or globs), or --demo")
    if args.max_points < 10:
        msg = f"--max-points {args.max_points}: must be at least 10"
        raise ReportError(msg)
    if args.jobs is not None and args.jobs < 1:
        msg = f"--jobs {args.jobs}: must be at least 1"
        raise ReportError(msg)
    output: Path = args.output
    _check_output(output)

    import report
    from report.parse import keep_freed_memory
    from report.tables import Sweep

    keep_freed_memory()  # a short-lived process that makes and drops big tables
    progress = _Progress(enabled=not args.quiet)

    def on_progress(done: int, total: int) -> None:
        progress(done, total)
        if done == 1 and total >= 4:
            # The parse workers have started: import the chart modules (a third of a
            # second) while they work rather than after; on a first run, start building
            # the page's JavaScript meanwhile.
            import report.charts  # noqa: F401
            import report.export
            import report.render  # noqa: F401

            report.export.prefetch_bundle()
    try:
        if args.demo:
            sweep = _demo_sweep()
            if args.logs:
                log.warning("--demo given: ignoring LOGS")
        else:
            sweep = report.load_sweep(args.logs, jobs=args.jobs, progress=on_progress)
    finally:
        progress.close()
    assert isinstance(sweep, Sweep)
    for warning in sweep.warnings:
        log.warning(warning)
    if args.strict and sweep.warnings:
        msg = f"--strict: {_plural(len(sweep.warnings), 'warning')}; nothing written"
        raise ReportError(msg)
    for row in sweep.runs.itertuples():
        seed = "?" if pd.isna(row.seed) else row.seed
        log.info(f"{row.arm:16s} seed={seed} steps={row.steps} {row.v_hack}")

    options = Options(
        title=args.title,
        arm_colors=args.arm_colors,
        max_points=args.max_points,
        png=not args.no_png,
        series=args.series,
    )
    built = build_report(sweep, options)
    written = write_report(built, output)
    if not args.quiet:
        files = ", ".join(f"{path} ({human_size(size)})" for path, size in written)
        sys.stderr.write(f"wrote {files}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: user mistakes become one clear line and an exit code."""
    try:
        return run(argv)
    except ReportError as exc:
        sys.stderr.write(f"report: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("report: interrupted; nothing written\n")
        return 130
    except BrokenPipeError:
        return 141
