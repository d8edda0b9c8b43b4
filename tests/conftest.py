"""Shared fixtures: where the shared samples live, and small hand-written logs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
REFERENCE = SHARED / "reference" / "plot_dynamics.py"

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples not present")
EPOCH = {"SOURCE_DATE_EPOCH": "1764000000"}  # 2025-11-24 16:00:00 UTC


@pytest.fixture(scope="session", autouse=True)
def cache_folder(tmp_path_factory) -> Path:
    """Every test's fixed-cost cache is a temporary folder, never the user's; processes
    the tests start inherit it."""
    folder = tmp_path_factory.mktemp("cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("REPORT_CACHE_DIR", str(folder))
    patch.delenv("REPORT_NO_CACHE", raising=False)
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def converge_site(tmp_path_factory):
    """The report of ../shared/samples/converge, made once per test session."""
    from helpers import run_main

    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples not present")
    out = tmp_path_factory.mktemp("converge") / "site" / "index.html"
    result = run_main(str(SAMPLES / "converge"), "-o", str(out), env=EPOCH)
    return out, result


def log_text(
    *,
    argv: str = "scripts/train.py --preset=t --intervention=none --seed=1 --steps=4",
    preset: str | None = "preset=t arm=vanilla seed=1 lr=1e-05 batch=4 steps=4",
    header: str = "step  loss  hack_s↑  gt_s↑  hack_t  gt_t  cos_pre_t  cos_pre_s  ref_eq  dt",
    rows: list[str] | None = None,
    prefix: str = "2026-11-20 14:02:11.411 | INFO | ",
) -> str:
    """A small log in the format of LOG_FORMAT.md, written out by hand."""
    rows = (
        rows
        if rows is not None
        else [
            "0  0.70  0/4  1/4  0/4  1/4  +0.300  +0.050  T  1.0",
            "1  0.69  1/4  2/4  0/4  1/4  +0.250  -0.010  F  1.0",
            "2  0.68  2/4  2/4  0/4  1/4  +0.200  -0.020  T  1.0",
        ]
    )
    lines = [f"argv: {argv}"]
    if preset is not None:
        lines.append(preset)
    lines += ["loading model Qwen2.5-0.5B (bf16) ...", header, *rows]
    return "".join(f"{prefix}{line}\n" for line in lines)


@pytest.fixture
def write_log(tmp_path: Path):
    """Write a log into tmp_path and return its path."""

    def write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return path

    return write
