"""How options are read: the command line's value types, and a settings file.

A lab runs the same report each time: its options can live in `[tool.report]` of a
`pyproject.toml` in the current folder, or in a `report.toml` there (top-level keys, or
a `[tool.report]` table), keyed by their long names (`title`, `group-by`, `baseline`,
`no-png`, ...; `logs` for the inputs). Values are checked as the command line checks
them (the same argparse `type=` functions and choices); the command line wins over the
file. An unknown key, a bad value or settings in both files is a usage error that
names the file and the key.
"""

from __future__ import annotations

import argparse
import difflib
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from report.errors import UsageError

SETTINGS_FILES = ("report.toml", "pyproject.toml")
SETTINGS_TABLE = "[tool.report]"


# --- the command line's value types ---------------------------------------------------


def at_least(low: int) -> Callable[[str], int]:
    """An argparse `type`: an integer no smaller than `low`."""

    def check(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            msg = f"{text!r} is not a whole number"
            raise argparse.ArgumentTypeError(msg) from None
        if number < low:
            msg = f"{number} is too small: must be at least {low}"
            raise argparse.ArgumentTypeError(msg)
        return number

    return check


def fraction(text: str) -> float:
    """An argparse `type`: a number in [0, 1) (a rate that can still be exceeded)."""
    try:
        number = float(text)
    except ValueError:
        msg = f"{text!r} is not a number"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0.0 <= number < 1.0:
        msg = f"{number:g} is outside [0, 1): a hack rate threshold that a rate can exceed"
        raise argparse.ArgumentTypeError(msg)
    return number


def output_file(text: str) -> Path:
    """An argparse `type`: an .html file whose folder exists or can be made, writable."""
    path = Path(text)
    if path.is_dir():
        msg = f"{path} is a directory; give a file name such as {path / 'index.html'}"
        raise argparse.ArgumentTypeError(msg)
    if path.suffix.lower() not in (".html", ".htm"):
        msg = f"{path}: the output should be an .html file"
        raise argparse.ArgumentTypeError(msg)
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        msg = f"{path}: {existing} is a file, not a folder"
        raise argparse.ArgumentTypeError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"{path}: folder {existing} is not writable"
        raise argparse.ArgumentTypeError(msg)
    return path


def names(text: str) -> tuple[str, ...]:
    """An argparse `type`: `NAME[,NAME...]` (--group-by keys, --metrics), none empty and
    none twice."""
    found = tuple(name.strip() for name in text.split(","))
    if not all(found):
        msg = f"{text!r} has an empty name; give NAME[,NAME...] such as sweep,arm"
        raise argparse.ArgumentTypeError(msg)
    if len(set(found)) < len(found):
        msg = f"{text!r} names {next(n for n in found if found.count(n) > 1)!r} twice"
        raise argparse.ArgumentTypeError(msg)
    return found


# --- the settings file ------------------------------------------------------------------


def find_settings(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The settings in `folder` (its report.toml, or pyproject.toml's [tool.report]) and
    the file they are in; None when there are none. UsageError for a file TOML cannot
    read, or settings in both files."""
    found = []
    for name in SETTINGS_FILES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            msg = f"{path}: not readable as TOML ({exc})"
            raise UsageError(msg) from None
        table = _table(name, data)
        if table is not None:
            found.append((path, table))
    if len(found) > 1:
        msg = (f"settings in both {found[0][0]} and {found[1][0]} {SETTINGS_TABLE}: keep "
               f"them in one")
        raise UsageError(msg)
    return found[0] if found else None


def _table(name: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """A file's settings: pyproject.toml's [tool.report] (None without one); report.toml's
    [tool.report] when that is all it has, else its top-level keys."""
    tool = data.get("tool")
    inner = tool.get("report") if isinstance(tool, dict) else None
    if name == "pyproject.toml" or (set(data) == {"tool"} and isinstance(inner, dict)):
        return inner if isinstance(inner, dict) else None
    return data


def apply_settings(parser: argparse.ArgumentParser, folder: Path | None = None) -> Path | None:
    """Make the settings file of `folder` (default: the current folder) the defaults of
    `parser`, so that the command line overrides them; the file's path, or None when
    there is none. UsageError naming the file and key for an unknown key or bad value."""
    found = find_settings(folder or Path.cwd())
    if found is None:
        return None
    path, table = found
    actions = _actions(parser)
    defaults = {}
    for key, value in table.items():
        action = actions.get(key)
        if action is None:
            defaults_hint = difflib.get_close_matches(key, list(actions), n=1)
            hint = f" (did you mean {defaults_hint[0]!r}?)" if defaults_hint else ""
            msg = (f"{path}: unknown key {key!r}{hint}; the keys are the long option "
                   f"names: {', '.join(actions)}")
            raise UsageError(msg)
        try:
            defaults[action.dest] = _value(action, value)
        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
            msg = f"{path}: {key} = {value!r}: {exc}"
            raise UsageError(msg) from None
    parser.set_defaults(**defaults)
    return path


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Settings key -> its option: the long option's name without dashes (`group-by`),
    `logs` for the inputs; never --help or --version."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:  # argparse keeps no public list of them
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs:
            found[longs[0][2:]] = action
        elif not action.option_strings:
            found[action.dest] = action
    return found


def _value(action: argparse.Action, value: Any) -> Any:
    """A settings value as the command line would give it, checked the same way."""
    if action.nargs == 0:  # a flag: --no-png
        if not isinstance(value, bool):
            msg = "must be true or false"
            raise TypeError(msg)
        return value if action.const is True else not value
    if action.nargs in ("*", "+"):  # the inputs
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            msg = "must be a string or a list of strings"
            raise TypeError(msg)
        return items
    if isinstance(value, list) and all(isinstance(i, str) for i in value):
        value = ",".join(value)  # group-by = ["sweep", "arm"]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        msg = "must be a string or a number"
        raise TypeError(msg)
    text = str(value)
    if action.choices is not None and text not in action.choices:
        msg = f"must be one of {', '.join(map(str, action.choices))}"
        raise ValueError(msg)
    return action.type(text) if callable(action.type) else text
