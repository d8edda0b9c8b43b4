"""The one helper that writes a report's files: all or nothing, in the output folder.

`cli` is the only layer that writes, and it writes through `write_report` here: every
file is staged first and renamed into place at the end; a failure or an interrupt leaves
the previous report whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from report.errors import ReportError

if TYPE_CHECKING:
    from report.build import BuiltReport

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
