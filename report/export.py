"""Vega-Lite specs -> PNG bytes through vl-convert, and the offline JavaScript bundle.

vl-convert carries Vega, Vega-Lite and vega-embed itself, so neither rendering nor the
page ever needs the network. The bundle costs about a second to build, so it is cached
on disk, keyed by the vl-convert version that built it, and so are rendered PNGs, keyed
by their spec. `REPORT_NO_CACHE=1` turns the cache off; `REPORT_CACHE_DIR` moves it.

Pictures of big sweeps are drawn fast on purpose: one render per chart (smaller scales
are that picture shrunk), clipped lines share one clip region (`_share_clips`), and a
chart of several rows is rasterised in bands that a helper process and this one draw at
the same time (`_bands`, `Renderer`).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import vl_convert

Spec = dict[str, Any]

# Part of every render's cache key: bump it when the way pictures are drawn changes, so
# pictures cached by an older version are not served.
RENDER_METHOD = "shared-clips+box-shrink/1"


@cache
def vegalite_version() -> str | None:
    """The Vega-Lite version Altair writes, if vl-convert knows it (else its default)."""
    import altair as alt  # only for its schema version: most runs never import it here

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return wanted if wanted in vl_convert.get_vegalite_versions() else None


def to_png(spec: Spec, scale: float = 2.0) -> bytes:
    """A PNG of the chart at `scale` times its CSS size (2 = crisp on slides)."""
    return to_pngs(spec, (scale,))[0]


def to_pngs(spec: Spec, scales: Sequence[float]) -> list[bytes]:
    """PNGs of one chart at several scales, for the price of one render.

    The largest scale is rendered; a scale that divides it by a whole number (1 from 2)
    is that picture shrunk by averaging each square of pixels, which reads as well as a
    render of its own (it is supersampled) and costs milliseconds instead of a second.
    PNGs are kept in a content-addressed disk cache: the same spec, scale and
    vl-convert give the same bytes anyway.
    """
    paths, pngs = _cached(spec, scales)
    fresh = [s for s in paths if s not in pngs]
    if fresh:
        pngs.update(_draw(spec, fresh, vegalite_version(), pngs))
        _keep(paths, pngs, fresh)
    return [pngs[s] for s in scales]


def _cached(spec: Spec, scales: Sequence[float]) -> tuple[dict[float, Path], dict[float, bytes]]:
    """Each scale's cache file, and the PNGs already there."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    prefix = f"{_bundle_version_key()}|{RENDER_METHOD}|".encode()
    spec_key = hashlib.sha256(prefix + text).hexdigest()
    folder = cache_dir() / "renders"
    paths = {
        s: folder / f"{hashlib.sha256(f'{spec_key}|{s}'.encode()).hexdigest()}.png"
        for s in dict.fromkeys(scales)
    }
    pngs: dict[float, bytes] = {}
    if _cache_enabled():
        for scale, path in paths.items():
            try:
                pngs[scale] = path.read_bytes()
            except OSError:
                pass
    return paths, pngs


def _keep(paths: dict[float, Path], pngs: dict[float, bytes], fresh: Sequence[float]) -> None:
    if fresh and _cache_enabled():
        for scale in fresh:
            _store(paths[scale], pngs[scale])
        _prune(next(iter(paths.values())).parent, keep=RENDER_CACHE_FILES)


def _draw(
    spec: Spec, scales: Sequence[float], vl_version: str | None, have: dict[float, bytes]
) -> dict[float, bytes]:
    """PNGs at `scales`, largest first: a smaller one shrinks a larger one when it can."""
    pngs = dict(have)
    for scale in sorted(scales, reverse=True):
        if scale not in pngs:
            pngs[scale] = _shrunk(pngs, scale) or _render(spec, scale, vl_version)
    return {s: pngs[s] for s in scales}


def _shrunk(pngs: dict[float, bytes], scale: float) -> bytes | None:
    """A picture at `scale` made from a larger one in `pngs`, if one divides it."""
    for big_scale, big in sorted(pngs.items(), reverse=True):
        factor = _whole(big_scale / scale)
        if factor > 1 and (png := _shrink(big, factor)) is not None:
            return png
    return None


def _whole(ratio: float) -> int:
    """`ratio` if it is a whole number (2.0 -> 2), else 0."""
    return int(ratio) if ratio == int(ratio) else 0


_WARM_SPEC: Spec = {
    "mark": "line",
    "data": {"values": [{"x": 0, "y": 0}, {"x": 1, "y": 1}]},
    "encoding": {"x": {"field": "x", "type": "quantitative"},
                 "y": {"field": "y", "type": "quantitative"}},
}


def _render(spec: Spec, scale: float, vl_version: str | None) -> bytes:
    """One picture of `spec`, drawn here, band by band (see `_bands`)."""
    svg = _svg(spec, vl_version)
    bands = _bands(svg)
    return _combine(svg, bands, [_raster(band, scale) for band in bands], scale)


def _svg(spec: Spec, vl_version: str | None) -> str:
    """The chart as Vega draws it: Vega-Lite compiled, clips shared, the scene as SVG."""
    vega = vl_convert.vegalite_to_vega(spec, vl_version=vl_version)
    return str(vl_convert.vega_to_svg(_share_clips(vega)))


def _raster(svg: str, scale: float) -> bytes:
    """SVG -> PNG (resvg, inside vl-convert: the same pixels `vega_to_png` draws)."""
    return bytes(vl_convert.svg_to_png(svg, scale=scale))


def _combine(svg: str, bands: Sequence[str], pngs: Sequence[bytes], scale: float) -> bytes:
    """The picture from its bands' pictures; the whole SVG drawn at once if they do not
    stitch (see `_stitch`)."""
    if len(bands) == 1:
        return pngs[0]
    stitched = _stitch(pngs)
    return stitched if stitched is not None else _raster(svg, scale)


# --- drawing a picture in bands --------------------------------------------------------

# Rasterising is most of a big chart's drawing time, and it goes path by path: a band is
# the chart's SVG with only some of its concatenated views (the grid's rows), so bands
# draw in parallel and a picture costs its slowest band. They are laid on top of each
# other row by row: each keeps the pixel rows where it drew something.
_SVG_TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)((?:\s[^<>]*?)?)(/?)>")
_CLASS = re.compile(r'\bclass="([^"]*)"')


@dataclass
class _Element:
    name: str
    classes: list[str]
    start: int  # offset of its opening tag
    end: int = -1  # offset after its closing tag
    children: list[_Element] = field(default_factory=list)


def _svg_tree(svg: str) -> _Element | None:
    """The element tree of an SVG as Vega writes it (tags, no comments, no CDATA, `<`
    only in tags); None for anything else."""
    if "<!" in svg or "<?" in svg:
        return None
    stack: list[_Element] = []
    root = None
    tags = 0
    for m in _SVG_TAG.finditer(svg):
        tags += 1
        closing, name, attributes, self_closing = m.groups()
        if closing:
            if not stack or stack[-1].name != name or attributes or self_closing:
                return None
            element = stack.pop()
            element.end = m.end()
            continue
        if root is not None and not stack:
            return None  # a second root
        found = _CLASS.search(attributes)
        element = _Element(name, found.group(1).split() if found else [], m.start())
        if stack:
            stack[-1].children.append(element)
        else:
            root = element
        if self_closing:
            element.end = m.end()
        else:
            stack.append(element)
    if stack or root is None or tags != svg.count("<"):
        return None
    return root


def _bands(svg: str) -> list[str]:
    """The SVG as bands: one per concatenated view (Vega's `role-scope` groups side by
    side under the root), each the whole document without the other views; the first
    also keeps what lies beside them (the title). `[svg]` when it has no such views."""
    node = _svg_tree(svg)
    while node is not None:
        views = [c for c in node.children if c.name == "g" and "role-scope" in c.classes]
        if len(views) >= 2:
            break
        groups = [c for c in node.children if c.name == "g"]
        node = groups[0] if len(groups) == 1 else None
    if node is None:
        return [svg]
    others = [c for c in node.children if c not in views]
    bands = []
    for number, view in enumerate(views):
        drop = [v for v in views if v is not view] + (others if number else [])
        kept, at = [], 0
        for element in sorted(drop, key=lambda e: e.start):
            kept.append(svg[at : element.start])
            at = element.end
        kept.append(svg[at:])
        bands.append("".join(kept))
    return bands


def _stitch(pngs: Sequence[bytes]) -> bytes | None:
    """The bands' pictures as one: each pixel row from the band that drew in it. None
    unless that is the whole picture drawn at once -- every band on the same opaque
    background, and no two drawing in one pixel row."""
    images = [_pixels(png) for png in pngs]
    first = images[0]
    if first is None or any(i is None or i.shape != first.shape for i in images):
        return None
    words = [np.ascontiguousarray(i).view(np.uint32)[..., 0] for i in images]
    background = words[0][0, 0]
    if first[0, 0, 3] != 255 or any(w[0, 0] != background for w in words):
        return None
    out = first.copy()
    taken = np.zeros(len(out), dtype=bool)
    for image, word in zip(images, words, strict=True):
        drawn = (word != background).any(axis=1)
        if np.any(drawn & taken):
            return None  # two bands in one row: their overlap would need compositing
        taken |= drawn
        out[drawn] = image[drawn]  # type: ignore[index]
    return _encode(out, _ancillary(pngs[0]))


# --- drawing in a helper process ------------------------------------------------------

# A fresh interpreter that loads this file by path (numpy and vl-convert only, not the
# package; registered, so that its dataclasses work) and calls one of its functions with
# the remaining arguments: the helper (`_helper_main`) and the bundle's builder.
_RUN_THIS_FILE = """\
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_report_export", sys.argv[1])
module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
getattr(module, sys.argv[2])(*sys.argv[3:])
"""


def _this_file_command(function: str, *args: str) -> list[str]:
    """The command that runs `function(*args)` of this file in a fresh interpreter."""
    return [sys.executable, "-c", _RUN_THIS_FILE, str(Path(__file__).resolve()), function, *args]


# A request or an answer: one JSON line, then the byte blocks it announces.
_HELPER_TIMEOUT = 600.0


def _helper_main(vl_version: str) -> None:
    """The helper process: answers on a copy of fd 1, anything printed goes to fd 2.
    Ctrl-C is the caller's to handle (it stops the helper); it ends at end of input."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, out, vl_version or None)


def _serve(requests: Any, answers: Any, vl_version: str | None) -> None:
    """The helper's loop: warm the engine up, then answer each request in turn: `svg`
    (a Vega-Lite spec -> its SVG, `_svg`) or `png` (an SVG -> PNG at `scale`)."""
    try:
        _render(_WARM_SPEC, 1.0, vl_version)  # starts Deno, compiles Vega-Lite and Vega
    except Exception:  # noqa: BLE001 - a real request will say what is wrong
        pass
    while line := requests.readline():
        try:
            header = json.loads(line)
            body = requests.read(header["bytes"])
            if header["op"] == "svg":
                block = _svg(json.loads(body), vl_version).encode("utf-8")
            else:
                block = _raster(body.decode("utf-8"), float(header["scale"]))
            blocks = [block]
            answer = {"ok": True, "sizes": [len(block)]}
        except Exception as exc:  # noqa: BLE001 - the caller draws it itself, and raises
            blocks, answer = [], {"ok": False, "error": repr(exc)}
        answers.write(json.dumps(answer).encode() + b"\n")
        for block in blocks:
            answers.write(block)
        answers.flush()


@dataclass
class _Job:
    """One chart's pictures, drawn with a helper's help."""

    spec: Spec
    scales: Sequence[float]
    paths: dict[float, Path]
    pngs: dict[float, bytes]  # cached ones, then the rest
    fresh: list[float]  # the scales still to draw
    helper: _Helper
    svg_answer: int  # the number of the helper's answer that holds the SVG
    svg: str = ""
    bands: list[str] = field(default_factory=list)
    band_answers: list[int] = field(default_factory=list)  # bands the helper draws
    band_pngs: list[bytes] = field(default_factory=list)  # bands drawn here
    done: bool = False
    failed: bool = False


class Renderer:
    """Draws charts' pictures with helper processes, so rendering overlaps other work.

    vl-convert holds the GIL while it renders, so a thread would overlap nothing. A
    helper is a fresh interpreter, not a fork (this process may already run vl-convert's
    engine, whose threads a fork would not copy); it starts its engine as soon as it is
    created, while the caller is still building charts. A submitted chart goes to a
    helper at once to be compiled to SVG (Vega runs there, warm); once it is asked for,
    its picture is drawn in bands (`_bands`): all but the last by the helper, the last
    here, at the same time, then stitched. Whatever goes wrong with a helper, the
    pictures are drawn here instead: helpers only ever save time.

        with Renderer(helpers=1) as renderer:
            later = renderer.submit(spec, (1, 2))  # returns at once
            ...                                      # other work, other charts
            pngs = later()                           # the PNGs, as to_pngs gives them

    With `helpers=0` (small charts: starting one costs more), `submit` draws at once.
    """

    def __init__(self, helpers: int = 1) -> None:
        started = (_Helper.start() for _ in range(max(helpers, 0)))
        self._helpers = [h for h in started if h is not None]
        self._turn = 0
        self._jobs: list[_Job] = []

    def submit(self, spec: Spec, scales: Sequence[float]) -> Callable[[], list[bytes]]:
        """Start drawing `spec` at `scales`; call the result for the PNGs."""
        paths, pngs = _cached(spec, scales)
        fresh = [s for s in paths if s not in pngs]
        live = [h for h in self._helpers if h.alive]
        if not fresh or not live:
            done = to_pngs(spec, scales)  # cached, or no helper: draw it now
            return lambda: done
        helper = live[self._turn % len(live)]
        self._turn += 1
        number = helper.send({"op": "svg"}, json.dumps(spec).encode())
        job = _Job(spec, scales, paths, pngs, fresh, helper, number)
        self._jobs.append(job)

        def result() -> list[bytes]:
            if not job.done:
                self._finish()
            return [job.pngs[s] for s in job.scales]

        return result

    def _finish(self) -> None:
        """Draw every pending job: each one's bands handed out as soon as its SVG is
        back (the helper draws them while this process draws its own), then stitched.
        A job drawn whole here is finished at once, while the helper works on."""
        pending = [job for job in self._jobs if not job.done]
        for job in pending:
            answer = job.helper.answer(job.svg_answer)
            if not answer:
                job.failed = True
                continue
            job.svg = answer[0].decode("utf-8")
            job.bands = _bands(job.svg)
            scale = max(job.fresh)
            for band in job.bands[:-1]:
                job.band_answers.append(job.helper.send({"op": "png", "scale": scale},
                                                        band.encode("utf-8")))
            job.helper.flush()
            job.band_pngs = [_raster(job.bands[-1], scale)]
            if not job.band_answers:
                self._complete(job)
        for job in pending:
            if not job.done:
                self._complete(job)

    @staticmethod
    def _complete(job: _Job) -> None:
        """The job's picture from its bands (or drawn here, if the helper failed it), the
        smaller scales shrunk from it, all of them cached."""
        job.done = True
        if job.failed:  # drawn here from the start; raises if the spec is at fault
            job.pngs.update(zip(job.scales, to_pngs(job.spec, job.scales), strict=True))
            return
        scale = max(job.fresh)
        drawn = []
        for band, number in zip(job.bands, job.band_answers, strict=False):
            answer = job.helper.answer(number)
            drawn.append(answer[0] if answer else _raster(band, scale))
        top = _combine(job.svg, job.bands, drawn + job.band_pngs, scale)
        job.pngs.update(_draw(job.spec, job.fresh, vegalite_version(), {**job.pngs, scale: top}))
        _keep(job.paths, job.pngs, job.fresh)

    def close(self) -> None:
        """Stop the helpers (one may still be starting: it is not waited for)."""
        for helper in self._helpers:
            helper.close()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Helper:
    """One helper process: requests go out in order, answers come back in order."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc: subprocess.Popen[bytes] | None = proc
        self.outbox: queue.Queue[bytes | None] = queue.Queue()
        self.sent = 0  # requests handed over
        self.read = 0  # answers read back
        self.answers: dict[int, list[bytes] | None] = {}
        # Requests are written by a thread: the helper reads only once its engine is up.
        self.writer = threading.Thread(target=_write_all, args=(proc, self.outbox), daemon=True)
        self.writer.start()

    @classmethod
    def start(cls) -> _Helper | None:
        try:
            proc = subprocess.Popen(
                _this_file_command("_helper_main", vegalite_version() or ""),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        except OSError:
            return None
        return cls(proc)

    @property
    def alive(self) -> bool:
        return self.proc is not None

    def send(self, header: dict[str, Any], body: bytes) -> int:
        """Queue a request (see `_serve`); returns the number of its answer."""
        line = json.dumps({**header, "bytes": len(body)}).encode()
        self.outbox.put(line + b"\n" + body)
        number, self.sent = self.sent, self.sent + 1
        return number

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (at most `timeout` seconds) until every request is in the helper's hands.

        Call it before drawing here: vl-convert holds the GIL while it draws, and the
        writer thread needs it to hand requests over, so the helper would sit idle.
        """
        deadline = time.monotonic() + timeout
        with self.outbox.all_tasks_done:
            while self.outbox.unfinished_tasks and self.proc and self.writer.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.outbox.all_tasks_done.wait(min(remaining, 0.05))

    def answer(self, number: int) -> list[bytes] | None:
        """Answer `number`, reading (and keeping) the ones before it first."""
        while self.read <= number:
            if self.proc is None:
                return None
            blocks = _receive(self.proc)
            if blocks is None:  # it died or hung: what it had left is drawn here
                self.close()
                return None
            self.answers[self.read] = blocks
            self.read += 1
        return self.answers.pop(number, None)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        self.outbox.put(None)
        if proc is None:
            return
        # Kill first: the writer thread may be blocked on a full pipe (say, on Ctrl-C while
        # the helper draws), and closing its stream from here would wait for it forever.
        # Killed, the helper's end closes and the writer fails and lets go; it closes stdin.
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()  # read by this thread only


def _write_all(proc: subprocess.Popen[bytes], outbox: queue.Queue[bytes | None]) -> None:
    """The writer thread: requests in order, then stdin closed (the helper's end of input)."""
    stdin = proc.stdin
    if stdin is None:
        return
    try:
        while (data := outbox.get()) is not None:
            stdin.write(data)
            stdin.flush()
            outbox.task_done()
    except (OSError, ValueError):
        pass  # the helper is gone: `_receive` notices
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def _receive(proc: subprocess.Popen[bytes]) -> list[bytes] | None:
    """The helper's next answer: its PNGs ([] when it could not draw that spec), or None
    when it died, hung or made no sense."""
    stream = proc.stdout
    if stream is None:
        return None
    try:
        ready, _, _ = select.select([stream], [], [], _HELPER_TIMEOUT)
        if not ready:
            return None
        answer = json.loads(stream.readline() or b"null")
        if not isinstance(answer, dict):
            return None
        if not answer.get("ok"):
            return []
        sizes = [int(size) for size in answer["sizes"]]
        blocks = [stream.read(size) for size in sizes]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(len(b) != size for b, size in zip(blocks, sizes, strict=True)):
        return None
    return blocks


def _share_clips(vega: Spec) -> Spec:
    """The same Vega spec with each run of clipped line groups inside one clipped group.

    Vega-Lite draws a line with `detail` or `color` as one group per line, each clipping
    its own line to the plot. resvg renders every clip as an offscreen mask the size of
    the plot, so 200 seed lines cost 200 masks -- most of a grid's render time. One
    clipped group around them clips to the same rectangle (the enclosing group's width
    and height) once. Nothing else changes: the lines keep their order and z-order.
    """
    marks = vega.get("marks")
    if not isinstance(marks, list):
        return vega
    out: list[Any] = []
    run: list[Spec] = []

    def flush() -> None:
        if run:
            out.append(
                {
                    "type": "group",
                    "name": f"{run[0].get('name', 'lines')}_clip",
                    "clip": True,
                    "encode": {
                        "enter": {
                            "width": {"field": {"group": "width"}},
                            "height": {"field": {"group": "height"}},
                        }
                    },
                    "marks": list(run),
                }
            )
            run.clear()

    for mark in marks:
        if _clipped_line_group(mark):
            run.append({**mark, "marks": [_unclipped(m) for m in mark["marks"]]})
            continue
        flush()
        out.append(_share_clips(mark) if isinstance(mark, dict) else mark)
    flush()
    return {**vega, "marks": out}


def _clipped_line_group(mark: Any) -> bool:
    """A group faceted per line (Vega-Lite's `*_pathgroup`) whose marks all clip."""
    if not isinstance(mark, dict) or mark.get("type") != "group":
        return False
    children = mark.get("marks")
    return (
        "facet" in (mark.get("from") or {})
        and not mark.get("clip")
        and isinstance(children, list)
        and bool(children)
        and all(isinstance(c, dict) and c.get("clip") is True and c.get("type") in
                ("line", "trail", "area") for c in children)
    )


def _unclipped(mark: Spec) -> Spec:
    return {k: v for k, v in mark.items() if k != "clip"}


def _shrink(png: bytes, factor: int) -> bytes | None:
    """`png` made `factor` times smaller by averaging each factor x factor square of
    pixels (alpha-weighted); None when it is not a PNG this reads (see `_pixels`)."""
    if factor < 2:
        return png if factor == 1 else None
    pixels = _pixels(png)
    if pixels is None or pixels.shape[0] < factor or pixels.shape[1] < factor:
        return None
    h, w = pixels.shape[0] // factor, pixels.shape[1] // factor
    area = factor * factor
    pixels = pixels[: h * factor, : w * factor]
    small = np.empty((h, w, 4), dtype=np.uint8)
    if np.all(pixels[..., 3] == 255):  # opaque (a chart on its white background): a mean
        total = np.zeros((h, w, 4), dtype=np.uint32)
        for dy in range(factor):  # strided adds: several times quicker than reshape + sum
            for dx in range(factor):
                total += pixels[dy::factor, dx::factor]
        small[:] = (total + area // 2) // area
    else:  # weighted by alpha, so transparent pixels lend no colour
        blocks = pixels.reshape(h, factor, w, factor, 4).astype(np.uint32)
        alpha = blocks[..., 3].sum(axis=(1, 3))
        color_sum = (blocks[..., :3] * blocks[..., 3:]).sum(axis=(1, 3))
        safe = np.maximum(alpha, 1)[..., None]
        small[..., :3] = np.where(alpha[..., None] > 0, (color_sum + safe // 2) // safe, 0)
        small[..., 3] = (alpha + area // 2) // area
    return _encode(small, _ancillary(png))


def _pixels(png: bytes) -> np.ndarray | None:
    """A PNG's pixels, (height, width, 4) bytes; None unless it is 8-bit RGBA, not
    interlaced, rows filtered None/Sub/Up (as vl-convert writes them)."""
    if _last_encoded[0] is png:  # the picture `_encode` just made: no need to decode it
        return _last_encoded[1]
    chunks = _png_chunks(png)
    if chunks is None:
        return None
    header = next((data for kind, data in chunks if kind == b"IHDR"), b"")
    if len(header) != 13:
        return None
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if (depth, color, interlace) != (8, 6, 0):
        return None
    try:
        raw = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    except zlib.error:
        return None
    stride = width * 4 + 1
    if len(raw) != stride * height:
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride)
    return _unfilter(rows[:, 1:].reshape(height, width, 4), rows[:, 0])


def _encode(pixels: np.ndarray, extra: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
    """RGBA pixels as a PNG, rows Sub-filtered as vl-convert writes them (each byte minus
    the one a pixel to its left), with `extra` chunks (pHYs) after the header. Deflate
    level 3: twice as quick as 6 for 4% more bytes (and a third fewer than vl-convert's);
    the page's own pictures are compressed harder (`compact_png`)."""
    h, w = pixels.shape[:2]
    filtered = pixels.copy()
    filtered[:, 1:] -= pixels[:, :-1]
    body = np.concatenate([np.ones((h, 1), dtype=np.uint8), filtered.reshape(h, w * 4)], axis=1)
    png = _png_bytes(
        [(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)), *extra,
         (b"IDAT", zlib.compress(body.tobytes(), 3)), (b"IEND", b"")]
    )
    _last_encoded[:] = [png, pixels]  # read-only from here on: `_pixels` hands it out
    pixels.flags.writeable = False
    return png


_last_encoded: list[Any] = [None, None]  # (PNG bytes, their pixels), see `_pixels`


def _ancillary(png: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of `png` that a redrawn copy keeps (its pixel density)."""
    return [(kind, data) for kind, data in _png_chunks(png) or [] if kind == b"pHYs"]


def _unfilter(filtered: np.ndarray, kinds: np.ndarray) -> np.ndarray | None:
    """Undo PNG row filters None (0), Sub (1) and Up (2); None for Average/Paeth."""
    if np.all(kinds == 1):  # vl-convert's choice: one cumulative sum for the whole image
        return np.cumsum(filtered, axis=1, dtype=np.uint8)
    if np.any(kinds > 2):
        return None
    pixels = np.empty_like(filtered)
    previous = np.zeros_like(filtered[0])
    for y, kind in enumerate(kinds):
        row = filtered[y]
        if kind == 1:
            row = np.cumsum(row, axis=0, dtype=np.uint8)
        elif kind == 2:
            row = row + previous
        pixels[y] = previous = row
    return pixels


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]] | None:
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    chunks = []
    pos = 8
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        chunks.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png_bytes(chunks: Sequence[tuple[bytes, bytes]]) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, data in chunks:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        out.append(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc))
    return b"".join(out)


def compact_png(png: bytes, level: int = 6) -> bytes:
    """The same image, losslessly deflated again: about half the bytes of vl-convert's.

    vl-convert favours speed over size when it compresses; an emailed page carries its
    pictures as base64, so they are recompressed once (same filters, same pixels).
    Anything that is not a PNG this reads comes back unchanged, as does a larger result.
    """
    chunks = _png_chunks(png)
    if chunks is None:
        return png
    try:
        pixels = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    except zlib.error:
        return png
    first_idat = next(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    others = [(kind, data) for kind, data in chunks if kind != b"IDAT"]
    others.insert(first_idat, (b"IDAT", zlib.compress(pixels, level)))
    smaller = _png_bytes(others)
    return smaller if len(smaller) < len(png) else png


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


_prefetch: list[subprocess.Popen[bytes]] = []  # the process building it, if one was started
_PREFETCH_TIMEOUT = 300.0


def prefetch_bundle() -> None:
    """On a machine whose disk cache lacks the JavaScript bundle, start building it in a
    process of its own: it takes one to two seconds of a core that the report's own work
    can overlap. `javascript_bundle` waits for it. Does nothing when it is cached, being
    built already, or the cache is off."""
    if _prefetch or not _cache_enabled() or javascript_bundle.cache_info().currsize:
        return
    if _bundle_path().is_file():
        return
    try:
        _prefetch.append(subprocess.Popen(
            _this_file_command("javascript_bundle"),  # builds it into the disk cache
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
    except OSError:
        pass  # built here when needed


def _bundle_path() -> Path:
    return cache_dir() / f"vega-bundle-{_bundle_version_key()}.js"


@cache
def javascript_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script that needs no network.

    Read from the disk cache when a previous run built it with the same vl-convert (or
    a `prefetch_bundle` process just did); a cache that cannot be read or written is
    simply rebuilt (never an error).
    """
    path = _bundle_path()
    while _prefetch:
        building = _prefetch.pop()
        try:
            building.wait(timeout=_PREFETCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            building.kill()
            building.wait()
    if _cache_enabled():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
    # The stub marks `snippet` as required; the function's default is the global one.
    bundle = str(vl_convert.javascript_bundle(vl_version=vegalite_version()))  # type: ignore[call-arg]
    _store(path, bundle.encode("utf-8"))  # a read-only home still gets a report, only slower
    return bundle
