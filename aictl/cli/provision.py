"""`aictl provision`: render, then run the playbooks against the nodes with ansible-runner."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    TargetOpt,
    UserOpt,
    build_dir,
    load,
    plan,
)

if TYPE_CHECKING:
    from aictl.events import Progress


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
            help="Plays to run: preflight, network, mofed, gpu, rocm, ascend, k8s_network, "
            "accept_prereqs, health.",
        ),
    ] = None,
    forks: Annotated[int, typer.Option("--forks", min=1, help="Hosts at a time.")] = 32,
    extra: Annotated[
        list[str] | None,
        typer.Option("--extra-var", "-e", help="key=value, e.g. mofed_bundle=/srv/ofed.tgz"),
    ] = None,
    target: TargetOpt = None,
    user: UserOpt = None,
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Render the configs and provision the nodes (playbooks/site.yml) over SSH.

    The target (--target) says how to reach the nodes and may add variables for its machines
    (the lab's validates netplan instead of applying it); -e wins over both.
    Exit 6 names the hosts that failed or were unreachable; the others finish.

    Example: aictl provision --preset lab-small --target lab --check --diff
    """

    def body() -> None:
        from aictl import ui
        from aictl.errors import ProvisionError
        from aictl.provision import ProvisionOptions, provision
        from aictl.render import render_all, write_rendered
        from aictl.target import load_target, with_overrides

        topo = plan(load(spec, preset))
        build = build_dir(topo, out)
        desc = with_overrides(
            load_target(build, topo.name, target), user=user, key=key, known_hosts=known_hosts
        )
        write_rendered(topo, render_all(topo), build)
        extravars: dict[str, Any] = {"aictl_artifacts": str((build / "artifacts").resolve())}
        extravars.update(desc.extravars)
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
            user=desc.user,
            key=desc.key,
            known_hosts=desc.known_hosts or Path.home() / ".ssh" / "known_hosts",
        )
        show = output is Output.table
        result = provision(
            build / "artifacts" / "inventory", build, opts, progress=_printer if show else None
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


def _printer(event: Progress) -> None:
    """Progress lines: each play and task as it starts, each host's outcome worth a line."""
    from aictl import ui
    from aictl.status import Status

    if event.event == "play":
        ui.say(f"[bold]PLAY {event.item}[/bold]")
    elif event.event == "task":
        ui.say(f"  task {event.item}")
    elif event.event == "host":
        words = {
            Status.OK: "ok",
            Status.FAIL: "FAILED",
            Status.ERROR: "UNREACHABLE",
            Status.SKIP: "skipped",
        }
        status = event.value or words.get(event.status or Status.OK, "ok")
        if status != "ok" or event.message:
            ui.say(f"    {event.item}: {status} {event.message}", markup=False)
