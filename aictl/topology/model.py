"""Stage 2 data: the plan every later stage reads (switches, node placements, cables).

Cables are NamedTuples, not dataclasses: a 131,072-GPU plan holds ~400,000 of them and a
tuple is built several times faster and is half the size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class RailNet:
    """A rail's subnet and what the plan allocates in it."""

    rail: int
    plane: int
    subnet: str
    gateway: str
    pod_range: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class Topology:
    """The complete plan of one cluster."""

    spec: ClusterSpec
    spec_sha256: str
    shape: FabricShape
    switches: tuple[Switch, ...]
    nodes: tuple[NodePlacement, ...]
    reserved: tuple[ReservedDevice, ...]
    cables: tuple[Cable, ...]
    rail_nets: tuple[RailNet, ...]
    mgmt_gateway: str
    # resolved node profiles by name (aictl/topology/profiles.py); nodes name theirs
    profiles: dict[str, Profile]
    _by_name: dict[str, NodePlacement] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})

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
    def rails(self) -> int:
        return self.shape.inp.rails

    def switches_by_role(self, role: str) -> list[Switch]:
        """Switches of one role, in plan order."""
        return [s for s in self.switches if s.role == role]
