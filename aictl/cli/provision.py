"""`aictl provision`: render, then run the playbooks against the nodes with ansible-runner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aictl.cli._handle import run
from aictl.cli._options import (
    KeyOpt,
    KnownHostsOpt,
    OutDirOpt,
    Output,
    OutputOpt,
    PresetOpt,
    SpecArg,
    UserOpt,
    load,
    plan,
)


def provision_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    check: Annotated[
        bool, typer.Option("--check", help="Dry run: report, change nothing.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show file differences.")] = False,
    limit: Annotated[
        str | None, typer.Option("--limit", "-l", help="Ansible host pattern.")
    ] = None,
    tags: Annotated[
        str | None,
        typer.Option(
            "--tags",
            "-t",
            help="Plays to run: preflight, network, mofed, gpu, k8s_network, accept_prereqs.",
        ),
    ] = None,
    forks: Annotated[int, typer.Option("--forks", min=1, help="Hosts at a time.")] = 32,
    extra: Annotated[
        list[str] | None,
        typer.Option("--extra-var", "-e", help="key=value, e.g. mofed_bundle=/srv/ofed.tgz"),
    ] = None,
    user: UserOpt = "root",
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Render the configs and provision the nodes (playbooks/site.yml) over SSH.

    Exit 6 names the hosts that failed or were unreachable; the others finish.

    Example: aictl provision --preset lab-small --check --diff
    """

    def body() -> None:
        from aictl import ui
        from aictl.cli.exec import ssh_defaults
        from aictl.errors import ProvisionError
        from aictl.provision import ProvisionOptions, provision
        from aictl.render import render_all, write_rendered

        topo = plan(load(spec, preset))
        build = out or Path("build") / topo.name
        write_rendered(topo, render_all(topo), build)
        dkey, dknown = ssh_defaults(build)
        extravars: dict[str, Any] = {"aictl_artifacts": str((build / "artifacts").resolve())}
        if (build / "lab").is_dir():
            # the lab has no systemd: validate netplan on the node instead of applying it
            extravars.update(
                ansible_python_interpreter="/usr/bin/python3",
                network_apply_command="netplan generate",
                mofed_restart_command="true",
            )
        for item in extra or []:
            k, _, v = item.partition("=")
            extravars[k] = v
        opts = ProvisionOptions(
            check=check,
            diff=diff,
            limit=limit,
            tags=tags,
            forks=forks,
            extravars=extravars,
            user=user,
            key=key or dkey,
            known_hosts=known_hosts or dknown,
        )
        show = output is Output.table
        result = provision(
            build / "artifacts" / "inventory", build, opts, on_event=_printer() if show else None
        )
        data = {
            "status": result.status,
            "rc": result.rc,
            "hosts": result.hosts,
            "failed": result.failed_hosts,
            "unreachable": result.unreachable_hosts,
            "events": result.artifacts,
            "check": check,
        }
        if output is Output.json:
            ui.print_json(data)
        else:
            ui.table(
                "recap",
                ["host", "ok", "changed", "failed", "unreachable", "skipped", "rescued"],
                [
                    [h, c["ok"], c["changed"], c["failures"], c["dark"], c["skipped"], c["rescued"]]
                    for h, c in sorted(result.hosts.items())
                ],
                right=["ok", "changed", "failed", "unreachable", "skipped", "rescued"],
            )
            ui.say(f"events kept in {result.artifacts}")
        if not result.hosts and result.status != "successful":
            tail = (Path(result.artifacts) / "stdout").read_text(errors="replace").strip()
            raise ProvisionError(
                f"ansible-playbook did not run: {tail.splitlines()[0] if tail else result.status}",
                hint=f"full output in {result.artifacts}/stdout",
            )
        if result.failed_hosts or result.status != "successful":
            raise ProvisionError(
                f"provisioning failed on {', '.join(result.failed_hosts) or 'the run'}"
                f" (status {result.status})",
                hint="see the recap and the task output above; re-run with "
                "--limit to retry those hosts",
            )

    run(body)


def _printer() -> Any:
    """Progress lines: each play and task as it starts, each host's outcome."""
    from aictl import ui

    marks = {
        "runner_on_ok": "ok",
        "runner_on_failed": "FAILED",
        "runner_on_unreachable": "UNREACHABLE",
        "runner_on_skipped": "skipped",
    }

    def on_event(event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            ui.say(f"[bold]PLAY {data.get('play', '')}[/bold]")
        elif kind == "playbook_on_task_start":
            ui.say(f"  task {data.get('task', '')}")
        elif kind in marks:
            res = data.get("res") or {}
            status = "changed" if kind == "runner_on_ok" and res.get("changed") else marks[kind]
            msg = res.get("msg", "") if kind != "runner_on_ok" else ""
            if status != "ok" or msg:
                ui.say(f"    {data.get('host', '')}: {status} {str(msg)[:200]}")

    return on_event
