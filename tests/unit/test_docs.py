"""docs/ stays true: the generated spec reference and the pictures match the code."""

from __future__ import annotations

from aictl.spec.loader import load_preset
from aictl.spec.reference import render_reference
from aictl.topology import build_topology
from aictl.topology.exports import svg
from tests.conftest import ROOT, check_golden


def test_spec_reference_is_current(update_golden: bool) -> None:
    check_golden(ROOT / "docs" / "spec.md", render_reference(), update_golden)


def test_doc_pictures_are_current(update_golden: bool) -> None:
    for name in ("a800-200", "lab-small"):
        loaded = load_preset(name)
        topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
        text = svg.render(topo, level=svg.default_level(topo))
        check_golden(ROOT / "docs" / "img" / f"{name}.svg", text, update_golden)


def test_every_spec_section_is_documented() -> None:
    text = (ROOT / "docs" / "spec.md").read_text()
    for section in ("ComputeFabric", "Addressing", "SubnetManager", "Kubernetes", "Acceptance"):
        assert f"## {section}" in text


def test_every_command_check_and_finding_is_documented() -> None:
    import re

    from aictl.checks.rules import CHECKS

    cli = (ROOT / "docs" / "cli.md").read_text()
    for cmd in (
        "topo verify",
        "check",
        "accept parse",
        "accept run",
        "accept localize",
        "report",
        "exec",
        "provision",
        "inventory",
    ):
        assert f"`aictl {cmd}" in cli, cmd
    verify = (ROOT / "docs" / "verify.md").read_text()
    for check in CHECKS:
        assert f"| `{check.name}` |" in verify, check.name
    kinds = set()
    for mod in ("diff", "routing", "lldp", "counters", "bgp"):
        src = (ROOT / "aictl" / "fabric" / f"{mod}.py").read_text()
        kinds |= set(re.findall(r'Finding\(\s*"([a-z-]+)"', src))
    assert len(kinds) >= 12
    for kind in kinds:
        assert f"`{kind}`" in verify, kind
    # every lab fault is in lab.md's table
    from aictl.lab.hardware import FAULT_KINDS

    lab = (ROOT / "docs" / "lab.md").read_text()
    for fault in FAULT_KINDS:
        assert f"| `{fault}` |" in lab, fault
