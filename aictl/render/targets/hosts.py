"""Render target `hosts`: every node's network, kernel and collective-library configuration,
per vendor.

Per node, under `hosts/<node>/`: netplan (Ubuntu) or NetworkManager keyfiles (RHEL family)
for bond0 and the rails on PCIe NICs; for Ascend nodes, whose rails are ports in the NPUs,
/etc/hccn.conf (each NPU port's address, netmask, detect address and gateway, as hccn_tool
keeps it) and the script that applies it with hccn_tool. Per node profile, under
`profiles/<profile>/` (identical on every node of the profile, so written once): the
multi-rail sysctl drop-in and the ACS boot unit (PCIe NICs), nvidia-peermem at boot (NVIDIA),
/etc/nccl.conf (NVIDIA, and AMD: RCCL reads it), the HCCL environment (Ascend), RoCE QoS and
udev rules. Paths below either directory are the paths on the node: a node gets its profile's
tree and then its own.
"""

from __future__ import annotations

import uuid
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any

from aictl.artifact import Artifact
from aictl.render.env import render
from aictl.topology import qos

if TYPE_CHECKING:
    from aictl.topology.model import NodePlacement, Topology
    from aictl.topology.profiles import Profile

RAIL_TABLE_BASE = 100  # per-rail routing table = 100 + rail
RAIL_RULE_BASE = 1000  # policy rule priority = 1000 + rail


def _uuid(cluster: str, node: str, conn: str) -> str:
    # NetworkManager wants a UUID per connection; derive it so re-renders are byte-stable
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aictl://{cluster}/{node}/{conn}"))


def rails_of(
    topo: Topology, node: NodePlacement, prof: Profile, *, ports: bool = False
) -> list[dict[str, Any]]:
    """Per-rail facts of one node (plane 0): netdev, device, address, table, rule; the
    host's own rails (PCIe NICs), or with `ports` every rail (NPU ports included)."""
    out = []
    for nic in prof.rails if ports else prof.host_rails:
        r = nic.index
        rail_net = topo.rail_net(node, r)
        net = IPv4Network(rail_net.subnet)
        out.append(
            {
                "index": r,
                "netdev": nic.netdev,
                "rdma_device": nic.rdma_device,
                "pci_address": nic.pci_address,
                "ip": node.rail_ips[r],
                "prefix": net.prefixlen,
                "subnet": str(net),
                "table": RAIL_TABLE_BASE + r,
                "priority": RAIL_RULE_BASE + r,
                "mtu": prof.rail_mtu,
                "gateway": rail_net.gateway,
                "netmask": str(net.netmask),
            }
        )
    return out


def _bond(topo: Topology, node: NodePlacement, prof: Profile) -> dict[str, Any]:
    b = prof.bond
    prefix = topo.spec.addressing.management.subnet.prefixlen
    return {
        "name": b.name,
        "members": list(b.members),
        "mode": b.mode,
        "lacp_rate": b.lacp_rate,
        "miimon": b.miimon_ms,
        "hash": b.hash_policy,
        "mtu": b.mtu,
        "address": f"{node.mgmt_ip}/{prefix}",
        "gateway": topo.mgmt_gateway,
    }


# nccl.conf lines with a comment of their own in the template; the rest follow them
_NCCL_EXPLAINED = (
    "NCCL_IB_HCA",
    "NCCL_SOCKET_IFNAME",
    "NCCL_IB_ROCE_VERSION_NUM",
    "NCCL_IB_GID_INDEX",
    "NCCL_IB_TC",
)


def _profile_files(
    topo: Topology, name: str, prof: Profile, rails: list[dict[str, Any]]
) -> dict[str, str]:
    ib = prof.transport == "infiniband"
    from aictl.render.targets.health import profile_files

    if prof.gpu.vendor == "huawei":
        return {**_ascend_profile_files(topo, name, prof), **profile_files(topo, name, prof)}
    common = {
        "cluster": topo.name,
        "profile": name,
        "rails": rails,
        "ib": ib,
        "priority": qos.ROCE_PRIORITY,
        "cnp_priority": qos.CNP_PRIORITY,
        "dscp": qos.ROCE_DSCP,
        "cnp_dscp": qos.CNP_DSCP,
        "tos": qos.ROCE_TOS,
        "pfc": qos.pfc_vector(),
    }
    env = dict(prof.nccl_env)
    extra = [(k, v) for k, v in prof.nccl_env if k not in _NCCL_EXPLAINED]
    files = {
        "etc/sysctl.d/90-aictl-rdma.conf": render("host/common/sysctl-rdma.conf.j2", **common),
        "etc/nccl.conf": render(
            "host/common/nccl.conf.j2",
            env=env,
            extra=extra,
            library=prof.vendor.collective,
            **common,
        ),
        "etc/systemd/system/aictl-acs-disable.service": render(
            "host/common/acs-disable.service.j2", **common
        ),
        "usr/local/sbin/aictl-acs-disable": render("host/common/acs-disable.sh.j2", **common),
    }
    if prof.gpu.vendor == "nvidia":
        # GPUDirect RDMA: NVIDIA's peer-memory client (ROCm's is part of amdgpu)
        files["etc/modules-load.d/aictl-nvidia-peermem.conf"] = render(
            "host/common/nvidia-peermem.conf.j2", **common
        )
    if not ib:
        files["etc/systemd/system/aictl-roce-qos.service"] = render(
            "host/common/roce-qos.service.j2", **common
        )
        files["usr/local/sbin/aictl-roce-qos"] = render("host/common/roce-qos.sh.j2", **common)
    files.update(profile_files(topo, name, prof))
    if all(r["pci_address"] for r in rails):
        files["etc/udev/rules.d/70-aictl-rails.rules"] = render(
            "host/common/udev-rails.rules.j2", **common
        )
    return files


def _ascend_profile_files(topo: Topology, name: str, prof: Profile) -> dict[str, str]:
    """An Ascend profile's shared files: the HCCL environment."""
    return {
        "etc/aictl/hccl.env": render(
            "host/ascend/hccl.env.j2", cluster=topo.name, profile=name, env=list(prof.nccl_env)
        )
    }


def ascend_node_files(topo: Topology, node: NodePlacement, prof: Profile) -> dict[str, str]:
    """An Ascend node's NPU ports: /etc/hccn.conf and the hccn_tool script that applies it."""
    ports = rails_of(topo, node, prof, ports=True)
    ctx = {"cluster": topo.name, "node": node, "ports": ports}
    return {
        "etc/hccn.conf": render("host/ascend/hccn.conf.j2", **ctx),
        "usr/local/sbin/aictl-hccn-setup": render("host/ascend/hccn-setup.sh.j2", **ctx),
    }


def render_hosts(topo: Topology) -> list[Artifact]:
    """Every node's files under `hosts/<node>/`, shared ones under `profiles/<profile>/`."""
    done: set[str] = set()
    out: list[Artifact] = []
    for node in topo.nodes:
        prof = topo.profile(node)
        ib = prof.transport == "infiniband"
        rails = rails_of(topo, node, prof)
        if node.profile not in done:
            done.add(node.profile)
            shared = _profile_files(topo, node.profile, prof, rails)
            out += [Artifact(f"profiles/{node.profile}/{k}", v.encode()) for k, v in shared.items()]
        base = f"hosts/{node.name}/"
        if prof.attach == "integrated":
            own = ascend_node_files(topo, node, prof)
            out += [Artifact(base + k, v.encode()) for k, v in own.items()]
        bond = _bond(topo, node, prof)
        ctx = {"cluster": topo.name, "node": node, "bond": bond, "rails": rails, "ib": ib}
        if prof.os_family == "ubuntu":
            text = render("host/ubuntu/netplan.yaml.j2", renderer="networkd", **ctx)
            out.append(Artifact(base + "etc/netplan/60-aictl.yaml", text.encode()))
            continue
        nm = base + "etc/NetworkManager/system-connections/"
        out.append(
            Artifact(
                nm + f"{bond['name']}.nmconnection",
                render(
                    "host/rhel/bond.nmconnection.j2",
                    uuid=_uuid(topo.name, node.name, bond["name"]),
                    **ctx,
                ).encode(),
            )
        )
        for member in bond["members"]:
            conn = f"{bond['name']}-port-{member}"
            out.append(
                Artifact(
                    nm + f"{conn}.nmconnection",
                    render(
                        "host/rhel/bond-port.nmconnection.j2",
                        member=member,
                        uuid=_uuid(topo.name, node.name, conn),
                        **ctx,
                    ).encode(),
                )
            )
        for rail in rails:
            conn = f"rail{rail['index']}-{rail['netdev']}"
            out.append(
                Artifact(
                    nm + f"{conn}.nmconnection",
                    render(
                        "host/rhel/rail.nmconnection.j2",
                        rail=rail,
                        uuid=_uuid(topo.name, node.name, conn),
                        **ctx,
                    ).encode(),
                )
            )
    return out
