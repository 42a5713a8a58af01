"""`aictl topo verify`: the discovered fabric (and Ethernet cabling) against the plan."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 (typer reads the annotation at run time)
from typing import TYPE_CHECKING, Annotated

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
    from aictl.topology.model import Topology


def _read(path: Path, what: str) -> str:
    from aictl.errors import UsageError

    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def verify_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    discovered: Annotated[
        Path | None, typer.Option("--discovered", help="ibnetdiscover output file.")
    ] = None,
    live: Annotated[
        str | None,
        typer.Option("--live", help="Run ibnetdiscover and dump_fts over SSH on this host."),
    ] = None,
    lfts: Annotated[
        Path | None, typer.Option("--lfts", help="dump_fts/dump_lfts output (routing checks).")
    ] = None,
    opensm_log: Annotated[
        Path | None,
        typer.Option("--opensm-log", help="opensm log (default: the target's, if it names one)."),
    ] = None,
    node_name_map: Annotated[
        Path | None,
        typer.Option("--node-name-map", help="GUID -> name map (opensm format)."),
    ] = None,
    lldp: Annotated[
        bool, typer.Option("--lldp", help="With --live: lldpctl -f json on every node.")
    ] = False,
    lldp_dir: Annotated[
        Path | None, typer.Option("--lldp-dir", help="Directory of <host>.json lldpctl outputs.")
    ] = None,
    plane: Annotated[int, typer.Option("--plane", min=1, help="Fabric plane (1-based).")] = 1,
    counters: Annotated[
        bool,
        typer.Option(
            "--counters", help="With --live: every port's error counters (ibqueryerrors)."
        ),
    ] = False,
    bgp_dir: Annotated[
        Path | None,
        typer.Option(
            "--bgp-dir",
            help="RoCE: <switch>.summary.json / .routes.json saved from vtysh (BGP underlay).",
        ),
    ] = None,
    window: Annotated[
        float,
        typer.Option(
            "--window",
            min=0,
            help="With --counters: read, wait SECONDS, read again, judge the rise.",
        ),
    ] = 0,
    target: TargetOpt = None,
    user: UserOpt = None,
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Compare the discovered fabric with the plan: cables, rates, routing, LLDP.

    Reports every missing, extra or miswired cable (with the fix: which port to move the cable
    to), swapped pairs, unknown or missing devices, slow links; with forwarding tables, that
    same-leaf traffic stays on the leaf and cross-SU traffic spreads evenly over the spines;
    with the opensm log, the routing engine used; with --counters, every port's error
    counters (since cleared, or their rise over --window SECONDS), each bad port on its planned
    cable with the fix, link flaps on their own. Exit 4 on any difference, 0 when the fabric
    is exactly the plan. Writes build/<cluster>/verify.json.

    Example: aictl topo verify --preset lab-small --target lab --live node01 --lldp
    """

    def body() -> None:
        from aictl import ui
        from aictl.errors import UsageError, VerifyError
        from aictl.fabric import verify as verifymod
        from aictl.facts.ibnet import parse_node_name_map
        from aictl.target import host, hosts, load_target, ssh_options, with_overrides

        topo = plan(load(spec, preset))
        if bgp_dir is not None and discovered is None and live is None:
            _bgp_only(topo, bgp_dir, build_dir(topo, out), output)
            return
        if (discovered is None) == (live is None):
            raise UsageError(
                "give --discovered FILE or --live HOST (one of them)",
                hint="e.g. aictl topo verify --preset lab-small --target lab --live node01",
            )
        build = build_dir(topo, out)
        desc = with_overrides(
            load_target(build, topo.name, target), user=user, key=key, known_hosts=known_hosts
        )
        executor = None
        if live or lldp:
            from aictl.remote.executor import SshExecutor

            executor = SshExecutor(ssh_options(desc))
        if counters and live is None:
            raise UsageError("--counters reads the fabric live: give --live HOST too")
        lft_text = _read(lfts, "LFT dump") if lfts else None
        if live is not None:
            assert executor is not None
            ibnet_text, live_lfts = verifymod.live(host(desc, topo, live), executor)
            lft_text = lft_text or live_lfts or None
        else:
            assert discovered is not None
            ibnet_text = _read(discovered, "ibnetdiscover output")
        # the target's log is read when it is there (a subnet manager host may be remote)
        log = None
        if opensm_log is not None:
            log = _read(opensm_log, "opensm log")
        elif desc.sm_log is not None and desc.sm_log.exists():
            log = _read(desc.sm_log, "opensm log")
        names = parse_node_name_map(_read(node_name_map, "node-name map")) if node_name_map else {}
        seen = None
        if lldp_dir is not None:
            seen = verifymod.lldp_files(topo, lldp_dir)
        elif lldp:
            if executor is None or live is None:
                raise UsageError("--lldp reads every node live: give --live HOST too")
            seen = verifymod.lldp_live(hosts(desc, list(topo.nodes)), executor)
        counter_part = None
        if counters:
            from aictl.fabric import counters as countersmod

            assert executor is not None and live is not None
            where = host(desc, topo, live)
            if output is not Output.json and window:
                ui.say(f"port counters: baseline read, next read in {window:g} s")
            first, second = countersmod.gather(where, executor, window)
            counter_part = countersmod.check_counters(
                topo, first, second, window_s=window, names=names, plane=plane - 1
            )
        report = verifymod.verify(
            topo,
            ibnet_text,
            lft_text=lft_text,
            opensm_log=log,
            names=names,
            lldp=seen,
            plane=plane - 1,
            source=str(discovered or live),
            counters=counter_part,
        )
        if bgp_dir is not None:
            from dataclasses import replace

            from aictl.fabric import bgp as bgpmod

            report = replace(report, bgp=bgpmod.check_bgp(topo, *bgpmod.read_dir(bgp_dir)))
        report.save(build)
        data = report.as_json()
        findings = report.findings
        if output is Output.json:
            ui.print_json(data)
        else:
            c = report.cabling
            ui.say(
                f"[bold]{topo.name}[/bold] plane {c['plane']}: {c['discovered_links']}/"
                f"{c['planned_cables']} cables, {c['discovered_devices']}/"
                f"{c['planned_devices']} devices"
                + (" (simulated fabric)" if report.simulated else "")
            )
            if report.routing is not None:
                r = report.routing
                ui.say(
                    f"routing: engine {r['engine'] or 'unknown (no opensm log)'}, "
                    f"{r['shift_pairs']} cross-SU pairs, leaf uplink flows max "
                    f"{r['uplink_flows_max']} / mean {r['uplink_flows_mean']}"
                )
            if report.lldp is not None:
                ui.say(f"lldp: {report.lldp['members_checked']} bond members checked")
                if report.lldp.get("not_checked"):
                    ui.say("lldp: not read from " + ", ".join(report.lldp["not_checked"]))
            if report.counters is not None:
                k = report.counters
                ui.say(
                    f"port counters: {k['ports_checked']} ports checked, "
                    f"{len(k['findings'])} over a threshold"
                    + (f" in {k['window_s']:g} s" if k["window_s"] else "")
                )
            for f in findings:
                warn = " (warning)" if f.get("severity") == "warning" else ""
                ui.say(f"[bold]{f['kind']}[/bold]{warn} {f['where']}: {f['message']}")
                ui.say(f"  fix: {f['fix']}")
            if not findings:
                ui.say("the fabric is exactly the plan")
        if report.errors:
            raise VerifyError(
                f"{len(report.errors)} difference(s) from the plan",
                hint=f"fix them in the order listed (details in {build / 'verify.json'})",
            )

    run(body)


def _bgp_only(topo: Topology, folder: Path, build: Path, output: Output) -> None:
    """A RoCE fabric: no InfiniBand to discover; the switches' BGP underlay alone."""
    from aictl import ui
    from aictl.errors import UsageError, VerifyError
    from aictl.fabric import bgp as bgpmod
    from aictl.fabric.verify import VerifyReport

    if not folder.is_dir():
        raise UsageError(f"{folder}: not a directory", hint="--bgp-dir DIR of saved vtysh JSON")
    part = bgpmod.check_bgp(topo, *bgpmod.read_dir(folder))
    if not part["switches"]:
        raise UsageError(
            f"{folder}: no <switch>.summary.json of a planned switch",
            hint="vtysh -c 'show bgp summary json' > DIR/leaf-su01-r0.summary.json, per switch",
        )
    cabling = {"plane": 1, "findings": [], "planned_cables": 0, "discovered_links": 0}
    cabling |= {"planned_devices": 0, "discovered_devices": 0, "skipped": "no InfiniBand"}
    report = VerifyReport(topo.name, topo.spec_sha256, cabling, None, None, False, bgp=part)
    report.save(build)
    if output is Output.json:
        ui.print_json(report.as_json())
    else:
        ui.say(
            f"[bold]{topo.name}[/bold] BGP: {len(part['switches'])} switches, "
            f"{part['sessions_established']}/{part['sessions_planned']} sessions established, "
            f"{part['routes_expected']} loopback routes expected"
        )
        for f in part["findings"]:
            ui.say(f"[bold]{f['kind']}[/bold] {f['where']}: {f['message']}")
            ui.say(f"  fix: {f['fix']}")
    if report.errors:
        raise VerifyError(
            f"{len(report.errors)} difference(s) from the plan",
            hint=f"fix them in the order listed (details in {build / 'verify.json'})",
        )
