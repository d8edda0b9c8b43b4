"""remote: logs read from URLs, as a real HTTP server on 127.0.0.1 serves a copy of the
example logs (an index page for the folder, no Range requests, as `python -m http.server`)
and as fsspec's `memory://` store holds them. Runs and numbers must equal those of the
same files read from the disk."""

from __future__ import annotations

import gzip
import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import EPOCH
from helpers import QuietHandler, run_main, serve_folder, soup, table_rows

import report
from report import remote

fsspec = pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")

EXAMPLES = report.demo_logs()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A copy of the example logs, one of them gzipped."""
    folder = tmp_path / "logs"
    shutil.copytree(EXAMPLES, folder)
    routing = folder / "demo_routing_s3.log"
    (folder / "demo_routing_s3.log.gz").write_bytes(gzip.compress(routing.read_bytes(), mtime=0))
    routing.unlink()
    (folder / "notes.txt").write_text("not a log: a folder lists *.log and *.log.gz only\n")
    return folder


@pytest.fixture
def served(logs: Path) -> Iterator[str]:
    with serve_folder(logs) as url:
        yield url


@pytest.fixture
def memory_logs(logs: Path) -> Iterator[str]:
    """The logs in fsspec's in-memory store, under a folder of their own (the store is
    the process's); yields its URL."""
    store = fsspec.filesystem("memory")
    root = f"/test-{uuid.uuid4().hex}"
    for path in logs.iterdir():
        store.pipe(f"{root}/logs/{path.name}", path.read_bytes())
    store.pipe(f"{root}/logs/old/demo_vanilla_s1.log", (logs / "demo_vanilla_s1.log").read_bytes())
    try:
        yield f"memory://{root}/logs"
    finally:
        store.rm(root, recursive=True)


def _same_sweep(fetched: report.Sweep, local: report.Sweep) -> None:
    """The same runs and numbers; provenance with the same sizes and SHA-256."""
    pd.testing.assert_frame_equal(fetched.series, local.series)
    pd.testing.assert_frame_equal(fetched.runs.drop(columns="path"),
                                  local.runs.drop(columns="path"))
    assert [(f.size, f.sha256) for f in fetched.files] == [(f.size, f.sha256) for f in local.files]
    assert fetched.warnings == local.warnings == []


def test_a_folder_over_http_gives_the_local_runs_and_numbers(served: str, logs: Path) -> None:
    fetched = report.load_sweep([served])
    _same_sweep(fetched, report.load_sweep([str(logs)]))
    assert [f.path for f in fetched.files] == [served + p.name for p in sorted(logs.glob("*.log*"))]
    assert set(fetched.runs["path"]) == {served + p.name for p in logs.glob("*.log*")}
    assert "demo_routing_s3.log.gz" in set(fetched.runs["run"])


def test_globs_and_files_over_http(served: str, logs: Path) -> None:
    sweep = report.load_sweep([served + "*_s1.log", served + "demo_routing_s3.log.gz"])
    assert sorted(sweep.runs["run"]) == sorted(
        ["demo_vanilla_s1.log", "demo_static_s1.log", "demo_online_s1.log",
         "demo_routing_s1.log", "demo_routing_s3.log.gz"]
    )
    local = report.load_sweep([str(logs / "*_s1.log"), str(logs / "demo_routing_s3.log.gz")])
    _same_sweep(sweep, local)


def test_the_page_from_urls_equals_the_page_from_files(served: str, logs: Path,
                                                       tmp_path: Path) -> None:
    """The command with a URL: the same tables as from the files, the URLs in provenance."""
    from_urls, from_files = tmp_path / "urls" / "index.html", tmp_path / "files" / "index.html"
    fetched = run_main(served, "-o", str(from_urls), "--no-png", env=EPOCH)
    assert fetched.returncode == 0, fetched.stderr
    local = run_main(str(logs), "-o", str(from_files), "--no-png", env=EPOCH)
    assert local.returncode == 0, local.stderr
    for table in ("runs", "arms"):
        assert table_rows(soup(from_urls), table) == table_rows(soup(from_files), table)
    _, files = table_rows(soup(from_urls), "files")
    _, local_files = table_rows(soup(from_files), "files")
    assert [row[0] for row in files] == [served + p.name for p in sorted(logs.glob("*.log*"))]
    assert [row[1:] for row in files] == [row[1:] for row in local_files]  # sizes, SHA-256
    assert "report: warning" not in fetched.stderr


def test_memory_store_lists_folders_and_globs(memory_logs: str, logs: Path) -> None:
    _same_sweep(report.load_sweep([memory_logs]), report.load_sweep([str(logs)]))
    routing = report.load_sweep([memory_logs + "/*routing*"])
    assert sorted(routing.runs["run"]) == [
        "demo_routing_s1.log", "demo_routing_s2.log", "demo_routing_s3.log.gz"]
    # The same file name in two folders: the names say which, as for local files.
    both = report.load_sweep([memory_logs + "/demo_vanilla_s1.log",
                              memory_logs + "/old/demo_vanilla_s1.log"])
    assert list(both.runs["run"]) == ["logs/demo_vanilla_s1.log"]  # a copy: read once
    assert both.warnings == [f"{memory_logs}/old/demo_vanilla_s1.log: a copy of "
                             f"{memory_logs}/demo_vanilla_s1.log (the same run, the same "
                             "numbers); read once"]


def test_urls_mixed_with_local_paths(served: str, logs: Path, tmp_path: Path) -> None:
    sweep = report.load_sweep([served + "*_s1.log", str(logs / "demo_vanilla_s2.log")])
    assert len(sweep.runs) == 5
    paths = set(sweep.runs["path"])
    assert str(logs / "demo_vanilla_s2.log") in paths and served + "demo_vanilla_s1.log" in paths


def _refused_url() -> str:
    """A URL on a port where nothing listens (one just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/run.log"


def test_a_url_that_cannot_be_fetched_costs_one_warning(served: str, tmp_path: Path) -> None:
    missing, refused = served + "missing.log", _refused_url()
    out = tmp_path / "site" / "index.html"
    result = run_main(served, missing, refused, "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("report: warning")]
    assert warnings == [
        f"report: warning: {missing}: HTTP 404 File not found",
        f"report: warning: {refused}: ClientConnectorError: Cannot connect to host "
        f"{refused.split('/')[2]} ssl:default [Connect call failed "
        f"('127.0.0.1', {refused.split(':')[2].split('/')[0]})]",
    ]
    _, runs = table_rows(soup(out), "runs")
    assert len(runs) == 12
    strict = run_main(served, missing, "-o", str(tmp_path / "strict" / "index.html"), "--strict")
    assert strict.returncode == 1, strict.stderr
    only_bad = run_main(missing, "-o", str(tmp_path / "bad" / "index.html"))
    assert only_bad.returncode == 1
    assert only_bad.stderr == f"report: error: {missing}: HTTP 404 File not found\n"


def test_a_log_that_breaks_off_while_it_is_fetched(logs: Path, tmp_path: Path) -> None:
    """A server that says a file is longer than what it sends, then hangs up: one
    warning naming the URL, the other runs read."""

    class CutShort(QuietHandler):
        def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
            if self.path.endswith("demo_vanilla_s2.log"):
                outputfile.write(source.read(1000))
                return  # the connection closes with the rest of Content-Length unsent
            super().copyfile(source, outputfile)

    with serve_folder(logs, CutShort) as url:
        sweep = report.load_sweep([url])
    assert len(sweep.runs) == 11
    assert len(sweep.warnings) == 1, sweep.warnings
    assert sweep.warnings[0].startswith(f"{url}demo_vanilla_s2.log: cannot fetch (")


def test_a_gzip_log_sent_inflated_on_the_way(logs: Path) -> None:
    """A server that sends `x.log.gz` with `Content-Encoding: gzip` (object stores do, for
    objects stored that way) has it inflated by the HTTP client: read as the text it is."""

    class Encoded(QuietHandler):
        def end_headers(self) -> None:
            if self.path.endswith(".gz"):
                self.send_header("Content-Encoding", "gzip")
            super().end_headers()

    with serve_folder(logs, Encoded) as url:
        fetched = report.load_sweep([url + "demo_routing_s3.log.gz"])
    local = report.load_sweep([str(logs / "demo_routing_s3.log.gz")])
    pd.testing.assert_frame_equal(fetched.series, local.series)
    assert fetched.warnings == []


def test_credentials_in_a_url_never_reach_the_page(served: str, tmp_path: Path) -> None:
    """A presigned URL's query (a signature) and a URL's user and password are used to
    fetch, and shown nowhere: not on the terminal, not in the page."""
    secret = "X-Amz-Signature=0123456789abcdef-secret"
    host = served.split("/")[2]
    url = f"http://user:pa55word@{host}/demo_vanilla_s1.log?{secret}"
    out = tmp_path / "site" / "index.html"
    result = run_main(url, f"http://user:pa55word@{host}/missing.log?{secret}", "-o", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    for text in (page, result.stderr):
        assert "secret" not in text and "pa55word" not in text
    assert f"http://{host}/missing.log: HTTP 404" in result.stderr
    _, files = table_rows(soup(out), "files")
    assert files[0][0] == f"http://{host}/demo_vanilla_s1.log"
    assert remote.shown(url) == f"http://{host}/demo_vanilla_s1.log"


def test_urls_are_fetched_with_progress(served: str) -> None:
    seen: list[tuple[int, int]] = []
    report.load_sweep([served], progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, 12) for n in range(1, 13)]


def test_without_fsspec_a_url_says_what_to_install(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # `import fsspec` now fails
    url = "https://example.org/logs/run.log"
    result = run_main(url, "-o", str(tmp_path / "index.html"))
    assert result.returncode == 1
    assert result.stderr == (
        f"report: error: {url}: reading URLs needs fsspec: pip install 'report[remote]'\n"
    )
    mixed = run_main(str(EXAMPLES), url, "-o", str(tmp_path / "index.html"))
    assert mixed.returncode == 1 and "pip install 'report[remote]'" in mixed.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://bucket/logs/", "reading s3:// URLs needs s3fs: pip install s3fs"),
        ("gs://bucket/logs/", "reading gs:// URLs needs gcsfs: pip install gcsfs"),
        ("hf://datasets/me/logs/", "reading hf:// URLs needs huggingface_hub: "
                                   "pip install huggingface_hub"),
        ("nosuch://host/x.log", "fsspec cannot read nosuch:// URLs"),
    ],
)
def test_a_store_without_its_package(url: str, says: str, tmp_path: Path) -> None:
    package = {"s3": "s3fs", "gs": "gcsfs", "hf": "huggingface_hub"}.get(url.split(":")[0])
    if package and _importable(package):
        pytest.skip(f"{package} is installed")
    result = run_main(url, "-o", str(tmp_path / "index.html"))
    assert result.returncode == 1
    assert result.stderr.startswith(f"report: error: {url}: {says}"), result.stderr


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
