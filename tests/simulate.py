"""Realistic synthetic training logs, with the values a correct parser must read from them.

The demo report, the tests (messy logs, property-based) and the benchmarks all need logs
that look like the real ones (see `LOG_FORMAT.md` and the samples) but are generated on
demand, at any size, with a known answer. `simulate_run` writes one run's log text and
keeps `truth`: per metric, exactly what a correct parser reads from the written tokens.

Everything is deterministic: the same arguments give byte-identical output (numpy
`Generator`s seeded from the arguments, no wall clock). The numbers come from their own
random stream, so a messy variant (`ansi=True`, ...) of a run carries the same values as
the plain one wherever the mess leaves them readable.
"""

from __future__ import annotations

import argparse
import gzip
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "DEFAULT_ARMS",
    "METRICS",
    "SimulatedRun",
    "main",
    "simulate_run",
    "simulate_sweep",
    "write_sweep",
]

Generation = Literal["older", "newer", "converge"]

METRICS = ("hack", "solve", "teacher", "student")
# Where each display metric comes from; routing runs swap in the ablated-eval columns
# (the deployed model) when the header has both, as the reference does.
_METRIC_COLUMNS = {"hack": "hack_s", "solve": "gt_s", "teacher": "cos_pre_t",
                   "student": "cos_pre_s"}
_ROUTING_COLUMNS = {"hack": "hack_abl", "solve": "solve_abl"}

_START = np.datetime64("2026-11-20T14:02:11.000", "ms")
_MODEL = "Qwen2.5-0.5B"
_LOADING = f"loading model {_MODEL} (bf16) ..."
_VHACK = "vhack_l14_k8"
_ABLATE_EVERY = 10
_CHECKPOINT_EVERY = 50
_DEFAULT_REFRESH = 20  # the samples' --vhack-refresh-every
_SEP = "  "  # the training script separates cells with two spaces

_DISPLAY_ARM = {"vanilla": "vanilla", "static": "static erasure", "online": "online erasure",
                "routing": "routing"}
_PRESET_ARM = {"vanilla": "vanilla", "static": "projected", "online": "projected",
               "routing": "routing"}
_INTERVENTION = {"vanilla": "none", "projected": "erase", "routing": "route"}


@dataclass(frozen=True)
class _Hacking:
    """A logistic rise of a hack rate: zero before `onset`, then up to `plateau`.

    `onset` is a fraction of the run, so the curves keep their shape at any length.
    """

    onset: float
    plateau: float


@dataclass(frozen=True)
class _Dynamics:
    """The shape of one arm, read off the samples and the reference figure."""

    train: _Hacking  # hack_s: what the training-time forward does
    solve_end: float  # gt_s drifts linearly from ~0.21 to this
    ablated: _Hacking | None = None  # routing only: the deployed (ablated) model


_DYNAMICS = {
    "vanilla": _Dynamics(_Hacking(0.20, 0.85), solve_end=0.21),
    "static": _Dynamics(_Hacking(0.375, 0.60), solve_end=0.28),
    "online": _Dynamics(_Hacking(0.70, 0.25), solve_end=0.38),
    # The routed forward still hacks while training (like vanilla, a bit later); the
    # ablated model hacks late and little: that gap is the whole point of routing.
    "routing": _Dynamics(_Hacking(0.27, 0.80), solve_end=0.24, ablated=_Hacking(0.72, 0.12)),
    "other": _Dynamics(_Hacking(0.30, 0.45), solve_end=0.30),
}

# loguru's colours: green time, cyan call site, and the level's colour on level + message.
_RESET = "\x1b[0m"
_LEVEL_COLOUR = {"INFO": "\x1b[1m", "DEBUG": "\x1b[34m\x1b[1m", "SUCCESS": "\x1b[32m\x1b[1m",
                 "WARNING": "\x1b[33m\x1b[1m", "ERROR": "\x1b[31m\x1b[1m"}
# Noise for levels_noise: other levels, and INFO lines that start with a number but are
# shorter than any header (so a correct reader never takes them for rows).
_NOISE = (
    ("WARNING", "reward server slow: 4.2s for one batch"),
    ("WARNING", "grad norm 14.31 exceeds clip 1.0"),
    ("DEBUG", "kv cache resized to 4096 tokens"),
    ("DEBUG", "rollouts sampled in 3.12s"),
    ("SUCCESS", "eval cache warmed"),
    ("ERROR", "rollout worker died, restarting (1/3)"),
    ("INFO", "3 workers ready"),
    ("INFO", "128 eval problems cached"),
    ("INFO", "2 GPUs visible: cuda:0 cuda:1"),
)
_JUNK = b"\xff\xfe"
# A line as the script logs it: level, call site, message.
_Record = tuple[str, str, str]
# One block of rows as written: its steps and, per column, the values its cells hold.
_Segment = tuple[np.ndarray, dict[str, np.ndarray]]
_NAME = re.compile(r"[A-Za-z_]+")


@dataclass
class SimulatedRun:
    """One simulated log and the answer a correct parser must give for it."""

    name: str  # file name, e.g. demo_vanilla_s1.log
    text: str  # the whole log (== data decoded as UTF-8 with errors="replace")
    data: bytes  # the bytes to write to disk (text.encode(), unless bad_bytes spliced junk in)
    arm: str  # preset arm: vanilla, projected, routing or the arm's own word
    display_arm: str  # vanilla, static erasure, online erasure, routing, or the arm word
    seed: int
    refresh: int  # --vhack-refresh-every, 0 when frozen / absent
    v_hack: str  # NAME of --v-hack-path=out/NAME.safetensors, "-" when absent
    steps: np.ndarray  # unique steps a correct parser reads, sorted
    # metric -> float per step, NaN where missing: the four display metrics, then every
    # other column under its own name (T/F read as 1/0), as `report` reads them
    truth: dict[str, np.ndarray]
    missing: tuple[str, ...] = ()  # metrics the log has no column for
    argv: str = ""  # the argv message, from "argv:" on
    columns: tuple[str, ...] = ()  # header column names, decorations stripped
    generation: str = "converge"
    preset: str = "demo"
    options: dict[str, Any] = field(default_factory=dict)  # the messy options used

    @property
    def onset(self) -> int | None:
        """First step whose raw hack value is > 0 (what the report marks), or None."""
        hits = np.flatnonzero(self.truth["hack"] > 0)
        return int(self.steps[hits[0]]) if len(hits) else None


# --- tokens ------------------------------------------------------------------------------
# Cells are formatted by table lookup (index arrays -> strings), which is what makes a
# 48 x 20,000-step sweep take seconds. Each table has a twin of floats parsed from the very
# same strings, so `truth` is what float(token) gives, not what we meant to print.

_COS_TOKENS = [f"{m / 1000:+.3f}" for m in range(-1000, 1001)] + ["-0.000", "nan", "inf", "-inf"]
_COS_VALUES = np.array([float(t) for t in _COS_TOKENS[:2002]] + [np.nan] * 3)
_COS_NEG_ZERO, _COS_NAN = 2001, 2002  # nan, inf, -inf follow
_COS_TOKEN_ARRAY = np.array(_COS_TOKENS, dtype=object)
_LOSS_TOKENS = np.array([f"{i / 10000:.4f}" for i in range(10000)], dtype=object)
_LOSS_VALUES = np.array([float(t) for t in _LOSS_TOKENS])
_DT_TOKENS = np.array([f"{i / 100:.2f}" for i in range(1000)], dtype=object)
_DT_VALUES = np.array([float(t) for t in _DT_TOKENS])


def _fraction_tables(batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens `k/batch` for k = 0..batch, then the missing ones: `0/0`, `nan`, `inf`, and
    last the `-` of a routing step without an ablated eval."""
    tokens = [f"{k}/{batch}" for k in range(batch + 1)] + ["0/0", "nan", "inf", "-"]
    values = np.array([k / batch for k in range(batch + 1)] + [np.nan] * 4)
    return np.array(tokens, dtype=object), values


def _cos_index(rng: np.random.Generator, mean: np.ndarray, sd: float) -> np.ndarray:
    """Cosines as indices into the `%+.3f` table; a value that rounds to zero from below
    prints as `-0.000`, like the real logs."""
    raw = np.clip(mean + rng.normal(0.0, sd, mean.shape), -1.0, 1.0)
    milli = np.rint(raw * 1000).astype(np.int64)
    index = milli + 1000
    index[(milli == 0) & (raw < 0)] = _COS_NEG_ZERO
    return index


def _hack_rate(hacking: _Hacking, onset: float, width: float, t: np.ndarray) -> np.ndarray:
    """Zero before onset, then a logistic rise that starts at ~18% of the plateau."""
    rise = hacking.plateau / (1.0 + np.exp(-((t - onset) / width - 1.5)))
    return np.where(t >= onset, rise, 0.0)


# --- one run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Everything fixed for a run before any row is drawn."""

    kind: str  # vanilla, static, online, routing or other
    preset_arm: str
    refresh: int
    generation: str
    batch: int
    steps: int
    dynamics: _Dynamics
    onset: float  # training-time hack onset (step, fractional)
    ablated_onset: float
    width: float
    teacher_offset: float
    header: tuple[str, ...]  # decorated names, as printed
    columns: tuple[str, ...]  # clean names, same order

    @property
    def chatty(self) -> bool:
        """Whether the script logs loading, data, evals: the older one logged nothing but
        argv, preset and rows."""
        return self.generation != "older"


@dataclass(frozen=True)
class _Messy:
    """The ways `simulate_run` makes a log messy (its keyword flags), passed around as one."""

    ansi: bool = False
    loguru_default: bool = False
    no_prefix: bool = False
    crlf: bool = False
    truncate_last: bool = False
    bad_bytes: bool = False
    header_repeat: bool = False
    resume_at: int | None = None
    nan_cells: bool = False
    drop_columns: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()
    levels_noise: bool = False
    preset_in_argv: bool = False
    log_every: int = 1
    log_offset: int = 0

    def used(self) -> dict[str, Any]:
        """The options that are set, in declaration order (`SimulatedRun.options`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != f.default}


def _stable_seed(*parts: object) -> list[int]:
    """Seed material from the arguments; crc32, not hash(), which changes per process."""
    return [zlib.crc32(str(p).encode()) for p in parts]


def _rows(
    plan: _Plan, t: np.ndarray, rng: np.random.Generator, mess: np.random.Generator,
    nan_cells: bool,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Draw the rows for steps `t`: their messages and, per metric, the values they hold."""
    n, batch, dyn = len(t), plan.batch, plan.dynamics
    progress = t / plan.steps
    frac_tokens, frac_values = _fraction_tables(batch)

    p_hack = _hack_rate(dyn.train, plan.onset, plan.width, t)
    p_solve = _solve_rate(plan, t)
    hacked = p_hack / dyn.train.plateau  # 0 before onset -> 1 at the plateau
    index: dict[str, np.ndarray] = {
        "hack_s": rng.binomial(batch, p_hack),
        "gt_s": rng.binomial(batch, p_solve),
        "hack_t": rng.binomial(batch, 0.9 * p_hack),
        "gt_t": rng.binomial(batch, np.clip(p_solve + 0.03, 0.0, 1.0)),
        # The live gradients turn away from v_hack as the policy learns to hack.
        "cos_pre_t": _cos_index(rng, 0.31 + plan.teacher_offset - 0.155 * hacked, 0.03),
        "cos_pre_s": _cos_index(rng, 0.045 - 0.08 * hacked, 0.03),
    }
    loss = 0.70 - 0.45 * progress**0.9 + rng.normal(0.0, 0.015, n)
    loss_index = np.clip(np.rint(loss * 10000), 1, 9999).astype(np.int64)
    ref_eq = rng.random(n) < 0.5
    dt_index = rng.integers(80, 161, n)
    if dyn.ablated is not None:
        p_ablated = _hack_rate(dyn.ablated, plan.ablated_onset, plan.width, t)
        not_measured = t % _ABLATE_EVERY != 0
        for column, p in (("hack_abl", p_ablated), ("solve_abl", p_solve)):
            draw = rng.binomial(batch, p)
            draw[not_measured] = len(frac_tokens) - 1  # "-"
            index[column] = draw
    else:
        not_measured = np.zeros(n, dtype=bool)

    if nan_cells:
        # ~2% of the read cells go missing the ways real logs do: an empty batch (0/0), a
        # nan/inf from a zero-norm gradient. Never the "-" of an unmeasured routing step.
        for column, idx in index.items():
            hit = (mess.random(n) < 0.02) & ~(column.endswith("_abl") & not_measured)
            if column.startswith("cos"):
                idx[hit] = _COS_NAN + mess.integers(0, 3, int(hit.sum()))
            else:
                idx[hit] = batch + 1 + mess.integers(0, 3, int(hit.sum()))  # 0/0, nan, inf

    cells: dict[str, list[str]] = {
        "step": [str(s) for s in t.tolist()],
        "loss": _LOSS_TOKENS[loss_index].tolist(),
        "ref_eq": np.where(ref_eq, "T", "F").tolist(),
        "dt": _DT_TOKENS[dt_index].tolist(),
    }
    values: dict[str, np.ndarray] = {}
    for column, idx in index.items():
        table, floats = (_COS_TOKEN_ARRAY, _COS_VALUES) if column.startswith("cos") else (
            frac_tokens, frac_values)
        cells[column] = table[idx].tolist()
        values[column] = floats[idx]
    # The other columns' values, as a correct reader reads them: T/F as 1/0.
    values.update(loss=_LOSS_VALUES[loss_index], ref_eq=ref_eq.astype(float),
                  dt=_DT_VALUES[dt_index])
    if "refr" in plan.columns:
        refreshed = (t > 0) & (t % plan.refresh == 0) if plan.refresh else np.zeros(n, bool)
        cells["refr"] = np.where(refreshed, "1", "0").tolist()
        values["refr"] = refreshed.astype(float)
    for column in plan.columns:
        if column not in cells:  # an extra column: some positive diagnostic
            cells[column] = [f"{v:.4f}" for v in np.abs(rng.normal(0.05, 0.03, n)).tolist()]
            values[column] = np.array([float(v) for v in cells[column]])

    messages = list(map(_SEP.join, zip(*(cells[c] for c in plan.columns), strict=True)))
    return messages, values


def _solve_rate(plan: _Plan, t: np.ndarray) -> np.ndarray:
    """Ground-truth solve probability: a linear drift from 0.21 to the arm's end value."""
    end = plan.dynamics.solve_end
    return np.clip(0.21 + (end - 0.21) * t / plan.steps, 0.0, 1.0)


def _evals(plan: _Plan, t: np.ndarray, rng: np.random.Generator) -> dict[int, str]:
    """Row index -> the `eval step=N ...` message the script logs after each checkpoint
    step (every 50, not at 0): a fresh batch of the training-time model, so noise."""
    at = np.flatnonzero((t % _CHECKPOINT_EVERY == 0) & (t > 0))
    n = t[at]
    hack = rng.binomial(plan.batch, _hack_rate(plan.dynamics.train, plan.onset, plan.width, n))
    solve = rng.binomial(plan.batch, _solve_rate(plan, n))
    return {i: f"eval step={s} hack={h / plan.batch:.3f} solve={v / plan.batch:.3f}"
            for i, s, h, v in zip(at.tolist(), n.tolist(), hack.tolist(), solve.tolist(),
                                  strict=True)}


def _metric_sources(plan: _Plan) -> dict[str, str | None]:
    """Metric -> the header column a correct parser reads it from (None: no column): the
    four display metrics, then every other column under its own name (a routing run's
    training-time hack_s and gt_s among them), in header order."""
    sources = dict(_METRIC_COLUMNS)
    if plan.kind == "routing" and {"hack_abl", "solve_abl"} <= set(plan.columns):
        sources.update(_ROUTING_COLUMNS)
    found: dict[str, str | None] = {m: (c if c in plan.columns else None)
                                    for m, c in sources.items()}
    read = set(sources.values())
    found.update({c: c for c in plan.columns if c != "step" and c not in read})
    return found


class _Log:
    """Lines (level, call site, message) in the order they are written."""

    def __init__(self) -> None:
        self.levels: list[str] = []
        self.sites: list[str] = []
        self.messages: list[str] = []
        self.pause_after: list[int] = []  # line indices followed by a long gap (a restart)
        self.last_row = -1  # line index of the last row written

    def add(self, level: str, site: str, message: str) -> None:
        self.levels.append(level)
        self.sites.append(site)
        self.messages.append(message)

    def extend(self, records: Iterable[_Record]) -> None:
        for record in records:
            self.add(*record)

    def add_rows(self, messages: list[str], after: dict[int, list[_Record]]) -> None:
        """Add table rows, row i followed by the lines in `after[i]`; note the last row."""
        for i, message in enumerate(messages):
            self.add("INFO", "__main__:train:88", message)
            self.last_row = len(self.messages) - 1
            for record in after.get(i, ()):
                self.add(*record)


def _format(log: _Log, rng: np.random.Generator, *, ansi: bool, loguru_default: bool,
            no_prefix: bool) -> list[str]:
    """Put each message behind the prefix a logger of that configuration writes."""
    if no_prefix:
        return log.messages
    n = len(log.messages)
    gaps = rng.integers(200, 1500, n)
    gaps[0] = rng.integers(0, 1300)
    if log.pause_after:
        gaps[np.array(log.pause_after) + 1] += rng.integers(20_000, 90_000, len(log.pause_after))
    stamps = np.datetime_as_string(_START + np.cumsum(gaps).astype("timedelta64[ms]"), unit="ms")
    times = [s.replace("T", " ") for s in stamps.tolist()]
    rows = zip(times, log.levels, log.sites, log.messages, strict=True)
    if not ansi and not loguru_default:
        return [f"{tm} | {lv} | {msg}" for tm, lv, _, msg in rows]
    if not ansi:
        return [f"{tm} | {lv:<8} | {site} - {msg}" for tm, lv, site, msg in rows]
    lines = []
    for tm, lv, site, msg in rows:
        colour = _LEVEL_COLOUR[lv]
        if loguru_default:
            where = ":".join(f"\x1b[36m{part}{_RESET}" for part in site.split(":"))
            lines.append(f"\x1b[32m{tm}{_RESET} | {colour}{lv:<8}{_RESET} | {where} - "
                         f"{colour}{msg}{_RESET}")
        else:
            lines.append(f"\x1b[32m{tm}{_RESET} | {colour}{lv}{_RESET} | {colour}{msg}{_RESET}")
    return lines


def _make_plan(arm: str, seed: int, steps: int, refresh: int, generation: str, batch: int,
               rng: np.random.Generator, drop_columns: Sequence[str],
               extra_columns: Sequence[str], mess: np.random.Generator) -> _Plan:
    """Validate the arguments and fix the run's arm, curves and columns."""
    _check_arguments(arm, seed, steps, refresh, generation, batch)
    kind, refresh = _arm_kind(arm, refresh)
    dynamics = _DYNAMICS[kind]
    onset = _onset(dynamics.train.onset, steps, rng)
    ablated_onset = (_onset(dynamics.ablated.onset, steps, rng) if dynamics.ablated
                     else float("inf"))
    teacher_offset = float(rng.normal(0.0, 0.012))
    header = _header_columns(kind, generation)
    names = [_column_name(h) for h in header]
    header = _add_columns(_drop_columns(header, names, drop_columns), names, extra_columns,
                          mess)
    return _Plan(
        kind=kind, preset_arm=_PRESET_ARM.get(kind, arm), refresh=refresh,
        generation=generation, batch=batch, steps=steps, dynamics=dynamics, onset=onset,
        ablated_onset=ablated_onset, width=max(1.0, 0.05 * steps),
        teacher_offset=teacher_offset, header=tuple(header),
        columns=tuple(map(_column_name, header)),
    )


def _check_arguments(arm: str, seed: int, steps: int, refresh: int, generation: str,
                     batch: int) -> None:
    """Refuse arguments no real run has, before anything is drawn from them."""
    if not re.fullmatch(r"\w+", arm):
        msg = f"arm must be one word (it is written as arm=WORD), got {arm!r}"
        raise ValueError(msg)
    if seed < 0 or steps < 1 or batch < 1:
        msg = f"need seed >= 0, steps >= 1 and batch >= 1, got {seed=}, {steps=}, {batch=}"
        raise ValueError(msg)
    if generation not in ("older", "newer", "converge"):
        msg = f"generation must be older, newer or converge, got {generation!r}"
        raise ValueError(msg)
    if refresh < 0:
        msg = f"refresh must be >= 0, got {refresh}"
        raise ValueError(msg)


def _arm_kind(arm: str, refresh: int) -> tuple[str, int]:
    """The arm's kind (which curves it follows) and its refresh interval: projected is
    static when frozen and online when refreshed, online refreshes every 20 steps unless
    told otherwise, and no other kind refreshes."""
    if arm == "projected":
        kind = "online" if refresh else "static"
    else:
        kind = arm if arm in _DYNAMICS else "other"
    if kind == "online":
        return kind, refresh or _DEFAULT_REFRESH
    if refresh:
        msg = f"only projected/online arms refresh v_hack, got arm={arm!r} refresh={refresh}"
        raise ValueError(msg)
    return kind, refresh


def _onset(fraction: float, steps: int, rng: np.random.Generator) -> float:
    """A hack onset step: it scales with the run, and seeds scatter it more the later it
    comes (samples: vanilla 37-47, static 63-82, online 126-152 of 200 steps)."""
    return max(1.0, fraction * steps * (1.0 + rng.normal(0.0, 0.09)))


def _header_columns(kind: str, generation: str) -> list[str]:
    """The header the script of this generation prints for this kind of arm."""
    header = ["step", "loss", "hack_s↑", "gt_s↑", "hack_t", "gt_t", "cos_pre_t", "cos_pre_s",
              "ref_eq"]
    if generation == "newer":
        header.append("refr")
    if kind == "routing" and generation != "older":
        header += ["hack_abl", "solve_abl"]
    header.append("dt")
    return header


def _drop_columns(header: list[str], names: list[str], drop: Sequence[str]) -> list[str]:
    """`header` without the columns named in `drop` (`names`: its clean names); `step`
    stays, and a name the header does not have is an error."""
    for column in drop:
        if column not in names or column == "step":
            msg = f"cannot drop column {column!r}; the header has {', '.join(names[1:])}"
            raise ValueError(msg)
    return [h for h, c in zip(header, names, strict=True) if c not in drop]


def _add_columns(header: list[str], taken: list[str], extra: Sequence[str],
                 mess: np.random.Generator) -> list[str]:
    """`header` with the `extra` columns inserted at random places after `step`; each must
    be a new name (not in `taken`, the full header's names, dropped ones included)."""
    header = list(header)
    for column in extra:
        if not _NAME.fullmatch(column) or column in taken:
            msg = f"extra column {column!r} must be a new name of letters and underscores"
            raise ValueError(msg)
        header.insert(int(mess.integers(1, len(header) + 1)), column)
    return header


def _column_name(token: str) -> str:
    """`hack_s↑` -> `hack_s`: the leading run of letters and underscores."""
    match = _NAME.match(token)
    return match.group(0) if match else token


def _argv(plan: _Plan, preset: str, seed: int) -> str:
    """The argv message in the generation's flag style."""
    flags = [f"--preset={preset}"]
    if plan.generation == "older":
        flags.append(f"--arm={plan.preset_arm}")
    else:
        flags.append(f"--intervention={_INTERVENTION.get(plan.preset_arm, plan.preset_arm)}")
    if plan.refresh:
        flags.append(f"--vhack-refresh-every={plan.refresh}")
    if plan.preset_arm in ("projected", "routing"):
        flags.append(f"--v-hack-path=out/{_VHACK}.safetensors")
    if plan.kind == "routing" and plan.generation != "older":
        flags.append(f"--eval-ablate-every={_ABLATE_EVERY}")
    flags += [f"--seed={seed}", f"--steps={plan.steps}"]
    return "argv: scripts/train.py " + " ".join(flags)


def _preset_line(plan: _Plan, preset: str, seed: int) -> str:
    """The separate preset message that follows argv."""
    return (f"preset={preset} arm={plan.preset_arm} seed={seed} lr=1e-05 batch={plan.batch} "
            f"steps={plan.steps} model={_MODEL}")


def _check_messy(messy: _Messy, steps: int, generation: str) -> None:
    """Refuse messy options that cannot apply to this run."""
    if messy.resume_at is not None and not 1 <= messy.resume_at <= steps:
        msg = f"resume_at must be within 1..steps ({steps}), got {messy.resume_at}"
        raise ValueError(msg)
    if messy.preset_in_argv and generation != "older":
        msg = "preset_in_argv needs generation='older' (only --arm= argv lines carry arm=)"
        raise ValueError(msg)
    if not 0 <= messy.log_offset < messy.log_every:
        msg = f"log_offset must be within 0..log_every-1, got {messy.log_offset}"
        raise ValueError(msg)


def _logged(segments: list[np.ndarray], messy: _Messy) -> list[np.ndarray]:
    """The segments' steps the job logs (every `log_every` steps from `log_offset`)."""
    return [t[t % messy.log_every == messy.log_offset] for t in segments]


def _segments(steps: int, resume_at: int | None) -> list[np.ndarray]:
    """The steps actually written: one segment, or two when the job is killed at
    `resume_at` and resumed from the last checkpoint below it."""
    if resume_at is None:
        return [np.arange(steps)]
    checkpoint = (resume_at - 1) // _CHECKPOINT_EVERY * _CHECKPOINT_EVERY
    return [np.arange(resume_at), np.arange(checkpoint, steps)]


def _opening(plan: _Plan, messy: _Messy, argv: str, preset_line: str,
             resumed_from: int | None) -> list[_Record]:
    """The lines a (re)started job logs before its first row, ending with the header."""
    records = [("INFO", "__main__:main:212", argv)]
    if not messy.preset_in_argv:
        records.append(("INFO", "__main__:main:230", preset_line))
    if plan.chatty or messy.bad_bytes:
        records.append(("INFO", "__main__:load_model:61", _LOADING))
    if plan.chatty:
        records.append(("INFO", "__main__:load_data:75",
                        "dataset: 1,204 train problems, 128 eval problems"))
    if resumed_from is not None:
        records.append(("INFO", "__main__:main:241",
                        f"resuming from out/ckpt/step_{resumed_from:06d} (step {resumed_from})"))
    records.append(("INFO", "__main__:train:84", _SEP.join(plan.header)))
    return records


def _noise(n: int, mess: np.random.Generator) -> list[tuple[int, _Record]]:
    """levels_noise: (row index, line) for about one row in 25, at least two; the kinds
    cycle so that a long enough run has every one of them."""
    first = int(mess.integers(0, len(_NOISE)))
    at = np.sort(mess.integers(0, n, max(2, n // 25))).tolist()
    noise = []
    for j, i in enumerate(at):
        level, message = _NOISE[(first + j) % len(_NOISE)]
        noise.append((i, (level, "__main__:train:97", message)))
    return noise


def _interleaved(plan: _Plan, t: np.ndarray, numbers: np.random.Generator,
                 mess: np.random.Generator, *, header_repeat: bool,
                 levels_noise: bool) -> dict[int, list[_Record]]:
    """Row index -> the lines logged right after that row: eval and checkpoint, a reload
    that repeats the header halfway (`header_repeat`), noise at other levels."""
    after: dict[int, list[_Record]] = {}
    if plan.chatty:
        for i, eval_message in _evals(plan, t, numbers).items():
            after[i] = [("INFO", "__main__:evaluate:140", eval_message),
                        ("DEBUG", "__main__:save:171", "checkpoint saved")]
    if header_repeat and len(t) > 1:
        after.setdefault(len(t) // 2 - 1, []).extend([
            ("INFO", "__main__:load_model:61", _LOADING),
            ("INFO", "__main__:train:84", _SEP.join(plan.header))])
    if levels_noise:
        for i, record in _noise(len(t), mess):
            after.setdefault(i, []).append(record)
    return after


def _write_log(plan: _Plan, messy: _Messy, argv: str, preset_line: str,
               numbers: np.random.Generator, resumed: np.random.Generator,
               mess: np.random.Generator) -> tuple[_Log, list[_Segment]]:
    """Log the job block by block (one, two when resumed): opening lines, then rows with
    what the script logs between them. Returns the log and, per block, its steps and
    column values."""
    log = _Log()
    segments = _logged(_segments(plan.steps, messy.resume_at), messy)
    written: list[_Segment] = []
    for number, t in enumerate(segments):
        # The resumed segment draws from its own stream: different values, same curves.
        messages, values = _rows(plan, t, resumed if number else numbers, mess,
                                 messy.nan_cells)
        if number:
            log.pause_after.append(len(log.messages) - 1)  # the restart takes a while
        log.extend(_opening(plan, messy, argv, preset_line, int(t[0]) if number else None))
        last = number == len(segments) - 1
        log.add_rows(messages, _interleaved(plan, t, numbers, mess,
                                            header_repeat=messy.header_repeat and last,
                                            levels_noise=messy.levels_noise))
        written.append((t, values))
    if plan.chatty:
        log.add("SUCCESS", "__main__:main:260", "done")
    return log, written


def _cut_last_row(lines: list[str], log: _Log, mess: np.random.Generator) -> list[str]:
    """truncate_last: the job died mid-write, so the file ends inside its last row (in its
    first half of cells), nothing after it."""
    lines = lines[: log.last_row + 1]
    message = log.messages[log.last_row]
    cells = message.split(_SEP)
    keep_upto = len(_SEP.join(cells[: max(1, len(cells) // 2)]))
    cut = int(mess.integers(1, keep_upto + 1))
    lines[-1] = lines[-1][: lines[-1].index(message) + cut]
    return lines


def _splice_junk(data: bytes) -> bytes:
    """bad_bytes: invalid UTF-8 inside the loading line, right after `(bf16`."""
    marker = f"{_MODEL} (bf16".encode()
    at = data.index(marker) + len(marker)
    return data[:at] + _JUNK + data[at:]


def _truth(written: list[_Segment], sources: dict[str, str | None], *,
           truncated: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The steps and, per metric, the values a correct parser reads: one value per step,
    the later occurrence winning (a resumed run rewrites steps); a cut row is not read."""
    steps = np.concatenate([t for t, _ in written])
    values = {m: np.concatenate([v[c] if c else np.full(len(t), np.nan) for t, v in written])
              for m, c in sources.items()}
    if truncated:
        steps, values = steps[:-1], {m: v[:-1] for m, v in values.items()}
    unique, last_from_end = np.unique(steps[::-1], return_index=True)
    keep = len(steps) - 1 - last_from_end
    return unique.astype(np.int64), {m: values[m][keep].astype(float) for m in sources}


def simulate_run(
    arm: str,
    seed: int,
    steps: int = 200,
    *,
    preset: str = "demo",
    refresh: int = 0,
    generation: Generation = "converge",
    batch: int = 28,
    ansi: bool = False,
    loguru_default: bool = False,
    no_prefix: bool = False,
    crlf: bool = False,
    truncate_last: bool = False,
    bad_bytes: bool = False,
    header_repeat: bool = False,
    resume_at: int | None = None,
    nan_cells: bool = False,
    drop_columns: Sequence[str] = (),
    extra_columns: Sequence[str] = (),
    levels_noise: bool = False,
    preset_in_argv: bool = False,
    log_every: int = 1,
    log_offset: int = 0,
) -> SimulatedRun:
    """Simulate one run's log: `arm` is vanilla, static, online, routing, projected (static
    or online by `refresh`) or any other word (a new arm, written as `arm=WORD`).

    `refresh` is --vhack-refresh-every (online defaults to 20). The keyword flags make the
    log messy the ways real ones are; `truth` and `steps` stay what a correct parser reads:
    `resume_at=K` kills the job at step K and resumes it from the last checkpoint below K
    (repeated steps, the later value wins); `preset_in_argv` (older logs only) drops the
    separate preset line, so argv carries --preset= and --arm=; `log_every=N` with
    `log_offset=K` logs a row only at the steps K, K+N, K+2N, ... (a job that logs every
    N steps: seeds with other offsets are on other step grids).
    """
    messy = _Messy(
        ansi=ansi, loguru_default=loguru_default, no_prefix=no_prefix, crlf=crlf,
        truncate_last=truncate_last, bad_bytes=bad_bytes, header_repeat=header_repeat,
        resume_at=resume_at, nan_cells=nan_cells, drop_columns=tuple(drop_columns),
        extra_columns=tuple(extra_columns), levels_noise=levels_noise,
        preset_in_argv=preset_in_argv, log_every=log_every, log_offset=log_offset)
    base = _stable_seed(arm, preset, steps, batch, refresh, generation)
    numbers = np.random.default_rng([seed, *base, 0])  # values: same for any messy options
    mess = np.random.default_rng([seed, *base, 1])  # where the mess goes
    clock = np.random.default_rng([seed, *base, 2])  # timestamps
    resumed = np.random.default_rng([seed, *base, 3])  # values after a resume
    plan = _make_plan(arm, seed, steps, refresh, generation, batch, numbers,
                      messy.drop_columns, messy.extra_columns, mess)
    _check_messy(messy, steps, generation)

    argv = _argv(plan, preset, seed)
    log, written = _write_log(plan, messy, argv, _preset_line(plan, preset, seed), numbers,
                              resumed, mess)
    lines = _format(log, clock, ansi=ansi, loguru_default=loguru_default, no_prefix=no_prefix)
    eol = "\r\n" if crlf else "\n"
    text = eol.join(_cut_last_row(lines, log, mess)) if truncate_last else eol.join(lines) + eol
    data = text.encode()
    if bad_bytes:
        data = _splice_junk(data)
        text = data.decode("utf-8", errors="replace")
    sources = _metric_sources(plan)
    unique, truth = _truth(written, sources, truncated=truncate_last)
    return SimulatedRun(
        name=f"{preset}_{arm}_s{seed}.log",
        text=text,
        data=data,
        arm=plan.preset_arm,
        display_arm=_DISPLAY_ARM.get(plan.kind, arm),
        seed=seed,
        refresh=plan.refresh,
        v_hack=_VHACK if plan.preset_arm in ("projected", "routing") else "-",
        steps=unique,
        truth=truth,
        missing=tuple(m for m in METRICS if sources[m] is None),
        argv=argv,
        columns=plan.columns,
        generation=generation,
        preset=preset,
        options=messy.used(),
    )


# --- sweeps, files, CLI --------------------------------------------------------------------

DEFAULT_ARMS = ("vanilla", "static", "online", "routing")


def simulate_sweep(
    arms: Sequence[str] = DEFAULT_ARMS,
    seeds: Sequence[int] = (1, 2, 3),
    steps: int = 200,
    preset: str = "demo",
    generation: Generation = "converge",
    **options: Any,
) -> list[SimulatedRun]:
    """Every arm x seed, arm-major (names `{preset}_{arm}_s{seed}.log`); `options` go to
    `simulate_run` (batch, refresh, the messy flags)."""
    return list(_iter_sweep(arms, seeds, steps, preset, generation, **options))


def _iter_sweep(
    arms: Sequence[str] = DEFAULT_ARMS,
    seeds: Sequence[int] = (1, 2, 3),
    steps: int = 200,
    preset: str = "demo",
    generation: Generation = "converge",
    **options: Any,
) -> Iterator[SimulatedRun]:
    """`simulate_sweep` one run at a time, so writing a big sweep holds one log in memory."""
    for arm in arms:
        for seed in seeds:
            yield simulate_run(arm, seed, steps, preset=preset, generation=generation,
                               **options)


def write_sweep(
    folder: str | Path,
    runs: Iterable[SimulatedRun] | None = None,
    *,
    gz: bool = False,
    **sweep_args: Any,
) -> list[Path]:
    """Write runs' `data` (junk bytes included) into `folder`, one file each, and return the
    paths. Without `runs`, simulate them: `sweep_args` go to `simulate_sweep`. With `gz`,
    files are `*.log.gz` with a zero mtime, so they too are byte-identical across calls."""
    if runs is None:
        runs = _iter_sweep(**sweep_args)
    elif sweep_args:
        msg = f"pass runs or simulate_sweep arguments, not both: {sorted(sweep_args)}"
        raise TypeError(msg)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for run in runs:
        path = out / (run.name + ".gz" if gz else run.name)
        # Level 1: the benchmarks time the reader, not the compressor (6 is ~5x slower).
        path.write_bytes(gzip.compress(run.data, compresslevel=1, mtime=0) if gz else run.data)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """`python tests/simulate.py OUT_DIR`: write a simulated sweep (demo, benchmarks)."""
    parser = argparse.ArgumentParser(
        prog="python tests/simulate.py",
        description="Write simulated training logs: every arm x seed, one file each.")
    parser.add_argument("out_dir", type=Path, help="folder to write the logs into")
    parser.add_argument("--arms", nargs="+", default=list(DEFAULT_ARMS),
                        help="vanilla, static, online, routing or any other word "
                             "(default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default: 3)")
    parser.add_argument("--steps", type=int, default=200, help="steps per run (default: 200)")
    parser.add_argument("--preset", default="demo", help="preset name (default: demo)")
    parser.add_argument("--generation", choices=("older", "newer", "converge"),
                        default="converge", help="log format generation (default: converge)")
    parser.add_argument("--gz", action="store_true", help="write gzip-compressed *.log.gz")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.steps < 1:
        parser.error("--seeds and --steps must be >= 1")
    try:
        paths = write_sweep(args.out_dir, arms=args.arms, seeds=range(1, args.seeds + 1),
                            steps=args.steps, preset=args.preset,
                            generation=args.generation, gz=args.gz)
    except ValueError as err:
        parser.error(str(err))
    print(f"wrote {len(paths)} logs to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
