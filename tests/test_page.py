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


# --- groups, and two sweeps side by side ----------------------------------------------


def _final(values: np.ndarray) -> float:
    """EMA-5 at the last step, written out: alpha 1/3, a missing value holds."""
    smoothed = math.nan
    for v in values:
        if not math.isnan(v):
            smoothed = v if math.isnan(smoothed) else v / 3 + smoothed * 2 / 3
    return smoothed


DISPLAY = {"vanilla": "vanilla", "static": "static erasure", "online": "online erasure",
           "routing": "routing"}


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory):
    """The example logs as sweep `before`, and a sweep of the same file names from a
    batch of 32 (other numbers) as `after`, grouped by sweep and arm."""
    work = tmp_path_factory.mktemp("sweeps")
    before = simulate.simulate_sweep(preset="demo")
    after = simulate.simulate_sweep(preset="demo", batch=32)
    simulate.write_sweep(work / "v1", before)
    simulate.write_sweep(work / "v2", after)
    out = work / "site" / "index.html"
    result = run_main("before=v1", "after=v2", "--group-by", "sweep,arm", "-o", str(out),
                      "--no-png", cwd=work, env=EPOCH)
    assert result.returncode == 0, result.stderr
    truth = {("before", s.name): s for s in before} | {("after", s.name): s for s in after}
    return soup(out), truth


def test_two_sweeps_keep_runs_of_one_file_name_apart(two_sweeps) -> None:
    page, truth = two_sweeps
    assert page.find(id="description").get_text(" ", strip=True).startswith(
        "24 runs · 2 sweeps (before, after) · 8 groups by sweep, arm (sweep=before, "
        "arm=vanilla; sweep=before, arm=static erasure;")
    header, body = table_rows(page, "runs")
    assert header == ["run", "group", "arm", "sweep", "seed", "steps", "onset step",
                      "final hack", "final solve"]
    assert len(body) == 24
    for row in body:
        folder, name = row[0].split("/")
        sweep = {"v1": "before", "v2": "after"}[folder]
        sim = truth[(sweep, name)]
        assert row[1:4] == [f"sweep={sweep}, arm={sim.display_arm}", sim.display_arm, sweep]
        assert row[7] == f"{_final(sim.truth['hack']):.3f}"
    runs = pd.read_csv(io.BytesIO(_download(page, "runs.csv")))
    assert list(runs.columns[:4]) == ["run", "group", "arm", "sweep"]
    assert {"lr", "batch", "intervention", "steps (config)"} <= set(runs.columns)
    assert sorted(runs["batch"].unique()) == [28, 32]
    series = pd.read_csv(io.BytesIO(gzip.decompress(_download(page, "series.csv.gz"))))
    assert series["run"].nunique() == 24


def test_groups_of_two_sweeps_are_compared_arm_by_arm(two_sweeps) -> None:
    page, truth = two_sweeps
    header, body = table_rows(page, "arms")
    assert header[:2] == ["group", "runs"]
    groups = [f"sweep={s}, arm={a}" for s in ("before", "after") for a in ARM_ORDER]
    assert [row[0] for row in body] == groups
    finals: dict[str, list[float]] = {g: [] for g in groups}
    for (sweep, _), sim in truth.items():
        finals[f"sweep={sweep}, arm={sim.display_arm}"].append(_final(sim.truth["hack"]))
    for row in body:
        assert row[1] == "3" and row[3].startswith(f"{statistics.fmean(finals[row[0]]):.3f} [")
    arms = pd.read_csv(io.BytesIO(_download(page, "arms.csv")))
    assert list(arms.columns[:2]) == ["group", "seeds"] and list(arms["group"]) == groups
    # Each arm after the change against the same arm before it (the first key's first
    # value, paired within the other keys): the difference of the hand-made means.
    comparisons = pd.read_csv(io.BytesIO(_download(page, "comparisons.csv")))
    assert list(comparisons.columns[:3]) == ["group", "baseline", "metric"]
    hack = comparisons[comparisons["metric"] == "final_hack"]
    assert list(hack["group"]) == groups[4:] and list(hack["baseline"]) == groups[:4]
    for row in hack.itertuples():
        expected = statistics.fmean(finals[row.group]) - statistics.fmean(finals[row.baseline])
        assert row.diff == pytest.approx(expected, abs=1e-12)
    header, body = table_rows(page, "comparisons")
    assert header[:4] == ["group", "baseline", "measure", "difference (group − baseline)"]
    caption = page.find("table", id="comparisons").find("caption").get_text(" ", strip=True)
    assert "its baseline: the group with sweep=before and its own other keys" in caption


def test_group_by_a_flag_merges_the_arms_that_share_its_value(tmp_path: Path) -> None:
    """--group-by vhack-refresh-every: online erasure refreshes every 20 steps; vanilla,
    static erasure and routing were not started with the flag: one group of 9 runs."""
    out = tmp_path / "index.html"
    result = run_main(str(ROOT / "examples" / "logs"), "--group-by", "vhack-refresh-every",
                      "-o", str(out), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    page = soup(out)
    sims = simulate.simulate_sweep(preset="demo")
    header, body = table_rows(page, "arms")
    assert [row[:2] for row in body] == [["vhack-refresh-every=20", "3"],
                                         ["vhack-refresh-every=(none)", "9"]]
    for row, arms in ((body[0], {"online"}), (body[1], {"vanilla", "static", "routing"})):
        finals = [_final(s.truth["hack"]) for s in sims if s.name.split("_")[1] in arms]
        mean, interval = row[3].split(" [")
        assert mean == f"{statistics.fmean(finals):.3f}"
        # t(0.975, 2) = 4.303 for three runs, t(0.975, 8) = 2.306 for nine (a printed table).
        t = {3: 4.303, 9: 2.306}[len(finals)]
        half = t * statistics.stdev(finals) / math.sqrt(len(finals))
        low, high = (float(v) for v in interval.rstrip("]").split(", "))
        assert (high - low) / 2 == pytest.approx(half, abs=0.0015)
    assert page.find(id="grid-title").get_text() == "Dynamics by vhack-refresh-every"
    assert page.find(id="arms-title").get_text() == "Groups"


def test_every_other_metric_has_a_chart_and_a_picture(demo_page) -> None:
    section = demo_page.find(id="metrics-section")
    assert section.find("h2").get_text() == "All metrics"
    figures = section.find_all("figure")
    metrics = ["loss", "hack_s", "gt_s", "hack_t", "gt_t", "ref_eq", "dt"]
    assert [f["data-chart"] for f in figures] == [f"metric-{m}" for m in metrics]
    for figure, metric in zip(figures, metrics, strict=True):
        picture = figure.find("img", class_="static")
        assert picture["src"].startswith("data:image/png;base64,")
        assert metric in picture["alt"]
        heading = demo_page.find(id=f"metric-{metric}-title")
        assert heading.name == "h3" and heading.get_text() == metric
    caption = demo_page.find(id="metric-hack_s-section").find(class_="caption").get_text()
    assert "routing runs' training-time hack rate" in caption


def test_metrics_flag_limits_the_section_but_not_the_series(tmp_path: Path) -> None:
    out = tmp_path / "index.html"
    result = run_main("--demo", "--metrics", "dt,loss", "-o", str(out), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    page = soup(out)
    figures = page.find(id="metrics-section").find_all("figure")
    assert [f["data-chart"] for f in figures] == ["metric-dt", "metric-loss"]
    series = pd.read_csv(io.BytesIO(gzip.decompress(_download(page, "series.csv.gz"))))
    assert set(series["metric"]) == {"hack", "solve", "teacher", "student", "loss", "hack_s",
                                     "gt_s", "hack_t", "gt_t", "ref_eq", "dt"}


def test_a_chart_that_draws_some_runs_lines_says_so(demo_page, tmp_path, monkeypatch):
    from report import charts

    assert not demo_page.select(".seed-lines")  # the demo draws every run's lines
    monkeypatch.setattr(charts, "MAX_SEED_LINES", 20)  # the grid's 48 lines do not fit
    out = tmp_path / "index.html"
    result = run_main(str(ROOT / "examples" / "logs"), "-o", str(out), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    page = soup(out)
    notes = {n.find_parent("section")["id"]: n.get_text(" ", strip=True)
             for n in page.select(".seed-lines")}
    # 4 arms x 3 seeds: one seed per arm fits in 20 lines of 4 metrics (two would be 32).
    assert notes["grid-section"].startswith("Thin lines are drawn for 4 of the 12 runs")
    assert "use all 12" in notes["grid-section"]
    assert "overlay-section" not in notes  # 12 lines: every run's


def test_long_tables_list_their_first_rows_and_the_downloads_carry_every_one(
        demo_page, tmp_path, monkeypatch):
    from report import build

    # The demo lists every run, file and command line, with plain CSV downloads.
    assert len(demo_page.select("#runs tbody tr")) == 12
    assert _download(demo_page, "runs.csv")
    assert not demo_page.find("a", attrs={"download": "files.csv.gz"})
    monkeypatch.setattr(build, "TABLE_ROWS", 5)  # 12 runs in 12 files do not fit
    logs = ROOT / "examples" / "logs"
    out = tmp_path / "index.html"
    result = run_main(str(logs), "-o", str(out), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    page = soup(out)
    for table in ("runs", "files", "argv"):
        assert len(page.select(f"#{table} tbody tr")) == 5, table
    caption = page.select_one("#runs caption").get_text(" ", strip=True)
    assert "Only the first 5 of the 12 runs are listed here" in caption
    note = page.select_one("#provenance p.downloads").get_text(" ", strip=True)
    assert note.startswith("Only the first 5 of the 12 input files and the first 5 of the 12")
    # Every row is in the gzipped downloads: the runs' names, each file's size and hash
    # as read from the disk here, each run's argv line as the log has it.
    listed = [r.get_text(strip=True) for r in page.select("#runs tbody th")]
    runs = pd.read_csv(io.BytesIO(gzip.decompress(_download(page, "runs.csv.gz"))))
    assert len(runs) == 12 and list(runs["run"][:5]) == listed
    files = pd.read_csv(io.BytesIO(gzip.decompress(_download(page, "files.csv.gz"))))
    on_disk = {p.name: p.read_bytes() for p in logs.glob("*.log")}
    assert len(files) == 12 == len(on_disk)
    for row in files.itertuples():
        data = on_disk[Path(row.file).name]
        assert (row.bytes, row.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    argv = pd.read_csv(io.BytesIO(gzip.decompress(_download(page, "argv.csv.gz"))))
    assert sorted(argv["run"]) == sorted(on_disk)
    for row in argv.itertuples():
        line = next(x for x in on_disk[row.run].decode().splitlines() if "argv" in x)
        assert row.argv in line
