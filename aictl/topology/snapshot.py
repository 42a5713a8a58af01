"""The plan in the build directory, read back: spec.resolved.json and topology.json into the
same typed objects the planner makes, with a staleness check.

`aictl topo plan` writes both files; a later stage that starts from a build directory (the
report, a run directory) reads them here instead of re-reading any YAML. Both files carry the
sha256 of the spec they came from: when they disagree with each other, or with the spec a
command was given, the build is stale and the error names the command that rebuilds it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aictl.errors import StaleBuildError
from aictl.topology.model import SCHEMA_VERSION as TOPOLOGY_SCHEMA
from aictl.topology.model import (
    Cable,
    FabricPlan,
    NodePlacement,
    RailNet,
    ReservedDevice,
    Switch,
    Topology,
)
from aictl.topology.profiles import Profile
from aictl.topology.sizing import FabricShape, SizingInput

if TYPE_CHECKING:
    from pathlib import Path

RESOLVED_SCHEMA = 1


def resolved_json(topo: Topology) -> str:
    """spec.resolved.json: the spec with every default filled in, and its hash."""
    from aictl.jsonio import dumps

    return dumps(
        {
            "schema_version": RESOLVED_SCHEMA,
            "kind": "aictl.spec.resolved",
            "spec_sha256": topo.spec_sha256,
            "spec": topo.spec.model_dump(mode="json", by_alias=True),
        }
    )


def _pairs(rows: list[list[Any]]) -> tuple[tuple[Any, Any], ...]:
    return tuple((a, b) for a, b in rows)


def _shape(shape: dict[str, Any]) -> FabricShape:
    inp = SizingInput(**shape["input"])
    fields = {k: v for k, v in shape.items() if k != "input"}
    return FabricShape(inp=inp, **fields)


def _fabrics(doc: dict[str, Any]) -> tuple[FabricPlan, ...]:
    """The plan's fabrics; a plan written before fabrics had one, the spec's compute_fabric."""
    if "fabrics" not in doc:
        transport = "infiniband"
        for p in (doc.get("profiles") or {}).values():
            transport = p.get("transport", transport)
        return (FabricPlan("compute", transport, _shape(doc["shape"])),)
    return tuple(
        FabricPlan(f["name"], f["transport"], _shape(f["shape"]), f["prefix"], f["rail_base"])
        for f in doc["fabrics"]
    )


def _topology(doc: dict[str, Any], loaded_spec: Any) -> Topology:
    cols = doc["cable_columns"]
    if cols != ["id", "tier", "a_device", "a_port", "b_device", "b_port", "gbps"]:
        raise ValueError(f"unknown cable columns {cols}")
    return Topology(
        spec=loaded_spec,
        spec_sha256=doc["spec_sha256"],
        fabrics=_fabrics(doc),
        switches=tuple(Switch(**s) for s in doc["switches"]),
        nodes=tuple(
            NodePlacement(
                name=n["name"],
                index=n["index"],
                profile=n["profile"],
                su=n["su"],
                slot=n["slot"],
                rack=n["rack"],
                mgmt_ip=n["mgmt_ip"],
                bmc_ip=n["bmc_ip"],
                rail_ips=tuple(n["rail_ips"]),
                leaf_ports=_pairs(n["leaf_ports"]),
                tor_ports=_pairs(n["tor_ports"]),
            )
            for n in doc["nodes"]
        ),
        reserved=tuple(
            ReservedDevice(
                r["name"], r["su"], r["slot"], _pairs(r["leaf_ports"]), r.get("fabric", "compute")
            )
            for r in doc["reserved"]
        ),
        cables=tuple(Cable(*c) for c in doc["cables"]),
        rail_nets=tuple(
            RailNet(
                r["rail"],
                r["plane"],
                r["subnet"],
                r["gateway"],
                tuple(r["pod_range"]) if r["pod_range"] else None,
                r.get("fabric", "compute"),
            )
            for r in doc["rail_nets"]
        ),
        mgmt_gateway=doc["mgmt_gateway"],
        profiles={name: Profile.from_dict(p) for name, p in doc["profiles"].items()},
    )


def load_plan(build: Path, *, spec_sha256: str | None = None, spec_hint: str = "") -> Topology:
    """The plan of `build` (a build or run directory) as typed objects.

    Raises StaleBuildError when a file is missing, unreadable, written by another aictl, or
    made from another spec than `spec_sha256` (when given)."""
    from aictl.spec.loader import load_resolved

    redo = f"aictl topo plan {spec_hint or '<spec>'}"
    resolved, plan = build / "spec.resolved.json", build / "topology.json"
    for f in (resolved, plan):
        if not f.exists():
            raise StaleBuildError(
                f"{build}: no {f.name}", hint=f"{redo} writes it (with --out {build.parent})"
            )
    loaded = load_resolved(resolved)
    try:
        doc = json.loads(plan.read_text())
        if doc.get("schema_version") != TOPOLOGY_SCHEMA or doc.get("kind") != "aictl.topology":
            raise ValueError(f"schema {doc.get('kind')} v{doc.get('schema_version')}")
        topo = _topology(doc, loaded.spec)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StaleBuildError(
            f"{plan}: not a plan this aictl reads ({exc})", hint=f"{redo} rewrites it"
        ) from None
    if topo.spec_sha256 != loaded.sha256:
        raise StaleBuildError(
            f"{build}: topology.json and spec.resolved.json come from different specs",
            hint=f"{redo} rewrites both",
        )
    if spec_sha256 is not None and topo.spec_sha256 != spec_sha256:
        raise StaleBuildError(
            f"{build}: the plan there was made from another version of the spec",
            hint=f"{redo} brings it up to date",
        )
    return topo
