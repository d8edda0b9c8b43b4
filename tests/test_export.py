"""export: one compile, real vl-convert drawing, Pillow for pixels, the disk cache."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vl_convert
from helpers import ROOT, png_size
from PIL import Image

import report
from report import charts, export, summary
from report.picture_spec import picture_spec

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

# Three clipped lines (one group each in Vega) and a layer of pointer-only points.
LINES = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "data": {"values": [{"x": x, "y": (x * 7 % 5) / 5, "s": s} for s in range(3)
                        for x in range(40)]},
    "layer": [
        {"name": "lines", "mark": {"type": "line", "clip": True},
         "encoding": {"detail": {"field": "s", "type": "nominal"},
                      "strokeOpacity": {"value": 0.4}}},
        {"name": "lines_points", "mark": {"type": "point", "opacity": 0, "clip": True},
         "encoding": {"tooltip": {"field": "y", "type": "quantitative"}}},
    ],
    "encoding": {
        "x": {"field": "x", "type": "quantitative"},
        "y": {"field": "y", "type": "quantitative", "scale": {"domain": [0.1, 0.7]}},
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


@pytest.fixture(scope="module")
def demo_specs() -> dict[str, dict]:
    """The demo's charts, compiled as the page embeds them."""
    sweep = report.load_demo()
    numbers = summary.summarize(sweep.runs, sweep.series)
    built = {
        "grid": charts.grid_chart(sweep.runs, sweep.series, numbers=numbers),
        "overlay": charts.overlay_chart(sweep.runs, sweep.series, numbers=numbers),
        "time_to_hack": charts.time_to_hack_chart(numbers),
        "aligned": charts.aligned_chart(sweep.runs, numbers),
    }
    return {key: export.to_vega(chart.to_dict()) for key, chart in built.items()}


# The marks of each chart's pointer layers (invisible tooltip and hover targets).
POINTER_MARKS = {
    "grid": {"rates_points_marks", "cos_points_marks"},
    "overlay": {"overlay_points_marks"},
    "time_to_hack": {"km_points_marks"},
    "aligned": {"aligned_points_marks"},
}


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGBA")).astype(int)


def all_marks(node: dict) -> list[dict]:
    """Every mark, depth first."""
    found = []
    for mark in node.get("marks", []):
        found += [mark, *all_marks(mark)]
    return found


def mark_names(node: dict) -> list[str]:
    """Every mark's name, depth first."""
    return [mark.get("name", "") for mark in all_marks(node)]


def assert_same_picture(a: bytes, b: bytes, differing: float = 1.0) -> None:
    """The same picture, but for rounding where translucent lines that share a clip are
    blended in another order: no pixel more than 3 levels (of 255) apart, and at most a
    `differing` share of the pixels changed at all."""
    first, second = pixels(a), pixels(b)
    assert first.shape == second.shape
    change = np.abs(first - second).max(axis=2)
    assert change.max() <= 3 and (change > 0).mean() <= differing, (change.max(), change.mean())


# --- one compile -----------------------------------------------------------------------


def test_to_vega_compiles_vega_lite_to_vega() -> None:
    vega = export.to_vega(SPEC)
    assert vega["$schema"].startswith("https://vega.github.io/schema/vega/v")
    assert "encoding" not in vega and vega["marks"][0]["type"] == "line"
    assert json.dumps(SPEC["data"]["values"]) in json.dumps(vega)  # the data rides along


def made_again(*args: object, **kwargs: object) -> None:
    """In place of vl-convert's compile or drawing, where the cache must serve instead."""
    msg = "made again"
    raise AssertionError(msg)


def test_the_compiled_grid_drops_only_the_datasets_nothing_reads() -> None:
    """Vega-Lite's top-level copies of each layer's data go (each facet cell draws from its
    own); the chart Vega draws from what is left is the same, mark for mark."""
    sweep = report.load_demo()
    spec = charts.grid_chart(sweep.runs, sweep.series).to_dict()
    full = vl_convert.vegalite_to_vega(spec, vl_version=export.vegalite_version())
    lean = export.to_vega(spec)
    names = [d["name"] for d in full["data"]]
    kept = [d["name"] for d in lean["data"]]
    assert set(kept) < set(names) and len(kept) <= len(names) // 2
    assert {"hover_store", "zoom_store"} <= set(kept)  # read by the selections' expressions
    assert {k: v for k, v in lean.items() if k != "data"} == {
        k: v for k, v in full.items() if k != "data"}

    def drawn(vega: dict) -> str:
        return re.sub(r"clip\d+", "clip", vl_convert.vega_to_svg(vega))  # ids count up

    assert drawn(lean) == drawn(full)


def test_a_compiled_spec_comes_from_the_cache(cache: Path, monkeypatch) -> None:
    vega = export.to_vega(SPEC)
    (entry,) = (cache / "specs").glob("*.json")
    assert entry.read_bytes() == sealed(json.dumps(vega).encode("utf-8"))

    monkeypatch.setattr(vl_convert, "vegalite_to_vega", made_again)
    assert export.to_vega(SPEC) == vega  # read, not compiled
    entry.write_bytes(sealed(b'{"marker": 1}'))
    assert export.to_vega(SPEC) == {"marker": 1}  # keyed by the Vega-Lite spec ...
    with pytest.raises(AssertionError, match="made again"):
        export.to_vega({**SPEC, "width": 210})  # ... so another one is compiled


def test_a_spec_compiled_the_old_way_is_compiled_again(cache: Path, monkeypatch) -> None:
    """A spec that `to_vega` made before it changed what it makes (an upgrade of report)
    is not served: `COMPILE_METHOD` is part of the key."""
    vega = export.to_vega(SPEC)
    monkeypatch.setattr(vl_convert, "vegalite_to_vega", made_again)
    assert export.to_vega(SPEC) == vega
    monkeypatch.setattr(export, "COMPILE_METHOD", export.COMPILE_METHOD + "+something-else")
    with pytest.raises(AssertionError, match="made again"):
        export.to_vega(SPEC)


def test_picture_spec_leaves_out_the_pointer_marks_only(demo_specs) -> None:
    assert set(demo_specs) == set(POINTER_MARKS)
    for key, page in demo_specs.items():
        before = json.dumps(page, sort_keys=True)
        picture = picture_spec(page, charts.POINTER_LAYER_SUFFIX)
        assert json.dumps(page, sort_keys=True) == before  # the page's spec is untouched
        assert POINTER_MARKS[key] <= set(mark_names(page)), key
        kept = [n for n in mark_names(picture) if not n.endswith("_clip")]
        assert kept == [n for n in mark_names(page) if n not in POINTER_MARKS[key]]
        for part in ("data", "signals", "scales", "axes", "config", "title", "layout"):
            assert picture.get(part) == page.get(part), (key, part)


def test_no_mark_builds_an_aria_description(demo_specs) -> None:
    """Vega-Lite's default gives every item of a mark (every point of every line) an ARIA
    description string, which only an SVG drawing would carry: the page draws on a
    canvas and the pictures are PNGs, so no mark asks for one."""
    for key, spec in demo_specs.items():
        drawn = [m for m in all_marks(spec) if m.get("type") != "group"]
        assert len(drawn) >= 4, key
        for mark in drawn:
            encoded = {name for part in mark.get("encode", {}).values() for name in part}
            assert mark.get("aria") is False, (key, mark.get("name"))
            assert not encoded & {"description", "ariaRoleDescription"}, (key, mark.get("name"))


def test_a_picture_shows_what_the_page_draws(demo_specs) -> None:
    """Leaving the pointer's marks out changes no pixel: they are invisible."""
    for page in demo_specs.values():
        picture = picture_spec(page, charts.POINTER_LAYER_SUFFIX)
        drawn = bytes(vl_convert.vega_to_png(page, scale=1))
        # Both drawn here: a cached 1x picture may be a 2x drawing shrunk.
        assert_same_picture(bytes(vl_convert.vega_to_png(picture, scale=1)), drawn,
                            differing=0.1)


def test_clipped_lines_share_one_clip() -> None:
    vega = export.to_vega(LINES)
    picture = picture_spec(vega, "_points")
    (wrapper,) = [m for m in picture["marks"] if m.get("name", "").endswith("_clip")]
    assert wrapper["clip"] is True and wrapper["type"] == "group"
    lines = [c for group in wrapper["marks"] for c in group["marks"]]
    assert lines and all("clip" not in c for c in lines)
    assert "lines_points_marks" in mark_names(vega)
    assert "lines_points_marks" not in mark_names(picture)
    # The same picture: the clip rectangle is the plot's, as each line's was.
    assert_same_picture(export.to_png(picture, scale=2),
                        bytes(vl_convert.vega_to_png(vega, scale=2)))


# --- pictures --------------------------------------------------------------------------


def test_png_is_drawn_at_scale(cache: Path) -> None:
    vega = export.to_vega(SPEC)
    one, two = export.to_png(vega, scale=1), export.to_png(vega, scale=2)
    (w1, h1), (w2, h2) = png_size(one), png_size(two)
    assert 200 < w1 < 300 and 100 < h1 < 200  # the plot plus its axes
    assert (w2, h2) == (2 * w1, 2 * h1)


def test_smaller_scales_are_the_one_drawing_shrunk(cache: Path, monkeypatch) -> None:
    calls: list[float] = []
    draw = vl_convert.vega_to_png
    monkeypatch.setattr(vl_convert, "vega_to_png",
                        lambda spec, scale: calls.append(scale) or draw(spec, scale=scale))
    vega = export.to_vega(LINES)
    one, two = export.to_pngs(vega, (1, 2))
    assert calls == [2]  # the 1x picture is the 2x one shrunk, not a second drawing
    big = pixels(two)
    height, width = big.shape[0] // 2, big.shape[1] // 2
    means = big[: 2 * height, : 2 * width].reshape(height, 2, width, 2, 4).mean(axis=(1, 3))
    assert np.abs(pixels(one) - means).max() <= 1  # each pixel the mean of its 2x2 square
    assert export.to_pngs(vega, (1, 2)) == [one, two] and calls == [2]  # cached


def test_pictures_are_reproducible(monkeypatch) -> None:
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    vega = export.to_vega(LINES)
    assert export.to_pngs(vega, (1, 2)) == export.to_pngs(vega, (1, 2))


def test_pictures_are_vl_convert_s_pixels_in_fewer_bytes(cache: Path) -> None:
    vega = export.to_vega(LINES)
    drawn = bytes(vl_convert.vega_to_png(vega, scale=2))
    png = export.to_png(vega, scale=2)
    assert len(png) < len(drawn)
    np.testing.assert_array_equal(pixels(png), pixels(drawn))
    with Image.open(io.BytesIO(png)) as written, Image.open(io.BytesIO(drawn)) as original:
        assert written.mode == original.mode and written.info["dpi"] == original.info["dpi"]


# --- the disk cache ----------------------------------------------------------------------


def test_png_cache_is_content_addressed(cache: Path) -> None:
    vega = export.to_vega(SPEC)
    first = export.to_png(vega, scale=1)
    entries = list((cache / "renders").glob("*.png"))
    assert len(entries) == 1 and entries[0].read_bytes() == sealed(first)
    entries[0].write_bytes(sealed(b"marker"))  # a second call must read the cache, not draw
    assert export.to_png(vega, scale=1) == b"marker"
    changed = export.to_vega({**SPEC, "width": 210})
    assert png_size(export.to_png(changed, scale=1))[0] > 200  # another spec: a new drawing


def test_no_cache_and_unwritable_cache(tmp_path: Path, monkeypatch) -> None:
    vega = export.to_vega(SPEC)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REPORT_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert png_size(export.to_png(vega, scale=1))[0] > 200
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    monkeypatch.setenv("REPORT_CACHE_DIR", str(tmp_path / "unused"))
    export.to_png(vega, scale=1)
    export.javascript_bundle.cache_clear()
    export.javascript_bundle()
    export.javascript_bundle.cache_clear()
    assert not (tmp_path / "unused").exists()


# --- the page's JavaScript ---------------------------------------------------------------

# An error message of the Vega-Lite compiler, kept by minification.
VEGA_LITE_MARKER = "Cannot project a selection on encoding channel"


def test_bundle_has_vega_and_tooltips_but_no_vega_lite(cache: Path) -> None:
    bundle = export.javascript_bundle()
    assert "window.vega=" in bundle.replace(" ", "") and "vg-tooltip-element" in bundle
    assert "toImageURL" in bundle  # what the export menu asks Vega for
    assert VEGA_LITE_MARKER not in bundle
    everything = vl_convert.javascript_bundle(vl_version=export.vegalite_version())
    assert VEGA_LITE_MARKER in everything  # the marker is real: vl-convert's own has it
    assert len(bundle) < len(everything) - 200_000


def test_bundle_is_cached_by_version(cache: Path) -> None:
    bundle = export.javascript_bundle()
    (entry,) = cache.glob("vega-bundle-*.js")
    assert entry.read_bytes() == sealed(bundle.encode("utf-8"))
    entry.write_bytes(sealed(b"cached marker"))
    export.javascript_bundle.cache_clear()
    assert export.javascript_bundle() == "cached marker"


def sealed(data: bytes) -> bytes:
    """A cache entry as the cache keeps it: the SHA-256 of `data`, then `data`."""
    return hashlib.sha256(data).digest() + data


@pytest.mark.parametrize("damage", ["truncated", "a byte changed", "empty", "unsealed"])
def test_a_damaged_cache_entry_is_made_again_not_served(cache: Path, damage: str) -> None:
    bundle = export.javascript_bundle()
    vega = export.to_vega(SPEC)
    png = export.to_png(vega, scale=1)
    (script,) = cache.glob("vega-bundle-*.js")
    (picture,) = (cache / "renders").glob("*.png")
    (compiled,) = (cache / "specs").glob("*.json")
    for entry in (script, picture, compiled):
        whole = entry.read_bytes()
        entry.write_bytes({
            "truncated": whole[: len(whole) // 2],
            "a byte changed": whole[:-50] + bytes([whole[-50] ^ 1]) + whole[-49:],
            "empty": b"",
            "unsealed": whole[32:],  # what an earlier version wrote: no digest
        }[damage])
    export.javascript_bundle.cache_clear()
    assert export.javascript_bundle() == bundle
    assert export.to_png(vega, scale=1) == png
    assert export.to_vega(SPEC) == vega
    assert script.read_bytes() == sealed(bundle.encode("utf-8"))  # made again, whole
    assert picture.read_bytes() == sealed(png)
    assert compiled.read_bytes() == sealed(json.dumps(vega).encode("utf-8"))


# A cache on a full disk, for real: the process may write no file past 4 KB (writes
# beyond fail with EFBIG, as they fail with ENOSPC on a full disk).
FULL_DISK = """
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from report import export
bundle = export.javascript_bundle()
png = export.to_png(export.to_vega(SPEC), scale=2)
print(len(bundle), len(png))
"""


def test_a_full_cache_disk_falls_back_to_no_cache_and_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    env = {**os.environ, "REPORT_CACHE_DIR": str(folder), "PYTHONPATH": str(ROOT),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("REPORT_NO_CACHE", None)
    code = f"SPEC = {SPEC!r}\n{FULL_DISK}"
    for _ in range(2):  # the second run finds what the first could not write
        ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=False)
        assert ran.returncode == 0, ran.stderr
        bundle_size, png_size_ = map(int, ran.stdout.split())
        assert bundle_size > 100_000 and png_size_ > 4096  # neither fits in 4 KB
        left = [p for p in folder.rglob("*") if p.is_file()]
        # No temporary file, no partial entry: only the compiled spec, which fits, whole.
        assert [p.parent.name for p in left] == ["specs"], left
        whole = left[0].read_bytes()
        assert hashlib.sha256(whole[32:]).digest() == whole[:32]



def test_charts_compiled_and_drawn_by_worker_processes_are_the_ones_made_here(
        cache: Path, monkeypatch) -> None:
    """Several charts, compiled and drawn by two worker processes, are the very specs and
    bytes this process makes one after another, each picture at both scales, without the
    pointer's marks; the workers fill this process's cache, so nothing is made again."""
    specs = {"line": SPEC, "lines": LINES, "wide": {**SPEC, "width": 400}}
    drawn = export.draw_charts(specs, (1.0, 2.0), "_points", jobs=2)
    assert len(list((cache / "renders").glob("*.png"))) == 6  # 3 specs x 2 scales
    assert len(list((cache / "specs").glob("*.json"))) == 3
    with monkeypatch.context() as patched:
        patched.setattr(vl_convert, "vegalite_to_vega", made_again)
        patched.setattr(vl_convert, "vega_to_png", made_again)
        assert export.draw_charts(specs, (1.0, 2.0), "_points", jobs=2) == drawn
    monkeypatch.setenv("REPORT_NO_CACHE", "1")
    here = {key: export.to_vega(spec) for key, spec in specs.items()}
    assert {key: vega for key, (vega, _) in drawn.items()} == here
    assert "points_marks" in json.dumps(here["lines"])
    assert {key: export.to_pngs(picture_spec(vega, "_points"), (1.0, 2.0))
            for key, vega in here.items()} == {key: pngs for key, (_, pngs) in drawn.items()}
    for _, (small, large) in drawn.values():
        width, height = png_size(small)
        assert png_size(large) == (2 * width, 2 * height)
    assert png_size(drawn["wide"][1][0])[0] > png_size(drawn["line"][1][0])[0] + 150
