"""Helpers shared by the tests: run the CLI (in-process, or as a process for the few
end-to-end checks), read PNG headers, read the page, serve a folder over HTTP."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Result:
    """What `main(argv)` gave: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env: dict[str, str] | None) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_main(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """`report.cli.main(args)` in this process, as `python -m report ARGS` would run it:
    its exit code and its stdout and stderr."""
    from report.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        _environment(env),
        contextlib.chdir(cwd or ROOT),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m report ARGS` as a separate process, for the end-to-end checks that need
    one (signals, the installed command)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "report", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def table_rows(page: BeautifulSoup, table_id: str) -> tuple[list[str], list[list[str]]]:
    """(header cell texts, body rows as cell texts) of `<table id=...>`."""
    table = page.find("table", id=table_id)
    assert table is not None, f"no table#{table_id}"
    header = [th.get_text(strip=True) for th in table.find("thead").find_all("th")]
    body = [
        [cell.get_text(strip=True) for cell in tr.find_all(["th", "td"])]
        for tr in table.find("tbody").find_all("tr")
    ]
    return header, body


def chart_specs(page: BeautifulSoup) -> dict:
    script = page.find("script", id="chart-specs")
    assert script is not None and script.get("type") == "application/json"
    return json.loads(script.string)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """`python -m http.server`'s handler (an index page for a folder, no Range requests),
    without a line on stderr per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_folder(
    folder: Path, handler: type[http.server.SimpleHTTPRequestHandler] = QuietHandler
) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (a free port) serving `folder`, in a thread, for as
    long as the block runs; yields its base URL (ending in `/`)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
