"""argv -> options -> load, build, write -> an exit code. The only layer that writes files,
through one helper that writes atomically, after everything is built."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from report import __version__
from report.errors import ReportError

if TYPE_CHECKING:
    from report.build import BuiltReport
    from report.tables import Sweep

log = logging.getLogger("report")

EXAMPLES = """\
examples:
  python -m report logs/ -o site/index.html
  python -m report 'logs/*converge*.log' runs/old.log.gz -o out/report.html
  python -m report --demo -o site/index.html      # a report from built-in example logs
  python -m report logs/ --arm-colors rank -q      # colour arms by how much they hack
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
                    "or glob patterns")
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
    ap.add_argument("--no-png", action="store_true", help="do not write the PNGs beside the HTML")
    ap.add_argument("--series", action="store_true",
                    help="also write a big sweep's full tidy series beside the page "
                    "(series.csv.gz; slow for millions of rows)")
    ap.add_argument("-j", "--jobs", type=_at_least(1), default=None, metavar="N",
                    help="parse with N processes (default: one per core, for large sweeps)")
    ap.add_argument("--strict", action="store_true",
                    help="fail (exit 1, nothing written) on any warning")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return ap


class _Progress:
    """A one-line progress bar on stderr, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.drawn = enabled and sys.stderr.isatty(), False

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and total >= 8:
            bar = ("#" * int(30 * done / total)).ljust(30, "-")
            sys.stderr.write(f"\rparsing [{bar}] {done}/{total} files")
            sys.stderr.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def shown(message: str) -> str:
    """A message as the terminal gets it: names and fields from logs cannot move the
    cursor, clear the screen, fake a line of their own or reorder the text (each line
    `printable`; only the message's own line breaks stay)."""
    from report.parse import printable

    return "\n".join(printable(line) for line in message.split("\n"))


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = shown(record.getMessage())
        if record.levelno >= logging.ERROR:
            return f"report: error: {text}"
        if record.levelno >= logging.WARNING:
            return f"report: warning: {text}"
        return text


def _setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.ERROR if quiet else logging.INFO)


# A report's files are staged in its folder as `.report-tmp-<pid>-...` (those of a run that
# was killed are removed by the next run), and `.report-files` records, per page, the files
# a run wrote beside it, so that a later run removes only those.
TEMP_PREFIX = ".report-tmp-"
MANIFEST = ".report-files"


def write_report(
    built: BuiltReport, output: Path, interrupted: Callable[[], bool] = lambda: False
) -> list[tuple[Path, int]]:
    """Write the page and the files beside it, all or nothing; (path, size) of each.

    Every file is first written to a temporary file in the output folder. Only when all
    are there are they renamed into place: the files beside the page, then the page, then
    the record of what this run wrote (`MANIFEST`); files an earlier run wrote beside this
    page and this one does not (PNGs before --no-png, a series) are removed last. Renames
    of several files are not one atomic step: for a moment a reader may see new pictures
    beside the old page, never a page pointing at missing pictures. If anything fails, or
    `interrupted()` says so at the end, every change is undone (a replaced file is kept as
    a hard link until then) and the folder is as it was. New files get the permissions
    the umask gives; a replaced file keeps its own.
    """
    folder = output.parent
    extras = dict(sorted(built.extras.items()))
    files = {**extras, output.name: built.html.encode("utf-8")}
    staging = _Staging(folder)
    try:
        made = _make_folders(folder)
    except OSError as exc:
        msg = f"-o {output}: cannot make its folder ({exc.strerror or exc})"
        raise ReportError(msg) from None
    try:
        staging.remove_stale_temporaries()
        manifest, earlier = _manifest(folder, output.name, list(extras))
        for name, data in [*files.items(), (MANIFEST, manifest)]:
            staging.stage(name, data)
        for name in earlier:
            staging.remove(name)
        if interrupted():
            raise KeyboardInterrupt
        staging.commit()
        if interrupted():  # during the renames: undone, as if it came a moment earlier
            raise KeyboardInterrupt
    except BaseException as exc:
        staging.undo()
        for folder_made in made:
            with contextlib.suppress(OSError):
                folder_made.rmdir()
        if isinstance(exc, OSError):
            msg = f"-o {output}: cannot write ({exc.strerror or exc}); nothing was changed"
            raise ReportError(msg) from None
        raise
    staging.finish()
    return [(output, len(files[output.name]))] + [(folder / n, len(d)) for n, d in extras.items()]


def _make_folders(folder: Path) -> list[Path]:
    """Make `folder` and its missing parents; the ones made, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
    return missing


def _manifest(folder: Path, page: str, extras: list[str]) -> tuple[bytes, list[str]]:
    """The record of what is written beside each page with this run's files, and the
    files an earlier run wrote beside this page that this one does not write (and no
    other page claims). A record that cannot be read claims nothing."""
    try:
        pages = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["pages"]
        pages = {p: [n for n in names if _plain(n)] for p, names in pages.items() if _plain(p)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pages = {}
    before = set(pages.get(page, ()))
    pages[page] = extras
    claimed = {name for p, names in pages.items() for name in [p, *names]}
    earlier = sorted(n for n in before - claimed if (folder / n).is_file())
    record = json.dumps({"pages": pages}, indent=1, sort_keys=True) + "\n"
    return record.encode("utf-8"), earlier


def _plain(name: object) -> bool:
    """A name a run may have written: a visible file right in the output folder."""
    return isinstance(name, str) and name == os.path.basename(name) and not name.startswith(".")


@dataclass
class _Change:
    """One file of the folder as a run changes it."""

    target: Path
    staged: Path | None = None  # the new content (None: the target is removed)
    backup: Path | None = None  # the old content, kept until the change is final
    done: bool = False


class _Staging:
    """Changes to one folder, made in two steps: `stage` or `remove`, then `commit`;
    until `finish`, `undo` puts everything back."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.changes: list[_Change] = []
        self.umask = _umask()

    def _temporary(self) -> tuple[int, Path]:
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        return fd, Path(name)

    def remove_stale_temporaries(self) -> None:
        """Temporaries of runs that are gone (killed before they could remove them)."""
        for entry in os.scandir(self.folder):
            owner = entry.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
            if entry.name.startswith(TEMP_PREFIX) and owner.isdecimal() and not _running(
                int(owner)
            ):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)

    def stage(self, name: str, data: bytes) -> None:
        change = _Change(self.folder / name)
        self.changes.append(change)
        fd, change.staged = self._temporary()
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            try:
                mode = stat.S_IMODE(os.stat(change.target).st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~self.umask
            os.fchmod(fh.fileno(), mode)
        if os.path.lexists(change.target):
            change.backup = Path(f"{change.staged}.old")
            try:
                os.link(change.target, change.backup, follow_symlinks=False)
            except OSError:  # a file system without hard links
                shutil.copy2(change.target, change.backup, follow_symlinks=False)

    def remove(self, name: str) -> None:
        change = _Change(self.folder / name)
        self.changes.append(change)
        fd, change.backup = self._temporary()  # the name it moves to, until `finish`
        os.close(fd)

    def commit(self) -> None:
        for change in self.changes:
            if change.staged is not None:
                os.replace(change.staged, change.target)
            else:
                assert change.backup is not None
                os.replace(change.target, change.backup)
            change.done = True

    def undo(self) -> None:
        """Every change undone, every temporary removed (as far as the system lets)."""
        for change in reversed(self.changes):
            with contextlib.suppress(OSError):
                if change.done and change.backup is not None:
                    os.replace(change.backup, change.target)
                elif change.done:
                    os.unlink(change.target)  # it did not exist before
            for temporary in (change.staged, change.backup):
                if temporary is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
        self.changes = []

    def finish(self) -> None:
        """The changes are final: the old contents go."""
        for change in self.changes:
            if change.backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(change.backup)
        self.changes = []


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _running(pid: int) -> bool:
    """Whether process `pid` exists (this one does not count: it stages anew)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: it exists
        return True
    return True


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _load(args: argparse.Namespace) -> Sweep:
    """The sweep the arguments name: the packaged examples, or the LOGS."""
    import report

    if args.demo:
        if args.logs:
            log.warning("--demo given: ignoring LOGS")
        return report.load_demo()
    progress = _Progress(enabled=not args.quiet)
    try:
        return report.load_sweep(args.logs, jobs=args.jobs, progress=progress)
    finally:
        progress.close()


class CtrlC:
    """Ctrl-C (SIGINT) as the command handles it: a KeyboardInterrupt where it arrives, as
    Python's own handler gives, and remembered too, so that one swallowed on the way
    (Python ignores exceptions raised in finalizers and callbacks) still ends the run as
    interrupted. Inside `deferred()` it is only remembered, for the writer to act on at
    the moments it chooses (`write_report`)."""

    def __init__(self) -> None:
        self.pending = False
        self.deferring = False

    def __call__(self, signum: int, frame: object) -> None:
        self.pending = True
        if not self.deferring:
            raise KeyboardInterrupt

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came (even if it was swallowed since)."""
        if self.pending:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False


def run(argv: Sequence[str] | None = None, ctrl_c: CtrlC | None = None) -> int:
    ctrl_c = ctrl_c or CtrlC()
    ap = parser()
    args = ap.parse_args(argv)
    _setup_logging(args.quiet)
    if not args.logs and not args.demo:
        ap.error("give LOGS (files, folders or globs), or --demo")
    with _libraries_quiet() if args.quiet else contextlib.nullcontext():
        return _make(args, ctrl_c)


@contextlib.contextmanager
def _libraries_quiet() -> Iterator[None]:
    """-q: what libraries would print goes too: Python warnings (numpy's, pandas') and
    their log records below ERROR (printed by logging's last-resort handler)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _make(args: argparse.Namespace, ctrl_c: CtrlC) -> int:
    """Load, build and write the report the arguments ask for."""
    import pandas as pd

    from report.build import Options, build_report
    from report.parse import keep_freed_memory

    keep_freed_memory()  # a short-lived process that makes and drops big tables
    sweep = _load(args)
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
    options = Options(
        title=args.title,
        arm_colors=args.arm_colors,
        max_points=args.max_points,
        png=not args.no_png,
        series=args.series,
    )
    built = build_report(sweep, options)
    ctrl_c.check()
    with ctrl_c.deferred():  # an interrupt now is the writer's to act on, not halfway
        written = write_report(built, args.output, interrupted=lambda: ctrl_c.pending)
        files = ", ".join(f"{path} ({human_size(size)})" for path, size in written)
        log.info(f"wrote {files}")
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
