"""Killed or interrupted, as a real process: no process of the report outlives it, and
Ctrl-C (exit 130) or SIGTERM (exit 143) is one line, no traceback, the output folder as
it was.

Each signal comes at a moment the test knows the report is at, never after a guessed
sleep: parse workers wait for ever on a FIFO given as an input (nothing writes to it),
and the writer is paused after staging its first file (`PAUSED_WHILE_WRITING`: the
report announces the moment on stderr and waits there for the signal).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import ROOT

from report.workers import cores

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").is_file() or not hasattr(os, "mkfifo"),
    reason="processes are watched through /proc; inputs include a FIFO",
)

DEADLINE = 60.0  # for events to happen, not a measure of how quick they are


@pytest.fixture(scope="module")
def big_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough logs (over 8 MB in 4 files) that they are parsed by worker processes."""
    import simulate

    folder = tmp_path_factory.mktemp("big")
    simulate.write_sweep(folder, arms=("vanilla", "routing"), seeds=(1, 2), steps=30_000)
    return folder


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc: any kernel with one)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start(*args: str, env: dict[str, str] | None = None, code: str | None = None,
           stdin: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """The report as a process, given `args`: `python -m report`, or `code` (a script that
    changes something, then calls the report's `main`)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    program = ["-m", "report"] if code is None else ["-c", code]
    return subprocess.Popen(
        [sys.executable, *program, *args], env=full_env, cwd=ROOT, text=True,
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _parsing_for_ever(big_logs: Path, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str],
                                                                          list[int]]:
    """The report, parsing `big_logs` and a FIFO with worker processes; and their pids."""
    fifo = tmp_path / "never_written.log"
    os.mkfifo(fifo)
    process = _start(str(big_logs), str(fifo), "-j", "2", *args)
    _wait_for(lambda: len(_children(process.pid)) >= 2, "the parse workers")
    return process, _children(process.pid)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_worker_outlives_a_killed_report(big_logs: Path, tmp_path: Path, how) -> None:
    """SIGKILL: the workers end with the report (PR_SET_PDEATHSIG). SIGTERM: the report
    stops them and ends as Ctrl-C does: one line, no traceback, exit 128 + 15."""
    out = tmp_path / "site" / "x.html"
    process, workers = _parsing_for_ever(big_logs, tmp_path, "-o", str(out))
    process.send_signal(how)
    # The pipes reach their end only once no process holds the report's stdout and
    # stderr any more: the workers hold copies of them.
    _, stderr = process.communicate(timeout=DEADLINE)
    if how == signal.SIGKILL:
        assert process.returncode == -how
    else:
        assert process.returncode == 143, stderr
        assert stderr.strip().splitlines()[-1] == "report: terminated; nothing written", stderr
        assert "Traceback" not in stderr
    _wait_for(lambda: not any(_running(pid) for pid in workers), "the workers to end")
    assert not out.parent.exists()


def _drawing_workers(pid: int) -> list[int]:
    """The processes `pid` started to draw pictures (spawned: their command line is
    multiprocessing's, where parse workers, forked, have the report's)."""
    found = []
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


@pytest.mark.skipif(cores() < 2, reason="pictures are drawn by workers on 2 cores or more")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT],
                         ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_no_drawing_worker_outlives_a_stopped_report(tmp_path: Path, how) -> None:
    """Stopped while worker processes draw its pictures, the report leaves none of them
    running: SIGKILL ends them with it; SIGTERM and Ctrl-C stop them, and end the
    report in one line, no traceback, exit 128 + the signal, nothing written."""
    import simulate

    logs = tmp_path / "logs"
    simulate.write_sweep(logs, arms=("vanilla", "routing"), seeds=(1, 2), steps=200)
    out = tmp_path / "site" / "x.html"
    process = _start(str(logs), "-o", str(out), "-j", "2",
                     env={"REPORT_CACHE_DIR": str(tmp_path / "cache")})  # nothing drawn yet
    try:
        _wait_for(lambda: process.poll() is not None or bool(_drawing_workers(process.pid)),
                  "a drawing worker")
        workers = _drawing_workers(process.pid)
        process.send_signal(how)
        _, stderr = process.communicate(timeout=DEADLINE)
    finally:  # a failed test leaves no process behind
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert workers, stderr
    if how == signal.SIGKILL:
        assert process.returncode == -how
    else:
        word = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupted"}[how]
        assert process.returncode == 128 + how, stderr
        assert stderr.strip().splitlines()[-1] == f"report: {word}; nothing written", stderr
        assert "Traceback" not in stderr
    _wait_for(lambda: not any(_running(pid) for pid in workers), "the workers to end")
    assert not out.parent.exists()


# The report, paused as it starts a drawing worker: once the worker's process runs, and
# before the report writes it how to start (a pipe the worker reads first), the report
# says so on stderr and waits for a line on stdin.
PAUSED_WHILE_SPAWNING = """
import sys
from multiprocessing import util
spawn = util.spawnv_passfds
def spawn_then_pause(path, args, passfds):
    pid = spawn(path, args, passfds)
    if any("spawn_main" in str(arg) for arg in args):
        sys.stderr.write("spawned\\n")
        sys.stderr.flush()
        sys.stdin.readline()
    return pid
util.spawnv_passfds = spawn_then_pause
from report.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(cores() < 2, reason="pictures are drawn by workers on 2 cores or more")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_a_drawing_worker_starts(tmp_path: Path, how) -> None:
    """The signal waits until the worker has been told how to start, so the report ends
    as always (one line, exit 128 + the signal) and the worker says nothing: stopped
    half-way, it would print multiprocessing's traceback (EOFError) on the shared stderr."""
    import simulate

    logs = tmp_path / "logs"
    simulate.write_sweep(logs, arms=("vanilla",), seeds=(1,), steps=60)
    out = tmp_path / "site" / "x.html"
    process = _start(str(logs), "-o", str(out), "-j", "2", "-q",
                     env={"REPORT_CACHE_DIR": str(tmp_path / "c")},
                     code=PAUSED_WHILE_SPAWNING, stdin=subprocess.PIPE)
    assert process.stderr is not None
    try:
        assert process.stderr.readline() == "spawned\n"
        # The worker's command line reads empty until its exec is through (a loaded
        # machine can leave that moment for later).
        _wait_for(lambda: bool(_drawing_workers(process.pid)), "the worker's command line")
        workers = _drawing_workers(process.pid)
        process.send_signal(how)
        _, stderr = process.communicate("go on\n", timeout=DEADLINE)
    finally:  # a failed test leaves no process behind
        if process.poll() is None:
            process.kill()
            process.communicate()
    word = {signal.SIGTERM: "terminated", signal.SIGINT: "interrupted"}[how]
    assert process.returncode == 128 + how, stderr
    said = [line for line in stderr.strip().splitlines() if line != "spawned"]  # the next
    assert said == [f"report: {word}; nothing written"], stderr  # worker's, if it started
    assert workers
    _wait_for(lambda: not any(_running(pid) for pid in workers), "the workers to end")
    assert not out.parent.exists()


# The report, paused while it writes: once it has staged its first file (and before it
# stages the rest and renames any into place), it says so on stderr and waits for a
# signal. The signal handling and the writer are the report's own.
PAUSED_WHILE_WRITING = """
import signal, sys, time
from report import output
stage = output._Staging.stage
def stage_then_pause(self, name, data):
    stage(self, name, data)
    if len(self.changes) == 1:
        sys.stderr.write("staged\\n")
        sys.stderr.flush()
        handler = signal.getsignal(signal.SIGTERM)  # the report's: it notes the signal
        while not handler.pending:
            time.sleep(0.01)
output._Staging.stage = stage_then_pause
from report.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _folder(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def small_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Small logs and their report (page, pictures, manifest): (logs, site folder)."""
    import simulate
    from helpers import run_main

    logs = tmp_path_factory.mktemp("logs")
    simulate.write_sweep(logs, arms=("vanilla", "routing"), seeds=(1, 2), steps=60)
    site = tmp_path_factory.mktemp("site")
    made = run_main(str(logs), "-o", str(site / "index.html"), "--metrics", "loss", "-q")
    assert made.returncode == 0, made.stderr
    return logs, site


def test_sigterm_while_writing_leaves_the_previous_report_whole(
    small_report: tuple[Path, Path], tmp_path: Path
) -> None:
    """As Ctrl-C does (test_output): the writer stops at its next step and undoes what
    it did; the report says so in one line and exits 128 + 15."""
    logs, site = small_report
    out = tmp_path / "site" / "index.html"
    shutil.copytree(site, out.parent)
    before = _folder(out.parent)
    assert len([name for name in before if name.endswith(".png")]) >= 2
    # This run would replace the page and remove the pictures.
    process = _start(str(logs), "-o", str(out), "--no-png", "--metrics", "loss",
                     "--title", "Another", "-q", code=PAUSED_WHILE_WRITING)
    assert process.stderr is not None
    try:
        assert process.stderr.readline() == "staged\n"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=DEADLINE)
    finally:  # a failed test leaves no process behind
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 143, stderr
    assert stderr.strip().splitlines() == ["report: terminated; nothing written"], stderr
    assert _folder(out.parent) == before  # no temporary file, nothing replaced or removed


def test_ctrl_c_while_workers_parse(big_logs: Path, tmp_path: Path) -> None:
    """Workers ignore Ctrl-C; the report stops them (one is blocked on the FIFO for ever:
    waiting for it would hang) and says it was interrupted."""
    out = tmp_path / "site" / "index.html"
    process, workers = _parsing_for_ever(big_logs, tmp_path, "-o", str(out))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "report: interrupted; nothing written", stderr
    assert "Traceback" not in stderr
    assert not any(_running(pid) for pid in workers)
    assert not out.parent.exists()


def test_jobs_beyond_cores_or_files_start_no_more_workers(monkeypatch, tmp_path: Path) -> None:
    from conftest import log_text

    from report import parse

    started = []

    def count(tasks, workers, progress):
        started.append(workers)
        return [parse._parse_one(task) for task in tasks]

    monkeypatch.setattr(parse, "_parse_in_pool", count)
    monkeypatch.setattr(parse, "cores", lambda: 3)
    monkeypatch.setattr(parse, "_size", lambda path: 10 << 20)  # big enough for a pool
    paths = []
    for seed in range(1, 6):
        path = tmp_path / f"s{seed}.log"
        path.write_text(log_text(preset=f"preset=t arm=vanilla seed={seed}"))
        paths.append(str(path))
    runs, _ = parse.parse_files(paths, jobs=500)
    assert len(runs) == 5 and started == [3]  # the cores, not 500
    parse.parse_files(paths[:4], jobs=500)
    monkeypatch.setattr(parse, "cores", lambda: 64)
    parse.parse_files(paths, jobs=500)
    assert started == [3, 3, 5]  # then the files, not 500
