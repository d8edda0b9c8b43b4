"""parse: the reference's rules, checked on hand-written logs with hand-worked numbers."""

from __future__ import annotations

import gzip
import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE, SAMPLES, log_text, needs_samples

from report.errors import ReportError
from report.parse import (
    arm_label,
    cell_counts,
    cell_value,
    gather,
    message,
    parse_file,
    parse_files,
    parse_text,
    printable,
    run_names,
)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("7/28", 0.25),
        ("0/28", 0.0),
        ("28/28", 1.0),
        ("+0.264", 0.264),
        ("-0.031", -0.031),
        ("0.5", 0.5),
    ],
)
def test_cell_values(token: str, expected: float) -> None:
    assert cell_value(token) == expected


@pytest.mark.parametrize("token", ["T", "F", "-", "nan", "inf", "-inf", "3/0", "0/0", "x1", "1/y"])
def test_missing_cells(token: str) -> None:
    assert math.isnan(cell_value(token))


@pytest.mark.parametrize(
    ("token", "expected"),
    [("7/28", (7, 28)), ("0/28", (0, 28)), ("0/0", (0, 0)), ("3/0", (3, 0)),
     ("+0.264", None), ("0.5", None), ("-", None), ("nan", None), ("x/4", None), ("1/y", None)],
)
def test_cell_counts(token: str, expected: tuple[int, int] | None) -> None:
    """k/n cells keep their counts (even where n = 0 makes the rate missing)."""
    k, n = cell_counts(token)
    if expected is None:
        assert math.isnan(k) and math.isnan(n)
    else:
        assert (k, n) == expected


@pytest.mark.parametrize("reader", ["numpy", "regex"])
def test_fraction_cells_keep_their_counts(monkeypatch, reader: str) -> None:
    from report import parse

    rows = [
        "0  0.7  3/4  0/0  0/4  1/4  +0.300  +0.050  T  1.0",
        "1  0.7  nan  2/4  0/4  1/4  +0.300  -  T  1.0",
        "2  0.7  4/4  -  0/4  1/4  nan  +0.050  T  1.0",
        *[f"{i}  0.7  {i}/8  1/8  0/4  1/4  +0.300  +0.050  T  1.0" for i in (3, 4, 5)],
        "1  0.7  1/8  5/8  0/4  1/4  +0.300  +0.050  T  1.0",  # resumed: step 1 again
    ]
    text = log_text(rows=rows)
    monkeypatch.setattr(parse, "_UNIFORM_MIN_CHARS", 0)  # the numpy reader on a short log
    if reader == "numpy":  # it takes these rows (else the regex would, unseen)
        (header_end, names), = parse._header_positions(text)
        assert parse.uniform_cells(text, header_end, len(text), len(names)) is not None
    else:
        monkeypatch.setattr(parse, "uniform_cells", lambda *args: None)
    run = parse.parse_text(text, "x.log")
    assert run.steps.tolist() == [0, 1, 2, 3, 4, 5]
    hack_k, hack_n = run.counts["hack"]
    np.testing.assert_array_equal(hack_k, [3, 1, 4, 3, 4, 5])  # step 1: the later row wins
    np.testing.assert_array_equal(hack_n, [4, 8, 4, 8, 8, 8])
    solve_k, solve_n = run.counts["solve"]
    np.testing.assert_array_equal(solve_k, [0, 5, np.nan, 1, 1, 1])
    np.testing.assert_array_equal(solve_n, [0, 8, np.nan, 8, 8, 8])
    np.testing.assert_array_equal(run.metrics["solve"], [np.nan, 0.625, np.nan, 0.125, 0.125,
                                                         0.125])
    assert set(run.counts) == {"hack", "solve"}  # cosines are no fractions


@pytest.mark.parametrize(
    ("preset_arm", "refresh", "label"),
    [
        ("vanilla", 0, "vanilla"),
        ("vanilla", 10, "vanilla"),
        ("projected", 0, "static erasure"),
        ("projected", 20, "online erasure"),
        ("routing", 0, "routing"),
        ("confessions", 0, "confessions"),  # the reference filed this under static erasure
        ("confessions", 5, "confessions"),
    ],
)
def test_arm_labels(preset_arm: str, refresh: int, label: str) -> None:
    assert arm_label(preset_arm, refresh) == label


def test_arm_from_preset_and_refresh_from_argv() -> None:
    text = log_text(
        argv="train.py --intervention=erase --vhack-refresh-every=20 "
        "--v-hack-path=out/vhack_l14_k8.safetensors --seed=2",
        preset="preset=t arm=projected seed=2 batch=4",
    )
    run = parse_text(text, "x/online.log")
    assert (run.preset_arm, run.arm, run.seed, run.refresh) == (
        "projected",
        "online erasure",
        2,
        20,
    )
    assert run.v_hack == "vhack_l14_k8"
    assert run.name == "online.log"
    assert run.argv.startswith("argv: train.py --intervention=erase")


def test_old_logs_carry_preset_and_arm_in_argv() -> None:
    # Older runs: no separate preset line; the argv line has --preset= and --arm=.
    text = log_text(argv="train.py --preset=converge --arm=projected --seed=3", preset=None)
    run = parse_text(text, "old.log")
    assert (run.preset_arm, run.arm) == ("projected", "static erasure")
    assert run.seed == 3  # from --seed= when the preset line has no seed=


def test_last_match_within_a_line_wins() -> None:
    text = log_text(preset="preset=t arm=vanilla seed=1 arm=routing seed=7")
    run = parse_text(text, "r.log")
    assert (run.arm, run.seed) == ("routing", 7)


def test_header_decorations_and_column_order() -> None:
    # Columns are found by NAME: shuffled, decorated (↑ ↓ ?) and with extra columns.
    header = "step  refr  kl  cos_pre_s?  gt_s↓  hack_s↑  ref_eq  cos_pre_t  dt"
    rows = [
        "0  0  0.1  +0.010  3/4  0/4  T  +0.300  1.0",
        "1  0  0.1  -0.020  1/4  1/4  F  +0.200  1.0",
    ]
    run = parse_text(log_text(header=header, rows=rows), "d.log")
    np.testing.assert_array_equal(run.steps, [0, 1])
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.25])
    np.testing.assert_array_equal(run.metrics["solve"], [0.75, 0.25])
    np.testing.assert_array_equal(run.metrics["teacher"], [0.3, 0.2])
    np.testing.assert_array_equal(run.metrics["student"], [0.01, -0.02])


def test_rows_shorter_than_the_header_and_noise_are_skipped() -> None:
    rows = [
        "0  0.70  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
        "3 workers ready",  # an INFO line starting with a number, not a row
        "eval step=50 hack=0.000 solve=0.357",
        "1  0.69  1/4  2/4  0/4  1/4  +0.250  -0.010  F  1.0  extra  tokens",
        "2  0.68  2/4  2/4  0/4  1/4  +0.2",  # cut off mid-write
    ]
    text = (
        log_text(rows=rows) + "2026-11-20 14:03:00.624 | DEBUG | 9 not a row either x x x x x x x\n"
    )
    run = parse_text(text, "n.log")
    np.testing.assert_array_equal(run.steps, [0, 1])
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.25])


def test_routing_uses_ablated_columns() -> None:
    header = (
        "step  loss  hack_s↑  gt_s↑  hack_t  gt_t  cos_pre_t  cos_pre_s  ref_eq  "
        "hack_abl  solve_abl  dt"
    )
    rows = [
        "0  0.7  2/4  1/4  0/4  1/4  +0.300  +0.050  T  0/4  3/4  1.0",
        "1  0.7  3/4  1/4  0/4  1/4  +0.300  +0.050  T  -  -  1.0",
        "2  0.7  4/4  1/4  0/4  1/4  +0.300  +0.050  T  1/4  2/4  1.0",
    ]
    routing = parse_text(
        log_text(header=header, rows=rows, preset="preset=t arm=routing seed=1"), "r.log"
    )
    np.testing.assert_array_equal(routing.metrics["hack"], [0.0, np.nan, 0.25])
    np.testing.assert_array_equal(routing.metrics["solve"], [0.75, np.nan, 0.5])
    # Any other arm keeps the training-time hack_s / gt_s even when abl columns exist.
    vanilla = parse_text(log_text(header=header, rows=rows), "v.log")
    np.testing.assert_array_equal(vanilla.metrics["hack"], [0.5, 0.75, 1.0])


def test_routing_without_ablated_columns_falls_back_to_training_rates() -> None:
    run = parse_text(log_text(preset="preset=t arm=routing seed=1"), "r.log")
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.25, 0.5])


@pytest.mark.parametrize(
    "prefix",
    [
        "2026-11-20 14:02:11.411 | INFO | ",
        "2026-11-20 14:02:11.411 | INFO     | __main__:train:88 - ",
        "",
        "2026-11-20T14:02:11.411+00:00 | INFO | ",
    ],
)
def test_prefix_recognised_by_shape(prefix: str) -> None:
    run = parse_text(log_text(prefix=prefix), "p.log")
    np.testing.assert_array_equal(run.steps, [0, 1, 2])
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.25, 0.5])


def test_message_split() -> None:
    assert message("2026-11-20 14:02:11.411 | INFO     | m:f:1 - 3 a b") == ("INFO", "3 a b")
    assert message("2026-11-20 14:02:11.411 | DEBUG | checkpoint saved") == (
        "DEBUG",
        "checkpoint saved",
    )
    assert message("12 0.5 1/2") == (None, "12 0.5 1/2")


def test_missing_cosine_columns_are_reported() -> None:
    header = "step  loss  hack_s↑  gt_s↑  ref_eq  dt"
    rows = ["0  0.7  0/4  1/4  T  1.0", "1  0.7  1/4  1/4  T  1.0"]
    run = parse_text(log_text(header=header, rows=rows), "c.log")
    assert run.missing == ("teacher", "student")
    assert set(run.metrics) == {"hack", "solve"}
    assert any("no column for teacher, student" in note for note in run.notes)


def test_resumed_run_keeps_the_later_occurrence() -> None:
    rows = [
        "0  0.7  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
        "1  0.7  1/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
        "2  0.7  2/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
        "1  0.7  3/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",  # resumed from step 1
        "2  0.7  4/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
        "3  0.7  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
    ]
    run = parse_text(log_text(rows=rows), "resume.log")
    np.testing.assert_array_equal(run.steps, [0, 1, 2, 3])
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.75, 1.0, 0.0])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty file"),
        ("hello\nthis is a readme\n", "no argv line"),
        (log_text().split("step  loss")[0], "no metric header"),
        (log_text(rows=[]), "no metric rows"),
    ],
)
def test_unusable_logs_name_file_and_reason(write_log, text: str, reason: str) -> None:
    path = write_log("bad.log", text)
    with pytest.raises(ReportError) as err:
        parse_file(str(path))
    assert str(path) in str(err.value) and reason in str(err.value)


def test_binary_junk(write_log) -> None:
    path = write_log("junk.log", bytes(range(256)) * 40)
    with pytest.raises(ReportError, match="binary data"):
        parse_file(str(path))


def test_gzip_and_provenance(write_log, tmp_path: Path) -> None:
    text = log_text()
    plain = write_log("a.log", text)
    packed = tmp_path / "b.log.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    a, b = parse_file(str(plain)), parse_file(str(packed))
    np.testing.assert_array_equal(a.metrics["hack"], b.metrics["hack"])
    assert b.file is not None and b.file.size == packed.stat().st_size
    import hashlib

    assert b.file.sha256 == hashlib.sha256(packed.read_bytes()).hexdigest()


def test_gather_orders_and_dedupes(tmp_path: Path) -> None:
    for name in ("b.log", "a.log", "c.log.gz", "notes.txt"):
        (tmp_path / name).write_text("x")
    one, none = gather([str(tmp_path)])
    two, _ = gather([str(tmp_path / "c.log.gz"), str(tmp_path / "*.log"), str(tmp_path)])
    assert [Path(p).name for p in one] == ["a.log", "b.log", "c.log.gz"]
    assert one == two and none == []
    with pytest.raises(ReportError, match="no such file"):
        gather([str(tmp_path / "missing.log")])
    with pytest.raises(ReportError, match="matches no files"):
        gather([str(tmp_path / "*.nothing")])


def test_inputs_that_match_nothing_beside_ones_that_do(tmp_path: Path) -> None:
    """A glob, a file or a folder that names no log is a warning naming it when other
    inputs do name logs; an error only when nothing at all is left."""
    (tmp_path / "a.log").write_text("x")
    (tmp_path / "empty").mkdir()
    inputs = [str(tmp_path / "*.nothing"), str(tmp_path / "a.log"), str(tmp_path / "gone.log"),
              str(tmp_path / "empty")]
    paths, warnings = gather(inputs)
    assert paths == [str(tmp_path / "a.log")]
    assert warnings == [
        f"{tmp_path / '*.nothing'}: pattern matches no files",
        f"{tmp_path / 'gone.log'}: no such file or directory",
        f"{tmp_path / 'empty'}: directory holds no *.log or *.log.gz files",
    ]
    with pytest.raises(ReportError) as err:
        gather([str(tmp_path / "*.nothing"), str(tmp_path / "gone.log")])
    assert str(err.value) == "; ".join(warnings[:2])


def test_run_names_unique() -> None:
    names = run_names(["a/x/s1.log", "b/x/s1.log", "c/s2.log"])
    assert names == {"a/x/s1.log": "a/x/s1.log", "b/x/s1.log": "b/x/s1.log", "c/s2.log": "s2.log"}


def test_parse_files_collects_warnings(write_log) -> None:
    good = write_log("good.log", log_text())
    bad = write_log("bad.log", "not a log\n")
    runs, warnings = parse_files([str(bad), str(good)])
    assert [r.name for r in runs] == ["good.log"]
    assert len(warnings) == 1 and str(bad) in warnings[0]


def _reference():
    spec = importlib.util.spec_from_file_location("plot_dynamics", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_samples
@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*/*.log")), ids=lambda p: p.name)
def test_samples_match_the_reference_parser(path: Path) -> None:
    """Every shared sample reads to the reference parser's arrays and arm."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("loguru")
    ref = _reference()
    expected = ref.parse_log(path)
    run = parse_file(str(path))
    np.testing.assert_array_equal(run.steps, expected["steps"])
    for metric, column in [
        ("hack", "hack_s"),
        ("solve", "gt_s"),
        ("teacher", "cos_pre_t"),
        ("student", "cos_pre_s"),
    ]:
        np.testing.assert_array_equal(run.metrics[metric], expected[column])
    assert run.arm == ref.classify(expected)
    assert str(run.seed) == expected["seed"]


def test_gzip_cut_short_or_with_trailing_junk(tmp_path: Path) -> None:
    text = log_text().encode()
    packed = gzip.compress(text)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(packed[: len(packed) - 6])  # the trailer (CRC, size) never arrived
    run = parse_file(str(cut))
    np.testing.assert_array_equal(run.steps, [0, 1, 2])
    assert any("cut short" in note for note in run.notes)
    junk = tmp_path / "junk.log.gz"
    junk.write_bytes(packed + b"\x00garbage after the stream")
    run = parse_file(str(junk))
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.25, 0.5])
    assert any("after the end of the gzip stream" in note for note in run.notes)
    two = tmp_path / "two.log.gz"
    two.write_bytes(gzip.compress(text[:200]) + gzip.compress(text[200:]))  # two members
    assert parse_file(str(two)).notes == []
    assert len(parse_file(str(two)).steps) == 3


def test_preset_line_needs_an_arm_word() -> None:
    # `--warm=1` contains "arm=" but names no arm: the real preset line comes later.
    text = log_text(
        argv="train.py --preset=t --warm=1 --seed=4", preset="preset=t arm=routing seed=4"
    )
    run = parse_text(text, "w.log")
    assert (run.arm, run.seed) == ("routing", 4)


def test_other_terminal_escapes_are_dropped() -> None:
    text = log_text().replace(" | INFO | ", " | \x1b(B\x1b]0;title\x07INFO\x1b[?25l | ")
    from report.parse import decode

    clean = parse_text(decode(text.encode()), "e.log")
    np.testing.assert_array_equal(clean.metrics["hack"], [0.0, 0.25, 0.5])


@pytest.mark.parametrize(
    "mess",
    [{}, {"crlf": True}, {"loguru_default": True}, {"no_prefix": True}, {"ansi": True},
     {"header_repeat": True, "resume_at": 150}, {"nan_cells": True, "levels_noise": True},
     {"extra_columns": ["zz"]}, {"truncate_last": True, "bad_bytes": True}],
)
@pytest.mark.parametrize("arm", ["vanilla", "routing"])
def test_long_logs_read_by_numpy_and_by_regex_give_the_generator_numbers(
    monkeypatch, arm: str, mess: dict
) -> None:
    """Both readers -- numpy for uniform rows, `_ROW` line by line -- give exactly the
    numbers the generator wrote, on every kind of mess."""
    import simulate

    from report import parse

    sim = simulate.simulate_run(arm, 3, 400, **mess)
    monkeypatch.setattr(parse, "_UNIFORM_MIN_CHARS", 0)  # every region, not only long ones
    readers = {"numpy": parse.parse_bytes(sim.data, "x.log")}
    monkeypatch.setattr(parse, "uniform_cells", lambda *args: None)
    readers["regex"] = parse.parse_bytes(sim.data, "x.log")
    for reader, run in readers.items():
        np.testing.assert_array_equal(run.steps, sim.steps, err_msg=reader)
        assert run.metrics.keys() == sim.truth.keys(), reader
        for metric, values in sim.truth.items():
            np.testing.assert_array_equal(run.metrics[metric], values, err_msg=reader)


def _row_step(line: str) -> int | None:
    """The step a simulated row line holds (`time | INFO | step ...`); None for others."""
    words = line.split(" | ", 2)[-1].split()
    return int(words[0]) if words and words[0].isdecimal() else None


HEADER_LINE = 4  # a simulated log's header is its fifth line


@pytest.mark.parametrize(
    ("edit", "drops"),
    [
        (lambda i, line: line + "  extra" if i == 30 else line, lambda i: False),  # wider
        (lambda i, line: line.rsplit("  ", 2)[0] if i == 40 else line,
         lambda i: i == 40),  # one row narrower than the header: not a row
        (lambda i, line: line[:45] + "\r" + line[45:] if i % 7 == 0 else line,
         lambda i: i % 7 == 0),  # a stray CR ends the row's message, cells short
        (lambda i, line: line.split(" | ", 2)[-1] if i == 50 else line, lambda i: False),
        (lambda i, line: line.replace("| INFO |", "| INFO    |") if i % 3 else line,
         lambda i: False),
        (lambda i, line: line + "\n2026-11-20 14:02:15.761 | WARNING | 5  1 2 3" if i == 60
         else line, lambda i: False),  # a WARNING line is never a row
        (lambda i, line: line.replace("  ", "\t", 1) if i % 5 == 0 else line, lambda i: False),
        (lambda i, line: line + " é" if i == 70 else line, lambda i: False),  # not ASCII
    ],
)
def test_uneven_rows_give_the_generator_numbers_for_the_rows_kept(monkeypatch, edit, drops):
    import simulate

    from report import parse

    sim = simulate.simulate_run("vanilla", 1, 300)
    lines = sim.data.decode().split("\n")
    data = "\n".join(edit(i, line) for i, line in enumerate(lines)).encode()
    dropped = {
        _row_step(line) for i, line in enumerate(lines)
        if i > HEADER_LINE and drops(i) and _row_step(line) is not None
    }
    assert lines[HEADER_LINE].split(" | ")[-1].startswith("step ")
    kept = ~np.isin(sim.steps, sorted(dropped))
    monkeypatch.setattr(parse, "_UNIFORM_MIN_CHARS", 0)
    run = parse.parse_bytes(data, "x.log")
    np.testing.assert_array_equal(run.steps, sim.steps[kept])
    for metric, values in sim.truth.items():
        np.testing.assert_array_equal(run.metrics[metric], values[kept])


def test_long_uniform_log_cells_read_by_hand() -> None:
    """The numpy reader on a long log whose cells take every form a cell can take: its
    numbers are the ones worked out by hand here, and the line-by-line reader's."""
    from report import parse

    header = "step  loss  hack_s↑  gt_s↑  hack_t  gt_t  cos_pre_t  cos_pre_s  ref_eq  dt"
    # (hack_s, gt_s, cos_pre_t, cos_pre_s) cells and the numbers they stand for.
    forms = [
        (("7/28", "0/0", "+0.264", "-0.031"), (0.25, math.nan, 0.264, -0.031)),
        (("28/28", "3/12", "1e-05", "nan"), (1.0, 0.25, 1e-05, math.nan)),
        (("-", "1/3", "+0.12345678901234", "inf"), (math.nan, 1 / 3, 0.12345678901234, math.nan)),
        (("x" * 70, "2/8", "-0", "T"), (math.nan, 0.25, -0.0, math.nan)),
        (("0/28", "5/20", "0.5\x01", "+0.25"), (0.0, 0.25, math.nan, 0.25)),
    ]
    lines = [
        "2026-11-20 14:02:11.411 | INFO | argv: train.py --preset=t --seed=3",
        "2026-11-20 14:02:11.412 | INFO | preset=t arm=vanilla seed=3",
        f"2026-11-20 14:02:11.413 | INFO | {header}",
    ]
    expected = []
    for step in range(3000):
        cells, numbers = forms[step % len(forms)]
        sep = "\x0b " if step % 7 == 0 else "  "  # a vertical tab separates cells too
        row = "  ".join([str(step), "0.69", cells[0] + sep + cells[1], "0/28", "3/28",
                         cells[2], cells[3], "T", "1.25"])
        lines.append(f"2026-11-20 14:{step // 60 % 60:02d}:{step % 60:02d}.000 | INFO | {row}")
        expected.append(numbers)
    text = "\n".join(lines) + "\n"
    assert parse.uniform_cells(text, text.index("dt\n") + 2, len(text), 10) is not None
    run = parse_text(text, "forms.log")
    np.testing.assert_array_equal(run.steps, np.arange(3000))
    for column, metric in enumerate(("hack", "solve", "teacher", "student")):
        np.testing.assert_array_equal(run.metrics[metric], [row[column] for row in expected])
    assert math.copysign(1, run.metrics["teacher"][3]) == -1  # "-0" is minus zero


def test_long_uniform_log_with_one_uneven_row() -> None:
    """Rows the numpy reader must hand back to the regex: one a cell wider (read, its
    cells shifted), one a cell short (not a row); every other row is the generator's."""
    import simulate

    from report import parse

    sim = simulate.simulate_run("online", 2, 3000)
    lines = sim.data.decode().split("\n")
    wider = next(i for i, line in enumerate(lines) if "| INFO | 100  " in line)
    short = next(i for i, line in enumerate(lines) if i >= 2500 and _row_step(line) is not None)
    for edit, line_number, kept in (
        (lambda i, line: line.replace("| INFO | 100  ", "| INFO | 100  +1  "), wider, True),
        (lambda i, line: line.rsplit("  ", 1)[0] if i == short else line, short, False),
    ):
        data = "\n".join(edit(i, line) for i, line in enumerate(lines)).encode()
        run = parse.parse_bytes(data, "x.log")
        step = _row_step(lines[line_number])
        others = sim.steps != step
        expected_steps = sim.steps if kept else sim.steps[others]
        np.testing.assert_array_equal(run.steps, expected_steps)
        for metric, values in sim.truth.items():
            np.testing.assert_array_equal(run.metrics[metric][run.steps != step], values[others])


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("demo_vanilla_s1.log", "demo_vanilla_s1.log"),
        (os.fsdecode(b"caf\xe9.log"), "caf\\xe9.log"),  # bytes that are not UTF-8
        ("café.log", "café.log"),  # UTF-8 is shown as it is
        ("\x1b[2J\x1b[Hwrote.log", "\\x1b[2J\\x1b[Hwrote.log"),  # ESC: clear the screen
        ("a\nreport: wrote x.log", "a\\x0areport: wrote x.log"),  # a fake line of its own
        ("a\x9b31mb.log", "a\\x9b31mb.log"),  # a C1 control (CSI in one character)
        ("evil\u202egol.log", "evil\\u202egol.log"),  # right-to-left override
        ("x\u2066y\u2069\u200f.log", "x\\u2066y\\u2069\\u200f.log"),  # isolates, marks
        ("tab\there.log", "tab\there.log"),  # a tab moves nothing
    ],
)
def test_printable_names(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert printable(shown) == shown  # escaping twice changes nothing more


def test_run_names_of_any_bytes(tmp_path: Path) -> None:
    """A file name in any bytes is a readable, unique run name, in the run and its notes."""
    folder = os.fsencode(tmp_path)
    good = log_text().encode()
    paths = [folder + b"/caf\xe9.log", folder + b"/x\x1b]0;pwned\x07.log"]
    for path in paths:
        with open(path, "wb") as fh:
            fh.write(good)
    runs, warnings = parse_files([os.fsdecode(p) for p in paths])
    assert sorted(run.name for run in runs) == ["caf\\xe9.log", "x\\x1b]0;pwned\\x07.log"]
    assert all(run.path.isprintable() and run.file.path.isprintable() for run in runs)
    assert warnings == []
    # Two names that only differ in bytes shown alike still name two runs.
    twins = [os.fsdecode(folder + b"/caf\xe9.log"), str(tmp_path / "caf\\xe9.log")]
    assert sorted(run_names(twins).values()) == ["caf\\xe9.log", "caf\\xe9.log (2)"]


def test_unusable_file_with_any_bytes_in_its_name(tmp_path: Path) -> None:
    path = os.fsdecode(os.fsencode(tmp_path) + b"/\xff\x1b[2J.log")
    with open(path, "wb") as fh:
        fh.write(b"not a log\n")
    with pytest.raises(ReportError) as err:
        parse_file(path)
    assert str(err.value).startswith(f"{tmp_path}/\\xff\\x1b[2J.log: no argv line")


def test_impossible_rates_and_cosines_are_missing() -> None:
    """k/n with k < 0 or k > n, and cosines beyond 1: missing, one note per column."""
    rows = [
        "0  0.70  40/28  1/4  0/4  1/4  +0.300  +1e308  T  1.0",
        "1  0.69  -5/28  2/4  0/4  1/4  -1.000  -0.010  F  1.0",
        "2  0.68  2/4  5/4  0/4  1/4  +1.0000001  -1.5  T  1.0",
        "3  0.68  29/28  1/1  0/4  1/4  1  -1e-300  T  1.0",
    ]
    run = parse_text(log_text(rows=rows), "wrong.log")
    nan = math.nan
    np.testing.assert_array_equal(run.metrics["hack"], [nan, nan, 0.5, nan])
    np.testing.assert_array_equal(run.metrics["solve"], [0.25, 0.5, nan, 1.0])
    np.testing.assert_array_equal(run.metrics["teacher"], [0.3, -1.0, 1.0000001, 1.0])
    np.testing.assert_array_equal(run.metrics["student"], [nan, -0.01, nan, -1e-300])
    # A corrupt cell's counts go with its rate: 40/28 is not 40 of 28.
    np.testing.assert_array_equal(run.counts["hack"][0], [nan, nan, 2, nan])
    np.testing.assert_array_equal(run.counts["solve"][1], [4, 4, nan, 1])
    assert run.notes == [
        "wrong.log: 3 values of hack_s outside [0, 1] (1.429, -0.1786, ...) read as missing",
        "wrong.log: 1 value of gt_s outside [0, 1] (1.25) read as missing",
        "wrong.log: 2 values of cos_pre_s outside [-1, 1] (1e+308, -1.5) read as missing",
    ]


def _rows(steps: range, hack: int) -> list[str]:
    """Rows whose hack_s is hack/4 at every step (the part of a run they come from)."""
    return [f"{s}  0.70  {hack}/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0" for s in steps]


def test_one_run_in_several_files_is_one_run() -> None:
    from report.parse import join_same_runs

    first = parse_text(log_text(rows=_rows(range(0, 5), 1)), "logs/a.log")
    resumed = parse_text(log_text(rows=_rows(range(3, 8), 2)), "logs/b.log")  # from step 3
    copy = parse_text(log_text(rows=_rows(range(0, 5), 1)), "backup/a.log", "backup/a.log")
    other_seed = parse_text(
        log_text(rows=_rows(range(0, 5), 3), preset="preset=t arm=vanilla seed=2"), "c.log"
    )
    no_seed = [
        parse_text(log_text(rows=_rows(range(0, 5), 3), preset="preset=t arm=vanilla",
                            argv="train.py --intervention=none"), name)
        for name in ("x.log", "y.log")
    ]
    runs, warnings = join_same_runs([first, copy, resumed, other_seed, *no_seed])
    assert sorted(r.name for r in runs) == ["a.log + b.log", "c.log", "x.log", "y.log"]
    joined = next(r for r in runs if r.name == "a.log + b.log")
    np.testing.assert_array_equal(joined.steps, np.arange(8))
    # Steps 3 and 4 are in both parts: the later part's (2/4) wins.
    np.testing.assert_array_equal(joined.metrics["hack"], [0.25] * 3 + [0.5] * 5)
    np.testing.assert_array_equal(joined.counts["hack"][0], [1] * 3 + [2] * 5)  # k, with them
    np.testing.assert_array_equal(joined.counts["hack"][1], [4] * 8)
    assert (joined.path, joined.seed, joined.arm) == ("logs/a.log", 1, "vanilla")
    assert warnings == [
        "backup/a.log: a copy of logs/a.log (the same run, the same numbers); read once",
        "logs/a.log, logs/b.log: one run (vanilla, seed 1) in 2 files; joined as one run "
        "(2 steps logged twice: the later file's kept)",
    ]


@pytest.mark.parametrize(
    ("preset", "argv"),
    [
        ("preset=t arm=projected seed=1", "train.py --v-hack-path=out/other.safetensors"),
        ("preset=t arm=projected seed=1", "train.py --vhack-refresh-every=5"),
        ("preset=t arm=routing seed=1", "train.py"),
    ],
    ids=["v_hack", "refresh", "arm"],
)
def test_runs_that_differ_in_configuration_stay_apart(preset: str, argv: str) -> None:
    from report.parse import join_same_runs

    one = parse_text(log_text(rows=_rows(range(5), 1), preset="preset=t arm=projected seed=1",
                              argv="train.py"), "one.log")
    two = parse_text(log_text(rows=_rows(range(5, 9), 1), preset=preset, argv=argv), "two.log")
    runs, warnings = join_same_runs([one, two])
    assert [r.name for r in runs] == ["one.log", "two.log"] and warnings == []


def test_a_continued_run_counts_as_one_seed(tmp_path: Path) -> None:
    """Through load_sweep: an adjacent continuation and a copy of a seed; the arm has two
    seeds, each file is listed as read, and the seed mean averages two seeds."""
    import report
    from report.summary import seed_means, summarize

    texts = {
        "s1.log": log_text(rows=_rows(range(0, 3), 0)),
        "s1_resumed.log": log_text(rows=_rows(range(3, 6), 4)),
        "s2.log": log_text(rows=_rows(range(0, 6), 2), preset="preset=t arm=vanilla seed=2"),
        "s2_copy.log": log_text(rows=_rows(range(0, 6), 2), preset="preset=t arm=vanilla seed=2"),
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    sweep = report.load_sweep([str(tmp_path)])
    assert list(sweep.runs["run"]) == ["s1.log + s1_resumed.log", "s2.log"]
    assert list(sweep.runs["steps"]) == [6, 6]
    assert [Path(f.path).name for f in sweep.files] == sorted(texts)
    assert len(sweep.warnings) == 2
    numbers = summarize(sweep.runs, sweep.series)
    assert numbers.per_arm.set_index("arm").loc["vanilla", "seeds"] == 2
    means = seed_means(sweep.runs, sweep.series)
    hack = means[means["metric"] == "hack"]
    assert list(hack["seeds"]) == [2] * 6
    # Steps 0-2: seed 1 at 0/4, seed 2 at 2/4; steps 3-5: seed 1 at 4/4 (its second file).
    np.testing.assert_array_equal(hack["value"], [0.25] * 3 + [0.75] * 3)


@pytest.mark.parametrize("block", [1, 700, 5000])
@pytest.mark.parametrize(
    "mess", [{}, {"crlf": True, "levels_noise": True}, {"header_repeat": True, "resume_at": 150},
             {"truncate_last": True, "bad_bytes": True, "ansi": True}],
)
def test_rows_read_a_block_at_a_time_give_the_generator_numbers(monkeypatch, block, mess):
    """Blocks end where lines do: whatever their size, every row is read once, exactly."""
    import simulate

    from report import parse

    sim = simulate.simulate_run("routing", 5, 400, **mess)
    monkeypatch.setattr(parse, "_UNIFORM_MIN_CHARS", 0)
    monkeypatch.setattr(parse, "_BLOCK_CHARS", block)
    run = parse.parse_bytes(sim.data, "x.log")
    np.testing.assert_array_equal(run.steps, sim.steps)
    for metric, values in sim.truth.items():
        np.testing.assert_array_equal(run.metrics[metric], values, err_msg=metric)
