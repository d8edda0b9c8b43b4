"""Read training logs into `ParsedLog` records: run metadata plus raw metric columns.

The rules are the reference script's (`plot_dynamics.py`), stated in LOG_FORMAT.md:
the argv line, the preset line, a header found by its column NAMES, rows whose first
token is an integer step. What the reference did not survive -- colour codes, padded
levels, restarts, resumes, truncation, compression, junk, impossible values, one run in
several files -- is handled here (the bytes of a file are read by `report.reader`), and
a file that is not a usable run costs one `ReportError` naming the file and the reason.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import stat
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from report.errors import ReportError, UsageError
from report.reader import InputFile, LogText, decode, read_bytes
from report.remote import is_url
from report.workers import cores, process_pool, signals_held, start_worker

# Display metrics and the header columns they come from. Routing runs swap in the
# ablated-eval columns: the routed forward still hacks during training, so the
# training-time hack_s would falsely read "routing doesn't work"; the ablated model
# is the one that gets deployed.
METRIC_COLUMNS = {"hack": "hack_s", "solve": "gt_s", "teacher": "cos_pre_t", "student": "cos_pre_s"}
ROUTING_COLUMNS = {"hack": "hack_abl", "solve": "solve_abl"}
METRICS = tuple(METRIC_COLUMNS)
# Every other column of the metric table is a metric too, named by its cleaned header name
# (`loss`, `hack_t`, `ref_eq`, `dt`, ...): its "extra" metrics. A column read into one of
# the four above is not read again under its own name, so nothing is shown twice: a
# routing run's hack_abl/solve_abl ARE its hack/solve, and its training-time hack_s/gt_s
# are the extra metrics `hack_s`/`gt_s` (every other run's hack_s/gt_s are hack/solve).
# A column whose name is one of the four display names gets a suffix (`hack (column)`).
EXTRA_SUFFIX = " (column)"
# What a metric's cells are: `rate` (k/n fractions), `boolean` (T/F, read as 1/0 in an
# extra metric: a rate of true) or `number`. The four above keep the reference's reading:
# T and F are missing there.
METRIC_KINDS = ("rate", "boolean", "number")
REFERENCE_KINDS = {"hack": "rate", "solve": "rate", "teacher": "number", "student": "number"}
# What each metric can be: rates are fractions of a batch (k/n with 0 <= k <= n), cosines
# are cosines (up to float rounding). A value outside (`40/28`, `-5/28`, a cosine of
# `1e308`) is a corrupt cell, read as missing with one warning per file and column.
METRIC_RANGES = {"hack": (0.0, 1.0), "solve": (0.0, 1.0), "teacher": (-1.0, 1.0),
                 "student": (-1.0, 1.0)}
RATE_RANGE = (0.0, 1.0)  # an extra metric logged as k/n: a rate, like hack and solve
_COSINE_SLACK = 1e-6

# Display names for preset arms; `projected` splits by whether v_hack is refreshed.
ARM_ORDER = ("vanilla", "static erasure", "online erasure", "routing")
# Older logs name the arm only through --intervention; map it to the preset arm.
_INTERVENTION_ARM = {"none": "vanilla", "erase": "projected", "route": "routing"}

LOG_SUFFIXES = (".log", ".log.gz")

# A line's prefix, recognised by shape rather than one fixed string: an optional
# timestamp, an optional level (loguru pads it: `INFO     `), an optional call site
# (`__main__:train:88 - `). Only INFO lines, or lines with no level at all, carry rows.
_TIME = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:[ ]?(?:Z|[+-]\d\d:?\d\d))?"
_CALL_SITE = r"(?:[^\s|:]+:[^\s|:]+:\d+\s+-\s+)"
_PREFIX = re.compile(rf"^\s*(?:{_TIME}\s*\|\s*)?(?:([A-Z]+)\s*\|\s*)?{_CALL_SITE}?")
# A metric row: (INFO or no level) then a message starting with an integer step.
_ROW = re.compile(
    rf"^[ \t]*(?:{_TIME}[ \t]*\|[ \t]*)?(?:INFO[ \t]*\|[ \t]*)?{_CALL_SITE}?(\d+[ \t][^\r\n]*)",
    re.MULTILINE,
)
_ARM_WORD = re.compile(r"\barm=\w")
_HEADER_NAME = re.compile(r"[A-Za-z_]+")  # `hack_s↑` -> `hack_s`: strip decorations

# What a name or a field from a log must not carry as it is to a terminal or a page: C0
# and C1 controls (they move the cursor, clear the screen, fake a line), DEL, bidi controls
# (they reorder the text around them), and lone surrogates (a file name's bytes that were
# not UTF-8, as `os.fsdecode` keeps them). Tabs are harmless and stay.
_UNSHOWABLE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)

_MISSING_TOKENS = frozenset({"T", "F", "-", "nan", "NaN", "NAN", "inf", "+inf", "-inf", "Inf"})
_BOOLEAN_TOKENS = {"T": 1.0, "F": 0.0}


@dataclass
class ParsedLog:
    """One run: metadata from the argv and preset lines, raw metric arrays by step."""

    path: str
    name: str
    argv: str
    preset_arm: str
    arm: str
    seed: int | None
    v_hack: str
    refresh: int
    steps: np.ndarray  # unique steps, ascending (int64)
    # metric -> raw values aligned with steps (NaN missing): the four METRICS the log has,
    # then its extra metrics in header order
    metrics: dict[str, np.ndarray]
    # metric -> (k, n) of its `k/n` cells aligned with steps, NaN where a cell is not a
    # fraction; only metrics logged as fractions (the rates) have them.
    counts: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)  # non-fatal remarks (warnings)
    file: InputFile | None = None
    kinds: dict[str, str] = field(default_factory=dict)  # metric -> one of METRIC_KINDS
    flags: dict[str, str] = field(default_factory=dict)  # argv: --key=value, without dashes
    fields: dict[str, str] = field(default_factory=dict)  # the preset line's key=value
    sweep: str = ""  # the label of the input it came from (`LABEL=PATH`), "" without one

    @property
    def config(self) -> dict[str, str]:
        """What the run was started with: argv flags and preset-line fields, by key; the
        preset line wins where both say (it prints the settings in effect)."""
        return {**self.flags, **self.fields}


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` as it may be shown on a terminal or a page: bytes of a file name that were
    not UTF-8 as `\\xe9`, control and bidi characters as `\\x1b`, `\\u202e` (so a name
    can neither clear a screen nor reorder the text around it)."""
    return _UNSHOWABLE.sub(_escape, text)


def cell_value(token: str) -> float:
    """One cell: a fraction `k/n` (n = 0 -> missing), a signed float, or a marker -> NaN."""
    if token in _MISSING_TOKENS:
        return np.nan
    num, slash, den = token.partition("/")
    try:
        if slash:
            d = int(den)
            return int(num) / d if d else np.nan
        value = float(token)
    except ValueError:
        return np.nan  # a garbled cell is missing, not a crash
    return value if np.isfinite(value) else np.nan


def cell_counts(token: str) -> tuple[float, float]:
    """A fraction cell `k/n` as its counts (k, n), kept as logged even where n = 0 (the
    rate is missing there, the counts say why); any other cell -> (NaN, NaN)."""
    num, slash, den = token.partition("/")
    try:
        return (float(int(num)), float(int(den))) if slash else (np.nan, np.nan)
    except ValueError:
        return (np.nan, np.nan)


def cell_kind(token: str) -> str:
    """What a cell is: `fraction` (k/n, even n = 0), `boolean` (T, F), `number`, `missing`
    (`-`, `nan`, `inf`) or `text` (anything else: not a number at all)."""
    if token in _BOOLEAN_TOKENS:
        return "boolean"
    if token in _MISSING_TOKENS:
        return "missing"
    num, slash, den = token.partition("/")
    try:
        if slash:
            int(num), int(den)
            return "fraction"
        float(token)
    except ValueError:
        return "text"
    return "number"


class _CellCache(dict[str, float]):
    """Memoised `cell_value`, `cell_counts` and `cell_kind`: a log repeats few distinct
    tokens (k/28, +0.264, -)."""

    def __init__(self) -> None:
        super().__init__()
        self.fractions: dict[str, tuple[float, float]] = {}
        self.kinds: dict[str, str] = {}

    def __missing__(self, token: str) -> float:
        value = self[token] = cell_value(token)
        return value

    def counts(self, token: str) -> tuple[float, float]:
        found = self.fractions.get(token)
        if found is None:
            found = self.fractions[token] = cell_counts(token)
        return found

    def kind(self, token: str) -> str:
        found = self.kinds.get(token)
        if found is None:
            found = self.kinds[token] = cell_kind(token)
        return found


Counts = tuple[np.ndarray, np.ndarray]  # (k, n) per row, NaN where a cell is no fraction


@dataclass
class _CellKinds:
    """What one column's cells were, over a block of rows: the kinds seen, and how many
    cells were text (not numbers), with a few of them."""

    seen: set[str] = field(default_factory=set)
    text_cells: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, other: _CellKinds) -> None:
        self.seen |= other.seen
        self.text_cells += other.text_cells
        self.examples.extend(e for e in other.examples if e not in self.examples)
        del self.examples[4:]  # three to show, and whether there are more

    def kind(self) -> str:
        """The metric's kind (METRIC_KINDS) from the cells seen."""
        if "fraction" in self.seen:
            return "rate"
        if "boolean" in self.seen and "number" not in self.seen:
            return "boolean"
        return "number"


_MANY_TOKENS = 64  # a column with more distinct cells (a loss) is read in one go if it can


def _plain_numbers(tokens: Sequence[str]) -> np.ndarray | None:
    """Distinct cells that are all plain numbers (`0.6791`, `nan`), read at once: numpy
    reads text as Python's float() does; None when any cell is not one (a fraction, a
    marker, text: read one by one)."""
    try:
        return np.array(tokens, dtype=str).astype(float)
    except ValueError:
        return None


def _read_cells(codes: np.ndarray, tokens: Sequence[str], cache: _CellCache,
                booleans: bool = False) -> tuple[np.ndarray, Counts | None, _CellKinds]:
    """Rows given as codes into their distinct cells -> (values, counts, what the cells
    were); counts only for a column that holds a fraction. `booleans`: T and F are 1 and 0
    (an extra metric), not missing (the reference's four)."""
    if len(tokens) > _MANY_TOKENS and (numbers := _plain_numbers(tokens)) is not None:
        finite = np.isfinite(numbers)
        seen = {"number"} if finite.all() else {"number", "missing"}
        return np.where(finite, numbers, np.nan)[codes], None, _CellKinds(seen=seen)
    kinds = [cache.kind(t) for t in tokens]
    read = _CellKinds(seen=set(kinds))
    if "text" in read.seen:
        text = [i for i, k in enumerate(kinds) if k == "text"]
        read.text_cells = int(np.bincount(codes, minlength=len(tokens))[text].sum())
        read.examples = [tokens[i] for i in text[:4]]
    table = [_BOOLEAN_TOKENS[t] if booleans and k == "boolean" else cache[t]
             for t, k in zip(tokens, kinds, strict=True)]
    values = np.array(table, dtype=float)[codes]
    if "fraction" not in read.seen:
        return values, None, read
    pairs = np.array([cache.counts(t) for t in tokens], dtype=float).reshape(-1, 2)[codes]
    return values, (pairs[:, 0], pairs[:, 1]), read


def arm_label(preset_arm: str, refresh: int) -> str:
    """Display arm: projected splits by v_hack refresh; unknown arms keep their own name."""
    if preset_arm == "projected":
        return "online erasure" if refresh > 0 else "static erasure"
    return preset_arm


def _last(pattern: str, text: str) -> str | None:
    """The reference takes the LAST match within a line."""
    found = re.findall(pattern, text)
    return found[-1] if found else None


def _number(path: str, what: str, digits: str | None) -> int:
    """A metadata number; one too big for the int64 tables is a corrupt log, not a crash."""
    if digits is None:
        return 0
    if len(digits) > 18:
        msg = f"{path}: {what}= has {len(digits)} digits, too many to be real (a corrupt log?)"
        raise ReportError(msg)
    return int(digits)


def message(line: str) -> tuple[str | None, str]:
    """Split a log line into (level or None, message) by the prefix's shape."""
    m = _PREFIX.match(line)
    assert m is not None  # every part of the prefix is optional
    return m.group(1), line[m.end() :]


def _lines_with(text: str, needle: str) -> Iterator[tuple[str, int]]:
    """Each line containing `needle` (its text, `\r` dropped, and the offset of its end),
    found without splitting the text."""
    start = 0
    while (pos := text.find(needle, start)) >= 0:
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        yield text[line_start:line_end].rstrip("\r"), line_end
        start = line_end + 1


def _first_line_with(
    text: str, *needles: str, pattern: re.Pattern[str] | None = None
) -> str | None:
    """The first line containing every needle (and matching `pattern`, if given)."""
    for line, _ in _lines_with(text, needles[0]):
        if all(n in line for n in needles[1:]) and (pattern is None or pattern.search(line)):
            return line
    return None


def _header_positions(text: str) -> list[tuple[int, list[str]]]:
    """Every header line (a logger restart prints it again): (offset after it, names)."""
    headers = []
    for line, line_end in _lines_with(text, "ref_eq"):
        level, msg = message(line)
        if "hack_s" in msg and level in (None, "INFO"):
            # Every token is a column: one with no name to strip (`Δkl`, `2nd`) keeps its
            # place, or every column after it would read its neighbour's cells.
            names = [m.group(0) if (m := _HEADER_NAME.match(t)) else t for t in msg.split()]
            if "step" in names and "hack_s" in names:
                headers.append((line_end, names))
    return headers


def _preset_line(text: str) -> str | None:
    """The first preset line. `arm=` as a word: `--warm=1` on an argv line does not make
    it the preset line."""
    return _first_line_with(text, "preset=", "arm=", pattern=_ARM_WORD)


@dataclass(frozen=True)
class _Metadata:
    """What the argv and preset lines say of a run."""

    argv: str
    preset_arm: str
    seed: int | None
    refresh: int
    v_hack: str
    flags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


# A configuration key, as a flag (`--v-hack-path`) or a preset field (`lr`) names it.
_KEY = r"[A-Za-z0-9][\w.-]*"
_FLAG = re.compile(rf"--({_KEY})(?:=(.*))?", re.DOTALL)
# `key=value` in a preset line, not inside a flag (`--steps=200`) or a word (`x_lr=1`).
_FIELD = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)=(\S*)")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def argv_flags(argv: str) -> dict[str, str]:
    """The long flags of an argv message, by key without the dashes: `--lr=1e-5` and
    `--lr 1e-5` give lr -> 1e-5, a flag without a value (`--resume`) gives `true`; the
    last of a repeated flag wins, as argparse has it. Short flags and positional
    arguments are not configuration keys."""
    import shlex

    text = argv.split("argv:", 1)[-1]
    try:
        tokens = shlex.split(text)
    except ValueError:  # an unbalanced quote: read it as plain words
        tokens = text.split()
    flags: dict[str, str] = {}
    for at, token in enumerate(tokens):
        match = _FLAG.fullmatch(token)
        if match is None:
            continue
        value = match.group(2)
        if value is None:
            following = tokens[at + 1] if at + 1 < len(tokens) else None
            takes = following is not None and (
                not following.startswith("-") or _NUMBER.fullmatch(following))
            value = following if takes and following is not None else "true"
        flags[match.group(1)] = printable(value)
    return flags


def preset_fields(line: str) -> dict[str, str]:
    """The `key=value` fields of a preset line's message (`preset=converge arm=routing
    seed=1 lr=1e-05 ...`); the last of a repeated key wins, as the reference reads arm=
    and seed=."""
    return {key: printable(value) for key, value in _FIELD.findall(message(line)[1])}


def _metadata(text: str, path: str, notes: list[str]) -> _Metadata:
    """The run's argv line, arm, seed, v_hack refresh period and v_hack name."""
    argv_line = _first_line_with(text, "argv:")
    if argv_line is None:
        msg = f"{path}: no argv line (not a training log, or it crashed before starting)"
        raise ReportError(msg)
    argv = printable(argv_line[argv_line.index("argv:") :].strip())
    preset = _preset_line(text) or ""
    preset_arm = _last(r"\barm=(\w+)", preset)
    if preset_arm is None:
        intervention = _last(r"--intervention=(\w+)", argv)
        preset_arm = _INTERVENTION_ARM.get(intervention or "", intervention)
        if preset_arm is None:
            msg = f"{path}: no arm= in a preset line nor --intervention= in argv"
            raise ReportError(msg)
        notes.append(f"{path}: no preset line; arm taken from --intervention={intervention}")
    refresh = _number(path, "--vhack-refresh-every", _last(r"--vhack-refresh-every=(\d+)", argv))
    seed_text = _last(r"\bseed=(\d+)", preset) or _last(r"--seed=(\d+)", argv)
    seed = _number(path, "seed", seed_text) if seed_text is not None else None
    vhack_path = _last(r"--v-hack-path=(\S+)", argv)
    v_hack = "-"
    if vhack_path:
        v_hack = re.sub(r"\.safetensors$", "", vhack_path.rsplit("/", 1)[-1]) or vhack_path
        v_hack = printable(v_hack)
    fields = preset_fields(preset) if preset and "argv:" not in preset else {}
    return _Metadata(argv, preset_arm, seed, refresh, v_hack, argv_flags(argv), fields)


def _metric_columns(preset_arm: str, headers: list[tuple[int, list[str]]]) -> dict[str, str]:
    """metric -> the header column it is read from: the four METRICS (routing: hack and
    solve from the ablated evaluation's columns, when a header has them), then every other
    column of every header, in header order (the extra metrics)."""
    columns = dict(METRIC_COLUMNS)
    if preset_arm == "routing" and any(
        {"hack_abl", "solve_abl"} <= set(names) for _, names in headers
    ):
        columns.update(ROUTING_COLUMNS)
    read = set(columns.values())
    for _, names in headers:
        for name in names:
            if name == "step" or name in read:
                continue
            metric = name + EXTRA_SUFFIX if name in METRIC_COLUMNS else name
            columns.setdefault(metric, name)
    return columns


@dataclass
class _Segment:
    """A block of rows: steps, metric -> values, metric -> counts (of fraction cells),
    metric -> what its cells were."""

    steps: np.ndarray
    metrics: dict[str, np.ndarray]
    counts: dict[str, Counts]
    cells: dict[str, _CellKinds] = field(default_factory=dict)

    def add(self, metric: str, read: tuple[np.ndarray, Counts | None, _CellKinds]) -> None:
        values, counts, cells = read
        self.metrics[metric] = values
        self.cells[metric] = cells
        if counts is not None:
            self.counts[metric] = counts


def _segment_rows(
    text: str, start: int, end: int, names: list[str], columns: dict[str, str],
    cache: _CellCache,
) -> list[_Segment]:
    """The rows between one header and the next, as blocks of rows (none: no row). They
    are read a block of lines at a time, so that what reading needs besides the text
    stays small whatever the log's length."""
    index = {n: i for i, n in enumerate(names)}  # duplicate names: the last wins
    wanted = {m: index[c] for m, c in columns.items() if c in index}
    blocks = []
    while start < end:
        stop = end if start + _BLOCK_CHARS >= end else text.find("\n", start + _BLOCK_CHARS, end)
        stop = end if stop < 0 else stop  # a block ends where a line does
        if read := _block_rows(text, start, stop, len(names), index["step"], wanted, cache):
            blocks.append(read)
        start = stop
    return blocks


def _block_rows(
    text: str, start: int, end: int, width: int, step: int, wanted: dict[str, int],
    cache: _CellCache,
) -> _Segment | None:
    """The rows of `text[start:end]`: read with numpy when they are uniform, else line by
    line."""
    cells = uniform_cells(text, start, end, width)
    steps = cells.integers(step) if cells is not None else None
    if cells is None or steps is None:
        return _split_rows(text, start, end, width, step, wanted, cache)
    segment = _Segment(steps, {}, {})
    for metric, column in wanted.items():
        segment.add(metric, _read_cells(*cells.distinct(column), cache, metric not in METRICS))
    return segment


def _last_rows(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each step once, ascending; the row of its last occurrence)."""
    reversed_unique, reversed_index = np.unique(steps[::-1], return_index=True)
    return reversed_unique.astype(np.int64), len(steps) - 1 - reversed_index


def parse_text(text: str, path: str, name: str | None = None) -> ParsedLog:
    """Parse one log's text. Raises ReportError when it is not a usable run."""
    return read_rows(text, path).parsed(path, name or os.path.basename(path))


@dataclass(frozen=True)
class Rows:
    """A run's rows as read so far, and what reading the rows appended to its log needs
    (`Rows.more`): the metadata, the headers seen, the columns read."""

    meta: _Metadata
    notes: tuple[str, ...]  # remarks on the metadata
    preset_line: bool  # whether a preset line was found (else a later one would win)
    headers: tuple[tuple[str, ...], ...]  # every header's names; rows appended follow the last
    columns: dict[str, str]  # metric -> the column it is read from
    rows: _Segment  # each step once, its values raw (impossible ones not yet missing)
    repeated: int = 0  # rows dropped because a later row logged the same step
    cells: dict[str, _CellKinds] = field(default_factory=dict)  # what each column's cells were

    def more(self, text: str) -> Rows | None:
        """These rows and those of `text`, whole lines appended to the log since; None when
        `text` changes what was read before (a first preset line, a header that brings
        routing's ablated columns): then the log is to be read again whole."""
        headers = _header_positions(text)
        if not self.preset_line and _preset_line(text):
            return None
        seen = [(0, list(names)) for names in self.headers] + headers
        if _metric_columns(self.meta.preset_arm, seen) != self.columns:
            return None
        return self._with(text, [(0, list(self.headers[-1])), *headers], headers)

    def _with(
        self, text: str, segments: list[tuple[int, list[str]]],
        headers: list[tuple[int, list[str]]],
    ) -> Rows:
        """These rows and those of `text`'s segments (each: where it starts, its header's
        names), the later row winning a step logged twice (`_later_wins`, as a whole read
        of the log does)."""
        cache = _CellCache()
        pieces = [self.rows] if len(self.rows.steps) else []
        bounds = [pos for pos, _ in segments[1:]] + [len(text)]
        for (start, names), end in zip(segments, bounds, strict=True):
            pieces.extend(_segment_rows(text, start, end, names, self.columns, cache))
        if not pieces:
            return dataclasses.replace(self, headers=self.headers + _names_of(headers))
        present = {m for piece in pieces for m in piece.metrics}
        steps, values, counts, repeated = _later_wins(
            pieces, [m for m in self.columns if m in present])
        return dataclasses.replace(
            self, headers=self.headers + _names_of(headers),
            rows=_Segment(steps, values, counts), repeated=self.repeated + repeated,
            cells=_cells_read(pieces, self.cells),
        )

    def parsed(self, path: str, name: str) -> ParsedLog:
        """The run these rows make. Raises ReportError when they make none."""
        rows = self.rows
        if not len(rows.steps):
            msg = f"{path}: a header but no metric rows (the run crashed before its first step)"
            raise ReportError(msg)
        if not set(rows.metrics) & set(METRICS):  # e.g. a routing run whose rows lack
            shown = ", ".join(self.columns[m] for m in METRICS)  # hack_abl and cosines
            msg = f"{path}: its rows have no column for any metric ({shown})"
            raise ReportError(msg)
        notes = list(self.notes)
        read = [m for m in rows.metrics
                if not _text_only(m, self.cells[m], self.columns, path, notes)]
        if self.repeated:
            notes.append(f"{path}: {self.repeated} repeated steps (resumed run); kept the later")
        metrics = {m: rows.metrics[m].copy() for m in read}
        counts = {m: (k.copy(), n.copy()) for m, (k, n) in rows.counts.items() if m in read}
        kinds = {m: REFERENCE_KINDS.get(m) or self.cells[m].kind() for m in metrics}
        _drop_impossible(metrics, counts, self.columns, kinds, path, notes)
        missing = tuple(m for m in METRICS if m not in metrics)
        if missing:
            notes.append(f"{path}: no column for {', '.join(missing)}")
        meta = self.meta
        return ParsedLog(
            path=path, name=name, argv=meta.argv, preset_arm=meta.preset_arm,
            arm=arm_label(meta.preset_arm, meta.refresh), seed=meta.seed, v_hack=meta.v_hack,
            refresh=meta.refresh, steps=rows.steps, metrics=metrics, counts=counts,
            missing=missing, notes=notes, kinds=kinds, flags=meta.flags, fields=meta.fields,
        )


def _names_of(headers: list[tuple[int, list[str]]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(names) for _, names in headers)


def read_rows(text: str, path: str) -> Rows:
    """The rows of a log's text (`parse_text` without making the run). Raises ReportError
    when the text has no argv line, no arm or no header."""
    notes: list[str] = []
    meta = _metadata(text, path, notes)
    headers = _header_positions(text)
    if not headers:
        msg = f"{path}: no metric header (a line naming hack_s and ref_eq); no step was logged"
        raise ReportError(msg)
    empty = Rows(
        meta=meta, notes=tuple(notes), preset_line=_preset_line(text) is not None, headers=(),
        columns=_metric_columns(meta.preset_arm, headers),
        rows=_Segment(np.empty(0, dtype=np.int64), {}, {}),
    )
    return empty._with(text, headers, headers)


def _cells_read(segments: Sequence[_Segment],
                before: dict[str, _CellKinds] | None = None) -> dict[str, _CellKinds]:
    """metric -> what its cells were, over every block of rows (and `before`: what the
    rows read before these were)."""
    cells = {metric: dataclasses.replace(read, seen=set(read.seen), examples=list(read.examples))
             for metric, read in (before or {}).items()}
    for segment in segments:
        for metric, read in segment.cells.items():
            cells.setdefault(metric, _CellKinds()).add(read)
    return cells


def _text_only(metric: str, cells: _CellKinds, columns: dict[str, str], path: str,
               notes: list[str]) -> bool:
    """Whether `metric` is an extra column of text, not numbers (then not read: one note);
    text cells in a column of numbers are missing, with one note per column."""
    if not cells.text_cells:
        return False
    examples = ", ".join(cells.examples[:3]) + (", ..." if len(cells.examples) > 3 else "")
    if metric not in METRICS and not cells.seen & {"fraction", "boolean", "number"}:
        notes.append(f"{path}: column {columns[metric]} holds text, not numbers ({examples}); "
                     f"not read as a metric")
        return True
    count = cells.text_cells
    notes.append(f"{path}: {count} cell{'s' if count > 1 else ''} of {columns[metric]} "
                 f"{'are' if count > 1 else 'is'} not a number ({examples}); read as missing")
    return False


def _later_wins(
    pieces: Sequence[_Segment | ParsedLog], metrics: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Counts], int]:
    """Pieces of rows (blocks of a log, or logs of one run) end to end, each step once --
    where several pieces log a step, the later piece's row wins: steps, metric -> values,
    metric -> counts (for the metrics some piece has counts of), and how many rows were
    dropped."""
    steps, rows = _last_rows(np.concatenate([piece.steps for piece in pieces]))

    def joined(parts: Sequence[np.ndarray | None]) -> np.ndarray:
        """One column over the pieces (NaN in a piece without it), each step once."""
        return np.concatenate([
            part if part is not None else np.full(len(piece.steps), np.nan)
            for part, piece in zip(parts, pieces, strict=True)
        ])[rows]

    values = {m: joined([p.metrics.get(m) for p in pieces]) for m in metrics}
    counts: dict[str, Counts] = {}
    for m in metrics:
        if any(m in p.counts for p in pieces):
            k = joined([p.counts[m][0] if m in p.counts else None for p in pieces])
            n = joined([p.counts[m][1] if m in p.counts else None for p in pieces])
            counts[m] = (k, n)
    total = sum(len(p.steps) for p in pieces)
    return steps, values, counts, total - len(steps)


def metric_range(metric: str, kind: str) -> tuple[float, float] | None:
    """What `metric` can be: METRIC_RANGES for the four, [0, 1] for an extra rate (k/n)
    or boolean, nothing for other numbers (a loss, seconds per step)."""
    if metric in METRIC_RANGES:
        return METRIC_RANGES[metric]
    return RATE_RANGE if kind in ("rate", "boolean") else None


def _drop_impossible(
    metrics: dict[str, np.ndarray], counts: dict[str, Counts], columns: dict[str, str],
    kinds: dict[str, str], path: str, notes: list[str],
) -> None:
    """Values no rate or cosine can take become missing (in place), with their counts (a
    `40/28` is a corrupt cell, not 40 of 28), one note per column."""
    for metric, values in metrics.items():
        bounds = metric_range(metric, kinds[metric])
        if bounds is None:
            continue
        low, high = bounds
        slack = _COSINE_SLACK if low < 0 else 0.0
        with np.errstate(invalid="ignore"):
            wrong = (values < low - slack) | (values > high + slack)
        if wrong.any():
            count = int(wrong.sum())
            examples = ", ".join(f"{v:.4g}" for v in values[wrong][:2]) + (
                ", ..." if count > 2 else "")
            notes.append(
                f"{path}: {count} value{'s' if count > 1 else ''} of {columns[metric]} outside "
                f"[{low:g}, {high:g}] ({examples}) read as missing"
            )
            values[wrong] = np.nan
            for part in counts.get(metric, ()):
                part[wrong] = np.nan


def _split_rows(
    text: str, start: int, end: int, width: int, step: int, wanted: dict[str, int],
    cache: _CellCache,
) -> _Segment | None:
    """The rows of `text[start:end]` line by line (`_ROW`), or None when there is none.
    A row needs at least `width` cells and a decimal step."""
    rows = [r for r in map(str.split, _ROW.findall(text, start, end)) if len(r) >= width]
    try:
        steps = np.array([r[step] for r in rows], dtype=np.int64)
    except (ValueError, OverflowError):
        # isdecimal, not isdigit: `²` is a digit that int() refuses.
        rows = [r for r in rows if r[step].isdecimal() and len(r[step]) < 18]
        steps = np.array([r[step] for r in rows], dtype=np.int64)
    if not rows:
        return None
    segment = _Segment(steps, {}, {})
    for metric, i in wanted.items():
        codes, tokens = pd.factorize(np.array([r[i] for r in rows], dtype=object))
        segment.add(metric, _read_cells(codes, list(tokens), cache, metric not in METRICS))
    return segment


# `_ROW` for one line at a time (`pattern.match(text, line_start, line_end)`).
_ROW_LINE = re.compile(_ROW.pattern.removeprefix("^"), _ROW.flags & ~re.MULTILINE)
_UNIFORM_MIN_CHARS = 1 << 16  # below this the regex is as quick
_BLOCK_CHARS = 4 << 20  # rows are read this much text at a time (`_segment_rows`)


# str.split()'s whitespace among ASCII bytes: what separates cells.
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_PAD = 64  # zero bytes after a region, so that reading a few bytes past a cell is safe


def _windows(array: np.ndarray, width: int) -> np.ndarray:
    """Every run of `width` consecutive elements, as a read-only view (row i starts at i)."""
    return np.lib.stride_tricks.sliding_window_view(array, width)


@dataclass
class _Cells:
    """The cells of a block of uniform rows, as offsets into the region's bytes: cell
    (row, column) is `raw[starts[row, column]:ends[row, column]]`."""

    raw: np.ndarray  # uint8, the region then _PAD zero bytes
    starts: np.ndarray  # (rows, width)
    ends: np.ndarray

    def _chars(self, column: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's cell as `width` bytes (zeros after its end), with its length and a
        mask of the bytes that belong to it."""
        starts = self.starts[:, column]
        lengths = self.ends[:, column] - starts
        chars = _windows(self.raw, width)[starts]
        inside = np.arange(width) < lengths[:, None]
        chars[~inside] = 0
        return chars, lengths, inside

    def integers(self, column: int) -> np.ndarray | None:
        """A column of plain decimal integers (steps), or None if any cell is not one."""
        longest = int((self.ends[:, column] - self.starts[:, column]).max())
        if longest > 18:
            return None  # beyond int64: the line-by-line reader decides what it is
        chars, _, inside = self._chars(column, longest)
        digits = chars.astype(np.int64) - 48
        if np.any(inside & ((digits < 0) | (digits > 9))):
            return None
        value = np.zeros(len(chars), dtype=np.int64)
        for k in range(longest):
            value = np.where(inside[:, k], value * 10 + digits[:, k], value)
        return value

    def distinct(self, column: int) -> tuple[np.ndarray, list[str]]:
        """A column of cells as (each row's code, the distinct cells): each distinct cell
        is then read once."""
        longest = int((self.ends[:, column] - self.starts[:, column]).max())
        if longest > _PAD:  # a freak cell: slice it out rather than make a wide table
            text = self.raw.tobytes()
            cells = [
                text[s:e].decode("ascii")
                for s, e in zip(self.starts[:, column], self.ends[:, column], strict=True)
            ]
            found, uniques = pd.factorize(np.array(cells, dtype=object))
            return found, list(uniques)
        chars, _, _ = self._chars(column, -(-longest // 8) * 8)
        # Each cell as words of 8 bytes; equal cells get one code (hashing, not sorting).
        words = chars.view(np.uint64)
        codes, _ = pd.factorize(words[:, 0])
        for k in range(1, words.shape[1]):
            more, distinct = pd.factorize(words[:, k])
            codes, _ = pd.factorize(codes.astype(np.int64) * len(distinct) + more)
        example = np.empty(int(codes.max()) + 1, dtype=np.int64)
        example[codes] = np.arange(len(codes))  # a row holding each distinct cell
        return codes, [chars[row].tobytes().rstrip(b"\0").decode("ascii") for row in example]


def uniform_cells(text: str, start: int, end: int, width: int) -> _Cells | None:
    """The row cells of `text[start:end]`, found with numpy when every row there has the
    first row's shape: the same prefix (timestamps' digits aside) and exactly `width`
    cells -- one logger, one header, as long runs are. None whenever it cannot vouch
    for giving exactly what `_ROW` line by line gives (then that runs).

    Why it is exact: `_ROW` decides a line's prefix by character classes only, so a line
    whose prefix matches the first row's character for character (a digit for a digit)
    and whose message starts `<digits><space or tab>` is split at the same place; every
    other line must not match `_ROW` at all, and is checked with it. Cells are then cut
    at str.split()'s whitespace.
    """
    region = text[start:end]
    if len(region) < _UNIFORM_MIN_CHARS or not region.isascii() or "\x00" in region:
        return None
    raw = np.frombuffer(region.encode("ascii"), dtype=np.uint8)
    controls = np.flatnonzero(raw < 32)  # line ends, tabs, carriage returns (the region is ASCII)
    control_kinds = raw[controls]
    newlines = controls[control_kinds == 10]
    line_starts = np.r_[0, newlines + 1]
    line_ends = np.r_[newlines, len(raw)]
    first = None
    for line in range(min(len(line_starts), 256)):
        if m := _ROW_LINE.match(region, line_starts[line], line_ends[line]):
            first = m
            break
    if first is None:
        return None
    prefix_len = first.start(1) - first.pos
    padded = np.zeros(len(raw) + max(prefix_len + 24, _PAD), dtype=np.uint8)
    padded[: len(raw)] = raw
    # Digits read as "0": a prefix is the first row's, but for the digits of its time.
    is_digit = padded - np.uint8(48) < 10
    shape = np.where(is_digit, np.uint8(48), padded)
    prefix = shape[first.pos : first.pos + prefix_len]
    # Candidate lines: long enough, the prefix, then `\d+[ \t]` within 24 characters.
    span = 24
    long_enough = line_ends - line_starts >= prefix_len + 2
    candidates = np.flatnonzero(long_enough)
    at = line_starts[candidates]
    same = (_windows(shape, prefix_len)[at] == prefix).all(axis=1)
    message_at = at + prefix_len
    after = _windows(is_digit, span)[message_at] & (
        np.arange(span) < (line_ends[candidates] - message_at)[:, None]
    )
    digits = np.argmin(after, axis=1)  # length of the digit run (span: too long to tell)
    stop = padded[message_at + digits]
    in_line = message_at + digits < line_ends[candidates]
    shaped = same & (digits > 0) & (stop == 32) | same & (digits > 0) & (stop == 9)
    shaped &= in_line
    row_lines = candidates[shaped]
    others = np.setdiff1d(np.arange(len(line_starts)), row_lines, assume_unique=True)
    if len(others) > len(line_starts) // 4:
        return None  # a mixed log: the regex is the better tool
    for line in others:
        if _ROW_LINE.match(region, line_starts[line], line_ends[line]):
            return None
    if not len(row_lines):
        return None
    # A row's message ends at its line's end or its first carriage return (`[^\r\n]*`).
    message_start = line_starts[row_lines] + prefix_len
    message_end = line_ends[row_lines]
    returns = controls[control_kinds == 13]
    if len(returns):
        nxt = np.searchsorted(returns, message_start)
        found = nxt < len(returns)
        cr = returns[np.minimum(nxt, len(returns) - 1)]
        message_end = np.where(found & (cr < message_end), cr, message_end)
    # Everything but the messages counts as whitespace: runs of (outside, inside).
    bounds = np.c_[message_start, message_end].ravel()
    runs = np.diff(np.r_[0, bounds, len(raw)])
    inside = np.repeat(np.tile(np.array([False, True]), len(row_lines) + 1)[: len(runs)], runs)
    # Cells: runs of message bytes that are not str.split() whitespace (among ASCII: space
    # and 9-13, 28-31; other control bytes belong to cells).
    cell = np.zeros(len(raw) + 2, dtype=bool)  # a separator on either side
    np.logical_and(inside, raw > 32, out=cell[1:-1])
    odd = controls[~_WHITESPACE[control_kinds]]
    cell[odd + 1] = inside[odd]
    edges = np.flatnonzero(cell[1:] != cell[:-1])  # where cells start, then end
    cell_starts, cell_ends = edges[0::2], edges[1::2]
    rows = len(row_lines)
    # Every cell lies in a message; each row must hold exactly `width` of them.
    firsts = np.searchsorted(cell_starts, message_start)
    if len(cell_starts) != rows * width or np.any(np.diff(firsts) != width):
        return None  # some row has more or fewer cells than the header
    return _Cells(
        raw=padded, starts=cell_starts.reshape(rows, width), ends=cell_ends.reshape(rows, width)
    )


def parse_bytes(
    data: bytes | bytearray, path: str, name: str | None = None, file: InputFile | None = None
) -> ParsedLog:
    """Parse one log's bytes (already decompressed), read as a file's are (`LogText`).
    Raises ReportError when unusable."""
    text = LogText(path)
    text.add(bytes(data))
    kept, notes = text.finish()
    parsed = _parse_kept(kept, path, name)
    parsed.notes[:0] = notes
    parsed.file = file
    return parsed


def _parse_kept(kept: bytearray, path: str, name: str | None) -> ParsedLog:
    """Parse a log's kept bytes, emptying them once they are text (held once, not twice)."""
    if not kept or kept.isspace():
        msg = f"{path}: empty file"
        raise ReportError(msg)
    text = decode(kept)
    del kept[:]
    return parse_text(text, path, name)


def parse_file(
    path: str, name: str | None = None, cancelled: threading.Event | None = None
) -> ParsedLog:
    """Read and parse one log file (plain or gzip), local or at a URL. Raises ReportError
    when unusable. The run's path and name are `printable` (whatever bytes the file name
    holds; a URL without what may hold credentials, `remote.shown`). Setting `cancelled`
    stops a URL's download."""
    shown = shown_path(path)
    try:
        if is_url(path):
            from report import remote

            kept, file, notes = remote.read(path, shown, cancelled)
        else:
            kept, file, notes = read_bytes(path, shown)
        parsed = _parse_kept(kept, shown, name or printable(_name_parts(path)[-1]))
    except MemoryError:
        msg = f"{shown}: too big to read in the memory free here"
        raise ReportError(msg) from None
    parsed.notes[:0] = notes
    parsed.file = file
    return parsed


def shown_path(path: str) -> str:
    """A local path or a URL as messages and the page show it (`printable`; a URL
    without user, password or query, `remote.shown`)."""
    if is_url(path):
        from report import remote

        path = remote.shown(path)
    return printable(path)


# `LABEL=PATH`: a word, then the path (a URL is never one: `remote.is_url`).
_LABELLED = re.compile(r"([A-Za-z0-9_][\w.-]*)=(.+)", re.DOTALL)


def split_label(item: str) -> tuple[str | None, str]:
    """An input as (label, path): `before=runs/v1` labels the runs of runs/v1 with
    sweep=before. An input is read so only when the part before its first `=` is a word
    (letters, digits, `_`, `.`, `-`: never a `/` or a `:`) and the input as a whole is
    neither an existing path (`lr=3e-5.log` stays a file) nor a URL; else (None, item)."""
    match = _LABELLED.fullmatch(item)
    if match is None or is_url(item) or os.path.lexists(item):
        return None, item
    return match.group(1), match.group(2)


@dataclass
class Inputs:
    """What the inputs name: the files (sorted, each once), the sweep label of each file
    ("" when inputs are not labelled), the labels in the order given, and warnings for
    inputs that match nothing."""

    paths: list[str]
    labels: dict[str, str]
    sweeps: list[str]
    warnings: list[str]


def gather_sweeps(inputs: Sequence[str]) -> Inputs:
    """`gather`, where inputs may be written `LABEL=PATH` (`split_label`): every input is
    labelled or none is, a label names one input, a file is in one sweep only, and each
    sweep matches some file. Raises UsageError (or ReportError: nothing matches at all)."""
    split = [split_label(item) for item in inputs]
    labels = [label for label, _ in split if label is not None]
    if not labels:
        paths, unmatched = gather(inputs)
        return Inputs(paths, dict.fromkeys(paths, ""), [], unmatched)
    plain = [shown_path(item) for (label, _), item in zip(split, inputs, strict=True)
             if label is None]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if plain or twice:
        msg = (f"label every input LABEL=PATH or none: {', '.join(plain)} has no label" if plain
               else f"label {twice[0]!r} is given to {labels.count(twice[0])} inputs; a label "
               f"names one sweep: give it one folder or glob")
        raise UsageError(msg, "LOGS")
    found: dict[str, str] = {}
    warnings: list[str] = []
    for label, path in split:
        assert label is not None
        try:
            paths, missed = gather([path])
        except ReportError as exc:
            msg = f"sweep {label!r}: {exc}"
            raise ReportError(msg) from None
        warnings.extend(f"{label}={w}" for w in missed)
        for each in paths:
            if found.setdefault(each, label) != label:
                msg = (f"{shown_path(each)} is in sweeps {found[each]} and {label}: a run "
                       f"belongs to one sweep")
                raise UsageError(msg, "LOGS")
    return Inputs(sorted(found), found, labels, warnings)


def gather(inputs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Files, directories (their `*.log` and `*.log.gz`), glob patterns and URLs of any of
    these -> (paths and URLs, warnings).

    The paths are sorted and de-duplicated so that the order inputs are given in never
    changes the report. An input that matches nothing costs a warning naming it, as an
    unusable file does; raises ReportError when no input matches anything.
    """
    found: dict[str, str] = {}  # real path -> path as the user will recognise it
    warnings = []
    for item in inputs:
        paths, problem = _matches(item)
        if problem:
            warnings.append(f"{shown_path(item)}: {problem}")
        for p in paths:
            if is_url(p):
                found[p] = p
                continue
            # One file reached by two spellings (a link, ./, an absolute path) keeps the
            # smallest, not the first seen, so input order never renames a run.
            real, shown = os.path.realpath(p), os.path.normpath(p)
            found[real] = min(found.get(real, shown), shown)
    if not found:
        msg = "; ".join(warnings) if warnings else "no input given"
        raise ReportError(msg)
    return sorted(found.values()), warnings


def _matches(item: str) -> tuple[list[str], str]:
    """The files one input names, or why it names none."""
    if is_url(item):
        from report import remote

        return remote.matches(item)
    if os.path.isdir(item):
        entries = (os.path.join(item, e) for e in os.listdir(item))
        paths = sorted(p for p in entries if p.endswith(LOG_SUFFIXES) and _readable_kind(p))
        return paths, "" if paths else "directory holds no *.log or *.log.gz files"
    if glob.has_magic(item) and not os.path.exists(item):
        paths = sorted(
            p
            for p in glob.glob(item)
            if os.path.isfile(p) or (p.endswith(LOG_SUFFIXES) and _readable_kind(p))
        )
        return paths, "" if paths else "pattern matches no files"
    if os.path.exists(item):
        return [item], ""
    return [], "no such file or directory"


def _readable_kind(path: str) -> bool:
    """Whether a path named like a log is taken: files, and what only looks like one (a
    folder or a dangling link named x.log), which costs a warning rather than silence.
    Never a FIFO or a device found in a folder: reading one could block forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True  # a dangling link, or gone meanwhile: reading it says which
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def run_names(paths: Iterable[str]) -> dict[str, str]:
    """Run name = file name; when two files share one, add parent folders until unique.
    Names are `printable`; two that only differ in bytes shown alike get a number."""
    paths = list(paths)
    parts = {p: _name_parts(p) for p in paths}
    names = {p: parts[p][-1] if parts[p] else "" for p in paths}
    depth = 1
    while len(set(names.values())) < len(names) and depth < 64:
        counts = Counter(names.values())
        depth += 1
        for p in paths:
            if counts[names[p]] > 1:
                names[p] = "/".join(parts[p][-depth:])
    seen: Counter[str] = Counter()
    for p in paths:
        names[p] = printable(names[p])
        seen[names[p]] += 1
        if seen[names[p]] > 1:
            names[p] = f"{names[p]} ({seen[names[p]]})"
    return names


def _name_parts(path: str) -> list[str]:
    """A path's folders and file name (a URL's host and path segments, unquoted)."""
    if is_url(path):
        from report import remote

        return remote.name_parts(path)
    return [*Path(path).parent.parts, os.path.basename(path)]


def _start_worker(parent: int) -> None:
    """A parse worker (`report.workers.start_worker`) that keeps the memory it frees for the
    next file (`keep_freed_memory`)."""
    start_worker(parent)
    keep_freed_memory()


def keep_freed_memory() -> None:
    """Let this process reuse the big blocks it frees instead of handing them back.

    glibc gives blocks of a few MB back to the system as soon as they are freed, and maps
    fresh ones for the next file: every page of them faults again when first touched,
    which costs a third of a log's parse. A short-lived process that handles one big
    array after another keeps them instead. Nothing happens where malloc is not glibc's.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's ceiling on 64-bit systems
    mallopt(m_trim_threshold, 512 << 20)
    mallopt(m_top_pad, 64 << 20)


def release_freed_memory() -> None:
    """Hand the memory this process has freed back to the system (glibc's malloc_trim),
    undoing `keep_freed_memory` for what was freed so far: before work that cannot reuse
    it (the pictures' engine keeps a heap of its own), so the two never add up."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        return


def _parse_one(args: tuple[str, str]) -> ParsedLog | ReportError:
    try:
        return parse_file(*args)
    except ReportError as exc:
        return exc


def parse_files(
    paths: Sequence[str],
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[ParsedLog], list[str]]:
    """Parse many files, in parallel across cores when it pays, URLs fetched several at a
    time; (runs, warnings).

    Unusable files become one warning each (naming the file and the reason).
    """
    names = run_names(paths)
    tasks = [(p, names[p]) for p in paths]
    urls = [task for task in tasks if is_url(task[0])]
    local = [task for task in tasks if not is_url(task[0])]
    done = {"urls": 0, "local": 0}

    def count(part: str) -> Callable[[int, int], None]:
        def step(finished: int, total: int) -> None:
            done[part] = finished
            if progress:
                progress(done["urls"] + done["local"], len(tasks))

        return step

    by_path = dict(zip((p for p, _ in urls), _fetch_all(urls, count("urls")), strict=True))
    by_path.update(zip((p for p, _ in local), _parse_local(local, jobs, count("local")),
                       strict=True))
    results = [by_path[p] for p, _ in tasks]
    runs = [r for r in results if isinstance(r, ParsedLog)]
    warnings = [str(r) for r in results if isinstance(r, ReportError)]
    for run in runs:
        warnings.extend(run.notes)
    return runs, warnings


def _parse_local(
    tasks: list[tuple[str, str]], jobs: int | None, progress: Callable[[int, int], None]
) -> list[ParsedLog | ReportError]:
    """`_parse_one` of each local file, in a fork pool when it pays."""
    total_bytes = sum(_size(p) for p, _ in tasks)
    # More workers than cores or files would only compete with each other.
    workers = min(jobs or cores(), cores(), len(tasks))
    if workers > 1 and len(tasks) >= 4 and total_bytes > 8 << 20:
        return _parse_in_pool(tasks, workers, progress)
    results = []
    for i, task in enumerate(tasks):
        results.append(_parse_one(task))
        progress(i + 1, len(tasks))
    return results


# Downloads at a time: fetching waits on the network, not on a core (parsing what came
# in holds the interpreter between downloads).
FETCHERS = 8


def _fetch_all(
    tasks: list[tuple[str, str]], progress: Callable[[int, int], None]
) -> list[ParsedLog | ReportError]:
    """`_parse_one` of each URL, `FETCHERS` at a time in threads, in order. Interrupted
    (Ctrl-C), downloads under way stop at their next chunk."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    if not tasks:
        return []
    cancelled = threading.Event()
    pool = ThreadPoolExecutor(max_workers=min(FETCHERS, len(tasks)), thread_name_prefix="fetch")
    try:
        futures = {pool.submit(_fetch_one, task, cancelled): i for i, task in enumerate(tasks)}
        results: list[ParsedLog | ReportError | None] = [None] * len(tasks)
        for finished, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            progress(finished, len(tasks))
    finally:
        cancelled.set()
        pool.shutdown(wait=False, cancel_futures=True)
    return [r for r in results if r is not None]


def _fetch_one(task: tuple[str, str], cancelled: threading.Event) -> ParsedLog | ReportError:
    try:
        return parse_file(*task, cancelled=cancelled)
    except ReportError as exc:
        return exc


def _parse_in_pool(
    tasks: list[tuple[str, str]], workers: int, progress: Callable[[int, int], None] | None
) -> list[ParsedLog | ReportError]:
    """`_parse_one` of each task in worker processes, in order. Interrupted (Ctrl-C) or
    failing, it stops at once: queued files are dropped, busy workers killed
    (`report.workers.process_pool`)."""
    from concurrent.futures.process import BrokenProcessPool

    results: list[ParsedLog | ReportError] = []
    try:
        # fork: workers start in milliseconds with numpy already imported.
        with process_pool(workers, "fork", _start_worker) as executor:
            with signals_held():  # the workers start here
                parsed = executor.map(_parse_one, tasks, chunksize=1)
            for result in parsed:
                results.append(result)
                if progress:
                    progress(len(results), len(tasks))
    except BrokenProcessPool:
        msg = (f"parsing stopped: a worker process died (killed for lack of memory?) while "
               f"reading {printable(tasks[len(results)][0])} or a file after it")
        raise ReportError(msg) from None
    return results


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _run_identity(log: ParsedLog) -> tuple[object, ...] | None:
    """What makes two logs one run: the same sweep label, preset arm, seed, v_hack and
    refresh period and the same preset line (lr, batch, model...: the settings in effect);
    argv may differ (a resumed job adds --resume and the like). A log without a seed is
    never taken for another."""
    if log.seed is None:
        return None
    return (log.sweep, log.preset_arm, log.seed, log.v_hack, log.refresh,
            tuple(sorted(log.fields.items())))


def _same_values(a: ParsedLog, b: ParsedLog) -> bool:
    return (
        np.array_equal(a.steps, b.steps)
        and a.metrics.keys() == b.metrics.keys()
        and all(np.array_equal(a.metrics[m], b.metrics[m], equal_nan=True) for m in a.metrics)
    )


def join_same_runs(logs: Sequence[ParsedLog]) -> tuple[list[ParsedLog], list[str]]:
    """One record per run, whatever the number of files it was logged in; (runs, warnings).

    Exact copies (the same steps and values) are read once. Otherwise the files are parts
    of one run -- a job continued in a second file, or re-run -- and are joined: parts in
    order of their first step (then last step, then name), and where two parts log the
    same step the later part's row wins (`_later_wins`). Either way a warning names
    the files, and the run counts (and is averaged) as one seed.
    """
    groups: dict[object, list[ParsedLog]] = {}
    for log in logs:
        groups.setdefault(_run_identity(log) or id(log), []).append(log)
    runs, warnings = [], []
    for group in groups.values():
        parts: list[ParsedLog] = []
        for log in sorted(group, key=lambda lg: lg.name):
            copy_of = next((p for p in parts if _same_values(p, log)), None)
            if copy_of is None:
                parts.append(log)
            else:
                warnings.append(f"{log.path}: a copy of {copy_of.path} (the same run, the same "
                                f"numbers); read once")
        if len(parts) == 1:
            runs.append(parts[0])
            continue
        parts.sort(key=lambda lg: (int(lg.steps[0]), int(lg.steps[-1]), lg.name))
        run, twice = _joined(parts)
        runs.append(run)
        warnings.append(
            f"{', '.join(p.path for p in parts)}: one run ({run.arm}, seed {run.seed}) in "
            f"{len(parts)} files; joined as one run"
            + (f" ({twice} steps logged twice: the later file's kept)" if twice else "")
        )
    return runs, warnings


def _joined(parts: list[ParsedLog]) -> tuple[ParsedLog, int]:
    """Parts of one run, in order, as one record; and how many steps several parts log."""
    present = list(dict.fromkeys(m for p in parts for m in p.metrics))
    present.sort(key=lambda m: METRICS.index(m) if m in METRICS else len(METRICS))
    steps, metrics, counts, twice = _later_wins(parts, present)
    run = dataclasses.replace(
        parts[0],
        name=" + ".join(p.name for p in parts),
        steps=steps,
        metrics=metrics,
        counts=counts,
        missing=tuple(m for m in METRICS if m not in present),
        notes=[note for p in parts for note in p.notes],
        kinds={m: next(p.kinds[m] for p in parts if m in p.kinds) for m in present},
    )
    return run, twice
