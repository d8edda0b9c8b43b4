"""cli, end to end: the command on the shared samples and on the project's own examples.

Expected numbers come from the reference script's own functions (parse_log, _ema,
_onset), not from report's code.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import EPOCH, REFERENCE, SAMPLES, needs_samples
from helpers import ROOT, chart_specs, png_size, run_main, soup, table_rows

RUNS_HEADER = ["run", "arm", "seed", "steps", "onset step", "final hack", "final solve"]


def reference():
    spec = importlib.util.spec_from_file_location("plot_dynamics", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_rows(folder: Path) -> dict[str, list[str]]:
    """The runs table as the reference's rules compute it, formatted like the page."""
    ref = reference()
    rows = {}
    for path in sorted(folder.glob("*.log")):
        run = ref.parse_log(path)
        hack, solve = ref._ema(run["hack_s"]), ref._ema(run["gt_s"])
        onset = ref._onset(run["steps"], run["hack_s"])
        rows[path.name] = [
            path.name,
            ref.classify(run),
            run["seed"],
            str(len(run["steps"])),
            "" if onset is None else str(onset),
            f"{hack[-1]:.3f}",
            f"{solve[-1]:.3f}",
        ]
    return rows


@needs_samples
def test_converge_exit_and_stderr(converge_site) -> None:
    out, result = converge_site
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    # Each run listed as the reference logs it: display arm, seed, steps, v_hack.
    assert "vanilla          seed=1 steps=200 -" in lines
    assert "routing          seed=3 steps=200 vhack_l14_k8" in lines
    assert sum(1 for line in lines if re.search(r"seed=\d steps=200", line)) == 12
    last = lines[-1]
    assert last.startswith("wrote ") and str(out) in last and "dynamics.png" in last
    assert re.search(r"index\.html \(\d+(\.\d)? (KB|MB)\)", last)


@needs_samples
@pytest.mark.skipif(not REFERENCE.is_file(), reason="reference script not present")
def test_converge_runs_table_equals_reference(converge_site) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("loguru")
    out, result = converge_site
    assert result.returncode == 0, result.stderr
    header, body = table_rows(soup(out), "runs")
    assert header == RUNS_HEADER
    expected = expected_rows(SAMPLES / "converge")
    assert sorted(row[0] for row in body) == sorted(expected)
    for row in body:
        assert row == expected[row[0]]
    # Arm order in the table: vanilla, static erasure, online erasure, routing.
    arms = [row[1] for row in body]
    assert arms == sorted(
        arms, key=["vanilla", "static erasure", "online erasure", "routing"].index
    )


@needs_samples
def test_converge_page_is_self_contained(converge_site) -> None:
    out, _ = converge_site
    page = soup(out)
    html = out.read_text(encoding="utf-8")
    assert page.find("html").get("lang") == "en"
    assert page.title.get_text() == "Training dynamics"
    # Nothing is loaded from anywhere: no src/href to a network address, no <link>.
    for tag in page.find_all(src=True):
        assert tag["src"].startswith("data:"), tag
    for tag in page.find_all(href=True):
        assert tag["href"].startswith(("data:", "#")), tag
    assert not page.find_all("link")
    assert all(not s.get("src") for s in page.find_all("script"))
    csp = page.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    # Vega and vega-tooltip are inline, and the charts arrive compiled: Vega specs, so
    # the page needs no Vega-Lite compiler.
    assert "window.vega=" in html and "window.vegaTooltip=" in html
    assert "window.vegaEmbed=" not in html and "window.vegaLite=" not in html
    specs = chart_specs(page)
    # The reference's views, then the All-metrics section: one chart per other column
    # (routing's training-time hack_s and gt_s among them).
    extra = ["loss", "hack_s", "gt_s", "hack_t", "gt_t", "ref_eq", "dt"]
    assert set(specs) == {"grid", "overlay", "time_to_hack", "aligned",
                          *(f"metric-{m}" for m in extra)}
    figures = [f["data-chart"] for f in page.find_all("figure")]
    assert figures == ["grid", "overlay", "time_to_hack", "aligned",
                       *(f"metric-{m}" for m in extra)]
    for spec in specs.values():
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega/v")
        assert spec["marks"] and "encoding" not in spec
        assert all("url" not in data for data in spec["data"])
    # The sections a reader expects.
    assert page.find(id="description").get_text(strip=True).startswith("12 runs · 4 arms")
    assert "first step whose raw" in page.find(id="how-to-read").get_text(" ", strip=True)


@needs_samples
def test_converge_pngs(converge_site) -> None:
    out, _ = converge_site
    grid = (out.parent / "dynamics.png").read_bytes()
    overlay = (out.parent / "dynamics_hack_overlay.png").read_bytes()
    grid_w, grid_h = png_size(grid)
    overlay_w, overlay_h = png_size(overlay)
    # 2x scale of a 4-column grid and a single panel.
    assert grid_w > 1600 and grid_h > 600 and grid_w > grid_h
    assert 700 < overlay_w < grid_w and overlay_h > 400
    assert len(grid) > 50_000 and len(overlay) > 20_000


def test_examples_report(tmp_path: Path) -> None:
    """The project's own example logs, no ../shared needed."""
    out = tmp_path / "index.html"
    result = run_main(str(ROOT / "examples" / "logs"), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # -q prints nothing but errors
    header, body = table_rows(soup(out), "runs")
    assert header == RUNS_HEADER and len(body) == 12
    assert [r[0] for r in body[:3]] == [f"demo_vanilla_s{i}.log" for i in (1, 2, 3)]


def test_demo_needs_no_logs(tmp_path: Path) -> None:
    out = tmp_path / "demo" / "index.html"
    result = run_main("--demo", "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    assert out.is_file() and not (out.parent / "dynamics.png").exists()
    _, body = table_rows(soup(out), "runs")
    assert len(body) == 12
    assert {row[1] for row in body} == {"vanilla", "static erasure", "online erasure", "routing"}


def test_help_has_an_example() -> None:
    result = run_main("--help")
    assert result.returncode == 0
    assert "python -m report logs/ -o site/index.html" in result.stdout
    assert "--arm-colors" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "give LOGS"),
        (["does/not/exist.log"], 1, "does/not/exist.log: no such file or directory"),
        (["--max-points", "3", "--demo"], 2, "argument --max-points: 3 is too small"),
        (["--max-points", "many", "--demo"], 2, "argument --max-points: 'many' is not a whole"),
        (["--jobs", "0", "--demo"], 2, "argument -j/--jobs: 0 is too small"),
        (["--arm-colors", "pink", "--demo"], 2, "argument --arm-colors: invalid choice"),
        (["--no-such-flag", "--demo"], 2, "unrecognized arguments: --no-such-flag"),
        (["--onset-threshold", "1", "--demo"], 2,
         "argument --onset-threshold: 1 is outside [0, 1)"),
        (["--onset-threshold", "-0.1", "--demo"], 2, "--onset-threshold: -0.1 is outside [0, 1)"),
        (["--onset-threshold", "some", "--demo"], 2, "--onset-threshold: 'some' is not a number"),
        (["--onset-patience", "0", "--demo"], 2, "argument --onset-patience: 0 is too small"),
        (["--baseline", "control", "--demo"], 2,
         "argument --baseline: 'control' is not an arm of these logs; the arms are: vanilla, "
         "static erasure, online erasure, routing"),
        (["--group-by", "learning-rate", "--demo"], 2,
         "argument --group-by: no run has the key 'learning-rate'; the runs have: arm, seed, "
         "preset, intervention, steps, lr, batch, model, v-hack-path, vhack-refresh-every, "
         "eval-ablate-every"),
        (["--group-by", "lr,,arm", "--demo"], 2, "argument --group-by: 'lr,,arm' has an empty"),
        (["--group-by", "arm,arm", "--demo"], 2, "argument --group-by: 'arm,arm' names 'arm' "
                                                 "twice"),
        (["--group-by", "intervention", "--baseline", "remove", "--demo"], 2,
         "argument --baseline: 'remove' is not a group of these logs; the groups are: "
         "intervention=erase, intervention=none, intervention=route"),
        (["--metrics", "kl", "--demo"], 2,
         "argument --metrics: no run logged 'kl'; the metrics are: hack, solve, teacher, "
         "student, loss, hack_s, gt_s, hack_t, gt_t, ref_eq, dt"),
        (["a=examples/logs", "a=tests"], 2,
         "argument LOGS: label 'a' is given to 2 inputs; a label names one sweep"),
        (["a=examples/logs", "tests"], 2,
         "argument LOGS: label every input LABEL=PATH or none: tests has no label"),
        (["a=examples/logs", "b=examples/logs/demo_static_s1.log"], 2,
         "is in sweeps a and b: a run belongs to one sweep"),
        (["a=examples/logs", "b=tests/nothing*.log"], 1,
         "sweep 'b': tests/nothing*.log: pattern matches no files"),
        (["a=examples/logs", "b=tests"], 1, "sweep 'b': tests: directory holds no *.log"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    result = run_main(*args, "-o", str(tmp_path / "x.html"))
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.html").exists()


def test_no_usable_run(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("not a log\n")
    (tmp_path / "b.log").write_text("")
    result = run_main(str(tmp_path), "-o", str(tmp_path / "site" / "index.html"))
    assert result.returncode == 1
    assert "no usable run in 2 file(s)" in result.stderr
    assert "a.log" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "site").exists()


def test_output_is_a_directory(tmp_path: Path) -> None:
    result = run_main("--demo", "-o", str(tmp_path))
    assert result.returncode == 2
    assert "argument -o/--output" in result.stderr and "is a directory" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_main("--demo", "-o", str(tmp_path / "report.pdf"))
    assert result.returncode == 2 and "should be an .html file" in result.stderr


def test_seed_mean_matches_reference_mean_where_seeds_align() -> None:
    """Where all seeds share the step grid, the chart's seed mean is the reference's."""
    from report import load_sweep
    from report.summary import seed_means

    ref = reference() if REFERENCE.is_file() else None
    if ref is None or not SAMPLES.is_dir():
        pytest.skip("reference or samples not present")
    pytest.importorskip("matplotlib")
    sweep = load_sweep(str(SAMPLES / "converge"))
    means = seed_means(sweep.runs, sweep.series)
    runs = [ref.parse_log(p) for p in sorted((SAMPLES / "converge").glob("*routing*.log"))]
    expected = np.nanmean(np.stack([ref._ema(r["hack_s"]) for r in runs]), axis=0)
    got = means[(means.arm == "routing") & (means.metric == "hack")]["ema"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_a_run_that_never_hacks(tmp_path: Path) -> None:
    from conftest import log_text

    never = [f"{i}  0.7  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0" for i in range(5)]
    hacks = [f"{i}  0.7  {min(i, 4)}/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0" for i in range(5)]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "never.log").write_text(log_text(rows=never, preset="preset=t arm=routing seed=1"))
    (logs / "hacks.log").write_text(log_text(rows=hacks, preset="preset=t arm=routing seed=2"))
    out = tmp_path / "index.html"
    result = run_main(str(logs), "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    page = soup(out)
    _, runs = table_rows(page, "runs")
    # hacks.log: hack 0, 1/4, 2/4, 3/4, 1 -> onset step 1; EMA at the end by hand.
    ema = 0.0
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        ema = v / 3 + ema * 2 / 3
    assert runs == [
        ["never.log", "routing", "1", "5", "", "0.000", "0.250"],
        ["hacks.log", "routing", "2", "5", "1", f"{ema:.3f}", "0.250"],
    ]
    assert page.find(id="no-aligned-view") is None  # hacks.log hacked: the view is there
    _, arms = table_rows(page, "arms")
    # Two seeds, one hacked (at step 1); the other is censored at its last step (4), so
    # Kaplan-Meier has half hacking from step 1: the median; the mean onset is that one seed's.
    assert [arms[0][n] for n in (0, 1, 2, 5, 6)] == ["routing", "2", "1", "1", "1.0"]


def test_a_big_series_rides_along_only_when_asked(monkeypatch) -> None:
    from bs4 import BeautifulSoup

    from report import build, load_demo

    sweep = load_demo()
    monkeypatch.setattr(build, "SERIES_CSV_MAX_ROWS", 10)  # the demo counts as big
    built = build.build_report(sweep, build.Options(png=False))
    page = BeautifulSoup(built.html, "html.parser")
    assert page.find("a", attrs={"download": "series.csv.gz"}) is None
    assert "series.csv.gz" not in built.extras
    assert "--series writes it beside the page" in page.find(id="provenance").get_text()
    asked = build.build_report(sweep, build.Options(png=False, series=True))
    page = BeautifulSoup(asked.html, "html.parser")
    assert page.find("a", attrs={"download": "series.csv.gz"}) is not None  # small: inside


def test_the_series_goes_beside_a_page_it_would_overgrow(monkeypatch) -> None:
    from report import build, load_demo

    sweep = load_demo()
    monkeypatch.setattr(build, "PAGE_LIMIT", 100_000)
    built = build.build_report(sweep, build.Options(png=False))
    assert "download=\"series.csv.gz\"" not in built.html
    assert built.extras["series.csv.gz"][:2] == b"\x1f\x8b"
    assert "written beside it as" in built.html


def test_each_chart_is_compiled_once_and_the_page_embeds_that_spec(monkeypatch,
                                                                  tmp_path: Path) -> None:
    """Once per chart, for the page and its pictures; and not again for the same logs
    (the compiled specs are cached): the same page, byte for byte."""
    import vl_convert
    from bs4 import BeautifulSoup

    from report import build, load_demo

    monkeypatch.setenv("REPORT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    compiled: list[dict] = []
    compile_ = vl_convert.vegalite_to_vega

    def spy(spec: dict, **options: object) -> dict:
        compiled.append(compile_(spec, **options))
        return compiled[-1]

    monkeypatch.setattr(vl_convert, "vegalite_to_vega", spy)
    sweep = load_demo()
    built = build.build_report(sweep, build.Options())  # pictures too
    specs = chart_specs(BeautifulSoup(built.html, "html.parser"))
    assert len(specs) >= 3  # the demo's charts (the grid, the overlay, time to hack, ...)
    assert len(compiled) == len(specs)  # one compile per chart, for the page and its pictures
    def texts(found: list[dict]) -> list[str]:  # all but the datasets nothing reads
        return sorted(json.dumps({k: v for k, v in spec.items() if k != "data"},
                                 sort_keys=True) for spec in found)

    assert texts(list(specs.values())) == texts(compiled)  # the very specs compiled
    every = [json.dumps(d, sort_keys=True) for spec in compiled for d in spec["data"]]
    assert all(json.dumps(d, sort_keys=True) in every
               for spec in specs.values() for d in spec["data"])
    again = build.build_report(sweep, build.Options())
    assert len(compiled) == len(specs)  # nothing compiled again
    assert again.html == built.html


def test_the_library_and_the_command_give_the_same_page(tmp_path: Path) -> None:
    from report import build, load_sweep

    logs = ROOT / "examples" / "logs"
    out = tmp_path / "index.html"
    result = run_main(str(logs), "-o", str(out), "--title", "Same", env=EPOCH)
    assert result.returncode == 0, result.stderr
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH["SOURCE_DATE_EPOCH"]
    try:
        built = build.build_report(load_sweep([str(logs)]), build.Options(title="Same"))
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    assert built.html.encode("utf-8") == out.read_bytes()
    assert built.extras["dynamics.png"] == (tmp_path / "dynamics.png").read_bytes()


def test_demo_reads_the_packaged_examples(tmp_path: Path) -> None:
    """--demo is the example logs (no simulator): the same runs and numbers."""
    demo, logs = tmp_path / "demo" / "index.html", tmp_path / "logs" / "index.html"
    assert run_main("--demo", "-o", str(demo), "--no-png").returncode == 0
    assert run_main(str(ROOT / "examples" / "logs"), "-o", str(logs), "--no-png").returncode == 0
    for table in ("runs", "arms"):
        assert table_rows(soup(demo), table) == table_rows(soup(logs), table)
    _, files = table_rows(soup(demo), "files")
    assert [row[0] for row in files] == [
        f"examples/{p.name}" for p in sorted((ROOT / "examples" / "logs").glob("*.log"))
    ]


def test_onset_rule_flags_change_the_onsets_and_the_page_says_so(tmp_path: Path) -> None:
    from conftest import log_text

    # hack: 0, 1/4, 0, 2/4, 3/4, 3/4, 0 -> the reference's onset is step 1; above 0.3 for
    # two measured steps in a row first holds from step 3 (2/4 = 0.5, then 3/4).
    cells = ["0/4", "1/4", "0/4", "2/4", "3/4", "3/4", "0/4"]
    rows = [f"{i}  0.7  {c}  1/4  0/4  1/4  +0.300  +0.050  T  1.0" for i, c in enumerate(cells)]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text(log_text(rows=rows))
    default, sturdy = tmp_path / "default.html", tmp_path / "sturdy.html"
    assert run_main(str(logs), "-o", str(default), "--no-png").returncode == 0
    result = run_main(str(logs), "-o", str(sturdy), "--no-png", "--onset-threshold", "0.3",
                      "--onset-patience", "2")
    assert result.returncode == 0, result.stderr
    assert table_rows(soup(default), "runs")[1][0][4] == "1"
    assert table_rows(soup(sturdy), "runs")[1][0][4] == "3"
    how = soup(sturdy).find(id="how-to-read").get_text(" ", strip=True)
    assert "stays above 0.3 for 2 consecutive measured steps" in how
    assert "--onset-threshold 0.3 --onset-patience 2" in how
    assert "the reference's rule" in soup(default).find(id="how-to-read").get_text(" ", strip=True)


def test_baseline_flag_picks_the_arm_compared_with(tmp_path: Path) -> None:
    out = tmp_path / "index.html"
    result = run_main("--demo", "-o", str(out), "--no-png", "--baseline", "routing")
    assert result.returncode == 0, result.stderr
    _, body = table_rows(soup(out), "comparisons")
    assert {row[0] for row in body} == {"vanilla", "static erasure", "online erasure"}
    header, _ = table_rows(soup(out), "comparisons")
    assert header[2] == "difference (arm − routing)"


def _controls(text: str) -> set[str]:
    """The control, bidi and surrogate characters in `text`, line breaks aside."""
    return {c for c in text if c != "\n" and not c.isprintable() and c != "\t"}


def test_names_and_fields_in_any_bytes(tmp_path: Path) -> None:
    """File names that are not UTF-8, that hold terminal escapes or bidi controls, and
    fields with C1 controls: one readable name each, on the terminal, in the page and in
    its CSVs; nothing there can clear a screen, fake a line or reorder text."""
    import base64
    import gzip

    from conftest import log_text

    logs = os.fsencode(tmp_path / "logs")
    os.mkdir(logs)
    hostile_vhack = "--v-hack-path=out/v\u009b2J\u202e.safetensors"
    files = {
        b"caf\xe9.log": log_text(preset="preset=t arm=vanilla seed=1"),
        "evil\u202egol.log".encode(): log_text(preset="preset=t arm=vanilla seed=2"),
        b"\x1b[2J\x1b[Hwrote.log": log_text(
            preset="preset=t arm=projected seed=3", argv=f"train.py {hostile_vhack}"
        ),
        b"\xff\x1b]0;title\x07.log": "not a log\n",
    }
    for name, text in files.items():
        with open(os.path.join(logs, name), "wb") as fh:
            fh.write(text.encode())
    out = tmp_path / "site" / "index.html"
    result = run_main(os.fsdecode(logs), "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    assert _controls(result.stderr) == set(), result.stderr
    shown_names = ["caf\\xe9.log", "evil\\u202egol.log", "\\x1b[2J\\x1b[Hwrote.log"]
    assert "\\xff\\x1b]0;title\\x07.log: no argv line" in result.stderr
    assert "v\\x9b2J\\u202e" in result.stderr  # the run's v_hack, as it is listed
    html = out.read_text(encoding="utf-8")
    assert _controls(html.replace("\r", "")) == set()
    page = soup(out)
    _, runs = table_rows(page, "runs")
    assert sorted(row[0] for row in runs) == sorted(shown_names)
    # Each name is isolated from the text around it.
    for table in ("runs", "argv", "files"):
        cells = page.find("table", id=table).find("tbody").find_all("th")
        assert all(cell.find("bdi") is not None for cell in cells), table
    for link in page.find_all("a", attrs={"download": True}):
        data = base64.b64decode(link["href"].split(",", 1)[1])
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
        assert _controls(text) == set(), link["download"]
        per_arm = ("arms.csv", "comparisons.csv")  # no run names in these
        assert link["download"] in per_arm or "caf\\xe9.log" in text, link["download"]


def test_a_glob_that_matches_nothing_beside_logs(tmp_path: Path) -> None:
    logs = ROOT / "examples" / "logs"
    out = tmp_path / "site" / "index.html"
    nothing = str(tmp_path / "*.nothing")
    result = run_main(str(logs), nothing, "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    assert f"report: warning: {nothing}: pattern matches no files" in result.stderr
    strict = run_main(str(logs), nothing, "-o", str(tmp_path / "strict" / "index.html"),
                      "--strict")
    assert strict.returncode == 1, strict.stderr
    assert "--strict: 1 warning; nothing written" in strict.stderr
    assert not (tmp_path / "strict").exists()


def test_csv_cells_a_spreadsheet_would_run_are_neutralised() -> None:
    """OWASP's CSV injection advice, in every CSV: text cells that start with = + - @,
    a tab or a CR get a leading apostrophe; numbers, negative ones too, stay numbers."""
    import pandas as pd

    from report.build import _csv_bytes

    frame = pd.DataFrame({
        "run": pd.Categorical(["=1+1.log", "ok.log", "=1+1.log"]),
        "path": ["@SUM(A1).log", "-2+3", "'=x"],
        "argv": ["\t=cmd", "+SUM(1)", "+0.5"],
        "value": [-0.25, 1.0, float("nan")],
    })
    assert _csv_bytes(frame).decode() == (
        "run,path,argv,value\n"
        "'=1+1.log,'@SUM(A1).log,'\t=cmd,-0.25\n"
        "ok.log,'-2+3,'+SUM(1),1.0\n"
        "'=1+1.log,'=x,+0.5,\n"
    )
    assert frame["run"].iloc[0] == "=1+1.log"  # the caller's table is left alone


def test_the_pages_csvs_are_neutralised(tmp_path: Path) -> None:
    import base64
    import gzip

    from conftest import log_text

    logs = tmp_path / "logs"
    logs.mkdir()
    argv = "train.py --v-hack-path=out/@SUM(1+1).safetensors --seed=1"
    (logs / "=HYPERLINK(x).log").write_text(log_text(argv=argv))
    out = tmp_path / "index.html"
    assert run_main(str(logs), "-o", str(out), "--no-png").returncode == 0
    texts = {}
    for link in soup(out).find_all("a", attrs={"download": True}):
        data = base64.b64decode(link["href"].split(",", 1)[1])
        texts[link["download"]] = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    assert set(texts) == {"runs.csv", "arms.csv", "comparisons.csv", "series.csv.gz"}
    assert b"\n'=HYPERLINK(x).log," in texts["runs.csv"]
    assert b",'@SUM(1+1)," in texts["runs.csv"]
    assert b"\n'=HYPERLINK(x).log,0,hack," in texts["series.csv.gz"]
    for text in texts.values():
        assert b"\n=" not in text and b",=" not in text and b",@" not in text


def test_quiet_silences_what_libraries_print(tmp_path: Path, monkeypatch) -> None:
    """-q prints nothing but errors: not a library's Python warning, nor its log records
    (which logging's last-resort handler prints when nothing else is set up)."""
    import logging
    import warnings

    from report import build

    prepare_report = build.prepare_report

    def noisy(*args, **kwargs):
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=1)
        logging.getLogger("somelibrary").warning("a library's own remark")
        return prepare_report(*args, **kwargs)

    monkeypatch.setattr(build, "prepare_report", noisy)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as outside pytest
    logs = str(ROOT / "examples" / "logs")
    seen = {}
    for flags in (["-q"], []):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run_main(logs, "-o", str(tmp_path / "q" / "index.html"), "--no-png", *flags)
        assert result.returncode == 0, result.stderr
        seen[" ".join(flags)] = (result.stderr, [str(w.message) for w in caught])
    assert seen["-q"] == ("", [])
    assert "a library's own remark" in seen[""][0] and seen[""][1] == ["Mean of empty slice"]
    assert logging.getLogger().level == logging.WARNING  # as it was before -q


def test_without_an_onset_the_page_says_why_there_is_no_aligned_view(tmp_path: Path) -> None:
    from conftest import log_text

    logs = tmp_path / "logs"
    logs.mkdir()
    never = [f"{i}  0.7  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0" for i in range(5)]
    (logs / "never.log").write_text(log_text(rows=never))
    out = tmp_path / "index.html"
    assert run_main(str(logs), "-o", str(out), "--no-png").returncode == 0
    page = soup(out)
    assert [f["data-chart"] for f in page.find_all("figure")] == [
        "grid", "overlay", "time_to_hack",
        *(f"metric-{m}" for m in ("loss", "hack_t", "gt_t", "ref_eq", "dt"))]
    assert page.find(id="no-aligned-view").get_text(strip=True).startswith("No seed hacked")
    _, arms = table_rows(page, "arms")
    assert arms[0][2] == "0" and arms[0][5] == ""  # nobody hacked: no median onset


def test_a_sweep_without_a_usable_run_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.log").write_text("not a log\n")
    result = run_main(f"before={ROOT / 'examples' / 'logs'}", f"after={tmp_path / 'junk'}",
                      "-o", str(tmp_path / "x.html"))
    assert result.returncode == 1, result.stderr
    assert "sweep 'after' has no usable run in 1 file(s):" in result.stderr
    assert "a.log: no argv line" in result.stderr and "Traceback" not in result.stderr


def test_a_metric_column_of_text_is_one_warning(tmp_path: Path) -> None:
    from conftest import log_text

    header = "step  loss  hack_s↑  gt_s↑  cos_pre_t  cos_pre_s  ref_eq  phase"
    rows = [f"{i}  0.7  {min(i, 2)}/4  1/4  +0.300  +0.050  T  warmup" for i in range(4)]
    (tmp_path / "a.log").write_text(log_text(header=header, rows=rows))
    out = tmp_path / "site" / "index.html"
    result = run_main(str(tmp_path / "a.log"), "-o", str(out), "--no-png")
    assert result.returncode == 0, result.stderr
    assert "column phase holds text, not numbers (warmup); not read as a metric" in result.stderr
    figures = [f["data-chart"] for f in soup(out).find(id="metrics-section").find_all("figure")]
    assert figures == ["metric-loss", "metric-ref_eq"]
    strict = run_main(str(tmp_path / "a.log"), "-o", str(out), "--strict")
    assert strict.returncode == 1 and "--strict: 1 warning" in strict.stderr


def test_the_process_entry_freezes_what_is_left(monkeypatch, capsys) -> None:
    """`python -m report` and the `report` command exit through `entry`: `main`'s exit
    code, with every object then frozen, so the interpreter's exit does not walk them all
    (BENCHMARKS.md measures what that saves)."""
    import gc

    from report import __version__, cli

    monkeypatch.setattr("sys.argv", ["report", "--version"])
    assert gc.get_freeze_count() == 0
    try:
        assert cli.entry() == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert capsys.readouterr().out.strip() == f"report {__version__}"
