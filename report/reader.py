"""A log file's bytes -> its text, read as it streams in and held once (part of `parse`).

Whatever a file holds, reading it costs memory in proportion to the text a log can use:
junk is skipped or refused while it streams in, before it is held. Lines holding NUL bytes
(a crash leaves a tail of them) and lines longer than any log writes are skipped as they
arrive; a file that is mostly such junk, a gzip member that inflates more than any log
does, binary data and a text too big for the memory free here are refused with one
`ReportError` naming the file and the reason. UTF-16 (with a byte-order mark), latin-1
and CR-only line ends are read as the logs they are.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from report.errors import ReportError

CHUNK = 1 << 20  # bytes read (or inflated) at a time
# A log's lines are a few hundred bytes, its argv line a few KB; a "line" longer than this
# (a file without line breaks, a block of zeros) is skipped as it streams in, never held.
MAX_LINE_BYTES = 1 << 20
# Skipped bytes (NUL lines, over-long lines) past which a file is refused as junk.
MAX_JUNK_BYTES = 64 << 20
# gzip output past this many times the input it came from is a bomb: logs compress 4 to
# 20 fold (timestamps and numbers change on every line). Judged after the first 64 MB.
MAX_GZIP_RATIO = 200
_RATIO_FROM = 64 << 20
# A text this large is not a log; below it, the memory free decides (`text_limit`).
MAX_LOG_BYTES = 4 << 30
# Parsing holds a file's text as a str (up to 2 bytes a character: one arrow in a header
# widens it all) while its bytes are decoded, plus bounded temporaries (`parse`'s blocks).
PEAK_PER_BYTE = 4
_SAMPLE = 1 << 16  # the head judged for binary data

# Bytes no text has: C0 controls but tab, line ends, form feed and ESC (colour codes); DEL.
_BINARY = bytes([*range(1, 9), *range(14, 27), *range(28, 32), 127])
_TEXT = bytes(sorted(set(range(256)) - set(_BINARY)))
# Any multi-byte UTF-8 character: a text that has one and fails to decode is UTF-8 with
# junk in it; one that has none is latin-1, where every byte is a character.
_UTF8_CHARACTER = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|"
                             rb"[\xf0-\xf4][\x80-\xbf]{3}")
# Terminal escapes: CSI (colours, cursor), OSC (titles, links), charset and keypad modes.
_ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][0-9A-Za-z]|[=>78])"
)


@dataclass(frozen=True)
class InputFile:
    """One input file as found, with what provenance wants to show of it."""

    path: str
    size: int
    sha256: str


def decode(data: bytes | bytearray) -> str:
    """A log's bytes -> text: UTF-8 (undecodable bytes among UTF-8 text become U+FFFD),
    else latin-1; colour codes are dropped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = _UTF8_CHARACTER.search(data) is not None
        text = data.decode("utf-8", errors="replace") if utf8 else data.decode("latin-1")
    return _ANSI.sub("", text) if "\x1b" in text else text


def available_memory() -> int | None:
    """Bytes of memory free for this process now (Linux: MemAvailable), or None."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def text_limit() -> int:
    """The most text one file may hold: what the memory free now can parse."""
    free = available_memory()
    return MAX_LOG_BYTES if free is None else min(MAX_LOG_BYTES, free // PEAK_PER_BYTE)


def _gb(size: float) -> str:
    return f"{size / 1e9:.1f} GB"


class LogText:
    """A log's bytes as they stream in, kept once: without the lines no log holds, in
    UTF-8 or latin-1 with LF or CRLF line ends, refused as soon as it is clearly junk."""

    def __init__(self, shown: str, limit: int | None = None) -> None:
        self.shown = shown  # the file, as messages name it
        self.limit = text_limit() if limit is None else limit
        self.kept = bytearray()
        self.line = 0  # bytes of the current (unfinished) line kept so far
        self.skipping = ""  # why the current line is being skipped: "nul", "long" or ""
        self.skipped = {"nul": 0, "long": 0}  # lines skipped, by reason
        self.junk = 0  # bytes skipped
        self.head: bytes | None = b""  # the first bytes, until the encoding is known
        self.utf16: codecs.IncrementalDecoder | None = None
        self.cr_only: bool | None = None  # old Mac line ends: decided at the first one
        self.judged = False  # whether the head was checked for binary data
        self.taken = 0  # bytes taken out by `take_lines` (a growing log read in pieces)

    def add(self, data: bytes) -> None:
        """The next bytes of the file (decompressed)."""
        if self.head is not None:
            self.head += data
            if len(self.head) < 4:
                return
            data, self.head = self._start(self.head), None
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        if self.utf16 is not None:
            data = self.utf16.decode(data).encode("utf-8", errors="replace")
        for at in range(0, len(data), MAX_LINE_BYTES):
            self._take(data[at : at + MAX_LINE_BYTES])

    def _start(self, data: bytes) -> bytes:
        """The stream's first bytes: a byte-order mark says UTF-16 (or UTF-8: dropped)."""
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.utf16 = codecs.getincrementaldecoder("utf-16")(errors="replace")
        return data.removeprefix(codecs.BOM_UTF8)

    def _take(self, data: bytes) -> None:
        """Keep `data` (at most a line's bound long), line by line when it holds junk."""
        # Decided at the first line end; a CR that ends what has arrived may be the first
        # half of a CRLF, so it decides nothing yet (a growing log arrives in pieces).
        if self.cr_only is None and (b"\n" in data or b"\r" in data[:-1]):
            self.cr_only = b"\n" not in data
            if self.cr_only and self.kept.endswith(b"\r"):
                self.kept[-1:] = b"\n"  # the CR that ended the previous piece
                self.line = 0
        if self.cr_only:
            data = data.replace(b"\r", b"\n")
        first = data.find(b"\n")
        fits = self.line + (len(data) if first < 0 else first) <= MAX_LINE_BYTES
        if fits and not self.skipping and b"\0" not in data:
            self.kept += data  # the usual case: whole lines of text
            self.line = self.line + len(data) if first < 0 else len(data) - data.rfind(b"\n") - 1
        else:
            at = 0
            while at < len(data):
                end = data.find(b"\n", at) + 1 or len(data)
                self._piece(data[at:end], ended=data[end - 1 : end] == b"\n")
                at = end
        self._check()

    def _piece(self, piece: bytes, ended: bool) -> None:
        """Part of one line (its end when `ended`): kept, or skipped with the whole line."""
        if not self.skipping and (b"\0" in piece or self.line + len(piece) > MAX_LINE_BYTES):
            self.skipping = "nul" if b"\0" in piece else "long"
            if self.line:
                del self.kept[-self.line :]  # the line's start, kept before it showed
            self.junk += self.line
            self.line = 0
        if self.skipping:
            self.junk += len(piece)
            if ended:
                self.skipped[self.skipping] += 1
                self.skipping = ""
        else:
            self.kept += piece
            self.line = 0 if ended else self.line + len(piece)

    def _check(self) -> None:
        """Refuse the file as soon as it is clearly not a log, or too big to parse here."""
        if self.junk > MAX_JUNK_BYTES:
            msg = (f"{self.shown}: more than {MAX_JUNK_BYTES >> 20} MB of NUL bytes or of lines "
                   f"longer than {MAX_LINE_BYTES >> 20} MB: not a text log")
            raise ReportError(msg)
        self.refuse_beyond(len(self.kept))
        if not self.judged and len(self.kept) >= _SAMPLE:
            self._judge()

    def refuse_beyond(self, size: int) -> None:
        """Refuse the file when `size` bytes of text are more than can be parsed here."""
        if size > self.limit:
            msg = (f"{self.shown}: too big to read here: more than {_gb(self.limit)} of text "
                   f"(parsing needs about {PEAK_PER_BYTE} bytes of free memory per byte of it)")
            raise ReportError(msg)

    def _judge(self) -> None:
        """Binary data has control bytes no text has (random bytes: one in ten)."""
        self.judged = True
        head = bytes(self.kept[:_SAMPLE])
        controls = len(head.translate(None, _TEXT))  # the bytes left: not text
        if controls > max(8, len(head) // 20):
            msg = f"{self.shown}: binary data, not a text log"
            raise ReportError(msg)

    def finish(self) -> tuple[bytearray, list[str]]:
        """The text kept, and remarks on what was skipped."""
        if self.head is not None:
            data, self.head = self._start(self.head), None
            self._feed(data)  # a file of fewer than four bytes
        if self.utf16 is not None:
            self._take(self.utf16.decode(b"", final=True).encode("utf-8", errors="replace"))
        if self.skipping:
            self.skipped[self.skipping] += 1
        if not self.judged:
            self._judge()
        self._refuse_all_junk()
        return self.kept, self.remarks()

    def _refuse_all_junk(self) -> None:
        """Refuse a file whose every line so far was skipped."""
        if self.junk and not self.taken and (not self.kept or self.kept.isspace()):
            reason = ("binary data, not a text log" if self.skipped["nul"] else
                      f"no line shorter than {MAX_LINE_BYTES >> 20} MB: not a text log")
            msg = f"{self.shown}: {reason}"
            raise ReportError(msg)

    def take_lines(self) -> bytearray:
        """The whole lines kept so far, taken out of the buffer; the unfinished last line
        stays for the bytes that end it. For a log read again as it grows, where `finish`
        never comes."""
        if not self.judged and self.kept:
            self._judge()
        self._refuse_all_junk()
        end = self.kept.rfind(b"\n") + 1
        lines = self.kept[:end]
        del self.kept[:end]
        self.taken += end
        return lines

    def remarks(self) -> list[str]:
        """What was skipped, one remark per kind."""
        notes = []
        if self.skipped["nul"]:
            notes.append(f"{self.shown}: skipped {self.skipped['nul']} line(s) holding NUL "
                         "bytes (a crash leaves them)")
        if self.skipped["long"]:
            notes.append(f"{self.shown}: skipped {self.skipped['long']} line(s) longer than "
                         f"{MAX_LINE_BYTES >> 20} MB")
        return notes


class _Inflater:
    """Streams gzip members (several may be concatenated) into a `LogText`, a bounded
    amount at a time, refusing a member that inflates more than any log does."""

    def __init__(self, text: LogText) -> None:
        self.text = text
        self.inflate = zlib.decompressobj(wbits=31)
        self.members = 0  # complete members read
        self.consumed = 0  # compressed bytes inflated so far
        self.total = 0  # bytes they gave
        self.trailing = False  # junk after the last complete member
        self.pending = False  # a member started and not yet finished

    def feed(self, chunk: bytes) -> None:
        while not self.trailing:
            try:
                data = self.inflate.decompress(chunk, CHUNK)
            except zlib.error:
                if self.members == 0:
                    raise
                self.trailing = True  # as gzip(1) does: keep the members, ignore the rest
                return
            rest = self.inflate.unconsumed_tail
            self.consumed += len(chunk) - len(rest)
            self._add(data)
            if self.inflate.eof:
                self.pending = False
                self.members += 1
                chunk = self.inflate.unused_data  # the next gzip member, if any
                self.inflate = zlib.decompressobj(wbits=31)
                if not chunk:
                    return
            else:
                self.pending = True
                if not rest and len(data) < CHUNK:
                    return  # all inflated: the member goes on in the next chunk
                chunk = rest

    def _add(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > _RATIO_FROM and self.total > MAX_GZIP_RATIO * self.consumed:
            msg = (f"{self.text.shown}: inflates more than {MAX_GZIP_RATIO} fold, as no log "
                   "does (a gzip bomb?)")
            raise ReportError(msg)
        self.text.add(data)

    def finish(self) -> list[str]:
        """Remarks about the stream's end (a cut-off file keeps what was read)."""
        if self.trailing:
            return [f"{self.text.shown}: data after the end of the gzip stream was ignored"]
        if self.pending:
            while data := self.inflate.decompress(b"", CHUNK):
                self._add(data)
            self._add(self.inflate.flush())
            return [f"{self.text.shown}: the gzip file is cut short; read what it holds"]
        return []


def read_bytes(path: str, shown: str | None = None) -> tuple[bytearray, InputFile, list[str]]:
    """A log's text as bytes (`*.gz` inflated as it streams in), its provenance record and
    remarks on the way it was read; `shown` names the file in messages. The SHA-256 and
    size are of the file as stored."""
    shown = shown or path
    with named_errors(shown), open(path, "rb") as fh:
        size = None if path.endswith(".gz") else os.fstat(fh.fileno()).st_size
        return read_chunks(chunks(fh), shown, gzipped=path.endswith(".gz"), size=size)


def chunks(fh: BinaryIO) -> Iterator[bytes]:
    """A binary stream `CHUNK` bytes at a time."""
    while chunk := fh.read(CHUNK):
        yield chunk


def read_chunks(
    data: Iterable[bytes], shown: str, *, gzipped: bool, size: int | None = None
) -> tuple[bytearray, InputFile, list[str]]:
    """`read_bytes` of a file's bytes as they arrive (a local file's, or a URL's as fsspec
    streams it); `size`, when known, refuses a text too big before a byte is read."""
    digest = hashlib.sha256()
    read = 0
    text = LogText(shown)
    if size is not None:
        text.refuse_beyond(size)
    inflater = _Inflater(text) if gzipped else None
    for chunk in data:
        digest.update(chunk)
        read += len(chunk)
        if inflater is None:
            text.add(chunk)
        else:
            inflater.feed(chunk)
    notes = inflater.finish() if inflater is not None and read else []
    kept, skipped = text.finish()
    file = InputFile(path=shown, size=read, sha256=digest.hexdigest())
    return kept, file, notes + skipped


@contextlib.contextmanager
def named_errors(shown: str) -> Iterator[None]:
    """Reading errors as one `ReportError` naming the file and the reason."""
    try:
        yield
    except IsADirectoryError:
        msg = f"{shown}: is a directory"
        raise ReportError(msg) from None
    except PermissionError:
        msg = f"{shown}: permission denied"
        raise ReportError(msg) from None
    except FileNotFoundError:
        msg = f"{shown}: no such file"
        raise ReportError(msg) from None
    except zlib.error as exc:
        msg = f"{shown}: not a valid gzip file ({exc})"
        raise ReportError(msg) from None
    except OSError as exc:
        msg = f"{shown}: cannot read ({exc.strerror or exc})"
        raise ReportError(msg) from None
