"""Where a report page's size and draw time go.

    PYTHONPATH=. python benchmarks/draw_profile.py PAGE.html [PAGE.html ...] [--repeat 3] [--ablate]

For each page: its bytes by part (the pictures, the downloads, the chart specs, the
tables, the rest), and the draw time and main thread's CPU time as `bench.py` measures
them (median of `--repeat` loads); with `--ablate`, the same for the page without its
table rows, without its All-metrics charts and without its downloads, so each part's
cost is the difference. Chromium is Debian's, driven by playwright, offline.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

PARTS = {
    "pictures": re.compile(rb'src="data:image/png;base64,[^"]*"'),
    "downloads": re.compile(rb'href="data:(?:text/csv|application/[a-z+.-]+);base64,[^"]*"'),
    "chart specs": re.compile(
        rb'<script type="application/json" id="chart-specs">.*?</script>', re.S),
    "tables": re.compile(rb"<table.*?</table>", re.S),
}


def page_parts(html: bytes) -> dict[str, int]:
    """Bytes of each part of the page (the rest: script bundle, prose, styles)."""
    sizes = {name: sum(len(m) for m in pattern.findall(html)) for name, pattern in PARTS.items()}
    sizes["rest"] = len(html) - sum(sizes.values())
    return sizes


# The page without one part: what that part costs the draw is the difference.
ABLATIONS = {
    "no table rows": (re.compile(r"<tbody>.*?</tbody>", re.S), "<tbody></tbody>"),
    "no All-metrics charts": (
        re.compile(r'<section class="chart-section" id="metric-.*?</section>', re.S), ""),
    "no downloads": (re.compile(r'href="data:[^"]*"'), 'href="#"'),
}


def ablated(html: Path, folder: Path) -> list[tuple[str, Path]]:
    """The page as it is and each ablation of it, written to `folder`."""
    text = html.read_text(encoding="utf-8")
    pages = [("as built", html)]
    for number, (name, (pattern, replacement)) in enumerate(ABLATIONS.items()):
        path = folder / f"{number}-{html.parent.name}.html"
        path.write_text(pattern.sub(replacement, text), encoding="utf-8")
        pages.append((name, path))
    return pages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ablate", action="store_true",
                        help="also draw the page without each of its heavy parts")
    args = parser.parse_args(argv)
    with bench.chromium() as browser, tempfile.TemporaryDirectory() as folder:
        if browser is None:
            print("no Chromium (/usr/bin/chromium) or playwright", file=sys.stderr)
            return 1
        for html in args.pages:
            data = html.read_bytes()
            charts = data.count(b'<figure class="chart')
            print(f"== {html}: {len(data) / 1e6:.2f} MB, {charts} charts")
            print("   " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in page_parts(data).items()))
            variants = ablated(html, Path(folder)) if args.ablate else [("as built", html)]
            draws = bench.draw_seconds(browser, [p for _, p in variants], args.repeat)
            for (name, _), draw in zip(variants, draws, strict=True):
                print(f"   {name:22s} " + (
                    f"top charts {draw.top:.2f} s, every chart {draw.wall:.2f} s wall, "
                    f"{draw.busy:.2f} s main-thread CPU"
                    if isinstance(draw, bench.Drawn) else str(draw)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
