"""`aictl exec`: one command on many nodes over SSH, identical outputs grouped."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aictl.cli._handle import run
from aictl.cli._options import (
    ForksOpt,
    JumpOpt,
    KeyOpt,
    KnownHostsOpt,
    LimitOpt,
    OutDirOpt,
    Output,
    OutputOpt,
    PresetOpt,
    TimeoutOpt,
    UserOpt,
    load,
    plan,
)

if TYPE_CHECKING:
    from aictl.remote import SshOptions, Target
    from aictl.topology.model import Topology


def select(topo: Topology, limit: str | None) -> list[Target]:
    """Nodes matching `--limit`: comma list of host globs, SU (su01) or rack names."""
    from fnmatch import fnmatch

    from aictl.errors import UsageError
    from aictl.remote import Target

    su_w = max(2, len(str(topo.shape.sus)))
    nodes = topo.nodes
    if limit:
        pats = [p.strip() for p in limit.split(",") if p.strip()]
        nodes = tuple(
            n
            for n in nodes
            if any(fnmatch(n.name, p) or p == f"su{n.su:0{su_w}d}" or p == n.rack for p in pats)
        )
        if not nodes:
            raise UsageError(
                f"--limit {limit!r} matches no node",
                hint="host globs (gpu0*), SUs (su01) or racks, comma separated",
            )
    return [Target(n.name, n.mgmt_ip) for n in nodes]


def fleet(
    spec: Path | None, preset: str | None, limit: str | None, out: Path | None
) -> tuple[Topology, list[Target], Path]:
    """The plan (the lab's by default), the nodes `--limit` selects, the build directory."""
    topo = plan(load(spec, preset or (None if spec else "lab-small")))
    return topo, select(topo, limit), out or Path("build") / topo.name


def ssh_defaults(build: Path) -> tuple[Path | None, Path]:
    """The lab's key and known_hosts when a lab of this cluster is up, else ~/.ssh."""
    lab = build / "lab"
    if (lab / "id_ed25519").exists():
        return lab / "id_ed25519", lab / "known_hosts"
    return None, Path.home() / ".ssh" / "known_hosts"


def ssh_options(
    build: Path,
    *,
    user: str,
    key: Path | None,
    known_hosts: Path | None,
    accept_new: bool = False,
    jump: str | None = None,
    timeout: float = 60.0,
    forks: int = 64,
) -> SshOptions:
    """SshOptions from the shared CLI options, the lab's key and known_hosts by default.

    Raises:
        UsageError: a --jump that is not host[:port], a --key that is not a file.
    """
    from aictl.errors import UsageError
    from aictl.remote import SshOptions

    dkey, dknown = ssh_defaults(build)
    jump_target = parse_jump(jump) if jump else None
    if key is not None and not key.is_file():
        raise UsageError(f"--key {key}: no such file", hint="the private key to log in with")
    return SshOptions(
        user=user,
        key=key or dkey,
        known_hosts=known_hosts or dknown,
        accept_new=accept_new,
        jump=jump_target,
        command_timeout=timeout,
        connect_timeout=min(timeout, 10.0),
        forks=forks,
    )


def parse_jump(text: str) -> Target:
    """`host`, `host:port` or `[v6-address]:port` as a Target (UsageError otherwise)."""
    import re

    from aictl.errors import UsageError
    from aictl.remote import Target

    m = re.fullmatch(
        r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|([A-Za-z0-9_.][A-Za-z0-9_.-]*)(?::(\d{1,5}))?", text
    )
    port = int((m.group(2) or m.group(4) or "22") if m else 0)
    if m is None or not 1 <= port <= 65535:
        raise UsageError(
            f"--jump {text!r} is not host[:port]",
            hint="a host name or address and an optional port 1-65535, e.g. --jump bastion:2222",
        )
    host = m.group(1) or m.group(3)
    return Target(host, host, port)


def exec_cmd(
    command: Annotated[str, typer.Argument(help="Command to run on every node.")],
    spec: Annotated[Path | None, typer.Option("--spec", "-s", help="Cluster spec file.")] = None,
    preset: PresetOpt = None,
    limit: LimitOpt = None,
    user: UserOpt = "root",
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    accept_new: Annotated[
        bool,
        typer.Option(
            "--accept-new",
            help="Accept and record keys of "
            "hosts known_hosts has no entry for (never a "
            "changed key).",
        ),
    ] = False,
    jump: JumpOpt = None,
    forks: ForksOpt = 64,
    timeout: TimeoutOpt = 60.0,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Run COMMAND on the cluster's nodes; identical outputs are shown once with their hosts.

    Exit 7 when any host failed or could not be reached (after printing every result).

    Example: aictl exec --preset lab-small 'nvidia-smi -L | wc -l' --limit su01
    """

    def body() -> None:
        from aictl import ui
        from aictl.errors import RemoteError
        from aictl.remote import group_results, run_all

        _topo, targets, build = fleet(spec, preset, limit, out)
        opts = ssh_options(
            build,
            user=user,
            key=key,
            known_hosts=known_hosts,
            accept_new=accept_new,
            jump=jump,
            timeout=timeout,
            forks=forks,
        )
        results = run_all(targets, command, opts)
        failed = [r for r in results if not r.ok]
        if output is Output.json:
            data: dict[str, Any] = {
                "command": command,
                "hosts": len(results),
                "ok": len(results) - len(failed),
                "failed": [r.host for r in failed],
                "results": [r.as_dict() for r in results],
                "groups": [
                    {
                        "hosts": g.hosts,
                        "count": g.count,
                        "rc": g.rc,
                        "output": g.output,
                        "error": g.error,
                        "kind": str(g.kind),
                    }
                    for g in group_results(results)
                ],
            }
            ui.print_json(data)
        else:
            for g in group_results(results):
                status = g.error or (f"rc={g.rc}" if g.rc else "ok")
                ui.say(f"[bold]{g.hosts}[/bold] ({g.count}) {status}")
                if g.output:
                    ui.out().print(g.output.rstrip("\n"), markup=False, highlight=False)
            ui.say(f"{len(results) - len(failed)}/{len(results)} ok")
        if failed:
            raise RemoteError(
                f"{len(failed)} host(s) failed: {', '.join(r.host for r in failed)}",
                hint="see the results above; unreachable hosts are listed too",
            )

    run(body)
