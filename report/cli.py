"""argv -> options -> load, build, write -> an exit code. The only layer that writes files,
through one helper that writes atomically, after everything is built."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from report import __version__
from report.console import CtrlC, Progress, human_size, libraries_quiet, setup_logging, shown
from report.errors import ReportError
from report.output import write_report

if TYPE_CHECKING:
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
  python -m report https://host/sweep/ gs://bucket/logs/ --watch   # as they train
"""


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse `type`: an integer no smaller than `low`."""

    def check(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            msg = f"{text!r} is not a whole number"
            raise argparse.ArgumentTypeError(msg) from None
        if number < low:
            msg = f"{number} is too small: must be at least {low}"
            raise argparse.ArgumentTypeError(msg)
        return number

    return check


def _fraction(text: str) -> float:
    """An argparse `type`: a number in [0, 1) (a rate that can still be exceeded)."""
    try:
        number = float(text)
    except ValueError:
        msg = f"{text!r} is not a number"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0.0 <= number < 1.0:
        msg = f"{number:g} is outside [0, 1): a hack rate threshold that a rate can exceed"
        raise argparse.ArgumentTypeError(msg)
    return number


def _output_file(text: str) -> Path:
    """An argparse `type`: an .html file whose folder exists or can be made, writable."""
    path = Path(text)
    if path.is_dir():
        msg = f"{path} is a directory; give a file name such as {path / 'index.html'}"
        raise argparse.ArgumentTypeError(msg)
    if path.suffix.lower() not in (".html", ".htm"):
        msg = f"{path}: the output should be an .html file"
        raise argparse.ArgumentTypeError(msg)
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        msg = f"{path}: {existing} is a file, not a folder"
        raise argparse.ArgumentTypeError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"{path}: folder {existing} is not writable"
        raise argparse.ArgumentTypeError(msg)
    return path


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="report",
        description="Turn RL training logs into one static, self-contained HTML report of "
        "their training dynamics (plus PNGs of the charts beside it).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("logs", nargs="*", help="log files, directories (their *.log, *.log.gz) "
                    "or glob patterns, local or as URLs (https://, s3://, ...)")
    ap.add_argument("-o", "--output", type=_output_file, default=Path("site/index.html"),
                    help="the HTML file to write; PNGs go beside it (default: %(default)s)")
    ap.add_argument("--demo", action="store_true",
                    help="make the report from built-in example logs (no LOGS needed)")
    ap.add_argument("--title", default="Training dynamics", help="the page title")
    ap.add_argument("--arm-colors", choices=("fixed", "rank"), default="fixed",
                    help="overlay colours: fixed per arm, or rank = red-to-green by final hack "
                    "rate (default: %(default)s)")
    ap.add_argument("--max-points", type=_at_least(10), default=1000, metavar="N",
                    help="at most N points per line in the page (display only; numbers use "
                    "every step) (default: %(default)s)")
    ap.add_argument("--baseline", metavar="ARM",
                    help="the arm every other arm is compared with (default: vanilla, else the "
                    "first arm)")
    ap.add_argument("--onset-threshold", type=_fraction, default=0.0, metavar="X",
                    help="a run's onset is the first step from which its raw hack rate stays "
                    "above X ... (default: %(default)s)")
    ap.add_argument("--onset-patience", type=_at_least(1), default=1, metavar="K",
                    help="... for K consecutive measured steps (default: %(default)s; the "
                    "defaults are the reference's rule: the first step above 0)")
    ap.add_argument("--no-png", action="store_true", help="do not write the PNGs beside the HTML")
    ap.add_argument("--series", action="store_true",
                    help="also write a big sweep's full tidy series beside the page "
                    "(series.csv.gz; slow for millions of rows)")
    ap.add_argument("-j", "--jobs", type=_at_least(1), default=None, metavar="N",
                    help="parse with N processes (default: one per core, for large sweeps)")
    ap.add_argument("--watch", action="store_true", help="rewrite the report whenever the "
                    "logs change, until Ctrl-C (the page reloads itself meanwhile)")
    ap.add_argument("--interval", type=_at_least(1), metavar="SECONDS",
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
    args = ap.parse_args(argv)
    setup_logging(args.quiet)
    if not args.logs and not args.demo:
        ap.error("give LOGS (files, folders or globs), or --demo")
    if args.watch and args.demo or args.interval and not args.watch:
        ap.error("--watch follows LOGS (not --demo) as they grow; --interval is for --watch")
    with libraries_quiet() if args.quiet else contextlib.nullcontext():
        return _make(args, ctrl_c, ap)


def _make(args: argparse.Namespace, ctrl_c: CtrlC, ap: argparse.ArgumentParser) -> int:
    """Load, build and write the report the arguments ask for (`ap`: for usage errors
    found once the logs are read)."""
    import pandas as pd

    from report.build import Options, build_report
    from report.parse import keep_freed_memory
    from report.tables import arm_order
    from report.watch import Watcher

    keep_freed_memory()  # a short-lived process that makes and drops big tables
    watcher = Watcher(args.logs, args.output, interval=args.interval) if args.watch else None
    sweep = _load(args, watcher)
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
    arms = arm_order(sweep.runs["arm"])
    if args.baseline is not None and args.baseline not in arms:
        ap.error(f"argument --baseline: {args.baseline!r} is not an arm of these logs; "
                 f"the arms are: {', '.join(arms)}")
    options = Options(
        title=args.title,
        arm_colors=args.arm_colors,
        max_points=args.max_points,
        png=not args.no_png,
        series=args.series,
        baseline=args.baseline,
        onset_threshold=args.onset_threshold,
        onset_patience=args.onset_patience,
    )
    built = build_report(sweep, watcher.watching(options) if watcher else options)
    ctrl_c.check()
    with ctrl_c.deferred():  # an interrupt now is the writer's to act on, not halfway
        written = write_report(built, args.output, interrupted=lambda: ctrl_c.pending)
        files = ", ".join(f"{path} ({human_size(size)})" for path, size in written)
        log.info(f"wrote {files}")
    if watcher is not None:
        watcher.follow(options, ctrl_c=ctrl_c)  # until Ctrl-C: how a watch ends, exit 0
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: user mistakes become one clear line and an exit code
    (2: usage, 1: unusable input or output, 130: interrupted)."""
    ctrl_c = CtrlC()
    try:
        previous = signal.signal(signal.SIGINT, ctrl_c)
    except ValueError:  # not the main thread: Python's own handler stays
        previous = None
    try:
        code = run(argv, ctrl_c)
    except ReportError as exc:
        code = 130 if ctrl_c.pending else _error(str(exc))
    except KeyboardInterrupt:
        ctrl_c.pending, code = True, 130
    except BrokenPipeError:
        code = 141
    except SystemExit as exc:  # argparse: --help, --version (0) and usage errors (2)
        code = exc.code if isinstance(exc.code, int) else 2
    except Exception:
        if not ctrl_c.pending:
            raise
        code = 130  # Ctrl-C turned into another error on the way (an import's ImportError)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if ctrl_c.pending:
        written = code == 0  # it came once the report was whole: too late to undo it
        sys.stderr.write("report: interrupted" + (
            " after the report was written\n" if written else "; nothing written\n"))
        return 130
    return code


def _error(message: str) -> int:
    sys.stderr.write(f"report: error: {shown(message)}\n")
    return 1
