"""`aictl accept`: acceptance tooling. `parse` turns a tool's saved output into JSON."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path  # noqa: TC003 (typer reads the annotation at run time)
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aictl.cli._handle import run
from aictl.cli._options import (
    ForceOpt,
    ForksOpt,
    JumpOpt,
    KeyOpt,
    KnownHostsOpt,
    KubeconfigOpt,
    LimitOpt,
    MaxDrainOpt,
    MaxShareOpt,
    OutDirOpt,
    Output,
    OutputOpt,
    PresetOpt,
    SchedulerOpt,
    SlurmConfOpt,
    SpecArg,
    TargetOpt,
    UserOpt,
    build_dir,
    fleet,
    load,
    plan,
)
from aictl.sched.breaker import MAX_NODES, MAX_SHARE
from aictl.sched.model import Scheduler

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aictl.facts.model import Parsed

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
        mark = {"ok": "pass", "fail": "[red]FAIL[/red]", "skip": "no verdict"}[c["status"]]
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
    for c in data["criteria"]:
        if c.get("note"):
            ui.say(f"{c['name']}: {c['note']}")
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
    target: TargetOpt = None,
    user: UserOpt = None,
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    jump: JumpOpt = None,
    timeout: Annotated[int, typer.Option("--timeout", min=10, help="Seconds per test.")] = 600,
    forks: ForksOpt = 64,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain",
            help="Drain every node the verdict names (not links, not unconfirmed pairs).",
        ),
    ] = False,
    scheduler: SchedulerOpt = Scheduler.slurm,
    force: ForceOpt = False,
    max_drain: MaxDrainOpt = MAX_NODES,
    max_share: MaxShareOpt = MAX_SHARE,
    slurm_conf: SlurmConfOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Run the acceptance suite: per node GPUDirect (on vs off) and NCCL, pairwise rounds,
    the whole cluster, then localize anything slow to a node and rail (or a link).

    Every result is saved as it finishes in build/<cluster>/runs/<id>/ (plan.json,
    results.jsonl, raw/, summary.json); --resume finishes an interrupted run. Exit 8 when a
    criterion fails (after everything is saved), 9 when the run cannot start, 130 on Ctrl-C.

    Example: aictl accept run --preset lab-small --target lab --suite quick
    """

    def body() -> None:
        from aictl import ui
        from aictl.accept import session
        from aictl.errors import AcceptanceFailedError

        f = fleet(
            spec,
            preset,
            out=out,
            target=target,
            limit=limit,
            user=user,
            key=key,
            known_hosts=known_hosts,
            jump=jump,
            timeout=timeout + 60,
            forks=forks,
        )
        executor = f.executor()
        store, the_plan = session.start(
            f.topo,
            f.hosts,
            executor,
            f.build,
            suite=suite.value,
            launcher=launcher.value,
            resume=resume,
        )
        quiet = output is Output.json
        if not quiet:
            ui.err().print(
                f"{store.id}: {len(the_plan.units)} tests planned in {store.root}", markup=False
            )
        summary = session.run(
            f.topo,
            store,
            the_plan,
            f.hosts,
            executor,
            login=login,
            slurm_mpi=f.target.slurm_mpi,
            crds=crds,
            timeout=timeout,
            forks=forks,
            progress=None if quiet else ui.progress_line,
        )
        if quiet:
            ui.print_json(summary)
        else:
            _print_summary(summary)
        if drain:
            from aictl.cli._sched import SchedArgs, command_line, drain_failing

            reasons = drain_reasons(summary.get("suspects") or [], store.id)
            if reasons:
                drain_failing(
                    reasons,
                    fleet=len(f.topo.nodes),
                    build=f.build,
                    sched=SchedArgs(scheduler, force, max_drain, max_share, slurm_conf, kubeconfig),
                    command=command_line("accept run", drain=True, limit=limit, target=target),
                    run=store.id,
                    target_env=f.target.slurm_env(),
                )
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


def drain_reasons(suspects: Sequence[Mapping[str, object]], run_id: str) -> dict[str, str]:
    """node -> drain reason, for the suspects a drain is for: a node the verdict is sure of
    (a link is two switches' matter; an unconfirmed pair may be either node)."""
    from aictl.accept.model import SuspectKind
    from aictl.sched.model import marked

    skip = {SuspectKind.LINK, SuspectKind.PAIR_UNCONFIRMED}
    out: dict[str, str] = {}
    for s in suspects:
        node = str(s.get("node") or "")
        kind = SuspectKind(str(s.get("kind")))
        if node and kind not in skip and node not in out:
            out[node] = marked(f"accept {kind.value}: {s.get('reason', '')} ({run_id})")
    return out


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
        from aictl.accept.store import RunStore

        topo = plan(load(spec, preset))
        runs = build_dir(topo, out) / "runs"
        store = RunStore.open(runs, run_id) if run_id else RunStore.latest(runs)
        data = session.reanalyse(topo, store)
        if output is Output.json:
            ui.print_json(data)
        else:
            _print_summary(data)

    run(body)


_TABLE_ITEMS = 5  # a list or mapping longer than this shows its count and first items
_TABLE_WIDTH = 200


def _parse_table(data: dict[str, Any]) -> list[str]:
    """`accept parse`'s table view: one line per field, bounded whatever the output's size."""
    out = []
    for k, v in data.items():
        if k in ("tool", "status", "simulated", "failure", "errors"):
            continue
        if isinstance(v, list | dict) and len(v) > _TABLE_ITEMS:
            items = list(v.items() if isinstance(v, dict) else v)[:_TABLE_ITEMS]
            shown = ", ".join(
                f"{a}: {b}" if isinstance(v, dict) else str(a)
                for a, b in (x if isinstance(v, dict) else (x, None) for x in items)
            )
            text = f"  {k}: {len(v)} items: {shown}, ..."
        elif k == "unparsed" and isinstance(v, list):
            text = f"  {k}: {len(v)} lines"
        else:
            text = f"  {k}: {v}"
        out.append(text if len(text) <= _TABLE_WIDTH else text[: _TABLE_WIDTH - 3] + "...")
    if data.get("failure"):
        f = data["failure"]
        out.append(f"  failure: {f['kind']}: {f['message']}"[:_TABLE_WIDTH])
    return out


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

    JSON always has `tool`, `status` (ok|fail), `failure` and `simulated`; the table view
    says which tool it recognised and keeps long lists to a count and their first items. Exit
    0 when parsed, 2 when the tool is unknown or the output unrecognised (the tools tried are
    listed), 9 when the output is a failure.

    Example: aictl accept parse topo.txt --tool topo --output json
    """

    def body() -> None:
        import sys

        from aictl import ui
        from aictl.errors import ParseFailedError, UsageError
        from aictl.facts.nccl import parse_nccl
        from aictl.facts.perftest import parse_perftest
        from aictl.facts.registry import REGISTRY, detect, recognisable

        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(errors="replace")
        except OSError as exc:
            raise UsageError(f"{file}: cannot read ({exc.strerror})") from None
        name = detect(text) if tool == "auto" else tool
        if name is None:
            raise UsageError(
                f"{file}: output not recognised (tried {', '.join(recognisable())})",
                hint="name the tool with --tool",
            )
        if name not in REGISTRY:
            raise UsageError(f"unknown --tool {name!r}", hint=f"tools: auto, {', '.join(REGISTRY)}")
        parsed: Parsed
        if name == "nccl" and expect is not None:
            parsed = parse_nccl(text, expect_busbw=expect)
        elif name == "perftest" and expect is not None:
            parsed = parse_perftest(text, expect_gbps=expect)
        else:
            parsed = REGISTRY[name].parse(text)
        data = parsed.as_json()
        if output is Output.json:
            ui.print_json(data)
        else:
            how = "recognised as" if tool == "auto" else "read as"
            first = f"{file}: {how} {data['tool']}: {data['status']}" + (
                " (simulated)" if data["simulated"] else ""
            )
            for line in [first, *_parse_table(data)]:
                ui.out().print(line, markup=False, highlight=False, soft_wrap=True)
        if not parsed.ok:
            assert parsed.failure is not None
            raise ParseFailedError(f"{file}: {parsed.failure.message}")

    run(body)
