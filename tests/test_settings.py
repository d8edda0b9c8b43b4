"""report.settings: options in ./report.toml or [tool.report] of ./pyproject.toml, checked
as the command line checks them; the command line wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EPOCH
from helpers import ROOT, run_main, soup, table_rows

from report.cli import parser
from report.errors import UsageError
from report.settings import apply_settings, find_settings


def _args(folder: Path, *argv: str):
    ap = parser()
    used = apply_settings(ap, folder)
    return used, ap.parse_args(list(argv))


def test_no_settings_file_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no [tool.report]
    used, args = _args(tmp_path, "logs")
    assert used is None
    assert (args.title, args.group_by, args.max_points) == ("Training dynamics", ("arm",), 1000)


def test_pyproject_tool_report_sets_defaults_and_the_command_line_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'lab'\n\n[tool.report]\n"
        'title = "Weekly sweep"\ngroup-by = ["sweep", "arm"]\nbaseline = "sweep=before"\n'
        'max-points = 500\nonset-threshold = 0.1\nno-png = true\narm-colors = "rank"\n'
        'logs = ["before=runs/v1", "after=runs/v2"]\nmetrics = "loss,dt"\n'
        'output = "out/report.html"\n'
    )
    used, args = _args(tmp_path)
    assert used == tmp_path / "pyproject.toml"
    assert args.title == "Weekly sweep" and args.group_by == ("sweep", "arm")
    assert args.baseline == "sweep=before" and args.max_points == 500
    assert args.onset_threshold == 0.1 and args.no_png and args.arm_colors == "rank"
    assert args.logs == ["before=runs/v1", "after=runs/v2"]
    assert args.metrics == ("loss", "dt") and args.output == Path("out/report.html")
    _, given = _args(tmp_path, "other/", "--title", "Today", "--group-by", "lr")
    assert given.logs == ["other/"] and given.title == "Today" and given.group_by == ("lr",)
    assert given.max_points == 500  # what the command line does not say, the file does


def test_report_toml_top_level_or_tool_report(tmp_path: Path) -> None:
    (tmp_path / "report.toml").write_text('title = "A"\nstrict = true\n')
    _, args = _args(tmp_path)
    assert args.title == "A" and args.strict
    (tmp_path / "report.toml").write_text('[tool.report]\ntitle = "B"\n')
    assert _args(tmp_path)[1].title == "B"


@pytest.mark.parametrize(("text", "message"), [
    ('tilte = "x"\n', "report.toml: unknown key 'tilte' (did you mean 'title'?); the keys are "
                      "the long option names: logs, output, demo, title"),
    ("group_by = 'lr'\n", "unknown key 'group_by' (did you mean 'group-by'?)"),
    ("max-points = 3\n", "report.toml: max-points = 3: 3 is too small: must be at least 10"),
    ("max-points = 'many'\n", "max-points = 'many': 'many' is not a whole number"),
    ("onset-threshold = 1.5\n", "onset-threshold = 1.5: 1.5 is outside [0, 1)"),
    ("arm-colors = 'pink'\n", "arm-colors = 'pink': must be one of fixed, rank"),
    ("no-png = 'yes'\n", "no-png = 'yes': must be true or false"),
    ("title = true\n", "title = True: must be a string or a number"),
    ("logs = 3\n", "logs = 3: must be a string or a list of strings"),
    ("group-by = 'a,,b'\n", "group-by = 'a,,b': 'a,,b' has an empty name"),
    ("title = \n", "report.toml: not readable as TOML"),
])
def test_a_bad_key_or_value_is_an_error_naming_the_file_and_key(tmp_path, text, message):
    (tmp_path / "report.toml").write_text(text)
    with pytest.raises(UsageError) as raised:
        _args(tmp_path)
    assert message in str(raised.value)
    assert str(tmp_path / "report.toml") in str(raised.value)


def test_settings_in_both_files_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "report.toml").write_text('title = "A"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.report]\ntitle = "B"\n')
    with pytest.raises(UsageError, match="settings in both .*report.toml and .*pyproject.toml"):
        find_settings(tmp_path)


def test_the_command_reads_the_settings_of_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "report.toml").write_text(
        f'title = "From the file"\ngroup-by = "vhack-refresh-every"\nno-png = true\n'
        f'logs = ["{ROOT / "examples" / "logs"}"]\n'
    )
    result = run_main("-o", "site/index.html", cwd=tmp_path, env=EPOCH)
    assert result.returncode == 0, result.stderr
    assert f"settings from {tmp_path / 'report.toml'}" in result.stderr
    page = soup(tmp_path / "site" / "index.html")
    assert page.title.get_text() == "From the file"
    header, body = table_rows(page, "arms")
    assert header[0] == "group"
    assert [row[0] for row in body] == ["vhack-refresh-every=20", "vhack-refresh-every=(none)"]
    assert not list((tmp_path / "site").glob("*.png"))


def test_a_bad_settings_file_is_a_usage_error_of_the_command(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.report]\ncolour = 'rank'\n")
    result = run_main("--demo", "-o", "x.html", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "pyproject.toml: unknown key 'colour'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.html").exists()
