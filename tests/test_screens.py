"""The page for every reader and screen, in real Chromium: charts as wide as their
column (1400, 1024 and 390 px), nothing sideways off a phone's page, a dark scheme,
print (page.pdf()), the controls by keyboard; a sweep of 30 groups wraps its grid.
Screenshots and the PDF are kept in tests/artifacts/ (gitignored)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import draw_every_chart, launch, new_context
from helpers import ROOT, run_main
from PIL import Image
from simulate import simulate_sweep, write_sweep

from report import charts, colors

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
ARTIFACTS = ROOT / "tests" / "artifacts"
MENU_ROOM = 38  # .live's padding-right: room for the save menu (templates/_style.css)

# Per figure: the text column (the figure's width), its canvas's width, and the width of
# every panel of its first row, from the view's own scenegraph.
MEASURE = """
() => {
  const out = {page: document.documentElement.scrollWidth, viewport: innerWidth, figures: {}};
  for (const figure of document.querySelectorAll('figure.chart')) {
    const canvas = figure.querySelector('canvas');
    const view = window.reportViews[figure.dataset.chart];
    const sig = view.getState({signals: n => /_child_width$/.test(n), data: () => false}).signals;
    out.figures[figure.dataset.chart] = {column: figure.clientWidth,
      canvas: canvas.getBoundingClientRect().width, panels: Object.values(sig)};
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("screens") / "index.html"
    result = run_main("--demo", "-o", str(out), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def browser():
    with launch() as chromium:
        yield chromium


def _open(browser, report_file: Path, width: int, scheme: str = "light"):
    context, watch = new_context(browser, width=width, height=900)
    page = context.new_page()
    page.emulate_media(color_scheme=scheme)
    page.goto(report_file.as_uri())
    draw_every_chart(page, 120_000)
    return context, page, watch


def _shot(page, name: str, locator: str | None = None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    (page.locator(locator) if locator else page).screenshot(path=str(path))
    return path


@pytest.mark.parametrize("width", [1400, 1024])
def test_charts_take_their_columns_width(browser, report_file, width) -> None:
    context, page, watch = _open(browser, report_file, width)
    measured = page.evaluate(MEASURE)
    _shot(page, f"screens-{width}.png")
    context.close()
    figures = measured["figures"]
    print(f"\n{width} px: {json.dumps(figures)}")
    room = figures["overlay"]["column"] - MENU_ROOM
    # The overlay and time to hack fill the column, less the menu's room (a pixel of
    # rounding either way).
    for key in ("overlay", "time_to_hack"):
        assert abs(figures[key]["canvas"] - room) <= 2, (key, figures[key], room)
    # The grid's four panels share it, within the bounds (at 1400 px wider than the
    # picture's 215 px), the whole grid within a few pixels of the column.
    grid = figures["grid"]
    assert len(set(grid["panels"])) == 1
    assert charts.PANEL_MIN_WIDTH <= grid["panels"][0] <= charts.PANEL_MAX_WIDTH
    assert width < 1400 or grid["panels"][0] > charts.PANEL_WIDTH
    assert room - 8 <= grid["canvas"] <= room + 2, grid
    assert measured["page"] == width  # nothing sideways
    assert watch.problems() == []


def test_a_phone_scrolls_charts_in_their_own_box_only(browser, report_file) -> None:
    context, page, watch = _open(browser, report_file, 390)
    measured = page.evaluate(MEASURE)
    wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
      .filter(e => !e.closest('figure.chart, .table-wrap'))
      .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
      .map(e => e.tagName + '#' + e.id)""")
    boxes = page.evaluate("""() => [...document.querySelectorAll('figure.chart, .table-wrap')]
      .map(e => [getComputedStyle(e).overflowX, e.getBoundingClientRect().right])""")
    _shot(page, "screens-390.png")
    _shot(page, "screens-390-grid.png", "#grid")
    context.close()
    print(f"\n390 px: {json.dumps(measured['figures'])}")
    assert measured["page"] == 390, "the page scrolls sideways"
    assert wide == []
    assert all(overflow == "auto" and right <= 390 for overflow, right in boxes), boxes
    # The overlay fits the phone; the grid's panels keep their least width, scrolled.
    overlay = measured["figures"]["overlay"]
    assert overlay["canvas"] <= overlay["column"]
    assert measured["figures"]["grid"]["panels"][0] == charts.PANEL_MIN_WIDTH
    assert watch.problems() == []


def test_dark_scheme_colours_the_page_and_the_charts(browser, report_file) -> None:
    context, page, watch = _open(browser, report_file, 1400, scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    # The canvas's pixels: a dark page shows through it, and its axis text is light.
    pixels = page.evaluate("""() => {
      const c = document.querySelector('#overlay canvas');
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let opaqueWhite = 0, light = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if (a > 250 && r > 240 && g > 240 && b > 240) opaqueWhite++;
        if (a > 200 && r > 180 && g > 180 && b > 180) light++;
      }
      return {opaqueWhite, light, all: data.length / 4};
    }""")
    _shot(page, "screens-dark.png")
    _shot(page, "screens-dark-overlay.png", "#overlay")
    # Switching back to light while reading redraws the charts light.
    page.emulate_media(color_scheme="light")
    corner = """() => {
      const c = document.querySelector('#overlay canvas');
      return Array.from(c.getContext('2d').getImageData(2, 2, 1, 1).data);
    }"""
    page.wait_for_function(f"({corner})()[3] === 255", timeout=30_000)
    light_background = page.evaluate(corner)
    context.close()
    assert background == "rgb(22, 25, 29)"
    # No white background (a few white pixels: the onset dots' rims), light text.
    assert pixels["opaqueWhite"] < pixels["all"] / 1000 and pixels["light"] > 100, pixels
    assert light_background == [255, 255, 255, 255]
    assert watch.problems() == []


def test_dark_variants_keep_contrast_and_order() -> None:
    """Every line colour on the dark background (#16191d) has at least 3:1 contrast
    (WCAG's for graphics), and the rank ramp's lightness order is kept."""

    def luminance(hex_color: str) -> float:
        rgb = [int(hex_color[k:k + 2], 16) / 255 for k in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    background = luminance("#16191d")
    lines = [*colors.ARM_COLORS.values(), *colors.EXTRA_ARM_COLORS, *colors.RANK_RAMP,
             *colors.MANY_GROUPS_RAMP]
    for color in lines:
        dark = colors.dark_variant(color)
        assert (luminance(dark) + 0.05) / (background + 0.05) >= 3, (color, dark)
    lightness = [colors.srgb_to_lab(colors.dark_variant(c))[0] for c in colors.RANK_RAMP]
    assert lightness == sorted(lightness, reverse=True)  # red-orange lightest, as in light
    assert colors.dark_variant("#222222") == colors.dark_variant("#222222").lower()
    assert colors.srgb_to_lab(colors.dark_variant("#222222"))[0] > 85  # dark ink -> light


def test_print_gives_whole_pictures_and_no_controls(browser, report_file) -> None:
    context, page, watch = _open(browser, report_file, 1280)
    pdf = page.pdf(format="A4", margin={"top": "1cm", "bottom": "1cm", "left": "1cm",
                                        "right": "1cm"})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "screens-print.pdf").write_bytes(pdf)
    # A4 less its margins, in CSS pixels (96 per inch): each figure shorter than a page,
    # never split (break-inside), pictures shown, controls gone.
    page.emulate_media(media="print")
    page.set_viewport_size({"width": round((21 - 2) / 2.54 * 96), "height": 900})
    state = page.evaluate("""() => ({
      figures: [...document.querySelectorAll('figure.chart')].map(f => ({
        key: f.dataset.chart, breakInside: getComputedStyle(f).breakInside,
        height: f.getBoundingClientRect().height,
        picture: getComputedStyle(f.querySelector('img.static')).display,
        live: getComputedStyle(f.querySelector('.live')).display})),
      controls: [...document.querySelectorAll('.vega-bindings, .chart-menu, p.downloads')]
        .filter(e => getComputedStyle(e).display !== 'none').length,
      theads: [...document.querySelectorAll('thead')].map(t => getComputedStyle(t).display),
      last: [...document.querySelectorAll('main > section')].pop().id})""")
    context.close()
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    print(f"\nprint: {pages} A4 pages, {len(pdf):,} bytes")
    page_height = (29.7 - 2) / 2.54 * 96
    for figure in state["figures"]:
        assert figure["breakInside"] == "avoid", figure
        assert figure["picture"] == "block" and figure["live"] == "none", figure
        assert 0 < figure["height"] <= page_height, figure
    assert state["controls"] == 0
    assert set(state["theads"]) == {"table-header-group"}
    assert state["last"] == "provenance"
    assert pages > 1
    assert watch.problems() == []


def test_controls_work_by_keyboard_with_a_visible_focus(browser, report_file) -> None:
    context, page, watch = _open(browser, report_file, 1280)
    # Tab from the top until the focus is on the grid's values switch.
    page.locator("h1").click()
    for _ in range(60):
        page.keyboard.press("Tab")
        where = page.evaluate("""() => { const e = document.activeElement;
          return [e.closest('figure.chart')?.dataset.chart, e.tagName, e.type || ''] }""")
        if where == ["grid", "INPUT", "radio"]:
            break
    assert where == ["grid", "INPUT", "radio"], where
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    _shot(page, "screens-keyboard-focus.png", "#grid")
    page.keyboard.press("ArrowRight")
    values = page.evaluate("window.reportViews.grid.signal('values')")
    # On to the save menu: Enter opens it, Escape closes it and keeps the focus there.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    page.keyboard.press("Enter")
    opened = page.evaluate("document.activeElement.parentElement.open")
    menu_outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    page.keyboard.press("Escape")
    closed = page.evaluate("!document.activeElement.parentElement.open")
    context.close()
    assert outline == "solid" and menu_outline == "solid"
    assert values == "raw"
    assert opened and closed
    assert watch.problems() == []


def test_thirty_groups_wrap_into_rows(tmp_path) -> None:
    """30 groups: the grid's picture is five blocks of six columns, not a strip."""
    logs = tmp_path / "logs"
    write_sweep(logs, simulate_sweep(arms=["vanilla"], seeds=range(1, 31), steps=60))
    out = tmp_path / "site" / "index.html"
    result = run_main(str(logs), "-o", str(out), "--group-by", "seed",
                      env=EPOCH)
    assert result.returncode == 0, result.stderr
    with Image.open(out.parent / "dynamics.png") as picture:
        width, height = picture.size
    print(f"\n30 groups: dynamics.png {width} x {height}")
    # At 2x: six panels of 215 px, their gaps (42 px) and the axes, under 1,600 CSS px;
    # thirty in a row would be over 7,000.
    assert width < 2 * 1600 and height > width
    assert charts.column_blocks(list(range(30))) == [list(range(k, k + 6))
                                                     for k in range(0, 30, 6)]
    assert charts.column_blocks(list(range(7))) == [[0, 1, 2, 3], [4, 5, 6]]
    assert charts.column_blocks([2, 5]) == [[2, 5]]
