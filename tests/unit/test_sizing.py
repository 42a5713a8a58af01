"""The sizing engine against NVIDIA's published SuperPOD tables and the seed design."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aictl.errors import TopologyError
from aictl.topology.sizing import SizingInput, size_fabric


def _h100(nodes: int, reserved_slots: int = 0, reserved_ports: int = 0) -> dict[str, Any]:
    shape = size_fabric(
        SizingInput(
            nodes=nodes,
            nodes_per_su=32,
            rails=8,
            link_gbps=400,
            switch_ports=64,
            reserved_slots=reserved_slots,
            reserved_ports=reserved_ports,
        )
    )
    return shape.counts()


# DGX SuperPOD H100 RA-11333-001, table 4 (the 127-node build; one slot of SU 1 is UFM,
# 4 leaf ports): SUs, nodes, leaf, spine, node+UFM-leaf cables, leaf-spine cables.
H100_TABLE4 = [
    (1, 31, 8, 4, 252, 256),
    (2, 63, 16, 8, 508, 512),
    (3, 95, 24, 16, 764, 768),
    (4, 127, 32, 16, 1020, 1024),
]


@pytest.mark.parametrize(
    ("sus", "nodes", "leaf", "spine", "node_leaf", "leaf_spine"),
    H100_TABLE4,
    ids=[f"{r[0]}su" for r in H100_TABLE4],
)
def test_h100_table4(
    sus: int, nodes: int, leaf: int, spine: int, node_leaf: int, leaf_spine: int
) -> None:
    c = _h100(nodes, reserved_slots=1, reserved_ports=4)
    assert c["sus"] == sus
    assert c["tiers"] == 2
    assert c["switches"] == {"leaf": leaf, "spine": spine, "core": 0, "total": leaf + spine}
    assert c["cables"] == {"node_leaf": node_leaf, "leaf_spine": leaf_spine, "spine_core": 0}


# Table 3 (full SUs, two tiers) and the three-tier rows NVIDIA publishes for the same radix
# and SU size (DGX SuperPOD B200 RA, "Larger DGX SuperPOD component counts").
FULL_SU_ROWS = [
    (2, 64, 16, 8, 0),
    (4, 128, 32, 16, 0),
    (8, 256, 64, 32, 0),
    (16, 512, 128, 128, 64),
    (32, 1024, 256, 256, 128),
    (64, 2048, 512, 512, 256),
]


@pytest.mark.parametrize(
    ("sus", "nodes", "leaf", "spine", "core"), FULL_SU_ROWS, ids=[f"{r[0]}su" for r in FULL_SU_ROWS]
)
def test_full_su_rows(sus: int, nodes: int, leaf: int, spine: int, core: int) -> None:
    c = _h100(nodes)
    assert c["tiers"] == (3 if core else 2)
    assert c["switches"] == {
        "leaf": leaf,
        "spine": spine,
        "core": core,
        "total": leaf + spine + core,
    }
    endpoints = nodes * 8
    assert c["cables"] == {
        "node_leaf": endpoints,
        "leaf_spine": endpoints,
        "spine_core": endpoints if core else 0,
    }


def test_three_sus_need_16_spines_not_12() -> None:
    """Port arithmetic says 768/64 = 12; 32 uplinks only split evenly over 16."""
    shape = size_fabric(
        SizingInput(nodes=96, nodes_per_su=32, rails=8, link_gbps=400, switch_ports=64)
    )
    assert shape.spines == 16
    assert shape.links_leaf_spine == 2
    assert shape.leaf_uplinks % shape.spines == 0


def test_seed_a800_200() -> None:
    shape = size_fabric(
        SizingInput(nodes=200, nodes_per_su=20, rails=4, link_gbps=200, switch_ports=40)
    )
    c = shape.counts()
    assert c["tiers"] == 2
    assert c["switches"]["leaf"] == 40 and c["switches"]["spine"] == 20
    assert c["cables"]["node_leaf"] == 800 and c["cables"]["leaf_spine"] == 800
    assert shape.links_leaf_spine == 1  # every leaf: one link to every spine


def test_201_nodes_need_a_third_tier() -> None:
    inp = SizingInput(nodes=201, nodes_per_su=20, rails=4, link_gbps=200, switch_ports=40)
    assert size_fabric(inp).tiers == 3
    with pytest.raises(TopologyError) as exc:
        size_fabric(
            SizingInput(
                nodes=201, nodes_per_su=20, rails=4, link_gbps=200, switch_ports=40, tiers="2"
            )
        )
    assert "at most 40 leaves" in exc.value.message
    assert "200 nodes" in exc.value.message  # says what would fit


def test_144_port_72_node_sus() -> None:
    """Quantum-X800-style radix: one 72-down leaf per rail per SU, k^2/2 endpoints in 2 tiers."""
    two = size_fabric(
        SizingInput(nodes=72 * 18, nodes_per_su=72, rails=8, link_gbps=800, switch_ports=144)
    )
    assert two.tiers == 2 and two.leaves_per_plane == 144 and two.spines == 72
    assert two.leaves_per_plane * 72 == 144 * 144 // 2  # exactly k^2/2 endpoints
    three = size_fabric(
        SizingInput(nodes=16384, nodes_per_su=72, rails=8, link_gbps=800, switch_ports=144)
    )
    assert three.tiers == 3
    assert three.inp.nodes * 8 <= 144**3 // 4


def test_planes_multiply_everything() -> None:
    one = size_fabric(
        SizingInput(nodes=128, nodes_per_su=32, rails=8, link_gbps=400, switch_ports=64)
    ).counts()
    two = size_fabric(
        SizingInput(nodes=128, nodes_per_su=32, rails=8, link_gbps=400, switch_ports=64, planes=2)
    ).counts()
    assert two["switches"]["leaf"] == 2 * one["switches"]["leaf"]
    assert two["cables"]["leaf_spine"] == 2 * one["cables"]["leaf_spine"]


def test_leaf_oversubscription() -> None:
    shape = size_fabric(
        SizingInput(
            nodes=96,
            nodes_per_su=48,
            rails=4,
            link_gbps=400,
            switch_ports=64,
            leaf_oversubscription=3.0,
        )
    )
    assert shape.slots_per_leaf == 48 and shape.leaf_uplinks == 16
    assert shape.counts()["oversubscription"] == {"leaf": "3:1", "spine": None}


def test_su_larger_than_a_leaf_splits_into_leaf_groups() -> None:
    shape = size_fabric(
        SizingInput(nodes=128, nodes_per_su=64, rails=4, link_gbps=400, switch_ports=64)
    )
    assert shape.leaves_per_rail_per_su == 2 and shape.slots_per_leaf == 32


def test_three_tiers_too_big() -> None:
    with pytest.raises(TopologyError) as exc:
        size_fabric(
            SizingInput(nodes=16384, nodes_per_su=32, rails=8, link_gbps=400, switch_ports=64)
        )
    assert "spine pods" in exc.value.message
    assert "nodes) fit" in exc.value.hint


@settings(max_examples=300, deadline=None)
@given(
    nodes=st.integers(1, 3000),
    su=st.integers(2, 80),
    rails=st.sampled_from([1, 2, 4, 8]),
    ports=st.sampled_from([8, 16, 32, 36, 40, 48, 64, 128, 144]),
    over=st.sampled_from([1.0, 1.0, 2.0, 3.0]),
)
def test_sizing_rules_hold_everywhere(
    nodes: int, su: int, rails: int, ports: int, over: float
) -> None:
    """Whatever fits obeys the rules; whatever does not fit says so as a TopologyError."""
    try:
        sh = size_fabric(
            SizingInput(
                nodes=nodes,
                nodes_per_su=su,
                rails=rails,
                link_gbps=200,
                switch_ports=ports,
                leaf_oversubscription=over,
            )
        )
    except TopologyError:
        return
    assert sh.sus * su >= nodes
    assert sh.slots_per_leaf * sh.leaves_per_rail_per_su >= su
    assert sh.slots_per_leaf + sh.leaf_uplinks <= ports
    assert sh.slots_per_leaf <= sh.leaf_uplinks * over + 1e-9
    assert sh.leaf_uplinks == sh.spines * sh.links_leaf_spine  # same links to every spine
    if sh.tiers == 2:
        assert sh.leaves_per_plane * sh.links_leaf_spine <= ports
        # the smallest such spine count
        for s in range(1, sh.spines):
            if sh.leaf_uplinks % s == 0:
                assert sh.leaves_per_plane * (sh.leaf_uplinks // s) > ports
    else:
        assert sh.leaves_per_pod * sh.links_leaf_spine + sh.spine_uplinks <= ports
        assert sh.spine_uplinks == sh.cores_per_group * sh.links_spine_core
        assert rails * sh.pods_per_rail * sh.links_spine_core <= ports
        assert sh.pods_per_rail * sh.sus_per_pod >= sh.sus
