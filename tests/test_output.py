"""Nothing lost: a report is written whole or not at all, failures and Ctrl-C leave an
earlier report as it was, and bytes are reproducible whatever the input order. Ctrl-C
comes as a real SIGINT, sent by the report to itself at a known moment (the parse
workers' case, which needs a real process, is in test_signals.py)."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
from pathlib import Path

import pytest
from helpers import ROOT, run_main

from report import output
from report.output import MANIFEST, TEMP_PREFIX

EXAMPLES = ROOT / "examples" / "logs"


def test_failed_run_leaves_the_earlier_report_untouched(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = run_main(str(EXAMPLES), "-o", str(site / "index.html"), "-q")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in site.iterdir()}
    assert set(before) == {"index.html", "dynamics.png", "dynamics_hack_overlay.png",
                           "time_to_hack.png", "onset_aligned.png", MANIFEST}

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.log").write_text("no run here\n")
    failed = run_main(str(junk), "-o", str(site / "index.html"))
    assert failed.returncode == 1 and "no usable run" in failed.stderr
    strict = run_main(str(EXAMPLES), str(junk), "--strict", "-o", str(site / "index.html"))
    assert strict.returncode == 1 and "--strict" in strict.stderr
    assert "a.log" in strict.stderr
    after = {p.name: p.read_bytes() for p in site.iterdir()}
    assert after == before


def test_output_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "report.txt"
    blocker.write_text("a file, not a folder")
    result = run_main(str(EXAMPLES), "-o", str(blocker / "site" / "index.html"))
    assert result.returncode == 2  # a usage error: the -o flag names an impossible place
    assert "is a file, not a folder" in result.stderr and "Traceback" not in result.stderr


def test_same_inputs_any_order_give_identical_bytes(tmp_path: Path) -> None:
    logs = sorted(EXAMPLES.glob("*.log"))
    # The same files as a folder, as reversed single files and as a glob; fresh render
    # caches each time, so the PNG bytes come from vl-convert both times.
    variants = [
        [str(EXAMPLES)],
        [str(p) for p in reversed(logs)],
        [str(EXAMPLES / "demo_*_s*.log")],
    ]
    outputs = []
    for number, inputs in enumerate(variants):
        out = tmp_path / f"out{number}" / "index.html"
        env = {"SOURCE_DATE_EPOCH": "1764000000", "REPORT_CACHE_DIR": str(tmp_path / f"c{number}")}
        result = run_main(*inputs, "-o", str(out), "-q", env=env)
        assert result.returncode == 0, result.stderr
        outputs.append({p.name: p.read_bytes() for p in out.parent.iterdir()})
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"2025-11-24 16:00:00 UTC" in outputs[0]["index.html"]


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of `folder`, hidden ones too: its bytes and permissions."""
    return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir()}


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    """The page of an earlier report, pictures beside it, and a file of the user's."""
    page = tmp_path / "site" / "index.html"
    result = run_main(str(EXAMPLES), "-o", str(page), "-q", "--title", "Earlier")
    assert result.returncode == 0, result.stderr
    (page.parent / "notes.txt").write_text("mine")
    return page


def _later(page: Path, *args: str):
    """A later report of the examples into the same page, different from the earlier one."""
    return run_main(str(EXAMPLES), "-o", str(page), "--title", "Later", *args)


def _ctrl_c() -> None:
    """A real SIGINT to this thread, as a terminal sends it."""
    signal.raise_signal(signal.SIGINT)


def _assert_interrupted(result, folder: Path, before: dict) -> None:
    assert result.returncode == 130, result.stderr
    assert result.stderr.splitlines()[-1] == "report: interrupted; nothing written"
    assert "Traceback" not in result.stderr
    assert _snapshot(folder) == before


def test_a_full_disk_leaves_the_earlier_report_whole(earlier: Path) -> None:
    """The pictures fit but the page does not (a file size limit stands in for a full
    disk): the earlier pictures must not be replaced either."""
    before = _snapshot(earlier.parent)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    picture = len(before["dynamics.png"][0])
    assert picture < len(before["index.html"][0]) // 2
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before["index.html"][0]) // 2, hard))
    try:
        result = _later(earlier)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"report: error: -o {earlier}: cannot write (File too large); nothing was changed"
    )
    assert _snapshot(earlier.parent) == before


def test_ctrl_c_while_charts_are_built(earlier: Path, monkeypatch) -> None:
    from report import charts

    grid_chart = charts.grid_chart

    def interrupted(*args, **kwargs):
        _ctrl_c()
        return grid_chart(*args, **kwargs)

    monkeypatch.setattr(charts, "grid_chart", interrupted)
    before = _snapshot(earlier.parent)
    _assert_interrupted(_later(earlier), earlier.parent, before)


def test_a_ctrl_c_swallowed_on_the_way_still_ends_the_run(earlier: Path, monkeypatch) -> None:
    """Code that catches KeyboardInterrupt (Python itself does, in finalizers and
    callbacks) cannot make the report go on and write: Ctrl-C is remembered."""
    from report import charts

    overlay_chart = charts.overlay_chart
    swallowed = []

    def swallowing(*args, **kwargs):
        try:
            _ctrl_c()
            for _ in range(10_000_000):  # the interrupt lands in here
                pass
        except KeyboardInterrupt:
            swallowed.append(True)
        return overlay_chart(*args, **kwargs)

    monkeypatch.setattr(charts, "overlay_chart", swallowing)
    before = _snapshot(earlier.parent)
    _assert_interrupted(_later(earlier), earlier.parent, before)
    assert swallowed == [True]


def test_ctrl_c_while_files_are_staged(earlier: Path, monkeypatch) -> None:
    stage = output._Staging.stage

    def stage_then_ctrl_c(self, name: str, data: bytes) -> None:
        stage(self, name, data)
        if name == "dynamics.png":
            _ctrl_c()

    monkeypatch.setattr(output._Staging, "stage", stage_then_ctrl_c)
    before = _snapshot(earlier.parent)
    _assert_interrupted(_later(earlier), earlier.parent, before)
    # Into a folder that did not exist: it does not exist afterwards either.
    fresh = earlier.parent.parent / "new" / "site" / "index.html"
    _assert_interrupted(_later(fresh), earlier.parent, before)
    assert not (earlier.parent.parent / "new").exists()


def test_ctrl_c_between_the_renames(earlier: Path, monkeypatch) -> None:
    """Once the first file is renamed into place: every change is undone."""
    replace, commit = os.replace, output._Staging.commit
    renamed = []

    def replace_then_ctrl_c(source, target) -> None:
        replace(source, target)
        renamed.append(Path(target).name)
        if len(renamed) == 1:
            _ctrl_c()

    def watched_commit(self) -> None:
        monkeypatch.setattr(os, "replace", replace_then_ctrl_c)
        try:
            commit(self)
        finally:
            monkeypatch.setattr(os, "replace", replace)

    monkeypatch.setattr(output._Staging, "commit", watched_commit)
    before = _snapshot(earlier.parent)
    _assert_interrupted(_later(earlier), earlier.parent, before)
    assert renamed == ["dynamics.png", "dynamics_hack_overlay.png", "onset_aligned.png",
                       "time_to_hack.png", "index.html", MANIFEST]


def test_files_an_earlier_run_wrote_do_not_stay_beside_a_new_page(earlier: Path) -> None:
    """What each run wrote is recorded per page: a run removes the files it wrote before
    and does not now (PNGs before --no-png), never another page's or the user's."""
    folder = earlier.parent
    other = folder / "other.html"
    assert run_main(str(EXAMPLES), "-o", str(other), "--no-png", "-q").returncode == 0
    assert (folder / "dynamics.png").is_file()  # index.html's: the other page's run keeps it
    assert _later(earlier, "--no-png", "-q").returncode == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        MANIFEST, "index.html", "notes.txt", "other.html"
    ]
    assert json.loads((folder / MANIFEST).read_text()) == {
        "pages": {"index.html": [], "other.html": []}
    }
    assert _later(earlier, "-q").returncode == 0
    assert (folder / "dynamics.png").is_file()


def test_a_record_cannot_make_a_run_remove_other_files(earlier: Path) -> None:
    folder = earlier.parent
    outside = folder.parent / "outside.png"
    outside.write_text("keep")
    (folder / ".hidden").write_text("keep")
    names = ["../outside.png", str(outside), ".hidden", ".", "..", "", 7, None]
    (folder / MANIFEST).write_text(json.dumps({"pages": {"index.html": names, "../x": ["a"]}}))
    assert _later(earlier, "--no-png", "-q").returncode == 0
    assert outside.read_text() == (folder / ".hidden").read_text() == "keep"
    assert (folder / "dynamics.png").is_file()  # no longer on record: left alone
    (folder / MANIFEST).write_text("{not json")
    assert _later(earlier, "-q").returncode == 0


def test_temporaries_of_a_killed_run_are_removed(earlier: Path) -> None:
    import subprocess

    ended = subprocess.Popen(["true"])
    ended.wait()
    folder = earlier.parent
    left = folder / f"{TEMP_PREFIX}{ended.pid}-k1ll3d"  # its run was killed
    running = folder / f"{TEMP_PREFIX}1-0ther"  # pid 1 runs: another report, writing now
    for temporary in (left, running):
        temporary.write_bytes(b"half a picture")
    assert _later(earlier, "-q").returncode == 0
    assert not left.exists() and running.exists()
    names = {p.name for p in folder.iterdir()}
    assert {n for n in names if n.startswith(TEMP_PREFIX)} == {running.name}


def test_permissions_kept_or_given_by_the_umask(tmp_path: Path) -> None:
    page = tmp_path / "site" / "index.html"
    umask = os.umask(0o027)
    try:
        assert run_main(str(EXAMPLES), "-o", str(page), "-q").returncode == 0
    finally:
        os.umask(umask)
    for name in ("index.html", "dynamics.png", MANIFEST):
        assert stat.S_IMODE((page.parent / name).stat().st_mode) == 0o640, name
    page.chmod(0o600)
    (page.parent / "dynamics.png").chmod(0o644)
    assert _later(page, "-q").returncode == 0
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert stat.S_IMODE((page.parent / "dynamics.png").stat().st_mode) == 0o644


def test_a_long_output_name(tmp_path: Path) -> None:
    page = tmp_path / ("r" * 250 + ".html")  # 255 bytes: as long as a name can be
    result = run_main(str(EXAMPLES), "-o", str(page), "--no-png")
    assert result.returncode == 0, result.stderr
    assert page.is_file() and not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())
