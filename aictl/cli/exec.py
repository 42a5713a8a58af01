"""`aictl exec`: one command on many nodes over SSH, identical outputs grouped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    TargetOpt,
    TimeoutOpt,
    UserOpt,
    fleet,
)


def _spec_and_command(
    words: list[str], spec_opt: Path | None, preset: str | None
) -> tuple[Path | None, str]:
    """`[SPEC] COMMAND`; the old `COMMAND --spec FILE` still works (with a note)."""
    from aictl import ui
    from aictl.errors import UsageError

    if spec_opt is not None:
        ui.err().print(
            "note: --spec is deprecated; give the spec first: aictl exec SPEC COMMAND",
            markup=False,
        )
    if len(words) == 2:
        if spec_opt is not None:
            raise UsageError("give the spec once (positional SPEC or --spec)")
        return Path(words[0]), words[1]
    if len(words) == 1:
        return spec_opt, words[0]
    raise UsageError("expected [SPEC] COMMAND", hint="e.g. aictl exec cluster.yaml 'nvidia-smi -L'")


def exec_cmd(
    words: Annotated[
        list[str],
        typer.Argument(metavar="[SPEC] COMMAND", help="Cluster spec file, then the command."),
    ],
    spec_opt: Annotated[
        Path | None,
        typer.Option("--spec", "-s", help="Deprecated: give SPEC before COMMAND.", hidden=True),
    ] = None,
    preset: PresetOpt = None,
    target: TargetOpt = None,
    limit: LimitOpt = None,
    user: UserOpt = None,
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

    Example: aictl exec --preset lab-small --target lab 'nvidia-smi -L | wc -l' --limit su01
    """

    def body() -> None:
        from aictl import ui
        from aictl.errors import RemoteError
        from aictl.remote import group_results

        spec, command = _spec_and_command(words, spec_opt, preset)
        f = fleet(
            spec,
            preset,
            out=out,
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
        results = f.executor().run_all(f.hosts, command)
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
