"""The charts' interaction in real Chromium: tooltips, a hovered seed highlighted in every
panel, zooming the step axis of every panel together, the smoothed/raw switch, the band
switch, the time-to-hack curves' seeds at risk."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from browser import draw_every_chart, launch, new_context
from conftest import EPOCH
from helpers import run_main

from report.charts import POINTER_LAYER_SUFFIX

pytestmark = pytest.mark.browser

# Every item of the marks named `name` in a view, with its position on the page.
ITEMS = """([key, name]) => {
  const view = window.reportViews[key];
  const box = document.querySelector(`#${key} canvas`).getBoundingClientRect();
  // The scene's origin on the canvas: the view's origin plus its padding (as Vega's
  // pointer handler places it).
  const [x0, y0] = view.origin();
  const pad = view.padding();
  const [ox, oy] = [x0 + (pad.left || 0), y0 + (pad.top || 0)];
  const found = [];
  (function walk(mark, dx, dy, line) {
    (mark.items || []).forEach((item, index) => {
      if (mark.name === name) {
        found.push({x: box.x + ox + dx + (item.x || 0), y: box.y + oy + dy + (item.y || 0),
                    localX: dx + (item.x || 0), localY: dy + (item.y || 0),
                    localY2: dy + (item.y2 === undefined ? NaN : item.y2),
                    datum: item.datum, opacity: item.opacity,
                    strokeOpacity: item.strokeOpacity, line, index});
      }
      (item.items || []).forEach((child, c) => {
        walk(child, dx + (item.x || 0), dy + (item.y || 0), `${line}/${index}.${c}`);
      });
    });
  })(view.scenegraph().root, 0, 0, "");
  return found;
}"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    built = tmp_path_factory.mktemp("demo") / "index.html"
    result = run_main("--demo", "-o", str(built), "--no-png", env=EPOCH)
    assert result.returncode == 0, result.stderr
    alone = tmp_path_factory.mktemp("alone") / "index.html"
    shutil.copy(built, alone)
    with launch() as browser:
        context, watch = new_context(browser, width=1400, height=1000)
        loaded = context.new_page()
        loaded.goto(Path(alone).as_uri())
        draw_every_chart(loaded)
        yield loaded
        assert watch.problems() == []
        context.close()


def items(page, key: str, name: str) -> list[dict]:
    if name.endswith(POINTER_LAYER_SUFFIX + "_marks"):
        pointer_over(page, key)
    return page.evaluate(ITEMS, [key, name])


def pointer_over(page, key: str) -> None:
    """Bring the pointer over chart `key`, as a reader does before hovering a line: the
    chart then makes its invisible pointer targets (`charts.POINTER_PARAM`)."""
    box = page.locator(f"#{key} .live canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.wait_for_function("""(key) => {  // the time-to-hack chart's are always there
        try { return window.reportViews[key].signal('pointed') === true; }
        catch (missing) { return true; } }""", arg=key)
    page.evaluate("(key) => window.reportViews[key].runAsync().then(() => true)", key)


def lines(page, key: str, name: str) -> dict[str, list[dict]]:
    """Items of a line mark grouped into their lines."""
    grouped: dict[str, list[dict]] = {}
    for item in items(page, key, name):
        grouped.setdefault(item["line"], []).append(item)
    return grouped


def hover_a_seed(page) -> dict:
    """Point at a seed's tooltip point in the leftmost rate panel, mid-run."""
    found = items(page, "grid", "rates_points_marks")
    means = [p for p in found if p["datum"].get("kind") == "M"]
    # A seed's point near step 120 with no mean's point over it (that would take the
    # pointer): 6 px clear of every mean's point (they are 8 px across).
    points = [p for p in found if p["datum"].get("kind") == "S"
              and 110 <= p["datum"].get("step") <= 130
              and all(math.hypot(p["x"] - m["x"], p["y"] - m["y"]) > 6 for m in means)]
    assert points, "no seed points to hover"
    target = min(points, key=lambda p: abs(p["datum"]["step"] - 120))
    page.mouse.move(5, 5)  # from elsewhere: a pointer already there enters nothing
    page.mouse.move(target["x"], target["y"], steps=2)
    page.wait_for_timeout(200)
    return target


def test_pointer_targets_are_made_when_a_pointer_first_comes_over(page) -> None:
    """A chart's first drawing makes none of its invisible pointer targets (its tooltips,
    the hovered seed): a pointer coming over the chart makes them, and the chart drawn
    again in the other colour scheme keeps them. No other test points at this chart."""
    key, layer = "metric-loss", "metric0_points_marks"
    in_view(page, key)
    page.mouse.move(5, 5)
    assert page.evaluate(ITEMS, [key, layer]) == []
    pointer_over(page, key)
    made = items(page, key, layer)
    assert len(made) > 100 and {p["datum"]["kind"] for p in made} == {"S", "M"}
    page.mouse.move(5, 5)
    before = page.evaluate_handle("(key) => window.reportViews[key]", key)
    try:
        page.emulate_media(color_scheme="dark")
        page.wait_for_function("([key, view]) => window.reportViews[key] !== view",
                               arg=[key, before])
        page.evaluate("(key) => window.reportViews[key].runAsync().then(() => true)", key)
        assert len(page.evaluate(ITEMS, [key, layer])) == len(made)
    finally:
        page.emulate_media(color_scheme="light")
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(200)


def test_tooltip_shows_arm_seed_step_raw_and_smoothed(page) -> None:
    target = hover_a_seed(page)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=5000)
    text = tooltip.inner_text().lower()
    for word in ("arm", "seed", "run", "step", "raw", "smoothed"):
        assert word in text, (word, text)
    import re

    step = int(re.search(r"step\s+(\d+)", text).group(1))
    assert abs(step - 120) <= 10  # the point under the pointer (neighbours overlap)
    assert target["datum"]["arm_name"] in text


def test_hovered_seed_is_highlighted_in_every_panel(page) -> None:
    hover_a_seed(page)
    hovered = page.evaluate("() => window.reportViews.grid.signal('hover')")
    (run,) = hovered["run"]  # the seed under the pointer (neighbours overlap)
    for row in ("rates", "cos"):
        picked, others = [], []
        for line in lines(page, "grid", f"{row}_seeds_marks").values():
            first = line[0]
            opacity = (first["opacity"] if first["opacity"] is not None else 1) * (
                first["strokeOpacity"] if first["strokeOpacity"] is not None else 1)
            (picked if first["datum"]["run"] == run else others).append(opacity)
        assert picked and others, row
        assert min(picked) > max(others), (row, picked, others)
    page.mouse.move(5, 5)
    page.wait_for_timeout(200)


def step_x(page, row: str) -> dict[float, float]:
    """Step -> x in the leftmost panel, for one seed line of a row."""
    first_line = next(iter(lines(page, "grid", f"{row}_seeds_marks").values()))
    return {item["datum"]["step"]: item["localX"] for item in first_line}


def test_zoom_moves_every_panel_together_and_double_click_resets(page) -> None:
    before = step_x(page, "rates")
    # The middle of the leftmost rate panel, away from any line: empty panel space.
    panel = items(page, "grid", "rates_background_marks")[0]
    middle = {"x": panel["x"] + 100, "y": panel["y"] + 70}
    page.mouse.move(middle["x"], middle["y"])
    page.mouse.wheel(0, -400)  # zoom in around the pointer
    page.wait_for_timeout(300)
    rates, cos = step_x(page, "rates"), step_x(page, "cos")
    spread_before = before[150] - before[50]
    assert rates[150] - rates[50] > 1.2 * spread_before  # zoomed in
    assert rates[150] - rates[50] == pytest.approx(cos[150] - cos[50])  # both rows together
    # Drag pans the zoomed axis, still every panel at once.
    page.mouse.move(middle["x"], middle["y"])
    page.mouse.down()
    page.mouse.move(middle["x"] + 60, middle["y"], steps=5)
    page.mouse.up()
    page.wait_for_timeout(300)
    panned_rates, panned_cos = step_x(page, "rates"), step_x(page, "cos")
    assert panned_rates[100] != pytest.approx(rates[100])
    assert panned_rates[100] == pytest.approx(panned_cos[100])
    page.mouse.dblclick(middle["x"], middle["y"])
    page.wait_for_timeout(300)
    assert step_x(page, "rates") == pytest.approx(before)


def test_values_switch_redraws_every_line(page) -> None:
    container = page.locator("#grid")
    smoothed = [i["y"] for i in next(iter(lines(page, "grid", "rates_seeds_marks").values()))]
    container.locator("input[type=radio][value=raw]").check()
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.reportViews.grid.signal('values')") == "raw"
    raw = [i["y"] for i in next(iter(lines(page, "grid", "rates_seeds_marks").values()))]
    assert len(raw) == len(smoothed) and raw != smoothed
    title = page.evaluate(
        "() => window.reportViews.grid.scenegraph().root.items[0].items"
        ".find(m => m.role === 'title').items[0].items[0].items[0].text"
    )
    assert "raw" in str(title).lower()
    container.locator("input[type=radio][value=smoothed]").check()
    page.wait_for_timeout(300)
    back = [i["y"] for i in next(iter(lines(page, "grid", "rates_seeds_marks").values()))]
    assert back == pytest.approx(smoothed)


def band_heights(page, key: str, name: str) -> dict[tuple, float]:
    """(arm, metric, step) -> the band's height in pixels at that step, for every band."""
    return {
        (item["datum"]["arm"], item["datum"]["metric"], item["datum"]["step"]):
            abs(item["localY2"] - item["localY"])
        for item in items(page, key, name)
    }


def set_band(page, key: str, value: str) -> None:
    page.locator(f"#{key} input[type=radio][name=band][value={value}]").check()
    page.wait_for_function(f"window.reportViews.{key}.signal('band') === '{value}'")
    page.wait_for_timeout(200)


def test_band_switch_changes_every_bands_extent(page) -> None:
    for key, name in (("grid", "rates_bands_marks"), ("overlay", "overlay_bands_marks"),
                      ("aligned", "aligned_bands_marks")):
        assert page.evaluate(f"window.reportViews.{key}.signal('band')") == "ci"
        ci = band_heights(page, key, name)
        assert len(ci) > 100, key
        set_band(page, key, "minmax")
        extremes = band_heights(page, key, name)
        assert extremes.keys() == ci.keys()
        # Three seeds: t(0.975, 2) / sqrt(3) = 2.48 sd either side, wider than most ranges.
        wider = sum(ci[k] > extremes[k] + 0.5 for k in ci)
        assert wider > len(ci) / 2, (key, wider, len(ci))
        set_band(page, key, "ci")
        assert band_heights(page, key, name) == pytest.approx(ci)


def in_view(page, key: str) -> None:
    """Scroll the chart into the window: the pointer only reaches what is on screen."""
    page.locator(f"#{key}").scroll_into_view_if_needed()
    page.wait_for_timeout(200)


def test_mean_tooltip_gives_the_band(page) -> None:
    in_view(page, "overlay")
    means = [p for p in items(page, "overlay", "overlay_points_marks")
             if p["datum"].get("kind") == "M" and p["datum"].get("step") == 120]
    assert means, "no mean points to hover"
    page.mouse.move(means[0]["x"], means[0]["y"])
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=5000)
    assert "95% CI" in tooltip.inner_text()
    page.mouse.move(5, 5)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)


def test_time_to_hack_hover_shows_the_seeds_at_risk(page) -> None:
    import re

    in_view(page, "time_to_hack")
    vertices = [p for p in items(page, "time_to_hack", "km_points_marks")
                if p["datum"].get("hacked", 0) > 0]
    assert vertices, "no step of the curves to hover"
    # The first onset of an arm: every one of its 3 seeds was still at risk there.
    first = min(vertices, key=lambda p: p["datum"]["step"])
    page.mouse.move(first["x"], first["y"])
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=5000)
    text = tooltip.inner_text()
    assert "at risk" in text and re.search(r"\b3 of 3 seeds\b", text), text
    assert first["datum"]["arm_name"] in text and "33%" in text
    page.mouse.move(5, 5)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)


# --- the All-metrics charts ----------------------------------------------------------


def _hover_metric_seed(page, key: str, layer: str, step: int) -> dict:
    """Point at a seed's tooltip point of a metric chart within 50 steps of `step`, the
    one farthest from any mean's point (that would take the pointer)."""
    in_view(page, key)
    found = items(page, key, layer)
    means = [p for p in found if p["datum"].get("kind") == "M"]

    def clear(p: dict) -> float:
        return min(math.hypot(p["x"] - m["x"], p["y"] - m["y"]) for m in means)

    points = [p for p in found if p["datum"].get("kind") == "S"
              and abs(p["datum"]["step"] - step) <= 50]
    assert points, "no seed points to hover"
    target = max(points, key=clear)
    assert clear(target) > 6, "every seed point lies under a mean's"
    page.mouse.move(5, 5)
    page.mouse.move(target["x"], target["y"], steps=2)
    page.wait_for_timeout(200)
    return target


def test_metric_chart_tooltip_gives_the_logged_value(page) -> None:
    """Pointing at a seed of the dt chart (seconds per step: noisy, seeds far from their
    mean) names it and gives the dt the generator wrote at that step, raw and smoothed."""
    import re

    import simulate

    target = _hover_metric_seed(page, "metric-dt", "metric6_points_marks", 100)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=5000)
    text = tooltip.inner_text()
    run = re.search(r"run\s+(\S+\.log)", text).group(1)
    step = int(re.search(r"step\s+(\d+)", text).group(1))
    assert re.search(r"metric\s+dt", text) and target["datum"]["arm_name"] in text
    sim = next(s for s in simulate.simulate_sweep(preset="demo") if s.name == run)
    raw = float(re.search(r"raw\s+(-?[\d.]+)", text).group(1))
    assert raw == pytest.approx(sim.truth["dt"][step], abs=0.0005)
    smoothed, prev = float(re.search(r"smoothed \(EMA-5\)\s+(-?[\d.]+)", text).group(1)), None
    for value in sim.truth["dt"][: step + 1]:
        prev = value if prev is None else value / 3 + prev * 2 / 3
    assert smoothed == pytest.approx(prev, abs=0.0005)
    page.mouse.move(5, 5)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)


def test_metric_chart_hover_highlights_the_seed(page) -> None:
    key, layer = "metric-dt", "metric6_points_marks"
    _hover_metric_seed(page, key, layer, 120)
    hovered = page.evaluate(f"() => window.reportViews[{key!r}].signal('hover')")
    (run,) = hovered["run"]
    picked, others = [], []
    for line in lines(page, key, "metric6_seeds_marks").values():
        first = line[0]
        opacity = (first["opacity"] if first["opacity"] is not None else 1) * (
            first["strokeOpacity"] if first["strokeOpacity"] is not None else 1)
        (picked if first["datum"]["run"] == run else others).append(opacity)
    assert picked and others
    assert min(picked) > max(others), (picked, others)
    # The band control of this chart switches its bands.
    page.locator(f"#{key} input[type=radio][name=band][value=minmax]").check()
    page.wait_for_function(f"window.reportViews[{key!r}].signal('band') === 'minmax'")
    page.locator(f"#{key} input[type=radio][name=band][value=ci]").check()
    page.mouse.move(5, 5)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(200)
