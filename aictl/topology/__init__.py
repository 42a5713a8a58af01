"""Stage 2: the topology planner.

Public entries: `size_fabric` (arithmetic only), `build_topology` (the port-level plan) and
`write_plan` (the plan and every export into the build directory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aictl.topology.build import build_topology, sizing_input
from aictl.topology.sizing import FabricShape, SizingInput, size_fabric

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.artifact import Artifact
    from aictl.topology.model import Topology

__all__ = [
    "FabricShape",
    "SizingInput",
    "build_topology",
    "size_fabric",
    "sizing_input",
    "write_plan",
]


def write_plan(
    topo: Topology, out_dir: Path, *, picture: bool = True, picture_level: str | None = None
) -> list[Artifact]:
    """Render every export in memory, then write them all (nothing is half-written on error).

    Returns:
        The artifacts written, paths relative to `out_dir`.
    """
    from aictl.artifact import Artifact
    from aictl.topology.exports import render_exports, write_artifacts
    from aictl.topology.snapshot import resolved_json

    arts = [
        Artifact("spec.resolved.json", resolved_json(topo).encode()),
        *render_exports(topo, picture=picture, picture_level=picture_level),
    ]
    write_artifacts(out_dir, arts)
    return arts
