"""Vega-Lite specs -> PNG/SVG bytes through vl-convert, and the offline JavaScript bundle.

vl-convert carries Vega, Vega-Lite and vega-embed itself, so neither rendering nor the
page ever needs the network. The bundle costs about a second to build, so it is cached
on disk, keyed by the vl-convert version that built it, and so are rendered PNGs, keyed
by their spec. `REPORT_NO_CACHE=1` turns the cache off; `REPORT_CACHE_DIR` moves it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

Spec = dict[str, Any]


@cache
def vegalite_version() -> str | None:
    """The Vega-Lite version Altair writes, if vl-convert knows it (else its default)."""
    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return wanted if wanted in vl_convert.get_vegalite_versions() else None


def to_png(spec: Spec, scale: float = 2.0) -> bytes:
    """A PNG of the chart at `scale` times its CSS size (2 = crisp on slides).

    Rendering costs about a second a chart, so PNGs are kept in a content-addressed
    disk cache: the same spec, scale and vl-convert give the same bytes anyway.
    """
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(f"{_bundle_version_key()}|{scale}|{text}".encode()).hexdigest()
    path = cache_dir() / "renders" / f"{key}.png"
    if _cache_enabled():
        try:
            return path.read_bytes()
        except OSError:
            pass
    png = bytes(vl_convert.vegalite_to_png(spec, vl_version=vegalite_version(), scale=scale))
    if _cache_enabled():
        _store(path, png)
        _prune(path.parent, keep=RENDER_CACHE_FILES)
    return png


def to_svg(spec: Spec) -> str:
    """A standalone SVG of the chart."""
    return str(vl_convert.vegalite_to_svg(spec, vl_version=vegalite_version()))


RENDER_CACHE_FILES = 64


def _cache_enabled() -> bool:
    return os.environ.get("REPORT_NO_CACHE", "") in ("", "0")


def _store(path: Path, data: bytes) -> None:
    """Write a cache entry atomically; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
    except OSError:
        pass


def _prune(folder: Path, keep: int) -> None:
    """Keep the `keep` most recently written entries."""
    try:
        entries = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[keep:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def cache_dir() -> Path:
    """Where fixed costs are kept: $REPORT_CACHE_DIR, else $XDG_CACHE_HOME/report."""
    if override := os.environ.get("REPORT_CACHE_DIR"):
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "report"


def _bundle_version_key() -> str:
    parts = [
        getattr(vl_convert, "__version__", "?"),
        vl_convert.get_vega_version(),
        vl_convert.get_vega_embed_version(),
        str(vegalite_version()),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@cache
def javascript_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script that needs no network.

    Read from the disk cache when a previous run built it with the same vl-convert;
    a cache that cannot be read or written is simply rebuilt (never an error).
    """
    path = cache_dir() / f"vega-bundle-{_bundle_version_key()}.js"
    if _cache_enabled():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
    # The stub marks `snippet` as required; the function's default is the global one.
    bundle = str(vl_convert.javascript_bundle(vl_version=vegalite_version()))  # type: ignore[call-arg]
    _store(path, bundle.encode("utf-8"))  # a read-only home still gets a report, only slower
    return bundle
