"""build: what the page carries of each chart's picture."""

from __future__ import annotations

import io

import numpy as np
from helpers import ROOT, run_main
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


def test_a_big_sweep_kept_while_drawn_is_drawn_in_one_process(monkeypatch) -> None:
    """One drawing process per core for the demo (22,800 rows of series), however it is
    drawn; for a sweep with more rows than PARALLEL_PICTURES_MAX_ROWS, one (the report's
    own) when its series is kept while the pictures are drawn (`--watch`: drawing workers
    beside a big series would take the report past 1 GB), else one per core still."""
    import report
    from report.workers import cores

    demo = report.load_demo()
    assert len(demo.series) == 22_800
    assert build.drawing_jobs(demo) == build.drawing_jobs(demo, series_kept=True) == cores()
    monkeypatch.setattr(build, "PARALLEL_PICTURES_MAX_ROWS", 22_799)
    assert build.drawing_jobs(demo, series_kept=True) == 1
    assert build.drawing_jobs(demo) == cores()


def test_the_command_lets_its_series_go_before_the_pictures_are_drawn(
    monkeypatch, tmp_path
) -> None:
    """The tidy series (most of a big report's memory) is freed once the charts and the
    page's numbers are made: when the pictures' engines start, nothing holds it. The
    series still rides inside the page: its gzipped CSV is made before."""
    import weakref

    import report

    series: list[weakref.ref] = []
    alive_when_drawn: list[bool] = []
    load, draw = report.load_sweep, export.draw_charts

    def loading(*args, **kwargs):
        sweep = load(*args, **kwargs)
        series.append(weakref.ref(sweep.series))
        return sweep

    def drawing(*args, **kwargs):
        alive_when_drawn.append(series[0]() is not None)
        return draw(*args, **kwargs)

    monkeypatch.setattr(report, "load_sweep", loading)
    monkeypatch.setattr(export, "draw_charts", drawing)
    out = tmp_path / "index.html"
    result = run_main(str(ROOT / "examples" / "logs"), "-o", str(out), "-q", "--no-png", "-j", "1")
    assert result.returncode == 0, result.stderr
    assert alive_when_drawn == [False]
    assert 'download="series.csv.gz"' in out.read_text()  # test_page reads it
