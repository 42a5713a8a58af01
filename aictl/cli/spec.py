"""`aictl spec`: presets, init, validate, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aictl.cli._handle import run
from aictl.cli._options import Output, OutputOpt
from aictl.cli.fast import validate_line

app = typer.Typer(no_args_is_help=True, help="The cluster spec: presets, init, validate, schema.")


@app.command("presets")
def presets(output: OutputOpt = Output.table) -> None:
    """List the embedded presets.

    Example: aictl spec presets
    """

    def body() -> None:
        from aictl import ui
        from aictl.spec.loader import load_preset, preset_names, preset_text
        from aictl.spec.rules import hostnames, node_profiles, total_rails, transports

        rows = []
        for name in preset_names():
            s = load_preset(name).spec
            first = preset_text(name).splitlines()[0].removeprefix("#").strip()
            gpus = sum(p.gpu.count for p in node_profiles(s))
            rows.append(
                {
                    "name": name,
                    "nodes": len(hostnames(s)),
                    "gpus": gpus,
                    "rails": total_rails(s),
                    "transport": transports(s),
                    "description": first.split(":", 1)[-1].strip(),
                }
            )
        if output is Output.json:
            ui.print_json(rows)
            return
        ui.table(
            "presets",
            ["name", "nodes", "gpus", "rails", "transport", "description"],
            [list(r.values()) for r in rows],
            right=["nodes", "gpus", "rails"],
        )

    run(body)


@app.command("init")
def init(
    preset: Annotated[
        str, typer.Option("--preset", "-p", help="Preset to start from.")
    ] = "a800-200",
    out: Annotated[Path, typer.Option("--out", help="File to write.")] = Path("cluster.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented spec to start from.

    Example: aictl spec init --preset dgx-h100-127 --out cluster.yaml
    """

    def body() -> None:
        from aictl import fsio, ui
        from aictl.errors import ExitCode, UsageError
        from aictl.spec.loader import preset_text

        text = preset_text(preset)
        if out.exists() and not force:
            raise UsageError(f"{out} exists", hint="pass --force to overwrite it")
        # replaced, never written through: a link at `out` is refused
        fsio.write_file(out.parent, out.name, text.encode(), stage=ExitCode.USAGE, lock=False)
        ui.say(f"wrote {out} (preset {preset}); check it with: aictl spec validate {out}")

    run(body)


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="Cluster spec YAML file.")],
    output: OutputOpt = Output.table,
) -> None:
    """Validate a spec: every problem with file:line and field; exit 3 if any.

    Example: aictl spec validate cluster.yaml
    """

    def body() -> None:
        if output is Output.table:
            typer.echo(validate_line(file))
            return
        from aictl import ui
        from aictl.spec.loader import load_spec
        from aictl.spec.rules import hostnames, total_rails

        loaded = load_spec(file)
        s = loaded.spec
        ui.print_json(
            {
                "file": str(file),
                "name": s.name,
                "valid": True,
                "nodes": len(hostnames(s)),
                "rails": total_rails(s),
                "fabrics": list(s.fabrics()),
                "sha256": loaded.sha256,
            }
        )

    run(body)


@app.command("schema")
def schema() -> None:
    """Print the spec's JSON Schema (every field with its description).

    Example: aictl spec schema > cluster.schema.json
    """

    def body() -> None:
        from aictl import ui
        from aictl.spec.models import ClusterSpec

        ui.print_json(ClusterSpec.model_json_schema(by_alias=True))

    run(body)
