"""How a unit's commands are spelled: perftest over SSH, nccl-tests through a launcher.

Every node is launched with its own profile: its GPU count, its rail devices, its bond.

- ssh (default): `mpirun` on the unit's first node with a host list, TCP bootstrap on the
  bond, `-x` for the NCCL variables of the rendered /etc/nccl.conf and the unit's own (Ring).
  Nodes with the same GPU count run one process each with `-g <GPUs>`; a unit over nodes with
  different GPU counts runs one process per GPU (`-g 1`, `host:<GPUs>` slots): nccl-tests
  needs the same `-g` in every process.
- slurm: `srun` on a login host, one task per node with `--gpus-per-node` (same counts), or
  one task per GPU placed by an arbitrary-distribution host file (different counts); the NCCL
  variables in srun's environment, `--mpi=` the target's plugin (else pmix).
- k8s: an MPIJob with the Multus rail networks (rendered by the kubernetes target), applied
  with kubectl; its launcher's log is the output.
perftest always runs over SSH: it is not an MPI program. A server is started first with a
timeout, so one that never sees its client goes away on its own.

Per vendor: GPUDirect is perftest's --use_cuda (NVIDIA) or --use_rocm (AMD); RCCL reads the
NCCL_* variables and rccl-tests takes nccl-tests' arguments; hccl_test runs one MPI rank per
NPU on every node (`-p <NPUs per node>`, even on one node), with the HCCL_* variables of the
rendered /etc/aictl/hccl.env. Ascend's rails are the NPUs' own ports: hccn_tool says each
port's link and health, and pings the peer NPU's address over the rail; every hccn_tool call
is echoed before its output, which is how its parser knows the device.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from aictl.topology.vendors import benchmark_args

if TYPE_CHECKING:
    from aictl.accept.model import Unit
    from aictl.topology.model import Topology

PERF_BYTES = 8 * 2**20
PERF_ITERS = 5000
BASE_PORT = 18600


def nccl_env(topo: Topology, unit: Unit) -> dict[str, str]:
    """The NCCL variables a test needs: what /etc/nccl.conf sets on its nodes, plus the unit's.

    Nodes of different groups may name their rail devices differently: NCCL_IB_HCA then lists
    every group's devices (each node uses the ones it has)."""
    profiles = [topo.profile(h) for h in unit.hosts]
    env: dict[str, str] = {}
    for prof in profiles:
        for k, v in prof.nccl_env:
            env.setdefault(k, v)
    if hccl(topo, unit):
        # hccl.env's variables; the NPU ports carry their own addresses
        env.update(dict(unit.env))
        return dict(sorted(env.items()))
    devices = list(dict.fromkeys(d for p in profiles for d in p.rdma_devices))
    env["NCCL_IB_HCA"] = "=" + ",".join(f"{d}:1" for d in devices)
    env["NCCL_DEBUG"] = "WARN"
    env.update(dict(unit.env))
    return dict(sorted(env.items()))


def hccl(topo: Topology, unit: Unit) -> bool:
    """The unit's nodes are Ascend's (a unit never spans two vendors)."""
    return topo.profile(unit.hosts[0]).gpu.vendor == "huawei"


def gpu_counts(topo: Topology, unit: Unit) -> list[int]:
    """GPUs per host of the unit."""
    return [topo.profile(h).gpu.count for h in unit.hosts]


def uniform(topo: Topology, unit: Unit) -> bool:
    """Every host of the unit has the same GPU count (one process per node is possible)."""
    return len(set(gpu_counts(topo, unit))) == 1


def nccl_args(topo: Topology, unit: Unit, per: int) -> list[str]:
    """The benchmark's arguments: `per` GPUs per process (nccl-tests, rccl-tests) or NPUs per
    node (hccl_test)."""
    lo, hi, f = unit.sizes
    vendor = topo.profile(unit.hosts[0]).gpu.vendor
    return benchmark_args(vendor, unit.collective, (str(lo), str(hi), str(f)), per, check=True)


def ssh_nccl(topo: Topology, unit: Unit, timeout: int) -> tuple[str, str]:
    """(host to run on, command) for the ssh launcher."""
    first = topo.profile(unit.hosts[0])
    env = nccl_env(topo, unit)
    counts = gpu_counts(topo, unit)
    npus = hccl(topo, unit)
    if len(unit.hosts) == 1 and not npus:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        args = nccl_args(topo, unit, counts[0])
        return unit.hosts[0], f"env {exports} timeout {timeout} {shlex.join(args)}"
    bond = first.bond.name
    if npus:
        # one rank per NPU, every node alike (hccl_test's -p is NPUs per node)
        procs, slots, per = sum(counts), counts, min(counts)
        mapping = "slot"
    elif uniform(topo, unit):
        procs, slots, per = len(unit.hosts), [1] * len(unit.hosts), counts[0]
        mapping = "node"
    else:
        procs, slots, per = sum(counts), counts, 1
        mapping = "slot"
    cmd = ["timeout", str(timeout), "mpirun", "--allow-run-as-root", "-np", str(procs)]
    cmd += ["-H", ",".join(f"{h}:{n}" for h, n in zip(unit.hosts, slots, strict=True))]
    cmd += ["--map-by", mapping]
    cmd += ["--mca", "btl_tcp_if_include", bond, "--mca", "oob_tcp_if_include", bond]
    for k, v in env.items():
        cmd += ["-x", f"{k}={v}"]
    return unit.hosts[0], shlex.join(cmd + nccl_args(topo, unit, per))


def slurm_nccl(topo: Topology, unit: Unit, timeout: int, *, mpi: str | None = None) -> str:
    """The srun command for the slurm launcher (run on the login host); `mpi`: srun's MPI
    plugin (the target's, else pmix).

    The NCCL variables go in srun's own environment (`--export=ALL` passes it on): srun splits
    `--export=` at every comma, and NCCL_IB_HCA's value has commas. With one task per GPU the
    host file is the node list (`-w` beside it is refused: "Asked for 12 tasks have 2 in the
    nodelist")."""
    env = ["env", *(f"{k}={v}" for k, v in nccl_env(topo, unit).items())]
    counts = gpu_counts(topo, unit)
    cmd = [*env, "srun", "-N", str(len(unit.hosts))]
    prefix = ""
    if hccl(topo, unit):
        # one task per NPU; Ascend's NPUs are not a Slurm GPU gres here (the job gets the node)
        cmd += ["-w", ",".join(unit.hosts), f"--ntasks-per-node={min(counts)}", "--exclusive"]
        per = min(counts)
    elif uniform(topo, unit):
        cmd += ["-w", ",".join(unit.hosts), "--ntasks-per-node=1", f"--gpus-per-node={counts[0]}"]
        per = counts[0]
    else:
        # one task per GPU, placed exactly: the host file lists each host once per GPU
        lines = "\\n".join(h for h, n in zip(unit.hosts, counts, strict=True) for _ in range(n))
        prefix = f"hf=$(mktemp) && printf '{lines}\\n' > $hf && SLURM_HOSTFILE=$hf "
        cmd += [f"--ntasks={sum(counts)}", "--distribution=arbitrary", "--gpus-per-task=1"]
        per = 1
    cmd += [f"--mpi={mpi or 'pmix'}", f"--time={max(1, timeout // 60)}", "--export=ALL"]
    return prefix + shlex.join(cmd + nccl_args(topo, unit, per))


def k8s_manifest(topo: Topology, unit: Unit, name: str) -> str:
    """The MPIJob for the k8s launcher (every worker asks for the smallest group's GPUs)."""
    from aictl.render.targets.kubernetes import mpijob

    lo, hi, f = unit.sizes
    return mpijob(
        topo,
        name=name,
        workers=len(unit.hosts),
        prog=f"{unit.collective}_perf",
        sizes=(str(lo), str(hi), str(f)),
        env=dict(unit.env),
        hosts=unit.hosts,
    )


def perftest(
    topo: Topology,
    unit: Unit,
    *,
    host: str,
    server: bool,
    peer: str,
    gpu: int | None,
    timeout: int,
) -> str:
    """One side of an ib_write_bw test on the unit's rail, as `host` runs it."""
    prof = topo.profile(host)
    assert unit.rail is not None
    dev = prof.host_rails[unit.rail].rdma_device
    port = BASE_PORT + (0 if unit.stage == "node" else 10) + unit.rail
    cmd = ["timeout", str(timeout), "ib_write_bw", "-d", dev, "-p", str(port), "-F"]
    cmd += ["--report_gbits", "-s", str(PERF_BYTES), "-n", str(PERF_ITERS)]
    if prof.gid_index is not None:
        cmd += ["-x", str(prof.gid_index)]
    flag = prof.vendor.gdr_flag
    if gpu is not None and flag is not None:
        cmd.append(f"{flag}={gpu}")
    if not server:
        cmd.append(peer)
    return shlex.join(cmd)


def loopback(topo: Topology, unit: Unit, timeout: int) -> str:
    """Server and client on one node through the rail's port (GPUDirect on or off)."""
    host = unit.hosts[0]
    gdr = unit.kind == "gdr"
    srv = perftest(
        topo,
        unit,
        host=host,
        server=True,
        peer=host,
        gpu=unit.gpus[0] if gdr else None,
        timeout=timeout,
    )
    cli = perftest(
        topo,
        unit,
        host=host,
        server=False,
        peer=host,
        gpu=unit.gpus[-1] if gdr else None,
        timeout=timeout,
    )
    return (
        f"srv=$(mktemp); {srv} >$srv 2>&1 & sleep 1; {cli}; rc=$?; wait; "
        "echo '@@aictl server'; cat $srv; rm -f $srv; exit $rc"
    )


def hccn(device: int, op: str, *args: str) -> str:
    """One hccn_tool query, echoed first (its output never names the device)."""
    line = shlex.join(["hccn_tool", "-i", str(device), f"-{op}", "-g", *args])
    return f"echo {shlex.quote(line)}; {line}"


PORT_OPS = ("link", "net_health", "ip", "stat")


def npu_port(unit: Unit, timeout: int) -> str:
    """An NPU port's link, health, address and error counters (hccn_tool)."""
    assert unit.rail is not None
    body = "; ".join(hccn(unit.rail, op) for op in PORT_OPS)
    return f"timeout {timeout} bash -c {shlex.quote(body)}"


def npu_ping(topo: Topology, unit: Unit, timeout: int) -> tuple[str, str]:
    """(host, command): the first node's NPU pings the second's NPU on the same rail."""
    assert unit.rail is not None
    a, b = unit.hosts
    peer = topo.node(b).rail_ips[unit.rail]
    body = hccn(unit.rail, "ping", "address", peer)
    return a, f"timeout {timeout} bash -c {shlex.quote(body)}"
