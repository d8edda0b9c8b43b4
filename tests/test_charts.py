"""report.charts: the grid and overlay specs say what the reference's figures say.

Expected numbers are computed here from the raw log text or from small hand-made tables,
never through report.summary or report.charts, so a wrong helper cannot agree with itself.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import vl_convert
from conftest import SAMPLES, needs_samples

import report
from report import charts, export
from report.picture_spec import picture_spec

RED, GREEN, BLUE, AMBER = "#c1432b", "#2f7d4f", "#33508c", "#c98a2b"
ARMS4 = ["vanilla", "static erasure", "online erasure", "routing"]


# --- helpers: read the logs and the specs without report's code --------------------


def raw_columns(path: Path) -> dict[str, list[float | None]]:
    """The sample's metric table by header name: k/n -> float, markers -> None."""
    columns: dict[str, list[float | None]] = {}
    names: list[str] = []
    for line in path.read_text().splitlines():
        message = line.split("| INFO |", 1)[1].split() if "| INFO |" in line else []
        tokens = [m.group(0) if (m := re.match(r"[A-Za-z_]+", t)) else t for t in message]
        if not names and "hack_s" in tokens and "ref_eq" in tokens:
            names = tokens
            columns = {n: [] for n in names}
        elif names and message and message[0].isdigit() and len(message) >= len(names):
            for name, token in zip(names, message, strict=False):
                if "/" in token:
                    k, n = token.split("/")
                    columns[name].append(int(k) / int(n) if int(n) else None)
                elif token in ("T", "F", "-", "nan"):
                    columns[name].append(None)
                else:
                    columns[name].append(float(token))
    return columns


def hand_onset(path: Path) -> int | None:
    cols = raw_columns(path)
    hack = cols["hack_abl"] if "routing" in path.name else cols["hack_s"]
    return next((int(s) for s, h in zip(cols["step"], hack, strict=True) if h and h > 0), None)


def datasets(spec: dict) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(io.StringIO(text)) for name, text in spec["datasets"].items()}


def row_data(spec: dict, row: str) -> pd.DataFrame:
    """The grid row's (rates/cos) chart table."""
    facet = next(v for v in spec["vconcat"] if v["name"] == row)
    # Altair hoists data that every view shares to the top level.
    return datasets(spec)[facet.get("data", spec.get("data"))["name"]]


def layers(spec: dict) -> dict[str, dict]:
    found: dict[str, dict] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "mark" in node and "name" in node:
                found[node["name"]] = node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


def lookup_array(spec: dict, field: str) -> list:
    """The names a code stands for, read back from the tooltip expression for `field`."""
    for layer in layers(spec).values():
        for step in layer.get("transform", []):
            if step.get("as") == field:
                return json.loads(re.search(r"(\[.*\])\[datum\.\w+\]", step["calculate"]).group(1))
    raise AssertionError(field)


def header_labels(spec: dict) -> list[list[str]]:
    expr = spec["vconcat"][0]["facet"]["column"]["header"]["labelExpr"]
    return json.loads(expr.removesuffix("[datum.value]"))


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def converge():
    return report.load_sweep([str(SAMPLES / "converge")])


@pytest.fixture(scope="module")
def grid_spec(converge):
    return charts.grid_chart(converge.runs, converge.series).to_dict()


@pytest.fixture(scope="module")
def overlay_spec(converge):
    return charts.overlay_chart(converge.runs, converge.series).to_dict()


def hand_tables(lines: dict[tuple[str, str, int], dict[str, list[float]]]):
    """runs/series from {(run, arm, seed): {metric: values}}; ema = value (clear by hand)."""
    runs, parts = [], []
    for (run, arm, seed), metrics in lines.items():
        n = max(len(v) for v in metrics.values())
        runs.append({"run": run, "path": run, "preset_arm": arm, "arm": arm, "seed": seed,
                     "v_hack": "-", "refresh": 0, "steps": n, "argv": "", "missing": ""})
        for metric, values in metrics.items():
            parts.append(pd.DataFrame({"run": run, "step": np.arange(len(values)),
                                       "metric": metric, "value": values, "ema": values}))
    runs_df = pd.DataFrame(runs)
    runs_df["seed"] = runs_df["seed"].astype("Int64")
    return runs_df, pd.concat(parts, ignore_index=True)


# --- arms and colours ---------------------------------------------------------------


def test_arm_order_known_arms_first_then_the_rest_by_name():
    arms = ["zeta", "routing", "vanilla", "confessions", "online erasure", "vanilla"]
    assert charts.arm_order(arms) == ["vanilla", "online erasure", "routing", "confessions", "zeta"]


def test_fixed_colours_keep_the_reference_and_give_new_arms_their_own():
    arms = ["routing", "vanilla", "static erasure", "online erasure", "confessions", "zeta"]
    colors = charts.arm_colors(arms)
    assert list(colors) == ["vanilla", "static erasure", "online erasure", "routing",
                            "confessions", "zeta"]
    assert [colors[a] for a in ARMS4] == ["#7a7a7a", AMBER, BLUE, GREEN]
    new = [colors["confessions"], colors["zeta"]]
    assert len(set(new)) == 2
    assert not {c.lower() for c in new} & {"#7a7a7a", AMBER, BLUE, GREEN, RED}
    assert charts.arm_colors(reversed(arms)) == colors  # stable, whatever the input order


def _luminance(color: str) -> float:
    rgb = [int(color[k : k + 2], 16) / 255 for k in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_rank_colours_run_red_to_blue_by_final_hack_and_read_on_white():
    """Redder = hacks more. The far end is blue, not the reference's green: red and green
    look alike without red-green vision (tests/test_colors.py simulates it)."""
    final = {"vanilla": 0.86, "static erasure": 0.58, "online erasure": 0.23, "routing": 0.12,
             "confessions": 0.40}
    colors = charts.arm_colors(final, mode="rank", final_hack=final)
    worst, best = colors["vanilla"], colors["routing"]
    red = [int(c[1:3], 16) - int(c[5:7], 16) for c in (worst, best)]
    assert red[0] > 40 and red[1] < -40  # most hacking is red, least is blue
    # Ordered by hack rate, the red-minus-blue balance falls monotonically.
    by_rate = sorted(final, key=final.get, reverse=True)
    balance = [int(colors[a][1:3], 16) - int(colors[a][5:7], 16) for a in by_rate]
    assert balance == sorted(balance, reverse=True)
    assert len(set(colors.values())) == 5
    # WCAG contrast against white of at least 3:1 for every line colour.
    assert all(1.05 / (_luminance(c) + 0.05) >= 3.0 for c in colors.values())


# --- downsample ---------------------------------------------------------------------


def _walks(lengths: dict[str, int], seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for run, n in lengths.items():
        for metric in ("hack", "teacher"):
            values = np.cumsum(rng.normal(size=n))
            parts.append(pd.DataFrame({"run": run, "step": np.arange(n) * 3, "metric": metric,
                                       "value": values + rng.normal(size=n), "ema": values}))
    return pd.concat(parts, ignore_index=True)


def test_downsample_keeps_ends_extremes_and_onset_within_the_budget():
    series = _walks({"a": 20_000, "b": 5_003, "c": 300})
    keep = {"a": 3 * 12_345, "b": 3 * 4_001}
    thinned = charts.downsample(series, max_points=500, keep_steps=keep)
    for (run, metric), line in series.groupby(["run", "metric"]):
        kept = thinned[(thinned["run"] == run) & (thinned["metric"] == metric)]
        if len(line) <= 500:
            pd.testing.assert_frame_equal(kept, line)  # short lines come back whole
            continue
        assert len(kept) <= 500
        steps = set(kept["step"])
        expected = {line["step"].iloc[0], line["step"].iloc[-1],
                    line.loc[line["ema"].idxmax(), "step"], line.loc[line["ema"].idxmin(), "step"],
                    keep[run]}
        assert expected <= steps
        assert kept["step"].is_monotonic_increasing
        # Values are the input rows, untouched.
        merged = kept.merge(line, on=["run", "metric", "step"], suffixes=("", "_in"))
        assert (merged["ema"] == merged["ema_in"]).all()
    again = charts.downsample(series.sample(frac=1, random_state=1), 500, keep_steps=keep)
    pd.testing.assert_frame_equal(
        again.sort_values(["run", "metric", "step"]).reset_index(drop=True),
        thinned.sort_values(["run", "metric", "step"]).reset_index(drop=True),
    )


def test_downsample_keeps_every_local_bucket_peak():
    """A spike anywhere survives: each of 50 spikes on a flat line is kept."""
    n = 10_000
    ema = np.zeros(n)
    spikes = np.linspace(100, n - 100, 50).astype(int)
    ema[spikes] = 1.0
    ema[spikes + 7] = -1.0
    series = pd.DataFrame({"run": "r", "step": np.arange(n), "metric": "hack",
                           "value": ema, "ema": ema})
    kept = set(charts.downsample(series, max_points=300)["step"])
    assert set(spikes) <= kept and set(spikes + 7) <= kept


def test_downsample_holds_every_line_of_a_big_sweep_to_its_budget():
    runs, steps = 48, 20_000
    n = runs * 4 * steps
    names = np.repeat(np.array([f"run_{r:02d}.log" for r in range(runs)], dtype=object), 4 * steps)
    metrics = np.tile(np.repeat(np.array(["hack", "solve", "teacher", "student"], dtype=object),
                                steps), runs)
    values = np.random.default_rng(0).random(n)
    series = pd.DataFrame({"run": names, "step": np.tile(np.arange(steps), runs * 4),
                           "metric": metrics, "value": values, "ema": values})
    onsets = {f"run_{r:02d}.log": 1000 + r for r in range(runs)}
    thinned = charts.downsample(series, 1000, keep_steps=onsets, columns=("ema", "value"))
    sizes = thinned.groupby(["run", "metric"]).size()
    assert len(sizes) == runs * 4 and sizes.max() <= 1000 and sizes.min() > 400
    for run, onset in onsets.items():
        assert onset in set(thinned.loc[thinned["run"] == run, "step"])


# --- the grid -----------------------------------------------------------------------


@needs_samples
def test_a_chart_is_checked_against_vega_lite_s_schema_when_asked() -> None:
    """Charts are put together as dicts (charts.Chart); `to_dict()` still validates the
    whole spec, as Altair's own charts do, and `to_dict(validate=False)` does not."""
    wrong = charts.Chart({"data": {"values": []}, "mark": "lines"})  # no such mark
    with pytest.raises(jsonschema.ValidationError, match="lines"):
        wrong.to_dict()
    assert wrong.to_dict(validate=False)["mark"] == "lines"


def test_grid_columns_are_arms_in_order_with_seed_counts(grid_spec):
    assert header_labels(grid_spec) == [[arm, "n=3 seeds"] for arm in ARMS4]
    column = grid_spec["vconcat"][0]["facet"]["column"]
    assert column["field"] == "arm" and column.get("sort") == "ascending"
    # Every seed row's arm code names the arm its run belongs to (file names say which).
    arms, runs = lookup_array(grid_spec, "arm_name"), lookup_array(grid_spec, "run_name")
    token = {"vanilla": "vanilla", "static erasure": "static", "online erasure": "online",
             "routing": "routing"}
    rates = row_data(grid_spec, "rates")
    seeds = rates[rates["kind"].isin(["s", "S"])]
    assert seeds.apply(lambda r: f"_{token[arms[r.arm]]}_" in runs[int(r.run)], axis=1).all()
    assert len(set(seeds["run"])) == 12


@needs_samples
def test_grid_unknown_arm_gets_its_own_column_after_routing(converge):
    runs = converge.runs.copy()
    runs.loc[runs["run"] == "converge_static_s2.log", "arm"] = "confessions"
    spec = charts.grid_chart(runs, converge.series).to_dict()
    assert header_labels(spec) == [
        ["vanilla", "n=3 seeds"], ["static erasure", "n=2 seeds"], ["online erasure", "n=3 seeds"],
        ["routing", "n=3 seeds"], ["confessions", "n=1 seed"],
    ]


@needs_samples
def test_grid_series_colours_and_y_domains(grid_spec):
    found = layers(grid_spec)
    metrics = lookup_array(grid_spec, "metric_name")
    for row, names, colours, title in (
        ("rates", ["hack", "solve"], [RED, GREEN], "student rate"),
        ("cos", ["teacher", "student"], [BLUE, AMBER], "cos(grad, v_hack)"),
    ):
        for kind in ("seeds", "means"):
            scale = found[f"{row}_{kind}"]["encoding"]["color"]["scale"]
            assert [metrics[c] for c in scale["domain"]] == names
            assert scale["range"] == colours
        y = found[f"{row}_means"]["encoding"]["y"]
        assert y["axis"]["title"] == title
    assert found["rates_means"]["encoding"]["y"]["scale"]["domain"] == [0, 1]
    lowest = min(
        v
        for path in (SAMPLES / "converge").glob("*.log")
        for col in ("cos_pre_t", "cos_pre_s")
        for v in raw_columns(path)[col]
        if v is not None
    )
    low, high = found["cos_means"]["encoding"]["y"]["scale"]["domain"]
    assert low == pytest.approx(min(-0.05, lowest - 0.02)) and high == 0.45
    assert grid_spec["resolve"]["scale"]["x"] == "shared"


def test_cosine_axis_reaches_at_least_minus_0_05():
    """min(-0.05, lowest cosine - 0.02): all-positive cosines still show the zero line."""
    runs, series = hand_tables({
        ("a.log", "vanilla", 1): {"hack": [0, 0.1], "teacher": [0.3, 0.2], "student": [0.1, 0.01]},
        ("b.log", "routing", 1): {"hack": [0, 0], "teacher": [0.3, -0.2], "student": [0.0, 0.1]},
    })
    only_a = runs[runs["run"] == "a.log"]
    low = layers(charts.grid_chart(only_a, series[series["run"] == "a.log"]).to_dict())
    assert low["cos_means"]["encoding"]["y"]["scale"]["domain"] == [-0.05, 0.45]
    both = layers(charts.grid_chart(runs, series).to_dict())
    assert both["cos_means"]["encoding"]["y"]["scale"]["domain"] == [pytest.approx(-0.22), 0.45]


@needs_samples
def test_mean_onset_rule_is_the_mean_of_hand_read_onsets(grid_spec):
    arms = lookup_array(grid_spec, "arm_name")
    for row in ("rates", "cos"):
        rules = row_data(grid_spec, row).query("kind == 'r'")
        got = {arms[a]: x for a, x in zip(rules["arm"], rules["step"], strict=True)}
        token = {"vanilla": "vanilla", "static erasure": "static", "online erasure": "online",
                 "routing": "routing"}
        for arm in ARMS4:
            onsets = [hand_onset(p) for p in (SAMPLES / "converge").glob(f"*_{token[arm]}_*.log")]
            assert got[arm] == pytest.approx(np.mean([o for o in onsets if o is not None]),
                                             abs=1e-4)
    rule = layers(grid_spec)["rates_onset_rule"]
    assert rule["mark"]["strokeDash"] and rule["encoding"]["x"]["field"] == "step"
    assert layers(grid_spec)["rates_onset_text"]["mark"]["text"] == "first hack"


@needs_samples
def test_each_seed_onset_is_marked_on_its_own_hack_line(grid_spec):
    runs = lookup_array(grid_spec, "run_name")
    rates = row_data(grid_spec, "rates")
    marks = rates[rates["kind"] == "o"]
    assert len(marks) == 12
    for mark in marks.itertuples():
        assert mark.step == hand_onset(SAMPLES / "converge" / runs[int(mark.run)])
        seed = rates["kind"].isin(["s", "S"]) & (rates["run"] == mark.run)
        line = rates[seed & (rates["metric"] == 0)]
        # On the EMA line:
        assert line.loc[line["step"] == mark.step, "smoothed"].item() == mark.smoothed
    onset_layer = layers(grid_spec)["rates_onsets"]["mark"]
    assert onset_layer["filled"] is False


def test_seed_mean_is_aligned_by_step_over_the_seeds_present():
    runs, series = hand_tables({
        ("long.log", "vanilla", 1): {"hack": [0.1, 0.2, 0.3, 0.4], "solve": [0.5] * 4},
        ("short.log", "vanilla", 2): {"hack": [0.3, 0.4], "solve": [0.7] * 2},
    })
    spec = charts.grid_chart(runs, series).to_dict()
    rates = row_data(spec, "rates")
    means = rates[rates["kind"].isin(["m", "M"]) & (rates["metric"] == 0)].sort_values("step")
    assert means["step"].tolist() == [0, 1, 2, 3]
    assert means["smoothed"].tolist() == pytest.approx([0.2, 0.3, 0.3, 0.4])
    solve = rates[rates["kind"].isin(["m", "M"]) & (rates["metric"] == 1)].sort_values("step")
    assert solve["smoothed"].tolist() == pytest.approx([0.6, 0.6, 0.5, 0.5])
    # The labels sit where the mean lines end: step 3, hack above solve, nudged apart.
    labels = rates[rates["kind"] == "l"].set_index("metric")
    assert labels["step"].tolist() == [3, 3]
    # hack ends lower: its label goes down, solve's up.
    assert labels.loc[0, "smoothed"] < 0.4 and labels.loc[1, "smoothed"] > 0.5
    assert header_labels(spec) == [["vanilla", "n=2 seeds"]]
    assert "cos" not in [v["name"] for v in spec["vconcat"]]  # no cosine columns: one row


@needs_samples
def test_direct_labels_only_in_the_leftmost_column_nudged_by_endpoint(grid_spec):
    metrics = lookup_array(grid_spec, "metric_name")
    for row, up, down in (("rates", "hack", "solve"), ("cos", "teacher", "student")):
        data = row_data(grid_spec, row)
        labels = data[data["kind"] == "l"]
        assert set(labels["arm"]) == {0}
        means = data[data["kind"].isin(["m", "M"]) & (data["arm"] == 0)]
        ends = {metrics[int(m)]: g.loc[g["step"].idxmax(), "smoothed"]
                for m, g in means.groupby("metric")}
        at = {metrics[int(m)]: e for m, e in zip(labels["metric"], labels["smoothed"], strict=True)}
        assert ends[up] > ends[down]
        assert at[up] > ends[up] and at[down] < ends[down]  # higher goes up, lower down
    text = layers(grid_spec)["rates_labels"]
    assert text["encoding"]["color"]["scale"]["range"] == [RED, GREEN]
    assert "legend" in text["encoding"]["color"] and text["encoding"]["color"]["legend"] is None


@needs_samples
def test_grid_title_axes_and_frame(grid_spec):
    assert charts.GRID_TITLE in grid_spec["title"]["text"]["expr"]
    # The reference's title, and what the band is (the picture has no caption).
    assert charts.GRID_TITLE == (
        "Training dynamics: G_hack erasure vs vanilla "
        "(EMA-5 smoothed; band = 95% CI of the seed mean; dashed line = mean hack onset)"
    )
    for words in ("raw values; band = 95% CI", "EMA-5 smoothed; band = min-max of the seeds",
                  "raw values; band = min-max of the seeds"):
        assert words in grid_spec["title"]["text"]["expr"]
    assert grid_spec["config"]["view"]["stroke"] is None
    found = layers(grid_spec)
    assert found["cos_seeds"]["encoding"]["x"]["axis"]["title"] == "optimizer step"
    assert found["rates_seeds"]["encoding"]["x"]["axis"]["title"] is None
    seeds = found["rates_seeds"]
    assert seeds["mark"]["strokeWidth"] < 1 and seeds["encoding"]["strokeOpacity"]["condition"][
        0]["value"] == pytest.approx(0.35)
    assert found["rates_means"]["mark"]["strokeWidth"] == 2
    assert found["cos_zero"]["encoding"]["y"]["datum"] == 0


# --- the overlay --------------------------------------------------------------------


@needs_samples
def test_overlay_dots_sit_on_the_mean_line_at_the_mean_onset(overlay_spec):
    (data,) = datasets(overlay_spec).values()
    arms = lookup_array(overlay_spec, "arm_name")
    token = {"vanilla": "vanilla", "static erasure": "static", "online erasure": "online",
             "routing": "routing"}
    for dot in data[data["kind"] == "o"].itertuples():
        arm = arms[dot.arm]
        onsets = [hand_onset(p) for p in (SAMPLES / "converge").glob(f"*_{token[arm]}_*.log")]
        assert dot.step == pytest.approx(np.mean(onsets), abs=1e-4)
        mean = data[data["kind"].isin(["m", "M"]) & (data["arm"] == dot.arm)].sort_values("step")
        on_line = np.interp(dot.step, mean["step"], mean["smoothed"])
        assert dot.smoothed == pytest.approx(on_line, abs=1e-3)
    labels = data[data["kind"] == "l"]
    assert sorted(arms[a] for a in labels["arm"]) == sorted(ARMS4)
    scale = layers(overlay_spec)["overlay_means"]["encoding"]["color"]["scale"]
    assert [arms[a] for a in scale["domain"]] == ARMS4
    assert scale["range"] == ["#7a7a7a", AMBER, BLUE, GREEN]
    assert charts.OVERLAY_TITLE in overlay_spec["title"]["text"]["expr"]
    y = layers(overlay_spec)["overlay_means"]["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 1] and y["axis"]["title"] == "student hack rate (hack_s)"


@needs_samples
def test_overlay_takes_custom_colours(converge):
    colors = charts.arm_colors(converge.runs["arm"], mode="rank",
                               final_hack={"vanilla": 0.9, "routing": 0.1,
                                           "static erasure": 0.6, "online erasure": 0.2})
    spec = charts.overlay_chart(converge.runs, converge.series, colors=colors).to_dict()
    scale = layers(spec)["overlay_means"]["encoding"]["color"]["scale"]
    assert scale["range"][0] == colors["vanilla"] and scale["range"][-1] == colors["routing"]


# --- interaction, determinism, rendering --------------------------------------------


@needs_samples
@pytest.mark.parametrize("which", ["grid", "overlay"])
def test_interaction_params_are_named_and_point_at_real_views(which, grid_spec, overlay_spec):
    spec = grid_spec if which == "grid" else overlay_spec
    params = {p["name"]: p for p in spec["params"]}
    assert set(params) == {"zoom", "hover", "values", "band", "pointed"}
    assert params["zoom"]["bind"] == "scales"
    assert params["zoom"]["select"] == {"type": "interval", "encodings": ["x"]}
    assert params["hover"]["select"]["on"] == "pointerover"
    assert params["values"]["bind"]["input"] == "radio"
    assert params["values"]["bind"]["options"] == ["smoothed", "raw"]
    assert params["band"]["value"] == "ci"  # what pictures show
    assert params["band"]["bind"]["input"] == "radio"
    assert params["band"]["bind"]["options"] == ["ci", "minmax"]
    assert params["band"]["bind"]["labels"] == ["95% CI", "min-max"]
    names = set(layers(spec))
    for name in ("zoom", "hover"):
        assert set(params[name]["views"]) <= names
    pointer = layers(spec)[params["hover"]["views"][0]]
    tooltip = pointer["encoding"]["tooltip"]
    assert [t["title"] for t in tooltip][:5] == ["arm", "seed", "run", "metric", "step"]
    # The pointer's targets hold no rows until the page says a pointer came over the chart.
    assert params["pointed"]["value"] is False and "bind" not in params["pointed"]
    assert pointer["transform"][0] == {"filter": "pointed"}
    assert not re.search(r'"(param|view)_[0-9a-f_]+"', json.dumps(spec))  # no generated names


@needs_samples
def test_specs_are_deterministic(converge, grid_spec, overlay_spec):
    again = [charts.grid_chart(converge.runs, converge.series).to_dict(),
             charts.overlay_chart(converge.runs, converge.series).to_dict()]
    assert json.dumps(again, sort_keys=True) == json.dumps([grid_spec, overlay_spec],
                                                            sort_keys=True)


def test_raw_values_can_be_the_first_view():
    runs, series = hand_tables({("a.log", "vanilla", 1): {"hack": [0.0, 0.5], "solve": [0.2, 0.3]}})
    spec = charts.overlay_chart(runs, series, value="value").to_dict()
    assert {p["name"]: p for p in spec["params"]}["values"]["value"] == "raw"
    assert "raw values" in spec["title"]["text"]["expr"]


@needs_samples
def test_vl_convert_renders_both_charts(grid_spec, overlay_spec):
    width, height = png_size(vl_convert.vegalite_to_png(grid_spec, scale=2))
    assert 1800 <= width <= 2400 and 600 <= height <= 1000  # ~1000 x 400 CSS px
    width, height = png_size(vl_convert.vegalite_to_png(overlay_spec, scale=1))
    assert 450 <= width <= 800 and 300 <= height <= 450


@needs_samples
def test_newer_and_older_logs_of_different_lengths():
    sweep = report.load_sweep([str(SAMPLES / "newer"), str(SAMPLES / "older")])
    spec = charts.grid_chart(sweep.runs, sweep.series).to_dict()
    assert header_labels(spec) == [[arm, "n=2 seeds"] for arm in ARMS4]
    assert vl_convert.vegalite_to_vega(spec)  # compiles
    steps = row_data(spec, "rates").query("kind in ['s', 'S']").groupby("arm")["step"].max()
    assert steps.tolist() == [119, 119, 149, 149]


def test_long_sweeps_stay_small_enough_to_embed():
    """48 runs: the row budget thins the lines so the page stays well under 4 MB."""
    rng = np.random.default_rng(3)
    lines = {}
    for n in range(48):
        arm = ARMS4[n % 4]
        hack = np.clip(np.cumsum(rng.normal(0.001, 0.02, 4000)), 0, 1)
        lines[(f"run_{n:02d}.log", arm, n // 4)] = {
            "hack": hack, "solve": rng.random(4000), "teacher": rng.normal(0.2, 0.05, 4000),
            "student": rng.normal(0.0, 0.05, 4000),
        }
    runs, series = hand_tables(lines)
    grid = json.dumps(charts.grid_chart(runs, series).to_dict())
    overlay = json.dumps(charts.overlay_chart(runs, series).to_dict())
    assert len(grid) < 1_500_000 and len(overlay) < 500_000, (len(grid), len(overlay))
    assert len(grid) > 300_000  # thinned, not emptied


# --- the pointer budget ------------------------------------------------------------


def test_pointer_points_are_budgeted() -> None:
    import simulate

    logs = [simulate.simulate_run(arm, seed, 600) for arm in ("vanilla", "static", "online",
                                                              "routing") for seed in range(1, 13)]
    sweep = _sweep_of(logs)
    spec = charts.grid_chart(sweep.runs, sweep.series).to_dict()
    data = json.dumps(spec)  # the inline CSVs, newlines escaped
    targets = data.count(",S\\n") + data.count(",M\\n")
    lines = 48 * 4 + 4 * 4
    assert targets <= charts.POINTER_POINTS + 2 * lines  # each line also keeps its end
    assert targets > charts.POINTER_POINTS // 2


def _sweep_of(runs: list) -> report.Sweep:
    from report.parse import parse_bytes
    from report.tables import build_tables

    parsed = [parse_bytes(run.data, run.name, run.name) for run in runs]
    table, series = build_tables(parsed)
    return report.Sweep(runs=table, series=series)


# --- seed bands, time to hack, the onset-aligned view --------------------------------


def _three_seeds() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three vanilla seeds: hack 0.1, 0.2, 0.6 at step 0 (mean 0.3, sd sqrt(0.07)); at step 1
    seed c has stopped, at step 2 only a is left; cosines the same shape."""
    return hand_tables({
        ("a.log", "vanilla", 1): {"hack": [0.1, 0.3, 0.5], "teacher": [0.3, 0.2, 0.1]},
        ("b.log", "vanilla", 2): {"hack": [0.2, 0.5], "teacher": [0.2, 0.2]},
        ("c.log", "vanilla", 3): {"hack": [0.6], "teacher": [0.1]},
    })


def test_mean_rows_carry_the_band_and_other_rows_end_early() -> None:
    runs, series = _three_seeds()
    spec = charts.grid_chart(runs, series).to_dict()
    (name,) = [facet["data"]["name"] for facet in spec["vconcat"] if facet["name"] == "rates"]
    text = spec["datasets"][name]
    header = text.split("\n")[0].split(",")
    assert header[:7] == list(charts.COLUMNS) and header[7:] == list(charts.BAND_COLUMNS)
    for line in text.strip().split("\n")[1:]:
        fields = line.split(",")
        if fields[6] not in ("m", "M"):
            assert len(fields) <= 7, line  # no band: the row ends at its kind
    rates = row_data(spec, "rates")
    means = rates[rates["kind"].isin(["m", "M"]) & (rates["metric"] == 0)].set_index("step")
    # Step 0: t(0.975, 2) = 4.303: half-width 4.303 * sqrt(0.07 / 3) = 0.657; range 0.1-0.6.
    assert means.loc[0, "smoothed"] == pytest.approx(0.3)
    assert means.loc[0, "ci"] == pytest.approx(4.303 * np.sqrt(0.07 / 3), abs=1e-3)
    assert (means.loc[0, "min"], means.loc[0, "max"]) == (0.1, 0.6)
    assert means.loc[0, "raw_ci"] == means.loc[0, "ci"]  # raw = smoothed in these tables
    # Step 1: two seeds, 0.3 and 0.5: t(0.975, 1) = 12.706 * 0.1414 / sqrt(2) = 1.271.
    assert means.loc[1, "ci"] == pytest.approx(1.2706, abs=1e-3)
    # Step 2: one seed, no band.
    assert means.loc[2, ["ci", "min", "max", "raw_ci"]].isna().all()


@needs_samples
@pytest.mark.parametrize("which", ["grid", "overlay"])
def test_band_layers_sit_under_the_lines_and_follow_both_controls(which, grid_spec, overlay_spec):
    spec = grid_spec if which == "grid" else overlay_spec
    found = layers(spec)
    names = [n for n in found if n.endswith("_bands")]
    assert names == (["rates_bands", "cos_bands"] if which == "grid" else ["overlay_bands"])
    for name in names:
        band = found[name]
        assert band["mark"]["type"] == "area"
        assert band["encoding"]["y"]["field"] == "band_low"
        assert band["encoding"]["y2"]["field"] == "band_high"
        calc = {t["as"]: t["calculate"] for t in band["transform"] if "calculate" in t}
        for edge in ("band_low", "band_high"):
            assert "band == 'minmax'" in calc[edge] and "values == 'raw'" in calc[edge]
        assert "isValid(datum.ci) ? datum.smoothed - datum.ci : null" in calc["band_low"]
        assert "isValid(datum.raw_ci) ? datum.raw + datum.raw_ci : null" in calc["band_high"]
        idle = band["encoding"]["fillOpacity"]["condition"][0]["value"]
        assert 0.1 <= idle <= 0.2  # light: the lines read through it
        row = name.removesuffix("_bands")
        order = list(found)
        assert order.index(name) < order.index(f"{row}_seeds") < order.index(f"{row}_means")
        # The same scale as the lines it surrounds.
        assert band["encoding"]["y"]["scale"] == found[f"{row}_means"]["encoding"]["y"]["scale"]


def _with_band(spec: dict, band: str) -> dict:
    spec = json.loads(json.dumps(spec))
    for param in spec["params"]:
        if param["name"] == "band":
            param["value"] = band
    return spec


def _picture(spec: dict) -> bytes:
    """The chart's picture as the report draws it: compiled once, the pointer left out."""
    vega = export.to_vega(spec)
    return vl_convert.vega_to_png(picture_spec(vega, charts.POINTER_LAYER_SUFFIX),
                                  scale=1)


def test_the_picture_draws_the_95_percent_band() -> None:
    runs, series = _three_seeds()
    spec = charts.overlay_chart(runs, series).to_dict()
    picture = _picture(spec)
    assert picture == _picture(_with_band(spec, "ci"))
    assert picture != _picture(_with_band(spec, "minmax"))


def _km_numbers():
    from report.summary import summarize

    # vanilla: onsets at 1 and 3, one seed stops at 2 without hacking; routing never hacks.
    runs, series = hand_tables({
        ("v1.log", "vanilla", 1): {"hack": [0, 0.5, 0.5, 0.5, 0.5]},
        ("v2.log", "vanilla", 2): {"hack": [0, 0, 0]},
        ("v3.log", "vanilla", 3): {"hack": [0, 0, 0, 0.5, 0.5]},
        ("r1.log", "routing", 1): {"hack": [0, 0, 0, 0, 0]},
        ("r2.log", "routing", 2): {"hack": [0, 0, 0, 0, 0]},
    })
    return runs, series, summarize(runs, series)


def test_time_to_hack_chart_draws_the_kaplan_meier_table() -> None:
    _, _, numbers = _km_numbers()
    spec = charts.time_to_hack_chart(numbers).to_dict()
    (data,) = datasets(spec).values()
    arms = numbers.arms
    curves = data[data["kind"] == "k"]
    # vanilla: 3 at risk at 1 (share 1/3), one censored at 2, 1 at risk at 3 (share 1).
    vanilla = curves[curves["arm"] == arms.index("vanilla")]
    assert vanilla["step"].tolist() == [0, 1, 2, 3, 4]
    assert vanilla["share"].tolist() == pytest.approx([0, 1 / 3, 1 / 3, 1, 1], abs=1e-4)
    assert vanilla["at_risk"].tolist() == [3, 3, 2, 1, 0]
    assert vanilla["censored"].tolist() == [0, 0, 1, 0, 0]
    routing = curves[curves["arm"] == arms.index("routing")]
    assert routing["share"].tolist() == [0, 0] and routing["censored"].tolist() == [0, 2]
    found = layers(spec)
    assert found["km_curves"]["mark"]["interpolate"] == "step-after"
    assert [t for t in found["km_censored"]["transform"] if "filter" in t][-1]["filter"] == (
        "datum.censored > 0")
    tooltip = [t["title"] for t in found["km_points"]["encoding"]["tooltip"]]
    assert any("at risk" in title for title in tooltip)
    assert found["km_half"]["encoding"]["y"]["datum"] == 0.5
    scale = found["km_curves"]["encoding"]["color"]["scale"]
    assert scale["range"] == [charts.ARM_COLORS["vanilla"], charts.ARM_COLORS["routing"]]
    labels = data[data["kind"] == "l"]
    assert sorted(labels["arm"]) == [0, 1] and set(labels["step"]) == {4}
    assert charts.TIME_TO_HACK_TITLE == spec["title"]["text"]
    vega = export.to_vega(spec)
    picture = picture_spec(vega, charts.POINTER_LAYER_SUFFIX)
    assert "km_points_marks" in json.dumps(vega) and "km_points_marks" not in json.dumps(picture)
    assert png_size(export.to_png(picture, scale=1))[0] > 400


def test_time_to_hack_labels_stand_beyond_every_curve() -> None:
    """routing's seeds end at step 2, vanilla's at 4: routing's label is beside the plot's
    end too (at its own end it would sit on vanilla's line), at routing's final share."""
    from report.summary import summarize

    runs, series = hand_tables({
        ("v1.log", "vanilla", 1): {"hack": [0, 0.5, 0.5, 0.5, 0.5]},
        ("v2.log", "vanilla", 2): {"hack": [0, 0, 0, 0, 0]},
        ("r1.log", "routing", 1): {"hack": [0, 0, 0]},
    })
    numbers = summarize(runs, series)
    (data,) = datasets(charts.time_to_hack_chart(numbers).to_dict()).values()
    arms = numbers.arms
    ends = data[data["kind"] == "k"].groupby("arm")["step"].max()
    assert ends[arms.index("routing")] == 2 and ends[arms.index("vanilla")] == 4
    labels = data[data["kind"] == "l"].set_index("arm")
    assert labels["step"].tolist() == [4, 4]
    assert labels.loc[arms.index("routing"), "share"] == 0  # routing never hacked
    assert labels.loc[arms.index("vanilla"), "share"] == pytest.approx(0.5, abs=0.05)


def test_aligned_view_puts_each_seeds_onset_at_zero() -> None:
    from report.summary import summarize

    runs, series = hand_tables({
        ("a.log", "vanilla", 1): {"hack": [0, 0, 0.5, 0.5], "teacher": [0.3, 0.3, 0.1, 0.1],
                                  "student": [0.0, 0.0, -0.1, -0.1]},
        ("b.log", "vanilla", 2): {"hack": [0, 0.5, 0.5, 0.5], "teacher": [0.3, 0.1, 0.1, 0.1],
                                  "student": [0.1, -0.1, -0.1, -0.1]},
        ("c.log", "vanilla", 3): {"hack": [0, 0, 0, 0], "teacher": [0.2, 0.2, 0.2, 0.2],
                                  "student": [0.0, 0.0, 0.0, 0.0]},
    })
    numbers = summarize(runs, series)
    assert numbers.align_window == 5  # a quarter of 4 steps is under the floor of 5
    spec = charts.aligned_chart(runs, numbers).to_dict()
    data = row_data(spec, "aligned")
    runs_in = lookup_array(spec, "run_name")
    seeds = data[data["kind"].isin(["s", "S"])]
    assert {runs_in[int(r)] for r in seeds["run"]} == {"a.log", "b.log"}  # c never hacked
    teacher = seeds[seeds["metric"] == 2]  # METRICS: hack, solve, teacher, student
    by_run = {runs_in[int(r)]: g.sort_values("step") for r, g in teacher.groupby("run")}
    # a hacks at 2, b at 1: both drop from 0.3 to 0.1 at offset 0.
    assert by_run["a.log"]["step"].tolist() == [-2, -1, 0, 1]
    assert by_run["b.log"]["step"].tolist() == [-1, 0, 1, 2]
    for line in by_run.values():
        assert line.set_index("step").loc[0, "smoothed"] == pytest.approx(0.1)
        assert line.set_index("step").loc[-1, "smoothed"] == pytest.approx(0.3)
    means = data[data["kind"].isin(["m", "M"]) & (data["metric"] == 2)].set_index("step")
    assert means.loc[-1, "smoothed"] == pytest.approx(0.3)  # both seeds, aligned
    assert np.isnan(means.loc[-2, "ci"])  # only a reaches 2 steps before its onset
    assert data.loc[data["kind"] == "r", "step"].tolist() == [0]  # the rule at the onset
    assert header_labels(spec) == [["vanilla", "2 of 3 seeds hacked"]]
    x = layers(spec)["aligned_seeds"]["encoding"]["x"]
    assert x["scale"]["domain"] == [-5, 5] and x["axis"]["title"] == charts.ALIGNED_X_TITLE
    assert "aligned_bands" in layers(spec) and "aligned_zero" in layers(spec)
    assert {p["name"] for p in spec["params"]} == {"zoom", "hover", "values", "band",
                                                  "pointed"}
    assert charts.ALIGNED_TITLE in spec["title"]["text"]["expr"]


def test_no_aligned_view_without_an_onset() -> None:
    from report.summary import summarize

    runs, series = hand_tables({("a.log", "vanilla", 1): {"hack": [0, 0], "teacher": [0.3, 0.3],
                                                          "student": [0.0, 0.0]}})
    assert not charts.has_aligned_view(summarize(runs, series))


# --- the All-metrics charts ----------------------------------------------------------


def test_metric_charts_draw_each_groups_seeds_and_mean_with_its_band():
    """By hand: `kl` of two vanilla seeds and one routing seed, `ok` (T/F read as 1/0)
    of the vanilla seeds only; ema = value in these tables."""
    runs, series = hand_tables({
        ("v1.log", "vanilla", 1): {"hack": [0, 0, 0], "kl": [0.5, 1.0, 2.0], "ok": [1, 0, 1]},
        ("v2.log", "vanilla", 2): {"hack": [0, 0, 0], "kl": [1.5, 2.0, 4.0], "ok": [1, 1, 1]},
        ("r1.log", "routing", 1): {"hack": [0, 0, 0], "kl": [3.0, 3.0, 3.0]},
    })
    made = charts.metric_charts(runs, series, ["kl", "ok"])
    assert list(made) == ["kl", "ok"]
    assert made["kl"].groups == ["vanilla", "routing"] and made["ok"].groups == ["vanilla"]
    kl = made["kl"].chart.to_dict()  # validated against the Vega-Lite schema
    (data,) = datasets(kl).values()
    seeds = data[data["kind"].isin(["s", "S"])]
    assert sorted(zip(seeds["run"], seeds["step"], seeds["smoothed"], strict=True)) == [
        (0, 0, 0.5), (0, 1, 1.0), (0, 2, 2.0), (1, 0, 1.5), (1, 1, 2.0), (1, 2, 4.0),
        (2, 0, 3.0), (2, 1, 3.0), (2, 2, 3.0)]  # runs in arm order: r1 (routing) last
    means = data[data["kind"].isin(["m", "M"])].sort_values(["arm", "step"])
    vanilla = means[means["arm"] == 0]
    assert vanilla["smoothed"].tolist() == [1.0, 1.5, 3.0]
    # Two seeds: t(0.975, 1) = 12.706, sd = |a - b| / sqrt(2), half = t * sd / sqrt(2).
    assert vanilla["ci"].tolist() == pytest.approx([12.706 * 0.5, 12.706 * 0.5, 12.706 * 1.0],
                                                   abs=0.002)
    assert vanilla["min"].tolist() == [0.5, 1.0, 2.0]
    assert means[means["arm"] == 1]["ci"].isna().all()  # one seed: no band
    y = layers(kl)["metric0_means"]["encoding"]["y"]
    assert y["scale"]["domain"] == pytest.approx([0.5 - 0.175, 4.0 + 0.175])
    assert y["axis"]["title"] == "kl"
    color = layers(kl)["metric0_means"]["encoding"]["color"]
    assert color["field"] == "arm" and color["scale"]["range"] == [
        charts.ARM_COLORS["vanilla"], charts.ARM_COLORS["routing"]]
    assert header_labels(kl) == [["vanilla", "n=2 seeds"], ["routing", "n=1 seed"]]
    ok = made["ok"].chart.to_dict()
    (data,) = datasets(ok).values()
    assert set(data["arm"].dropna()) == {0}  # routing logged no `ok`: no column for it
    y = layers(ok)["metric1_means"]["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 1] and y["axis"]["title"] == "ok (share of 1s)"


def test_metric_charts_have_the_grids_interaction():
    runs, series = hand_tables({
        (f"r{n}.log", arm, n): {"hack": [0.0, 0.5], "loss": [0.7, 0.6]}
        for n, arm in enumerate(ARMS4)
    })
    spec = charts.metric_charts(runs, series, ["loss"])["loss"].chart.to_dict()
    params = {p["name"]: p for p in spec["params"]}
    assert set(params) == {"zoom", "hover", "values", "band", "pointed"}
    assert params["zoom"]["views"] == ["metric0_seeds"]
    assert params["hover"]["views"] == ["metric0_points"]
    found = layers(spec)
    assert found["metric0_points"]["encoding"]["tooltip"][0] == {
        "field": "arm_name", "title": "arm", "type": "nominal"}
    # What only a pointer uses ends with _points: the pictures leave it out by name.
    assert [n for n in found if n.endswith("_points")] == ["metric0_points"]
    assert "loss by arm" in json.dumps(spec["title"])
    width, height = png_size(vl_convert.vegalite_to_png(spec, scale=1))
    assert 900 <= width <= 1150 and 150 <= height <= 320


def test_metric_charts_of_the_demo_are_the_simulators_numbers():
    """The loss chart's mean line is the mean over seeds of each seed's EMA-5 of the
    loss the generator wrote (to the chart's 3 decimals)."""
    import simulate

    sweep = report.load_demo()
    spec = charts.metric_charts(sweep.runs, sweep.series, ["loss"])["loss"].chart.to_dict()
    (data,) = datasets(spec).values()
    truth = {}
    for sim in simulate.simulate_sweep(preset="demo"):
        smoothed, prev = [], math.nan
        for v in sim.truth["loss"]:
            prev = v if math.isnan(prev) else v / 3 + prev * 2 / 3
            smoothed.append(prev)
        truth.setdefault(sim.display_arm, []).append(smoothed)
    means = data[data["kind"].isin(["m", "M"])]
    assert len(means) > 100
    for row in means.itertuples():
        expected = np.mean([seed[int(row.step)] for seed in truth[ARMS4[int(row.arm)]]])
        assert row.smoothed == pytest.approx(expected, abs=0.0005)


def test_metric_charts_share_one_budget():
    """48 runs x 6 metrics x 4,000 steps: the section stays a few hundred kB, and its
    invisible pointer points within the page's budget."""
    rng = np.random.default_rng(5)
    extra = ("loss", "kl", "dt", "gn", "lr_now", "ent")
    lines = {(f"run_{n:02d}.log", ARMS4[n % 4], n // 4): {
        "hack": np.zeros(4000), **{m: rng.normal(size=4000).cumsum() for m in extra}}
        for n in range(48)}
    runs, series = hand_tables(lines)
    made = charts.metric_charts(runs, series, list(extra))
    sizes = [len(json.dumps(made.chart.to_dict(validate=False))) for made in made.values()]
    assert 100_000 < sum(sizes) < 700_000, sizes
    rows = pd.concat([next(iter(datasets(m.chart.to_dict(validate=False)).values()))
                      for m in made.values()])
    assert rows["kind"].isin(["S", "M"]).sum() <= charts.POINTER_POINTS * 1.1
    seeds = rows[rows["kind"].isin(["s", "S"])]
    assert seeds.groupby(["metric", "run"]).size().max() <= 2 * charts.METRIC_LINE_POINTS + 4


# --- the seed lines a chart draws ---------------------------------------------------


def _many_seeds() -> tuple[pd.DataFrame, pd.DataFrame]:
    """10 vanilla seeds, 4 static erasure, 1 routing; seed k's four lines are flat at
    k*k/1000 for 30 steps."""
    counts = {"vanilla": 10, "static erasure": 4, "routing": 1}
    lines = {(f"{arm}_s{k}.log", arm, k): {m: [k * k / 1000] * 30 for m in charts.METRICS}
             for arm, n in counts.items() for k in range(1, n + 1)}
    return hand_tables(lines)


def test_past_its_line_budget_a_chart_draws_an_even_spread_of_runs(monkeypatch):
    runs, series = _many_seeds()
    monkeypatch.setattr(charts, "MAX_SEED_LINES", 24)  # 6 runs of 4 lines
    spec = charts.grid_chart(runs, series).to_dict()
    assert spec["usermeta"]["seed_lines"] == {"drawn": 5, "runs": 15}
    rows = pd.concat([row_data(spec, "rates"), row_data(spec, "cos")])
    seeds = rows[rows["kind"].isin(["s", "S"])]
    # Runs in arm then seed order: vanilla 0-9, static erasure 10-13, routing 14. Two per
    # arm fit (2 + 2 + 1 runs, 20 lines; three would be 28): each arm's first and last.
    assert sorted(set(seeds["run"].astype(int))) == [0, 9, 10, 13, 14]
    assert len(seeds) == 5 * 4 * 30  # their lines whole
    names = lookup_array(spec, "run_name")
    assert [n for n in names if n] == ["vanilla_s1.log", "vanilla_s10.log",
                                       "static erasure_s1.log", "static erasure_s4.log",
                                       "routing_s1.log"]
    # The means are every seed's: vanilla's hack is mean(k*k, k=1..10)/1000 = 0.0385 (the
    # two drawn seeds alone would give 0.0505), static erasure's 7.5/1000.
    means = rows[rows["kind"].isin(["m", "M"]) & (rows["metric"] == 0)]
    for arm, mean in ((0, 0.0385), (1, 0.0075)):
        drawn = means.loc[means["arm"] == arm, "smoothed"].tolist()
        assert drawn == [pytest.approx(mean, abs=1e-3)] * 30
    overlay = charts.overlay_chart(runs, series).to_dict()  # 15 lines: every run's
    assert "seed_lines" not in overlay["usermeta"]


def test_within_its_line_budget_a_chart_is_unchanged(monkeypatch):
    runs, series = _many_seeds()
    spec = charts.grid_chart(runs, series).to_dict()
    assert "seed_lines" not in spec["usermeta"]
    monkeypatch.setattr(charts, "MAX_SEED_LINES", 60)  # exactly 15 runs x 4 lines
    assert charts.grid_chart(runs, series).to_dict() == spec
    rows = row_data(spec, "rates")
    assert sorted(set(rows.loc[rows["kind"].isin(["s", "S"]), "run"].astype(int))) == list(
        range(15))


def test_the_all_metrics_charts_share_one_line_budget(monkeypatch):
    runs, series = _many_seeds()
    extra = series[series["metric"] == "hack"].assign(metric="loss")
    series = pd.concat([series, extra, extra.assign(metric="dt")], ignore_index=True)
    monkeypatch.setattr(charts, "MAX_SEED_LINES", 10)  # 5 runs of the two metrics' lines
    made = charts.metric_charts(runs, series, ["loss", "dt"])
    for metric in ("loss", "dt"):
        spec = made[metric].chart.to_dict()
        assert spec["usermeta"]["seed_lines"] == {"drawn": 5, "runs": 15}
        rows = datasets(spec)[spec["vconcat"][0].get("data", spec.get("data"))["name"]]
        assert sorted(set(rows.loc[rows["kind"].isin(["s", "S"]), "run"].astype(int))) == [
            0, 9, 10, 13, 14]
        assert made[metric].groups == ["vanilla", "static erasure", "routing"]
