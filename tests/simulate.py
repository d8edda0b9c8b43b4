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
from dataclasses import dataclass, field
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
    truth: dict[str, np.ndarray]  # metric -> float per step, NaN where missing
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
_DT_TOKENS = np.array([f"{i / 100:.2f}" for i in range(1000)], dtype=object)


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
    if "refr" in plan.columns:
        refreshed = (t > 0) & (t % plan.refresh == 0) if plan.refresh else np.zeros(n, bool)
        cells["refr"] = np.where(refreshed, "1", "0").tolist()
    for column in plan.columns:
        if column not in cells:  # an extra column: some positive diagnostic
            cells[column] = [f"{v:.4f}" for v in np.abs(rng.normal(0.05, 0.03, n)).tolist()]

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
    """Metric -> the header column a correct parser reads it from (None: no column)."""
    sources = dict(_METRIC_COLUMNS)
    if plan.kind == "routing" and {"hack_abl", "solve_abl"} <= set(plan.columns):
        sources.update(_ROUTING_COLUMNS)
    return {m: (c if c in plan.columns else None) for m, c in sources.items()}


class _Log:
    """Lines (level, call site, message) in the order they are written."""

    def __init__(self) -> None:
        self.levels: list[str] = []
        self.sites: list[str] = []
        self.messages: list[str] = []
        self.pause_after: list[int] = []  # line indices followed by a long gap (a restart)

    def add(self, level: str, site: str, message: str) -> None:
        self.levels.append(level)
        self.sites.append(site)
        self.messages.append(message)


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
    if arm == "projected":
        kind = "online" if refresh else "static"
    else:
        kind = arm if arm in _DYNAMICS else "other"
    if kind == "online":
        refresh = refresh or _DEFAULT_REFRESH
    elif refresh:
        msg = f"only projected/online arms refresh v_hack, got arm={arm!r} refresh={refresh}"
        raise ValueError(msg)
    preset_arm = _PRESET_ARM.get(kind, arm)
    dynamics = _DYNAMICS[kind]

    # Onsets scale with the run; seeds scatter them more the later they come (samples:
    # vanilla 37-47, static 63-82, online 126-152 of 200 steps).
    def onset_of(fraction: float) -> float:
        return max(1.0, fraction * steps * (1.0 + rng.normal(0.0, 0.09)))

    onset = onset_of(dynamics.train.onset)
    ablated_onset = onset_of(dynamics.ablated.onset) if dynamics.ablated else float("inf")
    teacher_offset = float(rng.normal(0.0, 0.012))

    header = ["step", "loss", "hack_s↑", "gt_s↑", "hack_t", "gt_t", "cos_pre_t", "cos_pre_s",
              "ref_eq"]
    if generation == "newer":
        header.append("refr")
    if kind == "routing" and generation != "older":
        header += ["hack_abl", "solve_abl"]
    header.append("dt")
    clean = [_column_name(h) for h in header]
    for column in drop_columns:
        if column not in clean or column == "step":
            msg = f"cannot drop column {column!r}; the header has {', '.join(clean[1:])}"
            raise ValueError(msg)
    header = [h for h, c in zip(header, clean, strict=True) if c not in drop_columns]
    for column in extra_columns:
        if not _NAME.fullmatch(column) or column in clean:
            msg = f"extra column {column!r} must be a new name of letters and underscores"
            raise ValueError(msg)
        header.insert(int(mess.integers(1, len(header) + 1)), column)
    return _Plan(
        kind=kind, preset_arm=preset_arm, refresh=refresh, generation=generation, batch=batch,
        steps=steps, dynamics=dynamics, onset=onset, ablated_onset=ablated_onset,
        width=max(1.0, 0.05 * steps), teacher_offset=teacher_offset, header=tuple(header),
        columns=tuple(map(_column_name, header)),
    )


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
) -> SimulatedRun:
    """Simulate one run's log: `arm` is vanilla, static, online, routing, projected (static
    or online by `refresh`) or any other word (a new arm, written as `arm=WORD`).

    `refresh` is --vhack-refresh-every (online defaults to 20). The keyword flags make the
    log messy the ways real ones are; `truth` and `steps` stay what a correct parser reads:
    `resume_at=K` kills the job at step K and resumes it from the last checkpoint below K
    (repeated steps, the later value wins); `preset_in_argv` (older logs only) drops the
    separate preset line, so argv carries --preset= and --arm=.
    """
    options = {k: v for k, v in dict(
        ansi=ansi, loguru_default=loguru_default, no_prefix=no_prefix, crlf=crlf,
        truncate_last=truncate_last, bad_bytes=bad_bytes, header_repeat=header_repeat,
        resume_at=resume_at, nan_cells=nan_cells, drop_columns=tuple(drop_columns),
        extra_columns=tuple(extra_columns), levels_noise=levels_noise,
        preset_in_argv=preset_in_argv).items() if v}
    base = _stable_seed(arm, preset, steps, batch, refresh, generation)
    numbers = np.random.default_rng([seed, *base, 0])  # values: same for any messy options
    mess = np.random.default_rng([seed, *base, 1])  # where the mess goes
    clock = np.random.default_rng([seed, *base, 2])  # timestamps
    plan = _make_plan(arm, seed, steps, refresh, generation, batch, numbers,
                      drop_columns, extra_columns, mess)
    if resume_at is not None and not 1 <= resume_at <= steps:
        msg = f"resume_at must be within 1..steps ({steps}), got {resume_at}"
        raise ValueError(msg)
    if preset_in_argv and generation != "older":
        msg = "preset_in_argv needs generation='older' (only --arm= argv lines carry arm=)"
        raise ValueError(msg)

    argv = _argv(plan, preset, seed)
    preset_line = (f"preset={preset} arm={plan.preset_arm} seed={seed} lr=1e-05 batch={batch} "
                   f"steps={steps} model={_MODEL}")
    loading = f"loading model {_MODEL} (bf16) ..."
    chatty = generation != "older"  # the older script logged nothing but argv, preset, rows
    log = _Log()

    def start_block(resumed_from: int | None = None) -> None:
        log.add("INFO", "__main__:main:212", argv)
        if not preset_in_argv:
            log.add("INFO", "__main__:main:230", preset_line)
        if chatty or bad_bytes:
            log.add("INFO", "__main__:load_model:61", loading)
        if chatty:
            log.add("INFO", "__main__:load_data:75", "dataset: 1,204 train problems, "
                    "128 eval problems")
        if resumed_from is not None:
            log.add("INFO", "__main__:main:241",
                    f"resuming from out/ckpt/step_{resumed_from:06d} (step {resumed_from})")
        log.add("INFO", "__main__:train:84", _SEP.join(plan.header))

    # Segments of steps actually written: one, or two when the job is killed and resumed.
    segments = [np.arange(steps)]
    if resume_at is not None:
        checkpoint = (resume_at - 1) // _CHECKPOINT_EVERY * _CHECKPOINT_EVERY
        segments = [np.arange(resume_at), np.arange(checkpoint, steps)]
    sources = _metric_sources(plan)
    row_steps: list[np.ndarray] = []
    row_values: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    last_row_line = -1
    for number, t in enumerate(segments):
        # The resumed segment draws from its own stream: different values, same curves.
        rng = numbers if number == 0 else np.random.default_rng([seed, *base, 3])
        messages, values = _rows(plan, t, rng, mess, nan_cells)
        if number:
            log.pause_after.append(len(log.messages) - 1)  # the restart takes a while
        start_block(None if number == 0 else int(t[0]))
        extra: dict[int, list[tuple[str, str, str]]] = {}
        if chatty:
            for i, eval_message in _evals(plan, t, numbers).items():
                extra[i] = [("INFO", "__main__:evaluate:140", eval_message),
                            ("DEBUG", "__main__:save:171", "checkpoint saved")]
        if header_repeat and number == len(segments) - 1 and len(t) > 1:
            middle = len(t) // 2 - 1
            extra.setdefault(middle, []).extend([
                ("INFO", "__main__:load_model:61", loading),
                ("INFO", "__main__:train:84", _SEP.join(plan.header))])
        if levels_noise:
            # Cycle through the kinds so that a long enough run has every one of them.
            first = int(mess.integers(0, len(_NOISE)))
            at = np.sort(mess.integers(0, len(t), max(2, len(t) // 25))).tolist()
            for j, i in enumerate(at):
                level, message = _NOISE[(first + j) % len(_NOISE)]
                extra.setdefault(i, []).append((level, "__main__:train:97", message))
        for i, message in enumerate(messages):
            log.add("INFO", "__main__:train:88", message)
            last_row_line = len(log.messages) - 1
            for record in extra.get(i, ()):
                log.add(*record)
        row_steps.append(t)
        for metric, column in sources.items():
            row_values[metric].append(values[column] if column else np.full(len(t), np.nan))
    if chatty:
        log.add("SUCCESS", "__main__:main:260", "done")

    all_steps = np.concatenate(row_steps)
    all_values = {m: np.concatenate(v) for m, v in row_values.items()}
    lines = _format(log, clock, ansi=ansi, loguru_default=loguru_default, no_prefix=no_prefix)
    eol = "\r\n" if crlf else "\n"
    if truncate_last:
        # The job died mid-write: the file ends inside its last row, nothing after it.
        lines = lines[: last_row_line + 1]
        message = log.messages[last_row_line]
        cells = message.split(_SEP)
        keep_upto = len(_SEP.join(cells[: max(1, len(cells) // 2)]))
        cut = int(mess.integers(1, keep_upto + 1))
        line = lines[-1]
        lines[-1] = line[: line.index(message) + cut]
        all_steps, all_values = all_steps[:-1], {m: v[:-1] for m, v in all_values.items()}
        text = eol.join(lines)
    else:
        text = eol.join(lines) + eol
    data = text.encode()
    if bad_bytes:
        marker = f"{_MODEL} (bf16".encode()
        at = data.index(marker) + len(marker)
        data = data[:at] + _JUNK + data[at:]
        text = data.decode("utf-8", errors="replace")

    # One value per step, the later occurrence winning (a resumed run rewrites steps).
    unique, last_from_end = np.unique(all_steps[::-1], return_index=True)
    keep = len(all_steps) - 1 - last_from_end
    return SimulatedRun(
        name=f"{preset}_{arm}_s{seed}.log",
        text=text,
        data=data,
        arm=plan.preset_arm,
        display_arm=_DISPLAY_ARM.get(plan.kind, arm),
        seed=seed,
        refresh=plan.refresh,
        v_hack=_VHACK if plan.preset_arm in ("projected", "routing") else "-",
        steps=unique.astype(np.int64),
        truth={m: all_values[m][keep].astype(float) for m in METRICS},
        missing=tuple(m for m in METRICS if sources[m] is None),
        argv=argv,
        columns=plan.columns,
        generation=generation,
        preset=preset,
        options=options,
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
