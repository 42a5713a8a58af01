"""How a unit's commands are spelled: perftest over SSH, nccl-tests through a launcher.

- ssh (default): `mpirun` on the unit's first node with a host list (one process per node,
  `-g <GPUs>`), TCP bootstrap on the bond, `-x` for the NCCL variables of the rendered
  /etc/nccl.conf (exact `NCCL_IB_HCA`, `NCCL_SOCKET_IFNAME`) and the unit's own (Ring).
- slurm: `srun -N <n> -w <hosts> --ntasks-per-node=1 --gpus-per-node=<GPUs> --mpi=pmix
  --export=ALL,...` on a login host.
- k8s: an MPIJob with the Multus rail networks (rendered by the kubernetes target), applied
  with kubectl; its launcher's log is the output.
perftest always runs over SSH: it is not an MPI program. A server is started first with a
timeout, so one that never sees its client goes away on its own.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aictl.accept.plan import Unit
    from aictl.topology.model import Topology

LAUNCHERS = ("ssh", "slurm", "k8s")
PERF_BYTES = 8 * 2**20
PERF_ITERS = 5000
BASE_PORT = 18600


def _profile(topo: Topology):  # type: ignore[no-untyped-def]
    return topo.spec.node_profiles[topo.nodes[0].profile]


def nccl_env(topo: Topology, unit: Unit) -> dict[str, str]:
    """The NCCL variables a test needs (as /etc/nccl.conf has them, plus the unit's)."""
    prof = _profile(topo)
    bond = prof.storage_nics.bond.name if prof.storage_nics else "bond0"
    env = {
        "NCCL_IB_HCA": "=" + ",".join(f"{n.rdma_device}:1" for n in prof.compute_nics.rails),
        "NCCL_SOCKET_IFNAME": f"={bond}",
        "NCCL_DEBUG": "WARN",
    }
    env.update({k: str(v) for k, v in prof.nccl_env.items() if k != "NCCL_IB_HCA"})
    env.update(unit.env)
    return dict(sorted(env.items()))


def nccl_args(topo: Topology, unit: Unit) -> list[str]:
    lo, hi, f = unit.sizes
    gpus = _profile(topo).gpu.count
    return [
        f"{unit.collective}_perf",
        "-b",
        str(lo),
        "-e",
        str(hi),
        "-f",
        str(f),
        "-g",
        str(gpus),
        "-c",
        "1",
    ]


def ssh_nccl(topo: Topology, unit: Unit, timeout: int) -> tuple[str, str]:
    """(host to run on, command) for the ssh launcher."""
    prof = _profile(topo)
    bond = prof.storage_nics.bond.name if prof.storage_nics else "bond0"
    args = nccl_args(topo, unit)
    env = nccl_env(topo, unit)
    if len(unit.hosts) == 1:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        return unit.hosts[0], f"env {exports} timeout {timeout} {shlex.join(args)}"
    cmd = ["timeout", str(timeout), "mpirun", "--allow-run-as-root", "-np", str(len(unit.hosts))]
    cmd += ["-H", ",".join(f"{h}:1" for h in unit.hosts), "--map-by", "node"]
    cmd += ["--mca", "btl_tcp_if_include", bond, "--mca", "oob_tcp_if_include", bond]
    for k, v in env.items():
        cmd += ["-x", f"{k}={v}"]
    return unit.hosts[0], shlex.join(cmd + args)


def slurm_nccl(topo: Topology, unit: Unit, timeout: int) -> str:
    """The srun command for the slurm launcher (run on the login host)."""
    gpus = _profile(topo).gpu.count
    env = ",".join(f"{k}={v}" for k, v in nccl_env(topo, unit).items())
    cmd = ["srun", "-N", str(len(unit.hosts)), "-w", ",".join(unit.hosts)]
    cmd += ["--ntasks-per-node=1", f"--gpus-per-node={gpus}", "--mpi=pmix"]
    cmd += [f"--time={max(1, timeout // 60)}", f"--export=ALL,{env}"]
    return shlex.join(cmd + nccl_args(topo, unit))


def k8s_manifest(topo: Topology, unit: Unit, name: str) -> str:
    """The MPIJob for the k8s launcher."""
    from aictl.render.targets.kubernetes import mpijob

    lo, hi, f = unit.sizes
    return mpijob(
        topo,
        name=name,
        workers=len(unit.hosts),
        prog=f"{unit.collective}_perf",
        sizes=(str(lo), str(hi), str(f)),
        env=dict(unit.env),
    )


def perftest(
    topo: Topology, unit: Unit, *, server: bool, peer: str, gpu: int | None, timeout: int
) -> str:
    """One side of an ib_write_bw test on the unit's rail."""
    prof = _profile(topo)
    assert unit.rail is not None
    dev = prof.compute_nics.rails[unit.rail].rdma_device
    port = BASE_PORT + (0 if unit.stage == "node" else 10) + unit.rail
    cmd = ["timeout", str(timeout), "ib_write_bw", "-d", dev, "-p", str(port), "-F"]
    cmd += ["--report_gbits", "-s", str(PERF_BYTES), "-n", str(PERF_ITERS)]
    gid = prof.nccl_env.get("NCCL_IB_GID_INDEX")
    if gid is not None:
        cmd += ["-x", str(gid)]
    if gpu is not None:
        cmd.append(f"--use_cuda={gpu}")
    if not server:
        cmd.append(peer)
    return shlex.join(cmd)


def loopback(topo: Topology, unit: Unit, timeout: int) -> str:
    """Server and client on one node through the rail's port (GPUDirect on or off)."""
    host = unit.hosts[0]
    gdr = unit.kind == "gdr"
    srv = perftest(
        topo, unit, server=True, peer=host, gpu=unit.gpus[0] if gdr else None, timeout=timeout
    )
    cli = perftest(
        topo, unit, server=False, peer=host, gpu=unit.gpus[-1] if gdr else None, timeout=timeout
    )
    return (
        f"srv=$(mktemp); {srv} >$srv 2>&1 & sleep 1; {cli}; rc=$?; wait; "
        "echo '@@aictl server'; cat $srv; rm -f $srv; exit $rc"
    )
