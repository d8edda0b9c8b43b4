"""Benchmark `python -m report` against the reference script, whole processes, side by side.

    python benchmarks/bench.py             # demo 12x200, 12x2,000, 48x5,000, 48x20,000
    python benchmarks/bench.py --quick     # 12x200 and 12x2,000 only, a minute or so
    python benchmarks/bench.py --sizes 48x20000 --repeat 3

Sweeps come from the project's own log generator (`python tests/simulate.py`) into
benchmarks/out/ (git-ignored), and are kept there for the next run. For each size this
measures, in one run:

- the reference script (`../shared/reference/plot_dynamics.py`, skipped with a note when
  absent) and `python -m report -q` as separate processes: wall time and peak memory.
  report runs three times: cold (an empty REPORT_CACHE_DIR), with the fixed costs cached
  (the JavaScript bundle kept, the rendered pictures of these logs dropped: a new sweep
  on a machine that has made a report before) and warm (everything cached);
- parse throughput in MB/s of log bytes, each in a fresh process and timing only the
  parse: the reference's `parse_log` over the files, and `report.load_sweep` (the files
  to the tidy tables), in parallel as it runs by default and in one process (`jobs=1`);
- the HTML's size, and how long headless Chromium (Debian's, driven by playwright, never a
  downloaded browser) takes from navigation start until every chart is drawn.

The results go to BENCHMARKS.md (with the machine, the date and the command) and stdout.
This is a benchmark, not a test: nothing here fails when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
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

# Runs before the page's own scripts: note the moment (performance.now(), i.e. since
# navigation start) when every figure.chart carries data-drawn="true" (set by
# templates/_embed.js once vega-embed has drawn it), or "error".
DRAWN_PROBE = """
(() => {
  const check = () => {
    const figures = Array.from(document.querySelectorAll("figure.chart"));
    if (!figures.length || window.__drawn !== undefined) { return; }
    const states = figures.map((f) => f.getAttribute("data-drawn"));
    if (states.includes("error")) { window.__drawn = "error"; }
    else if (states.every((s) => s === "true")) { window.__drawn = performance.now(); }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-drawn"],
  });
})();
"""

# Targets of the issue, on the 2-core machine.
MAX_WALL_RATIO = 1 / 3
MAX_MEMORY = 1 << 30
MIN_PARSE_RATIO = 3.0
MAX_HTML = 4_000_000
LONG_STEPS = 5_000  # from here on every line is thinned: the page must stop growing
MAX_DRAW_SECONDS = 1.5
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
    whole tree's proportional set size (sampled), exit code and the end of stderr."""

    seconds: float
    max_rss: int
    tree_pss: int
    returncode: int
    stderr: str = ""


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


def measure(argv: Sequence[str], *, env: dict[str, str] | None = None) -> Process:
    """Run `argv` to the end as its own process; time it and take its memory peaks."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=ROOT, env={**os.environ, **(env or {})},
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
    return Process(seconds, usage.ru_maxrss * 1024, sampler.peak, proc.returncode, stderr)


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


def _report_env(cache: Path) -> dict[str, str]:
    env = {"REPORT_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
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


def draw_seconds(browser: object, html: Path, repeat: int) -> float | str:
    """Median seconds from navigation start to every chart drawn, over `repeat` fresh
    page loads; a string says why there is no number."""
    times = []
    for _ in range(max(repeat, 1)):
        context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        try:
            context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith(("file:", "data:", "blob:"))
                          else route.abort())
            context.add_init_script(DRAWN_PROBE)
            page = context.new_page()
            page.goto(html.resolve().as_uri(), wait_until="commit")
            page.wait_for_function("window.__drawn !== undefined", timeout=60_000)
            drawn = page.evaluate("window.__drawn")
        finally:
            context.close()
        if drawn == "error":
            return "a chart failed to draw"
        times.append(float(drawn) / 1000)
    return statistics.median(times)


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
    html_bytes: int = 0
    series_bytes: int = 0  # of which the tidy series riding inside the page (a data: URI)
    draw: float | str = "not measured"
    notes: list[str] = field(default_factory=list)


def bench_size(
    size: Size, work: Path, reference: Path | None, browser: object | None, repeat: int
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
    command = _python("-m", "report", str(logs), "-o", str(html), "-q")
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache_root:
        colds, fixeds, warms = [], [], []
        for attempt in range(max(repeat, 1)):
            cache = Path(cache_root) / f"cache-{attempt}"
            colds.append(measure(command, env=_report_env(cache)))
            # A new sweep on a used machine: the bundle stays, this sweep's renders go.
            shutil.rmtree(cache / "renders", ignore_errors=True)
            fixeds.append(measure(command, env=_report_env(cache)))
            warms.append(measure(command, env=_report_env(cache)))
        result.cold, result.fixed_cached, result.warm = (
            _best(colds), _best(fixeds), _best(warms)
        )
        if (size.runs, size.steps) == DEMO:
            demo_html = out / "demo" / "index.html"
            demo = _python("-m", "report", "--demo", "-o", str(demo_html), "-q")
            measure(demo, env=_report_env(cache))  # its own pictures, once
            result.demo_warm = measure_best(demo, max(repeat, 3), env=_report_env(cache))
    for name, proc in (("cold", result.cold), ("warm", result.warm)):
        if proc is not None and proc.returncode != 0:
            result.notes.append(f"report ({name}) exited {proc.returncode}: {proc.stderr}")
    if reference is not None and result.reference and result.reference.returncode != 0:
        result.notes.append(f"reference exited {result.reference.returncode}")

    result.parse_report = parse_seconds(_REPORT_PARSE, [str(logs), "auto"], max(repeat, 3))
    result.parse_report_one = parse_seconds(_REPORT_PARSE, [str(logs), "1"], max(repeat, 3))
    result.html_bytes = html.stat().st_size if html.is_file() else 0
    result.series_bytes = embedded_series_bytes(html)
    if browser is None:
        result.draw = "no browser"
    elif html.is_file():
        result.draw = draw_seconds(browser, html, 3)
    return result


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
    and no pictures of these logs: time `python -m report` on the logs, then a watch's
    rebuild after `REBUILD_ROWS` rows are appended to one run, then reading every log
    (`load_sweep`, the watch's first read, over HTTP); print the seconds as JSON."""
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
                                                               **_report_env(Path(cache))},
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
        "pictures of these logs: a full run of `python -m report`, then `--watch`'s first "
        "read and first report, then one rebuild after appending rows to one run (its "
        "pictures drawn anew: the data changed; while watching, the PNGs beside the page "
        "are drawn at 1x), then every log read again, from the disk and from a local HTTP "
        "server. Wall time, and CPU time of every process involved (parse workers "
        "included), the fastest of the repeats.",
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


def size_table(r: Result) -> str:
    ref, cold = r.reference, r.cold
    rows = [
        ("wall time, cold cache", _s(ref), _s(cold)),
        ("wall time, fixed costs cached (new logs)", "", _s(r.fixed_cached)),
        ("wall time, warm (same logs again)", "", _s(r.warm)),
    ]
    if r.demo_warm is not None:
        rows.append(("wall time, `--demo`, warm", "", _s(r.demo_warm)))
    report_mem = max((p for p in (r.cold, r.fixed_cached, r.warm) if p),
                     key=lambda p: p.max_rss, default=None)
    rows += [
        ("peak memory: largest process (whole tree, PSS)", _mem(ref), _mem(report_mem)),
        ("parse throughput", _rate(r.megabytes, r.parse_reference),
         _rate(r.megabytes, r.parse_report) + " parallel"),
        ("parse throughput, one process", "", _rate(r.megabytes, r.parse_report_one)),
        ("HTML size (of which the embedded tidy series)", "-",
         f"{r.html_bytes / 1e6:.2f} MB ({r.series_bytes / 1e6:.2f} MB)"),
        ("page drawn in Chromium", "-",
         f"{r.draw:.2f} s" if isinstance(r.draw, float) else str(r.draw)),
    ]
    lines = [
        f"### {r.size.title}, {r.megabytes:.1f} MB of logs",
        "",
        "| measure | reference | report |",
        "| --- | ---: | ---: |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    if r.reference is None:
        lines.append("\nThe reference script was not found, so it was not run.")
    lines += [f"\nNote: {n}" for n in r.notes]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def targets(results: Sequence[Result]) -> list[str]:
    """One line per target of the issue: met or not, with the numbers."""
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
    lines += _size_targets(results)
    drawn = [(r, r.draw) for r in results if isinstance(r.draw, float)]
    if drawn:
        slowest = max(seconds for _, seconds in drawn)
        shown = ", ".join(f"{r.size.name}: {seconds:.2f} s" for r, seconds in drawn)
        lines.append(f"- page drawn in Chromium within 1.5 s of load: "
                     f"{verdict(slowest <= MAX_DRAW_SECONDS)}: {shown}")
    demo = by_name.get(f"{DEMO[0]}x{DEMO[1]}")
    if demo is not None and demo.warm is not None:
        worst = max(p.seconds for p in (demo.warm, demo.demo_warm) if p)
        lines.append(
            f"- 12-run demo end-to-end under 2 s, warm: {verdict(worst < MAX_DEMO_SECONDS)}: "
            f"logs {demo.warm.seconds:.2f} s, `--demo` "
            f"{demo.demo_warm.seconds if demo.demo_warm else float('nan'):.2f} s"
        )
    return lines


def _size_targets(results: Sequence[Result]) -> list[str]:
    """The page-size targets: at most 4 MB, growing with runs rather than steps."""
    lines: list[str] = []
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
    return lines


def machine() -> list[str]:
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
        f"- OS: {system}",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
        f"- Browser: {browser}",
    ]


def write_up(results: Sequence[Result], command: str, started: datetime, repeat: int) -> str:
    parts = [
        "# Benchmarks",
        "",
        "`python -m report` against the reference script (`plot_dynamics.py`, matplotlib), "
        "each as a whole process, measured side by side in one run by "
        "`benchmarks/bench.py` on sweeps written by `python tests/simulate.py`. "
        "Wall times are whole processes (interpreter start included)"
        + (f", the fastest of {repeat} runs of each kind" if repeat > 1 else "")
        + ". report runs cold "
        "(empty cache), with its fixed costs cached (the JavaScript bundle kept, no "
        "pictures of these logs: a new sweep on a machine that has made a report before) "
        "and warm (the same logs again). Peak memory: the largest single process "
        "(`ru_maxrss`), and in brackets the whole process tree's proportional set size "
        "(parse workers included), sampled every 50 ms. Parse throughput: MB of log "
        "files per second in a fresh process, timing only the parse: the reference's "
        "`parse_log` over the files, report's `load_sweep` (files to tidy tables, EMA "
        "included). Page drawn: median of three loads in headless Chromium, from "
        "navigation start until every `figure.chart` has `data-drawn=\"true\"`. Page "
        "growth leaves out the tidy series that small pages carry as a download "
        "(at most 1.5 MB gzipped).",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC with:",
        "",
        "```sh",
        command,
        "```",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Targets",
        "",
        *targets(results),
        "",
        "## Results",
        "",
    ]
    for r in results:
        parts += [size_table(r), ""]
    return "\n".join(parts)


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
    args = ap.parse_args(argv)
    sizes = args.sizes or [parse_size(s) for s in (QUICK_SIZES if args.quick else DEFAULT_SIZES)]
    reference: Path | None = args.reference
    if reference is not None and not reference.is_file():
        print(f"note: {reference} not found; the reference is skipped", file=sys.stderr)
        reference = None
    started = datetime.now(tz=UTC)
    shown_argv = argv if argv is not None else sys.argv[1:]
    command = " ".join(["python benchmarks/bench.py", *shown_argv])
    results = []
    browser_context = contextlib.nullcontext(None) if args.no_browser else chromium()
    with browser_context as browser:
        for size in sizes:
            results.append(bench_size(size, args.work, reference, browser, args.repeat))
    text = write_up(results, command, started, args.repeat)
    largest = max(results, key=lambda r: r.size.runs * r.size.steps)
    rebuilt = bench_rebuild(largest.size, args.work, args.repeat)
    text += "\n\n" + rebuild_section(rebuilt, largest.megabytes)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
