"""Nothing lost: atomic writes, failures that leave an earlier report alone, reproducible
bytes whatever the input order, and Ctrl-C without a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, run_main

from report.cli import write_atomic

EXAMPLES = ROOT / "examples" / "logs"


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "index.html"
    target.write_bytes(b"old report")
    write_atomic(target, b"new report")
    assert target.read_bytes() == b"new report"

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_atomic(target, b"half")
    assert target.read_bytes() == b"new report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]  # no temp file left


def test_failed_run_leaves_the_earlier_report_untouched(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = run_main(str(EXAMPLES), "-o", str(site / "index.html"), "-q")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in site.iterdir()}
    assert set(before) == {"index.html", "dynamics.png", "dynamics_hack_overlay.png",
                           "time_to_hack.png", "onset_aligned.png"}

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.log").write_text("no run here\n")
    failed = run_main(str(junk), "-o", str(site / "index.html"))
    assert failed.returncode == 1 and "no usable run" in failed.stderr
    strict = run_main(str(EXAMPLES), str(junk), "--strict", "-o", str(site / "index.html"))
    assert strict.returncode == 1 and "--strict" in strict.stderr
    assert "a.log" in strict.stderr
    after = {p.name: p.read_bytes() for p in site.iterdir()}
    assert after == before


def test_output_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "report.txt"
    blocker.write_text("a file, not a folder")
    result = run_main(str(EXAMPLES), "-o", str(blocker / "site" / "index.html"))
    assert result.returncode == 2  # a usage error: the -o flag names an impossible place
    assert "is a file, not a folder" in result.stderr and "Traceback" not in result.stderr


def test_same_inputs_any_order_give_identical_bytes(tmp_path: Path) -> None:
    logs = sorted(EXAMPLES.glob("*.log"))
    # The same files as a folder, as reversed single files and as a glob; fresh render
    # caches each time, so the PNG bytes come from vl-convert both times.
    variants = [
        [str(EXAMPLES)],
        [str(p) for p in reversed(logs)],
        [str(EXAMPLES / "demo_*_s*.log")],
    ]
    outputs = []
    for number, inputs in enumerate(variants):
        out = tmp_path / f"out{number}" / "index.html"
        env = {"SOURCE_DATE_EPOCH": "1764000000", "REPORT_CACHE_DIR": str(tmp_path / f"c{number}")}
        result = run_main(*inputs, "-o", str(out), "-q", env=env)
        assert result.returncode == 0, result.stderr
        outputs.append({p.name: p.read_bytes() for p in out.parent.iterdir()})
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"2025-11-24 16:00:00 UTC" in outputs[0]["index.html"]


def test_ctrl_c_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    # Big enough that the run is still going when Ctrl-C comes, on any machine.
    import simulate

    simulate.write_sweep(logs, steps=4000)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REPORT_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "report", str(logs), "-o", str(tmp_path / "site" / "index.html")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # inside imports, parsing or rendering: each must stop cleanly
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "site" / "index.html").exists()
