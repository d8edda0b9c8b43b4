"""Logs where they live: URLs that fsspec understands (`https://`, `s3://`, `gs://`,
`hf://`, `memory://`, `file://`, ...), listed, globbed, described and read (part of the
load step, as `reader` is for local files).

fsspec is the optional extra `report[remote]` (with aiohttp, its HTTP support); cloud
stores need their own package (`s3fs`, `gcsfs`, `huggingface_hub`), which fsspec names
when it is missing. Nothing here is imported until a URL is given.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import re
import threading
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

from report.errors import ReportError
from report.reader import InputFile, chunks, read_chunks

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

LOG_SUFFIXES = (".log", ".log.gz")  # as `parse.LOG_SUFFIXES`, which is this
INSTALL = "pip install 'report[remote]'"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
# What a store says of a file that changes when its bytes do (fsspec passes each store's
# own names through): size, then ETags, modification times and checksums.
_VERSION_FIELDS = ("size", "ETag", "etag", "Last-Modified", "LastModified", "last_modified",
                   "mtime", "updated", "md5Hash", "created")


def is_url(item: str) -> bool:
    """Whether an input is a URL (`scheme://...`) rather than a local path."""
    return _SCHEME.match(item) is not None


def shown(url: str) -> str:
    """A URL as the report shows it: without user, password, query and fragment, which
    may hold credentials (a presigned URL's signature) that a published page must not."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def name_parts(url: str) -> list[str]:
    """The host and path segments of a URL, as a file name's folders are (run names)."""
    parts = urlsplit(url)
    return [parts.netloc.rpartition("@")[2]] + [
        unquote(segment) for segment in parts.path.split("/") if segment
    ]


def log_named(url: str) -> bool:
    return urlsplit(url).path.endswith(LOG_SUFFIXES)


def gzipped(url: str) -> bool:
    return urlsplit(url).path.endswith(".gz")


def filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    """fsspec's filesystem for `url` and the path in it. A missing package (fsspec itself,
    or a store's) is a `ReportError` saying what to install."""
    try:
        import fsspec
    except ImportError:
        msg = f"{shown(url)}: reading URLs needs fsspec: {INSTALL}"
        raise ReportError(msg) from None
    protocol = url.split("://", 1)[0].lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        msg = f"{shown(url)}: reading {protocol}:// URLs needs {_package(protocol, exc)}"
        raise ReportError(msg) from None
    except ValueError as exc:
        msg = f"{shown(url)}: fsspec cannot read {protocol}:// URLs ({exc})"
        raise ReportError(msg) from None


def _package(protocol: str, exc: ImportError) -> str:
    """The package fsspec needs for `protocol`, as a pip command where it is known."""
    from fsspec.registry import known_implementations

    module = known_implementations.get(protocol, {}).get("class", "").split(".")[0]
    if protocol in ("http", "https"):
        return f"aiohttp: {INSTALL}"
    return f"{module}: pip install {module}" if module else str(exc)


def reason(exc: BaseException, url: str = "") -> str:
    """Why an operation on a URL failed, in a few words (no traceback, no credentials)."""
    cause = exc.__cause__
    if isinstance(exc, FileNotFoundError) and isinstance(cause, Exception):
        return reason(cause, url)  # fsspec's HTTP says "not found" for any failure
    status = getattr(exc, "status", None)
    if isinstance(status, int):  # an HTTP error (aiohttp's ClientResponseError)
        return f"HTTP {status} {getattr(exc, 'message', '') or ''}".strip()
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).replace(url, shown(url)) if url else str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _url(fs: AbstractFileSystem, name: str) -> str:
    """A name a listing gives (`bucket/key`, `/dir/file`, or a whole URL) as a URL."""
    return name if is_url(name) else str(fs.unstrip_protocol(name))


def matches(item: str) -> tuple[list[str], str]:
    """The URLs of the log files one URL input names (a file, a folder's `*.log` and
    `*.log.gz`, a glob), or why it names none."""
    fs, path = filesystem(item)
    fs.invalidate_cache()  # a listing seen before may be stale (`--watch` lists again)
    try:
        if glob.has_magic(urlsplit(item).path):
            found = fs.glob(path, detail=True)
            urls = sorted(_url(fs, name) for name, info in found.items()
                          if info.get("type") != "directory")
            return urls, "" if urls else "pattern matches no files"
        info = fs.info(path)
    except Exception as exc:  # any store's, any network's: one warning, never a traceback
        return [], reason(exc, item)
    if not _is_folder(info, item):
        return [item], ""
    try:
        entries = fs.ls(path, detail=True)
    except Exception as exc:
        return [], f"cannot list ({reason(exc, item)})"
    urls = sorted(_url(fs, entry["name"]) for entry in entries
                  if entry.get("type") != "directory" and log_named(entry["name"]))
    return urls, "" if urls else "folder holds no *.log or *.log.gz files"


def _is_folder(info: dict[str, Any], url: str) -> bool:
    """A folder, or a web page listing one (what an HTTP server gives for a folder)."""
    if info.get("type") == "directory":
        return True
    return info.get("mimetype") == "text/html" and not log_named(url)


def version(url: str) -> tuple[str, ...]:
    """What the store says of the file now, to tell whether it changed (size, ETag,
    modification time). Raises `ReportError` naming the URL when it cannot say."""
    fs, path = filesystem(url)
    try:
        info = fs.info(path)
    except Exception as exc:
        msg = f"{shown(url)}: cannot fetch ({reason(exc, url)})"
        raise ReportError(msg) from None
    return tuple(str(info.get(name, "")) for name in _VERSION_FIELDS)


@contextlib.contextmanager
def opened(url: str, name: str | None = None) -> Iterator[BinaryIO]:
    """The file at `url` as a binary stream from its start. Whatever fails on the way
    (the store, the network, or reading what it sends) is one `ReportError` naming the
    URL (as `name`, or `shown`) and the reason."""
    name = name or shown(url)
    fs, path = filesystem(url)
    # An HTTP server need not honour Range requests (python -m http.server does not):
    # a stream reads the file with one GET whatever the server.
    streaming = {"block_size": 0} if "http" in fs.protocol else {}
    try:
        with fs.open(path, "rb", **streaming) as fh:
            yield fh
    except (ReportError, MemoryError):
        raise
    except zlib.error as exc:
        msg = f"{name}: not a valid gzip file ({exc})"
        raise ReportError(msg) from None
    except Exception as exc:  # any store's, any network's: one message, never a traceback
        msg = f"{name}: cannot fetch ({reason(exc, url)})"
        raise ReportError(msg) from None


def read(
    url: str, shown_as: str | None = None, cancelled: threading.Event | None = None
) -> tuple[bytearray, InputFile, list[str]]:
    """A log at `url` as `reader.read_bytes` gives a local one: its text, its provenance
    (the URL as shown, the size and SHA-256 of the bytes as fetched), remarks. A name
    ending in `.gz` is inflated unless its bytes are not gzip: a server that sent it with
    `Content-Encoding: gzip` had it inflated on the way. Setting `cancelled` stops the
    download at its next chunk (a ReportError)."""
    name = shown_as or shown(url)
    with opened(url, name) as fh:
        stream = _until(chunks(fh), cancelled, name)
        first = next(stream, b"")
        return read_chunks(itertools.chain([first], stream), name,
                           gzipped=gzipped(url) and first.startswith(b"\x1f\x8b"))


def _until(
    stream: Iterator[bytes], cancelled: threading.Event | None, name: str
) -> Iterator[bytes]:
    for chunk in stream:
        if cancelled is not None and cancelled.is_set():
            msg = f"{name}: download cancelled"
            raise ReportError(msg)
        yield chunk
