"""`aictl report`: the acceptance (or plan) report as HTML, Markdown, JSON and JUnit XML."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 (typer reads the annotation at run time)
from typing import Annotated

import typer

from aictl.cli._handle import run
from aictl.cli._options import Output, OutputOpt


def report_cmd(
    path: Annotated[
        Path, typer.Argument(help="build/<cluster> (latest run) or build/<cluster>/runs/<id>.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Comma list of html, md, json, junit.")
    ] = "html,md,json,junit",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory (default: <run>/report or <build>/report)."),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Write the report: verdict and criteria, the plan and BOM, the node x check matrix,
    busbw curves, the pairwise heatmap, the topology with what failed outlined, the GPU-NIC
    GPUDirect matrix, fabric and preflight findings with fixes, software versions.

    With no acceptance run under the build directory it is the plan report. The HTML is one
    self-contained file (no network), printable to PDF.

    Example: aictl report build/lab-small --format html,junit
    """

    def body() -> None:
        from aictl import ui
        from aictl.errors import UsageError
        from aictl.report import FORMATS, write_reports

        formats = [f.strip() for f in fmt.split(",") if f.strip()]
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise UsageError(
                f"--format {fmt!r}: unknown {', '.join(bad) or 'empty list'}",
                hint=f"formats: {', '.join(FORMATS)}",
            )
        data = write_reports(path, formats, out)
        if output is Output.json:
            ui.print_json(data)
            return
        ui.say(
            f"[bold]{data['cluster']}[/bold]: {data['verdict']}"
            + (" (simulated)" if data["simulated"] else "")
        )
        for s in data["suspects"]:
            where = s.get("node") or s.get("link")
            rail = f" rail {s['rail']}" if s.get("rail") is not None else ""
            ui.say(f"  named {where}{rail}: {s['reason']}")
        for f in data["files"]:
            ui.say(f"wrote {f}")

    run(body)
