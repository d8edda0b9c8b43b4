"""Where a build's time goes, step by step, each repeat a fresh process.

    python benchmarks/steps.py SWEEP [--repeat 2] [--jobs N]

Each repeat runs in a fresh process whose cache folder holds the JavaScript bundle and
nothing of these logs (fixed costs cached, new logs), and times the steps the command
runs: importing report's modules, `load_sweep`, `build.prepare_report` (the numbers, the
chart specs, the page's tables) and `build.finish_report` (the pictures, drawn by `--jobs`
processes, default one per core; the page). Prints each step's median, and the share of
the build that comes before the first picture is drawn.

`bench.py` times whole processes; this says which step of one the time goes to.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, drop_sweep_entries, report_env  # noqa: E402

STEPS = ("imports", "load_sweep", "prepare_report", "finish_report")

# One build, its steps timed; `if __name__` because the drawing workers import it again.
_CHILD = """
import json, sys, time
started = time.perf_counter()
import report
from report import build  # which imports the rest of report
imported = time.perf_counter()
if __name__ == "__main__":
    sweep = report.load_sweep(sys.argv[1])
    loaded = time.perf_counter()
    prepared = build.prepare_report(sweep, build.Options(jobs=int(sys.argv[2])))
    del sweep
    ready = time.perf_counter()
    build.finish_report(prepared)
    done = time.perf_counter()
    print(json.dumps([imported - started, loaded - imported, ready - loaded, done - ready]))
"""


def step_seconds(sweep: str, repeat: int, jobs: int, cache: Path) -> list[list[float]]:
    """Each repeat's seconds per step (STEPS), the bundle cached in `cache` first."""
    env = report_env(cache)
    subprocess.run([sys.executable, "-c", "from report import export; export.javascript_bundle()"],
                   cwd=ROOT, env=env, check=True)
    runs = []
    for _ in range(max(repeat, 1)):
        drop_sweep_entries(cache)
        out = subprocess.run([sys.executable, "-c", _CHILD, sweep, str(jobs)], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return runs


def summary(runs: Sequence[Sequence[float]]) -> str:
    """Each step's median, the build's, and what comes before the pictures."""
    medians = [statistics.median(column) for column in zip(*runs, strict=True)]
    total = statistics.median(sum(run) for run in runs)
    before = statistics.median(sum(run[:3]) for run in runs)
    lines = [f"{name:15s} {seconds:6.2f} s" for name, seconds in zip(STEPS, medians,
                                                                       strict=True)]
    lines.append(f"{'build':15s} {total:6.2f} s (medians of {len(runs)})")
    lines.append(f"before the first picture: {before:.2f} s ({before / total:.0%})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from report.workers import cores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="a folder of logs")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=None,
                        help="drawing processes (default: one per core, as the command)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="steps-cache-") as cache:
        runs = step_seconds(args.sweep, args.repeat, args.jobs or cores(), Path(cache))
    print(summary(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
