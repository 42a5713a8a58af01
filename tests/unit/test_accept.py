"""The acceptance plan, localization, verdict, launch commands and run store, without a lab."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from aictl.accept import launch, localize, verdict
from aictl.accept.expect import expectations
from aictl.accept.model import Kind, RunPlan, Stage, Unit, UnitResult
from aictl.accept.plan import build, pair_rounds
from aictl.accept.store import RunStore
from aictl.errors import RunError
from aictl.spec.loader import load_preset
from aictl.status import Status
from aictl.topology import build_topology
from aictl.topology.model import Topology
from tests.bench.localize_model import aictl_localize, cluster, slow_fabric, spread
from tests.conftest import require_shared
from tests.unit._results import result as _r


@pytest.fixture(scope="module")
def lab() -> Topology:
    loaded = load_preset("lab-small")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def _plan(results: list[UnitResult], extra: tuple[str, ...] = ()) -> RunPlan:
    ids = [r.id for r in results] + list(extra)
    units = tuple(Unit(i, Stage.NODE, Kind.GDR, ("x",)) for i in ids)
    return RunPlan("run-0001", "lab-small", "", "quick", "ssh", (), {}, {}, {}, units)


def test_expectations_follow_the_plan(lab: Topology) -> None:
    e = expectations(lab)
    every = [n.name for n in lab.nodes]
    g = e.groups["hgx-a800"]
    assert (g.link_gbps, e.rails, e.gdr_min_gbps(["node01"])) == (200, 4, 180.0)
    assert e.busbw_peak("all_reduce", every) == 100 and e.busbw_peak("alltoall", every) == 25
    assert e.busbw_peak("sendrecv", every[:2]) == 50
    assert e.busbw_peak("all_reduce", ["node01"]) == 200
    assert e.busbw_min("all_reduce", every) == 70 and e.busbw_min("all_reduce", ["node01"]) == 140
    # a SKU without an NVLink baseline
    nolink = dataclasses.replace(
        e, groups={"hgx-a800": dataclasses.replace(g, scale_up_gbytes=None)}
    )
    assert nolink.busbw_min("all_reduce", ["node01"]) is None
    assert nolink.busbw_min("all_reduce", every[:2]) == 70
    assert e.weaker_side(every) == ""
    again = type(e).read(e.as_dict())
    assert again == e


def test_pair_rounds_are_disjoint_and_cross_sus(lab: Topology) -> None:
    hosts = [n.name for n in lab.nodes]
    r1, r2 = pair_rounds(lab, hosts)
    assert r1 == [
        ("node01", "node02"),
        ("node03", "node04"),
        ("node05", "node06"),
        ("node07", "node08"),
    ]
    assert r2 == [
        ("node01", "node05"),
        ("node02", "node06"),
        ("node03", "node07"),
        ("node04", "node08"),
    ]
    su = {n.name: n.su for n in lab.nodes}
    assert all(su[a] == su[b] for a, b in r1) and all(su[a] != su[b] for a, b in r2)
    for rnd in (r1, r2):
        flat = [h for p in rnd for h in p]
        assert len(flat) == len(set(flat))


def test_the_plan_uses_the_nearest_gpu_and_ends_at_the_reference(lab: Topology) -> None:
    hosts = [n.name for n in lab.nodes]
    gpus = dict.fromkeys(hosts, (1, 3, 5, 7))
    units = build(lab, hosts, gpus, suite="quick", reference_bytes=8 * 2**30)
    by = {u.id: u for u in units}
    assert by["node/node01/gdr/r2"].gpus == (5, 5) and by["node/node01/host/r2"].gpus == ()
    assert dict(by["pair/2/node01-node05/nccl/all_reduce"].env) == {"NCCL_ALGO": "Ring"}
    assert by["cluster/alltoall"].sizes == (128 * 2**20, 8 * 2**30, 8)
    full = build(lab, hosts, gpus, suite="full", reference_bytes=8 * 2**30)
    assert {u.id: u for u in full}["cluster/all_reduce"].sizes == (2**20, 8 * 2**30, 2)
    assert len(units) == 8 * 9 + 2 * 4 * 5 + 5 and len({u.id for u in units}) == len(units)
    assert all(Unit.read(u.as_json()) == u for u in units)


def test_low_values_and_confirmation_pairs(lab: Topology) -> None:
    vals = {"a": 190.0, "b": 192.0, "c": 96.0, "d": 191.0}
    low = localize.low_values(vals, tolerance=0.1, floor=180)
    assert list(low) == ["c"] and low["c"] == (96.0, 190.5)
    e = expectations(lab)
    fam = localize.Family(Kind.GDR, "", 2, ("hgx-a800",))
    why = {"u1": localize.Low("u1", 96.0, 190.0, 1.0, 180.0, ("node01", "node02"), 2, fam)}
    pairs = localize.confirmation_pairs(why, ["node01", "node02", "node03", "node04"], set(), e)
    assert [(c.suspect, c.partner, c.family.rail) for c in pairs] == [
        ("node01", "node03", 2),
        ("node02", "node04", 2),
    ]


def test_one_slow_nic_among_128_is_named_in_two_rounds() -> None:
    topo = cluster(128)
    slow = spread(topo, 1)
    out = aictl_localize(topo, slow_fabric(topo, slow))
    assert out.rounds == 2 and out.wall_s < 180
    assert [(s.node, s.rail) for s in out.named] == slow


def test_no_fault_no_suspect() -> None:
    topo = cluster(64)
    out = aictl_localize(topo, slow_fabric(topo, []))
    assert out.rounds == 1 and out.named == []


def test_verdict_names_the_node_and_rail(lab: Topology) -> None:
    e = expectations(lab)
    hosts = ["node01", "node02", "node03", "node04"]
    results = []
    for h in hosts:
        for r in range(4):
            v = 96.0 if (h, r) == ("node03", 2) else 193.0
            results.append(_r(f"node/{h}/gdr/r{r}", "node", "gdr", [h], v, rail=r))
            results.append(_r(f"node/{h}/host/r{r}", "node", "host", [h], v, rail=r))
        results.append(
            _r(f"node/{h}/nccl/all_reduce", "node", "nccl", [h], 156.0, collective="all_reduce")
        )
    out = verdict.judge(_plan(results), results, e, leaf_of={}).as_json()
    assert out["verdict"] == "fail"
    assert out["suspects"] == [
        {
            "node": "node03",
            "rail": 2,
            "kind": "gdr-low",
            "reason": "GPUDirect ib_write_bw 96.0 Gb/s < 180 Gb/s (90% of 200 Gb/s); "
            "from host memory 96.0 Gb/s",
        }
    ]
    crit = {c["name"]: c for c in out["criteria"]}
    assert crit["gdr_per_rail"]["status"] == "fail" and crit["gdr_per_rail"]["failing"] == [
        "node/node03/gdr/r2"
    ]
    assert crit["nccl_single_node"]["status"] == "ok"
    missing = verdict.judge(_plan(results, ("cluster/all_reduce",)), results, e, leaf_of={})
    assert missing.verdict == "incomplete"


def test_launch_commands(lab: Topology) -> None:
    u = Unit(
        "pair/1/node01-node02/nccl/all_reduce",
        Stage.PAIR,
        Kind.NCCL,
        ("node01", "node02"),
        collective="all_reduce",
        sizes=(8, 1024, 2),
        env=(("NCCL_ALGO", "Ring"),),
    )
    host, cmd = launch.ssh_nccl(lab, u, 600)
    assert host == "node01"
    assert cmd.startswith("timeout 600 mpirun --allow-run-as-root -np 2 -H node01:1,node02:1")
    assert (
        "-x NCCL_ALGO=Ring" in cmd and "-x NCCL_IB_HCA==mlx5_0:1,mlx5_1:1,mlx5_2:1,mlx5_3:1" in cmd
    )
    assert cmd.endswith("all_reduce_perf -b 8 -e 1024 -f 2 -g 8 -c 1")
    srun = launch.slurm_nccl(lab, u, 600)
    assert "srun -N 2 -w node01,node02 --ntasks-per-node=1 --gpus-per-node=8" in srun
    # in srun's environment, whole: srun would cut `--export=` at NCCL_IB_HCA's commas
    assert srun.startswith("env NCCL_ALGO=Ring NCCL_DEBUG=WARN ")
    assert " NCCL_IB_HCA==mlx5_0:1,mlx5_1:1,mlx5_2:1,mlx5_3:1 " in srun
    assert "--mpi=pmix" in srun and " --export=ALL all_reduce_perf" in srun
    assert "--mpi=pmi2" in launch.slurm_nccl(lab, u, 600, mpi="pmi2")
    g = Unit("node/node01/gdr/r2", Stage.NODE, Kind.GDR, ("node01",), rail=2, gpus=(4, 5))
    loop = launch.loopback(lab, g, 60)
    assert (
        "ib_write_bw -d mlx5_2 -p 18602" in loop
        and "--use_cuda=4" in loop
        and "--use_cuda=5 node01" in loop
    )


def test_the_k8s_mpijob_validates_against_the_crd(lab: Topology, tmp_path: Path) -> None:
    from aictl.artifact import Artifact
    from aictl.render.validate.k8s import check_crds

    crds = require_shared("schemas") / "mpi-operator-v0.8.0"
    u = Unit(
        "cluster/all_reduce",
        Stage.CLUSTER,
        Kind.NCCL,
        tuple(n.name for n in lab.nodes),
        collective="all_reduce",
        sizes=(1024, 8 * 2**30, 8),
    )
    text = launch.k8s_manifest(lab, u, "lab-small-cluster-all-reduce")
    assert (
        "replicas: 8" in text and "all_reduce_perf" in text and "rdma/" in text
    ) or "nvidia.com/" in text
    found = check_crds([Artifact("k8s/job.yaml", text.encode())], crds)
    assert [f.status for f in found] == ["ok"] and "MPIJob" in found[0].check


def test_run_store_appends_resumes_and_ignores_a_torn_line(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    s1 = RunStore.create(runs)
    s2 = RunStore.create(runs)
    assert (s1.id, s2.id) == ("run-0001", "run-0002")
    plan = RunPlan("run-0001", "c", "", "quick", "ssh", ("a",), {}, {}, {}, ())
    s1.write_plan(plan)
    s1.append(_r("a", "node", "gdr", ["a"], 190.0, rail=0))
    s1.append(_r("b", "node", "gdr", ["a"], None, rail=1))
    with (s1.root / "results.jsonl").open("a") as fh:
        fh.write('{"id": "c", "sta')  # a crash mid-line
    again = RunStore.open(runs, "run-0001")
    got = again.results()
    assert [r.id for r in got] == ["a", "b"]
    assert got[1].status is Status.FAIL and got[1].failure is not None
    assert got[0] == _r("a", "node", "gdr", ["a"], 190.0, rail=0)
    assert s1.save_raw("pair/1/a-b/gdr/r0", "x") == "raw/pair_1_a-b_gdr_r0.txt"
    with pytest.raises(RunError, match="no run 'run-0009'"):
        RunStore.open(runs, "run-0009")
    stored = json.loads((s1.root / "plan.json").read_text())
    assert stored["schema_version"] == 2 and again.plan() == plan
