"""Stage 2 data: the plan every later stage reads (switches, node placements, cables).

Cables are NamedTuples, not dataclasses: a 131,072-GPU plan holds ~400,000 of them and a
tuple is built several times faster and is half the size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from aictl.spec.models import ClusterSpec
    from aictl.topology.profiles import Profile
    from aictl.topology.sizing import FabricShape

SCHEMA_VERSION = 1


class Cable(NamedTuple):
    """One cable: from a-side (lower tier) to b-side."""

    id: str
    tier: str
    a_device: str
    a_port: str
    b_device: str
    b_port: str
    gbps: int


@dataclass(frozen=True, slots=True)
class Switch:
    """A switch of the compute fabric or of the storage/management Ethernet."""

    name: str
    role: str  # leaf | spine | core | tor | agg
    model: str
    ports: int
    plane: int = 0
    su: int = 0
    rail: int = -1
    pod: int = 0
    group: int = 0
    asn: int = 0
    loopback: str = ""
    # the compute fabric it belongs to ("" for the storage/management Ethernet)
    fabric: str = ""


@dataclass(frozen=True, slots=True)
class NodePlacement:
    """Where a node sits and what it is called on every network."""

    name: str
    index: int
    profile: str
    su: int
    slot: int
    rack: str
    mgmt_ip: str
    bmc_ip: str
    rail_ips: tuple[str, ...]
    # (leaf, port) per rail, plane 0 first: rails x planes entries
    leaf_ports: tuple[tuple[str, int], ...]
    tor_ports: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ReservedDevice:
    """What sits in a reserved node slot (e.g. a UFM appliance) and its leaf ports."""

    name: str
    su: int
    slot: int
    leaf_ports: tuple[tuple[str, int], ...]
    fabric: str = "compute"


@dataclass(frozen=True, slots=True)
class RailNet:
    """A rail's subnet and what the plan allocates in it."""

    rail: int
    plane: int
    subnet: str
    gateway: str
    pod_range: tuple[str, str] | None
    fabric: str = "compute"


@dataclass(frozen=True, slots=True)
class FabricPlan:
    """One compute fabric of the plan: its transport and shape, how its devices are named,
    and where its rail subnets start in `Topology.rail_nets`."""

    name: str
    transport: str
    shape: FabricShape
    # device names start with it: "" when the spec has one fabric, "<name>-" otherwise
    prefix: str = ""
    rail_base: int = 0

    @property
    def rails(self) -> int:
        return self.shape.inp.rails


@dataclass(frozen=True, slots=True)
class Topology:
    """The complete plan of one cluster."""

    spec: ClusterSpec
    spec_sha256: str
    # the compute fabrics, in planning order (one for a spec with one compute_fabric)
    fabrics: tuple[FabricPlan, ...]
    switches: tuple[Switch, ...]
    nodes: tuple[NodePlacement, ...]
    reserved: tuple[ReservedDevice, ...]
    cables: tuple[Cable, ...]
    rail_nets: tuple[RailNet, ...]
    mgmt_gateway: str
    # resolved node profiles by name (aictl/topology/profiles.py); nodes name theirs
    profiles: dict[str, Profile]
    _by_name: dict[str, NodePlacement] = field(init=False, repr=False, compare=False)
    _domains: dict[str, tuple[NodePlacement, ...]] = field(init=False, repr=False, compare=False)
    _domain_of: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})
        domains = self._collective_domains()
        object.__setattr__(self, "_domains", domains)
        object.__setattr__(
            self, "_domain_of", {n.name: d for d, nodes in domains.items() for n in nodes}
        )

    @property
    def name(self) -> str:
        return self.spec.name

    def node(self, name: str) -> NodePlacement:
        """The planned node called `name` (KeyError when there is none)."""
        return self._by_name[name]

    def has_node(self, name: str) -> bool:
        return name in self._by_name

    def profile(self, node: NodePlacement | str) -> Profile:
        """The resolved profile of a node (or of the node called so)."""
        placed = self._by_name[node] if isinstance(node, str) else node
        return self.profiles[placed.profile]

    def groups(self) -> dict[str, tuple[NodePlacement, ...]]:
        """Node groups: profile name -> its nodes in plan order (groups in name order)."""
        out: dict[str, list[NodePlacement]] = {}
        for n in self.nodes:
            out.setdefault(n.profile, []).append(n)
        return {k: tuple(out[k]) for k in sorted(out)}

    @property
    def shape(self) -> FabricShape:
        """The first fabric's shape (a one-fabric plan's only one)."""
        return self.fabrics[0].shape

    @property
    def rails(self) -> int:
        """The first fabric's rail count (every node's on a one-fabric plan)."""
        return self.fabrics[0].rails

    @property
    def several_fabrics(self) -> bool:
        return len(self.fabrics) > 1

    def fabric(self, name: str) -> FabricPlan:
        """The fabric called `name` (KeyError when there is none)."""
        for f in self.fabrics:
            if f.name == name:
                return f
        raise KeyError(name)

    def fabric_of(self, node: NodePlacement | str) -> FabricPlan:
        """The compute fabric a node's rails attach to."""
        return self.fabric(self.profile(node).fabric)

    def rail_net(self, node: NodePlacement | str, rail: int, plane: int = 0) -> RailNet:
        """The subnet of one rail (and plane) of a node's fabric."""
        f = self.fabric_of(node)
        return self.rail_nets[f.rail_base + plane * f.rails + rail]

    @property
    def ib_fabric(self) -> FabricPlan | None:
        """The InfiniBand fabric (a plan has at most one: one subnet manager), or None."""
        return next((f for f in self.fabrics if f.transport == "infiniband"), None)

    def fabric_nodes(self, name: str) -> tuple[NodePlacement, ...]:
        """The nodes on fabric `name`, in plan order."""
        return tuple(n for n in self.nodes if self.profiles[n.profile].fabric == name)

    def domains(self) -> dict[str, tuple[NodePlacement, ...]]:
        """Collective domains: the nodes one collective can span — on the same compute fabric
        (their rails meet) and of the same vendor (one collective library). Named after the
        fabric, with the vendor when a fabric holds several (`roce-amd`); a plan with one
        fabric and one vendor has one domain, named after its fabric."""
        return self._domains

    def domain_of(self, node: NodePlacement | str) -> str:
        """The collective domain a node is in."""
        return self._domain_of[node if isinstance(node, str) else node.name]

    def _collective_domains(self) -> dict[str, tuple[NodePlacement, ...]]:
        out: dict[tuple[str, str], list[NodePlacement]] = {}
        for n in self.nodes:
            p = self.profiles[n.profile]
            out.setdefault((p.fabric, p.gpu.vendor), []).append(n)
        vendors: dict[str, set[str]] = {}
        for fabric, vendor in out:
            vendors.setdefault(fabric, set()).add(vendor)
        named = {
            (f if len(vendors[f]) == 1 else f"{f}-{v}"): tuple(nodes)
            for (f, v), nodes in out.items()
        }
        return dict(sorted(named.items()))

    def view(self, name: str) -> Topology:
        """The plan restricted to one compute fabric: its switches, nodes, reserved devices,
        compute cables and rail subnets (no Ethernet). Pictures and per-fabric exports draw a
        plan of several fabrics one view at a time; a one-fabric plan is its own view."""
        if not self.several_fabrics:
            return self
        fp = self.fabric(name)
        switches = tuple(s for s in self.switches if s.fabric == name)
        names = {s.name for s in switches}
        return replace(
            self,
            fabrics=(replace(fp, rail_base=0),),
            switches=switches,
            nodes=self.fabric_nodes(name),
            reserved=tuple(r for r in self.reserved if r.fabric == name),
            cables=tuple(c for c in self.cables if c.b_device in names),
            rail_nets=tuple(r for r in self.rail_nets if r.fabric == name),
        )

    def switches_by_role(self, role: str) -> list[Switch]:
        """Switches of one role, in plan order."""
        return [s for s in self.switches if s.role == role]
