"""The README's two commands, run as written; the wheel, built and installed elsewhere."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from helpers import ROOT, png_size, soup, table_rows

README = ROOT / "README.md"


def commands() -> list[str]:
    """The shell blocks of the README: exactly two commands."""
    return re.findall(r"```sh\n(.+?)\n```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_gives_exactly_two_commands() -> None:
    make, test = commands()
    assert "python -m report" in make and "-o site/index.html" in make
    assert "python -m pytest" in test


def test_ci_runs_the_readme_commands_as_written() -> None:
    """CI runs both README commands verbatim, in a user's order, then the lint gates."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    make, test = commands()
    lines = [line for line in ci.splitlines() if line and not line.startswith("#")]
    assert lines.index(make) < lines.index(test)
    assert "apt-get install -y -qq chromium" in ci
    assert "ruff check ." in ci and "mypy report" in ci
    for command in (make, test):
        # Each makes (or reuses) the venv and activates it before pip: PEP 668 systems.
        assert command.startswith(
            "test -d .venv || python3 -m venv .venv && . .venv/bin/activate && pip "
        )


def _fresh_venv(where: Path) -> dict[str, str]:
    """A new venv (no system packages) that sees the packages of the interpreter running
    the tests -- whether that is a venv or not -- but none of report's files.

    A `.pth` file lists that interpreter's site-packages folders as plain paths: their
    own `.pth` files (an editable install of report) are not run, so `import report`
    finds only what is installed into this venv.
    """
    import site
    import sysconfig

    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(where)
    paths = sysconfig.get_paths()
    ours = {paths["purelib"], paths["platlib"], *site.getsitepackages()}
    target = Path(sysconfig.get_paths(vars={"base": str(where), "platbase": str(where)})["purelib"])
    (target / "_test_runner_packages.pth").write_text(
        "".join(f"{path}\n" for path in sorted(ours) if Path(path).is_dir())
    )
    bindir = where / "bin"
    # pip from the running interpreter's packages, run by the venv's python.
    pip_shim = bindir / "pip"
    pip_shim.write_text(f'#!/bin/sh\nexec "{bindir / "python"}" -m pip "$@"\n')
    pip_shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(where),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("clone") / "report"
    ignore = shutil.ignore_patterns(
        ".git",
        "site",
        "__pycache__",
        "*.egg-info",
        "build",
        "dist",
        ".pytest_cache",
        ".venv",
        ".hypothesis",
        "artifacts",
        "out",
    )
    shutil.copytree(ROOT, copy, ignore=ignore)
    return copy


def test_readme_make_command_as_written(project_copy: Path, tmp_path: Path) -> None:
    """The command as pasted: it reuses the project's `.venv` (made here first, seeing the
    test runner's packages, so nothing is downloaded but the build backend)."""
    make, _ = commands()
    env = _fresh_venv(project_copy / ".venv")
    result = subprocess.run(
        ["bash", "-c", make],
        cwd=project_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    site = project_copy / "site"
    header, body = table_rows(soup(site / "index.html"), "runs")
    assert len(body) == 12 and header[0] == "run"
    assert png_size((site / "dynamics.png").read_bytes())[0] > 1000
    assert "wrote site/index.html" in result.stderr


def test_wheel_installs_and_runs_from_elsewhere(project_copy: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheel = next(dist.glob("report-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "report/templates/index.html" in names and "report/py.typed" in names
    env = _fresh_venv(tmp_path / "venv")
    python = str(tmp_path / "venv" / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [python, "-c", "import report; print(report.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert str(tmp_path / "venv") in where.stdout, where.stdout + where.stderr
    made = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "report"), "--demo", "-o", "out/index.html", "--no-png"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr
    _, body = table_rows(soup(elsewhere / "out" / "index.html"), "runs")
    assert len(body) == 12


def test_readme_pictures_exist() -> None:
    text = README.read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert {"docs/report.png", "docs/overlay-fixed.png", "docs/overlay-rank.png"} <= set(pictures)
    for picture in pictures:
        assert png_size((ROOT / picture).read_bytes())[0] > 500, picture
