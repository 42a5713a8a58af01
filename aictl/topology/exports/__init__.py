"""Stage 2 exports: every file `aictl topo plan` writes, and the one entry that writes them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aictl.artifact import Artifact

__all__ = ["Artifact", "render_exports", "write_artifacts"]

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.topology.model import Topology


def render_exports(
    topo: Topology, *, picture: bool = True, picture_level: str | None = None
) -> list[Artifact]:
    """Every export of the plan, in memory (nothing is written here).

    Args:
        topo: the plan.
        picture: include the SVG picture.
        picture_level: su, rail or full; by default the most detailed level that stays readable.

    Returns:
        Artifacts with paths relative to `build/<cluster>/`.
    """
    from aictl.topology.exports import (
        cabling,
        graphml,
        ibnet,
        labels,
        plan_json,
        schedulers,
        slurm,
        svg,
    )

    out = [
        Artifact("topology.json", plan_json.render(topo).encode()),
        Artifact("exports/cabling.csv", cabling.render_cabling(topo).encode()),
        Artifact("exports/bom.csv", cabling.render_bom(topo).encode()),
        Artifact("exports/topology.graphml", graphml.render(topo).encode()),
        Artifact("exports/slurm-topology.conf", slurm.render(topo).encode()),
        Artifact("exports/slurm-topology-block.conf", slurm.render_block(topo).encode()),
        Artifact("exports/slurm-topology.yaml", slurm.render_yaml(topo).encode()),
        Artifact("exports/volcano-hypernodes.yaml", schedulers.render_hypernodes(topo).encode()),
        Artifact("exports/kueue-topology.yaml", schedulers.render_kueue(topo).encode()),
        Artifact("exports/kai-topology.yaml", schedulers.render_kai(topo).encode()),
        Artifact("exports/node-labels.yaml", labels.render(topo).encode()),
    ]
    if topo.ib_fabric is not None:
        for name, text in ibnet.render_all(topo).items():
            out.append(Artifact(f"exports/{name}", text.encode()))
    if picture:
        level = picture_level or svg.default_level(topo)
        out.append(Artifact("exports/topology.svg", svg.render(topo, level=level).encode()))
    return sorted(out, key=lambda a: a.path)


def write_artifacts(root: Path, artifacts: list[Artifact]) -> None:
    """Write artifacts under `root` as one transaction (aictl/fsio.py): all or nothing on an
    I/O error; `topology.json`, the plan later stages read, lands last."""
    from aictl import fsio
    from aictl.errors import ExitCode

    last = sorted(artifacts, key=lambda a: a.path == "topology.json")
    with fsio.publish(root, stage=ExitCode.TOPOLOGY, marker="plan") as pub:
        for art in last:
            pub.write(art.path, art.data)
