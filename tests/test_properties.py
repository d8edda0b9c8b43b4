"""Properties of the reader, drawn by hypothesis.

(a) Any bytes at all, as `x.log` or `x.log.gz`, either read as a consistent run or raise
    ReportError -- never anything else.
(b) The same for real logs damaged the ways copies, crashes and terminals damage them.
(c) A well-formed simulated log, in any combination of the benign kinds of mess, reads
    back to exactly the numbers the simulator wrote.

The runs are derandomized and keep no example database, so CI sees the same examples
every time. `REPORT_HYPOTHESIS_SCALE=50 pytest tests/test_properties.py` digs deeper.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from simulate import SimulatedRun, simulate_run

from report.errors import ReportError
from report.parse import METRIC_KINDS, METRICS, ParsedLog, parse_file
from report.tables import build_tables

SCALE = int(os.environ.get("REPORT_HYPOTHESIS_SCALE", "1"))
REPRODUCIBLE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def examples(n: int) -> settings:
    return settings(REPRODUCIBLE, max_examples=n * SCALE)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def read(folder: Path, name: str, data: bytes) -> ParsedLog | None:
    """Write data as `name` and read it: the run, or None when it raised ReportError
    (which must name the file). Anything else raised fails the test."""
    path = folder / name
    path.write_bytes(data)
    try:
        run = parse_file(str(path))
    except ReportError as err:
        assert str(err).startswith(f"{path}: "), err
        event("unusable: " + str(err).removeprefix(f"{path}: ").split(" (")[0][:40])
        return None
    assert_consistent(run)
    event("read a run")
    return run


def assert_consistent(run: ParsedLog) -> None:
    """What every later layer relies on, whatever the log held."""
    steps = run.steps
    assert steps.dtype == np.int64 and steps.ndim == 1 and len(steps) > 0
    assert np.all(np.diff(steps) > 0), "steps unique and ascending"
    # The four display metrics it has a column for, then any other column's.
    assert set(run.metrics) & set(METRICS) == set(METRICS) - set(run.missing)
    assert set(run.missing) <= set(METRICS) and len(run.metrics) > 0
    assert run.kinds.keys() == run.metrics.keys()
    assert set(run.kinds.values()) <= set(METRIC_KINDS)
    for values in run.metrics.values():
        assert values.dtype == np.float64 and values.shape == steps.shape
        assert not np.isinf(values).any()
    assert run.arm and run.preset_arm and run.argv.startswith("argv:")
    assert run.refresh >= 0 and (run.seed is None or 0 <= run.seed < 2**63)
    build_tables([run])  # the tables (int64 steps and seeds, EMA) take it too


# --- (a) any bytes ------------------------------------------------------------------------

# Lines of the real shape -- prefixes, whole messages, messages of loose tokens -- so that
# arbitrary input also reaches the header and the rows, not only "no argv line".
_PREFIXES = [
    "",
    "2026-11-20 14:02:11.411 | INFO | ",
    "2026-11-20 14:02:11.411 | INFO     | __main__:train:88 - ",
    "2026-11-20 14:02:11.411 | DEBUG | ",
    "\x1b[32m2026-11-20 14:02:11.411\x1b[0m | \x1b[1mINFO\x1b[0m | ",
    "2026-11-20T14:02:11.411+00:00 | INFO | ",
]
_MESSAGES = [
    "argv: scripts/train.py --preset=t --intervention=route --seed=3",
    "argv: train.py --arm=projected --vhack-refresh-every=5 --v-hack-path=out/v.safetensors",
    "preset=t arm=routing seed=3 lr=1e-05 batch=4",
    "preset=t arm=confessions seed=1",
    "step  loss  hack_s↑  gt_s↑  hack_t  gt_t  cos_pre_t  cos_pre_s  ref_eq  dt",
    "step  hack_s  gt_s  ref_eq  hack_abl  solve_abl",
    "step  hack_s  ref_eq",
    "0  0.7  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
    "1  1/4  2/4  T  -  -",
    "eval step=50 hack=0.000 solve=0.357",
    "3 workers ready",
]
_TOKENS = [
    "step",
    "hack_s",
    "gt_s",
    "ref_eq",
    "cos_pre_t",
    "cos_pre_s",
    "hack_abl",
    "solve_abl",
    "hack_s↑",
    "Δkl",
    "argv:",
    "arm=routing",
    "seed=",
    "--vhack-refresh-every=3",
    "7/28",
    "0/0",
    "3/0",
    "+0.264",
    "-0.000",
    "nan",
    "inf",
    "-inf",
    "-",
    "T",
    "F",
    "0",
    "12",
    "99999999999999999999",
    "²",
    "٣",
    "１２",
    "\x1b[1m",
    "\x1b[",
    "\ufffd",
    "\x00",
    "|",
    "\u2028",
    "\x85",
    "\x0b",
    "\r",
]
_token = st.sampled_from(_TOKENS) | st.integers(-3, 400).map(str) | st.text(max_size=4)
_message = st.sampled_from(_MESSAGES) | st.lists(_token, max_size=14).map("  ".join)
_line = st.builds(str.__add__, st.sampled_from(_PREFIXES), _message).map(str.encode)
_row = st.builds(
    lambda prefix, step, cells: f"{prefix}{step}  {'  '.join(cells)}".encode(),
    st.sampled_from(_PREFIXES),
    st.integers(0, 400),
    st.lists(_token, min_size=2, max_size=12),
)


@st.composite
def loggy_bytes(draw: Callable) -> bytes:
    """Often an argv, preset and header line, then any mix of lines, rows and bytes."""
    keep = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    head = [m for m, wanted in zip(_MESSAGES[:3], keep, strict=True) if wanted]
    head.append(draw(st.sampled_from(_MESSAGES[4:7])))
    prefix = draw(st.sampled_from(_PREFIXES))
    lines = [(prefix + m).encode() for m in head]
    lines += draw(st.lists(_row | _line | st.binary(max_size=12), max_size=30))
    return draw(st.sampled_from([b"\n", b"\r\n"])).join(lines)


any_bytes = st.binary(max_size=4096) | loggy_bytes()


@examples(250)
@given(data=any_bytes)
def test_any_bytes_as_a_log(folder: Path, data: bytes) -> None:
    read(folder, "any.log", data)


def _corrupt(packed: bytes, at: int, junk: bytes) -> bytes:
    at %= max(1, len(packed))
    return packed[:at] + junk + packed[at + len(junk) :]


@examples(150)
@given(
    data=any_bytes,
    how=st.sampled_from(["raw", "gzip", "cut", "corrupt", "two members", "trailing"]),
    at=st.integers(0, 1 << 16),
    junk=st.binary(min_size=1, max_size=16),
)
def test_any_bytes_as_a_gz_log(folder: Path, data: bytes, how: str, at: int, junk: bytes) -> None:
    packed = gzip.compress(data, compresslevel=1, mtime=0)
    file = {
        "raw": data,  # not gzip at all
        "gzip": packed,
        "cut": packed[: at % (len(packed) + 1)],
        "corrupt": _corrupt(packed, at, junk),
        "two members": packed + gzip.compress(junk, mtime=0),
        "trailing": packed + junk,
    }[how]
    run = read(folder, "any.log.gz", file)
    if how in ("gzip", "two members") and run is not None:
        plain = read(folder, "plain.log", data + junk if how == "two members" else data)
        assert plain is not None
        np.testing.assert_array_equal(run.steps, plain.steps)


# --- (b) damaged real logs ----------------------------------------------------------------

_BASES = [
    simulate_run("routing", 1, 60, ansi=True, loguru_default=True, levels_noise=True).data,
    simulate_run("static", 2, 40, generation="older", crlf=True).data,
    simulate_run(
        "online", 3, 80, generation="newer", resume_at=60, header_repeat=True, nan_cells=True
    ).data,
    simulate_run("confessions", 4, 30, no_prefix=True, bad_bytes=True).data,
]
_HOSTILE = [
    b" step ",
    b" hack_s ",
    b" ref_eq ",
    b" arm=",
    b"seed=",
    b"argv:",
    b"preset=",
    b" 99999999999999999999 ",
    b"seed=99999999999999999999",
    b" \xc2\xb2 ",
    b" \xd9\xa3 ",
    b"--vhack-refresh-every=123456789012345678901 ",
    b"\x00",
    b"\t",
    b"| INFO |",
    b"| DEBUG |",
    b"\xe2\x80\xa8",
    b"-",
    b"/0",
    "Δ".encode(),
]

Lines = list[bytes]
_DAMAGES = "delete duplicate swap insert flip ansi crlf hostile split join".split()


def _mutation(draw: Callable, lines: Lines) -> None:
    """Apply one random damage to lines, in place."""
    kind = draw(st.sampled_from(_DAMAGES))
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    at = draw(st.integers(0, len(line)))
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(draw(st.integers(0, len(lines))), line)
    elif kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], line
    elif kind == "insert":
        lines[i] = line[:at] + draw(st.binary(min_size=1, max_size=8)) + line[at:]
    elif kind == "flip" and line:
        at = min(at, len(line) - 1)
        lines[i] = line[:at] + bytes([draw(st.integers(0, 255))]) + line[at + 1 :]
    elif kind == "ansi":
        code = draw(st.sampled_from([b"0", b"1", b"1;31", b"38;5;208", b"", b"?25l"]))
        lines[i] = line[:at] + b"\x1b[" + code + b"m" + line[at:]
    elif kind == "crlf":
        lines[i] = line[:-1] if line.endswith(b"\r") else line + b"\r"
    elif kind == "hostile":
        lines[i] = line[:at] + draw(st.sampled_from(_HOSTILE)) + line[at:]
    elif kind == "split":
        lines[i : i + 1] = [line[:at], line[at:]]
    elif kind == "join" and i + 1 < len(lines):
        lines[i : i + 2] = [line + lines[i + 1]]


@st.composite
def damaged_logs(draw: Callable) -> bytes:
    lines: Lines = draw(st.sampled_from(_BASES)).split(b"\n")
    for _ in range(draw(st.integers(1, 12))):
        if not lines:
            break
        _mutation(draw, lines)
    data = b"\n".join(lines)
    if draw(st.booleans()):
        data = data.replace(b"\r\n", b"\n") if b"\r\n" in data else data.replace(b"\n", b"\r\n")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@examples(250)
@given(data=damaged_logs(), gz=st.booleans())
def test_damaged_logs(folder: Path, data: bytes, gz: bool) -> None:
    if gz:
        read(folder, "damaged.log.gz", gzip.compress(data, compresslevel=1, mtime=0))
    else:
        read(folder, "damaged.log", data)


# --- (c) well-formed logs read back exactly -----------------------------------------------

KNOWN_ARMS = ("vanilla", "static", "online", "routing")
arm_words = st.sampled_from(KNOWN_ARMS) | st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
BENIGN = (
    "ansi",
    "loguru_default",
    "no_prefix",
    "crlf",
    "truncate_last",
    "bad_bytes",
    "header_repeat",
    "nan_cells",
    "levels_noise",
)


@st.composite
def simulated_runs(draw: Callable) -> tuple[SimulatedRun, bool]:
    arm = draw(arm_words)
    steps = draw(st.integers(1, 300))
    generation = draw(st.sampled_from(["older", "newer", "converge"]))
    flags = {flag: True for flag in draw(st.sets(st.sampled_from(BENIGN)))}
    run = simulate_run(
        arm,
        draw(st.integers(0, 2**31)),
        steps,
        refresh=draw(st.integers(1, 100)) if arm in ("online", "projected") else 0,
        generation=generation,
        batch=draw(st.integers(1, 64)),
        resume_at=draw(st.none() | st.integers(1, steps)),
        drop_columns=sorted(draw(st.sets(st.sampled_from(["cos_pre_t", "cos_pre_s"])))),
        extra_columns=draw(
            st.lists(st.sampled_from(["kl", "entropy", "grad_norm"]), unique=True, max_size=3)
        ),
        preset_in_argv=generation == "older" and draw(st.booleans()),
        **flags,
    )
    return run, draw(st.booleans())


@examples(200)
@given(drawn=simulated_runs())
def test_well_formed_logs_read_back_exactly(folder: Path, drawn: tuple[SimulatedRun, bool]) -> None:
    sim, gz = drawn
    data = gzip.compress(sim.data, compresslevel=1, mtime=0) if gz else sim.data
    run = read(folder, "sim.log.gz" if gz else "sim.log", data)
    if len(sim.steps) == 0:  # one step, cut mid-write: there is nothing to read
        assert run is None
        return
    assert run is not None, sim.options
    np.testing.assert_array_equal(run.steps, sim.steps)
    assert (run.arm, run.preset_arm, run.seed) == (sim.display_arm, sim.arm, sim.seed)
    assert (run.refresh, run.v_hack, run.argv) == (sim.refresh, sim.v_hack, sim.argv)
    assert run.missing == sim.missing
    # Every column, not only the four display metrics: T/F read as 1/0 beyond those.
    assert list(run.metrics) == [m for m in sim.truth if m not in sim.missing]
    for metric in run.metrics:
        np.testing.assert_array_equal(run.metrics[metric], sim.truth[metric], err_msg=metric)
