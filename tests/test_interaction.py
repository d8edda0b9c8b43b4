"""The charts' interaction in real Chromium: tooltips, a hovered seed highlighted in every
panel, zooming the step axis of every panel together, the smoothed/raw switch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from browser import launch, new_context
from conftest import EPOCH
from helpers import run_main

pytestmark = pytest.mark.browser

# Every item of the marks named `name` in a view, with its position on the page.
ITEMS = """([key, name]) => {
  const view = window.reportViews[key];
  const box = document.querySelector(`#${key} canvas`).getBoundingClientRect();
  const [ox, oy] = view.origin();
  const found = [];
  (function walk(mark, dx, dy, line) {
    (mark.items || []).forEach((item, index) => {
      if (mark.name === name) {
        found.push({x: box.x + ox + dx + (item.x || 0), y: box.y + oy + dy + (item.y || 0),
                    localX: dx + (item.x || 0), datum: item.datum, opacity: item.opacity,
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
        loaded.wait_for_function(
            "[...document.querySelectorAll('figure.chart')].every(f => f.dataset.drawn)"
        )
        yield loaded
        assert watch.problems() == []
        context.close()


def items(page, key: str, name: str) -> list[dict]:
    return page.evaluate(ITEMS, [key, name])


def lines(page, key: str, name: str) -> dict[str, list[dict]]:
    """Items of a line mark grouped into their lines."""
    grouped: dict[str, list[dict]] = {}
    for item in items(page, key, name):
        grouped.setdefault(item["line"], []).append(item)
    return grouped


def hover_a_seed(page) -> dict:
    """Point at a seed's tooltip point in the leftmost rate panel, mid-run."""
    points = [p for p in items(page, "grid", "rates_points_marks")
              if p["datum"].get("kind") == "S" and p["datum"].get("step") == 120]
    assert points, "no seed points to hover"
    target = points[0]
    page.mouse.move(target["x"], target["y"])
    page.wait_for_timeout(200)
    return target


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
