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
    from report.parse import ParsedLog
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

    An input written `LABEL=PATH` (`before=runs/v1 after=runs/v2`) labels its runs with
    sweep=LABEL (`parse.split_label`): every input is labelled or none is.
    Unusable files, and inputs that match nothing, are skipped and listed in
    `Sweep.warnings`; raises ReportError when no input matches anything, no run at all
    could be read, or a labelled sweep has no usable run.
    """
    from report.parse import gather_sweeps, join_same_runs, parse_files, shown_path
    from report.tables import Sweep, build_tables

    found = gather_sweeps([inputs] if isinstance(inputs, str) else list(inputs))
    logs, warnings = parse_files(found.paths, jobs=jobs, progress=progress)
    warnings[:0] = found.warnings
    if not logs:
        more = [f"... and {len(warnings) - 10} more"] if len(warnings) > 10 else []
        reasons = warnings[:10] + more
        msg = (f"no usable run in {len(found.paths)} file(s) looked at:\n  "
               + "\n  ".join(reasons))
        raise ReportError(msg)
    label_of = {shown_path(path): label for path, label in found.labels.items()}
    for log in logs:
        log.sweep = label_of.get(log.path, "")
    _check_sweeps(found.sweeps, label_of, logs, warnings)
    files = sorted((lg.file for lg in logs if lg.file is not None), key=lambda f: f.path)
    logs, joined = join_same_runs(logs)
    warnings.extend(joined)
    runs, series = build_tables(logs, sweeps=found.sweeps, consume=True)
    return Sweep(runs=runs, series=series, files=files, warnings=warnings)


def _check_sweeps(sweeps: Sequence[str], label_of: dict[str, str], logs: Sequence[ParsedLog],
                  warnings: Sequence[str]) -> None:
    """Each labelled sweep has a usable run: a comparison of sweeps needs every one."""
    used = {log.sweep for log in logs}
    for label in sweeps:
        if label in used:
            continue
        files = [path for path, each in label_of.items() if each == label]
        reasons = [w for w in warnings if w.startswith(tuple(f"{f}:" for f in files))]
        msg = (f"sweep {label!r} has no usable run in {len(files)} file(s):\n  "
               + "\n  ".join(reasons[:10]))
        raise ReportError(msg)


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
