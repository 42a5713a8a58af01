"""Topology-aware scheduler objects kept with the Kubernetes manifests (part of target `k8s`).

Under k8s/scheduler/: the same bytes `aictl topo plan` writes to exports/ (Volcano HyperNodes,
the Kueue Topology and ResourceFlavors, the KAI Topology), and the acceptance job as a Volcano
Job with a `networkTopology`. Each file is for one scheduler: apply those of the scheduler the
cluster runs (the provisioning role applies none of them: its pattern is k8s/[0-3][0-9]-*).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from aictl.artifact import Artifact
from aictl.natsort import natural_key
from aictl.render.env import render
from aictl.render.targets.kubernetes import _networks, _used_profiles, fit_name
from aictl.topology.exports import schedulers
from aictl.topology.exports.hierarchy import hierarchy

if TYPE_CHECKING:
    from aictl.topology.model import Topology

DIR = "k8s/scheduler"


def volcano_job(topo: Topology, *, workers: int, mode: str = "hard") -> str:
    """The sample NCCL all_reduce as a Volcano Job whose workers must share one SU (tier 1);
    with more workers than the smallest SU holds, the tier above (spine pod or fabric)."""
    k = topo.spec.kubernetes
    profiles = list(_used_profiles(topo).values())
    gpus = min(p.gpu.count for p in profiles)
    devices = sorted({d for p in profiles for d in p.rdma_devices}, key=natural_key)
    hca = ",".join(f"{d}:1" for d in devices)
    networks = _networks(topo)
    hostfile = "/tmp/hostfile"  # noqa: S108 - in the launcher pod's own /tmp
    args = ["mpirun", "--allow-run-as-root", "--hostfile", hostfile]
    args += ["-np", str(workers * gpus), "-bind-to", "none", "-map-by", "slot"]
    for x in (f"NCCL_IB_HCA=={hca}", "NCCL_SOCKET_IFNAME==eth0", "NCCL_DEBUG=INFO"):
        args += ["-x", x]
    args += ["all_reduce_perf", "-b", "8", "-e", "8G", "-f", "2", "-g", "1"]
    h = hierarchy(topo)
    smallest = min(len(u.nodes) for u in h.units)
    tier = schedulers.SU_TIER if workers <= smallest else schedulers.fabric_tier(topo)
    tier_name = "SU" if tier == schedulers.SU_TIER else "fabric"
    # Volcano names pods <job>-<task>-<i>: keep the last worker's hostname a DNS label
    name = fit_name(f"{topo.name}-nccl-volcano", 63 - len(f"-mpiworker-{workers - 1}"))
    return render(
        "k8s/volcano-job.yaml.j2",
        cluster=topo.name,
        name=name,
        namespace=k.namespace,
        image=k.nccl_tests_image,
        prog="all_reduce",
        gpus=gpus,
        workers=workers,
        mode=mode,
        tier=tier,
        tier_name=tier_name,
        fabric_tier=schedulers.fabric_tier(topo),
        hostfile=hostfile,
        launcher_args=[shlex.join(args)],
        networks=[n["name"] for n in networks],
        resources=[n["resource"] for n in networks],
    )


def render_scheduler(topo: Topology) -> list[Artifact]:
    """Every file under k8s/scheduler/."""
    workers = min(2, len(topo.nodes))
    return [
        Artifact(f"{DIR}/volcano-hypernodes.yaml", schedulers.render_hypernodes(topo).encode()),
        Artifact(f"{DIR}/volcano-nccl-job.yaml", volcano_job(topo, workers=workers).encode()),
        Artifact(f"{DIR}/kueue-topology.yaml", schedulers.render_kueue(topo).encode()),
        Artifact(f"{DIR}/kai-topology.yaml", schedulers.render_kai(topo).encode()),
    ]
