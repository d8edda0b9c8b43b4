"""The one exception type for problems a user can cause (bad paths, unusable logs, flags)."""

from __future__ import annotations


class ReportError(Exception):
    """A user-facing error; its message names the file or flag and the reason.

    Only :mod:`report.cli` turns it into an exit code; library callers catch it.
    """
