"""Runs -> groups: which group each run is in for `--group-by` keys, in the groups' order.

A key is `arm` (the display arm: the default, the reference's view), `sweep` (the label
of a `LABEL=PATH` input), `seed`, or any configuration key a run was started with: an
argv flag without its dashes (`vhack-refresh-every`, `lr`, `v-hack-path`) or a field of
the preset line (`lr`, `batch`, `model`), the preset line winning where both say. A
group's name reads `key=value`, joined with `, ` for several keys (grouped by `arm`
alone, it is the arm's name). Groups are ordered key by key: arms in the reference's
order, sweeps as the inputs were given, numbers numerically, other values by name, a
run without the key last.

Part of the tables layer: it only labels runs; `summary` computes every number per group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from report.errors import UsageError
from report.tables import RUN_COLUMNS, arm_order

DEFAULT_KEYS = ("arm",)
NO_VALUE = "(none)"  # the value shown for a run that was not started with the key
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Columns of `runs` that are not configuration keys.
_FIXED = (*RUN_COLUMNS, "group", "sweep")
CONFIG_SUFFIX = " (config)"  # a configuration key named like a runs column (`steps`)


def config_column(key: str) -> str:
    """The `runs` column holding configuration key `key`: the key itself, or `key
    (config)` where `runs` already has a column of that name (`steps` counts the steps
    logged; `steps (config)` is the --steps= a run was started with)."""
    return f"{key}{CONFIG_SUFFIX}" if key in _FIXED else key


def config_keys(runs: pd.DataFrame) -> list[str]:
    """The configuration keys `runs` holds columns for, in column order."""
    return [c.removesuffix(CONFIG_SUFFIX) for c in runs.columns if c not in _FIXED]


def available_keys(runs: pd.DataFrame) -> list[str]:
    """Every key runs can be grouped by: arm, sweep (labelled inputs), seed, then the
    configuration keys some run has."""
    keys = ["arm"] + (["sweep"] if "sweep" in runs.columns else []) + ["seed"]
    return keys + [k for k in config_keys(runs) if k not in keys]


@dataclass(frozen=True)
class _Key:
    """One key's value for every run (None: the run has none) and the values' order."""

    values: list[str | None]
    order: list[str]


def _key(runs: pd.DataFrame, key: str) -> _Key:
    """`key`'s values over `runs` and their order; UsageError if no run has the key."""
    if key == "arm":
        values = [str(a) for a in runs["arm"]]
        return _Key(list(values), arm_order(values))
    if key == "sweep" and "sweep" in runs.columns:
        column = runs["sweep"]
        values = [str(v) for v in column]
        order = [str(c) for c in column.cat.categories] if isinstance(
            column.dtype, pd.CategoricalDtype) else sorted(set(values))
        return _Key(list(values), [v for v in order if v in set(values)])
    if key == "seed":
        found = [None if pd.isna(s) else str(int(s)) for s in runs["seed"]]
    elif key in config_keys(runs):
        found = [None if pd.isna(v) else str(v) for v in runs[config_column(key)]]
    else:
        found = []
    if not any(v is not None for v in found):
        have = ", ".join(available_keys(runs))
        msg = f"no run has the key {key!r}; the runs have: {have}"
        raise UsageError(msg, "--group-by")
    return _spelled(found)


def _spelled(found: list[str | None]) -> _Key:
    """Values ordered numerically when every one is a number (then `1e-05` and `0.00001`
    are one value, spelled as the first run spells it), else by name."""
    present = [v for v in found if v is not None]
    if not all(_NUMBER.fullmatch(v) for v in present):
        return _Key(found, sorted(set(present)))
    spelling: dict[float, str] = {}
    for value in present:
        spelling.setdefault(float(value), value)
    values = [None if v is None else spelling[float(v)] for v in found]
    return _Key(values, [spelling[number] for number in sorted(spelling)])


def group_name(keys: Sequence[str], values: Sequence[str | None]) -> str:
    """`lr=1e-05`, `sweep=before, arm=vanilla`; grouped by arm alone, the arm's name."""
    if tuple(keys) == DEFAULT_KEYS:
        return str(values[0])
    return ", ".join(f"{k}={_shown(v)}" for k, v in zip(keys, values, strict=True))


def _shown(value: str | None) -> str:
    """A key's value in a group's name: `(none)` for a run without the key, `""` for an
    empty one (`--tag=`), so that no group reads as nameless."""
    return NO_VALUE if value is None else value or '""'



@dataclass(frozen=True)
class Grouping:
    """The groups of a sweep: their keys, names in order, and each group's value of each
    key (None: its runs were not started with the key)."""

    keys: tuple[str, ...]
    names: list[str]
    values: dict[str, tuple[str | None, ...]]

    @property
    def by_arm(self) -> bool:
        """Grouped by arm alone: the reference's view, its words (`arm`) and its page."""
        return self.keys == DEFAULT_KEYS

    @property
    def column(self) -> str:
        """The `runs` column the page's tables group by, and what they call it."""
        return "arm" if self.by_arm else "group"


def grouping(runs: pd.DataFrame, keys: Sequence[str] = DEFAULT_KEYS) -> Grouping:
    """The groups `keys` make of `runs`; UsageError for a key no run has."""
    keys = tuple(keys) or DEFAULT_KEYS
    columns = [_key(runs, key) for key in keys]
    rows = list(zip(*(c.values for c in columns), strict=True)) if len(runs) else []
    ranks = [{v: i for i, v in enumerate(c.order)} for c in columns]

    def rank(row: tuple[str | None, ...]) -> tuple[int, ...]:
        return tuple(len(r) if v is None else r[v] for v, r in zip(row, ranks, strict=True))

    distinct = sorted(set(rows), key=rank)
    values = {group_name(keys, row): row for row in distinct}
    return Grouping(keys, list(values), values)


def group_runs(runs: pd.DataFrame, keys: Sequence[str] = DEFAULT_KEYS) -> pd.DataFrame:
    """`runs` with its `group` column for `keys` (an ordered categorical: the groups'
    order), rows in group order (stable: the runs' own order within a group)."""
    found = grouping(runs, keys)
    columns = [_key(runs, key).values for key in found.keys]
    names = [group_name(found.keys, row) for row in zip(*columns, strict=True)]
    group = pd.Categorical(names, categories=found.names, ordered=True)
    grouped = runs.assign(group=group)
    return grouped.sort_values("group", kind="stable").reset_index(drop=True)


def group_order(column: Iterable[object]) -> list[str]:
    """The order of the groups in `column`: a categorical's categories (those present),
    else the arms' order (vanilla, static erasure, online erasure, routing, others)."""
    if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
        present = set(column.dropna().astype(str))
        return [str(c) for c in column.cat.categories if str(c) in present]
    return arm_order(str(v) for v in column if not pd.isna(v))


# --- the baseline ------------------------------------------------------------------


def _partial(text: str, keys: Sequence[str]) -> dict[str, str] | None:
    """`sweep=before` (or `lr=1e-05, arm=vanilla`) as key -> value, when every part names
    one of `keys`; None otherwise."""
    parts = [part.strip().partition("=") for part in text.split(",")]
    if not all(eq and key in keys for key, eq, _ in parts):
        return None
    return {key: value for key, _, value in parts}


def baselines(found: Grouping, requested: str | None = None) -> dict[str, str]:
    """group -> the group it is compared with (the baseline itself is absent).

    Asked for (`--baseline`): a group's name compares every group with it; with one key
    its bare value does too (`--baseline 1e-05` for `--group-by lr`); `key=value` for
    some of several keys (`--baseline sweep=before` for `--group-by sweep,arm`) compares
    each group with the one that differs from it only in those keys, taking their values
    from the baseline (each arm after the change against the same arm before it).
    By default: grouped by arm, vanilla (else the first arm); by one other key, the first
    group; by several keys, the first key's first value, paired within the other keys.
    UsageError when the baseline is no group or value of these runs."""
    names = found.names
    if requested is None:
        if found.by_arm or len(found.keys) == 1:
            base = "vanilla" if found.by_arm and "vanilla" in names else names[0]
            return {g: base for g in names if g != base}
        first = found.values[names[0]][0]
        return _paired(found, {found.keys[0]: NO_VALUE if first is None else first})
    if requested in names:
        return {g: requested for g in names if g != requested}
    if len(found.keys) == 1 and group_name(found.keys, [requested]) in names:
        base = group_name(found.keys, [requested])
        return {g: base for g in names if g != base}
    partial = _partial(requested, found.keys)
    if partial is not None and len(partial) < len(found.keys):
        pairs = _paired(found, partial)
        if pairs:
            return pairs
    word = "an arm" if found.by_arm else "a group"
    plural = "arms" if found.by_arm else "groups"
    msg = f"{requested!r} is not {word} of these logs; the {plural} are: {', '.join(names)}"
    raise UsageError(msg, "--baseline")


def _paired(found: Grouping, fixed: Mapping[str, str]) -> dict[str, str]:
    """Each group -> the group with `fixed`'s values for those keys and its own for the
    others, where that group exists and is not itself."""
    by_values = {values: name for name, values in found.values.items()}
    pairs = {}
    for name, values in found.values.items():
        wanted = tuple(
            (None if fixed[k] == NO_VALUE else fixed[k]) if k in fixed else v
            for k, v in zip(found.keys, values, strict=True)
        )
        base = by_values.get(wanted)
        if base is not None and base != name:
            pairs[name] = base
    return pairs


def baseline_words(found: Grouping, requested: str | None, pairs: Mapping[str, str]) -> str:
    """What the page calls the baseline: one group's name, or `sweep=before` when each
    group has its own."""
    targets = set(pairs.values())
    if len(targets) == 1:
        return next(iter(targets))
    if requested is not None:
        return requested
    first = found.values[found.names[0]][0]
    return f"{found.keys[0]}={NO_VALUE if first is None else first}"
