"""benchmarks/bench.py: the benchmark runs end to end and writes its table (smallest size,
no browser; the numbers themselves are not judged here), with a baseline revision when the
project is a git checkout."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import ROOT


def _git_checkout() -> bool:
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "HEAD"],
                           capture_output=True, text=True)
    return found.returncode == 0


def _worktrees() -> set[str]:
    listed = subprocess.run(["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
                            capture_output=True, text=True).stdout
    return {line for line in listed.splitlines() if line.startswith("worktree ")}


def test_bench_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    baseline = ["--baseline", "HEAD"] if _git_checkout() else []
    before = _worktrees()
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--sizes", "12x200",
         "--no-browser", "--work", str(tmp_path / "work"), "--output", str(out), *baseline,
         "--parts", "12x200", "--parts-rounds", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert "## Machine" in text and "python benchmarks/bench.py --sizes 12x200" in text
    assert "| wall time, cold cache |" in text and "| parse throughput |" in text
    assert "12-run demo end-to-end under 2 s, warm" in text
    assert "## `--watch`: a rebuild after an append (12 runs x 200 steps" in text
    assert "| rebuild after 100 rows appended to one run (demo_vanilla_s1.log +100 steps) |" \
        in text
    assert (tmp_path / "work" / "sweeps" / "12x200").is_dir()
    assert "## What each part of the picture layer buys (12 runs x 200 steps" in text
    assert re.search(r"\| grid \| without the pointer marks \| [\d.]+ \([\d.]+\) \|", text)
    assert re.search(r"\| overlay \| picture bytes \| vl-convert [\d,]+ KB, level 3", text)
    if baseline:
        assert "| measure | reference | baseline `HEAD` | report |" in text
        # Both pages measured: their bytes and, of them, the bundle's, in MB.
        bundle = re.search(r"\| of it, the JavaScript bundle \| - \| ([\d.]+) MB \| ([\d.]+) MB \|",
                           text)
        assert bundle and all(float(n) > 0.1 for n in bundle.groups()), text
        assert re.search(r"\| wall time, fixed costs cached \(new logs\) \|  \| [\d.]+ s \|", text)
        # The temporary checkout is gone (others' checkouts may come and go meanwhile).
        assert not {w for w in _worktrees() - before if "bench-baseline-" in w}


def test_phases_prints_medians_per_chart() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from phases import medians

    def chart(runs: list[float], drawn: float) -> dict:
        return {"key": "overlay", "parse": 10.0, "view": 20.0, "runs": runs, "drawn": drawn}

    loads = [{"ready": 300.0, "charts": [chart([100.0], 900.0)]},
             {"ready": 340.0, "charts": [chart([140.0, 30.0], 1000.0)]},
             {"ready": 320.0, "charts": [chart([120.0], 950.0)]}]
    # One run is the most common count; the first run's median is that of 100, 140, 120.
    assert medians(loads) == ("vega ready at 320 ms\n"
                             "overlay: parse 10, View 20, 1 run 120, drawn at 950 ms")


def test_revisions_times_each_revision_s_build(tmp_path: Path, capsys) -> None:
    """benchmarks/revisions.py --builds: a revision's whole build of a sweep, measured as
    a process (wall and CPU time, the tree's memory), with its own cache."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from revisions import builds

    builds(str(ROOT / "examples" / "logs"), {"HEAD": ROOT}, tmp_path, 1)
    printed = capsys.readouterr().out
    found = re.search(r"HEAD: built in ([\d.]+) s, CPU ([\d.]+) s, peak tree PSS (\d+) MB "
                      r"\(medians of 1\)", printed)
    assert found, printed
    assert float(found.group(2)) > 0.5 and int(found.group(3)) > 50  # a real build's
    assert (tmp_path / "build-HEAD" / "dynamics.png").is_file()
    assert list((tmp_path / "cache-HEAD").glob("vega-bundle-*.js"))  # its own cache


def test_steps_medians_and_the_share_before_the_pictures() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from steps import summary

    # Two builds: medians per step 1, 2, 4, 3; both builds 10 s; before the pictures
    # 6 and 8 s, median 7 s: 70 %.
    printed = summary([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 5.0, 2.0]])
    assert printed.splitlines() == [
        "imports           1.00 s",
        "load_sweep        2.00 s",
        "prepare_report    4.00 s",
        "finish_report     3.00 s",
        "build            10.00 s (medians of 2)",
        "before the first picture: 7.00 s (70%)",
    ]


def test_steps_times_a_real_build_with_only_the_bundle_cached(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from steps import step_seconds

    cache = tmp_path / "cache"
    (cache / "renders").mkdir(parents=True)
    (cache / "renders" / "stale.png").write_bytes(b"from another sweep")
    [run] = step_seconds(str(ROOT / "examples" / "logs"), 1, 1, cache)
    assert len(run) == 4 and all(seconds > 0 for seconds in run)
    assert list(cache.glob("vega-bundle-*.js"))  # the fixed cost, made before the build
    # The build drew its own pictures into a cache that held nothing of another sweep.
    pictures = [p.name for p in (cache / "renders").rglob("*.png")]
    assert pictures and "stale.png" not in pictures
