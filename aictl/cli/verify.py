"""`aictl topo verify`: the discovered fabric (and Ethernet cabling) against the plan."""

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
    UserOpt,
    load,
    plan,
)

if TYPE_CHECKING:
    from aictl.remote import SshOptions
    from aictl.topology.model import Topology

_LIVE = "echo '@@aictl ibnet'; ibnetdiscover 2>/dev/null; echo '@@aictl lfts'; dump_fts 2>/dev/null"


def _read(path: Path, what: str) -> str:
    from aictl.errors import UsageError

    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def _live(topo: Topology, host: str, opts: SshOptions) -> tuple[str, str]:
    from aictl.errors import RemoteError
    from aictl.remote import Target, run_one

    address = next((n.mgmt_ip for n in topo.nodes if n.name == host), host)
    res = run_one(Target(host, address), _LIVE, opts)
    if res.rc is None:
        raise RemoteError(f"{host}: {res.error}", hint="--live needs SSH to a host on the fabric")
    ibnet, _, lfts = res.stdout.partition("@@aictl lfts")
    return ibnet.replace("@@aictl ibnet", "", 1), lfts


def _lab_opensm_log(cluster: str) -> str | None:
    """The lab's opensm log when a lab of this cluster is up (it runs beside the head node)."""
    from aictl.lab import RUN_ROOT, labs_up

    if cluster not in labs_up():
        return None
    log = RUN_ROOT / cluster / "fabric" / "opensm.log"
    return log.read_text(errors="replace") if log.exists() else None


def _flagged(findings: list[dict[str, Any]]) -> frozenset[str]:
    """HCA endpoints that cabling findings name (routing leaves them out)."""
    out = {f["where"] for f in findings}
    for f in findings:
        detail = f.get("detail") or {}
        out |= {c[0] for c in detail.get("cables", [])}
        if "fixed" in detail:
            out.add(detail["fixed"][0])
    return frozenset(out)


def _lldp(topo: Topology, lldp_dir: Path | None, opts: SshOptions | None) -> dict[str, Any]:
    from aictl.fabric.lldp import check_lldp, parse_lldpctl

    seen: dict[str, dict[str, tuple[str, str]]] = {}
    if lldp_dir is not None:
        for n in topo.nodes:
            f = lldp_dir / f"{n.name}.json"
            if f.exists():
                seen[n.name] = parse_lldpctl(_read(f, "lldpctl JSON"))
    elif opts is not None:
        from aictl.remote import Target, run_all

        targets = [Target(n.name, n.mgmt_ip) for n in topo.nodes]
        for r in run_all(targets, "lldpctl -f json", opts):
            if r.ok:
                seen[r.host] = parse_lldpctl(r.stdout)
    return check_lldp(topo, seen)


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
        typer.Option("--opensm-log", help="opensm log (default: the lab's when it is up)."),
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
    user: UserOpt = "root",
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Compare the discovered fabric with the plan: cables, rates, routing, LLDP.

    Reports every missing, extra or miswired cable (with the fix: which port to move the cable
    to), swapped pairs, unknown or missing devices, slow links; with forwarding tables, that
    same-leaf traffic stays on the leaf and cross-SU traffic spreads evenly over the spines;
    with the opensm log, the routing engine used. Exit 4 on any difference, 0 when the fabric
    is exactly the plan. Writes build/<cluster>/verify.json.

    Example: aictl topo verify --preset lab-small --live node01 --lldp
    """

    def body() -> None:
        from aictl import fsio, jsonio, ui
        from aictl.cli.exec import ssh_options
        from aictl.errors import ExitCode, UsageError, VerifyError
        from aictl.fabric.diff import compare, parse_node_name_map
        from aictl.fabric.ibnet import parse_ibnetdiscover
        from aictl.fabric.routing import check_routing, parse_lfts

        topo = plan(load(spec, preset))
        if (discovered is None) == (live is None):
            raise UsageError(
                "give --discovered FILE or --live HOST (one of them)",
                hint="e.g. aictl topo verify --preset lab-small --live node01",
            )
        build = out or Path("build") / topo.name
        opts = ssh_options(build, user=user, key=key, known_hosts=known_hosts) if live else None
        lft_text = _read(lfts, "LFT dump") if lfts else None
        if live is not None:
            assert opts is not None
            ibnet_text, live_lfts = _live(topo, live, opts)
            lft_text = lft_text or live_lfts or None
        else:
            assert discovered is not None
            ibnet_text = _read(discovered, "ibnetdiscover output")
        fab = parse_ibnetdiscover(ibnet_text)
        if not fab.nodes:
            raise UsageError(
                f"{discovered or live}: no ibnetdiscover records found",
                hint="run `ibnetdiscover > file` on a host of the fabric (default output format)",
            )
        names = parse_node_name_map(_read(node_name_map, "node-name map")) if node_name_map else {}
        cabling = compare(topo, fab, names=names, plane=plane - 1)
        data: dict[str, Any] = {"cluster": topo.name, "cabling": cabling}
        log = _read(opensm_log, "opensm log") if opensm_log else _lab_opensm_log(topo.name)
        if lft_text:
            skip = _flagged(cabling["findings"])
            data["routing"] = check_routing(
                topo, fab, parse_lfts(lft_text), opensm_log=log, names=names, skip=skip
            )
        if lldp or lldp_dir:
            data["lldp"] = _lldp(topo, lldp_dir, opts)
        findings = [
            f
            for part in ("cabling", "routing", "lldp")
            for f in data.get(part, {}).get("findings", [])
        ]
        data["findings"] = len(findings)
        data["ok"] = not findings
        data["simulated"] = fab.simulated
        fsio.write_file(build, "verify.json", jsonio.dumps(data).encode(), stage=ExitCode.TOPOLOGY)
        if output is Output.json:
            ui.print_json(data)
        else:
            c = cabling
            ui.say(
                f"[bold]{topo.name}[/bold] plane {c['plane']}: {c['discovered_links']}/"
                f"{c['planned_cables']} cables, {c['discovered_devices']}/"
                f"{c['planned_devices']} devices" + (" (simulated fabric)" if fab.simulated else "")
            )
            if "routing" in data:
                r = data["routing"]
                ui.say(
                    f"routing: engine {r['engine'] or 'unknown (no opensm log)'}, "
                    f"{r['shift_pairs']} cross-SU pairs, leaf uplink flows max "
                    f"{r['uplink_flows_max']} / mean {r['uplink_flows_mean']}"
                )
            if "lldp" in data:
                ui.say(f"lldp: {data['lldp']['members_checked']} bond members checked")
            if data.get("lldp", {}).get("not_checked"):
                ui.say("lldp: not read from " + ", ".join(data["lldp"]["not_checked"]))
            for f in findings:
                ui.say(f"[bold]{f['kind']}[/bold] {f['where']}: {f['message']}")
                ui.say(f"  fix: {f['fix']}")
            if not findings:
                ui.say("the fabric is exactly the plan")
        if findings:
            raise VerifyError(
                f"{len(findings)} difference(s) from the plan",
                hint=f"fix them in the order listed (details in {build / 'verify.json'})",
            )

    run(body)
