"""Acceptance and preflight orchestration against a fake executor: waves, a node dying
mid-wave, Ctrl-C and resume, the confirmation round, a mixed cluster judged per node group,
and a 1,000-node plan — no root, no sshd, no lab (the lab tests are the end-to-end proof)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aictl.accept import session
from aictl.accept.model import Stage
from aictl.accept.store import RunStore
from aictl.checks import preflight
from aictl.errors import InterruptedRunError
from aictl.spec.loader import load_preset
from aictl.status import Status
from aictl.target import ClusterTarget, hosts
from aictl.topology import build_topology
from aictl.topology.model import Topology
from tests.bench.localize_model import cluster
from tests.unit._fake_cluster import FakeCluster


def _topo(preset: str) -> Topology:
    loaded = load_preset(preset)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def _run(topo: Topology, fake: FakeCluster, build: Path, resume: str | None = None) -> dict:  # type: ignore[type-arg]
    ex = fake.executor()
    targets = hosts(ClusterTarget(topo.name), list(topo.nodes))
    store, plan = session.start(
        topo, targets, ex, build, suite="quick", launcher="ssh", resume=resume
    )
    return session.run(topo, store, plan, targets, ex, timeout=60, server_head_start=0)


def test_a_clean_cluster_passes_and_every_unit_is_stored(tmp_path: Path) -> None:
    topo = _topo("lab-small")
    fake = FakeCluster(topo, tmp_path)
    s = _run(topo, fake, tmp_path / "b")
    assert s["verdict"] == "pass" and s["suspects"] == [], s["suspects"]
    assert s["units"]["planned"] == s["units"]["ran"] == 117
    store = RunStore.open(tmp_path / "b" / "runs", s["run_id"])
    assert len(store.results()) == 117 and all(r.status is Status.OK for r in store.results())
    # the run directory carries its own plan: its report needs nothing else (no topo plan ran)
    assert not (tmp_path / "b" / "topology.json").exists()
    from aictl.report import write_reports

    out = write_reports(store.root, ["md", "json"], None)
    assert out["verdict"] == "pass" and (store.root / "report" / "report.md").exists()


def test_a_slow_nic_goes_to_the_confirmation_round_and_is_named(tmp_path: Path) -> None:
    topo = _topo("lab-small")
    fake = FakeCluster(topo, tmp_path)
    fake.inject(kind="slow-nic", host="node05", rail=2, factor=0.5)
    s = _run(topo, fake, tmp_path / "b")
    plan = RunStore.open(tmp_path / "b" / "runs", s["run_id"]).plan()
    assert plan.confirm_planned and plan.confirm_units
    # both ends of each low pair are suspects, each retested with its own known-good partner
    suspects = {u.hosts[0] for u in plan.confirm_units}
    partners = [u.hosts[1] for u in plan.confirm_units if u.kind == "gdr"]
    assert all(u.stage is Stage.CONFIRM for u in plan.confirm_units)
    assert "node05" in suspects and not suspects & set(partners)
    assert len(partners) == len(set(partners))
    assert [(x["node"], x.get("rail")) for x in s["suspects"]] == [("node05", 2)]
    assert s["verdict"] == "fail"


def test_a_node_dying_mid_wave_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    topo = _topo("lab-small")
    fake = FakeCluster(topo, tmp_path)
    ex = fake.executor()
    # node07 dies during the pairwise round: from its first pair test on, it is gone
    died = threading.Event()

    def before(host: str, command: str) -> None:
        if host == "node07" and "ib_write_bw" in command and " node0" in command:
            died.set()
            ex.kill("node07")

    fake.before = before
    targets = hosts(ClusterTarget(topo.name), list(topo.nodes))
    store, plan = session.start(
        topo, targets, ex, tmp_path, suite="quick", launcher="ssh", resume=None
    )
    s = session.run(topo, store, plan, targets, ex, timeout=60, server_head_start=0)
    assert died.is_set()
    results = {r.id: r for r in store.results()}
    lost = [r for r in results.values() if r.lost_host == "node07"]
    assert lost and all(r.status in (Status.ERROR, Status.SKIP) for r in lost)
    cluster_all = results["cluster/all_reduce"]
    assert "node07" not in cluster_all.hosts and cluster_all.excluded == ("node07",)
    assert cluster_all.status is Status.OK
    assert [x["node"] for x in s["suspects"]] == ["node07"]
    assert s["suspects"][0]["kind"] == "unreachable"


def test_ctrl_c_saves_what_finished_and_resume_runs_only_the_rest(tmp_path: Path) -> None:
    topo = _topo("lab-small")
    fake = FakeCluster(topo, tmp_path)
    calls = [0]

    def before(host: str, command: str) -> None:
        calls[0] += 1
        if calls[0] == 30:
            raise KeyboardInterrupt

    fake.before = before
    with pytest.raises(InterruptedRunError, match="interrupted: ") as caught:
        _run(topo, fake, tmp_path / "b")
    assert caught.value.hint == "finish it with --resume run-0001"
    store = RunStore.open(tmp_path / "b" / "runs", "run-0001")
    first = [r.id for r in store.results()]
    assert 0 < len(first) < 117
    fake.before = None
    s = _run(topo, fake, tmp_path / "b", resume="run-0001")
    ids = [r.id for r in store.results()]
    assert s["verdict"] == "pass" and ids[: len(first)] == first
    assert len(ids) == len(set(ids)) == 117  # nothing ran twice
    assert not (tmp_path / "b" / "runs" / "run-0002").exists()


def test_a_mixed_cluster_is_judged_per_node_group(tmp_path: Path) -> None:
    """Each node with its own GPU count and rail devices; a fault on each group is named by
    that group's own numbers, and tests over both groups say they take the weaker side."""
    topo = _topo("mixed-lab")
    fake = FakeCluster(topo, tmp_path)
    clean = _run(topo, fake, tmp_path / "clean")
    assert clean["verdict"] == "pass", clean["suspects"]
    crit = {c["name"]: c for c in clean["criteria"]}
    assert "weaker side" in crit["cluster_all_reduce"]["note"]
    assert set(crit["nccl_single_node"]["expected"]) == {
        "min_busbw (hgx-a800)",
        "min_busbw (hgx-h100-4gpu)",
    }
    store = RunStore.open(tmp_path / "clean" / "runs", clean["run_id"])
    plan = store.plan()
    assert plan.gpu_for_rail["node05"] == (0, 1, 2, 3) and plan.gpu_for_rail["node01"] == (
        0,
        2,
        4,
        6,
    )
    # a GPUDirect unit on a 4-GPU node never asks for GPU 4 or more, nor for mlx5_0
    fake.inject(kind="slow-nic", host="node02", rail=2, factor=0.5)
    fake.inject(kind="nvlink-down", host="node06", gpu=1, factor=4)
    bad = _run(topo, fake, tmp_path / "bad")
    from aictl.report import write_reports

    md = Path(write_reports(Path(bad["run_dir"]), ["md"], None)["files"][0]).read_text()
    assert "## Node groups" in md and "hgx-h100-4gpu" in md and "4 x NVIDIA H100" in md
    named = {(x["node"], x.get("rail")): x for x in bad["suspects"]}
    assert set(named) == {("node02", 2), ("node06", None)}, bad["suspects"]
    # node06 is below its own group's NVLink floor (315 GB/s), well above the A800's (140)
    assert "< 315 GB/s (NVLink)" in named[("node06", None)]["reason"]


def test_preflight_fans_out_per_group_and_a_dead_node_fails_ssh(tmp_path: Path) -> None:
    topo = _topo("mixed-lab")
    fake = FakeCluster(topo, tmp_path)
    fake.inject(kind="fabricmanager-stopped", host="node03")
    ex = fake.executor()
    ex.kill("node08")
    report = preflight.run(topo, hosts(ClusterTarget(topo.name), list(topo.nodes)), ex)
    fails = {n: [r.check for r in rs] for n, rs in report.failing.items()}
    assert fails == {"node03": ["fabricmanager"], "node08": ["ssh"]}
    row = dict(zip(report.checks, report.rows["node05"], strict=True))
    # the 4-GPU group: its own GPU count passes; no NVSwitch, so no fabric manager
    assert row["gpu"].status is Status.OK and "4 x NVIDIA H100" in row["gpu"].message
    assert row["fabricmanager"].status is Status.SKIP
    assert row["hca"].status is Status.OK and report.groups["node05"] == "hgx-h100-4gpu"
    # one SSH session per node, the script built from the facts the checks need
    assert sorted(h for h, _ in ex.calls) == [n.name for n in topo.nodes]
    assert all("@@aictl bonding" in cmd and "@@aictl topo" in cmd for _, cmd in ex.calls)
    again = preflight.PreflightReport.from_json(report.as_json())
    assert again.rows == report.rows and again.failing.keys() == report.failing.keys()


def test_a_thousand_node_plan_is_made_without_ssh(tmp_path: Path) -> None:
    topo = cluster(1000)
    fake = FakeCluster(topo, tmp_path)
    ex = fake.executor(forks=64)
    targets = hosts(ClusterTarget(topo.name), list(topo.nodes))
    store, plan = session.start(
        topo, targets, ex, tmp_path, suite="quick", launcher="ssh", resume=None
    )
    rails = topo.rails
    pairs = [u for u in plan.units if u.stage is Stage.PAIR]
    assert len([u for u in plan.units if u.stage is Stage.NODE]) == 1000 * (2 * rails + 1)
    assert len({u.id for u in plan.units}) == len(plan.units)
    for rnd in (1, 2):
        hosts_in = [h for u in pairs if u.round == rnd and u.kind == "nccl" for h in u.hosts]
        assert len(hosts_in) == len(set(hosts_in)) == 1000  # every node once per round
    assert store.plan() == plan and len(ex.calls) == 1000  # one topo -m per node


def test_the_k8s_launcher_names_fit_a_long_cluster_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without kubectl the k8s units fail with the manifest's path; every MPIJob name leaves
    room for mpi-operator's `-worker-<i>` pods under the 63-character limit."""
    import shutil

    import yaml

    monkeypatch.setattr(shutil, "which", lambda name: None)  # no kubectl here
    from aictl.spec.loader import parse_spec_text, preset_text

    long = "c" * 60
    loaded = parse_spec_text(preset_text("lab-small").replace("name: lab-small", f"name: {long}"))
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    fake = FakeCluster(topo, tmp_path)
    ex = fake.executor()
    targets = hosts(ClusterTarget(topo.name), list(topo.nodes))
    store, plan = session.start(
        topo, targets, ex, tmp_path, suite="quick", launcher="k8s", resume=None
    )
    s = session.run(topo, store, plan, targets, ex, timeout=60, server_head_start=0)
    k8s = [r for r in store.results() if r.kind == "nccl" and len(r.hosts) > 1]
    assert k8s and all(
        r.failure and "kubectl not found: the MPIJob is in" in r.failure.message for r in k8s
    )
    assert s["verdict"] == "fail"
    for f in sorted((store.root / "k8s").glob("*.yaml")):
        doc = yaml.safe_load(f.read_text())
        workers = doc["spec"]["mpiReplicaSpecs"]["Worker"]["replicas"]
        assert len(f"{doc['metadata']['name']}-worker-{workers - 1}") <= 63, f.name
