"""`aictl render`: every config file from the spec, checked, with a manifest and drift check."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from aictl.cli._handle import run
from aictl.cli._options import (
    OutDirOpt,
    Output,
    OutputOpt,
    PresetOpt,
    SpecArg,
    load,
    locate,
    plan,
)


def render_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    out: OutDirOpt = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help="Comma list of targets: hosts, switches, ib, k8s (default: all)."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 5 if the files on disk differ from what the spec renders.",
        ),
    ] = False,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate", help="Check the files with the real tools (netplan, vtysh) and schemas."
        ),
    ] = False,
    crds: Annotated[
        Path | None,
        typer.Option(
            "--crds",
            help="Validate Kubernetes manifests "
            "against the CRDs (YAML) in this directory, "
            "e.g. your cluster's.",
        ),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Render host, switch, subnet-manager and Kubernetes configs into build/<cluster>/artifacts.

    Example: aictl render --preset a800-200 --validate
    """

    def body() -> None:
        from aictl import ui
        from aictl.errors import Problem, RenderDriftError, RenderError
        from aictl.render import check_drift, render_all, write_rendered
        from aictl.render.validate import validate_rendered

        loaded = load(spec, preset)
        topo = plan(loaded)
        targets = [t.strip() for t in only.split(",") if t.strip()] if only else None
        try:
            result = render_all(topo, targets=targets)
        except RenderError as exc:
            locate(exc, loaded)
            raise
        build = out or Path("build") / topo.name
        data: dict[str, Any] = {
            "cluster": topo.name,
            "out": str(build / "artifacts"),
            "targets": list(result.targets),
            "files": dict(sorted(Counter(a.path.split("/")[0] for a in result.artifacts).items())),
        }
        if check:
            d = check_drift(result, build)
            data["drift"] = {
                "changed": list(d.changed),
                "missing": list(d.missing),
                "extra": list(d.extra),
                "manifest": list(d.manifest),
            }
            if not d.clean:
                problems = [
                    Problem(f"{kind}: {p}", file=str(build / "artifacts"))
                    for kind, paths in (
                        ("changed", d.changed),
                        ("missing", d.missing),
                        ("not rendered", d.extra),
                    )
                    for p in paths[:20]
                ] + [Problem(m, file=str(build / "manifest.json")) for m in d.manifest]
                raise RenderDriftError(
                    f"{len(d.changed) + len(d.missing) + len(d.extra)} file(s) differ from "
                    "what the spec renders"
                    + (", and the manifest does not match" if d.manifest else ""),
                    problems=problems,
                    hint=f"re-render: aictl render {spec or '--preset ' + str(preset)}",
                )
        findings = []
        if validate or crds is not None:
            findings = validate_rendered(list(result.artifacts), crds_dir=crds, tools=validate)
            bad = [f for f in findings if f.status == "error"]
            data["validation"] = dict(Counter(f.status for f in findings))
            if bad:
                raise RenderError(
                    f"{len(bad)} rendered file(s) fail validation; nothing was written",
                    problems=[Problem(f"{f.check}: {f.message}", file=f.path) for f in bad[:30]],
                )
        if not check:
            data["manifest"] = str(write_rendered(topo, result, build))
        if output is Output.json:
            ui.print_json(data)
            return
        ui.table(
            f"{topo.name}: rendered",
            ["target", "files"],
            sorted(data["files"].items()),
            right=["files"],
        )
        for f in findings:
            if f.status == "skipped":
                ui.say(f"skipped {f.check}: {f.message}")
        if findings:
            counts = Counter(f.status for f in findings)
            ui.say(f"validated: {counts['ok']} ok, {counts['skipped']} skipped")
        ui.say(
            "no drift: the files on disk are what the spec renders"
            if check
            else f"wrote {sum(data['files'].values())} files to {data['out']}/ and "
            f"{data['manifest']}"
        )

    run(body)
