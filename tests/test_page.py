"""The page's tables and files: per-arm statistics, provenance and the downloadable
numbers, checked against values computed independently of report's code."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simulate
from conftest import EPOCH, SAMPLES, needs_samples
from helpers import ROOT, run_main, soup, table_rows
from test_cli import expected_rows

ARM_ORDER = ["vanilla", "static erasure", "online erasure", "routing"]


def _pm(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


@needs_samples
def test_arms_table_from_the_reference_numbers(converge_site) -> None:
    pytest.importorskip("matplotlib")
    out, result = converge_site
    assert result.returncode == 0, result.stderr
    expected_runs = expected_rows(SAMPLES / "converge")  # reference's own rules
    header, body = table_rows(soup(out), "arms")
    assert header == ["arm", "seeds", "hacked", "final hack [95% CI]", "final solve [95% CI]",
                      "median onset (Kaplan–Meier)", "mean onset of the seeds that hacked"]
    assert [row[0] for row in body] == ARM_ORDER
    for row in body:
        members = [r for r in expected_runs.values() if r[1] == row[0]]
        onsets = [int(r[4]) for r in members if r[4]]
        assert row[1] == str(len(members))
        assert row[2] == str(len(onsets))
        # The page's means use full-precision finals; recompute them from the reference.
        for column, final in ((3, 5), (4, 6)):
            values = [float(r[final]) for r in members]
            mean, interval = row[column].split(" [")
            low, high = (float(v) for v in interval.rstrip("]").split(", "))
            assert abs(float(mean) - statistics.fmean(values)) < 0.002
            # t(0.975, 2) = 4.303 for three seeds, from a printed table.
            half = 4.303 * statistics.stdev(values) / math.sqrt(len(values))
            assert abs((high - low) / 2 - half) < 0.003
            assert abs((high + low) / 2 - float(mean)) < 0.002
        # Every seed hacked: Kaplan-Meier reaches one half at the middle of three onsets.
        assert len(onsets) == 3 and row[5] == str(sorted(onsets)[1])
        assert row[6] == _pm(onsets, 1)


def _download(page, filename: str) -> bytes:
    link = page.find("a", attrs={"download": filename})
    assert link is not None, f"no download link for {filename}"
    head, _, payload = link["href"].partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return base64.b64decode(payload)


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "index.html"
    result = run_main(str(ROOT / "examples" / "logs"), "-o", str(out), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    return soup(out)


def test_series_download_is_what_the_generator_wrote(demo_page) -> None:
    series = pd.read_csv(io.BytesIO(gzip.decompress(_download(demo_page, "series.csv.gz"))))
    assert list(series.columns) == ["run", "step", "metric", "value", "ema", "k", "n"]
    truths = {sim.name: sim for sim in simulate.simulate_sweep(preset="demo")}
    assert set(series["run"]) == set(truths)
    for (run, metric), rows in series.groupby(["run", "metric"]):
        sim = truths[run]
        np.testing.assert_array_equal(rows["step"].to_numpy(), sim.steps)
        np.testing.assert_array_equal(rows["value"].to_numpy(), sim.truth[metric])
        # EMA-5 written out: alpha 1/3, missing values hold.
        smoothed, prev = [], np.nan
        for v in sim.truth[metric]:
            if not np.isnan(v):
                prev = v if np.isnan(prev) else v / 3 + prev * 2 / 3
            smoothed.append(prev)
        np.testing.assert_allclose(rows["ema"].to_numpy(), smoothed, rtol=1e-12)
    _assert_counts_are_the_logged_cells(series)


def _logged_fractions(path: Path, column: str) -> dict[int, tuple[int, int] | None]:
    """step -> (k, n) of `column`'s cell, read from the log's text by hand (None: not k/n)."""
    names: list[str] = []
    cells: dict[int, tuple[int, int] | None] = {}
    for line in path.read_text().splitlines():
        words = line.split(" | ")[-1].split()
        if "hack_s" in line and "ref_eq" in line:
            names = [w.rstrip("↑↓?") for w in words]
        elif names and words and words[0].isdecimal() and len(words) == len(names):
            cell = words[names.index(column)]
            k, slash, n = cell.partition("/")
            cells[int(words[0])] = (int(k), int(n)) if slash else None
    return cells


def _assert_counts_are_the_logged_cells(series: pd.DataFrame) -> None:
    """k and n of the rates are the logs' own k/n cells; cosines have none."""
    logs = ROOT / "examples" / "logs"
    for run, column, metric in (("demo_vanilla_s1.log", "hack_s", "hack"),
                                ("demo_static_s2.log", "gt_s", "solve"),
                                ("demo_routing_s3.log", "hack_abl", "hack")):
        rows = series[(series["run"] == run) & (series["metric"] == metric)]
        logged = _logged_fractions(logs / run, column)
        assert sorted(logged) == rows["step"].tolist()
        for step, k, n in zip(rows["step"], rows["k"], rows["n"], strict=True):
            expected = logged[step]
            if expected is None:  # routing between evaluations: "-"
                assert np.isnan(k) and np.isnan(n)
            else:
                assert (k, n) == expected
    assert series.loc[series["metric"].isin(["teacher", "student"]), ["k", "n"]].isna().all().all()


def test_runs_download_matches_the_table(demo_page) -> None:
    frame = pd.read_csv(io.BytesIO(_download(demo_page, "runs.csv")), keep_default_na=False)
    _, body = table_rows(demo_page, "runs")
    assert list(frame["run"]) == [row[0] for row in body]
    assert [f"{v:.3f}" for v in frame["final_hack"]] == [row[5] for row in body]
    assert [str(v) for v in frame["onset_step"]] == [row[4] for row in body]
    assert {"path", "v_hack", "refresh", "preset_arm"} <= set(frame.columns)


def test_provenance_lists_files_argv_versions_and_time(demo_page) -> None:
    _, files = table_rows(demo_page, "files")
    logs = sorted((ROOT / "examples" / "logs").glob("*.log"))
    assert [Path(row[0]).name for row in files] == [p.name for p in logs]
    for row, path in zip(files, logs, strict=True):
        assert row[1] == f"{path.stat().st_size:,}"
        assert row[2] == hashlib.sha256(path.read_bytes()).hexdigest()
    _, argvs = table_rows(demo_page, "argv")
    by_run = dict(argvs)
    for path in logs:
        first_argv = next(line for line in path.read_text().splitlines() if "argv:" in line)
        assert by_run[path.name] == first_argv[first_argv.index("argv:"):]
    text = demo_page.find(id="provenance").get_text(" ", strip=True)
    import altair
    import vl_convert  # noqa: F401

    assert f"altair {altair.__version__}" in text and "vl-convert-python" in text
    assert "2025-11-24 16:00:00 UTC" in text


ARMS_CSV_COLUMNS = ["arm", "seeds", "hacked", "final_hack_mean", "final_hack_ci_low",
                    "final_hack_ci_high", "final_solve_mean", "final_solve_ci_low",
                    "final_solve_ci_high", "median_onset_km"]
COMPARISON_COLUMNS = ["arm", "baseline", "metric", "diff", "ci_low", "ci_high", "p", "p_holm"]


def test_arms_download_has_the_intervals_of_the_table(demo_page) -> None:
    frame = pd.read_csv(io.BytesIO(_download(demo_page, "arms.csv")))
    assert set(ARMS_CSV_COLUMNS) <= set(frame.columns)
    runs = pd.read_csv(io.BytesIO(_download(demo_page, "runs.csv")))
    _, body = table_rows(demo_page, "arms")
    for row, (_, arm) in zip(body, frame.iterrows(), strict=True):
        assert row[0] == arm["arm"]
        finals = runs.loc[runs["arm"] == arm["arm"], "final_hack"]
        # 3 seeds: t(0.975, 2) = 4.303 from a printed table.
        half = 4.303 * statistics.stdev(finals) / math.sqrt(len(finals))
        assert arm["final_hack_mean"] == pytest.approx(statistics.fmean(finals))
        assert arm["final_hack_ci_high"] - arm["final_hack_mean"] == pytest.approx(half, rel=2e-4)
        assert row[3] == (f"{arm['final_hack_mean']:.3f} [{arm['final_hack_ci_low']:.3f}, "
                          f"{arm['final_hack_ci_high']:.3f}]")
        assert row[5] == f"{arm['median_onset_km']:.0f}"


def test_comparisons_table_and_download_agree(demo_page) -> None:
    frame = pd.read_csv(io.BytesIO(_download(demo_page, "comparisons.csv")),
                        keep_default_na=False, na_values=[""])
    assert list(frame.columns[:8]) == COMPARISON_COLUMNS
    assert set(frame["baseline"]) == {"vanilla"}
    assert list(frame["arm"]) == [a for a in ARM_ORDER[1:] for _ in range(3)]
    assert list(frame["metric"]) == ["final_hack", "final_solve", "time_to_hack"] * 3
    arms = pd.read_csv(io.BytesIO(_download(demo_page, "arms.csv"))).set_index("arm")
    for row in frame.itertuples():
        if row.metric == "time_to_hack":
            expected = arms.loc[row.arm, "median_onset_km"] - arms.loc["vanilla",
                                                                        "median_onset_km"]
            assert np.isnan(row.ci_low)  # a log-rank test: no interval
        else:
            expected = arms.loc[row.arm, f"{row.metric}_mean"] - arms.loc["vanilla",
                                                                          f"{row.metric}_mean"]
            assert row.ci_low < row.diff < row.ci_high
        assert row.diff == pytest.approx(expected)
    # Holm by hand: the i-th smallest of m p-values times (m - i + 1), running maximum.
    order = np.argsort(frame["p"].to_numpy())
    m, running, holm = len(order), 0.0, {}
    for rank, at in enumerate(order):
        running = max(running, min(1.0, (m - rank) * frame["p"].iloc[at]))
        holm[at] = running
    assert frame["p_holm"].tolist() == pytest.approx([holm[i] for i in range(m)])
    _, body = table_rows(demo_page, "comparisons")
    assert len(body) == len(frame)
    for cells, row in zip(body, frame.itertuples(), strict=True):
        assert cells[:2] == [row.arm, row.metric.replace("_", " ")]
        unit = " steps" if row.metric == "time_to_hack" else ""
        assert cells[2] == (f"{row.diff:+.0f}" if unit else f"{row.diff:+.3f}") + unit
        assert cells[4] == (f"{row.p:.3f}" if row.p >= 0.001 else "< 0.001")


def test_a_row_without_enough_seeds_says_why(tmp_path: Path) -> None:
    from conftest import log_text

    logs = tmp_path / "logs"
    logs.mkdir()
    rows = [f"{i}  0.7  {min(i, 2)}/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0" for i in range(4)]
    for name, arm, seed in (("v1.log", "vanilla", 1), ("v2.log", "vanilla", 2),
                            ("r1.log", "routing", 1)):
        (logs / name).write_text(log_text(rows=rows, preset=f"preset=t arm={arm} seed={seed}"))
    out = tmp_path / "index.html"
    result = run_main(str(logs), "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    _, body = table_rows(soup(out), "comparisons")
    assert len(body) == 3
    for row in body:
        assert row[0] == "routing"
        assert row[2] == "no numbers: fewer than 2 seeds on a side (1 here, 2 in vanilla)"
    frame = pd.read_csv(io.BytesIO(_download(soup(out), "comparisons.csv")))
    assert set(frame["note"]) == {"too_few_seeds"}
    assert frame[["diff", "p", "p_holm"]].isna().all().all()
