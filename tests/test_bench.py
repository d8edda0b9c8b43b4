"""benchmarks/bench.py: the benchmark runs end to end and writes its table (smallest size,
no browser; the numbers themselves are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import ROOT


def test_bench_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--sizes", "12x200",
         "--no-browser", "--work", str(tmp_path / "work"), "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text()
    assert "## Machine" in text and "python benchmarks/bench.py --sizes 12x200" in text
    assert "| wall time, cold cache |" in text and "| parse throughput |" in text
    assert "12-run demo end-to-end under 2 s, warm" in text
    assert "## `--watch`: a rebuild after an append (12 runs x 200 steps" in text
    assert "| rebuild after 100 rows appended to one run (demo_vanilla_s1.log +100 steps) |" \
        in text
    assert (tmp_path / "work" / "sweeps" / "12x200").is_dir()
