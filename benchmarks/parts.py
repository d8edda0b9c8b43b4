"""What each part of the picture layer (`report/export.py`) buys, measured on one sweep.

    PYTHONPATH=. python benchmarks/parts.py LOGS [--rounds 3]

Builds the sweep's two charts as `build_report` does, then times, in this process, the
variants each part of export chooses between (every variant of a round in turn, so all
see the same machine; the fastest round of each counts):

- the picture drawn from the page's Vega spec as it is, without the pointer marks, and
  with clipped lines sharing one clip as well (`picture_spec`);
- the smaller picture drawn by vl-convert at its own scale, or shrunk from the larger one
  by Pillow (`to_pngs`);
- one Vega-Lite compile, or the compiled spec read from the disk cache (`to_vega`);
- the picture written again by Pillow at deflate level 3 (`export.PNG_LEVEL`) or at its
  default, 6, and the bytes of each beside vl-convert's own;
- the JavaScript bundle built by vl-convert, or read from the disk cache.

Prints one JSON object; `benchmarks/bench.py --parts` turns it into a table.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import vl_convert
from PIL import Image

import report
from report import build, charts, export, summary
from report import picture_spec as pictures


def fastest(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, dict[str, float]]:
    """Seconds of each variant: its fastest and its median round, variants interleaved."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(max(rounds, 1)):
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: {"min": min(t), "median": statistics.median(t)} for name, t in times.items()}


def _written(png: bytes, level: int) -> bytes:
    """`png` decoded and written again by Pillow at deflate `level`."""
    with Image.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=level, dpi=image.info.get("dpi"))
        return out.getvalue()


def _shrunk(png: bytes, ratio: float) -> bytes:
    """`png` scaled by `ratio` with Pillow's box filter and written as `export` writes."""
    with Image.open(io.BytesIO(png)) as image:
        size = (round(image.width * ratio), round(image.height * ratio))
        out = io.BytesIO()
        image.resize(size, Image.Resampling.BOX).save(
            out, format="PNG", compress_level=export.PNG_LEVEL, dpi=image.info.get("dpi"))
        return out.getvalue()


def chart_specs(logs: str) -> dict[str, dict]:
    """The Vega-Lite specs of the sweep's charts, as build_report makes them."""
    sweep = report.load_sweep([logs])
    numbers = summary.summarize(sweep.runs, sweep.series)
    colors = charts.arm_colors(sweep.runs["arm"], final_hack=numbers.final_hack_by_arm())
    built = {
        "grid": charts.grid_chart(sweep.runs, sweep.series, numbers=numbers),
        "overlay": charts.overlay_chart(sweep.runs, sweep.series, numbers=numbers,
                                        colors=colors),
        "time_to_hack": charts.time_to_hack_chart(numbers, colors=colors),
    }
    if charts.has_aligned_view(numbers):
        built["aligned"] = charts.aligned_chart(sweep.runs, numbers)
    return {key: chart.to_dict(validate=False) for key, chart in built.items()}


def measure(logs: str, rounds: int) -> dict[str, Any]:
    suffix = charts.POINTER_LAYER_SUFFIX
    scale, small = build.Options().png_scale, build.PICTURE_SCALE
    found: dict[str, Any] = {}
    for key, spec in chart_specs(logs).items():
        page = export.to_vega(spec)
        no_pointer = pictures._without_layers(page, suffix)  # picture_spec's first half
        picture = pictures.picture_spec(page, suffix)
        big = bytes(vl_convert.vega_to_png(picture, scale=scale))
        found[key] = fastest({
            "picture written by Pillow, level 3": lambda b=big: _written(b, 3),
            "picture written by Pillow, level 6": lambda b=big: _written(b, 6),
            "page spec as it is": lambda p=page: vl_convert.vega_to_png(p, scale=scale),
            "without the pointer marks": lambda p=no_pointer: vl_convert.vega_to_png(
                p, scale=scale),
            "and clipped lines sharing one clip (picture_spec)": lambda p=picture:
                vl_convert.vega_to_png(p, scale=scale),
            "smaller picture drawn by vl-convert": lambda p=picture: vl_convert.vega_to_png(
                p, scale=small),
            "smaller picture shrunk by Pillow": lambda b=big: _shrunk(b, small / scale),
            "one Vega-Lite compile": lambda s=spec: vl_convert.vegalite_to_vega(
                s, vl_version=export.vegalite_version()),
            "compiled spec read from the disk cache": lambda s=spec: export.to_vega(s),
        }, rounds)
        found[key]["picture bytes"] = {
            "vl-convert": len(big), "level 3": len(_written(big, 3)),
            "level 6": len(_written(big, 6))}
    with tempfile.TemporaryDirectory() as cache:
        path = Path(cache) / "bundle.js"
        path.write_text(export.javascript_bundle(), encoding="utf-8")
        found["bundle"] = fastest({
            "built by vl-convert": lambda: vl_convert.javascript_bundle(export.BUNDLE_SNIPPET),
            "read from the disk cache": lambda: path.read_text(encoding="utf-8"),
        }, rounds)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(measure(args.logs, args.rounds)))


if __name__ == "__main__":
    main()
