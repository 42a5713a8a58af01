"""`aictl topo`: size, plan, draw."""

from __future__ import annotations

import shutil
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aictl.cli._handle import run
from aictl.cli._options import OutDirOpt, Output, OutputOpt, PresetOpt, SpecArg, load, plan
from aictl.cli.verify import verify_cmd

if TYPE_CHECKING:
    from aictl.topology.model import Topology

app = typer.Typer(
    no_args_is_help=True,
    help="The fabric: quick sizing, the port-level plan, pictures, verification.",
)
app.command("verify")(verify_cmd)


class Tiers(StrEnum):
    auto = "auto"
    two = "2"
    three = "3"


class Level(StrEnum):
    su = "su"
    rail = "rail"
    full = "full"


class PicFormat(StrEnum):
    svg = "svg"
    png = "png"


def _ratio(text: str) -> float:
    from aictl.errors import UsageError

    try:
        if ":" in text:
            a, b = text.split(":", 1)
            value = float(a) / float(b)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise UsageError(
            f"--oversubscription {text!r} is not a ratio", hint="e.g. 1:1, 2:1 or 3"
        ) from None
    if not 1 <= value <= 64:
        raise UsageError(f"--oversubscription {text!r} must be between 1:1 and 64:1")
    return value


@app.command("size")
def size(
    nodes: Annotated[int, typer.Option("--nodes", min=1, help="GPU nodes.")],
    nodes_per_su: Annotated[int, typer.Option("--nodes-per-su", min=1, help="Node slots per SU.")],
    rails: Annotated[int, typer.Option("--rails", min=1, help="Compute NICs per node.")],
    link_gbps: Annotated[int, typer.Option("--link-gbps", min=1, help="Link speed, Gb/s.")],
    switch_ports: Annotated[int, typer.Option("--switch-ports", min=4, help="Switch radix.")],
    reserved_slots: Annotated[int, typer.Option("--reserved-slots", min=0)] = 0,
    reserved_ports: Annotated[int, typer.Option("--reserved-ports", min=0)] = 0,
    planes: Annotated[int, typer.Option("--planes", min=1, max=8)] = 1,
    oversubscription: Annotated[
        str, typer.Option("--oversubscription", help="Leaf down:up, e.g. 1:1 or 3:1.")
    ] = "1:1",
    spine_oversubscription: Annotated[
        str, typer.Option("--spine-oversubscription", help="Spine down:up (three tiers).")
    ] = "1:1",
    tiers: Annotated[Tiers, typer.Option("--tiers")] = Tiers.auto,
    output: OutputOpt = Output.table,
) -> None:
    """Quick sizing with the same engine as `topo plan`.

    Example: aictl topo size --nodes 127 --nodes-per-su 32 --rails 8 --link-gbps 400
    --switch-ports 64 --reserved-slots 1 --reserved-ports 4 --output json
    """

    def body() -> None:
        from aictl import ui
        from aictl.topology.sizing import SizingInput, size_fabric

        shape = size_fabric(
            SizingInput(
                nodes=nodes,
                nodes_per_su=nodes_per_su,
                rails=rails,
                link_gbps=link_gbps,
                switch_ports=switch_ports,
                reserved_slots=reserved_slots,
                reserved_ports=reserved_ports,
                planes=planes,
                leaf_oversubscription=_ratio(oversubscription),
                spine_oversubscription=_ratio(spine_oversubscription),
                tiers=tiers.value,
            )
        )
        counts = shape.counts()
        if output is Output.json:
            ui.print_json(counts)
            return
        sw: dict[str, int] = counts["switches"]
        cb: dict[str, int] = counts["cables"]
        ui.say(
            f"{nodes} nodes x {rails} rails in {shape.sus} SUs: {shape.tiers} tiers, "
            f"{planes} plane(s)"
        )
        ui.table(
            "switches",
            ["leaf", "spine", "core", "total"],
            [[sw["leaf"], sw["spine"], sw["core"], sw["total"]]],
            right=["leaf", "spine", "core", "total"],
        )
        ui.table(
            "cables",
            ["node-leaf", "leaf-spine", "spine-core"],
            [[cb["node_leaf"], cb["leaf_spine"], cb["spine_core"]]],
            right=["node-leaf", "leaf-spine", "spine-core"],
        )

    run(body)


def _default_out(name: str) -> Path:
    return Path("build") / name


@app.command("plan")
def plan_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
    no_picture: Annotated[bool, typer.Option("--no-picture", help="Skip the SVG.")] = False,
    level: Annotated[
        Level | None,
        typer.Option("--level", help="Picture detail (default: the most that stays readable)."),
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Also write report/plan.html and plan.md.")
    ] = False,
) -> None:
    """Plan the fabric port by port and write every export into the build dir.

    Writes topology.json, spec.resolved.json and exports/ (cabling.csv, bom.csv, GraphML,
    SVG, ibsim net file and ftree GUID files, Slurm topology.conf, node labels); with
    --report, the plan report (summary, BOM, cabling excerpt, picture) as HTML and Markdown.

    Example: aictl topo plan --preset a800-200
    """

    def body() -> None:
        from aictl.topology import write_plan

        topo = plan(load(spec, preset))
        out_dir = out or _default_out(topo.name)
        arts = write_plan(
            topo, out_dir, picture=not no_picture, picture_level=level.value if level else None
        )
        files = [a.path for a in arts]
        if report:
            from aictl.report import write_reports

            done = write_reports(out_dir, ["html", "md"], out_dir / "report", plan_only=True)
            files += [str(Path(f).relative_to(out_dir)) for f in done["files"]]
        _report(topo, out_dir, files, output)

    run(body)


def _report(topo: Topology, out_dir: Path, files: list[str], output: Output) -> None:
    from aictl import ui
    from aictl.topology.analysis import failure_impact, path_classes, summary

    data: dict[str, Any] = summary(topo)
    data["out"] = str(out_dir)
    data["files"] = files
    if output is Output.json:
        data["path_classes"] = path_classes(topo)
        data["failure_impact"] = failure_impact(topo)
        ui.print_json(data)
        return
    if topo.several_fabrics:
        # one set of tables per compute fabric, side by side in the plan (own SUs, own tiers)
        names = ", ".join(f"{f.name} ({f.transport})" for f in topo.fabrics)
        ui.say(
            f"[bold]{topo.name}[/bold]: {data['nodes']} nodes, {data['gpus']} accelerators "
            f"on {len(topo.fabrics)} compute fabrics: {names}"
        )
        for f in topo.fabrics:
            view = topo.view(f.name)
            _fabric_report(view, summary(view), f"compute fabric {f.name}")
    else:
        _fabric_report(topo, data, "compute fabric")
    ui.say(f"wrote {len(files)} files to {out_dir}/: " + ", ".join(files))


def _fabric_report(topo: Topology, data: dict[str, Any], title: str) -> None:
    """One compute fabric's tables: tiers, cables, paths and single failures."""
    from aictl import ui
    from aictl.topology.analysis import failure_impact, path_classes

    sw, cb = data["switches"], data["cables"]
    many = title != "compute fabric"
    kinds: dict[str, int] = {}
    for n in topo.nodes:
        g = topo.profile(n).gpu
        kinds[g.info.accelerator] = kinds.get(g.info.accelerator, 0) + g.count
    accelerators = ", ".join(f"{v} {k}s" for k, v in sorted(kinds.items()))
    groups = f" ({', '.join(topo.groups())})" if many else ""
    ui.say(
        f"[bold]{title if many else topo.name}[/bold]{groups}: "
        f"{data['nodes']} nodes, {accelerators}, "
        f"{data['rails']} rails x {data['link_gbps']} Gb/s {data['transport']}, "
        f"{data['sus']} SUs of {data['nodes_per_su']}, {data['tiers']} tiers, "
        f"{data['planes']} plane(s)"
    )
    ui.table(
        title,
        ["tier", "switches", "cables up", "oversubscription", "ports used"],
        [
            [
                "leaf",
                sw["leaf"],
                cb["leaf_spine"],
                data["oversubscription"]["leaf"],
                _use(data, "leaf"),
            ],
            [
                "spine",
                sw["spine"],
                cb["spine_core"] if data["tiers"] == 3 else "-",
                data["oversubscription"]["spine"] or "-",
                _use(data, "spine"),
            ],
            ["core", sw["core"], "-", "-", _use(data, "core")],
        ],
        right=["switches", "cables up", "ports used"],
    )
    ui.say(
        f"node-leaf cables {cb['node_leaf']} (reserved slots included), "
        f"leaf-spine {cb['leaf_spine']}, spine-core {cb['spine_core']}; "
        f"bisection {data['bisection_gbps'] / 1000:g} Tb/s"
    )
    ui.table(
        "paths between GPUs",
        ["class", "switches", "via"],
        [[p["class"], p["switches"], p["via"]] for p in path_classes(topo)],
        right=["switches"],
    )
    ui.table(
        "one failure",
        ["component", "example", "bandwidth lost", "nodes losing a rail", "connected"],
        [
            [
                f["component"],
                f["example"],
                f"{f['bandwidth_lost_pct']}%",
                f["nodes_losing_rail"],
                "yes" if f["connected"] else "NO",
            ]
            for f in failure_impact(topo)
        ],
        right=["bandwidth lost", "nodes losing a rail"],
    )


def _use(data: dict[str, Any], role: str) -> str:
    row = data["ports"].get(role)
    if not row or not row["ports"]:
        return "-"
    return f"{row['used']}/{row['ports']} ({100 * row['used'] / row['ports']:.0f}%)"


@app.command("draw")
def draw(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    level: Annotated[Level | None, typer.Option("--level", help="su, rail or full.")] = None,
    fmt: Annotated[
        PicFormat, typer.Option("--format", help="svg or png (png needs rsvg-convert).")
    ] = PicFormat.svg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="File to write (default: build/<cluster>/exports/topology-<level>.<fmt>)."
        ),
    ] = None,
) -> None:
    """Draw the fabric at SU, rail or port level.

    Example: aictl topo draw --preset a800-200 --level rail --format png
    """

    def body() -> None:
        from aictl import fsio, ui
        from aictl.errors import ExitCode, ToolMissingError
        from aictl.topology.exports import svg

        topo = plan(load(spec, preset))
        lvl = level.value if level else svg.default_level(topo)
        text = svg.render(topo, level=lvl)
        data = text.encode()
        if fmt is PicFormat.png:
            tool = shutil.which("rsvg-convert")
            if tool is None:
                raise ToolMissingError(
                    "--format png needs rsvg-convert",
                    hint="apt-get install librsvg2-bin, or use --format svg",
                )
            data = subprocess.run(
                [tool, "--format=png"], input=data, capture_output=True, check=True
            ).stdout
        name = f"topology-{lvl}.{fmt.value}"
        if out is None:
            dest = fsio.write_file(
                _default_out(topo.name), f"exports/{name}", data, stage=ExitCode.TOPOLOGY
            )
        else:
            dest = fsio.write_file(out.parent, out.name, data, stage=ExitCode.TOPOLOGY, lock=False)
        ui.say(f"wrote {dest} ({lvl} level)")

    run(body)
