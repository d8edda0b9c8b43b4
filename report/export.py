"""Vega-Lite -> Vega, compiled once; Vega -> PNG through vl-convert; the page's JavaScript.

A chart is compiled once (`to_vega`). The page embeds that Vega spec, so the browser
needs Vega and vega-tooltip but no Vega-Lite compiler (`javascript_bundle`), and the
pictures are drawn from the same spec, less what only a pointer uses (`picture_spec`).
vl-convert carries Vega and Vega-Lite itself: neither drawing nor the page needs the
network.

Fixed costs are kept in a disk cache (`cache_dir`): the bundle, every compiled spec and
every picture, keyed by what made them (versions, spec, scale). Each entry carries its
digest: one that is not whole is made again, never used.
`REPORT_NO_CACHE=1` turns the cache off, `REPORT_CACHE_DIR` moves it; a cache that cannot
be read or written is skipped, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any

import vl_convert
from PIL import Image

from report.picture_spec import picture_spec
from report.workers import cores, share_out

Spec = dict[str, Any]

# Part of every picture's cache key: change it when the way pictures are made changes,
# so that pictures made the old way are not served.
PICTURE_METHOD = "vega-png+pillow-box+level-3/3"
# Part of every compiled spec's cache key: change it when `to_vega` changes what it makes
# of vl-convert's output, so that specs compiled the old way are not served.
COMPILE_METHOD = "vegalite-to-vega+unread-data-dropped/1"
RENDER_CACHE_FILES = 64
# Every cache entry starts with the SHA-256 of the rest. The format is part of every key,
# so that a version of report that reads entries without it never finds these.
DIGEST_SIZE = 32
CACHE_FORMAT = "sha256+data"
# Pillow's deflate level for every picture: for charts as small as its default (6), and
# quicker (benchmarks/parts.py measures both).
PNG_LEVEL = 3

# The page's JavaScript: Vega, and vega-tooltip's handler for the tooltips. vl-convert
# prepends its own imports of Vega-Lite and vega-embed; what the snippet does not use is
# left out of the bundle. The addresses are only names: vl-convert bundles the copies it
# carries and refuses any module it does not carry, so nothing is fetched.
# No `new Function` in the page, so its Content-Security-Policy needs no 'unsafe-eval':
# vega-interpreter evaluates Vega's expressions (`vega.expressionInterpreter`, with specs
# parsed `ast: true`: templates/_embed.js), and inline CSV (the charts' data) is read with
# d3-dsv's `csvParseRows`, whose rows are arrays, instead of Vega's own reader, whose
# rows are objects made by a compiled function. Missing cells read as "", as there.
_NPM = "https://cdn.jsdelivr.net/npm"
VEGA_TOOLTIP_VERSION = "1.0.0"  # the ones vl-convert 1.9 carries (vega-embed 7's)
VEGA_INTERPRETER_VERSION = "2.0.0"
D3_DSV_VERSION = "3.0.1"  # Vega's own
BUNDLE_SNIPPET = f"""\
import * as vegaModule from "{_NPM}/vega@{vl_convert.get_vega_version()}/+esm";
import {{ Handler }} from "{_NPM}/vega-tooltip@{VEGA_TOOLTIP_VERSION}/+esm";
import {{ expressionInterpreter }} from "{_NPM}/vega-interpreter@{VEGA_INTERPRETER_VERSION}/+esm";
import {{ csvParseRows }} from "{_NPM}/d3-dsv@{D3_DSV_VERSION}/+esm";
function csv(text, format) {{
  const rows = csvParseRows(String(text));
  const columns = format && format.header ? format.header.map(String) : rows.shift() || [];
  return rows.map((row) => Object.fromEntries(columns.map((name, i) => [name, row[i] || ""])));
}}
csv.responseType = "text";
vegaModule.formats("csv", csv);
window.vega = {{ ...vegaModule, expressionInterpreter }};
window.vegaTooltip = {{ Handler }};
"""


@cache
def vegalite_version() -> str | None:
    """The Vega-Lite version Altair writes, if vl-convert knows it (else its default)."""
    import altair as alt  # only for its schema version: most runs never import it here

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return wanted if wanted in vl_convert.get_vegalite_versions() else None


def to_vega(spec: Spec) -> Spec:
    """The Vega spec of a Vega-Lite spec (what both the page and the pictures draw), from
    the disk cache if compiled before (a first compile starts vl-convert's engine)."""
    path = _compiled_path(spec)
    if (cached := _read(path)) is not None:
        return dict(json.loads(cached))
    vega = _without_unused_data(dict(vl_convert.vegalite_to_vega(
        spec, vl_version=vegalite_version())))
    _store(path, json.dumps(vega).encode("utf-8"))
    _prune(path.parent, RENDER_CACHE_FILES, "*.json")
    return vega


def _without_unused_data(vega: Spec) -> Spec:
    """`vega` without the top-level datasets nothing reads. Vega-Lite writes each layer's
    filters and formulas at the top as well as in every facet cell, where the cell's own
    copies (same names) are the ones drawn; Vega would still run the top ones over every
    row. A dataset that feeds a signal or listens to events (`signal`, `on`) stays."""
    data = list(vega.get("data", []))
    rest = {key: value for key, value in vega.items() if key != "data"}
    while unused := [d for d in data if not _needed(d, rest, data)]:
        data = [d for d in data if d not in unused]
    return {**vega, "data": data} if "data" in vega else vega


def _needed(dataset: Spec, rest: Spec, data: list[Spec]) -> bool:
    name = dataset.get("name")
    return ("on" in dataset or any("signal" in t for t in dataset.get("transform", []))
            or _reads(rest, name) or any(_reads(other, name) for other in data
                                         if other is not dataset))


def _reads(node: Any, name: Any) -> bool:
    """Whether `node` reads dataset `name`: as a value (`from`, `source`) or quoted in an
    expression, outside groups that define a dataset of that name (their own)."""
    if isinstance(node, str):
        return node == name or f"'{name}'" in node or f'"{name}"' in node
    if isinstance(node, list):
        return any(_reads(item, name) for item in node)
    if not isinstance(node, dict):
        return False
    own = any(isinstance(d, dict) and d.get("name") == name for d in node.get("data", []))
    return any(_reads(value, name) for key, value in node.items()
               if key != "name" and (not own or key == "from"))


# --- pictures ------------------------------------------------------------------------


def draw_charts(
    specs: Mapping[str, Spec], scales: Sequence[float], pointer_suffix: str, jobs: int = 1
) -> dict[str, tuple[Spec, list[bytes]]]:
    """Each Vega-Lite spec compiled (`to_vega`) and drawn from its `picture_spec` at
    `scales` (`to_pngs`), by key. vl-convert compiles and draws one at a time in a
    process, so when more than one is not in the cache, up to `jobs` worker processes (no
    more than the cores) do it (`workers.share_out`, in the order given: the biggest
    first). Should a worker die (killed for lack of memory?), what it did not do is done
    here."""
    work = partial(_compiled_and_drawn, scales=tuple(scales), pointer_suffix=pointer_suffix)
    done = {key: hit for key, spec in specs.items()
            if (hit := _from_cache(spec, scales, pointer_suffix)) is not None}
    missing = {key: spec for key, spec in specs.items() if key not in done}
    workers = min(jobs, cores(), len(missing))
    if workers > 1:
        done.update(share_out(work, missing, workers))
    return {key: done.get(key) or work(spec) for key, spec in specs.items()}


def _compiled_and_drawn(spec: Spec, scales: tuple[float, ...],
                        pointer_suffix: str) -> tuple[Spec, list[bytes]]:
    vega = to_vega(spec)
    return vega, to_pngs(picture_spec(vega, pointer_suffix), scales)


def _from_cache(spec: Spec, scales: Sequence[float],
                pointer_suffix: str) -> tuple[Spec, list[bytes]] | None:
    """Vega-Lite `spec` compiled and its pictures at `scales`, if the cache holds them
    all whole (each read once: what is served is what was checked)."""
    compiled = _read(_compiled_path(spec))
    if compiled is None:
        return None
    vega = dict(json.loads(compiled))
    pngs = _cached_pictures(_spec_key(picture_spec(vega, pointer_suffix)), scales)
    if any(scale not in pngs for scale in scales):
        return None
    return vega, [pngs[scale] for scale in scales]


def to_png(vega: Spec, scale: float = 2.0) -> bytes:
    """A PNG of a Vega spec at `scale` times its CSS size (2 = crisp on slides)."""
    return to_pngs(vega, (scale,))[0]


def to_pngs(vega: Spec, scales: Sequence[float]) -> list[bytes]:
    """PNGs of a Vega spec at several scales, for the price of one drawing.

    vl-convert draws the largest scale; each smaller one is that picture shrunk with
    Pillow's box filter (every output pixel the mean of the pixels it covers): a
    supersampled picture, for milliseconds instead of a second drawing. Pillow writes
    them all (`PNG_LEVEL`). Pictures are cached: the same spec, scale and versions give
    the same bytes anyway.
    """
    key = _spec_key(vega)
    pngs = _cached_pictures(key, scales)
    missing = [scale for scale in dict.fromkeys(scales) if scale not in pngs]
    if missing:
        top = max(scales)
        drawn = pngs.get(top) or bytes(vl_convert.vega_to_png(vega, scale=top))
        with Image.open(io.BytesIO(drawn)) as image:
            for scale in missing:
                pngs[scale] = _encode(_resized(image, scale / top), image.info.get("dpi"))
                _store(_picture_path(key, scale), pngs[scale])
        _prune(cache_dir() / "renders", RENDER_CACHE_FILES)
    return [pngs[scale] for scale in scales]


def _cached_pictures(spec_key: str, scales: Sequence[float]) -> dict[float, bytes]:
    """The pictures of the spec `spec_key` at `scales` that the cache holds whole."""
    return {scale: png for scale in scales
            if (png := _read(_picture_path(spec_key, scale))) is not None}


def _resized(image: Image.Image, ratio: float) -> Image.Image:
    if ratio == 1:
        return image
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    return image.resize(size, Image.Resampling.BOX)


def _encode(image: Image.Image, dpi: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_LEVEL, **({"dpi": dpi} if dpi else {}))
    return buffer.getvalue()


# --- the page's JavaScript -------------------------------------------------------------


@cache
def javascript_bundle() -> str:
    """Vega and vega-tooltip's handler as one script that needs no network (BUNDLE_SNIPPET).

    Built by vl-convert in a second or two, so it is kept in the disk cache, keyed by the
    versions and the snippet that made it.
    """
    key = _digest(_versions(), BUNDLE_SNIPPET)[:16]
    path = cache_dir() / f"vega-bundle-{key}.js"
    cached = _read(path)
    if cached is not None:
        try:
            return cached.decode("utf-8")
        except UnicodeDecodeError:
            pass
    bundle = str(vl_convert.javascript_bundle(BUNDLE_SNIPPET))
    _store(path, bundle.encode("utf-8"))
    return bundle


# --- the disk cache --------------------------------------------------------------------


def cache_dir() -> Path:
    """Where fixed costs are kept: $REPORT_CACHE_DIR, else $XDG_CACHE_HOME/report."""
    if override := os.environ.get("REPORT_CACHE_DIR"):
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "report"


def _cache_enabled() -> bool:
    return os.environ.get("REPORT_NO_CACHE", "") in ("", "0")


def _versions() -> str:
    return "|".join([getattr(vl_convert, "__version__", "?"), vl_convert.get_vega_version(),
                     str(vegalite_version()), PICTURE_METHOD, CACHE_FORMAT])


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _spec_key(vega: Spec) -> str:
    return _digest(_versions(), json.dumps(vega, sort_keys=True, separators=(",", ":")))


def _compiled_path(spec: Spec) -> Path:
    return cache_dir() / "specs" / f"{_digest(_spec_key(spec), COMPILE_METHOD)}.json"


def _picture_path(spec_key: str, scale: float) -> Path:
    return cache_dir() / "renders" / f"{_digest(spec_key, repr(float(scale)))}.png"


def _read(path: Path) -> bytes | None:
    """A cache entry, if it is whole: its digest is checked, so that a truncated or
    damaged one (a full disk, a crash, a bad sector) is removed, made again and never
    served."""
    if not _cache_enabled():
        return None
    try:
        sealed = path.read_bytes()
    except OSError:
        return None
    digest, data = sealed[:DIGEST_SIZE], sealed[DIGEST_SIZE:]
    if hashlib.sha256(data).digest() == digest:
        return data
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def _store(path: Path, data: bytes) -> None:
    """Write a cache entry (its digest, then `data`) atomically; a cache that cannot be
    written (unwritable, full) is skipped, and its temporary file removed."""
    if not _cache_enabled():
        return
    temporary = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(hashlib.sha256(data).digest() + data)
        os.replace(temporary, path)
    except OSError:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _prune(folder: Path, keep: int, pattern: str = "*.png") -> None:
    """Keep the `keep` most recently written entries (`pattern`) of `folder`."""
    if not _cache_enabled():
        return
    try:
        entries = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[keep:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass
