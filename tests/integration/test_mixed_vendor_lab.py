"""A heterogeneous cluster end to end on the lab: two HGX A800 on InfiniBand, two AMD MI300X
and two Ascend 910B nodes sharing a RoCE fabric (mixed-vendor-lab). plan -> render -> lab up
-> provision (each vendor's role on its own nodes only) -> verify (the IB fabric) -> check ->
accept -> report pass clean through the CLI, each node read with its own vendor's tools; then
a fault on a node of each vendor is named, and nothing else is (day-2 faults too: RoCE pause
frames on an AMD node's rail, PCIe errors on an NPU)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.errors import LabError
from aictl.lab import lab_clear, lab_down, lab_inject, lab_up
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from tests.integration.test_lab import _require

pytestmark = [pytest.mark.lab, pytest.mark.slow]
CLUSTER = "mixed-vendor-lab"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    _require()
    loaded = load_preset(CLUSTER)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    out = tmp_path_factory.mktemp("mixed-vendor") / "build"
    lab_down(topo.name, build=out)
    try:
        yield out
    finally:
        lab_down(topo.name)


def _cli(*args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, Any]:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code in ok, res.output[-3000:]
    out = res.stdout.strip()
    return res.exit_code, json.loads(out) if out.startswith("{") else out


def _on_lab(build: Path, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, Any]:
    return _cli(*args, "--preset", CLUSTER, "--target", "lab", "--out", str(build), ok=ok)


def test_the_mixed_vendor_cluster_comes_up_clean_end_to_end(build: Path) -> None:
    _cli("topo", "plan", "--preset", CLUSTER, "--out", str(build), "-o", "json")
    _cli("render", "--preset", CLUSTER, "--out", str(build), "-o", "json")
    art = build / "artifacts"
    assert (
        "HCCL_SOCKET_IFNAME=bond0"
        in (art / "profiles" / "atlas-800t-a2" / "etc" / "aictl" / "hccl.env").read_text()
    )
    assert "address_7=" in (art / "hosts" / "npu02" / "etc" / "hccn.conf").read_text()
    assert "NCCL_IB_GID_INDEX" in (art / "profiles" / "mi300x" / "etc" / "nccl.conf").read_text()
    loaded = load_preset(CLUSTER)
    lab_up(build_topology(loaded.spec, spec_sha256=loaded.sha256), build=build)
    _, prov = _on_lab(build, "provision", "-o", "json")
    assert prov["status"] == "successful" and prov["failed"] == [], prov
    assert len(prov["hosts"]) == 6
    # each vendor's inventory tool on its own nodes only
    # (exit 7: the nodes without one of the two tools say so)
    _, out = _on_lab(
        build, "exec", "amd-smi list | grep -c ^GPU; npu-smi info -l", "-o", "json", ok=(7,)
    )
    seen = {r["host"]: r for r in out["results"]}
    assert seen["mi01"]["stdout"].startswith("8")
    assert "Total Count" in seen["npu01"]["stdout"] and seen["gpu01"]["rc"] != 0
    # provisioning configured every NPU port as planned (hccn_tool reads /etc/hccn.conf)
    _, ip = _on_lab(build, "exec", "hccn_tool -i 7 -ip -g", "--limit", "npu02", "-o", "json")
    assert f"ipaddr:{_rail_ip(build, 'npu02', 7)}" in ip["results"][0]["stdout"]
    _, ver = _on_lab(build, "topo", "verify", "--live", "gpu01", "-o", "json")
    assert ver["ok"] and ver["findings"] == 0
    _, chk = _on_lab(build, "check", "-o", "json")
    assert chk["ok"], chk["failing"]
    assert chk["versions"]["mi01"]["rocm"] and chk["versions"]["npu01"]["cann"]
    _, acc = _on_lab(build, "accept", "run", "--suite", "quick", "-o", "json")
    assert acc["verdict"] == "pass", acc["suspects"]
    assert all(c["status"] == "ok" for c in acc["criteria"]), acc["criteria"]
    assert [d["verdict"] for d in acc["domains"]] == ["pass", "pass", "pass"]
    run_dir = Path(acc["run_dir"])
    raw = {p.name: p.read_text() for p in (run_dir / "raw").iterdir()}
    assert "rccl-tests" in raw["cluster_roce-amd_all_reduce.txt"]
    assert "alg_bandwidth(GB/s)" in raw["cluster_roce-huawei_all_reduce.txt"]
    assert "Using ROCm Device" in raw["node_mi01_gdr_r0.txt"]
    _, rep = _cli("report", str(run_dir), "--format", "md,html", "-o", "json")
    md = (run_dir / "report" / "report.md").read_text()
    assert rep["verdict"] == "pass" and "No collective spans two domains" in md


def _rail_ip(build: Path, node: str, rail: int) -> str:
    plan = json.loads((build / "topology.json").read_text())
    return str(next(n for n in plan["nodes"] if n["name"] == node)["rail_ips"][rail])


def test_a_fault_on_a_node_of_each_vendor_is_named(build: Path) -> None:
    if not (build / "targets" / "lab.json").exists():
        pytest.skip("the end-to-end test did not bring the lab up")
    try:
        lab_inject(CLUSTER, "slow-nic", host="gpu02", rail=2, factor=0.5)
        lab_inject(CLUSTER, "nvlink-down", host="mi02", gpu=1, factor=4)
        lab_inject(CLUSTER, "port-down", host="npu01", rail=3)
        # day-2: pause frames off the RoCE priority on an AMD node's ConnectX rail (the
        # lab's ethtool -S), PCIe errors on an Ascend NPU (sysfs AER)
        lab_inject(CLUSTER, "roce-pause", host="mi01", rail=1)
        lab_inject(CLUSTER, "aer-errors", host="npu02", gpu=5)
        with pytest.raises(LabError, match="only through NVIDIA's driver"):
            lab_inject(CLUSTER, "xid", host="mi01", gpu=0)
        with pytest.raises(LabError, match="no RoCE host rails"):
            lab_inject(CLUSTER, "qos-drift", host="npu01", rail=0)
        _, chk = _on_lab(build, "check", "-o", "json", ok=(10,))
        failing = {n: [f["check"] for f in fs] for n, fs in chk["failing"].items()}
        assert failing == {
            "mi01": ["roce"],
            "mi02": ["nvlink"],
            "npu01": ["hca"],
            "npu02": ["aer"],
        }, failing
        why = {n: {f["check"]: f["message"] for f in fs} for n, fs in chk["failing"].items()}
        assert "pause frames on priority 0" in why["mi01"]["roce"]
        assert why["npu02"]["aer"].startswith("NPU5 ")
        _, acc = _on_lab(build, "accept", "run", "--suite", "quick", "-o", "json", ok=(8,))
    finally:
        lab_clear(CLUSTER)
    named = {(s["node"], s.get("rail")): s for s in acc["suspects"]}
    assert set(named) == {("gpu02", 2), ("mi02", None), ("npu01", 3)}, acc["suspects"]
    assert "< 180 Gb/s" in named[("gpu02", 2)]["reason"]
    assert "(xGMI)" in named[("mi02", None)]["reason"]
    assert named[("npu01", 3)]["kind"] == "port-down"
    assert {d["name"]: d["verdict"] for d in acc["domains"]} == {
        "ib": "fail",
        "roce-amd": "fail",
        "roce-huawei": "fail",
    }
