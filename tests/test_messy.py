"""Messy and hostile logs: a whole folder of them read by `load_sweep`, checked exactly.

One simulated run per kind of mess real logs have (colour codes, loguru's padded levels,
CRLF, a cut last line, junk bytes, restarts, resumes, gzip, nan cells, missing and extra
columns, a new arm, seeds of different length), next to files that are not usable runs
at all. The usable runs must read to the simulator's `truth`, each unusable file must
cost exactly one warning naming it and the reason, and nothing may depend on the order
the inputs are given in.
"""

from __future__ import annotations

import gzip
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import log_text
from simulate import SimulatedRun, simulate_run

import report
from report.errors import ReportError
from report.parse import METRICS, parse_file, parse_text

STEPS = 120
RESUME_AT = 130  # of 200 steps: killed at 130, resumed from the checkpoint at step 100
REPEATED = RESUME_AT - (RESUME_AT - 1) // 50 * 50  # steps 100..129 are logged twice

README = b"""# notes

Sweep of 2026-11-20: converge preset, 3 seeds per arm.
Ask before deleting anything under out/ -- the v_hack files are shared.
"""


@dataclass(frozen=True)
class Good:
    """A usable run: the simulated log, the file it is written to, how it is written."""

    file: str
    run: SimulatedRun
    gz: bool = False


def _lines_before(data: bytes, needle: bytes, *, keep_match: bool = False) -> bytes:
    """The log up to (and without, unless keep_match) its first line containing needle."""
    lines = data.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if needle in line)
    return b"".join(lines[: at + keep_match])


def _without_line(data: bytes, needle: bytes) -> bytes:
    """The log with every line containing needle removed."""
    return b"".join(line for line in data.splitlines(keepends=True) if needle not in line)


def _k_over_zero(data: bytes) -> bytes:
    """Turn the simulator's `0/0` cells into `3/0`: any k/0 is a missing rate too."""
    return re.sub(rb"(?<=  )0/0(?=  |\r?\n)", b"3/0", data)


def _good_runs() -> list[Good]:
    vanilla_nan = simulate_run("vanilla", 3, STEPS, nan_cells=True)
    vanilla_nan.data = _k_over_zero(vanilla_nan.data)
    assert b"3/0" in vanilla_nan.data  # the mutation found cells to change
    no_preset = simulate_run("online", 5, STEPS)
    no_preset.data = _without_line(no_preset.data, b"preset=demo arm=")
    return [
        Good("ansi.log", simulate_run("vanilla", 1, STEPS, ansi=True)),
        Good(
            "loguru.log", simulate_run("static", 1, STEPS, loguru_default=True, levels_noise=True)
        ),
        Good(
            "loguru_ansi.log",
            simulate_run("routing", 4, STEPS, ansi=True, loguru_default=True, levels_noise=True),
        ),
        Good("crlf.log", simulate_run("online", 1, STEPS, crlf=True)),
        Good("truncated.log", simulate_run("routing", 1, STEPS, truncate_last=True)),
        Good("bad_bytes.log", simulate_run("vanilla", 2, STEPS, bad_bytes=True)),
        Good("header_again.log", simulate_run("static", 2, STEPS, header_repeat=True)),
        Good("resumed.log", simulate_run("online", 2, 200, resume_at=RESUME_AT)),
        Good("packed.log.gz", simulate_run("routing", 2, STEPS), gz=True),
        Good("nan_cells.log", vanilla_nan),
        Good(
            "no_cosines.log",
            simulate_run("static", 3, STEPS, drop_columns=("cos_pre_t", "cos_pre_s")),
        ),
        Good(
            "extra_columns.log",
            simulate_run("online", 3, STEPS, extra_columns=("kl", "entropy", "grad_norm")),
        ),
        Good("no_prefix.log", simulate_run("routing", 3, STEPS, no_prefix=True)),
        Good("confessions_s1.log", simulate_run("confessions", 1, STEPS)),
        Good("confessions_s2.log", simulate_run("confessions", 2, STEPS // 2, crlf=True)),
        Good("short_seed.log", simulate_run("vanilla", 4, STEPS // 3)),
        Good(
            "old_preset_in_argv.log",
            simulate_run("static", 4, STEPS, generation="older", preset_in_argv=True),
        ),
        Good("no_preset.log", no_preset),
    ]


def _bad_files() -> dict[str, tuple[bytes | None, str]]:
    """File name -> (bytes, or None for a directory; the reason its warning gives)."""
    crashed = simulate_run("static", 9, 40, loguru_default=True)
    packed = bytearray(gzip.compress(simulate_run("vanilla", 9, 400).data, mtime=0))
    middle = len(packed) // 2
    packed[middle : middle + 64] = bytes(64)  # a zeroed block, as a bad copy leaves it
    return {
        "empty.log": (b"", "empty file"),
        "junk.log": (np.random.default_rng(0).bytes(6000), "binary data, not a text log"),
        "crashed.log": (
            _lines_before(crashed.data, b"hack_s"),
            "no metric header (a line naming hack_s and ref_eq); no step was logged",
        ),
        "died_at_header.log": (
            _lines_before(crashed.data, b"hack_s", keep_match=True),
            "a header but no metric rows (the run crashed before its first step)",
        ),
        "no_argv.log": (
            _without_line(crashed.data, b"argv:"),
            "no argv line (not a training log, or it crashed before starting)",
        ),
        "notes.log": (README, "no argv line (not a training log, or it crashed before starting)"),
        "corrupt.log.gz": (bytes(packed), "not a valid gzip file (Error -3 while decompressing"),
        "unreadable.log": (None, "is a directory"),
    }


GOOD = _good_runs()
BAD = _bad_files()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("messy")
    for good in GOOD:
        data = gzip.compress(good.run.data, mtime=0) if good.gz else good.run.data
        (folder / good.file).write_bytes(data)
    for name, (data, _) in BAD.items():
        if data is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(data)
    (folder / "README.md").write_bytes(README)  # not named like a log: never looked at
    return folder


@pytest.fixture(scope="module")
def sweep(corpus: Path) -> report.Sweep:
    return report.load_sweep([str(corpus)])


def test_exactly_the_usable_runs(sweep: report.Sweep) -> None:
    runs = sweep.runs.set_index("run")
    assert sorted(runs.index) == sorted(g.file for g in GOOD)
    for good in GOOD:
        row, sim = runs.loc[good.file], good.run
        assert row["arm"] == sim.display_arm, good.file
        assert row["preset_arm"] == sim.arm, good.file
        assert row["seed"] == sim.seed, good.file
        assert row["refresh"] == sim.refresh, good.file
        assert row["v_hack"] == sim.v_hack, good.file
        assert row["steps"] == len(sim.steps), good.file
        assert row["missing"] == ", ".join(sim.missing), good.file
        assert row["argv"] == sim.argv, good.file


def test_resumed_run_counts_unique_steps(sweep: report.Sweep) -> None:
    runs = sweep.runs.set_index("run")
    assert runs.loc["resumed.log", "steps"] == 200
    resumed = sweep.series[
        (sweep.series["run"] == "resumed.log") & (sweep.series["metric"] == "hack")
    ]
    np.testing.assert_array_equal(resumed["step"], np.arange(200))


def test_new_arm_keeps_its_own_name(sweep: report.Sweep) -> None:
    runs = sweep.runs
    confessions = runs[runs["arm"] == "confessions"]
    assert list(confessions["run"]) == ["confessions_s1.log", "confessions_s2.log"]
    assert list(confessions["steps"]) == [STEPS, STEPS // 2]
    # Known arms first in their fixed order, then the new one; never merged into another.
    assert list(dict.fromkeys(runs["arm"])) == [
        "vanilla",
        "static erasure",
        "online erasure",
        "routing",
        "confessions",
    ]


def test_seeds_of_different_length(sweep: report.Sweep) -> None:
    vanilla = sweep.runs[sweep.runs["arm"] == "vanilla"]
    assert list(vanilla["seed"]) == [1, 2, 3, 4]
    assert list(vanilla["steps"]) == [STEPS, STEPS, STEPS, STEPS // 3]


def test_every_series_is_the_simulators_truth(sweep: report.Sweep) -> None:
    series = sweep.series
    for good in GOOD:
        sim = good.run
        mine = series[series["run"] == good.file]
        # The four display metrics, then every other column the log has, in its order.
        expected = [m for m in sim.truth if m not in sim.missing]
        assert expected[: 4 - len(sim.missing)] == [m for m in METRICS if m not in sim.missing]
        assert list(dict.fromkeys(mine["metric"])) == expected, good.file
        for metric in expected:
            rows = mine[mine["metric"] == metric]
            np.testing.assert_array_equal(
                rows["step"].to_numpy(), sim.steps, err_msg=f"{good.file} {metric}"
            )
            np.testing.assert_array_equal(
                rows["value"].to_numpy(), sim.truth[metric], err_msg=f"{good.file} {metric}"
            )


def test_no_cosines_still_gives_rates(sweep: report.Sweep) -> None:
    mine = sweep.series[sweep.series["run"] == "no_cosines.log"]
    assert set(mine["metric"]) == {"hack", "solve", "loss", "hack_t", "gt_t", "ref_eq", "dt"}
    assert sweep.runs.set_index("run").loc["no_cosines.log", "missing"] == "teacher, student"


def _expected_warnings(folder: Path) -> tuple[list[str], dict[str, str]]:
    """The exact warnings: notes on usable runs; per bad file, its path and reason (a
    regex, because zlib words its errors itself)."""
    notes = [
        f"{folder / 'resumed.log'}: {REPEATED} repeated steps (resumed run); kept the later",
        f"{folder / 'no_cosines.log'}: no column for teacher, student",
        f"{folder / 'no_preset.log'}: no preset line; arm taken from --intervention=erase",
    ]
    errors = {}
    for name, (_, reason) in BAD.items():
        pattern = re.escape(f"{folder / name}: {reason}")
        errors[name] = pattern + (r" [^)]+\)" if name.endswith(".gz") else "")
    return notes, errors


def _check_warnings(warnings: list[str], folder: Path) -> None:
    notes, errors = _expected_warnings(folder)
    assert len(warnings) == len(notes) + len(errors), "\n".join(warnings)
    left = list(warnings)
    for note in notes:
        assert note in left, f"missing {note!r} in:\n" + "\n".join(warnings)
        left.remove(note)
    for name, pattern in errors.items():
        hits = [w for w in left if re.fullmatch(pattern, w)]
        assert len(hits) == 1, f"{name}: {hits} in:\n" + "\n".join(warnings)
        left.remove(hits[0])
    assert left == []


def test_exact_warnings(sweep: report.Sweep, corpus: Path) -> None:
    _check_warnings(sweep.warnings, corpus)


def test_files_are_the_usable_ones(sweep: report.Sweep, corpus: Path) -> None:
    assert [f.path for f in sweep.files] == sorted(str(corpus / g.file) for g in GOOD)


def _assert_same(a: report.Sweep, b: report.Sweep) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.series, b.series)
    assert a.files == b.files


def test_input_order_never_matters(sweep: report.Sweep, corpus: Path) -> None:
    files = sorted(str(p) for p in corpus.iterdir() if p.is_file() and p.name != "README.md")
    for seed in range(3):
        shuffled = list(files)
        random.Random(seed).shuffle(shuffled)
        again = report.load_sweep(shuffled)
        _assert_same(sweep, again)
        # The same warnings but the directory's: given by name, a folder is a folder.
        assert sorted(again.warnings) == sorted(
            w for w in sweep.warnings if not w.startswith(str(corpus / "unreadable.log"))
        )
    by_globs = report.load_sweep([str(corpus / "*.log.gz"), str(corpus / "*.log")])
    _assert_same(sweep, by_globs)
    assert by_globs.warnings == sweep.warnings
    overlapping = report.load_sweep([str(corpus / "ansi.log"), str(corpus), str(corpus / "c*")])
    _assert_same(sweep, overlapping)
    assert overlapping.warnings == sweep.warnings


def test_two_spellings_of_one_folder(corpus: Path, tmp_path: Path) -> None:
    """A folder reached through a link too: one run per file, named the same either way."""
    link = tmp_path / "link"
    link.symlink_to(corpus, target_is_directory=True)
    forward = report.load_sweep([str(corpus), str(link)])
    backward = report.load_sweep([str(link), str(corpus)])
    _assert_same(forward, backward)
    assert forward.warnings == backward.warnings
    assert len(forward.runs) == len(GOOD)


def test_nothing_usable_says_what_was_looked_at(tmp_path: Path) -> None:
    names = ["empty.log", "junk.log", "notes.log"]
    for name in names:
        data, _ = BAD[name]
        assert data is not None
        (tmp_path / name).write_bytes(data)
    with pytest.raises(ReportError) as err:
        report.load_sweep([str(tmp_path)])
    message = str(err.value)
    assert "no usable run in 3 file(s)" in message
    for name in names:
        assert str(tmp_path / name) in message


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root reads files whatever their mode (the directory case covers unreadable)",
)
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.log"
    path.write_bytes(simulate_run("vanilla", 1, 10).data)
    path.chmod(0)
    try:
        with pytest.raises(ReportError, match=re.escape(f"{path}: permission denied")):
            parse_file(str(path))
    finally:
        path.chmod(0o600)


def test_header_token_without_a_name_keeps_its_column() -> None:
    """`Δkl` has no leading [A-Za-z_] to keep; it is still a column, so the columns after
    it must not shift onto their neighbours' cells."""
    header = "step  loss  Δkl  2nd  hack_s↑  gt_s↑  hack_t  gt_t  cos_pre_t  cos_pre_s  ref_eq  dt"
    rows = [
        "0  0.70  9.9  8.8  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
        "1  0.69  9.9  8.8  1/4  2/4  0/4  1/4  +0.250  -0.010  F  1.0",
    ]
    run = parse_text(log_text(header=header, rows=rows), "delta.log")
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.25])
    np.testing.assert_array_equal(run.metrics["solve"], [0.25, 0.5])
    np.testing.assert_array_equal(run.metrics["teacher"], [0.3, 0.25])
    np.testing.assert_array_equal(run.metrics["student"], [0.05, -0.01])


@pytest.mark.parametrize(
    ("preset", "argv", "what"),
    [
        ("preset=t arm=vanilla seed=99999999999999999999", "train.py --seed=1", "seed"),
        (
            "preset=t arm=projected seed=1",
            "train.py --vhack-refresh-every=1" + "0" * 30,
            "--vhack-refresh-every",
        ),
        ("preset=t arm=vanilla seed=" + "7" * 5000, "train.py", "seed"),  # past int()'s limit
    ],
    ids=["seed", "refresh", "seed-past-int-limit"],
)
def test_absurd_metadata_numbers(write_log, preset: str, argv: str, what: str) -> None:
    """Numbers no int64 table holds: one warning for the file, not a crash later on."""
    path = write_log("huge.log", log_text(preset=preset, argv=argv))
    with pytest.raises(ReportError, match=re.escape(f"{path}: {what}= has")):
        parse_file(str(path))


def test_step_column_of_odd_digits(write_log) -> None:
    """`²` is a digit to str.isdigit but not to int(): such a row is skipped, not a crash."""
    header = "loss  step  hack_s  gt_s  cos_pre_t  cos_pre_s  ref_eq"
    rows = [
        "0  0  0/4  1/4  +0.1  +0.2  T",
        "1  ²  1/4  1/4  +0.1  +0.2  T",
        "2  ٣  2/4  1/4  +0.1  +0.2  T",
    ]
    run = parse_file(str(write_log("odd.log", log_text(header=header, rows=rows))))
    np.testing.assert_array_equal(run.steps, [0, 3])  # ٣ is an Arabic-Indic three
    np.testing.assert_array_equal(run.metrics["hack"], [0.0, 0.5])


def test_rows_without_any_metric_column(write_log) -> None:
    """A routing run whose only rows sit under a header without hack_abl/solve_abl (or
    cosines) holds nothing to show: unusable, not a run with no series."""
    text = log_text(
        preset="preset=t arm=routing seed=1",
        header="step  hack_s  gt_s  ref_eq  hack_abl  solve_abl",
        rows=[],
    ) + log_text(
        preset="preset=t arm=routing seed=1",
        header="step  hack_s  ref_eq",
        rows=["0  1/4  T", "1  2/4  F"],
    )
    path = write_log("routing_no_abl_rows.log", text)
    reason = "its rows have no column for any metric (hack_abl, solve_abl, cos_pre_t, cos_pre_s)"
    with pytest.raises(ReportError, match=re.escape(f"{path}: {reason}")):
        parse_file(str(path))
