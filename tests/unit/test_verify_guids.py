"""`topo verify` on a fabric whose switches all report one node description: cables are told
apart by GUID and port. The input is the real ibnetdiscover (default format and `-p`) of the
mixed-lab's ibsim twin, which was built to the plan's GUIDs; each test rewrites it the way a
real fabric would print it (every switch's description one vendor string, HCAs with their
adapter model) and, for the miswire cases, re-cables it in the text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import aictl
from aictl.cli.app import app
from aictl.fabric.diff import compare
from aictl.facts.ibnet import parse_ibnetdiscover, parse_node_name_map, parse_summary
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from aictl.topology.exports.ibnet import planned_guids
from aictl.topology.model import Topology
from tests.conftest import TESTS

CASES = TESTS / "facts" / "ibnetdiscover"
SWITCH_NAME = "MF0;switch-1c2a1e:MQM8790/U1"  # one string for every switch, as vendors ship
HCA_NAME = "MT4123 ConnectX6 Mellanox Technologies"  # a host that never set its description


def _topo(guids: str = "planned") -> Topology:
    loaded = load_preset("mixed-lab")
    sm = loaded.spec.subnet_manager.model_copy(update={"guids": guids})
    spec = loaded.spec.model_copy(update={"subnet_manager": sm})
    return build_topology(spec, spec_sha256=loaded.sha256)


@pytest.fixture(scope="module")
def topo() -> Topology:
    return _topo()


def _real(name: str = "ibsim-mixed-lab.txt") -> str:
    return (CASES / name).read_text()


def _anonymous(text: str, *, hcas: bool = False) -> str:
    """Every switch (and, with `hcas`, every HCA) reports the same description."""
    text = re.sub(r"(['\"])(?:leaf|spine|core)-[^'\"]*\1", rf"\g<1>{SWITCH_NAME}\g<1>", text)
    if hcas:
        text = re.sub(r"(['\"])node\d+ mlx5_\d+\1", rf"\g<1>{HCA_NAME}\g<1>", text)
    return text


def _swap_leaf_ports(text: str, leaf_guid: str, p: int, q: int) -> str:
    """Re-cable the default format: what was in leaf port p is now in port q and back."""
    blocks = text.split("\n\n")
    out = []
    sw = f'"S-{leaf_guid}"'
    for block in blocks:
        if block.lstrip().splitlines()[-1:] and f"Switch\t8 {sw}" in block:
            lines = []
            for ln in block.splitlines():
                m = re.match(r"^\[(\d+)\](.*)$", ln)
                if m and int(m.group(1)) in (p, q):
                    ln = f"[{q if int(m.group(1)) == p else p}]{m.group(2)}"
                lines.append(ln)
            block = "\n".join(lines)
        else:
            block = re.sub(
                rf"{re.escape(sw)}\[({p}|{q})\]",
                lambda m: f"{sw}[{q if int(m.group(1)) == p else p}]",
                block,
            )
        out.append(block)
    return "\n\n".join(out)


def _leaf_guid(topo: Topology, name: str) -> str:
    return next(g for g, n in planned_guids(topo).items() if n == name)


def _kinds(res: dict[str, object]) -> list[tuple[str, str, str]]:
    findings = res["findings"]
    assert isinstance(findings, list)
    return [(f["kind"], f["where"], f["fix"]) for f in findings]


@pytest.mark.parametrize("listing", ["ibsim-mixed-lab.txt", "ibsim-mixed-lab-ports.txt"])
def test_one_switch_description_everywhere_still_matches_the_plan(
    topo: Topology, listing: str
) -> None:
    text = _anonymous(_real(listing), hcas=True)
    fab = parse_ibnetdiscover(text)
    assert {n.description for n in fab.nodes.values()} == {SWITCH_NAME, HCA_NAME}
    s = parse_summary(text)
    assert (s.switches, s.cas, s.links) == (12, 32, 64)
    assert s.shared_descriptions == {HCA_NAME: 32, SWITCH_NAME: 12}
    res = compare(topo, fab)
    assert res["findings"] == [] and res["ok"]
    assert (res["planned_cables"], res["discovered_links"]) == (64, 64)


def test_a_swap_between_identically_named_switches_is_named_by_the_plan(topo: Topology) -> None:
    leaf = _leaf_guid(topo, "leaf-su01-r1")
    text = _anonymous(_swap_leaf_ports(_real(), leaf, 2, 3), hcas=True)
    assert _kinds(compare(topo, parse_ibnetdiscover(text))) == [
        (
            "swapped-cables",
            "leaf-su01-r1 port 2 / leaf-su01-r1 port 3",
            "swap the cables at leaf-su01-r1 port 2 and port 3",
        )
    ]


def test_a_spine_cable_moved_on_an_anonymous_fabric(topo: Topology) -> None:
    """Leaf uplinks 5 and 6 swapped on one leaf: the ends are switches with one description,
    yet the finding names the planned spines."""
    leaf = _leaf_guid(topo, "leaf-su02-r3")
    got = _kinds(
        compare(topo, parse_ibnetdiscover(_anonymous(_swap_leaf_ports(_real(), leaf, 5, 6))))
    )
    assert got == [
        (
            "swapped-cables",
            "spine-02 port 8 / spine-01 port 8",
            "swap the cables at spine-02 port 8 and spine-01 port 8",
        )
    ]


def test_discovered_guids_cannot_be_matched_and_say_so() -> None:
    """Without planned GUIDs or a map, twelve switches named alike are not compared at all."""
    topo = _topo("discovered")
    fab = parse_ibnetdiscover(_anonymous(_real()))
    res = compare(topo, fab)
    assert [f["kind"] for f in res["findings"]] == ["ambiguous-devices"]
    f = res["findings"][0]
    assert f["where"] == SWITCH_NAME and len(f["detail"]["guids"]) == 12
    assert "cannot be matched to the plan" in f["message"] and "--node-name-map" in f["fix"]
    assert not res["ok"]


def test_a_node_name_map_names_an_anonymous_fabric(tmp_path: Path) -> None:
    """guids: discovered plus a GUID map (opensm's node-name-map format) matches again, and a
    swap is named under the map's names."""
    topo = _topo("discovered")
    guids = planned_guids(_topo())
    lines = ["# node-name-map written by the site's inventory", ""]
    lines += [f'0x{g} "{n}"' for g, n in sorted(guids.items())]
    names = parse_node_name_map("\n".join(lines) + "\n")
    assert compare(topo, parse_ibnetdiscover(_anonymous(_real(), hcas=True)), names=names)["ok"]
    leaf = _leaf_guid(_topo(), "leaf-su01-r1")
    text = _anonymous(_swap_leaf_ports(_real(), leaf, 2, 3), hcas=True)
    got = _kinds(compare(topo, parse_ibnetdiscover(text), names=names))
    assert [g[:2] for g in got] == [("swapped-cables", "leaf-su01-r1 port 2 / leaf-su01-r1 port 3")]
    # the same from the command line, with the exit code of a difference
    disc = tmp_path / "fabric.txt"
    disc.write_text(text)
    nmap = tmp_path / "node-name-map"
    nmap.write_text("\n".join(lines) + "\n")
    spec = tmp_path / "spec.yaml"
    preset = Path(aictl.__file__).parent / "spec" / "presets" / "mixed-lab.yaml"
    spec.write_text(preset.read_text().replace("guids: planned", "guids: discovered"))
    out = tmp_path / "build"
    args = ["topo", "verify", str(spec), "--discovered", str(disc), "--out", str(out)]
    r = CliRunner().invoke(app, [*args, "--node-name-map", str(nmap), "-o", "json"])
    assert r.exit_code == 4, r.output
    assert "swapped-cables" in r.output and "ambiguous" not in r.output
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 4 and "ambiguous-devices" in r.output, r.output


def test_smp_timeouts_ahead_of_the_fabric_are_warnings(topo: Topology) -> None:
    """infiniband-diags print ibwarn lines when part of the fabric does not answer: what was
    discovered still parses and still compares."""
    warn = [
        "ibwarn: [4711] _do_madrpc: recv failed: Connection timed out",
        "ibwarn: [4711] mad_rpc: _do_madrpc failed; dport (DR path slid 0; dlid 0; 0,1,5)",
        "src/ibnetdisc.c:810; Query remote node (0x2c90000000008 port 5) failed, skipping port",
    ]
    text = "\n".join(warn) + "\n" + _anonymous(_real(), hcas=True)
    s = parse_summary(text)
    assert s.ok and s.links == 64 and len(s.warnings) == 3 and s.unparsed == ()
    assert compare(topo, parse_ibnetdiscover(text))["ok"]


def test_mixed_generations_and_widths_name_only_the_slow_links(topo: Topology) -> None:
    """The plan is 4xHDR (200 Gb/s): EDR, 2x HDR and SDR are slow, NDR is not."""
    text = _anonymous(_real(), hcas=True)
    leaf = _leaf_guid(topo, "leaf-su02-r3")
    rates = {1: "4xEDR", 2: "2xHDR", 3: "1xSDR", 4: "4xNDR"}
    lines = []
    inside = False
    for ln in text.splitlines():  # both ends of each cable say its rate
        if ln.startswith(("Switch", "Ca")):
            inside = f'"S-{leaf}"' in ln
        m = re.match(r"^\[(\d+)\]", ln)
        far = re.search(rf'"S-{leaf}"\[(\d+)\]', ln)
        port = int(m.group(1)) if inside and m else int(far.group(1)) if far else None
        if port in rates:
            ln = re.sub(r"4xHDR$", rates[port], ln)
        lines.append(ln)
    got = _kinds(compare(topo, parse_ibnetdiscover("\n".join(lines))))
    assert [(k, w) for k, w, _ in got] == [
        ("link-rate", "node05 mlx5_7"),
        ("link-rate", "node06 mlx5_7"),
        ("link-rate", "node07 mlx5_7"),
    ]


def test_a_cable_looped_back_into_its_own_switch(topo: Topology) -> None:
    fab = parse_ibnetdiscover(_anonymous(_real(), hcas=True))
    leaf = next(n for n in fab.nodes.values() if n.guid == _leaf_guid(topo, "leaf-su02-r3"))
    for port in (1, 2):  # the HCAs of node05/node06 rail 3 come off; ports 1 and 2 loop
        rid, rport, _ = leaf.links[port]
        del fab.nodes[rid].links[rport]
    leaf.links[1] = (leaf.id, 2, "4xHDR")
    leaf.links[2] = (leaf.id, 1, "4xHDR")
    got = _kinds(compare(topo, fab))
    assert got[0] == (
        "looped-cable",
        "leaf-su02-r3 port 1",
        "remove the loop at leaf-su02-r3 port 1 and cable the planned node05 mlx5_7 and "
        "node06 mlx5_7",
    )
    assert [k for k, _, _ in got[1:]] == ["missing-cable", "missing-cable"]
    # and the line itself parses as one cable, both ends on the switch
    one = parse_summary(
        'Switch\t8 "S-0002c90000000007"\t\t# "sw" base port 0 lid 10 lmc 0\n'
        '[3]\t"S-0002c90000000007"[4]\t\t# "sw" lid 10 4xHDR\n'
        '[4]\t"S-0002c90000000007"[3]\t\t# "sw" lid 10 4xHDR\n'
    )
    assert (one.switches, one.links) == (1, 1)


def test_a_real_sites_node_name_map() -> None:
    """Comments, a TAB, upper-case GUIDs, a trailing comment, an unquoted name."""
    names = parse_node_name_map((CASES / "real-node-name-map.map").read_text())
    assert len(names) == 9
    assert names["b83fd20300e41b40"] == "lab-l2 (rack A03 U41) MQM8700"  # written upper-case
    assert names["fc6a1c0300b0c300"] == "lab-ndr1 QM9790"  # its trailing comment dropped
    assert names["1070fd030051a6e2"] == "dgx-r03 HCA-1"  # unquoted
    assert names["1070fd030051a6e3"] == "dgx-r03 HCA-2"  # TAB before the name


def test_hcas_named_by_port_guid() -> None:
    """Sites map HCAs by port GUID (what `-p` and the SM show); the default format keys a
    node by its node GUID and names the port GUIDs on its cable lines: both match."""
    topo = _topo("discovered")
    guids = planned_guids(_topo())
    text = _anonymous(_real(), hcas=True)
    fab = parse_ibnetdiscover(text)
    switch_guids = {n.guid for n in fab.nodes.values() if n.kind == "switch"}
    port_only = {g: n for g, n in guids.items() if g in switch_guids or int(g, 16) % 2}
    assert len(port_only) == 12 + 32
    assert compare(topo, fab, names=port_only)["ok"]
