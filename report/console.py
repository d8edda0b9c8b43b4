"""What the terminal sees and sends: messages with log-borne text made harmless, a
progress bar, Ctrl-C turned into a clean interrupt, sizes for humans."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("report")


class Progress:
    """A one-line progress bar on stderr, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.drawn = enabled and sys.stderr.isatty(), False

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and total >= 8:
            bar = ("#" * int(30 * done / total)).ljust(30, "-")
            sys.stderr.write(f"\rparsing [{bar}] {done}/{total} files")
            sys.stderr.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def shown(message: str) -> str:
    """A message as the terminal gets it: names and fields from logs cannot move the
    cursor, clear the screen, fake a line of their own or reorder the text (each line
    `printable`; only the message's own line breaks stay)."""
    from report.parse import printable

    return "\n".join(printable(line) for line in message.split("\n"))


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = shown(record.getMessage())
        if record.levelno >= logging.ERROR:
            return f"report: error: {text}"
        if record.levelno >= logging.WARNING:
            return f"report: warning: {text}"
        return text


def setup_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.ERROR if quiet else logging.INFO)


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


@contextlib.contextmanager
def handling(signums: tuple[int, ...], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """`handler` handles `signums` meanwhile, then the handlers before it again (in the
    main thread only: Python runs handlers there; in another, the handlers stay)."""
    previous = {}
    try:
        for signum in signums:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class CtrlC:
    """Ctrl-C (SIGINT), and SIGTERM the same way, as the command handles them: a
    KeyboardInterrupt where it arrives, as Python's own handler gives for Ctrl-C, and
    remembered too, so that one swallowed on the way (Python ignores exceptions raised in
    finalizers and callbacks) still ends the run as interrupted. Inside `deferred()` it is
    only remembered, for the writer to act on at the moments it chooses (`write_report`).
    `signum` is the signal that came (the exit code is 128 + it)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.pending = False
        self.deferring = False
        self.signum: int = signal.SIGINT

    def __call__(self, signum: int, frame: object) -> None:
        self.pending, self.signum = True, signum
        if not self.deferring:
            raise KeyboardInterrupt

    def installed(self) -> contextlib.AbstractContextManager[None]:
        """This object handles SIGINT and SIGTERM meanwhile (`handling`)."""
        return handling(self.SIGNALS, self)

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came (even if it was swallowed since)."""
        if self.pending:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False


@contextlib.contextmanager
def libraries_quiet() -> Iterator[None]:
    """-q: what libraries would print goes too: Python warnings (numpy's, pandas') and
    their log records below ERROR (printed by logging's last-resort handler)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
