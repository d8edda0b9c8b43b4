"""report: RL training logs in, one static self-contained HTML report of their dynamics out.

In a notebook::

    import report
    sweep = report.load_sweep(["logs/"])
    sweep.runs      # one row per run: run, path, preset_arm, arm, seed, v_hack, ...
    sweep.series    # tidy: run, step, metric, value, ema
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from report.errors import ReportError
from report.tables import Sweep

__all__ = ["ReportError", "Sweep", "__version__", "load_sweep"]
__version__ = "0.1.0"


def load_sweep(
    inputs: Sequence[str] | str,
    *,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sweep:
    """Read log files, directories (their *.log, *.log.gz) and globs into a `Sweep`.

    Unusable files are skipped and listed in `Sweep.warnings`; raises ReportError when
    an input matches nothing or no run at all could be read.
    """
    from report.parse import gather, parse_files
    from report.tables import build_tables

    paths = gather([inputs] if isinstance(inputs, str) else list(inputs))
    logs, warnings = parse_files(paths, jobs=jobs, progress=progress)
    if not logs:
        more = [f"... and {len(warnings) - 10} more"] if len(warnings) > 10 else []
        reasons = warnings[:10] + more
        msg = f"no usable run in {len(paths)} file(s) looked at:\n  " + "\n  ".join(reasons)
        raise ReportError(msg)
    runs, series = build_tables(logs)
    files = sorted((lg.file for lg in logs if lg.file is not None), key=lambda f: f.path)
    return Sweep(runs=runs, series=series, files=files, warnings=warnings)
