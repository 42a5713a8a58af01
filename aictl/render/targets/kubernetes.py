"""Render target `k8s`: NVIDIA network-operator policies, per-rail secondary networks, IPAM,
node labels, a sample NCCL MPIJob, and the topology-aware scheduler objects (k8s/scheduler/).

The spec's `kubernetes.network_operator` is a supported release (26.7 or 26.4, see
aictl/spec/releases.py); what those lines share and aictl relies on:
  * the chart does not create the NicClusterPolicy (since 24.10: aictl renders it), and its
    `spec.global` gives every component its registry, tag and pull secrets;
  * the operator no longer deploys whereabouts (since 25.10: aictl installs the pinned release,
    its ip-reconciler Deployment included);
  * per-node components (the RDMA shared device plugin) live in a NicNodePolicy (since 26.4),
    which has no `global`.
The JSON embedded in these manifests (device-plugin config, CNI config) is built as data here
and validated separately: the API server only sees strings.
"""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any

from aictl.artifact import Artifact
from aictl.errors import RenderError
from aictl.natsort import natural_key
from aictl.render.env import render
from aictl.topology.exports.labels import node_labels
from aictl.topology.vendors import benchmark_args

if TYPE_CHECKING:
    from aictl.topology.model import FabricPlan, Topology
    from aictl.topology.profiles import Profile

OPERATOR_NAMESPACE = "nvidia-network-operator"
MELLANOX_VENDOR = "15b3"
# the operator labels the RDMA plugin's pods `app: rdma-shared-dp-<NicNodePolicy name>`, and a
# label value stops at 63 characters
NODE_POLICY_NAME_MAX = 63 - len("rdma-shared-dp-")
# the upstream manifests at their release tags (kubectl apply -k fetches them)
WHEREABOUTS_MANIFESTS = "https://raw.githubusercontent.com/k8snetworkplumbingwg/whereabouts"
MULTUS_MANIFESTS = "https://raw.githubusercontent.com/k8snetworkplumbingwg/multus-cni"


def fit_name(base: str, limit: int) -> str:
    """`base` when it has at most `limit` characters, else its head and a short hash of the
    whole: deterministic, distinct for distinct bases, still a DNS label."""
    if len(base) <= limit:
        return base
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{base[: limit - len(digest) - 1].rstrip('-')}-{digest}"


def node_policy_name(topo: Topology) -> str:
    """The NicNodePolicy of the cluster's GPU nodes: `<cluster>-gpu-nodes`, shortened when
    the labels the operator derives from it would not fit."""
    return fit_name(f"{topo.name}-gpu-nodes", NODE_POLICY_NAME_MAX)


def rail_fabrics(topo: Topology) -> list[FabricPlan]:
    """The fabrics whose rails are host NICs (pod networks): not the Ascend NPUs' own ports,
    which pods reach through the NPUs the device plugin gives them."""
    return [
        f
        for f in topo.fabrics
        if any(
            topo.profiles[g].fabric == f.name and topo.profiles[g].host_rails for g in topo.groups()
        )
    ]


def network_name(topo: Topology, fabric: str, rail: int) -> str:
    """`rail0`, or per fabric `ib-rail0` when the plan has several."""
    prefix = topo.spec.kubernetes.network_prefix
    return f"{fabric}-{prefix}{rail}" if topo.several_fabrics else f"{prefix}{rail}"


def rail_netdevs(topo: Topology, fabric: str | None = None) -> list[str]:
    """The netdev of each rail of a fabric (the first by default), the same on every node
    group of it.

    A NetworkAttachmentDefinition names one master interface for the whole cluster, so a rail
    called differently on two node groups cannot be a pod network: pin the names (udev rules
    from compute_nics.rails[].pci_address) or leave Kubernetes out."""
    fp = topo.fabric(fabric) if fabric is not None else topo.fabrics[0]
    names: list[str] = []
    for r in range(fp.rails):
        seen = {
            p.rails[r].netdev: g
            for g, p in _used_profiles(topo).items()
            if p.fabric == fp.name and p.host_rails
        }
        if len(seen) > 1:
            raise RenderError(
                f"rail {r} is called {' and '.join(sorted(seen))} on different node groups "
                f"({', '.join(f'{n}: {g}' for n, g in sorted(seen.items()))}); a pod network "
                "needs one master netdev name on every node",
                hint="give the rail one netdev name in every profile (pin it with pci_address), "
                "or set kubernetes.enabled: false",
                field=f"node_profiles.{sorted(seen.values())[-1]}.compute_nics.rails",
            )
        names.append(next(iter(seen)))
    return names


def _used_profiles(topo: Topology) -> dict[str, Profile]:
    return {g: topo.profiles[g] for g in topo.groups()}


def rdma_config(topo: Topology) -> dict[str, Any]:
    """rdma-shared-device-plugin config: one resource per rail (of every fabric of host
    NICs), selected by netdev."""
    k = topo.spec.kubernetes
    return {
        "periodicUpdateInterval": 300,
        "configList": [
            {
                "resourceName": _resource_name(topo, f.name, r),
                "resourcePrefix": k.rdma_resource_prefix,
                "rdmaHcaMax": k.rdma_hca_max,
                "selectors": {"vendors": [MELLANOX_VENDOR], "ifNames": [netdev]},
            }
            for f in rail_fabrics(topo)
            for r, netdev in enumerate(rail_netdevs(topo, f.name))
        ],
    }


def _resource_name(topo: Topology, fabric: str, rail: int) -> str:
    return "rdma_shared_" + network_name(topo, fabric, rail).replace("-", "_")


def _ipam(topo: Topology, fabric: str, rail: int) -> tuple[dict[str, Any], str]:
    k = topo.spec.kubernetes
    fp = topo.fabric(fabric)
    net = topo.rail_nets[fp.rail_base + rail]
    name = network_name(topo, fabric, rail)
    if k.ipam == "nv-ipam":
        return {"type": "nv-ipam", "poolName": name}, f"nv-ipam pool {name}"
    assert net.pod_range is not None
    start, end = net.pod_range
    return {
        "type": "whereabouts",
        "range": net.subnet,
        "range_start": start,
        "range_end": end,
        "network_name": f"{topo.name}-{name}",
    }, f"whereabouts {start}-{end}"


def cni_config(topo: Topology, rail: int, fabric: str | None = None) -> dict[str, Any]:
    """The NAD's CNI config for one rail: macvlan (RoCE) or ipoib (InfiniBand)."""
    k = topo.spec.kubernetes
    fp = topo.fabric(fabric) if fabric is not None else topo.fabrics[0]
    ipam, _ = _ipam(topo, fp.name, rail)
    conf: dict[str, Any] = {
        "cniVersion": "0.3.1",
        "name": network_name(topo, fp.name, rail),
        "master": rail_netdevs(topo, fp.name)[rail],
        "ipam": ipam,
    }
    if fp.transport == "roce":
        conf.update(type="macvlan", mode="bridge")
    else:
        conf["type"] = "ipoib"
    if k.pod_mtu:
        conf["mtu"] = k.pod_mtu
    return conf


def _networks(topo: Topology, fabric: str | None = None) -> list[dict[str, Any]]:
    """The pod networks of every fabric of host NICs (of one, when named)."""
    k = topo.spec.kubernetes
    out = []
    for f in rail_fabrics(topo):
        if fabric is not None and f.name != fabric:
            continue
        for r, netdev in enumerate(rail_netdevs(topo, f.name)):
            _, note = _ipam(topo, f.name, r)
            out.append(
                {
                    "name": network_name(topo, f.name, r),
                    "fabric": f.name,
                    "rail": r,
                    "master": netdev,
                    "kind": "macvlan" if f.transport == "roce" else "IPoIB",
                    "ipam_note": note,
                    "config": cni_config(topo, r, f.name),
                    "resource": f"{k.rdma_resource_prefix}/{_resource_name(topo, f.name, r)}",
                }
            )
    return out


def _pools(topo: Topology) -> list[dict[str, Any]]:
    out = []
    for f in rail_fabrics(topo):
        for r in range(f.rails):
            net = topo.rail_nets[f.rail_base + r]
            subnet = IPv4Network(net.subnet)
            assert net.pod_range is not None
            # the node addresses (and gateway) come first in the rail subnet: keep them out
            first_pod = IPv4Address(net.pod_range[0])
            out.append(
                {
                    "name": network_name(topo, f.name, r),
                    "subnet": str(subnet),
                    "block": topo.spec.addressing.pod_ips_per_node,
                    "exclude_start": str(subnet.network_address + 1),
                    "exclude_end": str(first_pod - 1),
                }
            )
    return out


def _bench(vendor: str, prog: str, sizes: tuple[str, str, str], per_node: int) -> list[str]:
    """The benchmark's own arguments: nccl-tests and rccl-tests alike (one GPU per rank), or
    hccl_test (NPUs per node)."""
    per = per_node if vendor == "huawei" else 1
    return benchmark_args(vendor, prog.removesuffix("_perf"), sizes, per, check=False)


def mpijob(
    topo: Topology,
    *,
    name: str = "",
    workers: int = 2,
    prog: str = "all_reduce_perf",
    sizes: tuple[str, str, str] = ("8", "8G", "2"),
    env: dict[str, str] | None = None,
    hosts: tuple[str, ...] = (),
) -> str:
    """An MPIJob running one collective benchmark on `workers` nodes of one collective domain
    (the samples rendered into k8s/, and what `aictl accept run --launcher k8s` applies):
    nccl-tests asking for nvidia.com/gpu, rccl-tests for amd.com/gpu (both over every rail
    network, NCCL_* pinning the rail HCAs: RCCL reads them too), hccl_test for
    huawei.com/Ascend910 (no pod networks: HCCL uses the NPUs' own ports).

    Every worker pod asks for the same accelerators: over `hosts` of several node groups that
    is the smallest group's count; NCCL_IB_HCA names every group's rail devices (NCCL uses the
    ones a node has)."""
    k = topo.spec.kubernetes
    profiles = [topo.profile(h) for h in hosts] if hosts else list(_used_profiles(topo).values())
    first = profiles[0]
    info = first.vendor
    gpus = min(p.gpu.count for p in profiles)
    networks = [] if not first.host_rails else _networks(topo, first.fabric)
    if info.name == "huawei":
        xs = ["HCCL_SOCKET_IFNAME=eth0"]
        image = k.hccl_tests_image
    else:
        devices = sorted({d for p in profiles for d in p.rdma_devices}, key=natural_key)
        hca = ",".join(f"{d}:1" for d in devices)
        xs = [f"NCCL_IB_HCA=={hca}", "NCCL_SOCKET_IFNAME==eth0", "NCCL_DEBUG=INFO"]
        image = k.rccl_tests_image if info.name == "amd" else k.nccl_tests_image
    xs += [f"{key}={value}" for key, value in sorted((env or {}).items())]
    args = ["mpirun", "--allow-run-as-root", "-np", str(workers * gpus)]
    args += ["-bind-to", "none", "-map-by", "slot"]
    for x in xs:
        args += ["-x", x]
    args += _bench(info.name, prog, sizes, gpus)
    # mpi-operator names worker pods (and their DNS labels) <job>-worker-<i>: keep within 63
    test = prog.removesuffix("_perf").replace("_", "-")
    default = fit_name(
        f"{topo.name}-{_tool_name(info.name)}-{test}", 63 - len(f"-worker-{workers - 1}")
    )
    return render(
        "k8s/mpijob.yaml.j2",
        cluster=topo.name,
        name=name or default,
        namespace=k.namespace,
        image=image,
        gpus=gpus,
        workers=workers,
        launcher_args=args,
        networks=[n["name"] for n in networks],
        resources=[n["resource"] for n in networks],
        rails=networks,
        accelerator=info.k8s_resource,
        library=info.collective,
        benchmark=info.benchmark,
    )


def _tool_name(vendor: str) -> str:
    """The benchmark's short name in a job name (nccl, rccl, hccl): nccl-tests' stays `nccl`."""
    return {"amd": "rccl", "huawei": "hccl"}.get(vendor, "nccl")


def render_k8s(topo: Topology) -> list[Artifact]:
    """Every Kubernetes artifact under k8s/ (nothing when kubernetes.enabled is false)."""
    k = topo.spec.kubernetes
    if not k.enabled:
        return []
    if k.ipam == "whereabouts" and topo.spec.addressing.pod_ips_per_node == 0:
        raise RenderError(
            "Kubernetes rail networks need pod addresses, but addressing.pod_ips_per_node is 0",
            hint="set addressing.pod_ips_per_node (e.g. 4), or kubernetes.enabled: false",
            field="addressing.pod_ips_per_node",
        )
    ib = any(f.transport == "infiniband" for f in rail_fabrics(topo))
    networks = _networks(topo)
    ctx = {
        "cluster": topo.name,
        "release": k.network_operator,
        "repository": k.image_repository,
        "version": f"network-operator-v{k.network_operator}",
        "pull_secrets": k.image_pull_secrets,
        "multus": k.multus,
        "ib": ib,
        "nv_ipam": k.ipam == "nv-ipam",
        "node_policy_name": node_policy_name(topo),
        "rdma_config": rdma_config(topo),
        "rails": networks,
    }
    out = [
        Artifact(
            "k8s/10-nicclusterpolicy.yaml", render("k8s/nicclusterpolicy.yaml.j2", **ctx).encode()
        ),
        Artifact("k8s/11-nicnodepolicy.yaml", render("k8s/nicnodepolicy.yaml.j2", **ctx).encode()),
    ]
    if k.multus == "upstream":
        out.append(
            Artifact(
                "k8s/multus/kustomization.yaml",
                render(
                    "k8s/multus-kustomization.yaml.j2",
                    cluster=topo.name,
                    version=k.multus_version,
                    manifests=f"{MULTUS_MANIFESTS}/{k.multus_version}/deployments",
                ).encode(),
            )
        )
    if k.ipam == "whereabouts":
        out.append(
            Artifact(
                "k8s/whereabouts/kustomization.yaml",
                render(
                    "k8s/whereabouts-kustomization.yaml.j2",
                    cluster=topo.name,
                    version=k.whereabouts_version,
                    manifests=f"{WHEREABOUTS_MANIFESTS}/{k.whereabouts_version}/doc/crds",
                    schedule=k.whereabouts_reconcile_schedule,
                ).encode(),
            )
        )
    else:
        out.append(
            Artifact(
                "k8s/20-ippools.yaml",
                render(
                    "k8s/ippools.yaml.j2",
                    cluster=topo.name,
                    operator_namespace=OPERATOR_NAMESPACE,
                    pools=_pools(topo),
                ).encode(),
            )
        )
    out.append(
        Artifact(
            "k8s/30-networks.yaml",
            render(
                "k8s/networks.yaml.j2",
                cluster=topo.name,
                namespace=k.namespace,
                networks=networks,
                rails=networks,
            ).encode(),
        )
    )
    labels = [(n, sorted(v.items())) for n, v in node_labels(topo).items()]
    out.append(
        Artifact(
            "k8s/40-node-labels.sh",
            render("k8s/node-labels.sh.j2", cluster=topo.name, labels=labels).encode(),
        )
    )
    out += _sample_jobs(topo)
    # topology-aware scheduling: Volcano, Kueue, KAI (aictl/render/targets/scheduler.py)
    from aictl.render.targets.scheduler import render_scheduler

    return out + render_scheduler(topo)


def _sample_jobs(topo: Topology) -> list[Artifact]:
    """A sample benchmark MPIJob per collective domain (no job spans two vendors or two
    fabrics): k8s/50-nccl-mpijob.yaml for a plan of one domain, else
    k8s/50-<domain>-<benchmark>-mpijob.yaml."""
    out = []
    domains = topo.domains()
    for domain, nodes in domains.items():
        hosts = tuple(n.name for n in nodes)
        workers = min(2, len(hosts))
        text = mpijob(topo, workers=workers, hosts=hosts)
        vendor = topo.profile(hosts[0]).gpu.vendor
        tool = _tool_name(vendor)
        path = (
            f"k8s/50-{tool}-mpijob.yaml"
            if len(domains) == 1
            else f"k8s/50-{domain}-{tool}-mpijob.yaml"
        )
        out.append(Artifact(path, text.encode()))
    return out
