"""Run an acceptance plan: stage by stage, units in parallel where they do not share a NIC,
every result saved the moment it is known.

A unit whose node cannot be reached is recorded (`error`, unreachable) and that node's later
units are skipped; the rest of the run goes on. Ctrl-C stops scheduling, keeps what finished
and says how to resume. Localization (a confirmation round) runs after the pairwise rounds
when a pairwise result is low.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aictl.accept import launch, localize
from aictl.accept.parse_nccl import parse_nccl
from aictl.accept.parse_perftest import parse_perftest
from aictl.accept.plan import Unit
from aictl.errors import AictlError, ExitCode
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aictl.accept.expect import Expectations
    from aictl.accept.store import RunStore
    from aictl.remote import HostResult, SshOptions, Target
    from aictl.topology.model import Topology


class InterruptedRunError(AictlError):
    """Ctrl-C during a run: finished units are saved."""

    exit_code = ExitCode.INTERRUPTED
    label = "INTERRUPTED"


@dataclass
class Context:
    """Everything the units need."""

    topo: Topology
    targets: dict[str, Target]
    opts: SshOptions
    store: RunStore
    expect: Expectations
    launcher: str = "ssh"
    login: str | None = None
    crds: Path | None = None
    timeout: int = 600
    forks: int = 64
    progress: Callable[[dict[str, Any], int, int], None] | None = None


def _ssh(ctx: Context, host: str, command: str) -> HostResult:
    from aictl.remote import run_one

    return run_one(ctx.targets[host], command, ctx.opts)


def _result(unit: Unit, **kw: Any) -> dict[str, Any]:
    return {
        "id": unit.id,
        "stage": unit.stage,
        "kind": unit.kind,
        "hosts": list(unit.hosts),
        "round": unit.round,
        "rail": unit.rail,
        "gpus": list(unit.gpus),
        "collective": unit.collective or None,
        "status": "ok",
        "value": None,
        "unit": "Gb/s" if unit.kind in ("gdr", "host") else "GB/s",
        "failure": None,
        "simulated": False,
        **kw,
    }


def _lost(res: HostResult) -> bool:
    """No SSH session, or the session died without an exit status (the node went away)."""
    return res.rc is None or res.rc == -1


def _unreachable(unit: Unit, res: HostResult) -> dict[str, Any]:
    why = res.error or "the SSH session died without an exit status (node lost)"
    return _result(
        unit,
        status="error",
        failure={"kind": "unreachable", "message": f"{res.host}: {why}", "host": res.host},
    )


def _perf_unit(ctx: Context, unit: Unit) -> tuple[dict[str, Any], str]:
    t = ctx.timeout
    if unit.stage == "node":
        res = _ssh(ctx, unit.hosts[0], launch.loopback(ctx.topo, unit, t))
        if _lost(res):
            return _unreachable(unit, res), ""
        raw = res.stdout + res.stderr
        client = raw.split("@@aictl server", 1)[0]
    else:
        a, b = unit.hosts
        gdr = unit.kind == "gdr"
        srv_cmd = launch.perftest(
            ctx.topo, unit, server=True, peer=b, gpu=unit.gpus[1] if gdr else None, timeout=t
        )
        cli_cmd = launch.perftest(
            ctx.topo, unit, server=False, peer=b, gpu=unit.gpus[0] if gdr else None, timeout=t
        )
        box: dict[str, HostResult] = {}
        th = threading.Thread(target=lambda: box.setdefault("s", _ssh(ctx, b, srv_cmd)))
        th.start()
        time.sleep(1.0)
        res = _ssh(ctx, a, f"sleep 0.5; {cli_cmd}")
        th.join(timeout=t + 30)
        srv = box.get("s")
        if _lost(res):
            return _unreachable(unit, res), ""
        if srv is not None and _lost(srv):
            return _unreachable(unit, srv), ""
        client = res.stdout + res.stderr
        raw = client + "\n@@aictl server\n" + ((srv.stdout + srv.stderr) if srv else "")
    parsed = parse_perftest(client)
    value = parsed["bw_avg_gbps"]
    fail = parsed["failure"]
    if fail is None and res.rc not in (0, None):
        fail = {"kind": "tool", "message": f"exit {res.rc}"}
    return _result(
        unit,
        status="failed" if fail else "ok",
        value=value,
        failure=fail,
        simulated=parsed["simulated"],
        gpu_direct=parsed["gpu_direct"],
    ), raw


def _k8s(ctx: Context, unit: Unit) -> tuple[int | None, str]:
    name = f"{ctx.topo.name}-{unit.id.replace('/', '-').replace('_', '-')}"[:63].rstrip("-")
    path = ctx.store.save(f"k8s/{name}.yaml", launch.k8s_manifest(ctx.topo, unit, name))
    if ctx.crds is not None:
        from aictl.artifact import Artifact
        from aictl.render.validate.k8s import check_crds

        found = check_crds([Artifact(f"k8s/{name}.yaml", path.read_bytes())], ctx.crds)
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


def _nccl_unit(ctx: Context, unit: Unit) -> tuple[dict[str, Any], str]:
    if ctx.launcher == "k8s" and len(unit.hosts) > 1:
        rc, raw = _k8s(ctx, unit)
    else:
        if ctx.launcher == "slurm" and len(unit.hosts) > 1:
            host = ctx.login or unit.hosts[0]
            cmd = launch.slurm_nccl(ctx.topo, unit, ctx.timeout)
        else:
            host, cmd = launch.ssh_nccl(ctx.topo, unit, ctx.timeout)
        if host not in ctx.targets:
            from aictl.remote import Target

            ctx.targets[host] = Target(host, host)
        res = _ssh(ctx, host, cmd)
        if _lost(res):
            return _unreachable(unit, res), ""
        rc, raw = res.rc, res.stdout + res.stderr
    hi = unit.sizes[1]
    expect = ctx.expect.busbw_min(unit.collective, len(unit.hosts))
    parsed = parse_nccl(raw, collective=unit.collective)
    ref = [r for r in parsed["rows"] if r["size_bytes"] == hi]
    halves = [
        h["busbw_gbps"] for r in ref for h in (r["out_of_place"], r["in_place"]) if h["busbw_gbps"]
    ]
    value = max(halves) if halves else parsed["peak_busbw_gbps"]
    fail = parsed["failure"]
    if fail is None and rc == 124:
        fail = {"kind": "timeout", "message": f"killed after {ctx.timeout} s"}
    elif fail is None and rc not in (0, None):
        fail = {
            "kind": "launch" if not parsed["rows"] else "tool",
            "message": raw.strip().splitlines()[-1] if raw.strip() else f"exit {rc}",
        }
    return _result(
        unit,
        status="failed" if fail else "ok",
        value=value,
        failure=fail,
        simulated=parsed["simulated"],
        expected_min=expect,
        rows=[
            {
                "size_bytes": r["size_bytes"],
                "busbw_gbps": max(
                    r["out_of_place"]["busbw_gbps"] or 0, r["in_place"]["busbw_gbps"] or 0
                ),
            }
            for r in parsed["rows"]
        ],
    ), raw


def run_unit(ctx: Context, unit: Unit, **extra: Any) -> dict[str, Any]:
    """Run one unit, save its raw output and result; never raises for a failing test."""
    start = time.monotonic()
    try:
        result, raw = _nccl_unit(ctx, unit) if unit.kind == "nccl" else _perf_unit(ctx, unit)
    except (OSError, subprocess.SubprocessError) as exc:
        result, raw = (
            _result(unit, status="error", failure={"kind": "launch", "message": str(exc)}),
            "",
        )
    if raw:
        result["raw"] = ctx.store.save_raw(unit.id, raw)
    result["elapsed_s"] = round(time.monotonic() - start, 2)
    result.update(extra)
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


def execute(ctx: Context, units: list[Unit], done: dict[str, dict[str, Any]], total: int) -> None:
    """Run `units` that are not in `done` (updated in place), stage by stage."""
    lock = threading.Lock()
    dead = {
        r["failure"]["host"]
        for r in done.values()
        if r.get("failure")
        and r["failure"].get("kind") == "unreachable"
        and r["failure"].get("host")
    }

    def one(u: Unit) -> None:
        with lock:
            skip = sorted(set(u.hosts) & dead, key=natural_key)
        if skip and u.stage == "cluster" and len(u.hosts) - len(skip) >= 2:
            # the whole-cluster tests go on without the nodes that died
            live = tuple(h for h in u.hosts if h not in skip)
            u = Unit(
                u.id, u.stage, u.kind, live, u.round, u.rail, u.gpus, u.collective, u.sizes, u.env
            )
            res = run_unit(ctx, u, excluded=skip)
        elif skip:
            res = _result(
                u,
                status="skipped",
                failure={
                    "kind": "unreachable",
                    "message": f"{', '.join(skip)} unreachable earlier in this run",
                },
            )
            ctx.store.append(res)
        else:
            res = run_unit(ctx, u)
        with lock:
            done[u.id] = res
            if (
                res["failure"]
                and res["failure"].get("kind") == "unreachable"
                and res["failure"].get("host")
            ):
                dead.add(res["failure"]["host"])
            if ctx.progress:
                ctx.progress(res, len(done), total)

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
    for key in ("node", "pair", "confirm", "cluster"):
        rounds = sorted({u.round for u in todo if u.stage == key})
        for rnd in rounds:
            stages.append([u for u in todo if u.stage == key and u.round == rnd])
    pool = ThreadPoolExecutor(max_workers=max(1, ctx.forks))
    try:
        for group in stages:
            if group[0].stage == "cluster":
                for u in group:
                    one(u)
                continue
            for wave in _disjoint([c[0] for c in chains(group)]):
                chain_of = {c[0].id: c for c in chains(group)}
                futures = [pool.submit(run_chain, chain_of[w.id]) for w in wave]
                for f in futures:
                    f.result()
    except KeyboardInterrupt:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise InterruptedRunError(
            f"interrupted: {len(done)}/{total} units saved in {ctx.store.root} (tests already "
            "running finish and are saved too)",
            hint=f"finish it with --resume {ctx.store.id}",
        ) from None
    pool.shutdown(wait=True)


def confirm_units(
    ctx: Context, results: list[dict[str, Any]], gpu_for_rail: dict[str, list[int]]
) -> tuple[list[Unit], dict[str, dict[str, Any]]]:
    """The confirmation round for low pairwise results (empty when nothing is low)."""
    pairs = [r for r in results if r["stage"] == "pair" and r["status"] in ("ok", "failed")]
    floors = localize.floor_map(ctx.expect)
    low = localize.suspects(pairs, tolerance=ctx.expect.fleet_tolerance, floors=floors)
    # a failed pair test (no number) is low too
    for r in pairs:
        if r["value"] is None and r["id"] not in low:
            low[r["id"]] = {
                "value": 0.0,
                "median": 0.0,
                "mad": 0.0,
                "floor": 0.0,
                "hosts": r["hosts"],
                "rail": r.get("rail"),
                "family": localize.family(r),
            }
    if not low:
        return [], low
    hosts = list(ctx.targets)
    dead = {r["failure"]["host"] for r in results if r.get("failure") and r["failure"].get("host")}
    rnd = 1 + max((r["round"] for r in results if r["stage"] == "pair"), default=0)
    units = []
    rails = ctx.expect.rails
    for suspect, partner, rail, fam in localize.confirmation_pairs(low, hosts, dead):
        gs = gpu_for_rail.get(suspect) or list(range(rails))
        gp = gpu_for_rail.get(partner) or list(range(rails))
        if fam.startswith("gdr") and rail is not None:
            units.append(
                Unit(
                    f"confirm/{suspect}-{partner}/gdr/r{rail}",
                    "confirm",
                    "gdr",
                    (suspect, partner),
                    round=rnd,
                    rail=rail,
                    gpus=(gs[rail], gp[rail]),
                )
            )
        else:
            ref = ctx.expect.reference_bytes
            units.append(
                Unit(
                    f"confirm/{suspect}-{partner}/nccl/all_reduce",
                    "confirm",
                    "nccl",
                    (suspect, partner),
                    round=rnd,
                    collective="all_reduce",
                    sizes=(ref, ref, 2),
                    env={"NCCL_ALGO": "Ring"},
                )
            )
    return units, low
