"""export: real vl-convert rendering, and the disk cache of fixed costs."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import png_size

from report import export

SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "data": {"values": [{"x": 0, "y": 0.1}, {"x": 1, "y": 0.5}, {"x": 2, "y": 0.3}]},
    "mark": "line",
    "encoding": {
        "x": {"field": "x", "type": "quantitative"},
        "y": {"field": "y", "type": "quantitative"},
    },
    "width": 200,
    "height": 100,
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("REPORT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("REPORT_NO_CACHE", raising=False)
    export.javascript_bundle.cache_clear()
    yield tmp_path / "cache"
    export.javascript_bundle.cache_clear()


def test_png_is_rendered_at_scale(cache: Path) -> None:
    one, two = export.to_png(SPEC, scale=1), export.to_png(SPEC, scale=2)
    (w1, h1), (w2, h2) = png_size(one), png_size(two)
    assert 200 < w1 < 300 and 100 < h1 < 200  # the plot plus its axes
    assert (w2, h2) == (2 * w1, 2 * h1)


def test_png_cache_is_content_addressed(cache: Path) -> None:
    first = export.to_png(SPEC, scale=1)
    entries = list((cache / "renders").glob("*.png"))
    assert len(entries) == 1 and entries[0].read_bytes() == first
    entries[0].write_bytes(b"marker")  # a second call must read the cache, not render
    assert export.to_png(SPEC, scale=1) == b"marker"
    changed = {**SPEC, "width": 210}
    assert png_size(export.to_png(changed, scale=1))[0] > 200  # another spec: a new render


def test_bundle_is_cached_by_version(cache: Path) -> None:
    bundle = export.javascript_bundle()
    assert "window.vegaEmbed=" in bundle and len(bundle) > 500_000
    (entry,) = cache.glob("vega-bundle-*.js")
    assert entry.read_text(encoding="utf-8") == bundle
    entry.write_text("cached marker", encoding="utf-8")
    export.javascript_bundle.cache_clear()
    assert export.javascript_bundle() == "cached marker"


def test_no_cache_and_unwritable_cache(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REPORT_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert export.to_png(SPEC, scale=1)[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    monkeypatch.setenv("REPORT_CACHE_DIR", str(tmp_path / "unused"))
    export.to_png(SPEC, scale=1)
    assert not (tmp_path / "unused").exists()
