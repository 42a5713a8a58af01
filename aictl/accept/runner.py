"""Run an acceptance plan: stage by stage, units in parallel where they do not share a NIC,
every result saved the moment it is known.

A unit whose node cannot be reached is recorded (`error`, unreachable) and that node's later
units are skipped; the rest of the run goes on. Ctrl-C stops scheduling, keeps what finished
and says how to resume. Localization (a confirmation round) runs after the pairwise rounds
when a pairwise result is low. Commands go through an executor (aictl/remote/executor.py), so
all of this runs against a fake in unit tests.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aictl.accept import launch, localize
from aictl.accept import plan as planmod
from aictl.accept.model import Kind, SizePoint, Stage, Unit, UnitResult
from aictl.errors import InterruptedRunError
from aictl.events import Progress, emit
from aictl.facts.ascend import parse_hccn
from aictl.facts.hccl import parse_hccl_test
from aictl.facts.model import Failure, FailureKind
from aictl.facts.nccl import parse_nccl
from aictl.facts.perftest import parse_perftest
from aictl.natsort import natural_key
from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aictl.accept.expect import Expectations
    from aictl.accept.store import RunStore
    from aictl.facts.ascend import NpuPort
    from aictl.remote import HostResult, Target
    from aictl.remote.executor import Executor
    from aictl.topology.model import Topology


@dataclass
class Context:
    """Everything the units need."""

    topo: Topology
    targets: dict[str, Target]
    executor: Executor
    store: RunStore
    expect: Expectations
    launcher: str = "ssh"
    login: str | None = None
    slurm_mpi: str | None = None
    crds: Path | None = None
    timeout: int = 600
    forks: int = 64
    progress: Callable[[Progress], None] | None = None
    # seconds between starting a perftest server and its client (0 for a fake executor)
    server_head_start: float = 1.0


def _ssh(ctx: Context, host: str, command: str) -> HostResult:
    if host not in ctx.targets:
        from aictl.remote import Target

        ctx.targets[host] = Target(host, host)
    return ctx.executor.run(ctx.targets[host], command)


def _lost(res: HostResult) -> bool:
    """No SSH session, or the session died without an exit status (the node went away)."""
    return res.rc is None or res.rc == -1


def _unreachable(unit: Unit, res: HostResult) -> UnitResult:
    why = res.error or "the SSH session died without an exit status (node lost)"
    return UnitResult.of(
        unit,
        status=Status.ERROR,
        failure=Failure(FailureKind.UNREACHABLE, f"{res.host}: {why}", res.host),
    )


def _perf_unit(ctx: Context, unit: Unit) -> tuple[UnitResult, str]:
    t = ctx.timeout
    if unit.stage is Stage.NODE:
        res = _ssh(ctx, unit.hosts[0], launch.loopback(ctx.topo, unit, t))
        if _lost(res):
            return _unreachable(unit, res), ""
        raw = res.stdout + res.stderr
        client = raw.split("@@aictl server", 1)[0]
    else:
        a, b = unit.hosts
        gdr = unit.kind is Kind.GDR
        srv_cmd = launch.perftest(
            ctx.topo,
            unit,
            host=b,
            server=True,
            peer=b,
            gpu=unit.gpus[1] if gdr else None,
            timeout=t,
        )
        cli_cmd = launch.perftest(
            ctx.topo,
            unit,
            host=a,
            server=False,
            peer=b,
            gpu=unit.gpus[0] if gdr else None,
            timeout=t,
        )
        box: dict[str, HostResult] = {}
        th = threading.Thread(target=lambda: box.setdefault("s", _ssh(ctx, b, srv_cmd)))
        th.start()
        time.sleep(ctx.server_head_start)
        res = _ssh(ctx, a, f"sleep 0.5; {cli_cmd}" if ctx.server_head_start else cli_cmd)
        th.join(timeout=t + 30)
        srv = box.get("s")
        if _lost(res):
            return _unreachable(unit, res), ""
        if srv is not None and _lost(srv):
            return _unreachable(unit, srv), ""
        client = res.stdout + res.stderr
        raw = client + "\n@@aictl server\n" + ((srv.stdout + srv.stderr) if srv else "")
    parsed = parse_perftest(client)
    fail = parsed.failure
    if fail is None and res.rc not in (0, None):
        fail = Failure(FailureKind.TOOL, f"exit {res.rc}")
    return UnitResult.of(
        unit,
        status=Status.FAIL if fail else Status.OK,
        value=parsed.bw_avg_gbps,
        failure=fail,
        simulated=parsed.simulated,
        gpu_direct=parsed.gpu_direct,
    ), raw


def _k8s(ctx: Context, unit: Unit) -> tuple[int | None, str]:
    from aictl.render.targets.kubernetes import fit_name

    # mpi-operator names the pods <name>-worker-<i>: that must still be a DNS label
    base = f"{ctx.topo.name}-{unit.id.replace('/', '-').replace('_', '-')}"
    name = fit_name(base, 63 - len(f"-worker-{len(unit.hosts) - 1}"))
    text = launch.k8s_manifest(ctx.topo, unit, name)
    path = ctx.store.save_manifest(name, text)
    if ctx.crds is not None:
        from aictl.artifact import Artifact
        from aictl.render.validate.k8s import check_crds

        found = check_crds([Artifact(f"k8s/{name}.yaml", text.encode())], ctx.crds)
        bad = [f for f in found if f.status == "error"]
        if bad:
            return 2, f"the MPIJob does not validate: {bad[0].message}"
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return 127, f"kubectl not found: the MPIJob is in {path} (apply it on the cluster)"
    steps = [
        [kubectl, "apply", "-f", str(path)],
        [
            kubectl,
            "wait",
            f"mpijob/{name}",
            "--for=condition=Succeeded",
            f"--timeout={ctx.timeout}s",
        ],
        [
            kubectl,
            "logs",
            "-l",
            f"training.kubeflow.org/job-name={name},training.kubeflow.org/job-role=launcher",
            "--tail=-1",
        ],
    ]
    out = ""
    for cmd in steps:
        p = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=ctx.timeout + 60
        )
        out += p.stdout + p.stderr
        if p.returncode != 0:
            return p.returncode, out
    return 0, out


def _nccl_unit(ctx: Context, unit: Unit) -> tuple[UnitResult, str]:
    if ctx.launcher == "k8s" and len(unit.hosts) > 1:
        rc, raw = _k8s(ctx, unit)
    else:
        if ctx.launcher == "slurm" and len(unit.hosts) > 1:
            host = ctx.login or unit.hosts[0]
            cmd = launch.slurm_nccl(ctx.topo, unit, ctx.timeout, mpi=ctx.slurm_mpi)
        else:
            host, cmd = launch.ssh_nccl(ctx.topo, unit, ctx.timeout)
        res = _ssh(ctx, host, cmd)
        if _lost(res):
            return _unreachable(unit, res), ""
        rc, raw = res.rc, res.stdout + res.stderr
    hi = unit.sizes[1]
    expect = ctx.expect.busbw_min(unit.collective, unit.hosts)
    rows, value, fail, simulated = _collective(ctx, unit, raw)
    if fail is None and rc == 124:
        fail = Failure(FailureKind.TIMEOUT, f"killed after {ctx.timeout} s")
    elif fail is None and rc not in (0, None):
        fail = Failure(
            FailureKind.LAUNCH if not rows else FailureKind.TOOL,
            raw.strip().splitlines()[-1] if raw.strip() else f"exit {rc}",
        )
    if value is None:
        value = next((b for sz, b in rows if sz == hi), None)
    return UnitResult.of(
        unit,
        status=Status.FAIL if fail else Status.OK,
        value=value,
        failure=fail,
        simulated=simulated,
        expected_min=expect,
        rows=tuple(SizePoint(sz, b) for sz, b in rows),
    ), raw


def _collective(
    ctx: Context, unit: Unit, raw: str
) -> tuple[list[tuple[int, float]], float | None, Failure | None, bool]:
    """(size, busbw) rows, the value at the reference size (else the peak), the failure and
    whether the output was simulated: nccl-tests and rccl-tests print busbw; hccl_test prints
    algbw, from which busbw is derived with the collective's factor over its ranks."""
    hi = unit.sizes[1]
    if launch.hccl(ctx.topo, unit):
        ranks = sum(launch.gpu_counts(ctx.topo, unit))
        h = parse_hccl_test(raw, collective=unit.collective)
        rows = [(sz, round(b, 3)) for sz, b in h.busbw(ranks, unit.collective)]
        at = next((b for sz, b in rows if sz == hi), None)
        peak = max((b for _s, b in rows), default=None)
        return rows, at if at is not None else peak, h.failure, h.simulated
    parsed = parse_nccl(raw, collective=unit.collective)
    value = parsed.at(hi)
    if value is None:
        value = parsed.peak_busbw_gbps
    rows = [(r.size_bytes, r.busbw_gbps or 0.0) for r in parsed.rows]
    return rows, value, parsed.failure, parsed.simulated


def _port_unit(ctx: Context, unit: Unit) -> tuple[UnitResult, str]:
    """An NPU port's own state (PORT) or its ping to the peer NPU over the rail (PING)."""
    assert unit.rail is not None
    if unit.kind is Kind.PORT:
        host, cmd = unit.hosts[0], launch.npu_port(unit, ctx.timeout)
    else:
        host, cmd = launch.npu_ping(ctx.topo, unit, ctx.timeout)
    res = _ssh(ctx, host, cmd)
    if _lost(res):
        return _unreachable(unit, res), ""
    raw = res.stdout + res.stderr
    parsed = parse_hccn(raw)
    port = parsed.ports.get(unit.rail)
    fail = parsed.failure
    if fail is None and port is None:
        fail = Failure(FailureKind.TOOL, f"hccn_tool said nothing of NPU {unit.rail}", host)
    elif fail is None and port is not None:
        fail = _port_failure(unit, port, host)
    if fail is None and res.rc == 124:
        fail = Failure(FailureKind.TIMEOUT, f"killed after {ctx.timeout} s", host)
    elif fail is None and res.rc not in (0, None):
        fail = Failure(FailureKind.TOOL, f"hccn_tool exit {res.rc}", host)
    return UnitResult.of(
        unit,
        status=Status.FAIL if fail else Status.OK,
        failure=fail,
        simulated=parsed.simulated,
    ), raw


def _port_failure(unit: Unit, port: NpuPort, host: str) -> Failure | None:
    """What is wrong with an NPU port, from hccn_tool's answers (None: nothing)."""
    npu = f"NPU {unit.rail}"
    if unit.kind is Kind.PING:
        if port.ping_sent is None:
            return Failure(FailureKind.TOOL, f"{npu}: no ping statistics", host)
        if port.ping_received != port.ping_sent:
            peer = unit.hosts[-1]
            return Failure(
                FailureKind.NETWORK,
                f"{npu} ping to {peer} NPU {unit.rail}: {port.ping_received or 0} of "
                f"{port.ping_sent} answered",
                host,
            )
        return None
    if port.link != "UP":
        return Failure(FailureKind.NETWORK, f"{npu} link {port.link or 'unknown'}", host)
    if port.health != "Success":
        return Failure(FailureKind.NETWORK, f"{npu} net health {port.health or 'unknown'}", host)
    if port.ipaddr is None:
        return Failure(FailureKind.SYSTEM, f"{npu} has no address (hccn.conf)", host)
    return None


def run_unit(ctx: Context, unit: Unit, **extra: Any) -> UnitResult:
    """Run one unit, save its raw output and result; never raises for a failing test."""
    start = time.monotonic()
    try:
        if unit.kind is Kind.NCCL:
            result, raw = _nccl_unit(ctx, unit)
        elif unit.kind in (Kind.PORT, Kind.PING):
            result, raw = _port_unit(ctx, unit)
        else:
            result, raw = _perf_unit(ctx, unit)
    except (OSError, subprocess.SubprocessError) as exc:
        result, raw = (
            UnitResult.of(unit, status=Status.ERROR, failure=Failure(FailureKind.LAUNCH, str(exc))),
            "",
        )
    groups = tuple(ctx.expect.groups_of(unit.hosts))
    result = replace(
        result,
        raw=ctx.store.save_raw(unit.id, raw) if raw else "",
        elapsed_s=round(time.monotonic() - start, 2),
        groups=groups,
        note=ctx.expect.weaker_side(unit.hosts, unit.collective or None),
        **extra,
    )
    ctx.store.append(result)
    return result


def _disjoint(units: list[Unit]) -> list[list[Unit]]:
    """Split units into waves where no host appears twice (so no NIC is shared)."""
    waves: list[list[Unit]] = []
    for u in units:
        for wave in waves:
            if not any(set(u.hosts) & set(w.hosts) for w in wave):
                wave.append(u)
                break
        else:
            waves.append([u])
    return waves


def execute(ctx: Context, units: list[Unit], done: dict[str, UnitResult], total: int) -> None:
    """Run `units` that are not in `done` (updated in place), stage by stage."""
    lock = threading.Lock()
    dead = {r.lost_host for r in done.values() if r.lost_host}

    def one(u: Unit) -> None:
        with lock:
            skip = sorted(set(u.hosts) & dead, key=natural_key)
        if skip and u.stage is Stage.CLUSTER and len(u.hosts) - len(skip) >= 2:
            # the whole-cluster tests go on without the nodes that died
            res = run_unit(ctx, u.without(set(skip)), excluded=tuple(skip))
        elif skip:
            res = UnitResult.of(
                u,
                status=Status.SKIP,
                failure=Failure(
                    FailureKind.UNREACHABLE, f"{', '.join(skip)} unreachable earlier in this run"
                ),
            )
            ctx.store.append(res)
        else:
            res = run_unit(ctx, u)
        with lock:
            done[u.id] = res
            if res.lost_host:
                dead.add(res.lost_host)
            emit(
                ctx.progress,
                Progress(
                    "accept",
                    "unit",
                    res.id,
                    len(done),
                    total,
                    res.status,
                    f"{res.failure.kind}: {res.failure.message[:80]}" if res.failure else "",
                    "" if res.value is None else f"{res.value:.1f} {res.unit}",
                ),
            )

    def chains(group: list[Unit]) -> list[list[Unit]]:
        """Units that must run one after another: a node's own tests, a pair's tests."""
        by: dict[tuple[str, ...], list[Unit]] = {}
        for u in group:
            by.setdefault(u.hosts, []).append(u)
        return list(by.values())

    stop = threading.Event()

    def run_chain(chain: list[Unit]) -> None:
        for u in chain:
            if stop.is_set():
                return
            one(u)

    todo = [u for u in units if u.id not in done]
    stages: list[list[Unit]] = []
    for key in (Stage.NODE, Stage.PAIR, Stage.CONFIRM, Stage.CLUSTER):
        rounds = sorted({u.round for u in todo if u.stage is key})
        for rnd in rounds:
            stages.append([u for u in todo if u.stage is key and u.round == rnd])
    pool = ThreadPoolExecutor(max_workers=max(1, ctx.forks))
    try:
        for group in stages:
            if group[0].stage is Stage.CLUSTER:
                for u in group:
                    one(u)
                continue
            chain_of = {c[0].id: c for c in chains(group)}
            for wave in _disjoint([c[0] for c in chains(group)]):
                futures = [pool.submit(run_chain, chain_of[w.id]) for w in wave]
                for f in futures:
                    f.result()
    except KeyboardInterrupt:
        # nothing new starts; the tests already running finish and are saved before this
        # returns, so a resume never runs one twice (a second Ctrl-C stops waiting)
        stop.set()
        with contextlib.suppress(KeyboardInterrupt):
            pool.shutdown(wait=True, cancel_futures=True)
        raise InterruptedRunError(
            f"interrupted: {len(done)}/{total} units saved in {ctx.store.root}",
            hint=f"finish it with --resume {ctx.store.id}",
        ) from None
    pool.shutdown(wait=True)


def confirm_units(
    ctx: Context, results: list[UnitResult], gpu_for_rail: dict[str, tuple[int, ...]]
) -> list[Unit]:
    """The confirmation round for low pairwise results (empty when nothing is low)."""
    low = localize.low_pairs(results, ctx.expect)
    if not low:
        return []
    hosts = list(ctx.targets)
    dead = {r.lost_host for r in results if r.lost_host}
    rnd = 1 + max((r.round for r in results if r.stage is Stage.PAIR), default=0)
    units = []
    ref = ctx.expect.reference_bytes
    for c in localize.confirmation_pairs(low, hosts, dead, ctx.expect):
        gs = gpu_for_rail.get(c.suspect) or ctx.topo.profile(c.suspect).spec_gpu_for_rail()
        gp = gpu_for_rail.get(c.partner) or ctx.topo.profile(c.partner).spec_gpu_for_rail()
        if c.family.kind in (Kind.GDR, Kind.HOST) and c.family.rail is not None:
            rail = c.family.rail
            units.append(
                Unit(
                    f"confirm/{c.suspect}-{c.partner}/{c.family.kind.value}/r{rail}",
                    Stage.CONFIRM,
                    c.family.kind,
                    (c.suspect, c.partner),
                    round=rnd,
                    rail=rail,
                    gpus=(gs[rail], gp[rail]) if c.family.kind is Kind.GDR else (),
                )
            )
        else:
            units.append(
                Unit(
                    f"confirm/{c.suspect}-{c.partner}/nccl/all_reduce",
                    Stage.CONFIRM,
                    Kind.NCCL,
                    (c.suspect, c.partner),
                    round=rnd,
                    collective="all_reduce",
                    sizes=(ref, ref, 2),
                    env=planmod.ring_env(ctx.topo, c.suspect),
                )
            )
    return units
