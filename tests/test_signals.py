"""Killed or interrupted, as a real process: no process of the report outlives it, and
Ctrl-C is exit 130, one line, no traceback, the output folder as it was.

Each signal comes at a moment the test knows the report is at, never after a guessed
sleep: parse workers wait for ever on a FIFO given as an input (nothing writes to it),
and the moments after parsing are reached through `REPORT_TEST_PAUSE_AT` (the report
announces the moment on stderr and waits there).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import ROOT

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


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "report", *args], env=full_env, cwd=ROOT, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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
    process, workers = _parsing_for_ever(big_logs, tmp_path, "-o", str(tmp_path / "x.html"))
    process.send_signal(how)
    # The pipes reach their end only once no process holds the report's stdout and
    # stderr any more: the workers hold copies of them.
    process.communicate(timeout=DEADLINE)
    assert process.returncode == -how
    _wait_for(lambda: not any(_running(pid) for pid in workers), "the workers to end")


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
