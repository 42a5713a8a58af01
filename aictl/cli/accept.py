"""`aictl accept`: acceptance tooling. `parse` turns a tool's saved output into JSON."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from aictl.cli._handle import run
from aictl.cli._options import (
    ForksOpt,
    KeyOpt,
    KnownHostsOpt,
    LimitOpt,
    OutDirOpt,
    Output,
    OutputOpt,
    PresetOpt,
    SpecArg,
    UserOpt,
    load,
    plan,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Acceptance: GPUDirect and NCCL benchmarks, slow-node localization, parsers.",
)


class Suite(StrEnum):
    quick = "quick"
    full = "full"


class Launcher(StrEnum):
    ssh = "ssh"
    slurm = "slurm"
    k8s = "k8s"


def _print_summary(data: dict[str, Any]) -> None:
    from aictl import ui

    rows = []
    for c in data["criteria"]:
        mark = {True: "pass", False: "[red]FAIL[/red]", None: "no verdict"}[c["pass"]]
        measured = ", ".join(
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in c["measured"].items()
            if v is not None
        )
        expected = ", ".join(
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in c["expected"].items()
            if v is not None
        )
        rows.append([c["name"], mark, measured, expected])
    ui.table("criteria", ["criterion", "result", "measured", "expected"], rows)
    for s in data["suspects"]:
        where = s.get("node") or s.get("link")
        rail = f" rail {s['rail']}" if s.get("rail") is not None else ""
        ui.say(f"[bold]suspect {where}{rail}[/bold]: {s['reason']}")
    colour = {"pass": "green", "fail": "red", "incomplete": "yellow"}[data["verdict"]]
    sim = " (simulated hardware)" if data.get("simulated") else ""
    ui.say(f"verdict: [{colour}]{data['verdict']}[/{colour}]{sim}; results in {data['run_dir']}")


@app.command("run")
def run_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    suite: Annotated[
        Suite, typer.Option("--suite", help="quick or full (size sweep).")
    ] = Suite.quick,
    launcher: Annotated[
        Launcher, typer.Option("--launcher", help="How NCCL tests start: ssh+mpirun, slurm, k8s.")
    ] = Launcher.ssh,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Finish a run (its id or directory).")
    ] = None,
    limit: LimitOpt = None,
    login: Annotated[
        str | None,
        typer.Option("--login", help="slurm: the host srun runs on (default: first node)."),
    ] = None,
    crds: Annotated[
        Path | None, typer.Option("--crds", help="k8s: validate the MPIJob against the CRDs here.")
    ] = None,
    user: UserOpt = "root",
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    timeout: Annotated[int, typer.Option("--timeout", min=10, help="Seconds per test.")] = 600,
    forks: ForksOpt = 64,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Run the acceptance suite: per node GPUDirect (on vs off) and NCCL, pairwise rounds,
    the whole cluster, then localize anything slow to a node and rail (or a link).

    Every result is saved as it finishes in build/<cluster>/runs/<id>/ (plan.json,
    results.jsonl, raw/, summary.json); --resume finishes an interrupted run. Exit 8 when a
    criterion fails (after everything is saved), 9 when the run cannot start, 130 on Ctrl-C.

    Example: aictl accept run --preset lab-small --suite quick
    """

    def body() -> None:
        from aictl import ui
        from aictl.accept import session
        from aictl.cli.exec import fleet, ssh_options
        from aictl.errors import AcceptanceFailedError

        topo, targets, build = fleet(spec, preset, limit, out)
        opts = ssh_options(
            build, user=user, key=key, known_hosts=known_hosts, timeout=timeout + 60, forks=forks
        )
        store, the_plan = session.start(
            topo, targets, opts, build, suite=suite.value, launcher=launcher.value, resume=resume
        )
        quiet = output is Output.json

        def progress(res: dict[str, Any], n: int, total: int) -> None:
            if quiet:
                return
            val = "" if res["value"] is None else f" {res['value']:.1f} {res['unit']}"
            why = (
                f" ({res['failure']['kind']}: {res['failure']['message'][:80]})"
                if res["failure"]
                else ""
            )
            ui.err().print(
                f"[{n}/{total}] {res['id']} {res['status']}{val}{why}",
                markup=False,
                highlight=False,
            )

        if not quiet:
            ui.err().print(
                f"{store.id}: {len(the_plan['units'])} tests planned in {store.root}", markup=False
            )
        summary = session.run(
            topo,
            store,
            the_plan,
            targets,
            opts,
            login=login,
            crds=crds,
            timeout=timeout,
            forks=forks,
            progress=progress,
        )
        if quiet:
            ui.print_json(summary)
        else:
            _print_summary(summary)
        if summary["verdict"] != "pass":
            raise AcceptanceFailedError(
                f"acceptance {summary['verdict']}: {len(summary['suspects'])} suspect(s)",
                hint=f"details: {store.root / 'summary.json'}"
                + (
                    f"; finish it with --resume {store.id}"
                    if summary["verdict"] == "incomplete"
                    else ""
                ),
            )

    run(body)


@app.command("localize")
def localize_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Run id (default: the latest).")
    ] = None,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Judge a stored run again from its results (no new tests): criteria and suspects.

    Example: aictl accept localize --preset lab-small --run run-0001
    """

    def body() -> None:
        from aictl import ui
        from aictl.accept import session
        from aictl.accept.store import RunError, RunStore

        topo = plan(load(spec, preset or (None if spec else "lab-small")))
        runs = (out or Path("build") / topo.name) / "runs"
        rid = run_id or max((p.name for p in runs.glob("run-*")), default=None)
        if rid is None:
            raise RunError(f"no runs under {runs}", hint="aictl accept run first")
        data = session.reanalyse(topo, RunStore.open(runs, rid))
        if output is Output.json:
            ui.print_json(data)
        else:
            _print_summary(data)

    run(body)


@app.command("parse")
def parse_cmd(
    file: Annotated[Path, typer.Argument(help="A saved tool output ('-' for stdin).")],
    tool: Annotated[
        str, typer.Option("--tool", "-t", help="auto, or one of the parsers (see --help).")
    ] = "auto",
    expect: Annotated[
        float | None,
        typer.Option("--expect", help="nccl: min peak busbw GB/s; perftest: min Gb/s."),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Parse a saved output of nccl-tests (text or -J JSON), perftest, nvidia-smi (topo -m,
    nvlink -s, -q), ibstat, ibv_devinfo, show_gids, ibdev2netdev, ofed_info, lspci -vvv,
    lsmod, /proc/net/bonding, ip -j link, ibnetdiscover or lldpctl -f json. `--tool auto`
    recognises the output.

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
        if name == "nccl" and expect is not None:
            from aictl.accept.parse_nccl import parse_nccl

            data = parse_nccl(text, expect_busbw=expect)
        elif name == "perftest" and expect is not None:
            from aictl.accept.parse_perftest import parse_perftest

            data = parse_perftest(text, expect_gbps=expect)
        else:
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
