"""Options shared by several commands, spelled the same everywhere."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aictl.sched.model import Scheduler

if TYPE_CHECKING:
    from aictl.errors import AictlError
    from aictl.spec.loader import LoadedSpec
    from aictl.target import Fleet
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
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-T",
        envvar="AICTL_TARGET",
        help="How to reach the nodes: a target name under build/<cluster>/targets/ (the lab "
        "writes 'lab') or a target file. Default: a real cluster's (root, ~/.ssh, the "
        "planned addresses).",
    ),
]
UserOpt = Annotated[str | None, typer.Option("--user", help="SSH user (default: the target's).")]
KeyOpt = Annotated[
    Path | None, typer.Option("--key", help="Private key (default: the target's, else ~/.ssh).")
]
LimitOpt = Annotated[
    str | None, typer.Option("--limit", "-l", help="Host globs, SUs or racks, comma separated.")
]
JumpOpt = Annotated[
    str | None, typer.Option("--jump", help="Jump host, host[:port] (default: the target's).")
]
ForksOpt = Annotated[int, typer.Option("--forks", min=1, max=1024, help="Nodes at a time.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1, help="Seconds per node.")]
KnownHostsOpt = Annotated[
    Path | None,
    typer.Option("--known-hosts", help="known_hosts file (default: the target's, else ~/.ssh)."),
]


# the commands that act on the scheduler (drain, undrain, check/accept --drain)
SchedulerOpt = Annotated[
    Scheduler,
    typer.Option("--scheduler", help="Where nodes are drained: slurm (scontrol) or k8s (kubectl)."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Drain past the circuit breaker's limit.")]
MaxDrainOpt = Annotated[
    int,
    typer.Option("--max-drain", min=1, help="Circuit breaker: most nodes aictl holds drained."),
]
MaxShareOpt = Annotated[
    float,
    typer.Option(
        "--max-drain-share", min=0.0, max=1.0, help="Circuit breaker: most share of the fleet."
    ),
]
SlurmConfOpt = Annotated[
    Path | None,
    typer.Option("--slurm-conf", envvar="SLURM_CONF", help="slurm.conf for scontrol and sinfo."),
]
KubeconfigOpt = Annotated[
    Path | None,
    typer.Option("--kubeconfig", envvar="KUBECONFIG", help="kubeconfig for kubectl."),
]


def load(spec: Path | None, preset: str | None) -> LoadedSpec:
    """Load SPEC or --preset (exactly one; none is a usage error, never a default cluster)."""
    from aictl.errors import UsageError
    from aictl.spec.loader import load_preset, load_spec

    if (spec is None) == (preset is None):
        raise UsageError(
            "give a spec file or --preset (one of them)"
            if spec is None
            else "give a spec file or --preset, not both",
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


def build_dir(topo: Topology, out: Path | None) -> Path:
    """--out, else build/<cluster>."""
    return out or Path("build") / topo.name


def fleet(
    spec: Path | None,
    preset: str | None,
    *,
    out: Path | None,
    target: str | None,
    limit: str | None = None,
    user: str | None = None,
    key: Path | None = None,
    known_hosts: Path | None = None,
    jump: str | None = None,
    accept_new: bool = False,
    timeout: float = 60.0,
    forks: int = 64,
) -> Fleet:
    """The cluster (SPEC or --preset, required), the nodes --limit picks and how to reach them."""
    from aictl.target import open_fleet

    topo = plan(load(spec, preset))
    return open_fleet(
        topo,
        build=build_dir(topo, out),
        target=target,
        limit=limit,
        user=user,
        key=key,
        known_hosts=known_hosts,
        jump=jump,
        accept_new=accept_new,
        timeout=timeout,
        forks=forks,
    )
