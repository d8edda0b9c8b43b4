"""The page of the same sweeps made by several git revisions of report, drawn in Chromium:
its size, the time until its top charts are drawn, until every chart of the first screen
is, until every chart is (scrolling down the page) and the main thread's CPU time until then.
With --builds N, also each revision's whole build of each sweep, N times.

    python benchmarks/revisions.py SWEEP [SWEEP ...] --revs 9b652fd 9a0a1d5 HEAD

Each revision is checked out into a temporary worktree (bench.py's `baseline_tree`) and
makes each sweep's page (`python -m report SWEEP -o PAGE --no-png`, its own cache); the
pages of one sweep are then drawn by bench.py's `draw_seconds` (loads alternating, so
every page sees the same machine), median of --repeat loads. The builds
(`python -m report SWEEP -o PAGE -q`, PNGs too) alternate between the revisions as well,
each with its fixed costs cached (the JavaScript bundle; no compiled spec or picture of
the sweep: new logs) and measured by bench.py's `measure`: medians of wall and CPU time
(the process and its workers), and the largest peak of the process tree's memory (PSS).
A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (  # noqa: E402
    baseline_tree,
    chromium,
    draw_seconds,
    drop_sweep_entries,
    measure,
    report_env,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", nargs="+", help="folders of logs")
    ap.add_argument("--revs", nargs="+", required=True, help="git revisions to compare")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--builds", type=int, default=0,
                    help="also time N builds of each sweep by each revision (default: none)")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="revisions-")))
        trees = {rev: stack.enter_context(baseline_tree(rev)) for rev in args.revs}
        browser = stack.enter_context(chromium())
        if browser is None:
            sys.exit("needs /usr/bin/chromium and playwright")
        for number, sweep in enumerate(args.sweeps):
            pages = []
            for rev, tree in trees.items():
                page = work / f"{number}-{rev}" / "index.html"
                env = {**os.environ, "PYTHONPATH": str(tree),
                       "REPORT_CACHE_DIR": str(work / f"cache-{rev}")}
                subprocess.run([sys.executable, "-m", "report", sweep, "-o", str(page),
                                "--no-png", "-q"], cwd=tree, env=env, check=True)
                pages.append(page)
            for rev, page, drawn in zip(trees, pages, draw_seconds(browser, pages, args.repeat),
                                        strict=True):
                shown = drawn if isinstance(drawn, str) else (
                    f"top charts drawn {drawn.top:.2f} s, first screen {drawn.screen:.2f} s, "
                    f"every chart {drawn.wall:.2f} s, main thread CPU {drawn.busy:.2f} s")
                print(f"{sweep} {rev}: {page.stat().st_size / 1e6:.2f} MB, {shown}")
            if args.builds:
                builds(sweep, trees, work, args.builds)


def builds(sweep: str, trees: dict[str, Path], work: Path, repeat: int) -> None:
    """Print each revision's build of `sweep` (new logs, PNGs too), `repeat` times each,
    the revisions alternating: median wall and CPU seconds, the largest tree PSS."""
    runs: dict[str, list] = {rev: [] for rev in trees}
    for _ in range(repeat):
        for rev, tree in trees.items():
            cache = work / f"cache-{rev}"  # the bundle is there from making the page
            drop_sweep_entries(cache)
            out = work / f"build-{rev}" / "index.html"
            done = measure([sys.executable, "-m", "report", sweep, "-o", str(out), "-q"],
                           env=report_env(cache, tree), cwd=tree)
            if done.returncode != 0:
                sys.exit(f"{rev} failed to build {sweep}: {done.stderr}")
            runs[rev].append(done)
    for rev, done in runs.items():
        print(f"{sweep} {rev}: built in {statistics.median(d.seconds for d in done):.2f} s, "
              f"CPU {statistics.median(d.cpu for d in done):.2f} s, "
              f"peak tree PSS {max(d.tree_pss for d in done) / 1e6:.0f} MB "
              f"(medians of {len(done)})")


if __name__ == "__main__":
    main()
