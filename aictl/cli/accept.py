"""`aictl accept`: acceptance tooling. `parse` turns a tool's saved output into JSON."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 (typer reads the annotation)
from typing import Annotated

import typer

from aictl.cli._handle import run
from aictl.cli._options import Output, OutputOpt

app = typer.Typer(no_args_is_help=True, help="Acceptance: parse tool outputs (more to come).")


@app.command("parse")
def parse_cmd(
    file: Annotated[Path, typer.Argument(help="A saved tool output ('-' for stdin).")],
    tool: Annotated[
        str, typer.Option("--tool", "-t", help="auto, or one of the parsers (see --help).")
    ] = "auto",
    output: OutputOpt = Output.table,
) -> None:
    """Parse a saved output of nvidia-smi (topo -m, nvlink -s, -q), ibstat, ibv_devinfo,
    show_gids, ibdev2netdev, ofed_info, lspci -vvv, lsmod, /proc/net/bonding, ip -j link,
    ibnetdiscover or lldpctl -f json. `--tool auto` recognises the output.

    JSON always has `tool`, `status` (ok|failed), `failure` and `simulated`. Exit 0 when parsed,
    2 when the tool is unknown or the output unrecognised, 9 when the output is a failure.

    Example: aictl accept parse topo.txt --tool topo --output json
    """

    def body() -> None:
        import sys

        from aictl import ui
        from aictl.checks.registry import PARSERS, detect
        from aictl.errors import AictlError, ExitCode, UsageError

        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(errors="replace")
        except OSError as exc:
            raise UsageError(f"{file}: cannot read ({exc.strerror})") from None
        name = detect(text) if tool == "auto" else tool
        if name is None:
            raise UsageError(
                f"{file}: output not recognised", hint=f"name it with --tool ({', '.join(PARSERS)})"
            )
        if name not in PARSERS:
            raise UsageError(f"unknown --tool {name!r}", hint=f"tools: auto, {', '.join(PARSERS)}")
        data = PARSERS[name](text)
        if output is Output.json:
            ui.print_json(data)
        else:
            ui.say(
                f"{file}: {data['tool']} {data['status']}"
                + (" (simulated)" if data["simulated"] else "")
            )
            for k, v in data.items():
                if k not in ("tool", "status", "simulated", "failure", "errors", "unparsed"):
                    ui.out().print(f"  {k}: {v}", markup=False, highlight=False)
        if data["status"] != "ok":
            err = AictlError(f"{file}: {data['failure']['message']}")
            err.exit_code = ExitCode.ACCEPTANCE_ERROR
            raise err

    run(body)
