"""topology.json: the plan every later stage reads.

Sorted keys and two-space indent like every aictl JSON, except that long row lists (nodes,
cables) keep one row per line: diffable, and written by the C encoder row by row instead of
the slow pure-Python indenting encoder.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aictl.topology.analysis import failure_impact, path_classes, summary
from aictl.topology.model import SCHEMA_VERSION

if TYPE_CHECKING:
    from aictl.topology.model import Topology
    from aictl.topology.sizing import FabricShape

CABLE_COLUMNS = ["id", "tier", "a_device", "a_port", "b_device", "b_port", "gbps"]


def _fabrics(topo: Topology) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "transport": f.transport,
            "prefix": f.prefix,
            "rail_base": f.rail_base,
            "shape": _shape_of(f.shape),
        }
        for f in topo.fabrics
    ]


def _shape(topo: Topology) -> dict[str, Any]:
    return _shape_of(topo.shape)


def _shape_of(sh: FabricShape) -> dict[str, Any]:
    return {
        "tiers": sh.tiers,
        "sus": sh.sus,
        "leaves_per_rail_per_su": sh.leaves_per_rail_per_su,
        "slots_per_leaf": sh.slots_per_leaf,
        "leaf_uplinks": sh.leaf_uplinks,
        "spines": sh.spines,
        "links_leaf_spine": sh.links_leaf_spine,
        "pods_per_rail": sh.pods_per_rail,
        "sus_per_pod": sh.sus_per_pod,
        "spine_uplinks": sh.spine_uplinks,
        "cores_per_group": sh.cores_per_group,
        "links_spine_core": sh.links_spine_core,
        "input": asdict(sh.inp),
    }


def flat(obj: Any) -> dict[str, Any]:
    """A slotted dataclass as a dict, without asdict's deep copies (tuples stay tuples)."""
    return {k: getattr(obj, k) for k in obj.__slots__}


def _rows(rows: list[Any], indent: str) -> str:
    if not rows:
        return "[]"
    enc = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    body = f",\n{indent}  ".join(enc.encode(r) for r in rows)
    return f"[\n{indent}  {body}\n{indent}]"


def document(topo: Topology) -> dict[str, Any]:
    """The topology document without its row lists (for tests and `--output json`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "aictl.topology",
        "name": topo.name,
        "spec_sha256": topo.spec_sha256,
        "summary": summary(topo),
        "shape": _shape(topo),
        "fabrics": _fabrics(topo),
        "path_classes": path_classes(topo),
        "failure_impact": failure_impact(topo),
        "mgmt_gateway": topo.mgmt_gateway,
        "profiles": {name: prof.as_dict() for name, prof in sorted(topo.profiles.items())},
        "rail_nets": [flat(r) for r in topo.rail_nets],
        "reserved": [flat(r) for r in topo.reserved],
        "switches": [flat(s) for s in topo.switches],
    }


def render(topo: Topology) -> str:
    """topology.json text."""
    doc = document(topo)
    rows = {
        "switches": doc.pop("switches"),
        "nodes": [flat(n) for n in topo.nodes],
        "cables": [list(c) for c in topo.cables],
    }
    doc["cable_columns"] = CABLE_COLUMNS
    parts: list[str] = []
    for key in sorted([*doc, *rows]):
        if key in rows:
            parts.append(f'  "{key}": {_rows(rows[key], "  ")}')
        else:
            value = json.dumps(
                doc[key], sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
            )
            parts.append(f'  "{key}": ' + value.replace("\n", "\n  "))
    return "{\n" + ",\n".join(parts) + "\n}\n"
