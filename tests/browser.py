"""Real headless Chromium for the browser tests: Debian's, driven by playwright, offline.

Never a downloaded browser: playwright launches /usr/bin/chromium by path. Every
request that is not for the page itself (file:, data:, blob:, about:) is aborted and
recorded, and so are console errors and uncaught page errors, so a test can assert
there were none. Without the browser a test skips locally and fails in CI
(REPORT_REQUIRE_BROWSER=1, set by .ci/run, or CI=true).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Quiet, hermetic Chromium: no GPU, no background fetches (updates, sync, safe browsing
# lists, QUIC probes), nothing it would phone home for on a first run.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# Chromium prints what the page's Content-Security-Policy refuses (an eval, a script, a
# request) in a message playwright's console events do not carry: each page says it as a
# console error of its own, so that every test that checks for none sees it.
REPORT_CSP_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (event) =>
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));"""


def browser_required() -> bool:
    """In CI a missing browser is a failure, not a skip."""
    return os.environ.get("REPORT_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true"


def require_chromium() -> None:
    """Skip (locally) or fail (in CI) when Debian's chromium or playwright is missing."""
    problem = ""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problem = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed"
    if not problem:
        return
    if browser_required():
        pytest.fail(f"browser tests need Chromium: {problem}", pytrace=False)
    pytest.skip(problem)


@dataclass
class Watch:
    """What a page did that an offline report must never do."""

    blocked: list[str] = field(default_factory=list)  # aborted non-local requests
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"request: {url}" for url in self.blocked]
            + [f"console: {text}" for text in self.console_errors]
            + [f"pageerror: {text}" for text in self.page_errors]
        )


@contextmanager
def launch() -> Iterator[object]:
    """A headless Chromium (playwright `Browser`) with a throwaway HOME and profile.

    The temporary folder holds HOME, XDG dirs and Chromium's crash/cache files, and is
    deleted on exit, so a test run leaves nothing behind.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="report-chromium-") as home:
        env = {
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "TMPDIR": home,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[*CHROMIUM_ARGS, f"--crash-dumps-dir={home}"],
                env=env,
                headless=True,
            )
            try:
                yield browser
            finally:
                browser.close()


def new_context(
    browser: object,
    *,
    javascript: bool = True,
    init_script: str | None = None,
    width: int = 1280,
    height: int = 900,
) -> tuple[object, Watch]:
    """A fresh context whose pages may load only local URLs; returns it and its Watch."""
    watch = Watch()
    context = browser.new_context(  # type: ignore[attr-defined]
        java_script_enabled=javascript,
        viewport={"width": width, "height": height},
        service_workers="block",
        locale="en-US",
        timezone_id="UTC",
    )

    def route(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()  # type: ignore[attr-defined]
        else:
            watch.blocked.append(url)
            route.abort()  # type: ignore[attr-defined]

    def on_request(request: object) -> None:
        # Belt and braces: a request the router never saw is still recorded.
        url = request.url  # type: ignore[attr-defined]
        if not url.startswith(LOCAL_SCHEMES) and url not in watch.blocked:
            watch.blocked.append(url)

    def on_console(message: object) -> None:
        if message.type == "error":  # type: ignore[attr-defined]
            watch.console_errors.append(message.text)  # type: ignore[attr-defined]

    def on_page(page: object) -> None:
        page.on("console", on_console)  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: watch.page_errors.append(str(error)))  # type: ignore[attr-defined]

    context.route("**/*", route)
    context.on("request", on_request)
    context.on("page", on_page)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    if init_script:
        context.add_init_script(init_script)
    return context, watch


# Every figure.chart drawn (or failed to draw).
ALL_DRAWN = "[...document.querySelectorAll('figure.chart')].every(f => f.dataset.drawn)"


def draw_every_chart(page: object, timeout_ms: float = 30_000) -> None:
    """Scrolls each chart into view in turn, waiting until it is drawn, then back to the
    top: the page (templates/_embed.js) draws a chart only once it comes near the view."""
    for figure in page.locator("figure.chart").all():  # type: ignore[attr-defined]
        figure.evaluate("f => f.scrollIntoView({block: 'center'})")
        page.wait_for_function(  # type: ignore[attr-defined]
            "f => f.hasAttribute('data-drawn')", arg=figure.element_handle(), timeout=timeout_ms)
    page.wait_for_function(ALL_DRAWN, timeout=timeout_ms)  # type: ignore[attr-defined]
    page.evaluate("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
