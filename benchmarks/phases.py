"""Where a report page's charts spend their drawing time in Chromium, chart by chart.

    python benchmarks/phases.py site/index.html [--loads 5] [--charts 3]

Loads the page `--loads` times (a fresh browser context each, 1280 x 900, nothing fetched
but the file) and times, in the page, what templates/_embed.js does for each of the first
`--charts` charts it draws: Vega parsing the compiled spec, building its View (parse's
end to its first run), each run of the View (the first drawing, then any `fit` that draws
it again at its column's width), and when its figure was marked drawn, from navigation
start; also when the page's own script found `vega` ready. Prints the medians.

`benchmarks/bench.py` measures the whole page's draw time; this says where it goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import DRAWN_PROBE, chromium, offline_context  # noqa: E402

# Wraps Vega's parse and View.runAsync as the bundle defines `window.vega`: each parse
# starts a chart's entry (charts are drawn one at a time), each run is added to it.
PHASES_PROBE = DRAWN_PROBE + """
(() => {
  const phases = window.__phases = {ready: null, charts: []};
  let vega;
  Object.defineProperty(window, "vega", {configurable: true, get: () => vega, set: (v) => {
    vega = v;
    phases.ready = performance.now();
    const parse = v.parse;
    v.parse = function () {
      const start = performance.now();
      const out = parse.apply(this, arguments);
      phases.charts.push({parse: performance.now() - start, parsed: performance.now(), runs: []});
      return out;
    };
    const run = v.View.prototype.runAsync;
    v.View.prototype.runAsync = function () {
      const chart = phases.charts[phases.charts.length - 1];
      const start = performance.now();
      if (chart && chart.view === undefined) { chart.view = start - chart.parsed; }
      return run.apply(this, arguments).then((out) => {
        if (chart) { chart.runs.push(performance.now() - start); }
        return out;
      });
    };
  }});
})();
"""


def load(browser: object, page: Path, charts: int) -> dict:
    """One fresh load: when vega was ready, and each of the first `charts` charts' phases
    (in drawing order, with its key and when it was marked drawn)."""
    with offline_context(browser, PHASES_PROBE) as context:
        tab = context.new_page()  # type: ignore[attr-defined]
        tab.goto(page.resolve().as_uri(), wait_until="commit")
        tab.wait_for_function("""(n) => window.__drawn.error
            || Object.keys(window.__drawn.at).length >= n""", arg=charts, timeout=60_000)
        drawn = tab.evaluate("window.__drawn")
        phases = tab.evaluate("window.__phases")
    if drawn["error"]:
        msg = f"{page}: a chart failed to draw"
        raise SystemExit(msg)
    order = sorted(drawn["at"], key=drawn["at"].get)[:charts]
    return {"ready": phases["ready"],
            "charts": [{**chart, "key": key, "drawn": drawn["at"][key]}
                       for key, chart in zip(order, phases["charts"], strict=False)]}


def medians(loads: list[dict]) -> str:
    """The medians over `loads`, one line per chart, in milliseconds."""
    ms = lambda values: f"{statistics.median(values):.0f}"  # noqa: E731
    lines = [f"vega ready at {ms([one['ready'] for one in loads])} ms"]
    for number, chart in enumerate(loads[0]["charts"]):
        same = [one["charts"][number] for one in loads if len(one["charts"]) > number]
        runs = Counter(len(c["runs"]) for c in same).most_common(1)[0][0]
        run_times = [ms([c["runs"][i] for c in same if len(c["runs"]) > i]) for i in range(runs)]
        lines.append(f"{chart['key']}: parse {ms([c['parse'] for c in same])}, "
                     f"View {ms([c['view'] for c in same])}, "
                     f"{runs} run{'s' if runs != 1 else ''} {' + '.join(run_times)}, "
                     f"drawn at {ms([c['drawn'] for c in same])} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--charts", type=int, default=3)
    args = parser.parse_args(argv)
    with chromium() as browser:
        if browser is None:
            print("no Chromium (Debian's chromium and playwright are needed)", file=sys.stderr)
            return 1
        loads = [load(browser, args.page, args.charts) for _ in range(args.loads)]
    print(f"{args.page}, medians of {args.loads} loads (ms from navigation start):")
    print(medians(loads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
