"""What `--strict-csp` costs in Chromium: Vega's expression interpreter (a policy
without 'unsafe-eval') against Vega's compiled expressions (the default page), on the
same sweep.

    python benchmarks/interpreter.py                 # the demo's sweep, 12 x 200
    python benchmarks/interpreter.py --size 20x2000 --repeat 5

The report is made twice (`python -m report --no-png`, with and without `--strict-csp`).
Loads of the two alternate, so both see the same machine. Printed: medians of the draw
time (navigation start to every chart drawn, scrolling down the page) and of the main
thread's CPU time until then (bench.py's `draw_seconds`), and of the time Vega takes to
redraw the grid and the overlay after the smoothed/raw switch. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ARMS, ROOT, chromium, draw_seconds  # noqa: E402

SWITCH = """async (key) => {
  const view = window.reportViews[key], took = [];
  for (let i = 0; i < 8; i++) {
    const start = performance.now();
    await view.signal("values", i % 2 ? "smoothed" : "raw").runAsync();
    took.push(performance.now() - start);
  }
  return took;
}"""


def switch_ms(browser: object, page: Path, repeat: int) -> dict[str, float]:
    took: dict[str, list[float]] = {"grid": [], "overlay": []}
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        tab = context.new_page()
        tab.goto(page.as_uri())
        tab.wait_for_function(  # the two it switches, at the top: drawn at load
            "['grid', 'overlay'].every(k => document.getElementById(k).dataset.drawn)",
            timeout=120_000)
        for key in took:
            took[key] += tab.evaluate(SWITCH, key)
        context.close()
    return {key: statistics.median(values) for key, values in took.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="12x200", help="RUNSxSTEPS (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs, steps = map(int, args.size.split("x"))
    seeds = tuple(range(1, runs // len(ARMS) + 1))
    with tempfile.TemporaryDirectory(prefix="bench-interpreter-") as work:
        logs = Path(work) / "logs"
        logs.mkdir()
        sys.path.insert(0, str(ROOT / "tests"))
        import simulate

        simulate.write_sweep(logs, arms=ARMS, seeds=seeds, steps=steps)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        pages = {}
        for name, flags in (("interpreter (--strict-csp)", ["--strict-csp"]),
                            ("compiled (the default)", [])):
            page = Path(work) / f"site-{len(pages)}" / "index.html"
            subprocess.run([sys.executable, "-m", "report", str(logs), "-o", str(page),
                            "--no-png", "-q", *flags], env=env, check=True)
            pages[name] = page
        with chromium() as browser:
            if browser is None:
                sys.exit("needs /usr/bin/chromium and playwright")
            drawn = draw_seconds(browser, list(pages.values()), args.repeat)
            print(f"{runs} runs x {steps} steps, medians of {args.repeat} loads")
            for (name, path), draw in zip(pages.items(), drawn, strict=True):
                switch = switch_ms(browser, path, args.repeat)
                wall, busy = (draw.wall, draw.busy) if not isinstance(draw, str) else (0, 0)
                print(f"{name:24s} drawn {wall:.2f} s (main thread {busy:.2f} s); switch: "
                      f"grid {switch['grid']:.0f} ms, overlay {switch['overlay']:.0f} ms")


if __name__ == "__main__":
    main()
