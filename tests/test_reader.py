"""reader: a log file's bytes -> its text. Encodings and line ends logs come in, junk
skipped or refused while it streams in, and memory bounded by the useful text (peaks
measured in a fresh process, with bounds a few times what is expected)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import log_text
from helpers import ROOT

from report import reader
from report.errors import ReportError
from report.parse import ParsedLog, parse_file

TEXT = log_text()  # three rows, a header with arrows (not ASCII)


def _same_run(run: ParsedLog, expected: ParsedLog) -> None:
    np.testing.assert_array_equal(run.steps, expected.steps)
    assert run.metrics.keys() == expected.metrics.keys()
    for metric, values in expected.metrics.items():
        np.testing.assert_array_equal(run.metrics[metric], values)
    assert (run.arm, run.seed, run.argv) == (expected.arm, expected.seed, expected.argv)


@pytest.fixture
def plain(write_log) -> ParsedLog:
    return parse_file(str(write_log("plain.log", TEXT)))


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),  # the platform's order, with its mark
        lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
        lambda text: b"\xff\xfe" + text.encode("utf-16-le"),
        lambda text: b"\xef\xbb\xbf" + text.encode(),  # UTF-8 with a byte-order mark
        lambda text: text.encode().replace(b"\n", b"\r"),  # old Mac line ends
        lambda text: text.encode().replace(b"\n", b"\r\n"),
    ],
    ids=["utf-16", "utf-16-be", "utf-16-le", "utf-8-bom", "cr-only", "crlf"],
)
def test_encodings_and_line_ends(write_log, plain: ParsedLog, encode) -> None:
    run = parse_file(str(write_log("other.log", encode(TEXT))))
    _same_run(run, plain)
    assert run.notes == []


def test_a_latin1_log_is_read_not_called_binary(write_log) -> None:
    text = log_text(
        argv="train.py --preset=t --intervention=none --seed=1 --note=réglé_à_0,5",
        header="step  loss  hack_s  gt_s  hack_t  gt_t  cos_pre_t  cos_pre_s  ref_eq  dt",
    ).replace("loading model", "modèle chargé, données prêtes, état sûr: ¿¡«»±°µ¶·")
    run = parse_file(str(write_log("latin1.log", text.encode("latin-1"))))
    assert run.argv.endswith("--note=réglé_à_0,5")
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.25, 0.5])


def test_a_nul_tail_loses_that_line_not_the_run(write_log, plain: ParsedLog) -> None:
    """A crash can leave the end of a file as zeros: a line of them is skipped."""
    run = parse_file(str(write_log("crashed.log", TEXT.encode() + bytes(200_000))))
    _same_run(run, plain)
    assert run.notes == [f"{run.path}: skipped 1 line(s) holding NUL bytes (a crash leaves them)"]


def test_a_nul_in_one_cell_loses_that_row(write_log, plain: ParsedLog) -> None:
    data = TEXT.encode().replace(b"  1/4  2/4  ", b"  1/4  2\x00/4  ")
    run = parse_file(str(write_log("nul_cell.log", data)))
    np.testing.assert_array_equal(run.steps, [0, 2])
    np.testing.assert_array_equal(run.metrics["hack"], plain.metrics["hack"][[0, 2]])
    assert len(run.notes) == 1 and "skipped 1 line(s) holding NUL" in run.notes[0]


def test_an_over_long_line_is_skipped(write_log, plain: ParsedLog) -> None:
    lines = TEXT.split("\n")
    lines.insert(3, "x" * (reader.MAX_LINE_BYTES + 10))  # a dump printed on one line
    run = parse_file(str(write_log("long_line.log", "\n".join(lines))))
    _same_run(run, plain)
    assert run.notes == [f"{run.path}: skipped 1 line(s) longer than 1 MB"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (TEXT.replace("\n", " ").encode() * 2000, "no line shorter than 1 MB: not a text log"),
        (bytes(300_000), "binary data, not a text log"),
        (bytes(range(256)) * 400, "binary data, not a text log"),
        (np.random.default_rng(1).bytes(200_000), "binary data, not a text log"),
    ],
    ids=["no-line-breaks", "zeros", "every-byte", "random"],
)
def test_junk_is_refused(write_log, data: bytes, reason: str) -> None:
    path = write_log("junk.log", data)
    with pytest.raises(ReportError) as err:
        parse_file(str(path))
    assert str(err.value) == f"{path}: {reason}"


def test_lines_of_junk_beyond_a_bound_refuse_the_file(write_log, monkeypatch) -> None:
    monkeypatch.setattr(reader, "MAX_JUNK_BYTES", 100_000)
    path = write_log("zeros_after.log", TEXT.encode() + bytes(300_000))
    with pytest.raises(ReportError, match="more than 0 MB of NUL bytes or of lines longer"):
        parse_file(str(path))


def _gzip_stream(path: Path, pieces, level: int = 9) -> None:
    """Write a gzip file from byte pieces, without holding what they add up to."""
    packer = zlib.compressobj(level, wbits=31)
    with open(path, "wb") as fh:
        for piece in pieces:
            fh.write(packer.compress(piece))
        fh.write(packer.flush())


def test_a_gzip_bomb_is_refused_as_it_inflates(tmp_path: Path) -> None:
    path = tmp_path / "bomb.log.gz"
    row = b"2026-11-20 14:02:15.422 | INFO | 7  0.7  0/28  6/28  0/28  3/28  +0.3  +0.1  T  1.2\n"
    _gzip_stream(path, [TEXT.encode()] + [row * 10_000] * 100)  # 85 MB of the same row
    with pytest.raises(ReportError) as err:
        parse_file(str(path))
    assert str(err.value) == f"{path}: inflates more than 200 fold, as no log does (a gzip bomb?)"


def test_a_log_too_big_for_the_memory_free(write_log, tmp_path: Path, monkeypatch) -> None:
    """Refused with a message naming it: a plain file before it is read, a gzip one as
    soon as its text outgrows what the memory free can parse."""
    monkeypatch.setattr(reader, "available_memory", lambda: 4 * 50_000)
    row = "0.68  2/4  2/4  0/4  1/4  +0.200  -0.020  T  1.0"
    big = TEXT + "".join(f"2026-11-20 14:03:00.000 | INFO | {step}  {row}\n"
                         for step in range(3, 2000))
    assert len(big) > 100_000
    plain = write_log("big.log", big)
    packed = tmp_path / "big.log.gz"
    packed.write_bytes(gzip.compress(big.encode()))
    for path in (plain, packed):
        with pytest.raises(ReportError) as err:
            parse_file(str(path))
        assert str(err.value) == (
            f"{path}: too big to read here: more than 0.0 GB of text (parsing needs about "
            "4 bytes of free memory per byte of it)"
        )
    monkeypatch.setattr(reader, "available_memory", lambda: None)  # unknown: up to 4 GB
    assert len(parse_file(str(packed)).steps) == 2000


# --- memory, measured in a fresh process ----------------------------------------------------

# The peak of this process's own memory: VmHWM starts afresh at exec, where getrusage's
# ru_maxrss would start from the peak of the (big) test process that started it.
_PEAK = """
import json, sys
from report.errors import ReportError
from report.parse import parse_file
def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
before = peak()
try:
    outcome = f"{len(parse_file(sys.argv[1]).steps)} steps"
except ReportError as err:
    outcome = str(err)
print(json.dumps({"outcome": outcome, "grew": peak() - before}))
"""
needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="peak memory read from /proc (Linux)"
)


def _peak_growth(path: Path) -> tuple[str, int]:
    """What reading `path` gave in a fresh process, and how much its peak memory grew."""
    result = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
    )
    answer = json.loads(result.stdout)
    return answer["outcome"], answer["grew"]


@needs_proc
def test_memory_of_junk_is_bounded(tmp_path: Path) -> None:
    """Zeros inflate 1000 fold and a file without line breaks is one line: neither is
    held (they cost 2x and 18x their size before)."""
    zeros = tmp_path / "zeros.log.gz"
    _gzip_stream(zeros, [bytes(1 << 20)] * 512)  # 512 MB of zeros in 0.5 MB
    outcome, grew = _peak_growth(zeros)
    assert outcome.endswith("inflates more than 200 fold, as no log does (a gzip bomb?)")
    assert grew < 64 << 20, grew
    one_line = tmp_path / "one_line.log"
    row = TEXT.replace("\n", " ").encode()
    with open(one_line, "wb") as fh:
        for _ in range(100):
            fh.write(row * ((2 << 20) // len(row)))  # 200 MB of rows, no line break
    outcome, grew = _peak_growth(one_line)
    assert outcome.endswith("more than 64 MB of NUL bytes or of lines longer than 1 MB: not a "
                            "text log")
    assert grew < 64 << 20, grew


@needs_proc
def test_memory_of_valid_rows_is_a_small_multiple_of_their_text(tmp_path: Path) -> None:
    """A long run: its text is held once (as a str: two bytes a character with the
    header's arrows), rows are read a block at a time. It cost 14 times its size before;
    about 3.5 now."""
    import simulate

    log = tmp_path / "long.log"
    log.write_bytes(simulate.simulate_run("routing", 1, 200_000).data)
    size = log.stat().st_size
    outcome, grew = _peak_growth(log)
    assert outcome == "200000 steps"
    assert grew < 7 * size, (grew, size)
