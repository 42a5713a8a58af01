"""A heterogeneous cluster (mixed-vendor-lab: NVIDIA on InfiniBand, AMD and Ascend sharing a
RoCE fabric) checked and accepted against the in-process fake: each vendor's tools, its own
numbers, one verdict per collective domain, and no test spanning two domains."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from aictl.accept import launch, session
from aictl.accept.expect import Expectations, expectations
from aictl.accept.model import Kind, Stage
from aictl.accept.store import RunStore
from aictl.checks import preflight
from aictl.remote.fake import FakeExecutor
from aictl.report import write_reports
from aictl.target import ClusterTarget, hosts
from aictl.topology.model import Topology
from tests.unit._fake_cluster import FakeCluster
from tests.unit.test_orchestration import _topo


def _accept(topo: Topology, fake: FakeCluster, build: Path) -> tuple[dict[str, Any], FakeExecutor]:
    ex = fake.executor()
    targets = hosts(ClusterTarget(topo.name), list(topo.nodes))
    store, plan = session.start(
        topo, targets, ex, build, suite="quick", launcher="ssh", resume=None
    )
    return session.run(topo, store, plan, targets, ex, timeout=60, server_head_start=0), ex


def test_a_clean_mixed_vendor_cluster_passes_domain_by_domain(tmp_path: Path) -> None:
    topo = _topo("mixed-vendor-lab")
    assert {d: [n.name for n in ns] for d, ns in topo.domains().items()} == {
        "ib": ["gpu01", "gpu02"],
        "roce-amd": ["mi01", "mi02"],
        "roce-huawei": ["npu01", "npu02"],
    }
    s, ex = _accept(topo, FakeCluster(topo, tmp_path), tmp_path / "b")
    assert s["verdict"] == "pass" and s["suspects"] == [], s["suspects"]
    assert [(d["name"], d["vendor"], d["verdict"]) for d in s["domains"]] == [
        ("ib", "NVIDIA", "pass"),
        ("roce-amd", "AMD Instinct", "pass"),
        ("roce-huawei", "Huawei Ascend", "pass"),
    ]
    plan = RunStore.open(tmp_path / "b" / "runs", s["run_id"]).plan()
    # no unit spans two collective domains; each domain has its own cluster collectives
    for u in plan.units:
        assert len({topo.domain_of(h) for h in u.hosts}) == 1, u.id
    cluster = sorted(u.id for u in plan.units if u.stage is Stage.CLUSTER)
    assert "cluster/roce-huawei/sendrecv" not in cluster  # hccl_test: no send/receive
    assert len(cluster) == 5 + 5 + 4 and "cluster/roce-amd/sendrecv" in cluster
    # Ascend: port checks and NPU pings, no perftest; AMD: --use_rocm; NVIDIA: --use_cuda
    kinds = {(u.hosts[0][:2], u.kind) for u in plan.units if u.stage is not Stage.CLUSTER}
    assert ("np", Kind.PORT) in kinds and ("np", Kind.PING) in kinds
    assert not {k for k in kinds if k[0] == "np" and k[1] in (Kind.GDR, Kind.HOST)}
    assert ("mi", Kind.PORT) not in kinds and ("gp", Kind.PING) not in kinds
    by_host: dict[str, list[str]] = {}
    for h, cmd in ex.calls:
        by_host.setdefault(h, []).append(cmd)
    amd = " ".join(by_host["mi01"])
    assert "--use_rocm=" in amd and "--use_cuda" not in amd and "nvidia-smi" not in amd
    assert "--use_cuda=" in " ".join(by_host["gpu01"])
    npu = by_host["npu01"]
    assert not [c for c in npu if "ib_write_bw" in c or "nvidia-smi" in c]
    hccl = next(c for c in npu if "all_gather_test" in c)
    words = shlex.split(hccl)
    assert words[words.index("-H") + 1] == "npu01:8,npu02:8"
    assert words[words.index("-p") + 1] == "8" and words[words.index("-d") + 1] == "fp32"
    assert "-np" in words and words[words.index("-np") + 1] == "16"
    assert any("HCCL_SOCKET_IFNAME=bond0" in w for w in words)
    assert not any(w.startswith("NCCL_") for w in words)
    pings = [c for c in npu if "-ping" in c]
    assert len(pings) == 8  # one per rail, to npu02's NPU on the same rail
    assert f"hccn_tool -i 0 -ping -g address {topo.node('npu02').rail_ips[0]}" in pings[0]
    # the report says no collective spans two domains, and gives each domain's verdict
    md = Path(write_reports(Path(s["run_dir"]), ["md"], None)["files"][0]).read_text()
    assert "## Collective domains" in md and "No collective spans two domains" in md
    assert "| roce-huawei | Huawei Ascend | atlas-800t-a2 | 2 | pass |" in md
    assert "| AMD Instinct | mi300x | amd-smi | RCCL | rccl-tests |" in md


def test_a_fault_on_each_vendor_is_named_by_its_own_tools(tmp_path: Path) -> None:
    topo = _topo("mixed-vendor-lab")
    fake = FakeCluster(topo, tmp_path)
    fake.inject(kind="slow-nic", host="gpu02", rail=2, factor=0.5)
    fake.inject(kind="nvlink-down", host="mi02", gpu=1, factor=4)
    fake.inject(kind="port-down", host="npu01", rail=3)
    s, _ = _accept(topo, fake, tmp_path / "b")
    assert s["verdict"] == "fail"
    named = {(x["node"], x.get("rail")): x for x in s["suspects"]}
    assert set(named) == {("gpu02", 2), ("mi02", None), ("npu01", 3)}, s["suspects"]
    assert named[("gpu02", 2)]["kind"] == "gdr-low"
    # mi02 below its own group's xGMI floor (896 / 2 x 70%), not the A800's NVLink one
    assert "< 313.6 GB/s (xGMI)" in named[("mi02", None)]["reason"]
    assert named[("npu01", 3)]["kind"] == "port-down"
    assert "hccn_tool" in named[("npu01", 3)]["reason"]
    # the pair tests the port explains are its evidence, not suspects of their own
    assert any("pair/1/npu01-npu02" in e for e in named[("npu01", 3)]["evidence"])
    domains = {d["name"]: d for d in s["domains"]}
    assert domains["ib"]["named"] == ["gpu02 rail 2"]
    assert domains["roce-amd"]["named"] == ["mi02"]
    assert domains["roce-huawei"]["named"] == ["npu01 rail 3"]
    assert "npu_ports" in domains["roce-huawei"]["failed"]
    assert "nccl_single_node" not in domains["ib"]["failed"]


def test_one_domain_failing_leaves_the_others_passing(tmp_path: Path) -> None:
    topo = _topo("mixed-vendor-lab")
    fake = FakeCluster(topo, tmp_path)
    fake.inject(kind="slow-nic", host="npu02", rail=6, factor=0.4)
    s, _ = _accept(topo, fake, tmp_path / "b")
    verdicts = {d["name"]: d["verdict"] for d in s["domains"]}
    assert verdicts == {"ib": "pass", "roce-amd": "pass", "roce-huawei": "fail"}
    assert s["verdict"] == "fail"  # the conjunction
    crit = {c["name"]: c for c in s["criteria"]}
    assert crit["cluster_ib_all_reduce"]["status"] == "ok"
    assert crit["cluster_roce-huawei_all_reduce"]["status"] == "fail"
    assert "hccl_test" in crit["cluster_roce-huawei_all_reduce"]["what"]


def test_preflight_reads_each_vendor_with_its_own_tools(tmp_path: Path) -> None:
    topo = _topo("mixed-vendor-lab")
    fake = FakeCluster(topo, tmp_path)
    targets = hosts(ClusterTarget(topo.name), list(topo.nodes))
    clean = preflight.run(topo, targets, fake.executor())
    assert clean.failing == {}, {n: [r.message for r in rs] for n, rs in clean.failing.items()}
    assert clean.versions["mi01"]["rocm"] == "7.0.2" and clean.versions["mi01"]["driver"]
    assert clean.versions["npu01"]["cann"] == "8.2.RC1" and clean.versions["npu01"]["firmware"]
    assert clean.versions["gpu01"]["cuda"]
    fake.inject(kind="ecc-errors", host="mi01", gpu=2)
    fake.inject(kind="nvlink-down", host="mi02", gpu=1, factor=2)
    fake.inject(kind="port-down", host="npu02", rail=5)
    fake.inject(kind="nvlink-down", host="npu01", gpu=4)
    ex = fake.executor()
    bad = preflight.run(topo, targets, ex)
    fails = {n: {r.check: r for r in rs} for n, rs in bad.failing.items()}
    assert {n: sorted(f) for n, f in fails.items()} == {
        "mi01": ["ecc"],
        "mi02": ["nvlink"],
        "npu01": ["nvlink"],
        "npu02": ["hca"],
    }
    assert "amd-smi" in fails["mi01"]["ecc"].fix
    assert fails["mi02"]["nvlink"].message.startswith("not xGMI")
    assert fails["npu01"]["nvlink"].message.startswith("not HCCS")
    assert "npu5 (rail 5): link DOWN" in fails["npu02"]["hca"].message
    # each node's script asks its own vendor's tools, never another's
    script = dict(ex.calls)
    assert "@@aictl amd-smi" in script["mi01"] and "nvidia-smi" not in script["mi01"]
    assert "@@aictl hccn_tool" in script["npu01"] and "ibstat" not in script["npu01"]
    assert "@@aictl amd-smi" not in script["gpu01"]


def test_day2_checks_on_amd_and_ascend_nodes(tmp_path: Path) -> None:
    """AER on every vendor, named with the vendor's inventory; RoCE QoS and pause counters on
    AMD's ConnectX rails; the NVIDIA-only day-2 checks skipped on the others, saying why."""
    topo = _topo("mixed-vendor-lab")
    fake = FakeCluster(topo, tmp_path)
    targets = hosts(ClusterTarget(topo.name), list(topo.nodes))
    clean = preflight.run(topo, targets, fake.executor())
    row = {n: {r.check: r for r in rs} for n, rs in clean.rows.items()}
    for node in ("mi01", "npu01"):
        for check in ("xid", "throttle", "nvlink-errors", "dcgm"):
            assert row[node][check].status.value == "skip", (node, check)
        assert row[node]["aer"].status.value == "ok"
    assert "NVIDIA driver events" in row["mi01"]["xid"].message
    assert "not a pass" in row["npu01"]["dcgm"].message
    assert row["mi01"]["roce"].status.value == "ok"
    assert (
        row["npu01"]["roce"].status.value == "skip" and "hccn_tool" in row["npu01"]["roce"].message
    )
    fake.inject(kind="aer-errors", host="mi01", gpu=2)
    fake.inject(kind="aer-errors", host="npu02", gpu=5)
    fake.inject(kind="roce-pause", host="mi02", rail=1)
    fake.inject(kind="qos-drift", host="mi02", rail=4)
    ex = fake.executor()
    bad = preflight.run(topo, targets, ex)
    fails = {n: {r.check: r for r in rs} for n, rs in bad.failing.items()}
    assert {n: sorted(f) for n, f in fails.items()} == {
        "mi01": ["aer"],
        "mi02": ["roce"],
        "npu02": ["aer"],
    }
    assert fails["mi01"]["aer"].message.startswith("GPU2 ")
    assert fails["npu02"]["aer"].message.startswith("NPU5 ")
    assert "3 non-fatal" in fails["npu02"]["aer"].message
    roce = fails["mi02"]["roce"].message
    assert "ens2np0: 18234 pause frames on priority 0 (rx)" in roce
    assert "ens5np0: trust pcp (rendered dscp)" in roce
    # an Ascend node's script never asks NVIDIA's or ConnectX's tools
    script = dict(ex.calls)
    for tool in ("nvidia-smi", "dcgmi", "mlnx_qos"):
        assert tool not in script["npu01"], tool
    assert "mlnx_qos" in script["mi01"] and "nvidia-smi" not in script["mi01"]


def test_expectations_per_vendor_and_plans_written_before_vendors() -> None:
    topo = _topo("mixed-vendor-lab")
    exp = expectations(topo)
    again = Expectations.read(exp.as_dict(), ())
    assert again == exp
    assert exp.groups["mi300x"].scale_up == "xgmi" and exp.vendor_of("npu01") == "huawei"
    assert exp.busbw_min("all_reduce", ["npu01"]) == round(392 / 2 * 0.7, 3)
    # a plan.json written before vendors: NVIDIA's, its scale-up under nvlink_gbytes
    old = exp.as_dict()
    for g in old["groups"].values():
        g["nvlink_gbytes"] = g.pop("scale_up_gbytes")
        g.pop("vendor"), g.pop("scale_up")
    old.pop("node_domain")
    legacy = Expectations.read(old, ())
    assert legacy.groups["hgx-a800"].scale_up_gbytes == 400 and legacy.vendor_of("mi01") == "nvidia"
    assert not legacy.several_domains


def test_ascend_commands_are_spelled_as_the_tools_take_them() -> None:
    topo = _topo("mixed-vendor-lab")
    from aictl.accept.model import Unit

    port = Unit("node/npu01/port/r3", Stage.NODE, Kind.PORT, ("npu01",), rail=3)
    cmd = launch.npu_port(port, 30)
    body = shlex.split(cmd)[-1]
    for op in launch.PORT_OPS:
        assert f"echo 'hccn_tool -i 3 -{op} -g'; hccn_tool -i 3 -{op} -g" in body
    ping = Unit("pair/1/npu01-npu02/ping/r3", Stage.PAIR, Kind.PING, ("npu01", "npu02"), rail=3)
    host, cmd = launch.npu_ping(topo, ping, 30)
    assert host == "npu01"
    assert f"hccn_tool -i 3 -ping -g address {topo.node('npu02').rail_ips[3]}" in cmd
    ar = Unit(
        "cluster/roce-huawei/all_reduce",
        Stage.CLUSTER,
        Kind.NCCL,
        ("npu01", "npu02"),
        collective="all_reduce",
        sizes=(1024, 8192, 2),
        domain="roce-huawei",
    )
    srun = shlex.split(launch.slurm_nccl(topo, ar, 120))
    assert "--ntasks-per-node=8" in srun and not [w for w in srun if "gpus" in w]
    tail = [
        "all_reduce_test",
        "-b",
        "1024",
        "-e",
        "8192",
        "-f",
        "2",
        "-d",
        "fp32",
        "-o",
        "sum",
        "-p",
        "8",
        "-c",
        "1",
    ]
    assert srun[-len(tail) :] == tail


def test_each_domain_s_mpijob_asks_for_its_vendor_s_device_plugin_resource() -> None:
    """One MPIJob per collective domain; its workers ask for the vendor's device plugin's
    resource (and the rail resources only where the rails are host RDMA devices)."""
    import yaml

    from aictl.render import render_all

    topo = _topo("mixed-vendor-lab")
    jobs = {}
    for a in render_all(topo, targets=["k8s"]).artifacts:
        if a.path.endswith("-mpijob.yaml"):
            doc = yaml.safe_load(a.data)
            worker = doc["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]
            jobs[a.path] = worker["containers"][0]
    assert set(jobs) == {
        "k8s/50-ib-nccl-mpijob.yaml",
        "k8s/50-roce-amd-rccl-mpijob.yaml",
        "k8s/50-roce-huawei-hccl-mpijob.yaml",
    }
    limits = {p: c["resources"]["limits"] for p, c in jobs.items()}
    assert limits["k8s/50-ib-nccl-mpijob.yaml"]["nvidia.com/gpu"] == 8
    assert limits["k8s/50-roce-amd-rccl-mpijob.yaml"]["amd.com/gpu"] == 8
    assert limits["k8s/50-roce-huawei-hccl-mpijob.yaml"] == {"huawei.com/Ascend910": 8}
    assert sum(k.startswith("rdma/") for k in limits["k8s/50-roce-amd-rccl-mpijob.yaml"]) == 8
    assert jobs["k8s/50-roce-amd-rccl-mpijob.yaml"]["image"].startswith("rccl-tests:")
    assert jobs["k8s/50-roce-huawei-hccl-mpijob.yaml"]["image"].startswith("hccl-test:")
