"""follow: a log read again and again as it grows. After every append, at any byte, what
the follower holds must be exactly what a whole read of the file's whole lines gives (the
one-shot parser, on the same bytes), having read only the bytes appended; a file
replaced, shrunk or rewritten is read again whole."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simulate import simulate_run

from report.errors import ReportError
from report.follow import FollowedLog
from report.parse import ParsedLog, parse_bytes, parse_file

SCALE = int(os.environ.get("REPORT_HYPOTHESIS_SCALE", "1"))
REPRODUCIBLE = settings(
    derandomize=True, database=None, deadline=None, max_examples=25 * SCALE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _same(run: ParsedLog, expected: ParsedLog) -> None:
    np.testing.assert_array_equal(run.steps, expected.steps)
    assert run.metrics.keys() == expected.metrics.keys()
    for metric, values in expected.metrics.items():
        np.testing.assert_array_equal(run.metrics[metric], values)
    assert (run.arm, run.seed, run.argv, run.v_hack, run.refresh, run.missing, run.notes) == (
        expected.arm, expected.seed, expected.argv, expected.v_hack, expected.refresh,
        expected.missing, expected.notes)


def _whole_lines(data: bytes) -> bytes:
    return data[: data.rfind(b"\n") + 1]


def _expected(data: bytes, path: Path) -> ParsedLog | None:
    """A one-shot read of the whole lines of `data` (None: not a usable run)."""
    try:
        return parse_bytes(_whole_lines(data), str(path), path.name)
    except ReportError:
        return None


MESS = st.fixed_dictionaries({
    "ansi": st.booleans(), "crlf": st.booleans(), "header_repeat": st.booleans(),
    "nan_cells": st.booleans(), "levels_noise": st.booleans(), "loguru_default": st.booleans(),
})


@REPRODUCIBLE
@given(arm=st.sampled_from(["vanilla", "online", "routing"]), mess=MESS,
       resume=st.booleans(), cuts=st.lists(st.floats(0, 1), min_size=1, max_size=6),
       data=st.data())
def test_appends_at_any_byte_read_as_a_whole_read_of_the_same_lines(
    tmp_path: Path, arm: str, mess: dict, resume: bool, cuts: list[float], data
) -> None:
    run = simulate_run(arm, 1, 400, resume_at=250 if resume else None, **mess)
    log = run.data
    # Cut anywhere, the first cuts often inside the opening lines (argv, preset, header).
    ends = sorted({int(c * len(log)) for c in cuts} | {len(log)})
    if data.draw(st.booleans()):
        ends = sorted(set(ends) | {data.draw(st.integers(1, 600))})
    path = tmp_path / f"{arm}-{len(ends)}.log"
    path.write_bytes(b"")
    followed = FollowedLog(str(path))
    last_good: ParsedLog | None = None
    written = 0
    for end in ends:
        with path.open("ab") as fh:
            fh.write(log[written:end])
        before = followed.position.offset if followed.position else 0
        read = followed.read(path.name)
        expected = _expected(log[:end], path)
        if expected is None:
            assert read.problem.startswith(f"{path}: ")
        else:
            last_good = expected
            assert read.problem == ""
            assert followed.position is not None
            lines = _whole_lines(log[:end])
            assert followed.position.offset == len(lines)
            assert read.new_bytes == len(lines) - (0 if read.whole else before)
            assert followed.parsed is not None and followed.parsed.file is not None
            assert followed.parsed.file.sha256 == hashlib.sha256(lines).hexdigest()
        if last_good is not None:
            assert followed.parsed is not None
            _same(followed.parsed, last_good)  # a bad read keeps the last good rows
        written = end
    _same(followed.parsed, parse_file(str(path), path.name))  # type: ignore[arg-type]
    np.testing.assert_array_equal(followed.parsed.steps, run.steps)  # type: ignore[union-attr]


def _grow(path: Path, data: bytes, pieces: int = 5) -> FollowedLog:
    """Write `data` to `path` in `pieces` appends, reading after each."""
    path.write_bytes(b"")
    followed = FollowedLog(str(path))
    bounds = np.linspace(0, len(data), pieces + 1).astype(int)
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        with path.open("ab") as fh:
            fh.write(data[start:end])
        followed.read(path.name)
    return followed


@pytest.mark.parametrize(
    "encode",
    [
        lambda data: b"\xff\xfe" + data.decode().encode("utf-16-le"),
        lambda data: data.replace(b"\n", b"\r"),  # old Mac line ends
        lambda data: b"\xef\xbb\xbf" + data,
    ],
    ids=["utf-16", "cr-only", "utf-8-bom"],
)
def test_growing_logs_in_other_encodings_and_line_ends(tmp_path: Path, encode) -> None:
    run = simulate_run("routing", 2, 300)
    data = encode(run.data)
    followed = _grow(tmp_path / "x.log", data, pieces=7)
    expected = parse_file(str(tmp_path / "x.log"), "x.log")
    assert followed.problem == "" and followed.parsed is not None
    _same(followed.parsed, expected)
    np.testing.assert_array_equal(followed.parsed.steps, run.steps)


def test_a_line_being_written_is_read_once_it_ends(tmp_path: Path) -> None:
    run = simulate_run("vanilla", 1, 300)
    rows = run.data.split(b"\n")
    path = tmp_path / "x.log"
    head = b"\n".join(rows[:150]) + b"\n"
    path.write_bytes(head)
    followed = FollowedLog(str(path))
    first = followed.read(path.name)
    steps = first.steps
    half = rows[150][: len(rows[150]) // 2]
    with path.open("ab") as fh:
        fh.write(half)  # a row cut in the middle of a cell
    cut = followed.read(path.name)
    assert (cut.steps, cut.new_bytes, cut.problem) == (steps, 0, "")
    with path.open("ab") as fh:
        fh.write(rows[150][len(half):] + b"\n")
    ended = followed.read(path.name)
    assert ended.steps == steps + 1 and ended.new_bytes == len(rows[150]) + 1
    expected = parse_file(str(path), path.name)
    _same(followed.parsed, expected)  # type: ignore[arg-type]


def test_a_replaced_shrunk_or_rewritten_file_is_read_again_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    first, other = simulate_run("vanilla", 1, 300), simulate_run("routing", 3, 200)
    path.write_bytes(first.data)
    followed = FollowedLog(str(path))
    assert followed.read(path.name).whole
    # Replaced (a new inode: an editor's or a copy's rename).
    replacement = tmp_path / "new.log"
    replacement.write_bytes(other.data)
    os.replace(replacement, path)
    read = followed.read(path.name)
    assert read.whole and read.new_bytes == len(other.data)
    np.testing.assert_array_equal(followed.parsed.steps, other.steps)  # type: ignore[union-attr]
    assert followed.parsed.arm == "routing"  # type: ignore[union-attr]
    # Shrunk in place (a job restarted with `>`): the same inode, fewer bytes.
    with path.open("r+b") as fh:
        fh.truncate(len(_whole_lines(other.data[: len(other.data) // 2])))
    read = followed.read(path.name)
    assert read.whole and read.steps < len(other.steps)
    _same(followed.parsed, parse_file(str(path), path.name))  # type: ignore[arg-type]


def test_appended_lines_that_change_what_came_before_read_the_log_again(
    tmp_path: Path,
) -> None:
    """A routing log whose first header lacks the ablated columns and a later one has
    them: its hack and solve come from those columns, for every row (read whole)."""
    from conftest import log_text

    header = "step  loss  hack_s  gt_s  cos_pre_t  cos_pre_s  ref_eq  dt"
    abl_header = "step  loss  hack_s  gt_s  hack_abl  solve_abl  cos_pre_t  cos_pre_s  ref_eq  dt"
    preset = "preset=t arm=routing seed=1 lr=1e-05 batch=4 steps=4"
    start = log_text(preset=preset, header=header, rows=["0  0.7  1/4  1/4  +0.1  +0.1  T  1"])
    path = tmp_path / "routing.log"
    path.write_text(start)
    followed = FollowedLog(str(path))
    followed.read(path.name)
    assert followed.parsed.metrics["hack"][0] == 0.25  # type: ignore[union-attr]
    more = log_text(preset=preset, header=abl_header,
                    rows=["1  0.7  1/4  1/4  3/4  2/4  +0.1  +0.1  T  1"])
    with path.open("a") as fh:
        fh.write(more[more.index("loading"):])
    read = followed.read(path.name)
    assert read.whole
    _same(followed.parsed, parse_file(str(path), path.name))  # type: ignore[arg-type]


def test_a_log_that_becomes_unreadable_keeps_its_last_good_rows(tmp_path: Path) -> None:
    run = simulate_run("online", 1, 200)
    path = tmp_path / "x.log"
    path.write_bytes(run.data)
    followed = FollowedLog(str(path))
    followed.read(path.name)
    good = followed.parsed
    path.write_bytes(bytes(range(256)) * 64)  # the same inode, binary junk now
    read = followed.read(path.name)
    assert read.problem == f"{path}: binary data, not a text log"
    assert followed.parsed is good and read.steps == len(run.steps)
    path.unlink()
    assert followed.read(path.name).problem == f"{path}: no such file"
    path.write_bytes(run.data)
    read = followed.read(path.name)
    assert read.problem == "" and read.whole
    _same(followed.parsed, good)  # type: ignore[arg-type]


def test_gzip_logs_are_read_again_whole(tmp_path: Path) -> None:
    import gzip

    run = simulate_run("static", 1, 300)
    path = tmp_path / "x.log.gz"
    half = _whole_lines(run.data[: len(run.data) // 2])
    path.write_bytes(gzip.compress(half))
    followed = FollowedLog(str(path))
    followed.read(path.name)
    path.write_bytes(gzip.compress(run.data))
    read = followed.read(path.name)
    assert read.whole and read.new_bytes == path.stat().st_size
    _same(followed.parsed, parse_file(str(path), path.name))  # type: ignore[arg-type]


def test_a_url_is_read_on_where_it_was_left_if_it_starts_the_same(tmp_path: Path) -> None:
    """Over HTTP the file is fetched again (an object store replaces objects whole), and
    read on from where it was left only when its first bytes are those read before."""
    pytest.importorskip("fsspec")
    pytest.importorskip("aiohttp")
    from helpers import serve_folder

    run, other = simulate_run("vanilla", 1, 300), simulate_run("routing", 2, 300)
    path = tmp_path / "x.log"
    half = _whole_lines(run.data[: len(run.data) // 2])
    path.write_bytes(half)
    with serve_folder(tmp_path) as url:
        followed = FollowedLog(url + "x.log")
        assert followed.read("x.log").whole
        path.write_bytes(run.data)
        read = followed.read("x.log")
        assert not read.whole and read.new_bytes == len(run.data) - len(half)
        _same(followed.parsed, parse_file(str(path), "x.log"))  # type: ignore[arg-type]
        path.write_bytes(other.data[: len(run.data)] if len(other.data) > len(run.data)
                         else other.data)  # other bytes, maybe as many
        read = followed.read("x.log")
        assert read.whole
        _same(followed.parsed, parse_bytes(_whole_lines(path.read_bytes()), url + "x.log",
                                           "x.log"))  # type: ignore[arg-type]
