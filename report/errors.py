"""The one exception type for problems a user can cause (bad paths, unusable logs, flags)."""

from __future__ import annotations


class ReportError(Exception):
    """A user-facing error; its message names the file or flag and the reason.

    Only :mod:`report.cli` turns it into an exit code; library callers catch it.
    """


class UsageError(ReportError):
    """A `ReportError` in how the report was asked for, found once the logs are read (a
    --group-by key no run has, a --baseline that is no group, two inputs with one label):
    the command line reports it as argparse does, exit 2. `option` names the flag."""

    def __init__(self, message: str, option: str = "") -> None:
        super().__init__(message)
        self.option = option
