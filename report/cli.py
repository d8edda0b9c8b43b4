"""argv -> options -> load, build, write -> an exit code. The only layer that writes files,
through one helper that writes atomically, after everything is built."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from report import __version__
from report.console import CtrlC, Progress, human_size, libraries_quiet, setup_logging, shown
from report.errors import ReportError, UsageError
from report.output import write_report
from report.settings import apply_settings, at_least, fraction, names, output_file

if TYPE_CHECKING:
    from report.build import Options
    from report.tables import Sweep
    from report.watch import Watcher

log = logging.getLogger("report")

EXAMPLES = """\
examples:
  python -m report logs/ -o site/index.html
  python -m report 'logs/*converge*.log' runs/old.log.gz -o out/report.html
  python -m report --demo -o site/index.html      # a report from built-in example logs
  python -m report logs/ --arm-colors rank -q      # colour arms by how much they hack
  python -m report logs/ --baseline routing        # compare every arm with routing
  python -m report logs/ --onset-threshold 0.1 --onset-patience 3   # a sturdier onset
  python -m report logs/ --group-by vhack-refresh-every,lr   # groups by any config key
  python -m report before=runs/v1 after=runs/v2 --group-by sweep,arm   # two sweeps
  python -m report https://host/sweep/ gs://bucket/logs/ --watch   # as they train
settings: the long options can live in ./report.toml or [tool.report] of ./pyproject.toml
(keys: title, group-by, baseline, ...; logs = [...]); the command line wins.
"""


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="report",
        description="Turn RL training logs into one static, self-contained HTML report of "
        "their training dynamics (plus PNGs of the charts beside it).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("logs", nargs="*", help="log files, directories (their *.log, *.log.gz) "
                    "or glob patterns, local or as URLs (https://, s3://, ...); LABEL=PATH "
                    "labels an input's runs sweep=LABEL")
    ap.add_argument("-o", "--output", type=output_file, default=Path("site/index.html"),
                    help="the HTML file to write; PNGs go beside it (default: %(default)s)")
    ap.add_argument("--demo", action="store_true",
                    help="make the report from built-in example logs (no LOGS needed)")
    ap.add_argument("--title", default="Training dynamics", help="the page title")
    ap.add_argument("--arm-colors", choices=("fixed", "rank"), default="fixed",
                    help="overlay colours: fixed per arm, or rank = red-to-green by final hack "
                    "rate (default: %(default)s)")
    ap.add_argument("--max-points", type=at_least(10), default=1000, metavar="N",
                    help="at most N points per line in the page (display only; numbers use "
                    "every step) (default: %(default)s)")
    ap.add_argument("--group-by", type=names, default=("arm",), metavar="KEY[,KEY...]",
                    help="group runs by arm (default), sweep (LABEL=PATH inputs), seed, or any "
                    "argv flag (without dashes) or preset-line field: lr, vhack-refresh-every")
    ap.add_argument("--baseline", metavar="GROUP",
                    help="the arm (group) every other one is compared with (default: vanilla, "
                    "else the first; KEY=VALUE pairs groups by their other keys)")
    ap.add_argument("--metrics", type=names, default=None, metavar="NAME[,NAME...]",
                    help="the All-metrics section's metrics (default: every one the grid "
                    "does not draw)")
    ap.add_argument("--onset-threshold", type=fraction, default=0.0, metavar="X",
                    help="a run's onset is the first step from which its raw hack rate stays "
                    "above X ... (default: %(default)s)")
    ap.add_argument("--onset-patience", type=at_least(1), default=1, metavar="K",
                    help="... for K consecutive measured steps (default: %(default)s; the "
                    "defaults are the reference's rule: the first step above 0)")
    ap.add_argument("--no-png", action="store_true", help="do not write the PNGs beside the HTML")
    ap.add_argument("--strict-csp", action="store_true",
                    help="a page whose policy forbids eval too: Vega interprets its expressions "
                    "(drawing and switching several times slower)")
    ap.add_argument("--series", action="store_true",
                    help="also write a big sweep's full tidy series beside the page "
                    "(series.csv.gz; slow for millions of rows)")
    ap.add_argument("-j", "--jobs", type=at_least(1), default=None, metavar="N",
                    help="parse and draw with N processes (default: parse with one per core "
                    "for large sweeps; draw with one per core, but with one for a big sweep "
                    "under --watch)")
    ap.add_argument("--watch", action="store_true", help="rewrite the report whenever the "
                    "logs change, until Ctrl-C (the page reloads itself meanwhile)")
    ap.add_argument("--interval", type=at_least(1), metavar="SECONDS",
                    help="--watch: poll URLs and reload the page this often (default: 5)")
    ap.add_argument("--strict", action="store_true",
                    help="fail (exit 1, nothing written) on any warning")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return ap


def _load(args: argparse.Namespace, watcher: Watcher | None) -> Sweep:
    """The sweep the arguments name: the packaged examples, or the LOGS."""
    import report

    if args.demo:
        if args.logs:
            log.warning("--demo given: ignoring LOGS")
        return report.load_demo()
    progress = Progress(enabled=not args.quiet)
    try:
        return watcher.load(progress) if watcher else report.load_sweep(
            args.logs, jobs=args.jobs, progress=progress)
    finally:
        progress.close()


def run(argv: Sequence[str] | None = None, ctrl_c: CtrlC | None = None) -> int:
    ctrl_c = ctrl_c or CtrlC()
    ap = parser()
    try:
        settings = apply_settings(ap)
    except UsageError as exc:
        ap.error(str(exc))
    args = ap.parse_args(argv)
    setup_logging(args.quiet)
    if settings is not None:
        log.info(f"settings from {settings}")
    if not args.logs and not args.demo:
        ap.error("give LOGS (files, folders or globs), or --demo")
    if args.watch and args.demo or args.interval and not args.watch:
        ap.error("--watch follows LOGS (not --demo) as they grow; --interval is for --watch")
    with libraries_quiet() if args.quiet else contextlib.nullcontext():
        return _make(args, ctrl_c, ap)


def _make(args: argparse.Namespace, ctrl_c: CtrlC, ap: argparse.ArgumentParser) -> int:
    """Load, build and write the report the arguments ask for (`ap`: for usage errors
    found once the logs are read), then follow the logs under --watch."""
    from report.build import finish_report, prepare_report
    from report.parse import keep_freed_memory
    from report.watch import Watcher

    keep_freed_memory()  # a short-lived process that makes and drops big tables
    watcher = Watcher(args.logs, args.output, interval=args.interval) if args.watch else None
    try:
        sweep = _load(args, watcher)
        options = _options(args, sweep, ctrl_c)
        prepared = prepare_report(sweep, watcher.watching(options) if watcher else options)
    except UsageError as exc:
        ap.error(f"argument {exc.option}: {exc}" if exc.option else str(exc))
    del sweep  # the series (most of a big report's memory) goes before the pictures
    built = finish_report(prepared)
    ctrl_c.check()
    with ctrl_c.deferred():  # an interrupt now is the writer's to act on, not halfway
        written = write_report(built, args.output, interrupted=lambda: ctrl_c.pending)
        files = ", ".join(f"{path} ({human_size(size)})" for path, size in written)
        log.info(f"wrote {files}")
    if watcher is not None:
        watcher.follow(options, ctrl_c=ctrl_c)  # until Ctrl-C: how a watch ends, exit 0
    return 0


def _options(args: argparse.Namespace, sweep: Sweep, ctrl_c: CtrlC) -> Options:
    """The build options the arguments ask for, once the sweep's warnings and runs are
    said (--strict: a warning is a failure)."""
    import pandas as pd

    from report.build import Options, drawing_jobs

    ctrl_c.check()
    for warning in sweep.warnings:
        log.warning(warning)
    if args.strict and sweep.warnings:
        count = len(sweep.warnings)
        msg = f"--strict: {count} warning{'' if count == 1 else 's'}; nothing written"
        raise ReportError(msg)
    for row in sweep.runs.itertuples():
        seed = "?" if pd.isna(row.seed) else row.seed
        log.info(f"{row.arm:16s} seed={seed} steps={row.steps} {row.v_hack}")
    return Options(
        title=args.title,
        arm_colors=args.arm_colors,
        max_points=args.max_points,
        png=not args.no_png,
        series=args.series,
        baseline=args.baseline,
        onset_threshold=args.onset_threshold,
        onset_patience=args.onset_patience,
        group_by=args.group_by,
        metrics=args.metrics,
        strict_csp=args.strict_csp,
        jobs=args.jobs or drawing_jobs(sweep, series_kept=args.watch),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: user mistakes become one clear line and an exit code
    (2: usage, 1: unusable input or output, 130: Ctrl-C, 143: SIGTERM)."""
    ctrl_c = CtrlC()
    with ctrl_c.installed():
        code = _run_reporting(argv, ctrl_c)
    if ctrl_c.pending:
        written = code == 0  # it came once the report was whole: too late to undo it
        word = "terminated" if ctrl_c.signum == signal.SIGTERM else "interrupted"
        sys.stderr.write(f"report: {word}" + (
            " after the report was written\n" if written else "; nothing written\n"))
        return 128 + ctrl_c.signum
    return code


def entry() -> int:
    """The process's entry point (`python -m report`, the `report` command): `main`, then
    the objects left are frozen (`gc.freeze`), so the interpreter's exit does not walk
    them all looking for cycles to collect: the process ends anyway. Its cleanup (files,
    child processes, handlers) runs as before."""
    code = main()
    gc.freeze()
    return code


def _run_reporting(argv: Sequence[str] | None, ctrl_c: CtrlC) -> int:
    """`run`'s exit code, with what it raised turned into one."""
    try:
        return run(argv, ctrl_c)
    except ReportError as exc:
        return 130 if ctrl_c.pending else _error(str(exc))
    except KeyboardInterrupt:
        ctrl_c.pending = True
        return 130
    except BrokenPipeError:
        return 141
    except SystemExit as exc:  # argparse: --help, --version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    except Exception:
        if not ctrl_c.pending:
            raise
        return 130  # Ctrl-C turned into another error on the way (an import's ImportError)


def _error(message: str) -> int:
    sys.stderr.write(f"report: error: {shown(message)}\n")
    return 1
