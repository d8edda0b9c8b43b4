"""The demo report in real headless Chromium: offline, JavaScript on and off, one file.

The page is opened by file:// from a folder that holds nothing else, with every other
request aborted and recorded (tests/browser.py). Expected line counts come from the
demo's own data (the tidy series the page hands out), not from the chart specs.
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from browser import ALL_DRAWN, Watch, draw_every_chart, launch, new_context
from helpers import ROOT, png_size, run_main, soup

pytestmark = pytest.mark.browser

EPOCH = {"SOURCE_DATE_EPOCH": "1764000000"}
# An email attachment any server takes. The demo page carries its every metric twice
# over (the All-metrics charts, the tidy series download): 2.6 MB, under half the 4 MB a
# page of any sweep stays under.
MAX_PAGE_BYTES = 3_000_000
ARTIFACTS = ROOT / "tests" / "artifacts"
README_PICTURE = ROOT / "docs" / "report.png"
DRAW_TIMEOUT_MS = 30_000
TOP_DRAWN = "['grid', 'overlay'].every(k => document.getElementById(k).dataset.drawn)"
# The demo's All-metrics charts: every column but the four of the grid.
METRIC_CHARTS = [f"metric-{m}" for m in ("loss", "hack_s", "gt_s", "hack_t", "gt_t", "ref_eq",
                                         "dt")]

# Watches every figure from the first script on: a figure whose static picture and
# drawn live chart are both on screen at any animation frame or DOM change is recorded.
BOTH_VISIBLE_SAMPLER = """
(() => {
  const seen = window.__pictureSampler = {frames: 0, both: [], picture: 0, live: 0};
  const shown = (el) => {
    if (!el || !el.isConnected) return false;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const sample = () => {
    for (const figure of document.querySelectorAll("figure.chart")) {
      const picture = shown(figure.querySelector("img.static"));
      const live = figure.querySelector(".live");
      const drawn = shown(live) && shown(live && live.querySelector("canvas, svg"));
      seen.picture += picture ? 1 : 0;
      seen.live += drawn ? 1 : 0;
      if (picture && drawn) seen.both.push(figure.dataset.chart);
    }
  };
  const frame = () => { seen.frames += 1; sample(); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  new MutationObserver(sample)
    .observe(document, {subtree: true, childList: true, attributes: true});
})();
"""

# Every non-group mark in a Vega view's scenegraph that has items: (marktype, name, items).
SCENEGRAPH_MARKS = """
(key) => {
  const marks = [];
  const walk = (mark) => {
    const items = mark.items || [];
    if (mark.marktype !== "group" && items.length) {
      marks.push({marktype: mark.marktype, name: mark.name || "", items: items.length});
    }
    for (const item of items) for (const child of item.items || []) walk(child);
  };
  walk(window.reportViews[key].scenegraph().root);
  return marks;
}
"""


@dataclass
class Loaded:
    page: object
    watch: Watch
    draw_seconds: float


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """The demo report, copied alone into a fresh folder: nothing beside it to lean on."""
    built = tmp_path_factory.mktemp("built") / "index.html"
    result = run_main("--demo", "-o", str(built), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    alone = tmp_path_factory.mktemp("alone")
    shutil.copy(built, alone / "index.html")
    assert [p.name for p in alone.iterdir()] == ["index.html"]
    return alone / "index.html"


@pytest.fixture(scope="module")
def demo_series(report_file) -> pd.DataFrame:
    """The tidy series the page itself hands out (its gzipped-CSV download), with arms."""
    page = soup(report_file)
    link = page.find("a", attrs={"download": "series.csv.gz"})
    assert link is not None, "the demo page should carry its series"
    data = gzip.decompress(base64.b64decode(link["href"].split(",", 1)[1]))
    series = pd.read_csv(io.BytesIO(data))
    arms = {
        row.find("th").get_text(strip=True): row.find_all("td")[0].get_text(strip=True)
        for row in page.find("table", id="runs").find("tbody").find_all("tr")
    }
    return series.assign(arm=series["run"].map(arms))


@pytest.fixture(scope="module")
def browser():
    with launch() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def live(browser, report_file) -> Loaded:
    """The report with JavaScript on, every chart drawn (scrolled into view in turn)."""
    context, watch = new_context(browser, init_script=BOTH_VISIBLE_SAMPLER)
    page = context.new_page()
    started = time.monotonic()
    page.goto(report_file.as_uri())
    page.wait_for_function(TOP_DRAWN, timeout=DRAW_TIMEOUT_MS)
    draw_seconds = time.monotonic() - started
    draw_every_chart(page, DRAW_TIMEOUT_MS)
    print(f"\nbrowser: grid and overlay drawn {draw_seconds:.2f} s after navigation, "
          f"every chart (scrolled to) {time.monotonic() - started:.2f} s")
    yield Loaded(page, watch, draw_seconds)
    context.close()


@pytest.fixture(scope="module")
def static(browser, report_file) -> Loaded:
    """The report with JavaScript off."""
    context, watch = new_context(browser, javascript=False)
    page = context.new_page()
    page.goto(report_file.as_uri())
    yield Loaded(page, watch, 0.0)
    context.close()


# --- one file, small enough to email ----------------------------------------------


def test_page_is_small_enough_to_email(report_file) -> None:
    size = report_file.stat().st_size
    print(f"\ndemo index.html: {size:,} bytes")
    assert size < MAX_PAGE_BYTES, f"{size:,} bytes"


# --- JavaScript on ---------------------------------------------------------------


def test_no_requests_console_errors_or_page_errors(live) -> None:
    assert live.watch.problems() == []


def test_every_chart_is_drawn(live) -> None:
    page = live.page
    keys = page.eval_on_selector_all("figure.chart", "fs => fs.map(f => f.dataset.chart)")
    assert keys == ["grid", "overlay", "time_to_hack", "aligned", *METRIC_CHARTS]
    drawn = page.eval_on_selector_all("figure.chart", "fs => fs.map(f => f.dataset.drawn)")
    assert drawn == ["true"] * len(keys)
    assert sorted(page.evaluate("Object.keys(window.reportViews)")) == sorted(keys)
    for key in keys:
        canvas = page.locator(f"#{key} .live canvas")
        assert canvas.count() == 1
        box = canvas.bounding_box()
        # A row of small multiples (the All-metrics charts) is lower than the others.
        low = 150 if key.startswith("metric-") else 200
        assert box is not None and box["width"] > 300 and box["height"] > low, (key, box)


def _marks(page: object, key: str) -> dict[str, int]:
    """Items per mark kind: 'line:seeds' counts lines, the others count items."""
    counts: dict[str, int] = {}
    for mark in page.evaluate(SCENEGRAPH_MARKS, key):  # type: ignore[attr-defined]
        kind = mark["marktype"]
        if kind == "line":  # one line mark per drawn line, its items are the points
            name = mark["name"]
            role = "seeds" if "_seeds" in name else "means" if "_means" in name else "other"
            counts[f"line:{role}"] = counts.get(f"line:{role}", 0) + 1
        elif kind == "symbol" and "_onsets" in mark["name"]:
            counts["onsets"] = counts.get("onsets", 0) + mark["items"]
        elif kind == "area":  # one area mark per drawn band, its items are the points
            counts["area:bands"] = counts.get("area:bands", 0) + 1
        else:
            counts[kind] = counts.get(kind, 0) + mark["items"]
    return counts


def test_grid_draws_a_line_for_every_seed_and_mean(live, demo_series) -> None:
    grid = demo_series[demo_series["metric"].isin(["hack", "solve", "teacher", "student"])]
    measured = grid.dropna(subset=["ema"])
    seed_lines = len(measured.groupby(["run", "metric"]))  # demo: 12 runs x 4 metrics
    mean_lines = len(measured.groupby(["arm", "metric"]))  # demo: 4 arms x 4 metrics
    hack = demo_series[(demo_series["metric"] == "hack") & (demo_series["value"] > 0)]
    counts = _marks(live.page, "grid")
    assert counts.get("line:seeds") == seed_lines == 48
    assert counts.get("line:means") == mean_lines == 16
    assert counts.get("area:bands") == mean_lines  # every mean has 3 seeds: a band each
    assert counts.get("onsets") == hack["run"].nunique()  # one open circle per hacking seed
    assert counts.get("rule", 0) > 0 and counts.get("text", 0) > 0  # axes, onset rules, labels


def test_overlay_draws_a_line_for_every_seed_and_arm(live, demo_series) -> None:
    hack = demo_series[(demo_series["metric"] == "hack")].dropna(subset=["ema"])
    counts = _marks(live.page, "overlay")
    assert counts.get("line:seeds") == hack["run"].nunique() == 12
    assert counts.get("line:means") == hack["arm"].nunique() == 4
    assert counts.get("area:bands") == 4
    hacking_arms = hack[hack["value"] > 0]["arm"].nunique()
    assert counts.get("onsets") == hacking_arms  # one dot per arm with a mean onset
    assert counts.get("text", 0) > 0


def test_every_metric_chart_draws_a_line_per_seed_and_arm_that_logged_it(
    live, demo_series
) -> None:
    """The All-metrics charts: hack_s (a routing run's training-time hack rate) only in
    routing's column; every other column of the demo in all four."""
    for key in METRIC_CHARTS:
        metric = key.removeprefix("metric-")
        logged = demo_series[demo_series["metric"] == metric].dropna(subset=["ema"])
        counts = _marks(live.page, key)
        assert counts.get("line:seeds") == logged["run"].nunique(), key
        assert counts.get("line:means") == counts.get("area:bands") == logged["arm"].nunique()
    assert demo_series[demo_series["metric"] == "hack_s"]["arm"].unique().tolist() == [
        "routing"]


def test_live_chart_replaced_the_picture_without_a_flash_of_both(live) -> None:
    page = live.page
    # Each picture stays in the page for print, hidden on screen.
    assert page.locator("img.static:visible").count() == 0
    assert page.locator("figure.chart .live:visible").count() == 4 + len(METRIC_CHARTS)
    sampler = page.evaluate("window.__pictureSampler")
    assert sampler["frames"] > 0 and sampler["picture"] > 0 and sampler["live"] > 0, sampler
    assert sampler["both"] == [], "a picture and its live chart were on screen together"


# --- a chart is drawn as it comes near the view ---------------------------------------

# Each figure: its key, data-drawn, its top (page coordinates), whether its picture and its
# live chart show, and whether it has a Vega view.
FIGURES = """() => [...document.querySelectorAll('figure.chart')].map(f => ({
  key: f.dataset.chart, drawn: f.dataset.drawn || null,
  top: f.getBoundingClientRect().top + scrollY,
  picture: getComputedStyle(f.querySelector('img.static')).display !== 'none',
  live: getComputedStyle(f.querySelector('.live')).display !== 'none',
  view: f.dataset.chart in window.reportViews}))"""
# Drawn: every chart that starts within one screen's height below the view (or on it).
NEAR_DRAWN = """() => [...document.querySelectorAll('figure.chart')]
  .filter(f => f.getBoundingClientRect().top < 2 * innerHeight)
  .every(f => f.dataset.drawn)"""


def test_charts_far_below_are_drawn_once_scrolled_to(browser, report_file) -> None:
    """At 1280 x 900 the page draws the charts on its first screen and the next (the grid,
    the overlay, ...), not the All-metrics ones far below: they show their pictures
    until scrolled to, then their live charts, never both at once."""
    context, watch = new_context(browser, init_script=BOTH_VISIBLE_SAMPLER)
    page = context.new_page()
    page.goto(report_file.as_uri())
    page.wait_for_function(NEAR_DRAWN, timeout=DRAW_TIMEOUT_MS)
    page.evaluate("new Promise(done => setTimeout(() => requestAnimationFrame(done), 50))")
    figures = {f["key"]: f for f in page.evaluate(FIGURES)}
    # Near: within a screen below the first (the live charts drawn are taller than their
    # pictures, so a chart near the first screen at load may be a little further now).
    near = [key for key, f in figures.items() if f["top"] < 2 * 900]
    far = [key for key, f in figures.items() if f["top"] > 3 * 900]
    assert near[:2] == ["grid", "overlay"] and far == METRIC_CHARTS
    assert all(figures[key]["drawn"] == "true" for key in near)
    assert not any(figures[key]["drawn"] for key in far)
    last = figures["metric-dt"]
    assert last == {**last, "drawn": None, "picture": True, "live": False, "view": False}

    page.locator("#metric-dt").scroll_into_view_if_needed()
    page.wait_for_function("document.getElementById('metric-dt').dataset.drawn",
                           timeout=DRAW_TIMEOUT_MS)
    last = next(f for f in page.evaluate(FIGURES) if f["key"] == "metric-dt")
    assert last == {**last, "drawn": "true", "picture": False, "live": True, "view": True}
    assert page.locator("#metric-dt .live canvas").count() == 1
    assert page.evaluate("window.__pictureSampler.both") == []
    assert watch.problems() == []
    context.close()


def test_an_in_page_link_draws_the_chart_it_leads_to(browser, report_file) -> None:
    """Opened at #metric-dt (the last chart), the page draws that chart, not the grid."""
    context, watch = new_context(browser)
    page = context.new_page()
    page.goto(report_file.as_uri() + "#metric-dt")
    page.wait_for_function("document.getElementById('metric-dt').dataset.drawn",
                           timeout=DRAW_TIMEOUT_MS)
    assert page.evaluate("window.scrollY") > 3 * 900
    assert page.get_attribute("#grid", "data-drawn") is None
    assert page.locator("#grid img.static").is_visible()
    assert watch.problems() == []
    context.close()


def test_tabbing_down_the_page_reaches_the_charts_below(browser, report_file) -> None:
    """A keyboard reader's focus scrolls the page: tabbing to the links just above the
    All-metrics charts draws the first of them, and the next Tab lands on its controls."""
    context, watch = new_context(browser)
    page = context.new_page()
    page.goto(report_file.as_uri())
    page.wait_for_function(TOP_DRAWN, timeout=DRAW_TIMEOUT_MS)
    assert page.get_attribute("#metric-loss", "data-drawn") is None
    page.locator("h1").click()
    where = """() => { const e = document.activeElement;
      return [e.closest('section')?.id, e.closest('figure.chart')?.dataset.chart] }"""
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate(where)[0] == "runs-section":
            break
    assert page.evaluate(where)[0] == "runs-section"
    page.wait_for_function("document.getElementById('metric-loss').dataset.drawn",
                           timeout=DRAW_TIMEOUT_MS)
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate(where)[1]:
            break
    assert page.evaluate(where) == ["metric-loss-section", "metric-loss"]
    assert watch.problems() == []
    context.close()


def test_a_browser_without_intersection_observer_draws_every_chart(browser, report_file) -> None:
    context, watch = new_context(browser, init_script="delete window.IntersectionObserver;")
    page = context.new_page()
    page.goto(report_file.as_uri())
    page.wait_for_function(ALL_DRAWN, timeout=DRAW_TIMEOUT_MS)
    assert page.evaluate("[window.scrollY, typeof IntersectionObserver]") == [0, "undefined"]
    drawn = page.eval_on_selector_all("figure.chart", "fs => fs.map(f => f.dataset.drawn)")
    assert drawn == ["true"] * (4 + len(METRIC_CHARTS))
    assert watch.problems() == []
    context.close()


def test_title_and_tables(live) -> None:
    page = live.page
    assert page.title() == "Training dynamics"
    assert page.locator("h1").inner_text() == "Training dynamics"
    for table_id, rows in (("runs", 12), ("arms", 4), ("comparisons", 9)):
        table = page.locator(f"table#{table_id}")
        assert table.is_visible()
        assert table.locator("thead th").count() >= 6
        assert table.locator("tbody tr").count() == rows


def test_full_page_screenshot(live) -> None:
    """A picture of the page kept as a test artifact; REPORT_UPDATE_PICTURE=1 also
    regenerates the README's (docs/architecture.md, "Updating the README picture")."""
    page = live.page
    page.mouse.move(0, 0)  # no hovered seed, no highlighted menu button
    page.evaluate("document.activeElement && document.activeElement.blur()")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("REPORT_UPDATE_PICTURE") == "1":
        # The README shows the top of the page: title, both charts and their controls.
        bottom = page.evaluate(
            "document.querySelector('#overlay-section').getBoundingClientRect().bottom"
            " + window.scrollY"
        )
        width = page.viewport_size["width"]
        page.screenshot(
            path=str(README_PICTURE), full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": min(round(bottom) + 16, 1400)},
        )


def test_values_switch_and_hover(live) -> None:
    """Smoke checks of the interaction (issue 7 goes deeper): the control, the hover."""
    page = live.page
    for key in ("grid", "overlay", "aligned"):
        radios = page.locator(f"#{key} .live input[type=radio][name=values]")
        assert [radios.nth(n).get_attribute("value") for n in range(radios.count())] == [
            "smoothed", "raw",
        ]
        bands = page.locator(f"#{key} .live input[type=radio][name=band]")
        assert [bands.nth(n).get_attribute("value") for n in range(bands.count())] == [
            "ci", "minmax",
        ]
    page.locator("#grid .live input[value=raw]").check()
    page.wait_for_function("window.reportViews.grid.signal('values') === 'raw'")
    page.locator("#grid .live input[value=smoothed]").check()
    page.wait_for_function("window.reportViews.grid.signal('values') === 'smoothed'")

    box = page.locator("#grid .live canvas").bounding_box()
    assert box is not None
    for fraction in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85):
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.35)
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.8)
    page.mouse.move(0, 0)
    page.evaluate("window.reportViews.grid.runAsync().then(() => true)")
    assert live.watch.problems() == []


def test_export_menu_saves_svg_and_png(live) -> None:
    """Each chart's menu offers its picture as SVG and PNG, drawn by Vega on the click."""
    page = live.page
    for key in ("grid", "overlay"):
        menu = page.locator(f"#{key} .live details.chart-menu")
        assert menu.count() == 1
        links = menu.locator("a")
        assert links.all_text_contents() == ["Save as SVG", "Save as PNG"]
        assert not links.first.is_visible()  # until the menu is opened
        menu.locator("summary").click()
        for link, kind in zip(links.all(), ("svg", "png"), strict=True):
            assert link.is_visible()
            with page.expect_download() as saving:
                link.click()
            download = saving.value
            assert download.suggested_filename == f"{key}.{kind}"
            data = Path(download.path()).read_bytes()
            if kind == "png":
                width, height = png_size(data)
                assert width > 300 and height > 200, (width, height)
            else:
                assert data.lstrip().startswith(b"<svg") and b"</svg>" in data[-100:]
        page.mouse.click(5, 5)  # a click elsewhere closes the menu
        assert menu.get_attribute("open") is None
    assert live.watch.problems() == []


def test_the_page_carries_no_vega_lite_compiler(live, report_file) -> None:
    """The charts arrive compiled to Vega: neither Vega-Lite nor vega-embed is in the page."""
    page = live.page
    assert page.evaluate("[typeof vega.View, typeof vegaTooltip.Handler]") == [
        "function", "function"]
    assert page.evaluate("[typeof window.vegaLite, typeof window.vegaEmbed]") == [
        "undefined", "undefined"]
    # An error message of the Vega-Lite compiler, which minification keeps.
    assert "Cannot project a selection on encoding channel" not in report_file.read_text()


# --- JavaScript off ----------------------------------------------------------------


def test_javascript_off_shows_every_chart_as_a_picture(static) -> None:
    page = static.page
    figures = page.locator("figure.chart")
    assert figures.count() == 4 + len(METRIC_CHARTS)
    for n in range(figures.count()):
        picture = figures.nth(n).locator("img.static")
        assert picture.is_visible()
        assert picture.get_attribute("src").startswith("data:image/png;base64,")
        natural = picture.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert natural[0] and natural[1] > 300 and natural[2] > 150, natural
        assert figures.nth(n).locator(".live").is_hidden()
        assert figures.nth(n).get_attribute("data-drawn") is None
    assert page.locator(".live:visible").count() == 0
    for table_id in ("runs", "arms", "comparisons"):
        assert page.locator(f"table#{table_id}").is_visible()
    assert page.locator("h1").inner_text() == "Training dynamics"
    assert static.watch.problems() == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-no-javascript.png"), full_page=True)


# --- accessibility basics ------------------------------------------------------------


def _arms(page: object) -> list[str]:
    return page.locator("table#arms tbody th").all_inner_texts()  # type: ignore[attr-defined]


def _assert_sentence(text: str | None, arms: list[str]) -> None:
    assert text and text.strip() == text and text.endswith("."), text
    missing = [arm for arm in arms if arm not in text]
    assert not missing, f"{missing} not in {text!r}"


def test_every_chart_has_a_text_alternative(live, static) -> None:
    arms = _arms(static.page)
    assert arms == ["vanilla", "static erasure", "online erasure", "routing"]
    for picture in static.page.locator("img.static").all():
        _assert_sentence(picture.get_attribute("alt"), arms)
    for chart in live.page.locator("figure.chart .live").all():
        assert chart.get_attribute("role") == "group"
        _assert_sentence(chart.get_attribute("aria-label"), arms)


@pytest.mark.parametrize("mode", ["live", "static"])
def test_language_headings_and_table_headers(mode, request) -> None:
    page = request.getfixturevalue(mode).page
    assert page.evaluate("document.documentElement.lang") == "en"
    levels = page.eval_on_selector_all(
        "h1, h2, h3, h4, h5, h6", "hs => hs.map(h => Number(h.tagName[1]))"
    )
    assert levels[0] == 1 and levels.count(1) == 1, levels
    for before, after in zip(levels, levels[1:], strict=False):
        assert after <= before + 1, f"heading level skips from h{before} to h{after}: {levels}"
    tables = page.eval_on_selector_all(
        "main table",  # vega-tooltip's own key/value table lives outside <main>
        """ts => ts.map(t => ({
            id: t.id,
            header: [...t.querySelectorAll('thead th')].map(th => th.getAttribute('scope')),
            columns: Math.max(...[...t.querySelectorAll('tbody tr')].map(r => r.cells.length)),
        }))""",
    )
    assert {t["id"] for t in tables} >= {"runs", "arms"}
    for table in tables:
        assert table["header"] and set(table["header"]) == {"col"}, table
        assert len(table["header"]) == table["columns"], table


# --- groups: two labelled sweeps, grouped by sweep and arm ------------------------------


def test_two_sweeps_grouped_by_sweep_and_arm(browser, tmp_path_factory) -> None:
    """The example logs as `before`, a batch-32 sweep of the same file names as `after`,
    --group-by sweep,arm: every chart drawn offline, one overlay line per group in a
    colour of its own; the page kept as tests/artifacts/report-sweeps.png."""
    import simulate

    work = tmp_path_factory.mktemp("sweeps")
    simulate.write_sweep(work / "v1", simulate.simulate_sweep(preset="demo"))
    simulate.write_sweep(work / "v2", simulate.simulate_sweep(preset="demo", batch=32))
    out = work / "site" / "index.html"
    result = run_main("before=v1", "after=v2", "--group-by", "sweep,arm", "-o", str(out),
                      "--no-png", cwd=work, env=EPOCH)
    assert result.returncode == 0, result.stderr
    context, watch = new_context(browser)
    page = context.new_page()
    page.goto(out.as_uri())
    draw_every_chart(page, DRAW_TIMEOUT_MS)
    drawn = page.eval_on_selector_all("figure.chart", "fs => fs.map(f => f.dataset.drawn)")
    assert drawn == ["true"] * len(drawn) and len(drawn) == 4 + len(METRIC_CHARTS)
    assert _marks(page, "overlay").get("line:means") == 8
    strokes = page.evaluate("""() => {
      const found = new Set();
      const walk = (mark) => (mark.items || []).forEach((item) => {
        if (mark.name === 'overlay_means_marks') found.add(item.stroke);
        (item.items || []).forEach(walk);
      });
      walk(window.reportViews.overlay.scenegraph().root);
      return [...found];
    }""")
    assert len(strokes) == 8
    assert page.locator("table#arms tbody tr").count() == 8
    assert page.locator("table#runs thead th").all_inner_texts()[:4] == [
        "run", "group", "arm", "sweep"]
    page.mouse.move(0, 0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-sweeps.png"), full_page=True)
    assert watch.problems() == []
    context.close()


def test_the_phases_benchmark_sees_each_chart_drawn(browser, report_file) -> None:
    """benchmarks/phases.py's probe catches Vega's parse and runs of each chart, in the
    order the page draws them (a Vega that no longer goes through them would leave it
    blind)."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    phases = importlib.import_module("phases")
    loaded = phases.load(browser, report_file, 2)
    assert [chart["key"] for chart in loaded["charts"]] == ["grid", "overlay"]
    for chart in loaded["charts"]:
        assert chart["parse"] > 0 and chart["view"] >= 0 and chart["runs"], chart
        assert all(run > 0 for run in chart["runs"]), chart
        assert loaded["ready"] < chart["drawn"]
    assert loaded["charts"][0]["drawn"] < loaded["charts"][1]["drawn"]
