"""report.colors: group colours stay distinct for readers with red-green colour blindness.

Deuteranopia and protanopia are simulated with the matrices of Machado, Oliveira and
Fernandes (2009, "A physiologically-based model for simulation of color vision
deficiency", severity 1.0), applied to linear-light sRGB; colours are compared by their
CIE76 difference (Euclidean distance in CIELAB, D65). The conversions are written out
here, not taken from report.colors.

The thresholds, stated in report/colors.py: every pair of a palette at least
DELTA_E = 15 apart in normal vision and in both simulations; a ramp's lightness monotone
in all three, and every line colour at least 3:1 against white.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from report import colors
from report.colors import (
    ARM_COLORS,
    EXTRA_ARM_COLORS,
    GROUP_PALETTE,
    MANY_GROUPS_RAMP,
    RANK_RAMP,
    group_colors,
)

DELTA_E = 15.0
MACHADO = {
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}


def _linear(hex_color: str) -> np.ndarray:
    srgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(hex_color: str, vision: str = "normal") -> np.ndarray:
    """CIELAB (D65) of `hex_color` as a reader with `vision` sees it."""
    rgb = np.clip(MACHADO[vision] @ _linear(hex_color), 0, 1)
    xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                    [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]]) @ rgb
    x, y, z = xyz / np.array([0.95047, 1.0, 1.08883])

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return np.array([116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))])


def least_difference(palette: list[str]) -> dict[str, float]:
    """vision -> the least CIE76 difference between two colours of `palette`."""
    return {vision: min(float(np.linalg.norm(lab(a, vision) - lab(b, vision)))
                        for a, b in itertools.combinations(palette, 2))
            for vision in MACHADO}


def contrast_on_white(hex_color: str) -> float:
    luminance = float(np.array([0.2126, 0.7152, 0.0722]) @ _linear(hex_color))
    return 1.05 / (luminance + 0.05)


def test_the_simulation_is_machados() -> None:
    """A red and a green of one lightness look alike to a deuteranope (unlike to everyone
    else); reds look darker to a protanope; greys look the same to all (each matrix's rows
    sum to 1)."""
    def apart(vision: str) -> float:
        return float(np.linalg.norm(lab("#cc3333", vision) - lab("#5c8a2e", vision)))

    assert apart("normal") > 80 and apart("deuteranopia") < 5
    assert lab("#cc3333", "protanopia")[0] < lab("#cc3333")[0] - 8
    for vision in MACHADO:
        assert np.linalg.norm(lab("#7a7a7a", vision) - lab("#7a7a7a")) < 0.05


@pytest.mark.parametrize(("name", "palette", "least"), [
    ("Tol's muted, for groups", list(GROUP_PALETTE), 15.5),
    ("the reference's four arms", list(ARM_COLORS.values()), 16.5),
    ("the four arms and the colours of new arms", [*ARM_COLORS.values(), *EXTRA_ARM_COLORS],
     15.0),
])
def test_fixed_palettes_stay_distinct_with_red_green_colour_blindness(name, palette, least):
    found = least_difference(palette)
    assert min(found.values()) >= max(DELTA_E, least), (name, found)


def test_every_prefix_of_the_group_palette_is_as_distinct() -> None:
    """Two groups take the first two colours, three the first three...: the first few are
    the farthest apart (and the pale cyan and sand, hard to see on white, come last)."""
    prefixes = [min(least_difference(list(GROUP_PALETTE[:n])).values()) for n in range(2, 10)]
    assert prefixes == sorted(prefixes, reverse=True)
    assert prefixes[3] > 25  # up to five groups: far apart whatever the vision
    assert [contrast_on_white(c) >= 2.5 for c in GROUP_PALETTE] == [True] * 7 + [False] * 2


def _ramp_colours(anchors: tuple[str, ...], count: int) -> list[str]:
    return [colors.ramp(anchors, n / (count - 1)) for n in range(count)]


@pytest.mark.parametrize("count", [2, 3, 4, 5, 7, 10])
def test_the_rank_ramp_reads_in_order_with_red_green_colour_blindness(count: int) -> None:
    """Most hacking first: lightness falls monotonically along the ramp in every vision,
    so its order reads without red-green vision; up to five groups, neighbours stay
    DELTA_E apart; every colour keeps 3:1 against white."""
    ramp = _ramp_colours(RANK_RAMP, count)
    for vision in MACHADO:
        seen = [lab(c, vision) for c in ramp]
        lightness = [float(c[0]) for c in seen]
        assert lightness == sorted(lightness, reverse=True), (vision, lightness)
        neighbours = min(float(np.linalg.norm(a - b)) for a, b in itertools.pairwise(seen))
        if count <= 5:
            assert neighbours >= DELTA_E, (vision, count, neighbours)
    assert all(contrast_on_white(c) >= 3.0 for c in ramp)
    red, green, blue = (int(ramp[0][i : i + 2], 16) for i in (1, 3, 5))
    assert red > green + 100 and red > blue + 100  # "redder = hacks more"


def test_the_old_red_to_green_ramp_failed_the_same_check() -> None:
    """Why the rank ramp changed: the reference's darkened red-yellow-green had neighbours
    1.3 apart to a deuteranope (five arms)."""
    old = ("#c1432b", "#c8661f", "#a0861a", "#62922e", "#2f7d4f")
    seen = [lab(c, "deuteranopia") for c in _ramp_colours(old, 5)]
    assert min(float(np.linalg.norm(a - b)) for a, b in itertools.pairwise(seen)) < 2


def test_the_many_groups_ramp_falls_in_lightness_and_reads_on_white() -> None:
    ramp = _ramp_colours(MANY_GROUPS_RAMP, 16)
    for vision in MACHADO:
        lightness = [float(lab(c, vision)[0]) for c in ramp]
        assert lightness == sorted(lightness), vision  # dark purple to teal
    assert all(contrast_on_white(c) >= 3.0 for c in ramp)


def test_which_colours_groups_get() -> None:
    arms = ["vanilla", "static erasure", "online erasure", "routing"]
    assert group_colors(arms) == ARM_COLORS
    new = group_colors([*arms, "confessions", "zeta"])
    assert {new["confessions"], new["zeta"]} <= set(EXTRA_ARM_COLORS)
    assert new["confessions"] != new["zeta"]
    # Groups that are not arms: the palette in order, up to its nine colours...
    nine = [f"lr={n}" for n in range(9)]
    assert list(group_colors(nine, by_arm=False).values()) == list(GROUP_PALETTE)
    # ... then a ramp in group order, every colour distinct.
    ten = group_colors([f"lr={n}" for n in range(10)], by_arm=False)
    assert ten["lr=0"] == MANY_GROUPS_RAMP[0] and ten["lr=9"] == MANY_GROUPS_RAMP[-1]
    assert len(set(ten.values())) == 10
    # More new arms than the four extra colours: the ramp for every arm.
    many = group_colors([*arms, *(f"arm{n}" for n in range(5))])
    assert many["vanilla"] == MANY_GROUPS_RAMP[0] and len(set(many.values())) == 9
    # rank: by final hack rate, most hacking first; no rate, grey.
    ranked = group_colors(["a", "b", "c"], "rank", {"a": 0.1, "b": 0.9}, by_arm=False)
    assert ranked == {"a": RANK_RAMP[-1], "b": RANK_RAMP[0], "c": colors.NO_RATE_GREY}
