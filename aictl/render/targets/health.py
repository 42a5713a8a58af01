"""Render target `health`: the node health check a scheduler runs, and what installs it.

Per node group (written by the hosts target, which owns profiles/),
`profiles/<group>/etc/aictl/profile.json` (the resolved profile `aictl check
--local` judges the node against; no spec on the node) and the wrapper
`profiles/<group>/usr/local/sbin/aictl-healthcheck`; for the cluster, the slurm.conf lines
(`health/slurm/healthcheck.conf`) and, when Kubernetes is rendered, the DaemonSet that runs
the wrapper on every node with aictl's labels (`health/k8s/aictl-healthcheck.yaml`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aictl.artifact import Artifact
from aictl.jsonio import dumps
from aictl.render.env import render
from aictl.sched import k8s as kube
from aictl.sched.local import NodeProfile
from aictl.topology.exports.labels import PREFIX

if TYPE_CHECKING:
    from aictl.topology.model import Topology
    from aictl.topology.profiles import Profile

# seconds between two runs: Slurm's own default interval is off (0); five minutes finds a
# fault before the next job lands without the check's own load showing
INTERVAL = 300
# the kernel log window each run reads: a little more than the interval, so nothing between
# two runs is missed and an old event does not drain the node again and again
WINDOW = 600
NAMESPACE = "aictl-health"
# any image with a POSIX shell, install, cp and util-linux's nsenter
IMAGE = "docker.io/library/debian:bookworm-slim"


def profile_files(topo: Topology, group: str, prof: Profile) -> dict[str, str]:
    """A node group's files under profiles/<group>/ (rendered by the hosts target, which
    owns that directory)."""
    ips = {n.name: n.rail_ips for n in topo.nodes if n.profile == group}
    doc = NodeProfile(topo.name, group, prof, ips).as_json()
    return {
        "etc/aictl/profile.json": dumps(doc),
        "usr/local/sbin/aictl-healthcheck": render(
            "health/aictl-healthcheck.sh.j2", cluster=topo.name, group=group, window=WINDOW
        ),
    }


def render_health(topo: Topology) -> list[Artifact]:
    """The cluster's files of the health check under health/ (see the module docstring)."""
    out: list[Artifact] = []
    out.append(
        Artifact(
            "health/slurm/healthcheck.conf",
            render("health/slurm-healthcheck.conf.j2", interval=INTERVAL).encode(),
        )
    )
    if topo.spec.kubernetes.enabled:
        text = render(
            "health/k8s-healthcheck.yaml.j2",
            cluster=topo.name,
            namespace=NAMESPACE,
            interval=INTERVAL,
            image=IMAGE,
            node_label=f"{PREFIX}/cluster",
            taint_key=kube.TAINT_KEY,
            reason_key=kube.REASON,
        )
        out.append(Artifact("health/k8s/aictl-healthcheck.yaml", text.encode()))
    return out
