"""`--watch`: once the report is written, follow its inputs and write it again whenever
they change, until Ctrl-C (the build layer's loop; `cli` starts it after the first report).

Local inputs wake the loop through file-system events (watchfiles, which polls where the
system has no events); every `interval` seconds the loop wakes anyway and polls every
input, URLs included (a network file system may send no events for other hosts' writes).
A wake-up lists the inputs again (new logs, deleted ones), asks each file what it is now
(a local file's inode, size and mtime; a URL's size and ETag), reads only what changed
(`follow.FollowedLog`: the bytes appended since the last read), and when a run's numbers,
the set of runs or the input notes changed, rebuilds the report from what is kept in
memory and writes it all or nothing (`output.write_report`).

Bursts of writes make one rebuild: watchfiles gathers the events of a burst, a change
found by polling waits for a poll that sees the files as they were at the one before (or
for `POLLS_TO_SETTLE` polls), and the report is rebuilt at most once per `interval`.
Bad input never stops the watch: a file that cannot be read keeps its run's last good
rows, a deleted one drops its run, and the page's input notes say so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import glob
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from report.errors import ReportError
from report.follow import FollowedLog, Read
from report.parse import (
    LOG_SUFFIXES,
    ParsedLog,
    gather,
    join_same_runs,
    run_names,
    shown_path,
)
from report.remote import is_url

if TYPE_CHECKING:
    from report.build import Options
    from report.console import CtrlC
    from report.tables import Sweep

log = logging.getLogger("report")

DEFAULT_INTERVAL = 5.0  # seconds: TensorBoard reloads its logs as often
# A change found by polling is read once a poll sees the files as the poll before it did
# (a burst of writes is over), or at the latest at this many polls (a log that grows all
# the time is still shown).
POLLS_TO_SETTLE = 2
READERS = 8  # files read at a time (URLs wait on the network)
_LISTED = 4  # changes named in a rebuild's line; the rest are counted


@dataclass
class Rebuild:
    """One report written while watching: what changed and what it cost."""

    number: int  # 0: the first report
    seconds: float
    changes: list[str]
    written: list[tuple[Path, int]]
    sweep: Sweep
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # read, tables, ...


class Watcher:
    """What the watch keeps between rebuilds: each input file followed (`FollowedLog`),
    the inputs that matched nothing, and the sweep of the last report written."""

    def __init__(self, inputs: Sequence[str], output: Path, *,
                 interval: float | None = None, events: bool = True) -> None:
        self.inputs = list(inputs)
        self.output = Path(output)
        self.interval = interval or DEFAULT_INTERVAL
        self.events = events  # file-system events for local inputs (else polling only)
        self.followed: dict[str, FollowedLog] = {}
        self.unmatched: list[str] = []
        self.gone: dict[str, str] = {}  # path -> the warning that its run was dropped
        self.sweep: Sweep | None = None  # the last report's
        self.told: set[str] = set()  # warnings printed already
        self.settling: dict[str, object] | None = None  # what the last poll saw changed
        self.polls = 0  # polls a change has waited
        self.rebuilt = time.monotonic()
        self.rebuilds = 0

    @property
    def refresh_seconds(self) -> int:
        """How often the page reloads itself: the interval, in whole seconds."""
        return max(1, math.ceil(self.interval))

    def watching(self, options: Options) -> Options:
        """`options` for the pages written while watching: they reload themselves, and the
        PNGs beside them are drawn at the page's own scale (a third of the raster work of
        2x); the page written when the watch ends is as `options` ask."""
        from report.build import PICTURE_SCALE

        return dataclasses.replace(options, refresh_seconds=self.refresh_seconds,
                                   png_scale=min(options.png_scale, PICTURE_SCALE))

    # --- reading -----------------------------------------------------------------------

    def load(self, progress: Callable[[int, int], None] | None = None) -> Sweep:
        """The first read of every input, as `report.load_sweep` reads them (raises
        ReportError when nothing matches or no run can be read)."""
        paths, self.unmatched = gather(self.inputs)
        self._read(dict(zip(paths, _versions(paths), strict=True)), progress)
        self.sweep = self._sweep()
        self.told.update(self.sweep.warnings)
        self.rebuilt = time.monotonic()
        return self.sweep

    def _scan(self) -> tuple[dict[str, object], list[str]]:
        """The input files now, with what each is (its version), and the inputs that
        match nothing."""
        try:
            paths, unmatched = gather(self.inputs)
        except ReportError as exc:  # nothing matches at all now
            return {}, [str(exc)]
        return dict(zip(paths, _versions(paths), strict=True)), unmatched

    def _differs(self, versions: dict[str, object], unmatched: list[str]) -> bool:
        return unmatched != self.unmatched or versions != {
            path: followed.version for path, followed in self.followed.items()
        }

    def _read(
        self, versions: dict[str, object],
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[list[str], bool]:
        """Follow the files in `versions`: read the new and changed ones (several at a
        time), drop the gone ones. What changed, in a few words each; and whether any run
        (its numbers, its notes) or the set of runs changed."""
        changes = []
        changed = bool(set(self.followed) ^ set(versions))
        gone = sorted(set(self.followed) - set(versions))
        before = run_names(sorted(self.followed))
        for path in gone:
            del self.followed[path]
            self.gone[path] = f"{shown_path(path)}: gone (deleted or moved); its run is left out"
            changes.append(f"{before[path]} gone")
        names = run_names(sorted(versions))
        for path in versions:
            self.gone.pop(path, None)
        todo = [p for p, v in versions.items()
                if p not in self.followed or self.followed[p].version != v]
        for path in todo:
            self.followed.setdefault(path, FollowedLog(path))
        reads = _read_all([(self.followed[p], names[p]) for p in todo], progress)
        for path, read in zip(todo, reads, strict=True):
            self.followed[path].version = versions[path]
            changes.extend(_described(names[path], read))
            changed |= read.changed
        return changes, changed

    def _sweep(self) -> Sweep:
        """The sweep of what is followed now (raises ReportError when no run is left)."""
        from report.tables import Sweep, build_tables

        names = run_names(sorted(self.followed))
        warnings = list(self.unmatched) + list(self.gone.values())
        logs: list[ParsedLog] = []
        for path, followed in sorted(self.followed.items()):
            parsed = followed.parsed
            if followed.problem:
                kept = (f"; its run keeps the {len(parsed.steps)} steps read before"
                        if parsed is not None else "")
                warnings.append(followed.problem + kept)
            if parsed is not None:
                logs.append(dataclasses.replace(parsed, name=names[path]))
                warnings.extend(parsed.notes)
        if not logs:  # as `report.load_sweep` says it
            more = [f"... and {len(warnings) - 10} more"] if len(warnings) > 10 else []
            msg = (f"no usable run in {len(self.followed)} file(s) looked at:\n  "
                   + "\n  ".join(warnings[:10] + more))
            raise ReportError(msg)
        files = sorted((lg.file for lg in logs if lg.file is not None), key=lambda f: f.path)
        logs, joined = join_same_runs(logs)
        runs, series = build_tables(logs)
        return Sweep(runs=runs, series=series, files=files, warnings=warnings + joined)

    # --- the loop ------------------------------------------------------------------------

    def follow(
        self, options: Options, *, stop: threading.Event | None = None,
        on_rebuild: Callable[[Rebuild], None] | None = None, ctrl_c: CtrlC | None = None,
    ) -> int:
        """Rebuild the report (`watching(options)`) whenever its inputs change, until
        `stop` is set or Ctrl-C (KeyboardInterrupt); then write it once more as `options`
        ask, without its reload line. Returns the number of rebuilds."""
        stop = stop or threading.Event()
        try:
            for wakeup in self._wakeups(stop):
                rebuild = self.step(self.watching(options), wakeup, stop, ctrl_c)
                if rebuild is not None and on_rebuild is not None:
                    on_rebuild(rebuild)
        except KeyboardInterrupt:
            if ctrl_c is not None:
                ctrl_c.pending = False  # Ctrl-C is how a watch ends
            log.info("stopping: the page is written once more, without its reload line "
                     "(Ctrl-C again leaves it as it is)")
        self._final(options, ctrl_c)
        return self.rebuilds

    def step(
        self, options: Options, wakeup: str = "poll", stop: threading.Event | None = None,
        ctrl_c: CtrlC | None = None,
    ) -> Rebuild | None:
        """One wake-up (`event` or `poll`): scan the inputs, and rebuild if they changed
        and it is time to. Returns the rebuild, or None."""
        if wakeup == "event":  # at most one rebuild per interval
            wait = self.rebuilt + self.interval - time.monotonic()
            if wait > 0 and stop is not None and stop.wait(wait):
                return None
        versions, unmatched = self._scan()
        if not self._differs(versions, unmatched):
            self.settling, self.polls = None, 0
            return None
        if wakeup != "event" and not self._settled(versions):
            return None
        return self.rebuild(versions, unmatched, options, ctrl_c)

    def _settled(self, versions: dict[str, object]) -> bool:
        """A change found by polling is taken once it holds still for a poll, or when it
        has waited `POLLS_TO_SETTLE` polls."""
        settled = versions == self.settling
        self.settling = versions
        self.polls += 1
        return settled or self.polls >= POLLS_TO_SETTLE

    def rebuild(
        self, versions: dict[str, object], unmatched: list[str], options: Options,
        ctrl_c: CtrlC | None = None,
    ) -> Rebuild | None:
        """Read what changed, rebuild and write the report; None when no number, run or
        note changed (a line still being written, noise between rows)."""
        from report.build import build_report

        started = time.perf_counter()
        changes, changed = self._read(versions)
        changed |= unmatched != self.unmatched
        self.unmatched = unmatched
        self.settling, self.polls = None, 0
        if not changed:
            return None
        timings = {"read": time.perf_counter() - started}
        try:
            sweep = self._sweep()
        except ReportError as exc:
            self._tell(f"{exc}; the page written before stays")
            return None
        timings["tables"] = time.perf_counter() - started - timings["read"]
        try:
            built = build_report(sweep, options)
        except ReportError as exc:
            log.error(f"{exc}; still watching")
            return None
        timings["build"] = time.perf_counter() - started - timings["read"] - timings["tables"]
        written = self._write(built, ctrl_c)
        if written is None:
            return None
        self.sweep, self.rebuilt = sweep, time.monotonic()
        self.rebuilds += 1
        seconds = time.perf_counter() - started
        timings["write"] = seconds - sum(timings.values())
        for warning in sweep.warnings:
            self._tell(warning)
        log.info(f"rebuilt in {seconds:.1f} s: {_listed(changes)}")
        return Rebuild(self.rebuilds, seconds, changes, written, sweep, timings)

    def _write(self, built: object, ctrl_c: CtrlC | None) -> list[tuple[Path, int]] | None:
        """Write a report all or nothing; None (said on the terminal) when it cannot be."""
        from report.output import write_report

        deferred = ctrl_c.deferred() if ctrl_c is not None else contextlib.nullcontext()
        try:
            with deferred:
                return write_report(built, self.output,  # type: ignore[arg-type]
                                    interrupted=lambda: ctrl_c is not None and ctrl_c.pending)
        except ReportError as exc:
            log.error(f"{exc}; still watching")
            return None

    def _tell(self, warning: str) -> None:
        if warning not in self.told:
            self.told.add(warning)
            log.warning(warning)

    def _final(self, options: Options, ctrl_c: CtrlC | None) -> None:
        """The last report, written again without its reload line: a page that is
        published or emailed once the watch is over does not reload itself for ever."""
        from report.build import build_report

        if self.sweep is None:
            return
        try:
            built = build_report(self.sweep, options)
            written = self._write(built, ctrl_c)
        except KeyboardInterrupt:
            if ctrl_c is not None:
                ctrl_c.pending = False
            log.info(f"stopped watching; {self.output} was left as written (it still "
                     "reloads itself)")
            return
        if written is not None:
            log.info(f"stopped watching; wrote {self.output} once more, without its reload "
                     "line")

    def _wakeups(self, stop: threading.Event) -> Iterator[str]:
        """`event` when local inputs changed (watchfiles), `poll` every `interval`."""
        roots, recursive = _roots(self.inputs) if self.events else ([], False)
        if roots:
            try:
                import watchfiles

                for changes in watchfiles.watch(
                    *roots, watch_filter=self._relevant, stop_event=stop,
                    rust_timeout=max(1, round(self.interval * 1000)), yield_on_timeout=True,
                    recursive=recursive,
                ):
                    yield "event" if changes else "poll"
                return
            except (ImportError, OSError, RuntimeError) as exc:
                log.warning(f"no file-system events here ({exc}); polling every "
                            f"{self.interval:g} s")
        while not stop.wait(self.interval):
            yield "poll"

    def _relevant(self, change: object, path: str) -> bool:
        """An event about a log, or about a file an input names (not the report's own)."""
        if path.endswith(LOG_SUFFIXES):
            return True
        return any(fnmatch.fnmatch(path, os.path.abspath(item)) or path == os.path.abspath(item)
                   for item in self.inputs if not is_url(item))


def watch(
    inputs: Sequence[str], output: Path, options: Options | None = None, *,
    interval: float = DEFAULT_INTERVAL, events: bool = True,
    stop: threading.Event | None = None, on_rebuild: Callable[[Rebuild], None] | None = None,
) -> int:
    """Write the report of `inputs` to `output`, then rewrite it whenever they change,
    until `stop` is set (or Ctrl-C). `on_rebuild` hears of each report written, the
    first included (number 0). Returns the number of rebuilds after the first report."""
    from report.build import Options, build_report

    watcher = Watcher(inputs, output, interval=interval, events=events)
    options = options or Options()
    started = time.perf_counter()
    sweep = watcher.load()
    written = watcher._write(build_report(sweep, watcher.watching(options)), None)
    if written is None:
        msg = f"-o {output}: the first report could not be written"
        raise ReportError(msg)
    watcher.rebuilt = time.monotonic()
    if on_rebuild is not None:
        on_rebuild(Rebuild(0, time.perf_counter() - started, ["first report"], written, sweep))
    return watcher.follow(options, stop=stop, on_rebuild=on_rebuild)


# --- helpers ------------------------------------------------------------------------------


def _versions(paths: Sequence[str]) -> list[object]:
    """What each file is now: a local file's (device, inode, size, mtime); a URL's size,
    ETag and modification time as its store says (asked several at a time)."""
    urls = [p for p in paths if is_url(p)]
    asked: dict[str, object] = {}
    if urls:
        with ThreadPoolExecutor(max_workers=min(READERS, len(urls))) as pool:
            asked = dict(zip(urls, pool.map(_url_version, urls), strict=True))
    return [asked[p] if p in asked else _local_version(p) for p in paths]


def _local_version(path: str) -> object:
    try:
        status = os.stat(path)
    except OSError as exc:
        return ("unreadable", exc.errno)
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _url_version(url: str) -> object:
    from report import remote

    try:
        return remote.version(url)
    except ReportError as exc:
        return ("unreadable", str(exc))


def _read_all(
    todo: list[tuple[FollowedLog, str]], progress: Callable[[int, int], None] | None
) -> list[Read]:
    """`FollowedLog.read` of each, several at a time (URLs wait on the network). Stopped
    (Ctrl-C), reads under way end at their next chunk."""
    if len(todo) <= 1:
        reads = [followed.read(name) for followed, name in todo]
        if progress and todo:
            progress(1, 1)
        return reads
    cancelled = threading.Event()
    pool = ThreadPoolExecutor(max_workers=min(READERS, len(todo)))
    try:
        futures = [pool.submit(followed.read, name, cancelled) for followed, name in todo]
        reads = []
        for done, future in enumerate(futures, start=1):
            reads.append(future.result())
            if progress:
                progress(done, len(todo))
        return reads
    finally:
        cancelled.set()
        pool.shutdown(wait=False, cancel_futures=True)


def _described(name: str, read: Read) -> list[str]:
    """One read, as the rebuild's line says it."""
    if read.problem:
        return [f"{name} unreadable"]
    if read.steps_before == 0:
        return [f"new {name}"]
    added = read.steps - read.steps_before
    if read.whole:
        return [f"{name} read again ({read.steps} steps)"]
    return [f"{name} {added:+d} steps"] if added or read.new_bytes else []


def _listed(changes: list[str]) -> str:
    shown = changes[:_LISTED]
    more = len(changes) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "") if changes else "notes"


def _roots(inputs: Sequence[str]) -> tuple[list[str], bool]:
    """The folders to watch for the local inputs (a folder, a file's folder, a glob's
    folder before its first pattern), and whether any glob reaches into subfolders."""
    roots: set[str] = set()
    recursive = False
    for item in inputs:
        if is_url(item):
            continue
        if glob.has_magic(item) and not os.path.exists(item):
            parts = Path(item).parts
            fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
            root = str(Path(*parts[:fixed])) if fixed else "."
            recursive |= len(parts) - fixed > 1
        else:
            root = item if os.path.isdir(item) else os.path.dirname(item) or "."
        if os.path.isdir(root):
            roots.add(os.path.abspath(root))
    return sorted(roots), recursive
