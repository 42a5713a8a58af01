"""Options shared by several commands, spelled the same everywhere."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from aictl.errors import AictlError
    from aictl.spec.loader import LoadedSpec
    from aictl.topology.model import Topology


class Output(StrEnum):
    """Human table or machine JSON."""

    table = "table"
    json = "json"


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table or json.")]
PresetOpt = Annotated[
    str | None,
    typer.Option("--preset", "-p", help="Use an embedded preset (see `aictl spec presets`)."),
]
SpecArg = Annotated[Path | None, typer.Argument(help="Cluster spec YAML file.", show_default=False)]
OutDirOpt = Annotated[
    Path | None, typer.Option("--out", help="Build directory (default: build/<cluster>).")
]
UserOpt = Annotated[str, typer.Option("--user", help="SSH user.")]
KeyOpt = Annotated[
    Path | None, typer.Option("--key", help="Private key (default: the lab's, else ~/.ssh).")
]
LimitOpt = Annotated[
    str | None, typer.Option("--limit", "-l", help="Host globs, SUs or racks, comma separated.")
]
JumpOpt = Annotated[str | None, typer.Option("--jump", help="Jump host, host[:port].")]
ForksOpt = Annotated[int, typer.Option("--forks", min=1, max=1024, help="Nodes at a time.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1, help="Seconds per node.")]
KnownHostsOpt = Annotated[
    Path | None,
    typer.Option("--known-hosts", help="known_hosts file (default: the lab's, else ~/.ssh)."),
]


def load(spec: Path | None, preset: str | None) -> LoadedSpec:
    """Load SPEC or --preset (exactly one)."""
    from aictl.errors import UsageError
    from aictl.spec.loader import load_preset, load_spec

    if (spec is None) == (preset is None):
        raise UsageError(
            "give a spec file or --preset (one of them)",
            hint="e.g. aictl topo plan --preset a800-200",
        )
    if preset is not None:
        return load_preset(preset)
    assert spec is not None
    return load_spec(spec)


def locate(exc: AictlError, loaded: LoadedSpec) -> None:
    """Point an error about a spec field (exc.field) at the spec's file and line."""
    from aictl.errors import Problem
    from aictl.spec.loader import line_of

    if exc.field and not exc.problems:
        path = tuple(exc.field.split("."))
        exc.problems = [
            Problem(
                exc.message,
                field=exc.field,
                file=loaded.source,
                line=line_of(loaded.lines, path),
                hint=exc.hint,
            )
        ]
        exc.hint = ""


def plan(loaded: LoadedSpec) -> Topology:
    """Build the topology; a TopologyError gets the spec's file:line for its field."""
    from aictl.errors import TopologyError
    from aictl.topology import build_topology

    try:
        return build_topology(loaded.spec, spec_sha256=loaded.sha256)
    except TopologyError as exc:
        locate(exc, loaded)
        raise
