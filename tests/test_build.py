"""build: what the page carries of each chart's picture."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from test_charts import _three_seeds

from report import build, charts, export
from report.picture_spec import picture_spec


def test_inline_picture_is_the_chart_in_256_colours() -> None:
    runs, series = _three_seeds()
    vega = export.to_vega(charts.overlay_chart(runs, series).to_dict())
    png = export.to_png(picture_spec(vega, charts.POINTER_LAYER_SUFFIX), scale=1)
    inline = build.inline_picture(png)
    picture = Image.open(io.BytesIO(inline))
    assert picture.mode == "P" and len(picture.getpalette()) // 3 <= 256
    assert len(inline) < len(png)  # smaller than the full-colour picture
    original = Image.open(io.BytesIO(png)).convert("RGBA")
    on_white = Image.new("RGBA", original.size, "white")
    on_white.alpha_composite(original)
    before = np.asarray(on_white.convert("RGB"), dtype=int)
    after = np.asarray(picture.convert("RGB"), dtype=int)
    assert before.shape == after.shape
    assert np.abs(before - after).max() <= 16  # no pixel visibly off
    assert build.inline_picture(b"not a png") == b"not a png"


def test_the_command_draws_a_big_sweep_s_pictures_in_its_own_process(monkeypatch) -> None:
    """One drawing process per core for the demo (22,800 rows of series); one, the
    report's own, once the series has more rows than PARALLEL_PICTURES_MAX_ROWS (a big
    sweep's report holds its series: drawing workers would take it past 1 GB)."""
    import report
    from report.workers import cores

    demo = report.load_demo()
    assert len(demo.series) == 22_800
    assert build.drawing_jobs(demo) == cores()
    monkeypatch.setattr(build, "PARALLEL_PICTURES_MAX_ROWS", 22_799)
    assert build.drawing_jobs(demo) == 1
