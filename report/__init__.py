"""report: RL training logs in, one static self-contained HTML report of their dynamics out.

In a notebook::

    import report
    sweep = report.load_sweep(["logs/"])
    sweep.runs      # one row per run: run, path, preset_arm, arm, seed, v_hack, ...
    sweep.series    # tidy: run, step, metric, value, ema
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from report.errors import ReportError

if TYPE_CHECKING:
    from report.tables import Sweep

__all__ = ["ReportError", "Sweep", "__version__", "demo_logs", "load_demo", "load_sweep"]
__version__ = "0.1.0"


def load_sweep(
    inputs: Sequence[str] | str,
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Read log files, directories (their *.log, *.log.gz) and globs into a `Sweep`, on
    this machine or at URLs fsspec understands (`https://`, `s3://`, ...; the `remote`
    extra).

    Unusable files, and inputs that match nothing, are skipped and listed in
    `Sweep.warnings`; raises ReportError when no input matches anything or no run at all
    could be read.
    """
    from report.parse import gather, join_same_runs, parse_files
    from report.tables import Sweep, build_tables

    paths, unmatched = gather([inputs] if isinstance(inputs, str) else list(inputs))
    logs, warnings = parse_files(paths, jobs=jobs, progress=progress)
    warnings[:0] = unmatched
    if not logs:
        more = [f"... and {len(warnings) - 10} more"] if len(warnings) > 10 else []
        reasons = warnings[:10] + more
        msg = f"no usable run in {len(paths)} file(s) looked at:\n  " + "\n  ".join(reasons)
        raise ReportError(msg)
    files = sorted((lg.file for lg in logs if lg.file is not None), key=lambda f: f.path)
    logs, joined = join_same_runs(logs)
    warnings.extend(joined)
    runs, series = build_tables(logs)
    return Sweep(runs=runs, series=series, files=files, warnings=warnings)


def __getattr__(name: str) -> object:
    """`report.Sweep` is imported when first used: `import report` (and so the start of
    `python -m report`, before it handles Ctrl-C) loads nothing heavy."""
    if name == "Sweep":
        from report.tables import Sweep

        return Sweep
    msg = f"module 'report' has no attribute {name!r}"
    raise AttributeError(msg)


def demo_logs() -> Path:
    """The example logs shipped with the package (`report/examples` in an installed wheel,
    the checkout's `examples/logs` otherwise): 4 arms x 3 seeds x 200 steps."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "examples", here.parent / "examples" / "logs"):
        if candidate.is_dir():
            return candidate
    msg = f"report's example logs are missing (looked in {here / 'examples'})"
    raise ReportError(msg)


def load_demo() -> Sweep:
    """The example logs as a `Sweep`, their paths shown as `examples/<file>` wherever the
    package is installed (so the demo page is the same on every machine)."""
    folder = demo_logs()
    sweep = load_sweep([str(folder)], jobs=1)

    def shown(path: str) -> str:
        return f"examples/{Path(path).name}"

    sweep.runs["path"] = sweep.runs["path"].map(shown)
    sweep.files = [dataclasses.replace(f, path=shown(f.path)) for f in sweep.files]
    return sweep
