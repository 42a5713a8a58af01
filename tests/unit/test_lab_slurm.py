"""The lab's Slurm configuration (golden slurm.conf and gres.conf per lab preset), Slurm's host
lists, and the target's Slurm fields (written only when set, read back, older files too).
The real slurmctld reading these files is tests/integration/test_slurm_lab.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aictl.facts.slurm import expand_hostlist, parse_sinfo, parse_topology
from aictl.lab import RUN_ROOT, fabric_head
from aictl.lab import slurm as lab_slurm
from aictl.spec.loader import load_preset
from aictl.target import ClusterTarget, load_target
from aictl.topology import build_topology
from aictl.topology.exports import slurm as slurm_export
from aictl.topology.model import Topology
from tests.conftest import TESTS, check_golden

LABS = ("lab-small", "mixed-lab")


def _topo(name: str) -> Topology:
    loaded = load_preset(name)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


@pytest.mark.parametrize("case", LABS)
def test_golden_lab_slurm_conf(case: str, update_golden: bool) -> None:
    topo = _topo(case)
    root = RUN_ROOT / case / "slurm"
    out = TESTS / "cases" / case / "expected" / "lab-slurm"
    conf = lab_slurm.slurm_conf(topo, root=root, head=fabric_head(topo))
    check_golden(out / "slurm.conf", conf, update_golden)
    check_golden(out / "gres.conf", lab_slurm.gres_conf(topo, dev=root / "dev"), update_golden)


def test_every_node_once_with_its_address_gpus_and_group() -> None:
    topo = _topo("mixed-lab")
    conf = lab_slurm.slurm_conf(topo, root=Path("/r"), head="node01")
    nodes = [x for x in conf.splitlines() if x.startswith("NodeName=")]
    assert len(nodes) == len(topo.nodes)
    for n in topo.nodes:
        gpus = topo.profile(n).gpu.count
        line = f"NodeName={n.name} NodeHostname={n.name} NodeAddr={n.mgmt_ip} CPUs={gpus} "
        assert f"{line}Gres=gpu:{gpus} State=UNKNOWN" in nodes
    parts = {
        x.split()[0].removeprefix("PartitionName="): x
        for x in conf.splitlines()
        if x.startswith("PartitionName=")
    }
    # one partition per node group, and (several groups) one over them all, the default
    assert set(parts) == {*topo.groups(), "all"}
    assert "Default=YES" in parts["all"]
    for group, members in topo.groups().items():
        listed = parts[group].split()[1].removeprefix("Nodes=")
        assert expand_hostlist(listed) == tuple(n.name for n in members)
        assert "Default=NO" in parts[group]
    assert f"SlurmctldHost=node01({topo.node('node01').mgmt_ip})" in conf
    assert "TopologyPlugin=topology/tree" in conf and "ProctrackType=proctrack/linuxproc" in conf
    # the GPUs of each group: as many device files as GPUs
    gres = lab_slurm.gres_conf(topo, dev=Path("/r/dev"))
    lines = {
        expand_hostlist(x.split()[0].removeprefix("NodeName=")): x.split()[1:]
        for x in gres.splitlines()
        if x.startswith("NodeName=")
    }
    assert lines == {
        tuple(n.name for n in members): [
            "Name=gpu",
            f"Count={topo.profiles[g].gpu.count}",
            f"File=/r/dev/nvidia[0-{topo.profiles[g].gpu.count - 1}]",
        ]
        for g, members in topo.groups().items()
    }


def test_the_lab_topology_is_aictls_export() -> None:
    topo = _topo("lab-small")
    tree = parse_topology(slurm_export.render(topo))
    assert tree.ok
    assert tree.leaves() == {
        "su01": expand_hostlist("node[01-04]"),
        "su02": ("node05", "node06", "node07", "node08"),
    }
    assert tree.children() == {"fabric": ("su01", "su02")}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("node[01-03,07]", ("node01", "node02", "node03", "node07")),
        ("dgx[098-101],gpu9", ("dgx098", "dgx099", "dgx100", "dgx101", "gpu9")),
        ("r[1-2]n[1-2]", ("r1n1", "r1n2", "r2n1", "r2n2")),
        ("su01", ("su01",)),
        ("", ()),
    ],
)
def test_hostlists(text: str, names: tuple[str, ...]) -> None:
    assert expand_hostlist(text) == names


@pytest.mark.parametrize("text", ["node[01-", "node]", "node[a-b]", "node[1-x]"])
def test_bad_hostlists_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        expand_hostlist(text)


def test_sinfo_states_and_flags() -> None:
    text = (
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\n"
        "all*         up   infinite      1  down* node04\n"
        "all*         up   infinite      1  drain node02\n"
        "all*         up   infinite      2   idle node[01,03]\n"
        "empty        up   infinite      0    n/a\n"
    )
    got = parse_sinfo(text)
    assert got.ok and [r.partition for r in got.rows] == ["all"] * 3 + ["empty"]
    assert got.states() == {
        "node04": "down*",
        "node02": "drain",
        "node01": "idle",
        "node03": "idle",
    }
    assert got.rows[0].default and not got.rows[3].default and got.rows[3].nodes == ()


def test_target_slurm_fields_round_trip_and_stay_out_when_unset(tmp_path: Path) -> None:
    plain = ClusterTarget("lab-small", name="lab")
    assert "slurm" not in plain.as_json() and plain.slurm_env() == {}
    conf = tmp_path / "slurm.conf"
    t = ClusterTarget("lab-small", name="lab", slurm_conf=conf, slurm_mpi="pmi2")
    doc = t.as_json()
    assert doc["slurm"] == {"conf": str(conf), "mpi": "pmi2"}
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "lab.json").write_text(json.dumps(doc))
    back = load_target(tmp_path, "lab-small", "lab")
    assert back.slurm_conf == conf and back.slurm_mpi == "pmi2"
    assert back.slurm_env() == {"SLURM_CONF": str(conf)}
    # a target written before Slurm was recorded reads as one without it
    (tmp_path / "targets" / "old.json").write_text(json.dumps(plain.as_json()))
    old = load_target(tmp_path, "lab-small", "old")
    assert old.slurm_conf is None and old.slurm_mpi is None
    # relative to the target file, as every path in it
    doc["slurm"]["conf"] = "../slurm.conf"
    (tmp_path / "targets" / "rel.json").write_text(json.dumps(doc))
    assert (
        load_target(tmp_path, "lab-small", "rel").slurm_conf == tmp_path / "targets/../slurm.conf"
    )
