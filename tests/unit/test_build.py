"""Port-level invariants of every preset's plan, checked cable by cable."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import cache

import networkx as nx
import pytest

from aictl.spec.loader import load_preset, parse_spec_text, preset_names, preset_text
from aictl.topology import build_topology
from aictl.topology.analysis import bisection_gbps, bom, failure_impact, path_classes
from aictl.topology.model import Topology

FABRIC = ("node-leaf", "leaf-spine", "spine-core")


@cache
def plan(name: str) -> Topology:
    loaded = load_preset(name)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


@pytest.mark.parametrize("name", preset_names())
def test_no_port_is_used_twice(name: str) -> None:
    topo = plan(name)
    ends: Counter[tuple[str, str]] = Counter()
    for c in topo.cables:
        ends[(c.a_device, c.a_port)] += 1
        ends[(c.b_device, c.b_port)] += 1
    assert max(ends.values()) == 1
    ports = {s.name: s.ports for s in topo.switches if s.role != "agg"}
    for (dev, port), _ in ends.items():
        if dev in ports and port.isdigit():
            assert 1 <= int(port) <= ports[dev], (dev, port)


@pytest.mark.parametrize("name", preset_names())
def test_counts_match_the_sizing(name: str) -> None:
    """Every compute fabric of the plan (one view each) has what its sizing says."""
    topo = plan(name)
    for view in (topo.view(f.name) for f in topo.fabrics):
        counts = view.shape.counts()
        tiers = Counter(c.tier for c in view.cables)
        assert tiers["node-leaf"] == counts["cables"]["node_leaf"]
        assert tiers["leaf-spine"] == counts["cables"]["leaf_spine"]
        assert tiers["spine-core"] == counts["cables"]["spine_core"]
        roles = Counter(s.role for s in view.switches)
        for role in ("leaf", "spine", "core"):
            assert roles[role] == counts["switches"][role]
    assert len({c.id for c in topo.cables}) == len(topo.cables)


@pytest.mark.parametrize("name", preset_names())
def test_rail_alignment(name: str) -> None:
    """NIC r of every node of an SU lands on that SU's rail-r leaf."""
    topo = plan(name)
    leaf = {s.name: s for s in topo.switches if s.role == "leaf"}
    su_of = {n.name: n.su for n in topo.nodes}
    for c in topo.cables:
        if c.tier == "node-leaf" and c.a_device in su_of:
            sw = leaf[c.b_device]
            rail_of = {nic.rdma_device: nic.index for nic in topo.profile(c.a_device).rails}
            assert sw.rail == rail_of[c.a_port.split("/")[0]]
            assert sw.su == su_of[c.a_device]


@pytest.mark.parametrize("name", preset_names())
def test_every_leaf_lands_the_same_links_on_every_spine(name: str) -> None:
    for f in plan(name).fabrics:
        _same_links_on_every_spine(plan(name).view(f.name))


def _same_links_on_every_spine(topo: Topology) -> None:
    sh = topo.shape
    links: dict[str, Counter[str]] = defaultdict(Counter)
    for c in topo.cables:
        if c.tier == "leaf-spine":
            links[c.a_device][c.b_device] += 1
    spines = {s.name: s for s in topo.switches if s.role == "spine"}
    for per_spine in links.values():
        assert set(per_spine.values()) == {sh.links_leaf_spine}
        if sh.tiers == 2:
            assert len(per_spine) == len(spines)
        else:
            rails = {spines[s].rail for s in per_spine}
            pods = {spines[s].pod for s in per_spine}
            assert len(rails) == 1 and len(pods) == 1 and len(per_spine) == sh.spines
    if sh.tiers == 3:
        core_links: dict[str, Counter[str]] = defaultdict(Counter)
        for c in topo.cables:
            if c.tier == "spine-core":
                core_links[c.a_device][c.b_device] += 1
        for counts in core_links.values():
            assert set(counts.values()) == {sh.links_spine_core}
            assert len(counts) == sh.cores_per_group


def _graph(topo: Topology) -> nx.MultiGraph:
    g = nx.MultiGraph()
    g.add_edges_from((c.a_device, c.b_device) for c in topo.cables if c.tier in FABRIC)
    return g


@pytest.mark.parametrize("name", ["lab-small", "a800-200", "dgx-a100-140", "dgx-h100-127"])
def test_failure_impact_agrees_with_graph(name: str) -> None:
    topo = plan(name)
    for row in failure_impact(topo):
        g = _graph(topo)
        g.remove_node(row["example"])
        hosts = [n.name for n in topo.nodes]
        # every node still reaches every other node over some rail
        sub = nx.Graph(g)
        comp = nx.node_connected_component(sub, hosts[0])
        assert all(h in comp for h in hosts) == row["connected"]
        if row["component"] == "leaf":
            lost = [h for h in hosts if g.degree(h) < topo.rails]
            assert len(lost) == row["nodes_losing_rail"]


@pytest.mark.parametrize("name", ["lab-small", "dgx-a100-140"])
def test_path_classes_agree_with_graph(name: str) -> None:
    topo = plan(name)
    g = nx.Graph(_graph(topo))
    nodes = topo.nodes
    same_leaf = [(c.a_device, c.b_device) for c in topo.cables if c.tier == "node-leaf"]
    by_leaf: dict[str, list[str]] = defaultdict(list)
    for host, leaf in same_leaf:
        by_leaf[leaf].append(host)
    a, b = next(v for v in by_leaf.values() if len(v) > 1)[:2]
    classes = {p["class"]: p["switches"] for p in path_classes(topo)}
    # HCA-level path: leaf to leaf of the same rail = 1 switch
    assert classes["same rail, same leaf"] == 1
    far = nodes[-1].name
    leaf_a = nodes[0].leaf_ports[0][0]
    leaf_far_other_rail = nodes[-1].leaf_ports[-1][0]
    switches_between = nx.shortest_path_length(g, leaf_a, leaf_far_other_rail) + 1
    key = "other rail" if topo.shape.tiers == 2 else "other rail (other rail group)"
    assert classes[key] == switches_between
    assert a != b and far


def test_reserved_ufm_slot() -> None:
    topo = plan("dgx-h100-127")
    assert [r.name for r in topo.reserved] == ["ufm-1"]
    ufm = [c for c in topo.cables if c.a_device == "ufm-1"]
    assert len(ufm) == 4
    assert {c.b_device for c in ufm} == {f"leaf-su01-r{r}" for r in range(4)}
    su1 = [n for n in topo.nodes if n.su == 1]
    assert len(su1) == 31


def test_h100_bom_matches_the_reference_architecture() -> None:
    """RA-11333-001: 48 QM9700, 2040 cables, 1536 switch and 508 node transceivers."""
    lines = {(b.category, b.item): b.quantity for b in bom(plan("dgx-h100-127"))}
    fabric = "compute fabric"
    assert lines[(fabric, "leaf switch")] + lines[(fabric, "spine switch")] == 48
    assert lines[(fabric, "cable node-leaf")] + lines[(fabric, "cable leaf-spine")] == 2040
    assert lines[(fabric, "switch transceiver")] == 1536
    assert lines[(fabric, "node transceiver")] == 508


def test_bisection() -> None:
    assert bisection_gbps(plan("a800-200")) == 800 * 200 // 2


def test_addresses_are_unique_and_in_their_subnets() -> None:
    from ipaddress import ip_address, ip_network

    topo = plan("a800-200")
    mgmt = ip_network("10.0.0.0/23")
    seen = set()
    for n in topo.nodes:
        assert ip_address(n.mgmt_ip) in mgmt
        for ip in (n.mgmt_ip, n.bmc_ip, *n.rail_ips):
            assert ip not in seen
            seen.add(ip)
    assert topo.mgmt_gateway == "10.0.0.1"
    for r, net in enumerate(topo.rail_nets):
        assert all(ip_address(n.rail_ips[r]) in ip_network(net.subnet) for n in topo.nodes)
        assert net.pod_range is not None


def test_roce_underlay_identities() -> None:
    topo = plan("roce-h100-256")
    fabric = [s for s in topo.switches if s.role in ("leaf", "spine")]
    assert len({s.loopback for s in fabric}) == len(fabric)
    leaf_asns = [s.asn for s in fabric if s.role == "leaf"]
    assert len(set(leaf_asns)) == len(leaf_asns)
    assert {s.asn for s in fabric if s.role == "spine"} == {65100}


def test_explicit_node_list_keeps_given_addresses() -> None:
    text = (
        preset_text("lab-small")
        .replace(
            '  count: 8\n  hostname: "node{n:02d}"\n',
            "  list:\n    - {name: alpha, rack: r9, mgmt_ip: 10.77.0.50}\n"
            "    - {name: beta}\n    - {name: gamma, bmc_ip: 10.77.1.99}\n",
        )
        .replace("control_plane: [node01]", "control_plane: [alpha]")
        .replace("members: [node01, node02, node03, node04]", "members: [alpha, beta]")
        .replace("hosts: [node01]", "hosts: [alpha]")
    )
    loaded = parse_spec_text(text, "t.yaml")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    by = {n.name: n for n in topo.nodes}
    assert by["alpha"].mgmt_ip == "10.77.0.50" and by["alpha"].rack == "r9"
    assert by["beta"].mgmt_ip == "10.77.0.2"
    assert by["gamma"].bmc_ip == "10.77.1.99"
