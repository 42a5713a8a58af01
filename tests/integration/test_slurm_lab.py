"""The lab's real Slurm (Debian's munge, slurmctld, slurmd 22.05): every planned node
registers with its address and GPUs, the partitions are the node groups, slurmctld's
`scontrol show topology` is the plan, Slurm's clients on this machine reach it through the
lab's target, an acceptance run through the real `srun` passes and still names a slow NIC,
and `lab down` leaves no Slurm behind."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.facts.slurm import parse_sinfo, parse_topology
from aictl.lab import RUN_ROOT, lab_clear, lab_inject, lab_status
from aictl.spec.loader import load_preset
from aictl.target import load_target
from aictl.topology import build_topology
from aictl.topology.exports import slurm as slurm_export
from aictl.topology.model import Topology
from tests.conftest import require_tools
from tests.integration._labs import lab_small

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def topo() -> Topology:
    loaded = load_preset("lab-small")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_tools("munged", "slurmctld", "slurmd", "sinfo", "scontrol", "srun")
    yield from lab_small(tmp_path_factory, "slurm")


def _client(build: Path, *argv: str) -> str:
    """A Slurm client on this machine, as a later command runs it: SLURM_CONF from the target."""
    target = load_target(build, "lab-small", "lab")
    p = subprocess.run(
        list(argv),
        env={**os.environ, **target.slurm_env()},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_the_target_records_how_to_reach_slurm(build: Path) -> None:
    target = load_target(build, "lab-small", "lab")
    assert target.slurm_conf is not None and target.slurm_conf.is_file()
    assert target.slurm_conf.is_relative_to(RUN_ROOT / "lab-small")
    assert target.slurm_mpi == "pmi2"
    doc = json.loads((build / "targets" / "lab.json").read_text())
    assert doc["slurm"] == {"conf": str(target.slurm_conf), "mpi": "pmi2"}


def test_every_node_registers_with_its_address_and_gpus(build: Path, topo: Topology) -> None:
    status = lab_status("lab-small")["slurm"]
    assert status["munged"] == "up" and status["controller"] == "node01"
    rows = status["sinfo"]["rows"]
    assert status["sinfo"]["status"] == "ok"
    # one partition per node group (lab-small has one: the default), every node idle
    assert [(r["partition"], r["default"], r["state"]) for r in rows] == [
        ("hgx-a800", True, "idle")
    ]
    assert rows[0]["nodes"] == [n.name for n in topo.nodes]
    shown = _client(build, "scontrol", "show", "node", "-o")
    for n in topo.nodes:
        line = next(x for x in shown.splitlines() if x.startswith(f"NodeName={n.name} "))
        assert f"NodeAddr={n.mgmt_ip} NodeHostName={n.name}" in line
        assert "Gres=gpu:8" in line and "State=IDLE" in line
    # and sinfo itself, read by the fact that lab status uses
    assert parse_sinfo(_client(build, "sinfo")).states() == {n.name: "idle" for n in topo.nodes}


def test_slurmctld_topology_is_the_plan(build: Path, topo: Topology) -> None:
    """slurmctld read aictl's topology.conf: its tree is the plan's (an SU per leaf switch)."""
    live = parse_topology(_client(build, "scontrol", "show", "topology"))
    planned = parse_topology(slurm_export.render(topo))
    assert live.ok and planned.ok
    assert live.leaves() == planned.leaves()
    assert live.children() == planned.children()
    by_su: dict[str, list[str]] = {}
    for n in topo.nodes:
        by_su.setdefault(f"su{n.su:02d}", []).append(n.name)
    assert {k: list(v) for k, v in live.leaves().items()} == by_su
    assert live.switches["fabric"].level == 1  # the top: every node below it
    assert set(live.switches["fabric"].nodes) == {n.name for n in topo.nodes}


def _accept(build: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    args = ["accept", "run", "--preset", "lab-small", "--target", "lab", "--out", str(build)]
    res = CliRunner().invoke(app, [*args, "--launcher", "slurm", "-o", "json", *extra])
    assert res.exit_code in (0, 8), res.output
    return res.exit_code, json.loads(res.stdout)


def _srun_jobs() -> set[str]:
    """The job steps whose ranks met in the lab (srun's jobs are named by their step)."""
    return {p.name for p in (RUN_ROOT / "lab-small" / "shared" / "jobs").glob("slurm-*")}


def test_acceptance_through_srun_passes(build: Path) -> None:
    before = _srun_jobs()
    rc, d = _accept(build)
    assert rc == 0 and d["verdict"] == "pass" and d["suspects"] == [] and d["simulated"]
    assert d["units"]["planned"] == d["units"]["ran"] == 117
    assert all(c["status"] == "ok" for c in d["criteria"])
    run_dir = Path(d["run_dir"])
    assert json.loads((run_dir / "plan.json").read_text())["launcher"] == "slurm"
    lines = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    multi = [r for r in lines if r["kind"] == "nccl" and len(r["hosts"]) > 1]
    assert multi and all(r["status"] == "ok" and r["value"] > 0 for r in multi)
    # every multi-node NCCL test ran as a Slurm job step, its ranks placed by srun
    assert len(_srun_jobs() - before) == len(multi)


def test_a_slow_nic_is_named_through_srun(build: Path) -> None:
    try:
        lab_inject("lab-small", "slow-nic", host="node05", rail=2, factor=0.5)
        rc, d = _accept(build)
    finally:
        lab_clear("lab-small")
    assert rc == 8 and d["verdict"] == "fail"
    got = {(s["node"], s.get("rail")): s["reason"] for s in d["suspects"]}
    assert set(got) == {("node05", 2)}
    assert "< 180 Gb/s" in got[("node05", 2)]


def test_down_leaves_no_slurm_behind(build: Path) -> None:
    from aictl.lab import lab_down

    removed = lab_down("lab-small")
    assert "process munged" in removed
    run = str(RUN_ROOT / "lab-small")
    left = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if run in cmd and any(d in cmd for d in ("munged", "slurmctld", "slurmd")):
            left.append(cmd)
    assert left == []
    assert not Path(run).exists()  # key, state, spool, sockets, logs: all under it
    assert not (build / "targets" / "lab.json").exists()


@pytest.fixture
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Path]]:
    """mixed-lab (8-GPU and 4-GPU groups), brought up after lab-small went down."""
    from aictl.lab import lab_down, lab_up
    from aictl.topology import write_plan

    loaded = load_preset("mixed-lab")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    out = tmp_path_factory.mktemp("slurm-mixed") / "build"
    write_plan(topo, out, picture=False)
    lab_down(topo.name, build=out)
    lab_up(topo, build=out)
    try:
        yield topo, out
    finally:
        lab_down(topo.name)


def test_groups_of_different_gpus_through_srun(mixed: tuple[Topology, Path]) -> None:
    """A partition per node group and one over them all; a test over both groups runs one task
    per GPU, placed by srun's arbitrary distribution."""
    topo, build = mixed
    rows = lab_status("mixed-lab")["slurm"]["sinfo"]["rows"]
    assert [(r["partition"], r["default"], len(r["nodes"])) for r in rows] == [
        ("hgx-a800", False, 4),
        ("hgx-h100-4gpu", False, 4),
        ("all", True, 8),
    ]
    args = ["accept", "run", "--preset", "mixed-lab", "--target", "lab", "--out", str(build)]
    res = CliRunner().invoke(app, [*args, "--launcher", "slurm", "-o", "json"])
    assert res.exit_code == 0, res.output[-3000:]
    d = json.loads(res.stdout)
    assert d["verdict"] == "pass" and d["units"]["planned"] == d["units"]["ran"]
    jobs = RUN_ROOT / "mixed-lab" / "shared" / "jobs"
    ranks = {p.name: len(list(p.glob("rank-*.json"))) for p in jobs.glob("slurm-*")}
    gpus = sum(topo.profile(n).gpu.count for n in topo.nodes)
    assert gpus in ranks.values()  # the cluster-wide test: a rank per GPU, 8 + 4 per pair
    assert 12 in ranks.values()
