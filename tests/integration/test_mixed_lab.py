"""A mixed cluster end to end on the lab: HGX A800 8-GPU nodes beside HGX H100 4-GPU nodes with
other rail devices. plan -> render -> lab up -> provision -> verify -> check -> accept ->
report pass clean through the CLI, each node with its own profile; then a fault on a node of
each group is named by that node's own expectations, and nothing else is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.lab import lab_clear, lab_down, lab_inject, lab_up
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from tests.integration.test_lab import _require

pytestmark = [pytest.mark.lab, pytest.mark.slow]
CLUSTER = "mixed-lab"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    _require()
    loaded = load_preset(CLUSTER)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    out = tmp_path_factory.mktemp("mixed") / "build"
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


def test_the_mixed_cluster_comes_up_clean_end_to_end(build: Path) -> None:
    _cli("topo", "plan", "--preset", CLUSTER, "--out", str(build), "-o", "json")
    _cli("render", "--preset", CLUSTER, "--out", str(build), "-o", "json")
    nccl = {
        p: (build / "artifacts" / "profiles" / p / "etc" / "nccl.conf").read_text()
        for p in ("hgx-a800", "hgx-h100-4gpu")
    }
    assert "NCCL_IB_HCA==mlx5_0:1,mlx5_1:1,mlx5_2:1,mlx5_3:1" in nccl["hgx-a800"]
    assert "NCCL_IB_HCA==mlx5_4:1,mlx5_5:1,mlx5_6:1,mlx5_7:1" in nccl["hgx-h100-4gpu"]
    loaded = load_preset(CLUSTER)
    lab_up(build_topology(loaded.spec, spec_sha256=loaded.sha256), build=build)
    assert (build / "targets" / "lab.json").exists()
    _, prov = _on_lab(build, "provision", "-o", "json")
    assert prov["status"] == "successful" and prov["failed"] == [], prov
    assert len(prov["hosts"]) == 8
    # the lab's tools, per node group
    _, out = _on_lab(build, "exec", "nvidia-smi -L | grep -c ^GPU", "-o", "json")
    counts = {r["host"]: r["stdout"].strip() for r in out["results"]}
    assert counts == {f"node0{i}": ("8" if i <= 4 else "4") for i in range(1, 9)}
    _, ver = _on_lab(build, "topo", "verify", "--live", "node01", "--lldp", "-o", "json")
    assert ver["ok"] and ver["findings"] == 0 and ver["routing"]["engine"] == "ftree"
    _, chk = _on_lab(build, "check", "-o", "json")
    assert chk["ok"], chk["failing"]
    assert chk["groups"]["node01"] == "hgx-a800" and chk["groups"]["node05"] == "hgx-h100-4gpu"
    assert chk["matrix"]["node05"]["fabricmanager"] == "skip"  # no NVSwitch on that board
    assert chk["matrix"]["node01"]["fabricmanager"] == "ok"
    _, acc = _on_lab(build, "accept", "run", "--suite", "quick", "-o", "json")
    assert acc["verdict"] == "pass", acc["suspects"]
    assert all(c["status"] == "ok" for c in acc["criteria"]), acc["criteria"]
    crit = {c["name"]: c for c in acc["criteria"]}
    assert "weaker side" in crit["cluster_all_reduce"]["note"]
    assert crit["nccl_single_node"]["expected"] == {
        "min_busbw (hgx-a800)": 140.0,
        "min_busbw (hgx-h100-4gpu)": 315.0,
    }
    run_dir = Path(acc["run_dir"])
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["gpu_for_rail"]["node05"] == [0, 1, 2, 3]
    # the 4-GPU nodes were launched with their own GPU count and rail devices
    raw = (run_dir / "raw" / "node_node05_nccl_all_reduce.txt").read_text()
    assert "nGpus 4" in raw and "device  3" in raw and "device  4" not in raw
    _, rep = _cli("report", str(run_dir), "--format", "md,html", "-o", "json")
    md = (run_dir / "report" / "report.md").read_text()
    assert rep["verdict"] == "pass" and "## Node groups" in md and "hgx-h100-4gpu" in md


def test_a_fault_on_each_group_is_named_by_its_own_expectations(build: Path) -> None:
    if not (build / "targets" / "lab.json").exists():
        pytest.skip("the end-to-end test did not bring the lab up")
    try:
        lab_inject(CLUSTER, "slow-nic", host="node02", rail=2, factor=0.5)
        lab_inject(CLUSTER, "nvlink-down", host="node06", gpu=1, factor=4)
        _, chk = _on_lab(build, "check", "-o", "json", ok=(10,))
        failing = {n: [f["check"] for f in fs] for n, fs in chk["failing"].items()}
        assert failing == {"node06": ["nvlink"]}
        _, acc = _on_lab(build, "accept", "run", "--suite", "quick", "-o", "json", ok=(8,))
    finally:
        lab_clear(CLUSTER)
    named = {(s["node"], s.get("rail")): s for s in acc["suspects"]}
    assert set(named) == {("node02", 2), ("node06", None)}, acc["suspects"]
    # node02 against its NIC's floor; node06 below its own group's NVLink floor (315 GB/s),
    # which the A800 group's floor (140 GB/s) would have let through
    assert "< 180 Gb/s" in named[("node02", 2)]["reason"]
    assert "< 315 GB/s (NVLink)" in named[("node06", None)]["reason"]
    _cli("report", acc["run_dir"], "--format", "md", "-o", "json")
    md = (Path(acc["run_dir"]) / "report" / "report.md").read_text()
    assert "**node02 rail 2**" in md and "**node06**" in md
