"""The simulator writes logs shaped like the samples, and its `truth` is what they hold.

The checks read the written text back with a small reader of their own (not the
simulator's code) and, where available, with the reference script's `parse_log`.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import re

import numpy as np
import pytest
from conftest import REFERENCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simulate import main, simulate_run, simulate_sweep, write_sweep

ARMS = ("vanilla", "static", "online", "routing", "confessions")
METRICS = ("hack", "solve", "teacher", "student")

# --- a tiny independent reader ------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# time | LEVEL (maybe padded) | optional call site " - ", then the message; or no prefix.
_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| (\w+) *\| (?:\S+:\S+:\d+ - )?")


def _messages(data: bytes) -> list[tuple[str | None, str]]:
    """(level or None, message) per line, colour codes and CR removed."""
    out = []
    for raw in data.decode("utf-8", errors="replace").split("\n"):
        line = _ANSI.sub("", raw).rstrip("\r")
        m = _PREFIX.match(line)
        out.append((m.group(1), line[m.end():]) if m else (None, line))
    return out


def _cell(token: str) -> float:
    if "/" in token:
        k, n = token.split("/")
        return int(k) / int(n) if int(n) else math.nan
    if token in ("T", "F", "-"):
        return math.nan
    value = float(token)
    return value if math.isfinite(value) else math.nan


def _read(data: bytes, routing: bool) -> tuple[list[int], dict[str, list[float]]]:
    """Every complete row in file order: steps and the four display metrics."""
    steps: list[int] = []
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    names: list[str] = []
    for level, msg in _messages(data):
        if level not in (None, "INFO"):
            continue
        tokens = msg.split()
        if "ref_eq" in msg and "hack_s" in msg:
            names = [re.match(r"[A-Za-z_]+", t).group(0) for t in tokens]
            continue
        if not names or not tokens or not tokens[0].isdigit() or len(tokens) < len(names):
            continue
        use_abl = routing and "hack_abl" in names and "solve_abl" in names
        source = {"hack": "hack_abl" if use_abl else "hack_s",
                  "solve": "solve_abl" if use_abl else "gt_s",
                  "teacher": "cos_pre_t", "student": "cos_pre_s"}
        steps.append(int(tokens[0]))
        for metric, column in source.items():
            values[metric].append(
                _cell(tokens[names.index(column)]) if column in names else math.nan)
    return steps, values


def _last_wins(steps: list[int], values: dict[str, list[float]]):
    table: dict[int, dict[str, float]] = {}
    for i, step in enumerate(steps):
        table[step] = {m: values[m][i] for m in METRICS}
    order = sorted(table)
    return np.array(order), {m: np.array([table[s][m] for s in order]) for m in METRICS}


def _assert_truth_matches(run) -> None:
    steps, values = _last_wins(*_read(run.data, routing=run.arm == "routing"))
    np.testing.assert_array_equal(run.steps, steps)
    for metric in METRICS:
        np.testing.assert_array_equal(run.truth[metric], values[metric], err_msg=metric)


# --- determinism and shape ----------------------------------------------------------------


def test_same_arguments_give_identical_bytes_and_seeds_differ():
    a = simulate_run("online", 4, 150, levels_noise=True, resume_at=90)
    b = simulate_run("online", 4, 150, levels_noise=True, resume_at=90)
    assert a.data == b.data and a.text == b.text
    for metric in METRICS:
        np.testing.assert_array_equal(a.truth[metric], b.truth[metric])
    assert simulate_run("online", 5, 150).data != simulate_run("online", 4, 150).data


def test_messy_variants_keep_the_numbers_of_the_plain_run():
    plain = simulate_run("static", 2, 120)
    for options in ({"ansi": True}, {"no_prefix": True}, {"extra_columns": ("kl",)},
                    {"levels_noise": True}, {"crlf": True, "loguru_default": True}):
        messy = simulate_run("static", 2, 120, **options)
        assert messy.data != plain.data, options
        for metric in METRICS:
            np.testing.assert_array_equal(messy.truth[metric], plain.truth[metric])


@pytest.mark.parametrize("generation", ["older", "newer", "converge"])
@pytest.mark.parametrize("arm", ARMS)
def test_metadata_lines_match_the_samples(arm, generation):
    run = simulate_run(arm, 2, 60, generation=generation)
    lines = run.text.splitlines()
    stamp = r"2026-11-20 14:0\d:\d\d\.\d{3} \| INFO \| "
    flag = r"--arm=\w+" if generation == "older" else r"--intervention=\w+"
    assert re.fullmatch(
        stamp + r"argv: scripts/train\.py --preset=demo " + flag
        + r"( --vhack-refresh-every=\d+)?( --v-hack-path=out/\w+\.safetensors)?"
        r"( --eval-ablate-every=10)? --seed=2 --steps=60", lines[0]), lines[0]
    assert re.fullmatch(stamp + rf"preset=demo arm={run.arm} seed=2 lr=1e-05 batch=28 "
                        r"steps=60 model=Qwen2\.5-0\.5B", lines[1]), lines[1]
    header = next(line for line in lines if "ref_eq" in line).split(" | INFO | ")[1]
    expected = "step  loss  hack_s↑  gt_s↑  hack_t  gt_t  cos_pre_t  cos_pre_s  ref_eq"
    expected += "  refr" if generation == "newer" else ""
    expected += "  hack_abl  solve_abl" if arm == "routing" and generation != "older" else ""
    assert header == expected + "  dt"
    assert ("loading model" in run.text) == (generation != "older")
    if generation != "older":
        assert re.search(r"\| INFO \| eval step=50 hack=\d\.\d{3} solve=\d\.\d{3}\n"
                         r"[^\n]* \| DEBUG \| checkpoint saved\n", run.text)
        assert lines[-1].endswith(" | SUCCESS | done")
    times = [line[:23] for line in lines]
    assert times == sorted(times) and times[0].startswith("2026-11-20 14:02:1")


@pytest.mark.parametrize(("arm", "refresh", "preset_arm", "display", "v_hack"), [
    ("vanilla", 0, "vanilla", "vanilla", "-"),
    ("static", 0, "projected", "static erasure", "vhack_l14_k8"),
    ("online", 0, "projected", "online erasure", "vhack_l14_k8"),
    ("projected", 5, "projected", "online erasure", "vhack_l14_k8"),
    ("routing", 0, "routing", "routing", "vhack_l14_k8"),
    ("confessions", 0, "confessions", "confessions", "-"),
])
def test_arm_metadata(arm, refresh, preset_arm, display, v_hack):
    run = simulate_run(arm, 1, 30, refresh=refresh, preset="sweep")
    assert (run.arm, run.display_arm, run.v_hack, run.name) == (
        preset_arm, display, v_hack, f"sweep_{arm}_s1.log")
    assert f"arm={preset_arm} seed=1" in run.text
    assert (run.refresh > 0) == (display == "online erasure")
    assert (f"--vhack-refresh-every={run.refresh}" in run.argv) == (run.refresh > 0)


def test_steps_and_truth_sizes():
    run = simulate_run("vanilla", 1, 77)
    np.testing.assert_array_equal(run.steps, np.arange(77))
    assert set(run.truth) == set(METRICS)
    assert all(v.shape == (77,) and v.dtype == float for v in run.truth.values())
    assert run.missing == ()


# --- truth equals what the text holds -----------------------------------------------------


@pytest.mark.parametrize("generation", ["older", "newer", "converge"])
@pytest.mark.parametrize("arm", ARMS)
def test_truth_is_what_an_independent_reader_reads(arm, generation):
    run = simulate_run(arm, 3, 160, generation=generation)
    _assert_truth_matches(run)
    cosines = re.findall(r"  ([+-]\d\.\d{3})  ", run.text)
    assert cosines and all(len(c) == 6 for c in cosines)  # printed as %+.3f


MESSY = [
    {"ansi": True}, {"loguru_default": True}, {"ansi": True, "loguru_default": True},
    {"no_prefix": True}, {"crlf": True}, {"truncate_last": True}, {"bad_bytes": True},
    {"header_repeat": True}, {"resume_at": 73}, {"resume_at": 50}, {"resume_at": 160},
    {"nan_cells": True}, {"drop_columns": ("cos_pre_t", "cos_pre_s")},
    {"drop_columns": ("hack_abl",)}, {"extra_columns": ("kl", "entropy")},
    {"levels_noise": True},
    {"ansi": True, "crlf": True, "truncate_last": True, "bad_bytes": True,
     "header_repeat": True, "resume_at": 120, "nan_cells": True, "levels_noise": True,
     "extra_columns": ("kl",), "loguru_default": True},
]


@pytest.mark.parametrize(("arm", "options"), [
    pytest.param(arm, options, id=f"{arm}-{'+'.join(options)}")
    for arm in ("vanilla", "routing") for options in MESSY
    if arm == "routing" or "hack_abl" not in options.get("drop_columns", ())])
def test_truth_survives_messy_logs(arm, options):
    run = simulate_run(arm, 2, 160, **options)
    _assert_truth_matches(run)
    assert run.text == run.data.decode("utf-8", errors="replace")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arm=st.sampled_from(ARMS), seed=st.integers(0, 2**31), steps=st.integers(1, 130),
    generation=st.sampled_from(["older", "newer", "converge"]), batch=st.integers(1, 64),
    flags=st.sets(st.sampled_from(["ansi", "loguru_default", "no_prefix", "crlf",
                                   "truncate_last", "bad_bytes", "header_repeat", "nan_cells",
                                   "levels_noise"])),
    resume=st.floats(0, 1) | st.none(),
)
def test_truth_matches_the_text_for_any_options(arm, seed, steps, generation, batch, flags,
                                                resume):
    options = dict.fromkeys(flags, True)
    if resume is not None:
        options["resume_at"] = max(1, round(resume * steps))
    run = simulate_run(arm, seed, steps, generation=generation, batch=batch, **options)
    _assert_truth_matches(run)


def test_resume_repeats_steps_with_new_values_and_the_later_wins():
    run = simulate_run("vanilla", 1, 120, resume_at=73)
    steps, values = _read(run.data, routing=False)
    assert steps == list(range(73)) + list(range(50, 120))  # back to the checkpoint at 50
    assert run.text.count("argv:") == 2
    later = {s: i for i, s in enumerate(steps)}
    repeated = range(50, 73)
    np.testing.assert_array_equal(run.truth["teacher"][50:73],
                                  [values["teacher"][later[s]] for s in repeated])
    earlier = [values["teacher"][steps.index(s)] for s in repeated]
    assert not np.array_equal(earlier, run.truth["teacher"][50:73])  # different values


def test_routing_ablated_columns_only_every_ten_steps():
    run = simulate_run("routing", 1, 200)
    names = None
    for _, msg in _messages(run.data):
        tokens = msg.split()
        if "ref_eq" in tokens:
            names = [re.match(r"[A-Za-z_]+", t).group(0) for t in tokens]
        elif names and tokens and tokens[0].isdigit():
            step = int(tokens[0])
            abl = tokens[names.index("hack_abl")], tokens[names.index("solve_abl")]
            assert (abl == ("-", "-")) == (step % 10 != 0), (step, abl)
    measured = ~np.isnan(run.truth["hack"])
    np.testing.assert_array_equal(run.steps[measured], np.arange(0, 200, 10))
    np.testing.assert_array_equal(measured, ~np.isnan(run.truth["solve"]))


def test_dynamics_onsets_and_plateaus_are_ordered_like_the_samples():
    onsets, ends = {}, {}
    for arm in ("vanilla", "static", "online", "routing"):
        runs = [simulate_run(arm, seed, 200) for seed in range(1, 7)]
        onsets[arm] = np.mean([r.onset if r.onset is not None else 200 for r in runs])
        ends[arm] = np.mean([np.nanmean(r.truth["hack"][160:]) for r in runs])
        assert not any(np.any(r.truth["hack"][:20] > 0) for r in runs)  # none at first
        early = np.mean([np.mean(r.truth["teacher"][:20]) for r in runs])
        late = np.mean([np.mean(r.truth["teacher"][-20:]) for r in runs])
        assert 0.25 < early < 0.37 and 0.08 < late < 0.22, (arm, early, late)
        solve = np.mean([np.nanmean(r.truth["solve"]) for r in runs])
        assert 0.15 < solve < 0.4
    assert onsets["vanilla"] < onsets["static"] < onsets["online"]
    assert onsets["vanilla"] < onsets["routing"]
    assert ends["vanilla"] > ends["static"] > ends["online"] > ends["routing"] > 0
    assert 25 < onsets["vanilla"] < 55 and ends["vanilla"] > 0.7


def test_onsets_scale_with_the_run_length():
    short = np.mean([simulate_run("static", s, 200).onset for s in range(1, 5)])
    long = np.mean([simulate_run("static", s, 2000).onset for s in range(1, 5)])
    assert 7 < long / short < 13


# --- messy flags are really in the bytes --------------------------------------------------


def test_messy_flags_are_present_in_the_bytes():
    plain = simulate_run("routing", 1, 120).data
    assert b"\r" not in plain and b"\x1b" not in plain and b"\xff" not in plain

    data = simulate_run("routing", 1, 120, crlf=True).data
    assert data.count(b"\r\n") == data.count(b"\n") > 100

    assert b"\x1b[32m2026-11-20" in simulate_run("routing", 1, 120, ansi=True).data
    data = simulate_run("routing", 1, 120, loguru_default=True).data
    assert b" | INFO     | __main__:train:88 - 0  " in data
    assert b" | DEBUG    | __main__:" in data

    data = simulate_run("routing", 1, 120, no_prefix=True).data
    assert data.startswith(b"argv: ") and b" | INFO" not in data and b"\n0  0." in data

    run = simulate_run("routing", 1, 120, truncate_last=True)
    last = run.data.split(b"\n")[-1]
    assert not run.data.endswith(b"\n") and b"| INFO | 119  " in last
    assert len(last.split(b" | ")[-1].split()) < 12 and run.steps[-1] == 118

    run = simulate_run("routing", 1, 120, bad_bytes=True)
    with pytest.raises(UnicodeDecodeError):
        run.data.decode("utf-8")
    assert b"loading model Qwen2.5-0.5B (bf16\xff\xfe) ..." in run.data

    text = simulate_run("routing", 1, 120, header_repeat=True).text
    assert text.count("  ref_eq  ") == 2 and text.count("loading model") == 2

    run = simulate_run("routing", 1, 400, nan_cells=True)
    tokens = re.findall(r"  (nan|inf|-inf|0/0)(?=  )", run.text)
    assert {"nan", "inf", "0/0"} <= set(tokens)
    assert np.isnan(run.truth["teacher"]).sum() > 0

    run = simulate_run("routing", 1, 60, drop_columns=("cos_pre_t", "cos_pre_s"))
    assert "cos_pre" not in run.text and run.missing == ("teacher", "student")
    assert np.isnan(run.truth["teacher"]).all() and np.isnan(run.truth["student"]).all()

    run = simulate_run("routing", 1, 60, extra_columns=("kl", "entropy"))
    assert {"kl", "entropy"} <= set(run.columns) and run.columns[0] == "step"

    text = simulate_run("routing", 1, 400, levels_noise=True).text
    for level in ("WARNING", "ERROR", "SUCCESS", "DEBUG"):
        assert f" | {level} | " in text
    numbered = re.findall(r"\| INFO \| (\d+ [a-zA-Z][^\n]*)", text)
    assert numbered and all(len(m.split()) < 12 for m in numbered)


def test_invalid_arguments_are_refused():
    for kwargs in ({"arm": "two words"}, {"arm": "static", "refresh": 5},
                   {"arm": "vanilla", "resume_at": 0}, {"arm": "vanilla", "resume_at": 61},
                   {"arm": "vanilla", "drop_columns": ("step",)},
                   {"arm": "vanilla", "extra_columns": ("loss",)},
                   {"arm": "vanilla", "preset_in_argv": True}):
        with pytest.raises(ValueError):
            simulate_run(seed=1, steps=60, **kwargs)


def test_older_logs_may_carry_the_preset_in_argv():
    run = simulate_run("static", 2, 40, generation="older", preset_in_argv=True)
    first = run.text.splitlines()[:2]
    assert "--preset=demo --arm=projected" in first[0] and "ref_eq" in first[1]


# --- the reference parser agrees ----------------------------------------------------------


def _reference():
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is absent")
    pytest.importorskip("matplotlib")
    pytest.importorskip("loguru")
    spec = importlib.util.spec_from_file_location("plot_dynamics", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("arm", "generation"), [(a, "converge") for a in ARMS[:4]]
                         + [("routing", "newer"), ("online", "older")])
def test_reference_parse_log_reads_the_truth(tmp_path, arm, generation):
    reference = _reference()
    run = simulate_run(arm, 2, 200, generation=generation)
    [path] = write_sweep(tmp_path, [run])
    parsed = reference.parse_log(path)
    assert reference.classify(parsed) == run.display_arm
    np.testing.assert_array_equal(parsed["steps"], run.steps)
    for column, metric in (("hack_s", "hack"), ("gt_s", "solve"), ("cos_pre_t", "teacher"),
                           ("cos_pre_s", "student")):
        np.testing.assert_array_equal(parsed[column], run.truth[metric], err_msg=column)


# --- sweeps, files, CLI -------------------------------------------------------------------


def test_sweep_names_and_gzip_files_are_deterministic(tmp_path):
    runs = simulate_sweep(("vanilla", "online"), (1, 2), steps=40, preset="p")
    assert [r.name for r in runs] == ["p_vanilla_s1.log", "p_vanilla_s2.log",
                                      "p_online_s1.log", "p_online_s2.log"]
    first = write_sweep(tmp_path / "a", runs, gz=True)
    second = write_sweep(tmp_path / "b", arms=("vanilla", "online"), seeds=(1, 2), steps=40,
                         preset="p", gz=True)
    assert [p.name for p in first] == [r.name + ".gz" for r in runs]
    for run, a, b in zip(runs, first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert gzip.decompress(a.read_bytes()) == run.data
    [plain] = write_sweep(tmp_path / "c", [simulate_run("vanilla", 1, 30, bad_bytes=True)])
    assert b"\xff\xfe" in plain.read_bytes()


def test_cli_writes_the_sweep(tmp_path, capsys):
    code = main([str(tmp_path), "--arms", "vanilla", "routing", "--seeds", "2", "--steps", "30",
                 "--preset", "bench", "--gz"])
    assert code == 0, capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bench_routing_s1.log.gz", "bench_routing_s2.log.gz",
        "bench_vanilla_s1.log.gz", "bench_vanilla_s2.log.gz"]
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--steps", "0"])


def test_long_runs():
    runs = simulate_sweep(("vanilla", "routing"), (1, 2), steps=20_000)
    assert all(len(r.steps) == 20_000 for r in runs)
    assert "  -0.000  " in runs[0].text  # like the samples: %+.3f of a tiny negative
