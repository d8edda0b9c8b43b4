"""The GitHub Pages workflow and the publishing guide name the real command."""

from __future__ import annotations

import yaml
from helpers import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
COMMAND = "python -m report logs/ -o site/index.html"


def test_workflow_parses_and_deploys_the_site() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    triggers = flow.get("on", flow.get(True))
    assert "workflow_dispatch" in triggers and "push" in triggers
    assert flow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build = flow["jobs"]["build"]["steps"]
    runs = [step.get("run", "") for step in build]
    uses = [step.get("uses", "") for step in build]
    assert COMMAND in runs
    assert any(r.startswith("pip install .") for r in runs)
    assert runs.index(COMMAND) > next(i for i, r in enumerate(runs) if r.startswith("pip install"))
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "site"
    assert any(u.startswith("actions/configure-pages") for u in uses)
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_publishing_guide_names_the_command() -> None:
    guide = (ROOT / "docs" / "publishing.md").read_text(encoding="utf-8")
    assert COMMAND in guide and "GitHub Actions" in guide and "email" in guide.lower()
