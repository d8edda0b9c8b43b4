"""tables: EMA-5 by hand, the tidy tables' shape and order."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import log_text

from report.parse import parse_text
from report.tables import RUN_COLUMNS, SERIES_COLUMNS, arm_order, build_tables, ema


def test_ema_hand_worked() -> None:
    # alpha = 2/6 = 1/3. Leading NaN stays NaN; a NaN holds the previous smoothed value.
    values = np.array([np.nan, 0.3, np.nan, 0.6, 0.0])
    expected = [np.nan, 0.3, 0.3, 0.6 / 3 + 0.3 * 2 / 3, 0.0 / 3 + 0.4 * 2 / 3]
    np.testing.assert_allclose(ema(values), expected, rtol=0, atol=1e-15)
    assert np.isnan(ema(np.array([np.nan, np.nan]))).all()
    assert ema(np.array([])).size == 0


def test_ema_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(500)
    values[rng.random(500) < 0.3] = np.nan
    smoothed, prev = [], np.nan
    for v in values:  # the reference's definition, written out
        if not np.isnan(v):
            prev = v if np.isnan(prev) else v / 3 + prev * 2 / 3
        smoothed.append(prev)
    np.testing.assert_allclose(ema(values), smoothed, rtol=1e-12)


def test_arm_order() -> None:
    arms = ["routing", "zeta", "confessions", "vanilla", "online erasure", "static erasure"]
    assert arm_order(arms) == [
        "vanilla",
        "static erasure",
        "online erasure",
        "routing",
        "confessions",
        "zeta",
    ]


def _run(name: str, arm: str, seed: int, hack: list[str]) -> object:
    rows = [f"{i}  0.7  {h}  1/4  0/4  1/4  +0.300  +0.050  T  1.0" for i, h in enumerate(hack)]
    return parse_text(log_text(preset=f"preset=t arm={arm} seed={seed}", rows=rows), name)


def test_tables_are_tidy_and_ordered_whatever_the_input_order() -> None:
    logs = [
        _run("r2.log", "routing", 2, ["0/4", "1/4"]),
        _run("v2.log", "vanilla", 2, ["0/4", "1/4", "2/4"]),
        _run("c1.log", "confessions", 1, ["0/4"]),
        _run("v1.log", "vanilla", 1, ["1/4"]),
    ]
    runs, series = build_tables(logs)
    runs_again, series_again = build_tables(list(reversed(logs)))
    pd.testing.assert_frame_equal(runs, runs_again)
    pd.testing.assert_frame_equal(series, series_again)
    assert list(runs.columns) == RUN_COLUMNS and list(series.columns) == SERIES_COLUMNS
    assert list(runs["run"]) == ["v1.log", "v2.log", "r2.log", "c1.log"]
    assert list(runs["steps"]) == [1, 3, 2, 1]
    assert runs["seed"].dtype == "Int64"
    v2 = series[(series.run == "v2.log") & (series.metric == "hack")]
    assert list(v2["step"]) == [0, 1, 2]
    np.testing.assert_allclose(v2["value"], [0, 0.25, 0.5])
    np.testing.assert_allclose(v2["ema"], [0, 0.25 / 3, 0.5 / 3 + 0.25 / 3 * 2 / 3])
    # The k/n cells' counts ride along (0/4, 1/4, 2/4); cosines have none.
    assert v2["k"].tolist() == [0, 1, 2] and v2["n"].tolist() == [4, 4, 4]
    assert series["k"].dtype == "Int32" and series["n"].dtype == "Int32"
    teacher = series[series.metric == "teacher"]
    assert teacher["k"].isna().all() and teacher["n"].isna().all()
    assert list(series["metric"].unique()) == ["hack", "solve", "teacher", "student"]
    # Categoricals: one small integer per row of millions, categories in table order.
    assert list(series["run"].cat.categories) == list(runs["run"])
    assert list(series["metric"].cat.categories) == ["hack", "solve", "teacher", "student"]
    assert series.groupby("run", observed=True).size().to_dict() == {
        "v1.log": 4, "v2.log": 12, "r2.log": 8, "c1.log": 4
    }
