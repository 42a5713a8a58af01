"""Preflight parsers on the real samples and on the lab's outputs; each lab fault fails exactly
its check; parsers never crash on text they do not know."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aictl.checks import commands, preflight, rules
from aictl.facts import gpu, hca, host
from aictl.facts.registry import REGISTRY, detect
from aictl.lab import simtools
from aictl.lab.hardware import (
    aer_grep,
    apply_fault,
    bonding_status,
    fm_log,
    node_hardware,
    roce_text,
)
from aictl.spec.loader import load_preset
from aictl.status import Status
from aictl.topology import build_topology
from aictl.topology.model import Topology
from tests.conftest import require_shared


def _sample(name: str) -> str:
    return (require_shared("samples") / name).read_text()


def _topo(preset: str = "lab-small") -> Topology:
    loaded = load_preset(preset)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


# ---- real samples ------------------------------------------------------------------------
def test_topo_old_layout_with_tabs() -> None:
    d = gpu.parse_topo(_sample("nvidia_smi_topo_m_dgx_a100_12xmlx5_tabs.txt"))
    assert d.ok and d.gpus == 8 and len(d.nics) == 12
    assert d.near(0) == ("mlx5_0", "mlx5_1")
    assert d.near(4) == ("mlx5_6", "mlx5_7")
    assert d.matrix["2"]["mlx5_2"] == "PXB" and d.simulated is False


def test_topo_new_layout_resolves_the_nic_legend() -> None:
    d = gpu.parse_topo(_sample("nvidia_smi_topo_m_hgx_h100_12nic_roce.txt"))
    assert d.near(0) == ("mlx5_0",)
    assert d.near(3) == ("mlx5_5",)  # not mlx5_3: never assume GPU i <-> mlx5_i
    assert d.near(7) == ("mlx5_11",)


def test_ibstat_roce_and_ib_and_partial() -> None:
    d = hca.parse_ibstat(_sample("ibstat_h100_roce_all_active.txt"))
    assert d.ok and {p.link_layer for p in d.ports} == {"Ethernet"}
    assert all(p.state == "Active" for p in d.ports)
    assert d.port1()["mlx5_0"].rate_gbps == 400
    d = hca.parse_ibstat(_sample("ibstat_a100_azure_vf_ibpanic_error.txt"))
    assert d.status is Status.FAIL and d.failure and "mlx5_8" in d.failure.message
    assert len(d.ports) == 8 and {p.rate_gbps for p in d.ports} == {200}
    assert d.ports[0].lid == 13247 and d.ports[0].link_layer == "InfiniBand"
    d = hca.parse_ibstat(_sample("ibstat_azure_hbv3_mlx5_ib0_cx6vf.txt"))
    assert d.ok and d.ports[0].rate_gbps == 200


def test_ibv_devinfo_old_and_new_layouts() -> None:
    d = hca.parse_ibv_devinfo(_sample("ibv_devinfo_2hca_cx3_one_port_down.txt"))
    states = [(p.device, p.port, p.state) for p in d.ports]
    assert states == [
        ("mlx4_1", 1, "Active"),
        ("mlx4_1", 2, "Down"),
        ("mlx4_0", 1, "Active"),
        ("mlx4_0", 2, "Down"),
    ]
    d = hca.parse_ibv_devinfo(_sample("ibv_devinfo_cx7_roce_mlx5_0.txt"))
    assert d.ports == (hca.IbPort("mlx5_0", 1, "Active", None, None, "Ethernet", 0, None, 4096),)


def test_show_gids_ibdev2netdev_nvlink_and_retirement() -> None:
    g = hca.parse_show_gids(_sample("show_gids_cx7_roce_mlx5_0.txt"))
    assert len(g.gids) == 4 and g.gids[3].version == "v2"
    assert g.gids[3].ipv4 == "10.99.91.39" and g.gids[0].ipv4 == ""
    i = hca.parse_ibdev2netdev(_sample("ibdev2netdev_hgx_h100_12nic.txt"))
    by = {x.device: x for x in i.links}
    assert len(by) == 12 and not by["mlx5_10"].up and by["mlx5_3"].netdev == "bond0"
    n = gpu.parse_nvlink(_sample("nvidia_smi_nvlink_status_good_a100_gpu7.txt"))
    assert [(x.index, x.links_active, x.links_total) for x in n.gpus] == [(7, 12, 12)]
    q = gpu.parse_smi_query(_sample("nvidia_smi_q_page_retirement_8xA100_azure.txt"))
    assert q.driver == "535.86.10" and len(q.gpus) == 8
    assert all(g.retired_dbe == 0 and not g.retired_pending for g in q.gpus)


def test_auto_detects_every_preflight_sample() -> None:
    base = require_shared("samples")
    want = {
        "nvidia_smi_topo": "topo",
        "ibstat_": "ibstat",
        "ibv_devinfo_": "ibv_devinfo",
        "show_gids_": "show_gids",
        "ibdev2netdev_": "ibdev2netdev",
        "nvidia_smi_nvlink": "nvlink",
        "nvidia_smi_q_": "nvidia-smi-q",
    }
    seen = 0
    for f in sorted(base.glob("*.txt")):
        if f.name.endswith(".source.txt"):
            continue
        for prefix, tool in want.items():
            if f.name.startswith(prefix):
                assert detect(f.read_text()) == tool, f.name
                seen += 1
    assert seen >= 10


# ---- the lab's outputs and the rules -----------------------------------------------------
def _run(tool: str, args: list[str], hw: dict[str, Any], tmp: Path) -> str:
    f = tmp / "hardware.json"
    f.write_text(json.dumps(hw))
    simtools.HW_FILE = str(f)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        simtools.main([f"/usr/local/bin/{tool}", *args])
    return buf.getvalue()


def _script_output(topo: Topology, hw: dict[str, Any], tmp: Path) -> str:
    """What commands.script would print on a lab node with this hardware."""
    mtu = topo.profile(hw["node"]).rail_mtu
    links = [{"ifname": "bond0", "mtu": 9000, "operstate": "UP"}] + [
        {"ifname": n["netdev"], "mtu": mtu, "operstate": "UP"} for n in hw["nics"]
    ]
    outputs = {
        "nvidia-smi-q": _run("nvidia-smi", ["-q"], hw, tmp),
        "topo": _run("nvidia-smi", ["topo", "-m"], hw, tmp),
        "nvlink": _run("nvidia-smi", ["nvlink", "-s"], hw, tmp),
        "fabricmanager": hw["fabricmanager"] + "\n",
        "lsmod": _run("lsmod", [], hw, tmp),
        "ofed_info": _run("ofed_info", ["-s"], hw, tmp),
        "ibstat": _run("ibstat", [], hw, tmp),
        "lspci": _run("lspci", ["-vvv"], hw, tmp),
        "bonding": bonding_status(hw),
        "ip-link": json.dumps(links),
        # day-2: the node's clock line as the commands print it, then the tools
        "kernel-log": "# aictl clock 1767225660 uptime 86400 window 86400\n"
        + _run("dmesg", [], hw, tmp),
        "nvlink-errors": _run("nvidia-smi", ["nvlink", "-e"], hw, tmp),
        "aer": aer_grep(hw),
        "roce": roce_text(hw),
        "fabricmanager-log": fm_log(hw),
        "dcgm": _run("dcgmi", ["diag", "-r", "2", "-j"], hw, tmp),
    }
    assert set(outputs) == set(rules.needed_facts())
    rc = {"fabricmanager": 0 if hw["fabricmanager"] == "active" else 3}
    return "".join(
        f"@@aictl {k}\n{v.rstrip()}\n@@aictl-rc {k} {rc.get(k, 0)}\n" for k, v in outputs.items()
    )


def _failed(topo: Topology, hw: dict[str, Any], tmp: Path) -> dict[str, str]:
    facts = preflight.facts_of(_script_output(topo, hw, tmp))
    res = rules.evaluate(topo.profile(hw["node"]), facts)
    return {r.check: r.message for r in res if r.status is Status.FAIL}


def test_lab_outputs_parse_and_a_healthy_node_passes(tmp_path: Path) -> None:
    topo = _topo()
    hw = node_hardware(topo, topo.nodes[0])
    facts = preflight.facts_of(_script_output(topo, hw, tmp_path))
    assert all(f.ok for f in facts.values()), facts.by_name
    topo_m = facts.get("topo", gpu.TopoMatrix)
    smi = facts.get("nvidia-smi-q", gpu.SmiQuery)
    bond = facts.get("bonding", host.BondStatus)
    assert topo_m and smi and bond
    assert topo_m.near(0) == ("mlx5_0",) and smi.simulated
    assert bond.members[1] == host.BondMember("lan1", "up", 25000, 1)
    assert _failed(topo, hw, tmp_path) == {}


@pytest.mark.parametrize(
    ("fault", "check", "words"),
    [
        ({"kind": "port-down", "rail": 2}, "hca", "rail 2 mlx5_2: state Down"),
        ({"kind": "pcie-degraded", "gpu": 5, "factor": 8}, "pcie", "GPU5"),
        ({"kind": "peermem-missing"}, "peermem", "GPUDirect RDMA is off"),
        ({"kind": "fabricmanager-stopped"}, "fabricmanager", "inactive"),
        ({"kind": "ecc-errors", "gpu": 3}, "ecc", "GPU3 2 uncorrectable"),
        # day-2 faults: each found by its check alone
        ({"kind": "xid", "gpu": 2, "at": 1767225600.0}, "xid", "GPU2 Xid 119 (GSP RPC timeout)"),
        ({"kind": "xid", "gpu": 1, "code": 79, "at": 1767225600.0}, "xid", "GPU1 Xid 79"),
        ({"kind": "gpu-missing", "gpu": 5}, "gpu", "7 GPUs, planned 8"),
        ({"kind": "throttle", "gpu": 1}, "throttle", "GPU1 HW Slowdown, HW Thermal Slowdown"),
        ({"kind": "fabric-state"}, "fabricmanager", "GPU fabric state In Progress"),
        ({"kind": "dcgm-fail", "gpu": 3}, "dcgm", "memory on GPU 3"),
        ({"kind": "aer-errors", "gpu": 4}, "aer", "GPU4 0000:58:00.0 0 fatal, 3 non-fatal"),
        ({"kind": "nvlink-errors", "gpu": 6}, "nvlink-errors", "GPU6 links 0: 2 recovery"),
    ],
)
def test_each_fault_fails_exactly_its_check(
    fault: dict[str, Any], check: str, words: str, tmp_path: Path
) -> None:
    topo = _topo()
    hw = node_hardware(topo, topo.nodes[0])
    apply_fault(hw, {"rail": None, "gpu": None, "factor": None, **fault})
    failed = _failed(topo, hw, tmp_path)
    assert list(failed) == [check] and words in failed[check]


def test_acs_bond_mtu_affinity_and_nvlink_rules(tmp_path: Path) -> None:
    topo = _topo()
    hw = node_hardware(topo, topo.nodes[0])
    hw["bridges"][1]["acs"] = True
    hw["gpus"][2]["nvlinks_down"] = 2
    hw["nics"][1]["gpus"] = [4]  # GPU2/3 lose their PIX NIC
    out = _script_output(topo, hw, tmp_path)
    out = out.replace("Aggregator ID: 1\n\n", "Aggregator ID: 2\n\n", 1)  # lan0 elsewhere
    out = out.replace('"mtu": 4092', '"mtu": 1500', 1)
    facts = preflight.facts_of(out)
    res = {r.check: r for r in rules.evaluate(topo.profile(topo.nodes[0]), facts)}
    bad = {c for c, r in res.items() if r.status is Status.FAIL}
    assert bad == {"acs", "nvlink", "affinity", "bond", "mtu"}
    assert "0000:4a:00.0" in res["acs"].message and "GPU2 6/8" in res["nvlink"].message
    assert "GPU2-mlx5_1 (rail 1) is NODE" in res["affinity"].message
    assert "lan0 in aggregator 2, active is 1" in res["bond"].message
    assert "lan2 1500 (planned 4092)" in res["mtu"].message


def test_fleet_rule_flags_the_odd_driver() -> None:
    ok = rules.Result("driver", Status.OK)
    rows = {n: {"driver": ok, "ofed": ok} for n in ("a", "b", "c")}
    versions = {
        "a": {"driver": "535.1", "ofed": "X"},
        "b": {"driver": "535.1", "ofed": "X"},
        "c": {"driver": "550.2", "ofed": "X"},
    }
    rules.fleet(rows, versions)
    assert (
        rows["c"]["driver"].status is Status.FAIL
        and "fleet runs 535.1" in rows["c"]["driver"].message
    )
    assert rows["a"]["driver"].status is Status.OK and rows["c"]["ofed"].status is Status.OK


def test_missing_tools_and_cut_off_output_fail_their_checks() -> None:
    topo = _topo()
    out = (
        "@@aictl nvidia-smi-q\nbash: nvidia-smi: command not found\n@@aictl-rc nvidia-smi-q 127\n"
        "@@aictl ibstat\nCA 'm"
    )
    facts = preflight.facts_of(out)
    smi = facts.by_name["nvidia-smi-q"]
    assert smi.status is Status.FAIL and smi.failure and "not found" in smi.failure.message
    res = {r.check: r for r in rules.evaluate(topo.profile(topo.nodes[0]), facts)}
    assert res["gpu"].status is Status.FAIL and "cannot read nvidia-smi-q" in res["gpu"].message
    assert res["hca"].status is Status.FAIL
    assert commands.split("@@aictl x\nabc\n@@aictl-rc x 0\n") == {"x": (0, "abc")}


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_parsers_never_crash(text: str) -> None:
    for name, fact in REGISTRY.items():
        d = fact.parse(text)
        assert d.tool and d.status in (Status.OK, Status.FAIL), name
