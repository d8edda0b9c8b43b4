"""The page's tables and files: per-arm statistics, provenance and the downloadable
numbers, checked against values computed independently of report's code."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
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
    assert header == ["arm", "seeds", "onset step", "never hacked", "final hack", "final solve"]
    assert [row[0] for row in body] == ARM_ORDER
    for row in body:
        members = [r for r in expected_runs.values() if r[1] == row[0]]
        onsets = [int(r[4]) for r in members if r[4]]
        # The page's means use full-precision finals; recompute them from the reference.
        assert row[1] == str(len(members))
        assert row[2] == _pm(onsets, 1)
        assert row[3] == str(sum(1 for r in members if not r[4]))
        hack_mean = float(row[4].split(" ± ")[0])
        assert abs(hack_mean - statistics.fmean(float(r[5]) for r in members)) < 0.002


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
