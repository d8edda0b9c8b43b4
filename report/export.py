"""Vega-Lite specs -> PNG/SVG bytes through vl-convert, and the offline JavaScript bundle.

vl-convert carries Vega, Vega-Lite and vega-embed itself, so neither rendering nor the
page ever needs the network. The bundle costs about a second to build, so it is cached
on disk, keyed by the vl-convert version that built it.
"""

from __future__ import annotations

import hashlib
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
    """A PNG of the chart at `scale` times its CSS size (2 = crisp on slides)."""
    return bytes(vl_convert.vegalite_to_png(spec, vl_version=vegalite_version(), scale=scale))


def to_svg(spec: Spec) -> str:
    """A standalone SVG of the chart."""
    return str(vl_convert.vegalite_to_svg(spec, vl_version=vegalite_version()))


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
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    bundle = str(vl_convert.javascript_bundle(vl_version=vegalite_version()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=".bundle-", delete=False
        ) as tmp:
            tmp.write(bundle)
        os.replace(tmp.name, path)
    except OSError:
        pass  # a read-only home still gets a report, only a slower one
    return bundle
