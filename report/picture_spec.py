"""What a chart's picture draws: its compiled Vega spec, less what only a pointer uses, with
its clipped lines sharing one clip (`picture_spec`). `export` draws pictures from it."""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]


def picture_spec(vega: Spec, pointer_suffix: str) -> Spec:
    """The spec a picture is drawn from: `vega` without the marks of the Vega-Lite layers
    whose name ends in `pointer_suffix` (invisible tooltip and hover targets, which cost
    as much to draw as every line), clipped lines sharing one clip (`_share_clips`).

    Vega-Lite names a layer's mark `<layer>_marks`, inside a group `<layer>_pathgroup`
    when it draws one line per series. Everything else stays: the hover selection is
    empty in a picture, so every mark keeps its idle look.
    """
    return _share_clips(_without_layers(vega, pointer_suffix))


def _without_layers(node: Spec, suffix: str) -> Spec:
    if not isinstance(node.get("marks"), list):
        return node
    kept = [m for m in node["marks"] if not _layer_name(m).endswith(suffix)]
    return {**node, "marks": [_without_layers(m, suffix) for m in kept]}


def _layer_name(mark: Spec) -> str:
    name = str(mark.get("name", ""))
    for ending in ("_marks", "_pathgroup"):
        if name.endswith(ending):
            return name[: -len(ending)]
    return ""


def _share_clips(vega: Spec) -> Spec:
    """The same Vega spec with each run of clipped line groups inside one clipped group.

    Vega-Lite draws a line with `detail` or `color` as one group per line, each clipping
    its own line to the plot. resvg renders every clip as an offscreen mask the size of
    the plot, so 200 seed lines cost 200 masks -- most of a picture's drawing time. One
    clipped group around them clips to the same rectangle (the enclosing group's width
    and height) once. Nothing else changes: the lines keep their order and z-order.
    """
    marks = vega.get("marks")
    if not isinstance(marks, list):
        return vega
    out: list[Any] = []
    run: list[Spec] = []
    for mark in [*marks, None]:
        if _clipped_line_group(mark):
            run.append({**mark, "marks": [_unclipped(m) for m in mark["marks"]]})
            continue
        if run:
            out.append(_clip_group(run))
            run = []
        if mark is not None:
            out.append(_share_clips(mark) if isinstance(mark, dict) else mark)
    return {**vega, "marks": out}


def _clip_group(marks: list[Spec]) -> Spec:
    size = {"width": {"field": {"group": "width"}}, "height": {"field": {"group": "height"}}}
    name = f"{marks[0].get('name', 'lines')}_clip"
    return {"type": "group", "name": name, "clip": True, "encode": {"enter": size},
            "marks": marks}


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
        and all(isinstance(c, dict) and c.get("clip") is True
                and c.get("type") in ("line", "trail", "area") for c in children)
    )


def _unclipped(mark: Spec) -> Spec:
    return {k: v for k, v in mark.items() if k != "clip"}
