"""render: autoescaping, data only through |tojson, the CSP, the template's parts."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from bs4 import BeautifulSoup

from report.render import (
    ChartBlock,
    Download,
    Page,
    fixed,
    inline_script,
    make_env,
    pvalue,
    render_page,
    script_hash,
)

# A 1x1 PNG, written out by hand (signature, IHDR, IDAT, IEND).
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a3f1b8ac0000000049454e44ae426082"
)
EVIL = "</script><script>alert(1)</script>&<b>"


def page(**changes) -> Page:
    chart = ChartBlock(key="grid", spec={"marks": [], "title": EVIL}, png=PIXEL)
    values = dict(
        title=f"Sweep {EVIL}",
        sweep={"runs": 1, "arms": [EVIL], "seeds": [1], "min_steps": 3, "max_steps": 3},
        charts=[chart],
        runs=[
            {
                "run": EVIL,
                "arm": "vanilla",
                "seed": 1,
                "steps": 3,
                "onset_step": None,
                "final_hack": 0.12345,
                "final_solve": float("nan"),
            }
        ],
        arms=[{"arm": EVIL, "seeds": 1, "hacked": 0, "runs": 1, "onset_mean": float("nan"),
               "onset_sd": float("nan"), "never_hacked": 1, "median_onset_km": float("nan"),
               "final_hack_mean": 0.5, "final_hack_sd": float("nan"),
               "final_hack_ci_low": float("nan"), "final_hack_ci_high": float("nan"),
               "final_solve_mean": 0.25, "final_solve_sd": float("nan"),
               "final_solve_ci_low": float("nan"), "final_solve_ci_high": float("nan")}],
        comparisons=[{"arm": EVIL, "baseline": "vanilla", "metric": "final_hack", "diff": 0.1,
                      "ci_low": -0.2, "ci_high": 0.4, "p": 0.5, "p_holm": 1.0, "seeds": 2,
                      "baseline_seeds": 2, "note": ""}],
        baseline="vanilla",
        files=[{"path": EVIL, "size": 1234, "sha256": "ab" * 32}],
        argvs=[(EVIL, f"argv: {EVIL}")],
        versions={"report": "0.1.0", "altair": "6"},
        generated="2025-11-24 16:00:00 UTC",
        warnings=[f"{EVIL}: empty file"],
        downloads=[Download("runs.csv", "runs", "text/csv", b"run\nx\n")],
        javascript="window.vega = {}; // </script> inside the bundle",
    )
    values.update(changes)
    return Page(**values)


def test_everything_from_a_log_is_escaped() -> None:
    html = render_page(page())
    document = BeautifulSoup(html, "html.parser")
    # Only the four scripts the page ships (two of them JSON: the specs, the dark
    # theme's colours); the evil strings never open a tag.
    assert len(document.find_all("script")) == 4
    assert "<script>alert(1)" not in html and "<b>" not in html
    assert document.find("table", id="runs").find("tbody").th.get_text() == EVIL
    assert document.find("table", id="comparisons").find("tbody").th.get_text() == EVIL
    assert EVIL in document.find(class_="warnings").get_text()
    assert document.title.get_text() == f"Sweep {EVIL}"


def test_chart_specs_reach_javascript_only_as_escaped_json() -> None:
    html = render_page(page())
    block = re.search(
        r'<script type="application/json" id="chart-specs">(.*?)</script>', html, flags=re.S
    ).group(1)
    assert "<" not in block and ">" not in block and "&" not in block  # \u003c etc.
    assert json.loads(block) == {"grid": {"marks": [], "title": EVIL}}
    # A "</script" inside the bundle cannot close its script element either.
    assert "// <\\/script> inside the bundle" in html


@pytest.mark.parametrize("strict", [False, True])
def test_csp_forbids_the_network_and_every_script_but_the_pages_own(strict: bool) -> None:
    document = BeautifulSoup(render_page(page(strict_csp=strict)), "html.parser")
    csp = document.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'none'"
    assert directives["img-src"] == "data: blob:"
    # script-src: the SHA-256 of each inline script's text as the page holds it, and
    # 'unsafe-eval' unless strict; nothing else ('unsafe-inline', 'unsafe-hashes', a host).
    inline = [s for s in document.find_all("script") if s.get("type") != "application/json"]
    assert len(inline) == 2
    expected = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.string.encode()).digest()).decode() + "'"
        for s in inline
    }
    assert set(directives["script-src"].split()) == expected | (
        set() if strict else {"'unsafe-eval'"})
    # The hashed texts are the bundle (its "</script" escaped) and the embed code, which
    # interprets Vega's expressions when the policy forbids eval.
    assert inline[0].string == "window.vega = {}; // <\\/script> inside the bundle"
    assert "vega.expressionInterpreter" in inline[1].string
    theme = json.loads(document.find("script", id="chart-theme").string)
    assert theme["strict"] is strict


def test_script_texts_are_read_back_as_hashed() -> None:
    """The parser reads CR LF and CR as LF and ends a script at any-case "</script": the
    text the page holds is the one hashed."""
    assert inline_script("a\r\nb\rc</SCRIPT>d</script>") == "a\nb\nc<\\/SCRIPT>d<\\/script>"
    # SHA-256 of nothing: e3b0c442...7852b855 in hex, this in base64.
    assert script_hash("") == "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_numbers_formatting() -> None:
    document = BeautifulSoup(render_page(page()), "html.parser")
    cells = [td.get_text() for td in document.find("table", id="runs").find("tbody").find_all("td")]
    assert cells == ["vanilla", "1", "3", "", "0.123", ""]  # no onset, NaN -> empty
    assert fixed(0.0005, 3) == "0.001" or fixed(0.0005, 3) == "0.000"  # float rounding
    assert fixed(None) == "" and fixed("x") == "" and fixed(2, 1) == "2.0"
    assert [pvalue(p) for p in (0.07939, 0.0012, 0.00099, 4.17e-5, float("nan"), None)] == [
        "0.079", "0.001", "< 0.001", "< 0.001", "", ""]
    row = document.find("table", id="comparisons").find("tbody").find_all("td")
    assert [td.get_text() for td in row] == ["final hack", "+0.100", "[-0.200, +0.400]", "0.500",
                                             "1.000"]


def test_picture_and_download_are_inline() -> None:
    document = BeautifulSoup(render_page(page()), "html.parser")
    img = document.find("img", class_="static")
    assert img["src"].startswith("data:image/png;base64,")
    # The alt text is the template's sentence, with the log's arm name escaped into it.
    assert img["alt"].startswith("Small multiples, one column per arm (" + EVIL + ")")
    assert img["alt"].endswith(f"Mean hack onset: {EVIL} never.")
    assert (img["width"], img["height"]) == ("1", "1")
    link = document.find("a", attrs={"download": "runs.csv"})
    assert link["href"] == "data:text/csv;base64,cnVuCngK"


def test_environment_is_strict_and_autoescaping() -> None:
    env = make_env()
    assert env.autoescape is True
    import jinja2
    import pytest

    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()
