"""watch: the report rewritten as its logs grow. The watcher runs in a thread through its
public function (`watch(..., stop=, on_rebuild=)`), logs grow by the simulator's own rows
(`tests/simulate.py`: a run written in two parts, its truth known), and after each rebuild
the page's numbers are checked against a one-shot report of the same files and against
the simulator's truth. Waits are for events (a rebuild), with a deadline, never sleeps."""

from __future__ import annotations

import dataclasses
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, png_size, run_main, serve_folder, soup, table_rows
from simulate import SimulatedRun, simulate_run

import report
from report.build import Options
from report.watch import Rebuild, watch

DEADLINE = 60.0  # for a rebuild to come: not a measure of how quick it is
OPTIONS = Options(png=False)  # the page (with its pictures inside), no PNG files beside it
SPLIT = 200  # the logs are written up to this step, then the rest appended


def _split(run: SimulatedRun, step: int = SPLIT) -> tuple[bytes, bytes]:
    """The log up to the row of `step` (whole lines), and the rest."""
    at = run.data.index(f"| {step}  ".encode())
    at = run.data.rfind(b"\n", 0, at) + 1
    return run.data[:at], run.data[at:]


@dataclasses.dataclass
class Sweep:
    folder: Path
    runs: dict[str, SimulatedRun]
    tails: dict[str, bytes]

    def append(self, name: str, data: bytes | None = None) -> None:
        with (self.folder / name).open("ab") as fh:
            fh.write(self.tails[name] if data is None else data)


@pytest.fixture
def growing(tmp_path: Path) -> Sweep:
    """Four runs of 300 steps, written up to step 200."""
    folder = tmp_path / "logs"
    folder.mkdir()
    runs, tails = {}, {}
    for arm in ("vanilla", "routing"):
        for seed in (1, 2):
            run = simulate_run(arm, seed, 300)
            head, tails[run.name] = _split(run)
            (folder / run.name).write_bytes(head)
            runs[run.name] = run
    return Sweep(folder, runs, tails)


class Watching:
    """`watch` in a thread: `next()` waits for its next report, `stop()` ends it."""

    def __init__(self, inputs: list[str], output: Path, **kwargs: object) -> None:
        self.reports: queue.Queue[Rebuild] = queue.Queue()
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self.output = output

        def run() -> None:
            try:
                watch(inputs, output, OPTIONS, stop=self.stopped, on_rebuild=self.reports.put,
                      **kwargs)  # type: ignore[arg-type]
            except BaseException as exc:  # handed to the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def next(self) -> Rebuild:
        try:
            return self.reports.get(timeout=DEADLINE)
        except queue.Empty:
            msg = f"no report came (watcher error: {self.error!r})"
            raise AssertionError(msg) from None

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=DEADLINE)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[list[Watching]]:
    """Every watcher a test starts is stopped at its end, whatever happened."""
    started: list[Watching] = []
    yield started
    for watcher in started:
        watcher.stopped.set()
        watcher.thread.join(timeout=DEADLINE)


def _start(started: list[Watching], inputs: list[str], output: Path, **kwargs: object) -> Watching:
    watcher = Watching(inputs, output, **kwargs)
    started.append(watcher)
    return watcher


def _runs_table(page: Path) -> dict[str, list[str]]:
    _, body = table_rows(soup(page), "runs")
    return {row[0]: row for row in body}


def _one_shot(folder: Path, tmp_path: Path) -> dict[str, list[str]]:
    """The runs table of a report of the same files, made once, without --watch."""
    out = tmp_path / f"one-shot-{len(list(tmp_path.iterdir()))}" / "index.html"
    result = run_main(str(folder), "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    return _runs_table(out)


def _truth_series(run: SimulatedRun) -> pd.DataFrame:
    return pd.DataFrame({m: run.truth[m] for m in run.truth}, index=run.steps)


def _series_of(sweep: report.Sweep, name: str) -> pd.DataFrame:
    rows = sweep.series[sweep.series["run"] == name]
    return rows.pivot(index="step", columns="metric", values="value")


@pytest.mark.parametrize("events", [True, False], ids=["file-events", "polling"])
def test_appended_rows_rebuild_the_page(growing: Sweep, tmp_path: Path, watching,
                                        events: bool) -> None:
    out = tmp_path / "site" / "index.html"
    watcher = _start(watching, [str(growing.folder)], out, interval=0.2, events=events)
    first = watcher.next()
    assert first.number == 0 and len(first.sweep.runs) == 4
    assert _runs_table(out) == _one_shot(growing.folder, tmp_path)
    page = soup(out)
    refresh = page.find("meta", attrs={"http-equiv": "refresh"})
    assert refresh is not None and refresh["content"] == "1"
    assert "reloads every 1 s while report --watch runs" in page.find(id="watching").get_text()

    growing.append("demo_vanilla_s1.log")
    rebuild = watcher.next()
    assert rebuild.changes == ["demo_vanilla_s1.log +100 steps"]
    table = _runs_table(out)
    assert table == _one_shot(growing.folder, tmp_path)
    assert table["demo_vanilla_s1.log"][3] == "300" and table["demo_vanilla_s2.log"][3] == "200"
    run = growing.runs["demo_vanilla_s1.log"]
    got = _series_of(rebuild.sweep, "demo_vanilla_s1.log")
    np.testing.assert_array_equal(got.index, run.steps)
    for metric in run.truth:
        np.testing.assert_array_equal(got[metric].to_numpy(), run.truth[metric])

    watcher.stop()
    final = soup(out)
    assert final.find("meta", attrs={"http-equiv": "refresh"}) is None
    assert final.find(id="watching") is None
    assert _runs_table(out) == table


def test_bursts_make_one_rebuild(growing: Sweep, tmp_path: Path, watching) -> None:
    """Every log appended to at once: one rebuild that reads them all."""
    out = tmp_path / "site" / "index.html"
    watcher = _start(watching, [str(growing.folder)], out, interval=0.5)
    watcher.next()
    for name in growing.runs:
        growing.append(name)
    rebuild = watcher.next()
    assert sorted(rebuild.changes) == sorted(f"{name} +100 steps" for name in growing.runs)
    assert _runs_table(out) == _one_shot(growing.folder, tmp_path)


def test_new_logs_deleted_logs_and_bad_input_never_stop_the_watch(
    growing: Sweep, tmp_path: Path, watching
) -> None:
    out = tmp_path / "site" / "index.html"
    watcher = _start(watching, [str(growing.folder / "*.log")], out, interval=0.2)
    watcher.next()
    folder = growing.folder

    # A new log.
    new = simulate_run("vanilla", 3, 150)
    (folder / new.name).write_bytes(new.data)
    assert watcher.next().changes == ["new demo_vanilla_s3.log"]
    assert _runs_table(out)["demo_vanilla_s3.log"][3] == "150"

    # A row cut in the middle, with another log's rows: only whole lines are read.
    tail = growing.tails["demo_routing_s1.log"]
    cut = tail.index(b"\n", 200) + 20
    growing.append("demo_routing_s1.log", tail[:cut])
    growing.append("demo_vanilla_s2.log")
    rebuild = watcher.next()
    assert "demo_vanilla_s2.log +100 steps" in rebuild.changes
    rows = [c for c in rebuild.changes if c.startswith("demo_routing_s1.log")]
    routing_steps = int(_runs_table(out)["demo_routing_s1.log"][3])
    assert rows == [f"demo_routing_s1.log +{routing_steps - SPLIT} steps"]
    growing.append("demo_routing_s1.log", tail[cut:])
    assert watcher.next().changes == [f"demo_routing_s1.log +{300 - routing_steps} steps"]
    assert _runs_table(out) == _one_shot(folder, tmp_path)

    # A log that becomes unreadable keeps its last good rows, and the page says so.
    (folder / "demo_vanilla_s1.log").write_bytes(bytes(range(256)) * 64)
    assert watcher.next().changes == ["demo_vanilla_s1.log unreadable"]
    table = _runs_table(out)
    assert table["demo_vanilla_s1.log"][3] == "200"
    notes = [li.get_text(" ", strip=True) for li in soup(out).select("details.warnings li")]
    assert f"{folder / 'demo_vanilla_s1.log'}: binary data, not a text log; its run keeps " \
           "the 200 steps read before" in notes

    # A deleted log drops its run, and the page says so.
    (folder / "demo_routing_s2.log").unlink()
    assert watcher.next().changes == ["demo_routing_s2.log gone"]
    table = _runs_table(out)
    assert "demo_routing_s2.log" not in table and len(table) == 4
    notes = [li.get_text(" ", strip=True) for li in soup(out).select("details.warnings li")]
    assert f"{folder / 'demo_routing_s2.log'}: gone (deleted or moved); its run is left out" \
        in notes
    watcher.stop()


def test_logs_at_a_url_are_polled(growing: Sweep, tmp_path: Path, watching) -> None:
    pytest.importorskip("fsspec")
    pytest.importorskip("aiohttp")
    out = tmp_path / "site" / "index.html"
    with serve_folder(growing.folder) as url:
        watcher = _start(watching, [url], out, interval=0.2)
        first = watcher.next()
        assert len(first.sweep.runs) == 4
        growing.append("demo_routing_s2.log")
        rebuild = watcher.next()
        assert rebuild.changes == ["demo_routing_s2.log +100 steps"]
        local = report.load_sweep([str(growing.folder)])
        pd.testing.assert_frame_equal(rebuild.sweep.series, local.series)
        assert [(f.size, f.sha256) for f in rebuild.sweep.files] == [
            (f.size, f.sha256) for f in local.files]
        watcher.stop()


def test_watch_options_on_the_command_line(tmp_path: Path) -> None:
    out = str(tmp_path / "index.html")
    no_watch = run_main(str(report.demo_logs()), "-o", out, "--interval", "3")
    assert no_watch.returncode == 2 and "--interval is for --watch" in no_watch.stderr
    too_short = run_main(str(report.demo_logs()), "-o", out, "--watch", "--interval", "0")
    assert too_short.returncode == 2 and "must be at least 1" in too_short.stderr
    demo = run_main("--demo", "-o", out, "--watch")
    assert demo.returncode == 2 and "--watch follows LOGS (not --demo)" in demo.stderr
    assert not Path(out).exists()


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_ctrl_c_ends_a_watch_with_exit_0(growing: Sweep, tmp_path: Path) -> None:
    """As a real process: Ctrl-C once the first report is written (the line saying so is
    waited for) ends the watch cleanly, with a last page that no longer reloads. While
    watching, the pictures beside the page are drawn at the page's scale; the last page
    has them at 2x, as a report without --watch does."""
    out = tmp_path / "site" / "index.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "report", str(growing.folder), "-o", str(out), "--watch",
         "--interval", "1"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        seen = []
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if line.startswith("wrote "):
                break
        assert seen and seen[-1].startswith("wrote "), "".join(seen)
        assert soup(out).find("meta", attrs={"http-equiv": "refresh"}) is not None
        watched_width, _ = png_size((out.parent / "dynamics.png").read_bytes())
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = "".join(seen) + rest
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        f"stopped watching; wrote {out} once more, without its reload line")
    assert soup(out).find("meta", attrs={"http-equiv": "refresh"}) is None
    assert len(_runs_table(out)) == 4
    final_width, _ = png_size((out.parent / "dynamics.png").read_bytes())
    assert final_width == 2 * watched_width


@pytest.mark.browser
def test_a_page_written_by_watch_reloads_and_shows_new_data(
    growing: Sweep, tmp_path: Path, watching
) -> None:
    """In real Chromium, offline: the page reloads itself (its CSP allows it: a reload is
    not a fetch) and shows the rows appended since it was opened."""
    from browser import launch, new_context

    site = tmp_path / "site"
    out = site / "index.html"
    watcher = _start(watching, [str(growing.folder)], out, interval=1)
    watcher.next()
    with launch() as browser:
        context, seen = new_context(browser)
        try:
            page = context.new_page()  # type: ignore[attr-defined]
            page.goto(out.as_uri())
            assert "reloads every 1 s" in page.inner_text("#watching")
            steps = "#runs tbody tr:first-child td:nth-child(4)"
            assert page.inner_text(steps) == "200"
            growing.append("demo_vanilla_s1.log")
            watcher.next()
            page.wait_for_function(
                f"document.querySelector({steps!r}) && "
                f"document.querySelector({steps!r}).textContent.trim() === '300'",
                timeout=DEADLINE * 1000,
            )
        finally:
            context.close()  # type: ignore[attr-defined]
    assert seen.problems() == []
    shutil.rmtree(site)
