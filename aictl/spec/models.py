"""Stage 1 data model: the cluster spec, validated at the YAML boundary.

Every field carries a description: it feeds `aictl spec schema` and docs/spec.md. Models are
frozen and forbid unknown keys, so a typo is an error, not a silently ignored setting.
Cross-field rules (duplicate hostnames, overlapping subnets, rails vs NIC names, ...) live in
`aictl/spec/rules.py`, so that every problem is reported at once with its file and line.
Every string that reaches a config is held to the grammar of where it goes
(`aictl/spec/grammar.py`); floats are finite.
"""

from __future__ import annotations

import re
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from aictl.spec import grammar
from aictl.spec.releases import (
    NETWORK_OPERATOR_DEFAULT,
    NetworkOperatorRelease,
    check_network_operator,
)

SCHEMA_VERSION = 1
# the name of the one fabric of a spec that gives `compute_fabric`
SINGLE_FABRIC = "compute"

Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
# NaN and infinities are not numbers a threshold or a bandwidth can be (nor JSON)
Float = Annotated[float, Strict(), AllowInfNan(False)]


def _address_text(v: object) -> object:
    # ipaddress accepts ints (and so bools): `loopbacks: false` must not become 0.0.0.0/32
    if not isinstance(v, str | IPv4Address | IPv4Network):
        raise ValueError(
            f"expected an IPv4 address or prefix as text, like 10.0.0.0/24 (got {type(v).__name__})"
        )
    return v


RatioValue = Annotated[
    float,
    Strict(),
    AllowInfNan(False),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 1, "maximum": 64},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*:\s*\d+(\.\d+)?\s*$"},
            ]
        }
    ),
]
Net = Annotated[IPv4Network, BeforeValidator(_address_text)]
Addr = Annotated[IPv4Address, BeforeValidator(_address_text)]
Name = Annotated[str, Field(pattern=grammar.DNS_LABEL)]
Netdev = Annotated[str, Field(pattern=grammar.NETDEV)]
Text = Annotated[str, Field(pattern=grammar.TEXT)]
# `{n}` or `{n:03d}` only: a hostname pattern is never a general format string.
_HOSTNAME_PATTERN = re.compile(r"[a-z0-9-]*\{n(:0?[1-9]d)?\}[a-z0-9-]*")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ratio(_Model):
    """Oversubscription per tier as down:up bandwidth (1.0 = non-blocking)."""

    leaf: RatioValue = Field(
        1.0,
        ge=1.0,
        le=64.0,
        description="Leaf tier: node-facing ports per uplink (1.0 non-blocking; 3.0 means 3:1).",
    )
    spine: RatioValue = Field(
        1.0,
        ge=1.0,
        le=64.0,
        description="Spine tier (three-tier fabrics): "
        "leaf-facing ports per core uplink (Meta's Llama 3 cluster uses 7.0).",
    )

    @field_validator("leaf", "spine", mode="before")
    @classmethod
    def _ratio(cls, v: object) -> object:
        if isinstance(v, str):
            m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*", v)
            if not m or float(m.group(2)) == 0:
                raise ValueError(f"expected a ratio like '1:1' or '3:1', got {v!r}")
            return float(m.group(1)) / float(m.group(2))
        return v


Vendor = Literal["nvidia", "amd", "huawei", "kunlunxin"]
# the scale-up interconnect inside a node
ScaleUp = Literal["nvswitch", "nvlink", "xgmi", "hccs", "xpu-link", "pcie"]


class GpuSpec(_Model):
    """The accelerators of one node profile: NVIDIA GPUs, AMD Instinct GPUs, Huawei Ascend
    NPUs or Kunlunxin XPUs."""

    vendor: Vendor = Field(
        "nvidia",
        description="Accelerator vendor: nvidia, amd (Instinct), huawei (Ascend) or "
        "kunlunxin (Kunlun XPU). It picks the tools, stack, collective library and "
        "Kubernetes resource of the profile (docs/mixed-clusters.md).",
    )
    model: Text = Field(
        description="Accelerator model as the vendor's tool names it: nvidia-smi "
        "('NVIDIA A800-SXM4-80GB'), amd-smi ('AMD Instinct MI300X'), npu-smi ('Ascend910B3'), "
        "xpu_smi ('K200')."
    )
    count: Int = Field(ge=1, le=16, description="Accelerators per node.")
    nvswitch: Bool = Field(
        True,
        description="NVIDIA only: NVSwitch baseboard (HGX/DGX), which needs "
        "nvidia-fabricmanager at the driver branch (false for every other vendor).",
    )
    nvlink_gbytes: Float = Field(
        0.0,
        ge=0,
        description="NVIDIA only: NVLink bandwidth per GPU in GB/s (A800: 400, H100: 900); "
        "0 when unknown (other vendors give scale_up_gbytes).",
    )
    scale_up: ScaleUp | None = Field(
        None,
        description="Scale-up interconnect inside the node: nvswitch or nvlink (NVIDIA), "
        "xgmi (AMD Infinity Fabric), hccs (Ascend), xpu-link (Kunlun), or pcie (none); by "
        "default the vendor's (NVIDIA: nvswitch when nvswitch is true, else nvlink).",
    )
    scale_up_gbytes: Float | None = Field(
        None,
        gt=0,
        description="Scale-up bandwidth per accelerator in GB/s as the vendor quotes it, both "
        "directions (MI300X xGMI 896 over 7 links, Ascend 910B HCCS 392); for NVIDIA the "
        "same as nvlink_gbytes (A800 400, H100 900).",
    )

    @model_validator(mode="before")
    @classmethod
    def _vendor_defaults(cls, data: object) -> object:
        # NVSwitch is NVIDIA's: another vendor's board has none unless it says otherwise
        # (which a rule then refuses with the field's line)
        if isinstance(data, dict) and data.get("vendor", "nvidia") != "nvidia":
            return {"nvswitch": False, **data}
        return data


class RailNic(_Model):
    """One compute NIC: one rail of the rail-optimized fabric."""

    rdma_device: str = Field(
        pattern=grammar.RDMA_DEVICE,
        description="RDMA device name as ibstat/ibdev2netdev show it, e.g. mlx5_0.",
    )
    netdev: str = Field(
        pattern=grammar.NETDEV,
        description="Linux netdev of the port (IPoIB or RoCE interface), e.g. ibp12s0.",
    )
    pci_address: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$",
        description="PCI address of the port (e.g. 0000:0c:00.0); when every rail has one, "
        "udev rules pin the netdev names.",
    )
    gpus: list[Int] = Field(
        default_factory=list,
        description="GPU indices behind the same PCIe "
        "switch as this NIC (GPUDirect RDMA partners), e.g. [0, 1].",
    )


class ComputeNics(_Model):
    """The compute (east-west) NICs of a node profile; their count is the number of rails."""

    attach: Literal["pcie", "integrated"] = Field(
        "pcie",
        description="How the scale-out ports attach: pcie (NICs beside the accelerators, "
        "listed in rails) or integrated (ports in the accelerator, Ascend 910-class: one rail "
        "per NPU, configured with hccn_tool; rails is then left out).",
    )
    model: Text = Field("ConnectX-6", description="NIC model, for the bill of materials.")
    speed_gbps: Int = Field(gt=0, description="Line rate of each NIC port in Gb/s.")
    ports_per_cage: Int = Field(
        1,
        ge=1,
        le=2,
        description="NIC ports per transceiver cage on the "
        "node side (DGX H100 twin-port OSFP: 2), for the BOM.",
    )
    rails: list[RailNic] = Field(
        default_factory=list,
        max_length=32,
        description="One entry per rail, in rail order (rail 0 first); pcie NICs need at "
        "least one, integrated ports none (NPU i is rail i).",
    )


class BondSpec(_Model):
    """The storage/management bond over the Ethernet NICs."""

    name: str = Field("bond0", pattern=grammar.NETDEV, description="Bond netdev name.")
    mode: Literal["802.3ad"] = Field("802.3ad", description="Bonding mode; LACP (mode 4) only.")
    lacp_rate: Literal["fast", "slow"] = Field("fast", description="LACPDU rate.")
    transmit_hash_policy: Literal["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"] = Field(
        "layer3+4", description="Transmit hash policy."
    )
    mii_monitor_ms: Int = Field(
        100, ge=0, le=10000, description="MII link monitoring interval in ms."
    )
    mtu: Int = Field(9000, ge=1280, le=9216, description="MTU of the bond and its members.")


class StorageNics(_Model):
    """The storage/management (north-south) Ethernet NICs of a node profile."""

    speed_gbps: Int = Field(gt=0, description="Line rate of each member in Gb/s.")
    netdevs: list[Netdev] = Field(
        min_length=1, max_length=4, description="Member netdevs, e.g. [lan0, lan1]."
    )
    bond: BondSpec = Field(default_factory=BondSpec, description="The bond over the members.")


class NodeProfile(_Model):
    """A server type: GPUs, compute NICs (rails) and storage NICs."""

    system: Text = Field("HGX A800 8-GPU", description="Server model, for the bill of materials.")
    os_family: Literal["ubuntu", "rhel"] = Field(
        "ubuntu", description="Host OS family: netplan (ubuntu) or NetworkManager keyfiles (rhel)."
    )
    gpu: GpuSpec = Field(description="Accelerators per node (GPUs, NPUs, XPUs).")
    fabric: Name | None = Field(
        None,
        description="The compute fabric (a key of compute_fabrics) its rails attach to; "
        "needed when the spec has several.",
    )
    compute_nics: ComputeNics = Field(description="Compute NICs, one per rail.")
    storage_nics: StorageNics = Field(description="Bonded storage/management NICs.")
    nccl_env: dict[
        Annotated[str, Field(pattern=grammar.ENV_NAME)],
        Annotated[str, Field(pattern=grammar.ENV_VALUE)],
    ] = Field(
        default_factory=dict,
        description="Extra settings of the collective library, NAME: value: /etc/nccl.conf "
        "for NVIDIA and AMD (RCCL reads NCCL_*; NCCL_IB_HCA is derived from the rails, an "
        "explicit one must name exactly the rail devices), HCCL_* for Ascend "
        "(/etc/aictl/hccl.env); one line each.",
    )


class NodeEntry(_Model):
    """One node of an explicit node list."""

    name: Name = Field(description="Hostname (lower case, DNS label).")
    profile: Name | None = Field(None, description="Node profile; defaults to nodes.profile.")
    rack: str | None = Field(
        None,
        pattern=grammar.RACK,
        description="Rack name; computed from nodes.nodes_per_rack when absent.",
    )
    mgmt_ip: Addr | None = Field(
        None,
        description="Management (bond) address; allocated from addressing.management when absent.",
    )
    bmc_ip: Addr | None = Field(
        None, description="BMC address; allocated from addressing.bmc when absent."
    )


def _check_hostname(pattern: str, count: object) -> str:
    """A hostname pattern, checked on the first and the longest name it gives."""
    if not _HOSTNAME_PATTERN.fullmatch(pattern):
        raise ValueError("hostname must be a DNS label with one '{n}' or '{n:03d}' placeholder")
    for n in sorted({1, count if isinstance(count, int) and count > 0 else 1}):
        name = pattern.format(n=n)
        why = grammar.bad_hostname(name)
        if why:
            raise ValueError(f"node {n} would be named {grammar.shown(name)}: {why}")
    return pattern


class NodeGroup(_Model):
    """A run of nodes of one profile: `count` nodes named by `hostname`."""

    profile: Name = Field(description="The node profile of these nodes.")
    count: Int = Field(ge=1, le=131072, description="Number of nodes.")
    hostname: str = Field(
        description="Hostname pattern: `{n}` or `{n:03d}` is the 1-based number within the "
        "group; every name it gives must be a DNS label."
    )

    @field_validator("hostname")
    @classmethod
    def _pattern(cls, v: str, info: ValidationInfo) -> str:
        return _check_hostname(v, info.data.get("count"))


class Nodes(_Model):
    """The GPU nodes: a count with a hostname pattern, an explicit list, or groups of one
    profile each (a mixed cluster: `groups: [{profile: a800, count: 160, hostname:
    "gpu{n:03d}"}, {profile: ascend, count: 32, hostname: "npu{n:03d}"}]`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    count: Int | None = Field(None, ge=1, le=131072, description="Number of nodes (with hostname).")
    hostname: str = Field(
        "gpu{n:03d}",
        description="Hostname pattern for `count`: `{n}` or `{n:03d}` is the 1-based node number; "
        "every name it gives must be a DNS label (at most 63 characters).",
    )
    entries: list[NodeEntry] | None = Field(
        None, alias="list", description="Explicit nodes, in cabling order."
    )
    groups: list[NodeGroup] | None = Field(
        None,
        min_length=1,
        description="Node groups in cabling order, each `count` nodes of one profile.",
    )
    profile: Name | None = Field(
        None,
        description="Default node profile (needed with count, and with list entries that "
        "name none; groups name their own).",
    )
    nodes_per_rack: Int = Field(
        4, ge=1, le=64, description="Nodes per rack when racks are computed."
    )

    @field_validator("hostname")
    @classmethod
    def _pattern(cls, v: str, info: ValidationInfo) -> str:
        # the first and the longest name it gives (count is validated before hostname)
        return _check_hostname(v, info.data.get("count"))

    @model_validator(mode="after")
    def _one_of(self) -> Nodes:
        given = [v for v in (self.count, self.entries, self.groups) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'count', 'list' or 'groups'")
        if self.entries is not None and not self.entries:
            raise ValueError("'list' must name at least one node")
        unnamed = self.count is not None or any(e.profile is None for e in self.entries or [])
        if self.profile is None and self.groups is None and unnamed:
            raise ValueError("'profile' (the default node profile) is needed")
        return self

    @cached_property
    def listed(self) -> list[NodeEntry] | None:
        """The nodes one by one when the spec lists them or gives groups (in cabling order);
        None for `count` (a hostname pattern and one profile)."""
        if self.groups is None:
            return self.entries
        return [
            NodeEntry.model_construct(name=g.hostname.format(n=i), profile=g.profile)
            for g in self.groups
            for i in range(1, g.count + 1)
        ]

    @property
    def default_profile(self) -> str:
        """The profile of a node that names none (the first group's for groups)."""
        if self.profile is not None:
            return self.profile
        return self.groups[0].profile if self.groups else ""


class Reserved(_Model):
    """Node slots kept for other devices (e.g. the UFM appliances of a DGX SuperPOD)."""

    slots: Int = Field(0, ge=0, description="Node slots reserved in the first SU.")
    ports: Int = Field(
        0,
        ge=0,
        description="Leaf ports the reserved devices use in total "
        "(DGX H100 SuperPOD: 1 slot, 4 ports for UFM).",
    )
    name: Name = Field("ufm", description="Device name prefix for what sits in the reserved slots.")


class ComputeFabric(_Model):
    """The rail-optimized compute fabric (InfiniBand or RoCE)."""

    transport: Literal["infiniband", "roce"] = Field("infiniband", description="Fabric transport.")
    switch_model: Text = Field("QM8790", description="Switch model, for the BOM and configs.")
    switch_ports: Int = Field(ge=4, le=512, description="Switch ports at the link speed (radix).")
    ports_per_cage: Int = Field(
        1,
        ge=1,
        le=2,
        description="Switch ports per transceiver cage (QM9700 twin-port OSFP: 2), for the BOM.",
    )
    link_gbps: Int = Field(gt=0, description="Link speed of every fabric cable in Gb/s.")
    nodes_per_su: Int = Field(ge=1, description="Node slots per scalable unit (SU).")
    planes: Int = Field(
        1,
        ge=1,
        le=8,
        description="Independent identical fabric planes; each rail "
        "NIC has one port in every plane.",
    )
    rails: Int | None = Field(
        None,
        ge=1,
        description="Optional cross-check: must equal the number "
        "of compute NICs of every node profile.",
    )
    oversubscription: Ratio = Field(default_factory=Ratio, description="Oversubscription per tier.")
    tiers: Literal["auto", 2, 3] = Field(
        "auto", description="Switch tiers: auto picks two while the endpoints fit, else three."
    )
    reserved: Reserved = Field(default_factory=Reserved, description="Reserved node slots.")
    rail_mtu: Int | None = Field(
        None,
        ge=1280,
        le=9216,
        description="Netdev MTU of the rails: IPoIB datagram 4092 and RoCE 9000 when absent. "
        "RoCE needs at least 4200 for RDMA MTU 4096.",
    )
    switch_mtu: Int = Field(9216, ge=1500, le=9216, description="MTU of fabric switch ports.")
    bgp: Literal["unnumbered", "numbered"] = Field(
        "unnumbered",
        description="RoCE underlay eBGP sessions: IPv6 link-local (unnumbered) or /31s from "
        "addressing.p2p (numbered).",
    )


class Ethernet(_Model):
    """The storage/management Ethernet: ToR switches for the bond members."""

    tor_model: Text = Field("SN3420", description="ToR switch model.")
    tor_ports: Int = Field(ge=2, le=256, description="Node-facing ToR ports at the member speed.")
    tor_uplink_ports: Int = Field(
        8, ge=0, le=64, description="Uplink ports per ToR (separate cages)."
    )
    uplinks_per_tor: Int = Field(4, ge=0, le=64, description="Uplinks cabled per ToR.")
    uplink_gbps: Int = Field(100, gt=0, description="Uplink speed in Gb/s.")
    nodes_per_tor: Int = Field(ge=1, description="Nodes served by one ToR (or one MLAG pair).")
    mode: Literal["mlag", "single"] = Field(
        "mlag",
        description="mlag: bond members split over a ToR pair; single: both members on one ToR.",
    )
    aggregation_switches: Int = Field(
        2, ge=1, le=64, description="Aggregation switches the ToR uplinks spread over."
    )
    aggregation_model: Text = Field("SN3700", description="Aggregation switch model.")
    vlan: Int = Field(
        100, ge=2, le=4094, description="VLAN of the storage/management network on the ToRs."
    )


class Asn(_Model):
    """BGP autonomous systems for the RoCE underlay (eBGP, RFC 7938 style)."""

    core: Int = Field(65000, ge=1, le=4294967295, description="ASN shared by all core switches.")
    spine: Int = Field(
        65100,
        ge=1,
        le=4294967295,
        description="ASN of the spines (per rail group in three tiers: spine + rail index).",
    )
    leaf_start: Int = Field(
        65200,
        ge=1,
        le=4294967295,
        description="First leaf ASN; every leaf gets its own, in leaf order.",
    )


class ManagementNet(_Model):
    """A subnet with a gateway."""

    subnet: Net = Field(description="The subnet.")
    gateway: Addr | None = Field(None, description="Gateway; the first host when absent.")


class Addressing(_Model):
    """Address plan: management, BMC, per-rail subnets, loopbacks, ASNs."""

    management: ManagementNet = Field(description="Storage/management (bond0) subnet.")
    bmc: Net | None = Field(None, description="Out-of-band BMC subnet.")
    rails: list[Net] | None = Field(None, description="One subnet per rail, in rail order.")
    rail_supernet: Net | None = Field(
        None, description="Carve per-rail subnets from this when `rails` is absent."
    )
    rail_prefix: Int = Field(22, ge=8, le=30, description="Prefix length of carved rail subnets.")
    pod_ips_per_node: Int = Field(
        0,
        ge=0,
        le=1024,
        description="Addresses per node and rail kept "
        "for pods (Kubernetes secondary networks); the upper part of each "
        "rail subnet.",
    )
    loopbacks: Net = Field(
        IPv4Network("10.255.0.0/16"),
        description="Switch loopbacks (router IDs) for the RoCE underlay.",
    )
    asn: Asn = Field(default_factory=Asn, description="BGP ASN plan.")
    p2p: Net | None = Field(
        None,
        description="Pool for /31 point-to-point fabric links when compute_fabric.bgp is numbered.",
    )

    @model_validator(mode="after")
    def _rails_given(self) -> Addressing:
        if self.rails is None and self.rail_supernet is None:
            raise ValueError("give 'rails' (one subnet per rail) or 'rail_supernet'")
        return self


class Partition(_Model):
    """An InfiniBand partition (PKey)."""

    name: str = Field(pattern=grammar.PARTITION, description="Partition name.")
    pkey: Int = Field(ge=1, le=0x7FFF, description="PKey (15 bits).")
    ipoib: Bool = Field(True, description="Create the IPoIB broadcast group.")
    members: list[Name] | Literal["all"] = Field(
        "all", description="Hostnames whose HCAs join, or 'all'."
    )
    membership: Literal["full", "limited"] = Field("full", description="Membership type.")


class SubnetManager(_Model):
    """InfiniBand subnet manager and partitions (rendered by a later stage)."""

    manager: Literal["ufm", "opensm"] = Field("ufm", description="Who runs the SM.")
    routing_engine: Literal["ftree", "updn", "minhop"] = Field(
        "ftree", description="Routing engine."
    )
    lmc: Int = Field(0, ge=0, le=7, description="LID mask control (ftree needs 0).")
    hosts: list[Name] = Field(default_factory=list, description="Hosts running the SM (opensm).")
    partitions: list[Partition] = Field(default_factory=list, description="Tenant partitions.")
    guids: Literal["discovered", "planned"] = Field(
        "discovered",
        description="Where port GUIDs come from: 'planned' uses the plan's GUIDs (the lab's "
        "ibsim twin), so root/compute-node GUID files and host partition members can be "
        "rendered; 'discovered' leaves ftree to find the roots and allows only 'all' members.",
    )
    sm_priority: Int = Field(15, ge=0, le=15, description="SM priority (15 = master wins).")


class Kubernetes(_Model):
    """Kubernetes and NVIDIA network-operator settings (rendered by a later stage)."""

    enabled: Bool = Field(True, description="Render Kubernetes manifests.")
    network_operator: Annotated[NetworkOperatorRelease, BeforeValidator(check_network_operator)] = (
        Field(
            NETWORK_OPERATOR_DEFAULT,
            description="Pinned NVIDIA network-operator release: the current line (26.7) or the "
            "maintenance line (26.4); releases NVIDIA has ended are refused.",
        )
    )
    image_repository: str = Field(
        "nvcr.io/nvidia/mellanox",
        pattern=r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)*$",
        description="Registry path of the network-operator's component images (a mirror "
        "of nvcr.io/nvidia/mellanox for air-gapped clusters).",
    )
    image_pull_secrets: list[Name] = Field(
        default_factory=list,
        description="Secrets (in the operator's namespace) for pulling the component images.",
    )
    multus: Literal["network-operator", "upstream", "none"] = Field(
        "network-operator",
        description="Who deploys Multus: the network-operator (its build, at the operator's "
        "release), the pinned upstream release (multus_version, kubectl apply -k), or nobody "
        "(the cluster already runs it, e.g. kubespray's or OpenShift's).",
    )
    multus_version: str = Field(
        "v4.3.1",
        pattern=r"^v\d+\.\d+\.\d+$",
        description="Multus release when multus is 'upstream' (the thick plugin).",
    )
    namespace: Name = Field("default", description="Namespace of the per-rail networks.")
    control_plane: list[Name] = Field(default_factory=list, description="Control-plane hostnames.")
    ipam: Literal["whereabouts", "nv-ipam"] = Field("whereabouts", description="IPAM for rails.")
    network_prefix: Name = Field(
        "rail",
        # it also names the RDMA resource rdma_shared_<prefix><rail>: 63 characters at most
        max_length=40,
        description="Per-rail network names: <prefix>0, <prefix>1, ... (net1.. in pods).",
    )
    rdma_resource_prefix: str = Field(
        "rdma",
        pattern=grammar.DNS_SUBDOMAIN,
        max_length=253,
        description="Resource prefix of the RDMA devices.",
    )
    rdma_hca_max: Int = Field(63, ge=1, le=1000, description="Pods that may share one HCA.")
    pod_mtu: Int = Field(
        0,
        ge=0,
        le=9216,
        description="MTU of the pods' rail interfaces; 0 inherits the host rail's MTU "
        "(a macvlan child cannot exceed its parent).",
    )
    whereabouts_version: str = Field(
        "v0.9.4", pattern=r"^v\d+\.\d+\.\d+$", description="whereabouts release to install."
    )
    whereabouts_reconcile_schedule: str = Field(
        "30 4 * * *",
        pattern=r"^\S+( \S+){4}$",
        description="Cron schedule (5 fields) of the whereabouts ip-reconciler, which frees "
        "the addresses of pods that are gone.",
    )
    nccl_tests_image: str = Field(
        "nccl-tests:2.19.6",
        pattern=grammar.IMAGE_REF,
        max_length=512,
        description="Container image with nccl-tests and Open MPI for the sample MPIJob "
        "(build it from NVIDIA/nccl-tests and push it to your registry).",
    )
    rccl_tests_image: str = Field(
        "rccl-tests:rocm-7.0.2",
        pattern=grammar.IMAGE_REF,
        max_length=512,
        description="Container image with rccl-tests and Open MPI for AMD node groups' MPIJobs "
        "(build it from ROCm/rccl-tests).",
    )
    hccl_tests_image: str = Field(
        "hccl-test:cann-8.2.rc1",
        pattern=grammar.IMAGE_REF,
        max_length=512,
        description="Container image with CANN's hccl_test and MPI for Ascend node groups' "
        "MPIJobs (build the tools/hccl_test of the nodes' CANN release).",
    )


class Acceptance(_Model):
    """Acceptance thresholds (used by `aictl accept`)."""

    gdr_min_fraction: Float = Field(
        0.9, gt=0, le=1, description="GPUDirect ib_write_bw must reach this fraction of line rate."
    )
    nccl_min_fraction: Float = Field(
        0.7,
        gt=0,
        le=1,
        description="NCCL busbw must reach this fraction of what the hardware can carry (the "
        "aggregate NIC bandwidth across nodes, one NIC for alltoall, NVLink inside a node).",
    )
    fleet_tolerance_pct: Float = Field(
        10.0, gt=0, lt=100, description="A unit more than this far below the fleet median fails."
    )
    nccl_reference_bytes: Int = Field(8 * 2**30, gt=0, description="Message size for the verdict.")
    allreduce_min_busbw_gbytes: Float | None = Field(
        None, gt=0, description="Override of the expected cluster all_reduce busbw (GB/s)."
    )


class ClusterSpec(_Model):
    """A GPU cluster: nodes, fabrics, address plan, and what later stages need."""

    schema_version: Literal[1] = Field(1, description="Spec format version.")
    name: Name = Field(description="Cluster name (build/<name>/).")
    node_profiles: dict[Name, NodeProfile] = Field(
        min_length=1, description="Server types by name."
    )
    nodes: Nodes = Field(description="The GPU nodes.")
    compute_fabric: ComputeFabric | None = Field(
        None,
        description="The rail-optimized compute fabric (one fabric: give this or compute_fabrics).",
    )
    compute_fabrics: dict[Name, ComputeFabric] | None = Field(
        None,
        min_length=1,
        description="Several compute fabrics by name, e.g. an InfiniBand fabric for the "
        "NVIDIA SUs beside a RoCE fabric for the Ascend SUs; each node profile names its "
        "own (fabric). Planned in name order: rail subnets are carved fabric by fabric.",
    )
    ethernet: Ethernet = Field(description="Storage/management Ethernet.")
    addressing: Addressing = Field(description="Address plan.")
    subnet_manager: SubnetManager = Field(
        default_factory=SubnetManager, description="InfiniBand subnet manager and partitions."
    )
    kubernetes: Kubernetes = Field(default_factory=Kubernetes, description="Kubernetes settings.")
    acceptance: Acceptance = Field(default_factory=Acceptance, description="Acceptance thresholds.")

    @model_validator(mode="after")
    def _one_fabric_key(self) -> ClusterSpec:
        if (self.compute_fabric is None) == (self.compute_fabrics is None):
            raise ValueError("give exactly one of 'compute_fabric' or 'compute_fabrics'")
        return self

    def fabrics(self) -> dict[str, ComputeFabric]:
        """The compute fabrics by name, in planning order: `compute` for a spec with one
        `compute_fabric`, else `compute_fabrics` in name order."""
        if self.compute_fabrics is not None:
            return dict(sorted(self.compute_fabrics.items()))
        assert self.compute_fabric is not None
        return {SINGLE_FABRIC: self.compute_fabric}

    def fabric_name(self, profile: str) -> str:
        """The fabric a profile's rails attach to (the only one when the spec has one)."""
        fabrics = self.fabrics()
        prof = self.node_profiles.get(profile)
        if prof is not None and prof.fabric in fabrics:
            return prof.fabric
        return next(iter(fabrics))

    def fabric_path(self, fabric: str) -> tuple[str, ...]:
        """Where a fabric sits in the spec, for problems with a line number."""
        if self.compute_fabrics is None:
            return ("compute_fabric",)
        return ("compute_fabrics", fabric)
