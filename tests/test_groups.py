"""report.groups: what a group is (--group-by keys), its name, its order, its baseline.

Expected names and orders are written out by hand from the logs' own lines.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import log_text

from report.errors import UsageError
from report.groups import (
    NO_VALUE,
    available_keys,
    baselines,
    group_order,
    group_runs,
    grouping,
)
from report.parse import parse_text
from report.tables import build_tables


def _log(name: str, *, arm: str = "vanilla", seed: int = 1, lr: str = "1e-05",
         flags: str = "", sweep: str = "") -> object:
    intervention = {"vanilla": "none", "projected": "erase", "routing": "route"}.get(arm, arm)
    argv = f"scripts/train.py --preset=t --intervention={intervention} --seed={seed} {flags}"
    preset = f"preset=t arm={arm} seed={seed} lr={lr} batch=4 steps=3 model=Qwen2.5-0.5B"
    log = parse_text(log_text(argv=argv.strip(), preset=preset), name)
    log.sweep = sweep
    return log


def _runs(*logs: object, sweeps: tuple[str, ...] = ()) -> pd.DataFrame:
    runs, _ = build_tables(list(logs), sweeps=sweeps)
    return runs


def test_grouped_by_arm_the_groups_are_the_arms_in_the_reference_order() -> None:
    runs = _runs(_log("r.log", arm="routing"), _log("v.log"), _log("c.log", arm="confessions"),
                 _log("s.log", arm="projected"),
                 _log("o.log", arm="projected", flags="--vhack-refresh-every=10"))
    found = grouping(runs)
    assert found.names == ["vanilla", "static erasure", "online erasure", "routing",
                           "confessions"]
    assert found.by_arm and found.column == "arm"
    assert list(runs["group"]) == list(runs["arm"])  # the tables' default


def test_numbers_order_numerically_and_read_as_one_value() -> None:
    """lr 3e-05 < 0.0001 < 1e-03, not by text; `1e-4` and `0.0001` are one group."""
    runs = _runs(_log("a.log", lr="0.0001"), _log("b.log", lr="3e-05", seed=2),
                 _log("c.log", lr="1e-03", seed=3), _log("d.log", lr="1e-4", seed=4))
    grouped = group_runs(runs, ["lr"])
    assert grouping(runs, ["lr"]).names == ["lr=3e-05", "lr=0.0001", "lr=1e-03"]
    assert dict(zip(grouped["run"], grouped["group"], strict=True)) == {
        "b.log": "lr=3e-05", "a.log": "lr=0.0001", "d.log": "lr=0.0001", "c.log": "lr=1e-03"}
    assert list(grouped["run"]) == ["b.log", "a.log", "d.log", "c.log"]  # rows in group order
    assert group_order(grouped["group"]) == ["lr=3e-05", "lr=0.0001", "lr=1e-03"]


def test_flags_without_dashes_and_runs_without_the_key_last() -> None:
    runs = _runs(_log("o20.log", arm="projected", flags="--vhack-refresh-every=20"),
                 _log("o5.log", arm="projected", flags="--vhack-refresh-every 5", seed=2),
                 _log("s.log", arm="projected", seed=3))
    found = grouping(runs, ["vhack-refresh-every"])
    assert found.names == ["vhack-refresh-every=5", "vhack-refresh-every=20",
                           f"vhack-refresh-every={NO_VALUE}"]
    assert found.values["vhack-refresh-every=20"] == ("20",)
    assert found.values[f"vhack-refresh-every={NO_VALUE}"] == (None,)


def test_several_keys_read_key_equals_value_joined_by_commas() -> None:
    runs = _runs(_log("a1.log", sweep="after"), _log("b1.log", sweep="before"),
                 _log("b2.log", arm="routing", sweep="before"),
                 _log("a2.log", arm="routing", sweep="after"), sweeps=("before", "after"))
    # Sweeps in the order the inputs were given, not by name; arms in the reference order.
    assert grouping(runs, ["sweep", "arm"]).names == [
        "sweep=before, arm=vanilla", "sweep=before, arm=routing",
        "sweep=after, arm=vanilla", "sweep=after, arm=routing"]
    assert grouping(runs, ["arm", "sweep"]).names == [
        "arm=vanilla, sweep=before", "arm=vanilla, sweep=after",
        "arm=routing, sweep=before", "arm=routing, sweep=after"]


def test_preset_fields_win_over_flags_and_names_taken_by_runs_columns() -> None:
    """`steps` counts the steps logged; the --steps= a run was started with is `steps
    (config)`, and grouping by `steps` means that one."""
    log = _log("a.log", flags="--lr=9 --steps=300")
    runs = _runs(log)
    assert runs.loc[0, "lr"] == "1e-05"  # the preset line's, not argv's --lr=9
    assert runs.loc[0, "steps (config)"] == "3" and runs.loc[0, "steps"] == 3
    assert grouping(runs, ["steps"]).names == ["steps=3"]
    assert {"preset", "intervention", "lr", "batch", "model", "steps"} <= set(
        available_keys(runs))


def test_a_key_no_run_has_is_a_usage_error_listing_the_keys() -> None:
    runs = _runs(_log("a.log"))
    with pytest.raises(UsageError) as raised:
        grouping(runs, ["learning-rate"])
    message = str(raised.value)
    assert "no run has the key 'learning-rate'" in message
    assert "arm, seed, preset, intervention" in message and "lr" in message
    assert raised.value.option == "--group-by"
    with pytest.raises(UsageError, match="'sweep'"):  # no input was labelled
        grouping(runs, ["sweep"])


def test_baselines_a_group_a_bare_value_or_pairs_within_the_other_keys() -> None:
    runs = _runs(*(_log(f"{s}{a}.log", arm=arm, sweep=s)
                   for s in ("before", "after") for a, arm in (("v", "vanilla"), ("r", "routing"))),
                 sweeps=("before", "after"))
    by_arm = grouping(runs)
    assert baselines(by_arm) == {"routing": "vanilla"}
    assert baselines(by_arm, "routing") == {"vanilla": "routing"}
    both = grouping(runs, ["sweep", "arm"])
    # By default, several keys: the first key's first value, paired within the others.
    paired = {"sweep=after, arm=vanilla": "sweep=before, arm=vanilla",
              "sweep=after, arm=routing": "sweep=before, arm=routing"}
    assert baselines(both) == paired
    assert baselines(both, "sweep=before") == paired
    assert baselines(both, "arm=vanilla") == {
        "sweep=before, arm=routing": "sweep=before, arm=vanilla",
        "sweep=after, arm=routing": "sweep=after, arm=vanilla"}
    one = "sweep=before, arm=vanilla"
    assert baselines(both, one) == {g: one for g in both.names if g != one}
    assert baselines(grouping(runs, ["sweep"]), "after") == {"sweep=before": "sweep=after"}
    with pytest.raises(UsageError, match="not a group of these logs; the groups are: sweep="):
        baselines(both, "sweep=during")
    with pytest.raises(UsageError, match="'nope' is not an arm of these logs; the arms are: "
                                         "vanilla, routing"):
        baselines(by_arm, "nope")


def test_an_empty_value_is_a_group_of_its_own_that_says_so() -> None:
    runs = _runs(_log("a.log", flags="--tag="), _log("b.log", flags="--tag=x", seed=2),
                 _log("c.log", seed=3))
    assert grouping(runs, ["tag"]).names == ['tag=""', "tag=x", f"tag={NO_VALUE}"]
