"""The Ansible inventory: the sample kept as a golden case, and Ansible as the oracle."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aictl.render.targets.inventory import render_inventory
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from tests.conftest import ROOT, check_golden

SAMPLE = ROOT / "inventories" / "sample"


def _lab_small() -> dict[str, bytes]:
    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    return {a.path.removeprefix("inventory/"): a.data for a in render_inventory(topo)}


def test_sample_inventory_is_current(update_golden: bool) -> None:
    files = _lab_small()
    for rel, data in files.items():
        check_golden(SAMPLE / rel, data.decode(), update_golden)
    on_disk = {p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*") if p.is_file()}
    assert on_disk == set(files)


def test_ansible_reads_it(tmp_path: Path) -> None:
    tool = shutil.which("ansible-inventory") or str(
        Path(__import__("sys").executable).with_name("ansible-inventory")
    )
    if not Path(tool).exists():
        pytest.skip("ansible-core not installed")
    out = subprocess.run(
        [tool, "-i", str(SAMPLE), "--list"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
    )
    inv = json.loads(out.stdout)
    assert inv["gpu_nodes"]["hosts"] == [f"node{i:02d}" for i in range(1, 9)]
    assert inv["su02"]["hosts"] == ["node05", "node06", "node07", "node08"]
    assert inv["k8s_cluster"]["children"] == ["kube_control_plane", "kube_node"]
    assert inv["kube_control_plane"]["hosts"] == ["node01"] == inv["etcd"]["hosts"]
    assert inv["subnet_managers"]["hosts"] == ["node01"]
    assert set(inv["leaf_switches"]["hosts"]) >= {"leaf-su01-r0", "leaf-su02-r3"}
    node = inv["_meta"]["hostvars"]["node03"]
    assert node["ansible_host"] == "10.77.0.4"
    assert node["aictl_rails"][2] == {
        "rail": 2,
        "rdma_device": "mlx5_2",
        "netdev": "lan4",
        "address": "10.77.18.4/24",
        "leaf": "leaf-su01-r2",
        "leaf_port": 3,
    }
    assert node["aictl_cluster"] == "lab-small" and node["aictl_mgmt_gateway"] == "10.77.0.1"
    assert inv["_meta"]["hostvars"]["tor-01a"]["ansible_host"].startswith("10.77.255.")


def _plays(inventory: Path, home: Path) -> dict[str, set[str]]:
    """`ansible-playbook --list-hosts` of site.yml: each play's tag -> the hosts it targets."""
    tool = Path(__import__("sys").executable).with_name("ansible-playbook")
    if not tool.exists():
        pytest.skip("ansible-core not installed")
    out = subprocess.run(
        [str(tool), "-i", str(inventory), str(ROOT / "playbooks" / "site.yml"), "--list-hosts"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home)},
    )
    plays: dict[str, set[str]] = {}
    tag = ""
    for ln in out.stdout.splitlines():
        m = re.match(r"\s+play #\d+ .*TAGS: \[(\w+)\]", ln)
        if m:
            tag = m.group(1)
            plays[tag] = set()
        elif tag and re.match(r"^ {6}\S+$", ln):
            plays[tag].add(ln.strip())
    return plays


@pytest.mark.parametrize("preset", ["mixed-vendor-lab", "mixed-center"])
def test_each_vendor_role_runs_on_its_own_group_only(preset: str, tmp_path: Path) -> None:
    """Ansible itself says which hosts each play targets: a vendor's stack play holds that
    vendor's nodes and no other's, and the shared plays hold every node."""
    loaded = load_preset(preset)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    for a in render_inventory(topo):
        (tmp_path / a.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / a.path).write_bytes(a.data)
    plays = _plays(tmp_path / "inventory", tmp_path)
    by_vendor: dict[str, set[str]] = {}
    for n in topo.nodes:
        by_vendor.setdefault(topo.profile(n).gpu.vendor, set()).add(n.name)
    assert plays["gpu"] == by_vendor["nvidia"]
    assert plays["rocm"] == by_vendor.get("amd", set())
    assert plays["ascend"] == by_vendor["huawei"]
    assert not (plays["gpu"] & plays["rocm"] or plays["gpu"] & plays["ascend"])
    assert not plays["rocm"] & plays["ascend"]
    every = {n.name for n in topo.nodes}
    assert plays["preflight"] == plays["network"] == plays["accept_prereqs"] == every
