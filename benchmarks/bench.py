"""Benchmark `python -m report` against the reference script, whole processes, side by side.

    python benchmarks/bench.py             # demo 12x200, 12x2,000, 48x5,000, 48x20,000
    python benchmarks/bench.py --quick     # 12x200 and 12x2,000 only, a minute or so
    python benchmarks/bench.py --sizes 48x20000 --repeat 3
    python benchmarks/bench.py --sizes 12x200 48x20000 --baseline 6a3fcd6 --parts 48x20000

Sweeps come from the project's own log generator (`python tests/simulate.py`) into
benchmarks/out/ (git-ignored), and are kept there for the next run. For each size this
measures, in one run:

- the reference script (`../shared/reference/plot_dynamics.py`, skipped with a note when
  absent) and `python -m report -q` as separate processes: wall time and peak memory.
  report runs three times: cold (an empty REPORT_CACHE_DIR), with the fixed costs cached
  (the JavaScript bundle kept, the pictures and compiled specs of these logs dropped: a
  new sweep on a machine that has made a report before) and warm (everything cached);
- parse throughput in MB/s of log bytes, each in a fresh process and timing only the
  parse: the reference's `parse_log` over the files, and `report.load_sweep` (the files
  to the tidy tables), in parallel as it runs by default and in one process (`jobs=1`);
- the HTML's size (and of it the JavaScript bundle and the chart specs), and how long
  headless Chromium (Debian's, driven by playwright, never a downloaded browser) takes
  from navigation start until the top charts are drawn, until every chart of the first
  screen is, and until every chart is, scrolling down the page (`Drawn`), and the CPU
  time of the page's main thread until then (on a shared machine the wall time also
  counts other processes).

With `--baseline REV` the same sweeps also go through the code of git revision REV,
checked out into a temporary `git worktree`, in the same run: its wall time with fixed
costs cached, its page's size and parts, and its draw time (page loads of the two
alternate, so both see the same machine).

The results go to BENCHMARKS.md (with the machine, the date and the command) and stdout.
This is a benchmark, not a test: nothing here fails when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "plot_dynamics.py"
SIMULATOR = ROOT / "tests" / "simulate.py"  # the tests' log generator
DEFAULT_SIZES = ("12x200", "12x2000", "48x5000", "48x20000")
QUICK_SIZES = ("12x200", "12x2000")
ARMS = ("vanilla", "static", "online", "routing")
DEMO = (12, 200)  # what `python -m report --demo` draws: 4 arms x 3 seeds x 200 steps

# The browser tests' Chromium and its hermetic flags (one definition for both).
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

# Runs before the page's own scripts: notes when (performance.now(), i.e. since navigation
# start) each figure.chart gets data-drawn="true" (set by templates/_embed.js once Vega
# has drawn it; "error" if it could not), and which figures are on the first screen.
# The page draws a chart only once it comes near the view: `__scrollThrough` scrolls
# down a screen at a time, each time as soon as the charts on screen are drawn.
DRAWN_PROBE = """
(() => {
  const drawn = window.__drawn = {at: {}, error: false, firstScreen: null};
  const figures = () => Array.from(document.querySelectorAll("figure.chart"));
  const onScreen = (f) => {
    const box = f.getBoundingClientRect();
    return box.bottom > 0 && box.top < innerHeight;
  };
  document.addEventListener("DOMContentLoaded", () => {
    drawn.firstScreen = figures().filter(onScreen).map((f) => f.dataset.chart);
  });
  new MutationObserver(() => figures().forEach((f) => {
    const state = f.getAttribute("data-drawn");
    if (state === "error") { drawn.error = true; }
    if (state === "true" && !(f.dataset.chart in drawn.at)) {
      drawn.at[f.dataset.chart] = performance.now();
    }
  })).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-drawn"],
  });
  window.__scrollThrough = async () => {
    const deadline = performance.now() + 60000;
    const settled = (f) => f.hasAttribute("data-drawn");
    const until = async (done) => {
      while (!done()) {
        if (performance.now() > deadline) { throw new Error("charts not drawn"); }
        await new Promise((next) => requestAnimationFrame(next));
      }
    };
    for (let y = 0; ; y += innerHeight) {
      scrollTo(0, y);
      await new Promise((next) => requestAnimationFrame(next));
      await until(() => figures().filter(onScreen).every(settled));
      if (y + innerHeight >= document.documentElement.scrollHeight) { break; }
    }
    await until(() => figures().every(settled));
  };
})();
"""
# The two charts at the top of the page, the ones issue 11's draw target names.
TOP_CHARTS = ("grid", "overlay")

# Targets of the issue, on the 2-core machine.
MAX_WALL_RATIO = 1 / 3
MAX_MEMORY = 1 << 30
MIN_PARSE_RATIO = 3.0
MAX_HTML = 4_000_000
LONG_STEPS = 5_000  # from here on every line is thinned: the page must stop growing
MAX_DRAW_SECONDS = 1.5
MAX_DEMO_DRAW_SECONDS = 1.0  # the 12-run page
MAX_DEMO_SECONDS = 2.0


@dataclass(frozen=True)
class Size:
    runs: int
    steps: int

    @property
    def name(self) -> str:
        return f"{self.runs}x{self.steps}"

    @property
    def title(self) -> str:
        demo = " (the demo)" if (self.runs, self.steps) == DEMO else ""
        return f"{self.runs} runs x {self.steps:,} steps{demo}"


def parse_size(text: str) -> Size:
    """`48x20000` (or `48x20,000`) -> Size; runs must split evenly over the four arms."""
    try:
        runs_text, steps_text = text.lower().replace(",", "").replace("_", "").split("x")
        size = Size(int(runs_text), int(steps_text))
    except ValueError:
        msg = f"size {text!r}: expected RUNSxSTEPS, e.g. 48x20000"
        raise argparse.ArgumentTypeError(msg) from None
    if size.runs < len(ARMS) or size.runs % len(ARMS) or size.steps < 1:
        msg = f"size {text!r}: runs must be a multiple of {len(ARMS)} (one run per arm x seed)"
        raise argparse.ArgumentTypeError(msg)
    return size


# --- processes: wall time and peak memory --------------------------------------------


@dataclass
class Process:
    """One measured process: wall seconds, peak RSS of its largest process (wait4's
    ru_maxrss covers the process and, separately, each child it reaped), the peak of the
    whole tree's proportional set size (sampled), exit code, the end of stderr, and the
    CPU seconds of the process and the children it reaped (wait4's user + system)."""

    seconds: float
    max_rss: int
    tree_pss: int
    returncode: int
    stderr: str = ""
    cpu: float = 0.0


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return found


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class _TreeSampler(threading.Thread):
    """Sums PSS over a process and its descendants every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            tree, todo = [], [self.pid]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo += _children(pid)
            self.peak = max(self.peak, sum(_pss(pid) for pid in tree))
            self.done.wait(self.interval)


def measure(
    argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Process:
    """Run `argv` to the end as its own process; time it and take its memory peaks."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        )
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        sampler.done.set()
        sampler.join()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")[-2000:]
    return Process(seconds, usage.ru_maxrss * 1024, sampler.peak, proc.returncode, stderr,
                   usage.ru_utime + usage.ru_stime)


def measure_best(argv: Sequence[str], repeat: int, env: dict[str, str] | None = None) -> Process:
    """The fastest of `repeat` runs (memory: the largest seen)."""
    return _best([measure(argv, env=env) for _ in range(max(repeat, 1))])


def _best(runs: Sequence[Process]) -> Process:
    """The fastest run, with the largest memory peaks seen in any."""
    best = min(runs, key=lambda p: p.seconds)
    best.max_rss = max(p.max_rss for p in runs)
    best.tree_pss = max(p.tree_pss for p in runs)
    return best


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def report_env(cache: Path, root: Path = ROOT) -> dict[str, str]:
    """The environment of a report process: its cache, and the code of `root`."""
    env = {"REPORT_CACHE_DIR": str(cache), "PYTHONPATH": str(root)}
    env.pop("REPORT_NO_CACHE", None)
    return env


# --- the sweeps ----------------------------------------------------------------------


def sweep_dir(work: Path, size: Size) -> Path:
    """The sweep's logs, generated by tests/simulate.py unless an identical one is there."""
    folder = work / "sweeps" / size.name
    simulator = SIMULATOR.read_bytes()
    stamp = hashlib.sha256(simulator + size.name.encode()).hexdigest()
    marker = folder / ".generated"
    if marker.is_file() and marker.read_text() == stamp:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(
        _python(str(SIMULATOR), str(folder), "--seeds", str(size.runs // len(ARMS)),
                "--steps", str(size.steps), "--arms", *ARMS),
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
        stdout=subprocess.DEVNULL,
    )
    marker.write_text(stamp)
    return folder


def log_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.log"))


# --- parse throughput ------------------------------------------------------------------

_REFERENCE_PARSE = """
import importlib.util, json, pathlib, sys, time
spec = importlib.util.spec_from_file_location("plot_dynamics", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
files = sorted(pathlib.Path(sys.argv[2]).glob("*.log"))
started = time.perf_counter()
runs = [module.parse_log(f) for f in files]
print(json.dumps(time.perf_counter() - started))
"""
_REPORT_PARSE = """
import json, sys, time
import report
import report.parse, report.tables  # load_sweep's imports, untimed as the reference's are
jobs = None if sys.argv[2] == "auto" else int(sys.argv[2])
started = time.perf_counter()
sweep = report.load_sweep(sys.argv[1], jobs=jobs)
print(json.dumps(time.perf_counter() - started))
"""


def parse_seconds(script: str, args: Sequence[str], repeat: int) -> float:
    """The fastest of `repeat` fresh processes, each timing only its parse."""
    times = []
    for _ in range(max(repeat, 1)):
        out = subprocess.run(
            _python("-c", script, *args), cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


# --- the browser -----------------------------------------------------------------------


@contextlib.contextmanager
def chromium() -> Iterator[object | None]:
    """Headless Debian Chromium with a throwaway profile, or None (and why) if missing."""
    if not CHROMIUM.is_file():
        yield None
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as home:
        env: dict[str, str | float | bool] = {
               "HOME": home, "XDG_CONFIG_HOME": f"{home}/.config",
               "XDG_CACHE_HOME": f"{home}/.cache", "TMPDIR": home,
               "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, env=env,
                args=[*CHROMIUM_ARGS, f"--crash-dumps-dir={home}"],
            )
            try:
                yield browser
            finally:
                browser.close()


@dataclass
class Drawn:
    """A page's draw times, medians over its loads, in seconds from navigation start:
    until the top charts (`TOP_CHARTS`) are drawn (`top`), until every chart on the first
    screen is (`screen`), and until every chart is, the page scrolled down a screen at a
    time as soon as the charts on screen were drawn (`wall`); and the CPU time the main
    thread spent in tasks until then (`busy`, Chromium's TaskDuration in thread time:
    what the page itself costs, which other processes on a shared machine inflate far
    less than the wall time)."""

    top: float
    screen: float
    wall: float
    busy: float


def draw_seconds(browser: object, pages: Sequence[Path], repeat: int) -> list[Drawn | str]:
    """Each page's `Drawn` over `repeat` fresh loads; the pages' loads alternate, so each
    sees the same machine. A string says why a page has no number."""
    times: list[list[tuple[float, ...]]] = [[] for _ in pages]
    failed: dict[int, str] = {}
    for _ in range(max(repeat, 1)):
        for number, html in enumerate(pages):
            if number in failed:
                continue
            drawn = _load(browser, html)
            if drawn is None:
                failed[number] = "a chart failed to draw"
            else:
                times[number].append(drawn)
    return [failed.get(n) or Drawn(*(statistics.median(column) for column in zip(*t, strict=True)))
            for n, t in enumerate(times)]


@contextlib.contextmanager
def offline_context(browser: object, init_script: str) -> Iterator[object]:
    """A fresh browser context, 1280 x 900, that fetches nothing but the page's file (and
    data: and blob: URLs) and runs `init_script` before each page's own scripts; closed
    afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    try:
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(("file:", "data:", "blob:"))
                      else route.abort())
        context.add_init_script(init_script)
        yield context
    finally:
        context.close()


def _load(browser: object, html: Path) -> tuple[float, float, float, float] | None:
    """One fresh load of `html`: `Drawn`'s four figures, or None if a chart failed."""
    with offline_context(browser, DRAWN_PROBE) as context:
        page = context.new_page()  # type: ignore[attr-defined]
        devtools = context.new_cdp_session(page)  # type: ignore[attr-defined]
        devtools.send("Performance.enable", {"timeDomain": "threadTicks"})  # CPU time
        page.goto(html.resolve().as_uri(), wait_until="commit")
        page.wait_for_function("""(top) => { const drawn = window.__drawn;
            return drawn.error || (drawn.firstScreen !== null
              && [...top, ...drawn.firstScreen].every((key) => key in drawn.at)); }""",
                               arg=list(TOP_CHARTS), timeout=60_000)
        if not page.evaluate("window.__drawn.error"):
            page.evaluate("window.__scrollThrough()")
        drawn = page.evaluate("window.__drawn")
        metrics = devtools.send("Performance.getMetrics")["metrics"]
        busy = next(m["value"] for m in metrics if m["name"] == "TaskDuration")
        if drawn["error"]:
            return None
        at = drawn["at"]
        return (max(at[key] for key in TOP_CHARTS) / 1000,
                max(at[key] for key in drawn["firstScreen"]) / 1000,
                max(at.values()) / 1000, float(busy))


# --- a baseline revision -----------------------------------------------------------------


@contextlib.contextmanager
def baseline_tree(revision: str | None) -> Iterator[Path | None]:
    """`revision` checked out into a temporary git worktree (removed afterwards), or None."""
    if not revision:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as parent:
        tree = Path(parent) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                        str(tree), revision], check=True)
        try:
            _check_imports_from(tree)
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False)


def _check_imports_from(tree: Path) -> None:
    """Fail unless a report process run as the baseline's are imports `tree`'s code (an
    installed or editable copy elsewhere must not stand in for it)."""
    found = subprocess.run(
        _python("-c", "import report; print(report.__file__)"), cwd=tree, check=True,
        env={**os.environ, **report_env(tree / "unused-cache", tree)},
        capture_output=True, text=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        msg = f"the baseline would run {found}, not the code in {tree}"
        raise RuntimeError(msg)


@dataclass
class Page:
    """What a page is made of: its bytes, and of them the JavaScript bundle (the largest
    inline script) and the chart specs (the JSON block)."""

    html_bytes: int = 0
    js_bytes: int = 0
    spec_bytes: int = 0
    draw: Drawn | str = "not measured"

    @classmethod
    def of(cls, html: Path) -> Page:
        if not html.is_file():
            return cls()
        text = html.read_text(encoding="utf-8")
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.S)
        code = [len(body.encode()) for attributes, body in scripts if "type=" not in attributes]
        specs = [len(body.encode()) for attributes, body in scripts if "chart-specs" in attributes]
        return cls(len(text.encode()), max(code, default=0), sum(specs))


@dataclass
class Baseline:
    """The same sweep made by the code of another revision."""

    revision: str
    fixed_cached: Process | None = None
    page: Page = field(default_factory=Page)


# --- one size --------------------------------------------------------------------------


@dataclass
class Result:
    size: Size
    megabytes: float
    reference: Process | None = None
    cold: Process | None = None
    fixed_cached: Process | None = None
    warm: Process | None = None
    demo_warm: Process | None = None
    parse_reference: float | None = None
    parse_report: float | None = None
    parse_report_one: float | None = None
    page: Page = field(default_factory=Page)
    series_bytes: int = 0  # of which the tidy series riding inside the page (a data: URI)
    baseline: Baseline | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def html_bytes(self) -> int:
        return self.page.html_bytes

    @property
    def draw(self) -> Drawn | str:
        return self.page.draw


def bench_size(
    size: Size, work: Path, reference: Path | None, browser: object | None, repeat: int,
    baseline: tuple[str, Path] | None = None,
) -> Result:
    logs = sweep_dir(work, size)
    result = Result(size, log_bytes(logs) / 1e6)
    out = work / "runs" / size.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(f"== {size.title}: {result.megabytes:.1f} MB of logs", file=sys.stderr)

    if reference is not None:
        result.reference = measure_best(
            _python(str(reference), str(logs), "--out", str(out / "reference" / "dynamics.png")),
            repeat,
        )
        result.parse_reference = parse_seconds(
            _REFERENCE_PARSE, [str(reference), str(logs)], max(repeat, 3)
        )

    html = out / "report" / "index.html"
    base_html = out / "baseline" / "index.html"
    command = _python("-m", "report", str(logs), "-o", str(html), "-q")
    base_command = _python("-m", "report", str(logs), "-o", str(base_html), "-q")
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache_root:
        colds, fixeds, warms, base_fixeds = [], [], [], []
        for attempt in range(max(repeat, 1)):
            cache = Path(cache_root) / f"cache-{attempt}"
            colds.append(measure(command, env=report_env(cache)))
            # A new sweep on a used machine: the bundle stays, this sweep's entries go.
            drop_sweep_entries(cache)
            fixeds.append(measure(command, env=report_env(cache)))
            warms.append(measure(command, env=report_env(cache)))
            if baseline is not None:
                base_fixeds.append(_fixed_cached(base_command, Path(cache_root) /
                                                 f"baseline-{attempt}", baseline[1]))
        result.cold, result.fixed_cached, result.warm = (
            _best(colds), _best(fixeds), _best(warms)
        )
        if baseline is not None:
            result.baseline = Baseline(baseline[0], _best(base_fixeds))
        if (size.runs, size.steps) == DEMO:
            demo_html = out / "demo" / "index.html"
            demo = _python("-m", "report", "--demo", "-o", str(demo_html), "-q")
            measure(demo, env=report_env(cache))  # its own pictures, once
            result.demo_warm = measure_best(demo, max(repeat, 3), env=report_env(cache))
    _note_failures(result, reference)

    result.parse_report = parse_seconds(_REPORT_PARSE, [str(logs), "auto"], max(repeat, 3))
    result.parse_report_one = parse_seconds(_REPORT_PARSE, [str(logs), "1"], max(repeat, 3))
    result.page = Page.of(html)
    result.series_bytes = embedded_series_bytes(html)
    pages = {html: result.page}
    if result.baseline is not None:
        result.baseline.page = pages[base_html] = Page.of(base_html)
    _draw_pages(browser, pages)
    return result


def _draw_pages(browser: object | None, pages: dict[Path, Page]) -> None:
    """Each page's draw time (`draw_seconds`), or why there is none."""
    made = {html: page for html, page in pages.items() if html.is_file()}
    if browser is None:
        for page in made.values():
            page.draw = "no browser"
        return
    drawn = draw_seconds(browser, list(made), 3)
    for page, seconds in zip(made.values(), drawn, strict=True):
        page.draw = seconds


def _fixed_cached(command: list[str], cache: Path, root: Path) -> Process:
    """A run of `command` with the code of `root` (run from there: `python -m` looks in
    the current folder first), its fixed costs (the bundle) cached by a first, unmeasured
    run whose pictures and compiled specs are then dropped."""
    measure(command, env=report_env(cache, root), cwd=root)
    drop_sweep_entries(cache)
    return measure(command, env=report_env(cache, root), cwd=root)


def drop_sweep_entries(cache: Path) -> None:
    """What the cache holds of one sweep (its pictures and compiled specs), so that the
    next run is one of a new sweep on a machine that has made a report before."""
    for folder in ("renders", "specs"):
        shutil.rmtree(cache / folder, ignore_errors=True)


def _note_failures(result: Result, reference: Path | None) -> None:
    runs = [("cold", result.cold), ("warm", result.warm)]
    if result.baseline is not None:
        runs.append((f"baseline {result.baseline.revision}", result.baseline.fixed_cached))
    for name, proc in runs:
        if proc is not None and proc.returncode != 0:
            result.notes.append(f"report ({name}) exited {proc.returncode}: {proc.stderr}")
    if reference is not None and result.reference and result.reference.returncode != 0:
        result.notes.append(f"reference exited {result.reference.returncode}")


def embedded_series_bytes(html: Path) -> int:
    """Bytes of the page that are the tidy series download (small sweeps carry it inside,
    up to a fixed size; bigger ones write it beside the page or leave it out)."""
    if not html.is_file():
        return 0
    text = html.read_text(encoding="utf-8")
    at = text.find('download="series.csv.gz"')
    start = text.rfind('href="data:', 0, at) if at >= 0 else -1
    if start < 0:
        return 0
    return text.find('"', start + len('href="')) - start


# --- --watch: a rebuild after an append, and logs over HTTP -----------------------------

REBUILD_ROWS = 100  # rows appended to one run before the rebuild
REBUILD_RUN = ("vanilla", 1)  # the run they are appended to (demo_vanilla_s1.log)


@dataclass
class Rebuilt:
    """`--watch` on one sweep, timed in one process (the fastest of the repeats): a full
    run for comparison, the rebuild after an append and its parts, the first read, and
    the logs read from a local HTTP server. Seconds of wall time, and of CPU time of
    every process involved (the machine may be shared: CPU time says the cost)."""

    size: Size
    full: float = 0.0  # `python -m report`: read every log, build, write
    full_cpu: float = 0.0
    rebuild: float = 0.0  # scan, read what changed, tables, build, write
    rebuild_cpu: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    read_all: float = 0.0  # `load_sweep` of every log (parallel), for comparison
    read_all_cpu: float = 0.0
    first_read: float = 0.0  # --watch's first read of every log (followers, threads)
    first_read_cpu: float = 0.0
    http_read: float = 0.0  # load_sweep of the folder's URL
    notes: list[str] = field(default_factory=list)


def _cpu() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@contextlib.contextmanager
def _timed(took: dict[str, float], key: str) -> Iterator[None]:
    started, cpu = time.perf_counter(), _cpu()
    yield
    took[key], took[f"{key}_cpu"] = time.perf_counter() - started, _cpu() - cpu


def rebuild_child(logs: str, out: str, url: str) -> None:
    """In a fresh process (`bench_rebuild` starts it), with the JavaScript bundle cached
    and no pictures or compiled specs of these logs: time `python -m report` on the logs,
    then a watch's rebuild after `REBUILD_ROWS` rows are appended to one run, then reading
    every log (`load_sweep`, the watch's first read, over HTTP); print the seconds as
    JSON."""
    import json

    sys.path.insert(0, str(ROOT / "tests"))
    import simulate  # the appended rows come from the generator, as the logs did

    import report
    from report import export
    from report.build import Options, build_report
    from report.output import write_report
    from report.watch import Watcher

    export.javascript_bundle()  # a fixed cost, cached on a machine that made a report before
    folder, took = Path(logs), dict[str, float]()
    with _timed(took, "full"):
        subprocess.run(_python("-m", "report", str(folder), "-o",
                               str(Path(out) / "full" / "index.html"), "-q"), check=True)
    watcher = Watcher([str(folder)], Path(out) / "watch" / "index.html", interval=0.1,
                      events=False)
    with _timed(took, "first_read"):
        sweep = watcher.load()
    options = watcher.watching(Options())
    write_report(build_report(sweep, options), watcher.output)  # the watch's first report
    arm, seed = REBUILD_RUN
    steps = int(sweep.runs["steps"].max())
    longer = simulate.simulate_run(arm, seed, steps + REBUILD_ROWS).data
    at = longer.rfind(b"\n", 0, longer.index(f"| {steps}  ".encode())) + 1
    with (folder / f"demo_{arm}_s{seed}.log").open("ab") as fh:
        fh.write(longer[at:])  # its rows from step `steps` on, and the lines after them
    with _timed(took, "rebuild"):
        rebuilt = watcher.step(options, "event")
    assert rebuilt is not None, "no rebuild after the append"
    took.update({f"part_{k}": v for k, v in rebuilt.timings.items()})
    with _timed(took, "read_all"):
        report.load_sweep([str(folder)])
    started = time.perf_counter()
    remote_sweep = report.load_sweep([url])
    took["http_read"] = time.perf_counter() - started
    assert len(remote_sweep.runs) == len(sweep.runs)
    print(json.dumps({**took, "changes": rebuilt.changes}))


@contextlib.contextmanager
def http_server(folder: Path) -> Iterator[str]:
    """`python -m http.server` serving `folder` on 127.0.0.1, as its own process."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        _python("-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                str(folder)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait()


def bench_rebuild(size: Size, work: Path, repeat: int) -> Rebuilt:
    """`rebuild_child` in fresh processes (a copy of the sweep each time, a cache with
    only the JavaScript bundle in it): the fastest of `repeat`."""
    import json

    logs = sweep_dir(work, size)
    result = Rebuilt(size)
    print(f"== --watch on {size.title}: full build vs rebuild after {REBUILD_ROWS} rows",
          file=sys.stderr)
    runs = []
    for attempt in range(max(repeat, 1)):
        place = work / "rebuild" / f"{size.name}-{attempt}"
        shutil.rmtree(place, ignore_errors=True)
        shutil.copytree(logs, place / "logs", ignore=shutil.ignore_patterns(".generated"))
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache, \
                http_server(logs) as url:
            out = subprocess.run(
                _python("-c", "import sys; sys.path.insert(0, sys.argv[1]); import bench; "
                        "bench.rebuild_child(*sys.argv[2:])", str(ROOT / "benchmarks"),
                        str(place / "logs"), str(place / "out"), url),
                cwd=ROOT, capture_output=True, text=True, env={**os.environ,
                                                               **report_env(Path(cache))},
            )
        shutil.rmtree(place, ignore_errors=True)
        if out.returncode != 0:
            result.notes.append(f"the rebuild benchmark failed: {out.stderr[-1500:]}")
            return result
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["rebuild"])
    for key in ("full", "rebuild", "read_all", "first_read"):
        setattr(result, key, min(r[key] for r in runs))
        setattr(result, f"{key}_cpu", min(r[f"{key}_cpu"] for r in runs))
    result.http_read = min(r["http_read"] for r in runs)
    result.parts = {k.removeprefix("part_"): v for k, v in best.items() if k.startswith("part_")}
    result.changes = best["changes"]
    return result


def rebuild_section(r: Rebuilt, megabytes: float) -> str:
    """The write-up's `--watch` section."""
    parts = r.parts
    rows = [
        ("a full run: `python -m report` (read every log, build, write)", r.full, r.full_cpu),
        (f"rebuild after {REBUILD_ROWS} rows appended to one run ({', '.join(r.changes)})",
         r.rebuild, r.rebuild_cpu),
        ("... finding and reading what changed (a scan of every file, the appended bytes)",
         parts.get("read"), None),
        ("... the tables (every run joined again, EMA, tidy series)", parts.get("tables"), None),
        ("... the report (summary, charts, pictures at 1x, page)", parts.get("build"), None),
        ("... writing it (all or nothing)", parts.get("write"), None),
        ("for comparison: reading every log (`load_sweep`, parse workers)", r.read_all,
         r.read_all_cpu),
        ("first read when `--watch` starts (every log followed, in threads)", r.first_read,
         r.first_read_cpu),
        (f"every log read over HTTP (`python -m http.server` on 127.0.0.1, {megabytes:.0f} MB)",
         r.http_read, None),
    ]
    lines = [
        f"## `--watch`: a rebuild after an append ({r.size.title})",
        "",
        "In one fresh process per repeat, with the JavaScript bundle cached and no "
        "pictures or compiled specs of these logs: a full run of `python -m report`, then "
        "`--watch`'s first read and first report, then one rebuild after appending rows "
        "to one run (its pictures drawn anew: the data changed; while watching, the PNGs "
        "beside the page are drawn at 1x), then every log read again, from the disk and "
        "from a local HTTP server. Wall time, and CPU time of every process involved "
        "(parse workers included), the fastest of the repeats.",
        "",
        "| measure | wall | CPU |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {_seconds(wall)} | {_seconds(cpu)} |" for name, wall, cpu in rows),
    ]
    if r.full and r.full_cpu:
        lines += ["", f"The rebuild costs {r.rebuild / r.full:.0%} of a full run's wall time "
                  f"and {r.rebuild_cpu / r.full_cpu:.0%} of its CPU time."]
    lines += [f"\nNote: {n}" for n in r.notes]
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


# --- the write-up ----------------------------------------------------------------------


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def _s(proc: Process | None) -> str:
    return "-" if proc is None else f"{proc.seconds:.2f} s"


def _mem(proc: Process | None) -> str:
    if proc is None:
        return "-"
    return f"{_mb(proc.max_rss)} ({_mb(proc.tree_pss)})"


def _rate(megabytes: float, seconds: float | None) -> str:
    return "-" if not seconds else f"{megabytes / seconds:,.0f} MB/s ({seconds:.2f} s)"


def _draw_text(draw: Drawn | str, field: str) -> str:
    if not isinstance(draw, Drawn):
        return str(draw)
    return f"{getattr(draw, field):.2f} s"


def _page_rows(r: Result) -> list[tuple[str, str, str, str]]:
    """The page's rows: (measure, reference, baseline, report)."""
    base = r.baseline.page if r.baseline else Page(draw="")

    def mb(n: int) -> str:
        return f"{n / 1e6:.2f} MB" if n else ""

    def drawn(label: str, field: str) -> tuple[str, str, str, str]:
        return (label, "-", _draw_text(base.draw, field), _draw_text(r.draw, field))

    return [
        ("HTML size (of which the embedded tidy series)", "-", mb(base.html_bytes),
         f"{r.html_bytes / 1e6:.2f} MB ({r.series_bytes / 1e6:.2f} MB)"),
        ("of it, the JavaScript bundle", "-", mb(base.js_bytes), mb(r.page.js_bytes)),
        ("of it, the chart specs", "-", mb(base.spec_bytes), mb(r.page.spec_bytes)),
        drawn("top charts (grid, overlay) drawn in Chromium (median of 3 loads)", "top"),
        drawn("every chart of the first screen drawn (median)", "screen"),
        drawn("every chart drawn, scrolling down a screen at a time (median)", "wall"),
        drawn("its main thread's CPU time until then (median)", "busy"),
    ]


def size_table(r: Result) -> str:
    ref, cold = r.reference, r.cold
    base = r.baseline.fixed_cached if r.baseline else None
    rows = [
        ("wall time, cold cache", _s(ref), "", _s(cold)),
        ("wall time, fixed costs cached (new logs)", "", _s(base) if base else "",
         _s(r.fixed_cached)),
        ("wall time, warm (same logs again)", "", "", _s(r.warm)),
    ]
    if r.demo_warm is not None:
        rows.append(("wall time, `--demo`, warm", "", "", _s(r.demo_warm)))
    report_mem = max((p for p in (r.cold, r.fixed_cached, r.warm) if p),
                     key=lambda p: p.max_rss, default=None)
    rows += [
        ("peak memory: largest process (whole tree, PSS)", _mem(ref),
         _mem(base) if base else "", _mem(report_mem)),
        ("parse throughput", _rate(r.megabytes, r.parse_reference), "",
         _rate(r.megabytes, r.parse_report) + " parallel"),
        ("parse throughput, one process", "", "", _rate(r.megabytes, r.parse_report_one)),
        *_page_rows(r),
    ]
    if r.baseline is None:
        header = ["| measure | reference | report |", "| --- | ---: | ---: |"]
        body = [f"| {a} | {b} | {d} |" for a, b, _, d in rows]
    else:
        header = [f"| measure | reference | baseline `{r.baseline.revision}` | report |",
                  "| --- | ---: | ---: | ---: |"]
        body = [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines = [f"### {r.size.title}, {r.megabytes:.1f} MB of logs", "", *header, *body]
    if r.reference is None:
        lines.append("\nThe reference script was not found, so it was not run.")
    lines += [f"\nNote: {n}" for n in r.notes]
    return "\n".join(lines)


def targets(results: Sequence[Result]) -> list[str]:
    """One line per target of the issue: met or not, with the numbers."""
    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    by_name = {r.size.name: r for r in results}
    lines = []
    big = by_name.get("48x20000")
    if big is None:
        lines.append("- 48 x 20,000 targets: not measured in this run (size not selected).")
    else:
        ref = big.reference
        if ref is None or big.cold is None or big.fixed_cached is None:
            lines.append("- end-to-end at most 1/3 of the reference: not measured "
                         "(no reference script).")
        else:
            limit = ref.seconds * MAX_WALL_RATIO
            for label, proc in (("cold cache", big.cold),
                                ("fixed costs cached", big.fixed_cached)):
                lines.append(
                    f"- 48 x 20,000 end-to-end at most 1/3 of the reference ({label}): "
                    f"{verdict(proc.seconds <= limit)}: {proc.seconds:.2f} s vs "
                    f"{ref.seconds:.2f} s / 3 = {limit:.2f} s "
                    f"({ref.seconds / proc.seconds:.1f}x faster)"
                )
        runs = [p for p in (big.cold, big.fixed_cached, big.warm) if p]
        rss = max(p.max_rss for p in runs)
        pss = max(p.tree_pss for p in runs)
        lines.append(
            f"- 48 x 20,000 peak memory under 1 GB: {verdict(max(rss, pss) < MAX_MEMORY)}: "
            f"largest process {_mb(rss)}, whole process tree {_mb(pss)} (PSS)"
        )
        if big.parse_reference and big.parse_report:
            ratio = big.parse_reference / big.parse_report
            lines.append(
                f"- 48 x 20,000 parse throughput at least 3x the reference's: "
                f"{verdict(ratio >= MIN_PARSE_RATIO)}: "
                f"{big.megabytes / big.parse_report:,.0f} vs "
                f"{big.megabytes / big.parse_reference:,.0f} MB/s ({ratio:.1f}x; "
                f"one process: {big.parse_reference / (big.parse_report_one or 1):.1f}x)"
            )
    sizes = [r for r in results if r.html_bytes]
    if sizes:
        largest = max(sizes, key=lambda r: r.html_bytes)
        shown = ", ".join(f"{r.size.name}: {r.html_bytes / 1e6:.2f} MB" for r in sizes)
        lines.append(f"- HTML at most 4 MB at every size: "
                     f"{verdict(largest.html_bytes <= MAX_HTML)}: {shown}")
        by_runs: dict[int, list[Result]] = {}
        for r in sizes:
            by_runs.setdefault(r.size.runs, []).append(r)
        for n_runs, group in sorted(by_runs.items()):
            if len(group) < 2:
                continue
            shorter, longer = sorted(group, key=lambda r: r.size.steps)[-2:]
            growth = (longer.html_bytes - longer.series_bytes) / (
                shorter.html_bytes - shorter.series_bytes)
            span = f"{n_runs} runs, {shorter.size.steps:,} -> {longer.size.steps:,} steps"
            if shorter.size.steps >= LONG_STEPS:
                lines.append(f"- page size grows with runs, not steps ({span}): "
                             f"{verdict(growth < 1.1)}: x{growth:.2f}")
            else:  # lines shorter than the point budget are drawn whole: no verdict
                lines.append(f"- (for information: {span}: x{growth:.2f}; below "
                             f"{LONG_STEPS:,} steps lines are drawn whole)")
    lines += _draw_targets(results)
    demo = by_name.get(f"{DEMO[0]}x{DEMO[1]}")
    if demo is not None and demo.warm is not None:
        worst = max(p.seconds for p in (demo.warm, demo.demo_warm) if p)
        lines.append(
            f"- 12-run demo end-to-end under 2 s, warm: {verdict(worst < MAX_DEMO_SECONDS)}: "
            f"logs {demo.warm.seconds:.2f} s, `--demo` "
            f"{demo.demo_warm.seconds if demo.demo_warm else float('nan'):.2f} s"
        )
    return lines


def _draw_targets(results: Sequence[Result]) -> list[str]:
    """The draw-time targets, on the top charts (`TOP_CHARTS`): every page within 1.5 s,
    a 12-run page within 1.0 s."""
    drawn = [(r, r.draw.top) for r in results if isinstance(r.draw, Drawn)]
    lines = []
    for label, limit, chosen in (
        ("top charts drawn in Chromium within 1.5 s of load", MAX_DRAW_SECONDS, drawn),
        ("a 12-run page's top charts drawn in Chromium within 1.0 s of load",
         MAX_DEMO_DRAW_SECONDS,
         [(r, seconds) for r, seconds in drawn if r.size.runs == DEMO[0]]),
    ):
        if chosen:
            slowest = max(seconds for _, seconds in chosen)
            shown = ", ".join(f"{r.size.name}: {seconds:.2f} s" for r, seconds in chosen)
            verdict = "**met**" if slowest <= limit else "**not met**"
            lines.append(f"- {label}: {verdict}: {shown}")
    return lines


def _load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "unknown"


def machine(load_before: str) -> list[str]:
    import importlib.metadata as md

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f"{kb / 1024 / 1024:.0f} GiB"
    system = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    versions = []
    for package in ("altair", "vl-convert-python", "pandas", "numpy", "jinja2",
                    "matplotlib", "loguru", "playwright"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions.append(f"{package} {md.version(package)}")
    browser = "not found"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        browser = subprocess.run([str(CHROMIUM), "--version"], capture_output=True,
                                 text=True, timeout=30).stdout.strip() or browser
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; RAM: {ram}",
        f"- Load average over the last minute, before the run: {load_before}; after: "
        f"{_load_average()} (the machine is shared: other processes count too)",
        f"- OS: {system}",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
        f"- Browser: {browser}",
    ]


PARTS = ROOT / "benchmarks" / "parts.py"


def parts_section(size: Size, work: Path, rounds: int) -> list[str]:
    """What each part of the picture layer buys on one sweep (benchmarks/parts.py, run
    with this checkout's code), as a Markdown section."""
    found = json.loads(subprocess.run(
        _python(str(PARTS), str(sweep_dir(work, size)), "--rounds", str(rounds)),
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
        capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1])
    lines = [
        f"## What each part of the picture layer buys ({size.title})",
        "",
        f"`python benchmarks/parts.py LOGS --rounds {rounds}` (in one process: every variant "
        "of a round in turn, the fastest of the rounds, median in brackets):",
        "",
        "| chart | variant | seconds |",
        "| --- | --- | ---: |",
    ]
    for key in found:
        for variant, value in found[key].items():
            if "min" in value:
                shown = f"{value['min']:.2f} ({value['median']:.2f})"
            else:
                shown = ", ".join(f"{k} {v / 1e3:,.0f} KB" for k, v in value.items())
            lines.append(f"| {key} | {variant} | {shown} |")
    return [*lines, ""]


def write_up(
    results: Sequence[Result], command: str, started: datetime, repeat: int,
    load_before: str = "unknown", note: str = "", parts: Sequence[str] = (),
) -> str:
    sections = [
        "# Benchmarks",
        "",
        "`python -m report` against the reference script (`plot_dynamics.py`, matplotlib), "
        "each as a whole process, measured side by side in one run by "
        "`benchmarks/bench.py` on sweeps written by `python tests/simulate.py`. "
        "Wall times are whole processes (interpreter start included)"
        + (f", the fastest of {repeat} runs of each kind" if repeat > 1 else "")
        + ". report runs cold "
        "(empty cache), with its fixed costs cached (the JavaScript bundle kept, no "
        "pictures or compiled specs of these logs: a new sweep on a machine that has made a "
        "report before) and warm (the same logs again). Peak memory: the largest single process "
        "(`ru_maxrss`), and in brackets the whole process tree's proportional set size "
        "(parse workers included), sampled every 50 ms. Parse throughput: MB of log "
        "files per second in a fresh process, timing only the parse: the reference's "
        "`parse_log` over the files, report's `load_sweep` (files to tidy tables, EMA "
        "included; parse workers started), each after its modules are imported. Page "
        "drawn: medians of three loads in headless Chromium at 1280 x 900, "
        "from navigation start until a chart's `figure.chart` has `data-drawn=\"true\"`: "
        "the top charts (the grid and the overlay, issue 11's target), every chart of the "
        "first screen, and every chart (the page draws a chart as it comes near the view: "
        "scrolled down a screen at a time, each time as soon as the charts on screen were "
        "drawn), and the CPU time of the page's main thread until then (Chromium's "
        "TaskDuration in thread time: the page's own cost, which other processes on the "
        "machine inflate far less). Page "
        "growth leaves out the tidy series that small pages carry as a download "
        "(at most 1.5 MB gzipped). With `--baseline REV`, the same logs also go through "
        "the code of revision REV (a temporary git worktree) in the same run: its wall "
        "time with fixed costs cached, its page and its draw time, loads of the two pages "
        "alternating.",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC with:",
        "",
        "```sh",
        command,
        "```",
        "",
        "## Machine",
        "",
        *machine(load_before),
        *([f"- {note}"] if note else []),
        "",
        "## Targets",
        "",
        *targets(results),
        "",
        "## Results",
        "",
    ]
    for r in results:
        sections += [size_table(r), ""]
    return "\n".join([*sections, *parts])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python benchmarks/bench.py",
        description="Benchmark python -m report against the reference script.",
    )
    ap.add_argument("--sizes", nargs="+", type=parse_size, metavar="RUNSxSTEPS",
                    help=f"sweep sizes (default: {' '.join(DEFAULT_SIZES)})")
    ap.add_argument("--quick", action="store_true",
                    help=f"only {' and '.join(QUICK_SIZES)} (ignored with --sizes)")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="take the fastest of N runs of each kind (memory: the largest); "
                    "parse timings always take the best of at least 3 (default: 1)")
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out",
                    help="where sweeps and outputs go (default: benchmarks/out)")
    ap.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                    help="the reference script (default: ../shared/reference/plot_dynamics.py)")
    ap.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md",
                    help="the Markdown write-up (default: BENCHMARKS.md)")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium timing")
    ap.add_argument("--baseline", metavar="REV",
                    help="also measure the code of git revision REV (checked out into a "
                    "temporary worktree): wall time with fixed costs cached, page, draw time")
    ap.add_argument("--parts", type=parse_size, metavar="RUNSxSTEPS",
                    help="also measure what each part of the picture layer buys on this "
                    "sweep (benchmarks/parts.py)")
    ap.add_argument("--parts-rounds", type=int, default=3, metavar="N",
                    help="rounds of --parts; each variant's fastest counts (default: 3)")
    ap.add_argument("--note", default="",
                    help="a sentence for the write-up, e.g. what else the machine was running")
    args = ap.parse_args(argv)
    sizes = args.sizes or [parse_size(s) for s in (QUICK_SIZES if args.quick else DEFAULT_SIZES)]
    reference: Path | None = args.reference
    if reference is not None and not reference.is_file():
        print(f"note: {reference} not found; the reference is skipped", file=sys.stderr)
        reference = None
    started = datetime.now(tz=UTC)
    shown_argv = argv if argv is not None else sys.argv[1:]
    command = " ".join(["python benchmarks/bench.py", shlex.join(shown_argv)])
    results = []
    load_before = _load_average()
    browser_context = contextlib.nullcontext(None) if args.no_browser else chromium()
    with browser_context as browser, baseline_tree(args.baseline) as tree:
        baseline = (args.baseline, tree) if tree is not None else None
        for size in sizes:
            results.append(bench_size(size, args.work, reference, browser, args.repeat,
                                      baseline))
    parts = parts_section(args.parts, args.work, args.parts_rounds) if args.parts else []
    text = write_up(results, command, started, args.repeat, load_before, args.note, parts)
    largest = max(results, key=lambda r: r.size.runs * r.size.steps)
    rebuilt = bench_rebuild(largest.size, args.work, args.repeat)
    text += "\n\n" + rebuild_section(rebuilt, largest.megabytes)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
