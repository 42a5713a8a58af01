"""Exports: golden files for lab-small, determinism, and each format read back by a parser."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import networkx as nx
import pytest
import yaml

from aictl.spec.loader import load_preset, parse_spec_text, preset_names, preset_text
from aictl.topology import build_topology, write_plan
from aictl.topology.exports import render_exports
from aictl.topology.exports.cabling import CABLING_HEADER
from tests.conftest import TESTS, check_golden

GOLDEN = TESTS / "cases"


def _exports(name: str) -> dict[str, str]:
    loaded = load_preset(name)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    return {a.path: a.data.decode() for a in render_exports(topo)}


# every export of the small cases; elsewhere the scheduler exports (a partial SU in
# dgx-h100-127, spine pods in h100-16k, RoCE in roce-h100-256) and a few others
SAMPLED = (
    "bom.csv",
    "ftree-roots.guids",
    "slurm-topology.conf",
    "slurm-topology-block.conf",
    "slurm-topology.yaml",
    "volcano-hypernodes.yaml",
    "kueue-topology.yaml",
    "kai-topology.yaml",
)


@pytest.mark.parametrize("case", ["lab-small", "mixed-lab", "dgx-h100-127", "roce-h100-256"])
def test_golden_exports(case: str, update_golden: bool) -> None:
    files = _exports(case)
    small = case in ("lab-small", "mixed-lab")
    for path, text in files.items():
        if small or path.endswith(SAMPLED):
            check_golden(GOLDEN / case / "expected" / path, text, update_golden)


def test_golden_three_tier_scheduler_exports(update_golden: bool) -> None:
    files = _exports("h100-16k")
    # not the HyperNodes: 2,048 exact-match members (their tree is tested in
    # test_scheduler_exports.py); the spine-pod tier is in the golden Slurm tree and levels
    for name in SAMPLED[2:5] + SAMPLED[6:]:
        path = f"exports/{name}"
        check_golden(GOLDEN / "h100-16k" / "expected" / path, files[path], update_golden)


@pytest.mark.parametrize("name", preset_names())
def test_same_spec_same_bytes(name: str) -> None:
    assert _exports(name) == _exports(name)


def test_spec_key_order_does_not_matter() -> None:
    """Reordering mapping keys (not node order, which is cabling order) changes nothing."""
    data = yaml.safe_load(preset_text("dgx-h100-127"))

    def shuffle(node: object) -> object:
        if isinstance(node, dict):
            return {k: shuffle(node[k]) for k in reversed(list(node))}
        if isinstance(node, list):
            return [shuffle(v) for v in node]
        return node

    a = parse_spec_text(yaml.safe_dump(data, sort_keys=True), "a.yaml")
    b = parse_spec_text(yaml.safe_dump(shuffle(data), sort_keys=False), "b.yaml")
    ta = build_topology(a.spec, spec_sha256="x")
    tb = build_topology(b.spec, spec_sha256="x")
    ea = {x.path: x.data for x in render_exports(ta)}
    eb = {x.path: x.data for x in render_exports(tb)}
    assert ea == eb


def test_formats_parse() -> None:
    files = _exports("dgx-a100-140")
    rows = list(csv.reader(io.StringIO(files["exports/cabling.csv"])))
    assert tuple(rows[0]) == CABLING_HEADER
    doc = json.loads(files["topology.json"])
    assert len(rows) - 1 == len(doc["cables"])
    assert doc["cable_columns"][0] == "id"
    g = nx.read_graphml(io.BytesIO(files["exports/topology.graphml"].encode()))
    assert g.number_of_edges() == len(doc["cables"])
    assert sum(1 for _, d in g.nodes(data=True) if d["role"] == "core") == 70
    labels = yaml.safe_load(files["exports/node-labels.yaml"])
    assert labels["dgxa001"]["aictl.io/leaf-rail7"] == "leaf-su01-r7"
    assert "SwitchName=fabric" in files["exports/slurm-topology.conf"]


def test_slurm_three_tier_pods() -> None:
    files = _exports("h100-16k")
    conf = files["exports/slurm-topology.conf"]
    assert "SwitchName=su01 Nodes=dgx[0001-0032]" in conf
    assert "SwitchName=pod01 Switches=su[01-32]" in conf
    assert conf.rstrip().endswith("SwitchName=fabric Switches=pod[01-02]")


def test_write_plan_replaces_files(tmp_path: Path) -> None:
    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    write_plan(topo, tmp_path)
    first = (tmp_path / "topology.json").read_bytes()
    write_plan(topo, tmp_path)
    assert (tmp_path / "topology.json").read_bytes() == first
    assert not list(tmp_path.rglob("*.tmp"))
