"""export: real vl-convert rendering, and the disk cache of fixed costs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import vl_convert
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


# --- one render per chart, shared clips, the helper process ----------------------------

LINES = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "data": {"values": [{"x": x, "y": (x * 7 % 5) / 5, "s": s} for s in range(3)
                        for x in range(40)]},
    "mark": {"type": "line", "clip": True},
    "encoding": {
        "x": {"field": "x", "type": "quantitative"},
        "y": {"field": "y", "type": "quantitative", "scale": {"domain": [0.1, 0.7]}},
        "detail": {"field": "s", "type": "nominal"},
        "strokeOpacity": {"value": 0.4},
    },
    "width": 200,
    "height": 100,
}


def test_smaller_scales_shrink_the_one_render(cache: Path, monkeypatch) -> None:
    calls: list[float] = []
    render = export._render
    monkeypatch.setattr(export, "_render", lambda spec, scale, v: calls.append(scale)
                        or render(spec, scale, v))
    one, two = export.to_pngs(LINES, (1, 2))
    assert calls == [2]  # the 1x picture is the 2x one shrunk, not a second render
    (w1, h1), (w2, h2) = png_size(one), png_size(two)
    assert (w2, h2) == (2 * w1, 2 * h1)
    assert export.to_pngs(LINES, (1, 2)) == [one, two] and calls == [2]  # cached


def test_shrink_averages_each_square() -> None:
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    pixels[:2, :2, 0] = 255  # a red square top left, black elsewhere
    pixels[2:, 2:, 1] = 100
    rows = b"".join(b"\x00" + pixels[r].tobytes() for r in range(4))
    png = export._png_bytes([
        (b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 6, 0, 0, 0)),
        (b"IDAT", zlib.compress(rows)), (b"IEND", b""),
    ])
    small = export._shrink(png, 2)
    assert small is not None and png_size(small) == (2, 2)
    raw = zlib.decompress(b"".join(d for k, d in export._png_chunks(small) if k == b"IDAT"))
    lines = np.frombuffer(raw, dtype=np.uint8).reshape(2, 9)
    assert set(lines[:, 0]) == {1}  # Sub-filtered rows, as vl-convert writes them
    got = np.cumsum(lines[:, 1:].reshape(2, 2, 4), axis=1, dtype=np.uint8)
    assert got.tolist() == [[[255, 0, 0, 255], [0, 0, 0, 255]], [[0, 0, 0, 255], [0, 100, 0, 255]]]
    assert export._shrink(b"not a png", 2) is None


def test_clipped_lines_share_one_clip() -> None:
    vega = vl_convert.vegalite_to_vega(LINES, vl_version=export.vegalite_version())
    shared = export._share_clips(vega)
    (wrapper,) = [m for m in shared["marks"] if m.get("name", "").endswith("_clip")]
    assert wrapper["clip"] is True and wrapper["type"] == "group"
    lines = [c for g in wrapper["marks"] for c in g["marks"]]
    assert lines and all("clip" not in c for c in lines)
    # The same picture: the clip rectangle is the plot's, as each line's was.
    before = vl_convert.vega_to_png(vega, scale=1)
    after = vl_convert.vega_to_png(shared, scale=1)
    assert png_size(before) == png_size(after)


def test_helper_draws_what_this_process_draws(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    with export.Renderer(helpers=1) as renderer:
        later_lines = renderer.submit(LINES, (1, 2))
        later_spec = renderer.submit(SPEC, (1,))
        assert later_spec() == export.to_pngs(SPEC, (1,))  # answers come back in order
        assert later_lines() == export.to_pngs(LINES, (1, 2))


def test_helper_failure_is_raised_here(monkeypatch) -> None:
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    with export.Renderer(helpers=1) as renderer:
        bad = renderer.submit({"mark": "no such mark"}, (1,))
        good = renderer.submit(SPEC, (1,))
        with pytest.raises(ValueError):
            bad()  # the helper could not draw it, so this process tries, and says why
        assert good()[0][:8] == b"\x89PNG\r\n\x1a\n"


def test_without_helper_submit_draws_at_once(monkeypatch) -> None:
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    with export.Renderer(helpers=0) as renderer:
        assert renderer.submit(SPEC, (1,))() == export.to_pngs(SPEC, (1,))


def test_closing_a_busy_helper_does_not_hang(monkeypatch) -> None:
    """Ctrl-C while the helper draws: the pipe to it is full, and closing must not wait."""
    import threading
    import time

    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    big = {**LINES, "description": "x" * 3_000_000}  # far more than a pipe holds
    renderer = export.Renderer(helpers=1)
    renderer.submit(big, (12,))  # its answer, a big PNG, fills the pipe back: unread
    renderer.submit(big, (1,))  # so the helper stops reading this one: the writer blocks
    time.sleep(3)
    closing = threading.Thread(target=renderer.close, daemon=True)
    closing.start()
    closing.join(timeout=20)
    assert not closing.is_alive()


def test_compact_png_keeps_the_pixels(cache: Path) -> None:
    png = export.to_png(SPEC, scale=2)
    small = export.compact_png(png, level=9)
    assert len(small) <= len(png) and png_size(small) == png_size(png)

    def pixels(data: bytes) -> bytes:
        return zlib.decompress(b"".join(d for k, d in export._png_chunks(data) if k == b"IDAT"))

    assert pixels(small) == pixels(png)
    assert export.compact_png(b"not a png") == b"not a png"


# --- pictures drawn in bands, helpers that really draw ---------------------------------


def _concat(direction: str) -> dict:
    view = {k: v for k, v in LINES.items() if k != "$schema"}
    return {"$schema": LINES["$schema"], "title": "two views", direction: [view, view]}


def test_rows_of_a_concat_are_drawn_as_bands_and_stitched_exactly() -> None:
    svg = export._svg(_concat("vconcat"), export.vegalite_version())
    bands = export._bands(svg)
    assert len(bands) == 2 and all(len(b) < len(svg) for b in bands)
    assert "two views" in bands[0] and "two views" not in bands[1]  # the title: once
    whole = export._pixels(export._raster(svg, 2))
    stitched = export._pixels(export._combine(svg, bands, [export._raster(b, 2) for b in bands],
                                              2))
    np.testing.assert_array_equal(stitched, whole)  # every pixel, not just alike
    # Each band drew only its own rows: the first the title and top view, the second the
    # bottom view, and the stitched picture is each band where it drew.
    first, second = (export._pixels(export._raster(b, 2)) for b in bands)
    drawn = [(p != p[0, 0]).any(axis=(1, 2)) for p in (first, second)]
    assert drawn[0].any() and drawn[1].any() and not (drawn[0] & drawn[1]).any()
    assert np.flatnonzero(drawn[0]).max() < np.flatnonzero(drawn[1]).min()


def test_bands_drawing_in_the_same_rows_are_drawn_whole() -> None:
    svg = export._svg(_concat("hconcat"), export.vegalite_version())  # side by side
    bands = export._bands(svg)
    assert len(bands) == 2
    pngs = [export._raster(b, 1) for b in bands]
    assert export._stitch(pngs) is None  # both draw in every row: no stitching
    combined = export._combine(svg, bands, pngs, 1)
    np.testing.assert_array_equal(export._pixels(combined), export._pixels(export._raster(svg, 1)))


@pytest.mark.parametrize(
    "svg",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><!-- a comment --><g></g></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><g class="mark-group role-scope"></g>'
        '<g class="mark-group role-scope"><path d="M0,0" title="a > b"/></g></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><g><rect/></svg>',
    ],
)
def test_svg_it_cannot_vouch_for_is_one_band(svg: str) -> None:
    assert export._bands(svg) == [svg]


def test_helper_really_draws(monkeypatch) -> None:
    """Not only the fallback: the helper answers the SVG and draws the first band."""
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    drawn_here: list[str] = []
    raster = export._raster
    monkeypatch.setattr(export, "_raster", lambda svg, scale: drawn_here.append(svg)
                        or raster(svg, scale))
    monkeypatch.setattr(export, "_svg", lambda *a: pytest.fail("compiled here, not there"))
    spec = _concat("vconcat")
    with export.Renderer(helpers=1) as renderer:
        later = renderer.submit(spec, (1, 2))
        one, two = later()
        (helper,) = renderer._helpers
        assert helper.alive and helper.read == 2  # its answers: the SVG, then a band
    assert len(drawn_here) == 1  # the other band, drawn here meanwhile
    monkeypatch.undo()
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    assert [one, two] == export.to_pngs(spec, (1, 2))  # as this process alone draws it


def test_first_run_builds_the_bundle_in_a_process_of_its_own(cache: Path, monkeypatch) -> None:
    """prefetch_bundle: the bundle comes from another process (this one may not build
    it), lands in the cache, and equals vl-convert's own."""
    export.prefetch_bundle()
    assert len(export._prefetch) == 1
    export.prefetch_bundle()  # one is enough
    assert len(export._prefetch) == 1
    expected = vl_convert.javascript_bundle(vl_version=export.vegalite_version())
    monkeypatch.setattr(vl_convert, "javascript_bundle",
                        lambda **kw: pytest.fail("built here, not by the prefetch process"))
    assert export.javascript_bundle() == expected
    assert not export._prefetch  # waited for, and forgotten
    (entry,) = cache.glob("vega-bundle-*.js")
    assert entry.read_text(encoding="utf-8") == expected
    export.javascript_bundle.cache_clear()
    export.prefetch_bundle()  # cached now: nothing to start
    assert not export._prefetch


def test_no_prefetch_without_a_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    monkeypatch.setenv("REPORT_CACHE_DIR", str(tmp_path / "unused"))
    export.javascript_bundle.cache_clear()
    export.prefetch_bundle()
    assert not export._prefetch and not (tmp_path / "unused").exists()
    export.javascript_bundle.cache_clear()
