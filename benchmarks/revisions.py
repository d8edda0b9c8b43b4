"""The page of the same sweeps made by several git revisions of report, drawn in Chromium:
its size, the time until its top charts are drawn, until every chart of the first screen
is, until every chart is (scrolling down the page) and the main thread's CPU time until then.

    python benchmarks/revisions.py SWEEP [SWEEP ...] --revs 9b652fd 9a0a1d5 HEAD

Each revision is checked out into a temporary worktree (bench.py's `baseline_tree`) and
makes each sweep's page (`python -m report SWEEP -o PAGE --no-png`, its own cache); the
pages of one sweep are then drawn by bench.py's `draw_seconds` (loads alternating, so
every page sees the same machine), median of --repeat loads. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import baseline_tree, chromium, draw_seconds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", nargs="+", help="folders of logs")
    ap.add_argument("--revs", nargs="+", required=True, help="git revisions to compare")
    ap.add_argument("--repeat", type=int, default=3)
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


if __name__ == "__main__":
    main()
