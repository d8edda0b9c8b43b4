"""Hostile logs in a real browser: file names, argv and paths are attacker-controlled as
far as the page is concerned. They must show as text and run nothing, and the page's
Content-Security-Policy must stop any request even if escaping ever failed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import simulate
from browser import draw_every_chart, launch, new_context
from conftest import EPOCH
from helpers import run_main, soup, table_rows

pytestmark = pytest.mark.browser

HOSTILE_NAME = "<svg onload=alert(1)>.log"
HOSTILE_PATH = "</script><img src=x onerror=alert(2)>"
HOSTILE_JUNK = '"><img src=x onerror=alert(3)>.log'


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> Path:
    logs = tmp_path_factory.mktemp("logs")
    runs = simulate.simulate_sweep(arms=("vanilla", "static"), seeds=(1, 2), steps=60)
    for sim in runs:
        data = sim.data
        if sim.display_arm == "static erasure" and sim.seed == 1:
            data = data.replace(
                b"--v-hack-path=out/vhack_l14_k8.safetensors",
                f"--v-hack-path={HOSTILE_PATH}.safetensors".encode(),
            )
            assert HOSTILE_PATH.encode() in data
        name = HOSTILE_NAME if (sim.display_arm, sim.seed) == ("vanilla", 1) else sim.name
        (logs / name).write_bytes(data)
    (logs / HOSTILE_JUNK).write_text("<script>alert(4)</script> not a log\n")
    out = tmp_path_factory.mktemp("site") / "index.html"
    # The strictest policy (no 'unsafe-eval' either): the browser tests of every other
    # page draw under the default one.
    result = run_main(str(logs), "-o", str(out), "--no-png", "--strict-csp", env=EPOCH)
    assert result.returncode == 0, result.stderr
    assert HOSTILE_JUNK in result.stderr  # the unusable file is named in its warning
    return out


def test_hostile_text_is_escaped_in_the_html(hostile_report: Path) -> None:
    html = hostile_report.read_text(encoding="utf-8")
    for raw in ("<svg onload", "<img src=x", '"><img'):
        assert raw not in html
    page = soup(hostile_report)
    _, runs = table_rows(page, "runs")
    assert HOSTILE_NAME in [row[0] for row in runs]
    _, argv = table_rows(page, "argv")
    assert any(HOSTILE_PATH in row[1] for row in argv)
    assert HOSTILE_JUNK in page.find(class_="warnings").get_text()
    # Exactly the scripts the page ships: the JSON specs and dark-theme colours, the
    # bundle, the embed code.
    assert len(page.find_all("script")) == 4


def test_nothing_runs_in_chromium(hostile_report: Path) -> None:
    with launch() as browser:
        context, watch = new_context(browser)
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(hostile_report.as_uri())
        draw_every_chart(page)
        # Drawn live under the strict policy (no 'unsafe-eval'), not left as pictures.
        assert set(page.eval_on_selector_all(
            "figure.chart", "fs => fs.map(f => f.dataset.drawn)")) == {"true"}
        # Hover across the charts so tooltips (which show run names) are drawn too.
        for figure in page.query_selector_all("figure.chart canvas"):
            box = figure.bounding_box()
            for fraction in (0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
                page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 3)
                page.wait_for_timeout(30)
        injected = page.evaluate(
            """() => ({
                imgX: document.querySelectorAll('img[src="x"]').length,
                svgOnload: document.querySelectorAll('svg[onload]').length,
                onerror: document.querySelectorAll('[onerror]').length,
                scripts: document.scripts.length,
                cellText: [...document.querySelectorAll('#runs tbody th')].map(c => c.textContent),
            })"""
        )
        assert dialogs == []
        assert injected["imgX"] == injected["svgOnload"] == injected["onerror"] == 0
        assert injected["scripts"] == 4
        assert HOSTILE_NAME in injected["cellText"]
        assert watch.problems() == []
        context.close()


def test_csp_blocks_every_request_even_from_injected_code(hostile_report: Path) -> None:
    """If escaping ever failed, injected code still could not reach the network."""
    with launch() as browser:
        context, watch = new_context(browser)
        page = context.new_page()
        page.goto(hostile_report.as_uri())
        outcome = page.evaluate(
            """async () => {
                const violations = [];
                document.addEventListener('securitypolicyviolation',
                    e => violations.push(e.violatedDirective));
                let fetched = 'sent';
                try { await fetch('http://127.0.0.1:9/leak?x=1'); }
                catch (err) { fetched = 'blocked'; }
                const img = new Image(); img.src = 'http://127.0.0.1:9/pixel.png';
                document.body.appendChild(img);
                const css = document.createElement('link');
                css.rel = 'stylesheet'; css.href = 'http://127.0.0.1:9/s.css';
                document.head.appendChild(css);
                await new Promise(r => setTimeout(r, 300));
                return {fetched, violations};
            }"""
        )
        assert outcome["fetched"] == "blocked"
        assert {"connect-src", "img-src", "style-src-elem"} <= set(outcome["violations"])
        # (Chromium announces the attempts to the router, which would have aborted them
        # too; the violations above show the page's own policy refused them first.)
        context.close()


INJECTED = (
    '<script>window.injected = "script";</script>'
    '<img src="data:," onerror="window.injected = \'handler\'">'
    '<script>window.injectedEval = 1; eval("window.injected = \'eval\'");</script>'
)


def test_an_injected_script_does_not_run(hostile_report: Path, tmp_path: Path) -> None:
    """Markup that escaped escaping, added to the page after it was rendered: neither its
    inline scripts nor its event handlers run, and the page's own scripts still do.
    Without the policy the same markup runs: the injection is real."""
    html = hostile_report.read_text(encoding="utf-8").replace("</main>", INJECTED + "</main>")
    injected = tmp_path / "injected.html"
    injected.write_text(html, encoding="utf-8")
    unprotected = tmp_path / "unprotected.html"
    policy = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')
    assert policy.search(html)
    unprotected.write_text(policy.sub("", html), encoding="utf-8")
    with launch() as browser:
        context, watch = new_context(browser)
        page = context.new_page()
        page.goto(injected.as_uri())
        draw_every_chart(page)
        assert set(page.eval_on_selector_all(
            "figure.chart", "fs => fs.map(f => f.dataset.drawn)")) == {"true"}
        assert page.evaluate("[window.injected, window.injectedEval]") == [None, None]
        refused = sorted({e for e in watch.console_errors if e.startswith("CSP violation")})
        assert refused == ["CSP violation: script-src-attr inline",
                           "CSP violation: script-src-elem inline"], refused
        page.goto(unprotected.as_uri())
        page.wait_for_function("window.injected === 'handler'")
        assert page.evaluate("window.injectedEval") == 1
        context.close()
