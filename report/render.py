"""Charts and tables -> one self-contained HTML page (Jinja2, the top-level `templates/`).

Log contents are attacker-controlled as far as the page is concerned: everything from a
log reaches HTML through autoescaping and reaches JavaScript only as `|tojson` inside a
`<script type="application/json">` block. A Content-Security-Policy forbids every
network request and runs only the page's own scripts (by their hashes), so even a future
escaping bug can neither run a script nor leak data from an emailed report.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import PIL.Image

from report.charts import POINTER_PARAM

# Scripts run only if they are the page's own: each inline script is allowed by the hash
# of its text, so markup that ever escaped autoescaping cannot run a script of its own
# (nor an event handler: no 'unsafe-hashes'). Vega compiles its expressions with
# `new Function` ('unsafe-eval'), unless the page is made with --strict-csp: then it
# evaluates them with vega-interpreter, several times slower (BENCHMARKS.md). The page and
# vega-tooltip inject styles; nothing may be fetched, framed, submitted or connected to.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src {script_hashes}{eval}; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; "
    "frame-src 'none'; worker-src 'none'; object-src 'none'; media-src 'none'; "
    "manifest-src 'none'; form-action 'none'; base-uri 'none'"
)


def content_security_policy(scripts: list[str], strict: bool = False) -> str:
    """The page's policy, allowing exactly `scripts` (the texts of its inline scripts),
    and `eval` unless `strict`."""
    hashes = " ".join(f"'{script_hash(text)}'" for text in dict.fromkeys(scripts))
    return CONTENT_SECURITY_POLICY.format(script_hashes=hashes or "'none'",
                                          eval="" if strict else " 'unsafe-eval'")


def script_hash(text: str) -> str:
    """A CSP source for an inline script: `sha256-` and the base64 SHA-256 of its text as
    the browser reads it (UTF-8)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def templates_dir() -> Path:
    """`report/templates` inside an installed wheel, else the checkout's `templates/`."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "index.html").is_file():
            return candidate
    msg = f"report's templates are missing (looked in {here / 'templates'})"
    raise FileNotFoundError(msg)


@cache
def make_env() -> jinja2.Environment:
    """The one Jinja2 environment: autoescape on, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Compact, key-sorted JSON: smaller pages and byte-identical output for equal input.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
    env.filters["fixed"] = fixed
    env.filters["blank"] = blank
    env.filters["pvalue"] = pvalue
    return env


def blank(value: Any) -> Any:
    """Missing values (None, pandas NA, NaN) show as an empty cell."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    return value


def pvalue(value: Any) -> str:
    """A p-value as papers print it: 0.079, 0.003, < 0.001; missing -> empty."""
    text = fixed(value, 3)
    if text and float(value) < 0.001:
        return "< 0.001"
    return text


def fixed(value: Any, digits: int = 3) -> str:
    """A number with `digits` decimals; missing (None/NaN) -> empty."""
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    if number != number:  # NaN
        return ""
    return f"{number:.{digits}f}"


@dataclass
class ChartBlock:
    """One chart on the page: its spec for the browser and its static picture. What the
    page says about it (title, caption, alt text) lives in the templates, by `key`."""

    key: str  # element id and file stem: "grid" or "overlay"
    spec: dict[str, Any]
    png: bytes  # shown when JavaScript is off, replaced by the live chart when it runs
    png_scale: float = 1.0  # device pixels per CSS pixel of `png`
    metric: str = ""  # an All-metrics chart: the metric it draws ("" for the others)
    # (runs whose seed lines are drawn, runs with lines) when the chart draws only some
    # (charts.MAX_SEED_LINES); None when it draws every run's
    seed_lines: tuple[int, int] | None = None

    @property
    def png_data_uri(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return "data:image/png;base64," + data

    @property
    def css_size(self) -> tuple[int, int]:
        """(width, height) the picture takes on the page, so nothing moves while it loads."""
        try:
            width, height = PIL.Image.open(io.BytesIO(self.png)).size
        except (OSError, ValueError):
            return (0, 0)
        return (round(width / self.png_scale), round(height / self.png_scale))


@dataclass
class Download:
    """A file the page itself hands out (data embedded, `download=` attribute)."""

    filename: str
    label: str
    media_type: str
    data: bytes
    note: str = ""

    @property
    def data_uri(self) -> str:
        return f"data:{self.media_type};base64," + base64.b64encode(self.data).decode("ascii")

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Page:
    """Everything the template shows; built in memory before anything is written."""

    title: str
    sweep: dict[str, Any]  # runs, arms, seeds, min_steps, max_steps: the one-line description
    charts: list[ChartBlock]
    runs: list[dict[str, Any]]
    arms: list[dict[str, Any]]
    files: list[dict[str, Any]]
    argvs: list[tuple[str, str]]  # (run, argv) in table order
    versions: dict[str, str]
    generated: str
    warnings: list[str]
    downloads: list[Download]
    javascript: str
    ema_span: int = 5
    max_points: int = 1000  # display budget per line ...
    longest_line: int = 0  # ... and the longest line's steps: the page says when it thins
    series_beside: str = ""  # file name of the full series written beside the page, if any
    series_omitted: bool = False  # too big to embed, and not asked for beside the page
    refresh_seconds: int = 0  # written by `--watch`: reload every N seconds (0: never)
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # summary.comparisons
    baseline: str = ""  # the arm the comparisons are against
    onset_rule: dict[str, Any] = field(  # threshold, patience, reference (the default rule)
        default_factory=lambda: {"threshold": 0.0, "patience": 1, "reference": True})
    align_window: int = 0  # steps either side of the onset in the onset-aligned view
    # Groups: what the page calls them (`arm`, or `group` for other --group-by keys), the
    # keys, the sweeps' labels (LABEL=PATH inputs), the extra metrics without a chart
    # (no value logged), and whether each group has its own baseline (paired keys).
    group_word: str = "arm"
    group_by: list[str] = field(default_factory=lambda: ["arm"])
    sweeps: list[str] = field(default_factory=list)
    metrics_without_values: list[str] = field(default_factory=list)
    metric_groups: dict[str, list[str]] = field(default_factory=dict)  # metric -> who logged it
    paired_baselines: bool = False
    # The charts' colours on a dark page (build.dark_colors): light colour -> dark one.
    dark_colors: dict[str, str] = field(default_factory=dict)
    # No 'unsafe-eval' in the policy: Vega interprets its expressions (--strict-csp).
    strict_csp: bool = False
    # rows of the per-run and per-file tables (`runs`, `files`, `argvs` may list only the
    # first build.TABLE_ROWS), and the provenance tables' downloads when they are cut
    counts: dict[str, int] = field(default_factory=dict)
    provenance_downloads: list[Download] = field(default_factory=list)


def render_page(page: Page) -> str:
    """The whole report as one HTML string."""
    env = make_env()
    specs = {chart.key: chart.spec for chart in page.charts}
    theme = {"dark": page.dark_colors, "strict": page.strict_csp, "pointed": POINTER_PARAM}
    # The page's scripts, in order: Vega's bundle, then the code that draws the charts.
    # Their exact texts are hashed into the policy, so they are rendered first.
    scripts = [
        inline_script(page.javascript),
        inline_script(env.get_template("_embed.js").render(page=page, specs=specs)),
    ]
    return env.get_template("index.html").render(
        page=page, specs=specs, theme=theme, scripts=scripts,
        csp=content_security_policy(scripts, strict=page.strict_csp),
    )


def inline_script(javascript: str) -> str:
    """`javascript` as the text of a <script> element, exactly as the browser will read
    it back (and hash it): a "</script" cannot end the element early, and line breaks are
    the parser's own (it reads CR LF and CR as LF)."""
    text = re.sub(r"</(script)", r"<\\/\1", javascript, flags=re.IGNORECASE)
    return text.replace("\r\n", "\n").replace("\r", "\n")
