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
