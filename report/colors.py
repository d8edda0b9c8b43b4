"""Colours of groups: the lines of the overlay and the time-to-hack chart, the columns of
the All-metrics charts. Display only (part of the charts layer).

Every choice below is checked in `tests/test_colors.py` by simulating deuteranopia and
protanopia (Machado, Oliveira & Fernandes 2009, severity 1) and measuring CIE76 colour
differences (ΔE*ab, Euclidean distance in CIELAB):

- **A fixed colour per group** (`--arm-colors fixed`, the default). Grouped by arm, the
  reference's four arm colours stay (grey, amber, navy, green: every pair at least
  ΔE 16.6 apart in normal vision and in both simulations); another arm takes one of the
  colours of Paul Tol's "muted" scheme that stay as far from those four. Grouped by any
  other key, groups take Tol's "muted" scheme in order: nine colours designed to stay
  distinct for red-green colour-blind readers (every pair at least ΔE 15.6 apart in the
  three visions), with its two pale colours, hard to see as thin lines on white, last.
  Okabe & Ito's scheme, the other well-known choice, has eight colours only, one of them
  a yellow that does not show on white.
- **More groups than distinct colours** (ten or more; nine or more arms) get a
  sequential ramp in group order instead, the first half of matplotlib's viridis (its
  lighter half is too pale for lines on white), lightness falling monotonically in
  normal vision and in both simulations; every line is labelled with its group's name.
- **`--arm-colors rank`**: a ramp by final hack rate, most hacking first: red-orange,
  mauve, indigo, interpolated in CIELAB. It replaces the reference's red-yellow-green,
  whose red and green look alike to a deuteranope (ΔE 1.3 between neighbours). Along
  this one lightness falls monotonically in all three visions, so "redder = hacks more"
  still reads as "lighter = hacks more" without red-green vision, and every colour keeps
  a 3:1 contrast against white.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

# Arms, not series: grey baseline -> amber static -> blue online -> green routing,
# ordered by increasing intervention, as the reference colours them.
ARM_COLORS = {
    "vanilla": "#7a7a7a",
    "static erasure": "#c98a2b",
    "online erasure": "#33508c",
    "routing": "#2f7d4f",
}
# Paul Tol's "muted" qualitative scheme (https://personal.sron.nl/~pault/), ordered so
# that every first few stay as far apart as they can, its pale cyan and sand last.
GROUP_PALETTE = (
    "#332288",  # indigo
    "#999933",  # olive
    "#44aa99",  # teal
    "#882255",  # wine
    "#117733",  # green
    "#aa4499",  # purple
    "#cc6677",  # rose
    "#88ccee",  # cyan
    "#ddcc77",  # sand
)
# The colours of GROUP_PALETTE at least DISTINCT_DELTA_E from the four arm colours (and
# from each other) in normal vision and both simulations: for arms nobody has named yet.
EXTRA_ARM_COLORS = ("#332288", "#882255", "#88ccee", "#ddcc77")
# What "distinct" means here: the least CIE76 difference between any two colours of a
# palette, in normal vision and under deuteranopia and protanopia.
DISTINCT_DELTA_E = 15.0
# The first half of viridis: for more groups than GROUP_PALETTE (or arms) has colours.
MANY_GROUPS_RAMP = ("#440154", "#443983", "#31688e", "#21918c")
# Most hacking -> least: red-orange, mauve, indigo (see the module docstring).
RANK_RAMP = ("#f6512b", "#92617b", "#2e34a4")
NO_RATE_GREY = "#9a9a9a"  # rank mode: a group without a final hack rate


def group_colors(
    groups: Sequence[str],
    mode: Literal["fixed", "rank"] = "fixed",
    final_hack: Mapping[str, float] | None = None,
    *,
    by_arm: bool = True,
) -> dict[str, str]:
    """group -> hex colour, for `groups` in their order.

    fixed, `by_arm`: the reference's colour per known arm, another arm a colour of its
    own that depends on its name only (so it keeps it when arms come and go); fixed,
    other groups: GROUP_PALETTE in group order; either way, more groups than distinct
    colours: MANY_GROUPS_RAMP in group order. rank: RANK_RAMP by final hack rate, most
    hacking first; groups with no final hack rate are grey.
    """
    ordered = list(groups)
    if mode == "rank":
        return _ranked(ordered, final_hack or {})
    if mode != "fixed":
        msg = f"arm_colors mode must be 'fixed' or 'rank', got {mode!r}"
        raise ValueError(msg)
    extra = [g for g in ordered if g not in ARM_COLORS] if by_arm else ordered
    room = len(EXTRA_ARM_COLORS) if by_arm else len(GROUP_PALETTE)
    if len(extra) > room:
        return {g: ramp(MANY_GROUPS_RAMP, _position(n, len(ordered)))
                for n, g in enumerate(ordered)}
    if not by_arm:
        return {g: GROUP_PALETTE[n] for n, g in enumerate(ordered)}
    return _arm_colors(ordered)


def _position(n: int, count: int) -> float:
    return n / (count - 1) if count > 1 else 0.0


def _ranked(ordered: Sequence[str], final_hack: Mapping[str, float]) -> dict[str, str]:
    finals = {a: float(v) for a, v in final_hack.items() if v is not None}
    ranked = [a for a in ordered if a in finals and np.isfinite(finals[a])]
    # Stable sort: ties keep group order, so equal rates still get distinct colours.
    ranked.sort(key=lambda a: -finals[a])
    colors = dict.fromkeys(ordered, NO_RATE_GREY)
    for position, group in enumerate(ranked):
        colors[group] = ramp(RANK_RAMP, _position(position, len(ranked)))
    return colors


def _arm_colors(ordered: Sequence[str]) -> dict[str, str]:
    colors = {a: ARM_COLORS[a] for a in ordered if a in ARM_COLORS}
    used: set[str] = set()
    for arm in sorted(a for a in ordered if a not in ARM_COLORS):
        # Start from a slot picked by the name; step on while that slot is taken.
        slot = zlib.crc32(arm.encode("utf-8")) % len(EXTRA_ARM_COLORS)
        candidate = next(EXTRA_ARM_COLORS[(slot + probe) % len(EXTRA_ARM_COLORS)]
                         for probe in range(len(EXTRA_ARM_COLORS))
                         if EXTRA_ARM_COLORS[(slot + probe) % len(EXTRA_ARM_COLORS)] not in used)
        used.add(candidate)
        colors[arm] = candidate
    return {a: colors[a] for a in ordered}


# --- CIELAB ----------------------------------------------------------------------------


def srgb_to_lab(hex_color: str) -> np.ndarray:
    """`#rrggbb` -> CIELAB (D65)."""
    rgb = np.array([int(hex_color[k : k + 2], 16) / 255 for k in (1, 3, 5)])
    return linear_to_lab(np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4))


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """Linear-light sRGB (0..1) -> CIELAB (D65)."""
    xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    ) @ np.clip(linear, 0, 1)
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def lab_to_hex(lab: np.ndarray) -> str:
    fy = (lab[0] + 16) / 116
    f = np.array([fy + lab[1] / 500, fy, fy - lab[2] / 200])
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29))
    xyz = xyz * np.array([0.95047, 1.0, 1.08883])
    linear = np.array(
        [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
    ) @ xyz
    linear = np.clip(linear, 0, 1)
    rgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return "#" + "".join(f"{round(float(c) * 255):02x}" for c in np.clip(rgb, 0, 1))


def ramp(anchors: Sequence[str], t: float) -> str:
    """The colour at t in [0, 1] along `anchors`, interpolated in CIELAB (perceptual)."""
    t = min(max(t, 0.0), 1.0)
    span = t * (len(anchors) - 1)
    lo = min(int(span), len(anchors) - 2)
    frac = span - lo
    if frac == 0:
        return anchors[lo]
    mixed = (1 - frac) * srgb_to_lab(anchors[lo]) + frac * srgb_to_lab(anchors[lo + 1])
    return lab_to_hex(mixed)


# --- the dark page ---------------------------------------------------------------------

# Below this CIELAB chroma a colour is a grey (text, axes, rules), not a line's colour.
GREY_CHROMA = 12.0


def dark_variant(hex_color: str) -> str:
    """The colour `hex_color` takes in a chart on the dark page (prefers-color-scheme).

    Greys (text, axes, rules) swap lightness, L' = 100 - 0.85 L, so dark ink becomes
    light ink and faint rules stay faint. A line's colour keeps its hue and chroma and is
    lifted, L' = 40 + 0.6 L: an increasing map, so of two colours the lighter stays the
    lighter (the rank ramp keeps its meaning), and the darkest (indigo, viridis' purple)
    still stands out from the dark background.
    """
    lab = srgb_to_lab(hex_color)
    if float(np.hypot(lab[1], lab[2])) < GREY_CHROMA:
        return lab_to_hex(np.array([100 - 0.85 * lab[0], lab[1], lab[2]]))
    lightness = 40 + 0.6 * lab[0]
    # Past sRGB's gamut a lifted colour would lose lightness to clipping: chroma gives
    # way instead, so the lightness (the order) holds.
    for _ in range(30):
        lifted = lab_to_hex(np.array([lightness, lab[1], lab[2]]))
        if abs(srgb_to_lab(lifted)[0] - lightness) < 0.5:
            break
        lab = np.array([lab[0], lab[1] * 0.9, lab[2] * 0.9])
    return lifted
