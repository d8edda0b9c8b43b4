"""A log read again and again as it grows (`--watch`): each read takes only the bytes
appended since the last one (part of the parse layer).

A plain log keeps, between reads, how far it was read (`offset`, always the end of a
whole line: a line still being written is read once its end arrives), the SHA-256 of
those bytes, the reader's state (encoding, line ends, junk being skipped) and its rows so
far (`parse.Rows`). A local file continues from there unless it is another file now (a
new inode), shrank, or went back in time; a URL is fetched again (stores replace objects
whole) and continues from there only if its first `offset` bytes are the ones read
before. Otherwise, and for gzip, the log is read again whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from report.errors import ReportError
from report.parse import ParsedLog, Rows, read_rows, shown_path
from report.reader import (
    CHUNK,
    MAX_LINE_BYTES,
    InputFile,
    LogText,
    chunks,
    decode,
    named_errors,
    read_bytes,
)
from report.remote import gzipped, is_url

if TYPE_CHECKING:
    from hashlib import _Hash


@dataclass
class _Position:
    """How far a plain log was read, and what reading on needs."""

    text: LogText  # the reader's state: encoding, line ends, a line being skipped
    digest: _Hash  # SHA-256 of the bytes read
    offset: int = 0  # bytes read: up to the end of a whole line
    rows: Rows | None = None
    identity: tuple[int, int] | None = None  # a local file's (device, inode)
    mtime_ns: int = 0

    def feed(self, data: bytes) -> None:
        self.digest.update(data)
        self.offset += len(data)
        self.text.add(data)


@dataclass(frozen=True)
class Read:
    """What one read found."""

    steps_before: int  # the run's steps before (0: none)
    steps: int  # ... and now
    whole: bool  # read from the start (first read, or the file was replaced)
    new_bytes: int  # bytes taken in this time (a URL is fetched whole, read on from there)
    problem: str = ""  # why the file could not be read ("": it could)
    changed: bool = True  # whether the run (its numbers, notes) or the problem changed


class FollowedLog:
    """One input file, followed: `read` takes what is new since the last read."""

    def __init__(self, path: str) -> None:
        self.path = path  # as the file is opened (a URL with its query)
        self.shown = shown_path(path)
        self.gzipped = gzipped(path) if is_url(path) else path.endswith(".gz")
        self.position: _Position | None = None
        self.parsed: ParsedLog | None = None  # the run as last read well
        self.problem = ""  # why the last read failed ("" when it did not)
        self.version: object = None  # what the scan saw of the file when it was last read

    def read(self, name: str, cancelled: threading.Event | None = None) -> Read:
        """Read what is new. A file that cannot be read (gone, refused, not a run any
        more) keeps the run as last read well; the next read starts again whole. Setting
        `cancelled` stops the read at its next chunk."""
        previous, problem = self.parsed, self.problem
        before = len(previous.steps) if previous is not None else 0
        offset = self.position.offset if self.position is not None else 0
        try:
            parsed, whole = (self._read_gzip(name, cancelled) if self.gzipped
                             else self._read_plain(name, cancelled))
        except ReportError as exc:
            self.position, self.problem = None, str(exc)
        except MemoryError:
            self.position = None
            self.problem = f"{self.shown}: too big to read in the memory free here"
        else:
            self.parsed, self.problem = parsed, ""
            assert parsed.file is not None
            read = parsed.file.size if whole else parsed.file.size - offset
            changed = bool(problem) or not same_run(previous, parsed)
            return Read(before, len(parsed.steps), whole=whole, new_bytes=read, changed=changed)
        return Read(before, before, whole=True, new_bytes=0, problem=self.problem,
                    changed=self.problem != problem)

    def _read_gzip(self, name: str, cancelled: threading.Event | None) -> tuple[ParsedLog, bool]:
        """A gzip log, read whole (its compressed bytes cannot be continued)."""
        if is_url(self.path):
            from report import remote

            kept, file, notes = remote.read(self.path, self.shown, cancelled)
        else:
            kept, file, notes = read_bytes(self.path, self.shown)
        if not kept or kept.isspace():
            msg = f"{self.shown}: empty file"
            raise ReportError(msg)
        parsed = read_rows(decode(kept), self.shown).parsed(self.shown, name)
        parsed.notes[:0] = notes
        parsed.file = file
        return parsed, True

    def _read_plain(
        self, name: str, cancelled: threading.Event | None, whole: bool = False
    ) -> tuple[ParsedLog, bool]:
        """What was appended to a plain log (all of it when `whole`, or when the file is
        not the one read before); and whether it was read from its start."""
        with self._opened(None if whole else self.position) as (stream, position):
            from_start = position.offset == 0
            _consume(position, stream, cancelled, self.shown)
        lines = position.text.take_lines()
        if position.rows is None:
            if not lines.strip():
                more = " (no whole line yet)" if position.offset else ""
                msg = f"{self.shown}: empty file{more}"
                raise ReportError(msg)
            rows: Rows | None = read_rows(decode(lines), self.shown)
        else:
            rows = position.rows.more(decode(lines)) if lines else position.rows
            if rows is None:  # what was appended changes what was read before
                return self._read_plain(name, cancelled, whole=True)
        assert rows is not None
        parsed = rows.parsed(self.shown, name)
        position.rows, self.position = rows, position
        parsed.notes[:0] = position.text.remarks()
        parsed.file = InputFile(self.shown, position.offset, position.digest.hexdigest())
        return parsed, from_start

    @contextlib.contextmanager
    def _opened(self, position: _Position | None) -> Iterator[tuple[Iterator[bytes], _Position]]:
        """The log opened where reading goes on: at `position` if the file is still the
        one read there, else at its start with a new position."""
        if is_url(self.path):
            with self._fetched(position) as opened:
                yield opened
            return
        with named_errors(self.shown), open(self.path, "rb") as fh:
            status = os.fstat(fh.fileno())
            identity = (status.st_dev, status.st_ino)
            if (position is None or position.identity != identity
                    or status.st_size < position.offset or status.st_mtime_ns < position.mtime_ns):
                position = _new_position(self.shown)  # another file, shrunk, or back in time
            fh.seek(position.offset)
            position.identity, position.mtime_ns = identity, status.st_mtime_ns
            yield chunks(fh), position

    @contextlib.contextmanager
    def _fetched(self, position: _Position | None) -> Iterator[tuple[Iterator[bytes], _Position]]:
        """A URL fetched again: read on after `position` if it starts with the bytes read
        there, else from its start."""
        from report import remote

        with remote.opened(self.path, self.shown) as fh:
            if position is None or _starts_with(fh, position):
                yield chunks(fh), position or _new_position(self.shown)
                return
        with remote.opened(self.path, self.shown) as fh:  # changed: again, from the start
            yield chunks(fh), _new_position(self.shown)


def same_run(a: ParsedLog | None, b: ParsedLog | None) -> bool:
    """Whether two reads of a log make the same run on the page: steps, values and their
    counts, notes, metadata."""
    if a is None or b is None:
        return a is b
    return (
        (a.argv, a.preset_arm, a.seed, a.v_hack, a.refresh, a.missing, a.notes)
        == (b.argv, b.preset_arm, b.seed, b.v_hack, b.refresh, b.missing, b.notes)
        and np.array_equal(a.steps, b.steps) and a.metrics.keys() == b.metrics.keys()
        and all(np.array_equal(a.metrics[m], b.metrics[m], equal_nan=True) for m in a.metrics)
        and a.counts.keys() == b.counts.keys()
        and all(np.array_equal(x, y, equal_nan=True)
                for m in a.counts for x, y in zip(a.counts[m], b.counts[m], strict=True))
    )


def _new_position(shown: str) -> _Position:
    return _Position(text=LogText(shown), digest=hashlib.sha256())


def _starts_with(fh: BinaryIO, position: _Position) -> bool:
    """Whether the stream's first `position.offset` bytes are those read before (their
    SHA-256); it is left just after them."""
    digest = hashlib.sha256()
    left = position.offset
    while left:
        data = fh.read(min(left, CHUNK))
        if not data:
            return False  # shorter now
        digest.update(data)
        left -= len(data)
    return digest.digest() == position.digest.digest()


def _consume(
    position: _Position, stream: Iterator[bytes], cancelled: threading.Event | None, shown: str
) -> None:
    """Feed the stream to `position` up to the end of its last whole line: the bytes
    after it (a line being written) are left to be read again when it ends."""
    held = b""
    for chunk in stream:
        if cancelled is not None and cancelled.is_set():
            msg = f"{shown}: read cancelled"
            raise ReportError(msg)
        data = held + chunk if held else chunk
        end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if len(data) - end > MAX_LINE_BYTES:
            end = len(data)  # a line this long is skipped as it streams in anyway
        position.feed(data[:end])
        held = data[end:]
