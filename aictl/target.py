"""How to reach a cluster's nodes: a target description, and the hosts a command selects.

A target says which user, key, known_hosts file and jump host to use, where a node answers
when not on its planned management address, what extra variables provisioning needs on this
kind of machine, and where the subnet manager runs and logs. A real cluster needs none (the
defaults: root, ~/.ssh, the planned addresses); the lab writes one for its twin
(`build/<cluster>/targets/lab.json`); a user may write their own. Commands take it with
`--target NAME|FILE`, never by guessing from what happens to lie in the build directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aictl.errors import TargetError, UsageError

if TYPE_CHECKING:
    from aictl.remote import SshOptions
    from aictl.remote import Target as Host
    from aictl.topology.model import NodePlacement, Topology

SCHEMA_VERSION = 1
KIND = "aictl.target"


@dataclass(frozen=True, slots=True)
class Address:
    """Where one node's sshd answers."""

    address: str
    port: int = 22


@dataclass(frozen=True)
class ClusterTarget:
    """A description of how to reach one cluster (see the module docstring)."""

    cluster: str
    user: str = "root"
    key: Path | None = None
    known_hosts: Path | None = None
    jump: str | None = None
    addresses: dict[str, Address] = field(default_factory=dict)
    extravars: dict[str, str] = field(default_factory=dict)
    sm_host: str | None = None
    sm_log: Path | None = None
    # the slurm.conf Slurm's clients on this machine use to reach the cluster's slurmctld
    # (SLURM_CONF); None: their own default
    slurm_conf: Path | None = None
    # the MPI plugin srun launches MPI programs with (`srun --mpi=`); None: pmix
    slurm_mpi: str | None = None
    simulated: bool = False
    name: str = "default"
    source: str = ""

    def as_json(self) -> dict[str, Any]:
        out = {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "name": self.name,
            "cluster": self.cluster,
            "simulated": self.simulated,
            "ssh": {
                "user": self.user,
                "key": str(self.key) if self.key else None,
                "known_hosts": str(self.known_hosts) if self.known_hosts else None,
                "jump": self.jump,
            },
            "addresses": {
                n: {"address": a.address, "port": a.port} for n, a in sorted(self.addresses.items())
            },
            "extravars": dict(sorted(self.extravars.items())),
            "subnet_manager": {
                "host": self.sm_host,
                "log": str(self.sm_log) if self.sm_log else None,
            },
        }
        if self.slurm_conf is not None or self.slurm_mpi is not None:  # absent otherwise
            out["slurm"] = {
                "conf": str(self.slurm_conf) if self.slurm_conf else None,
                "mpi": self.slurm_mpi,
            }
        return out

    def slurm_env(self) -> dict[str, str]:
        """What to add to a Slurm client's environment (scontrol, sinfo, srun on this
        machine) to reach this cluster's slurmctld: SLURM_CONF when the target names one."""
        return {"SLURM_CONF": str(self.slurm_conf)} if self.slurm_conf else {}

    @classmethod
    def from_json(cls, d: dict[str, Any], source: str = "") -> ClusterTarget:
        if d.get("kind") != KIND or d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"not an {KIND} v{SCHEMA_VERSION} document")
        ssh = d.get("ssh") or {}
        sm = d.get("subnet_manager") or {}
        slurm = d.get("slurm") or {}
        base = Path(source).parent if source else Path()

        def path(v: Any) -> Path | None:
            if not v:
                return None
            p = Path(str(v))
            return p if p.is_absolute() else base / p

        extravars = d.get("extravars") or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in extravars.items()):
            raise ValueError("extravars must map names to strings")
        return cls(
            cluster=str(d["cluster"]),
            user=str(ssh.get("user") or "root"),
            key=path(ssh.get("key")),
            known_hosts=path(ssh.get("known_hosts")),
            jump=ssh.get("jump") or None,
            addresses={
                str(n): Address(str(a["address"]), int(a.get("port", 22)))
                for n, a in (d.get("addresses") or {}).items()
            },
            extravars=dict(extravars),
            sm_host=sm.get("host") or None,
            sm_log=path(sm.get("log")),
            slurm_conf=path(slurm.get("conf")),
            slurm_mpi=str(slurm["mpi"]) if slurm.get("mpi") else None,
            simulated=bool(d.get("simulated")),
            name=str(d.get("name") or "default"),
            source=source,
        )

    def save(self, build: Path, name: str | None = None) -> Path:
        """Write it as build/<cluster>/targets/<name>.json (through the build directory's
        writer); returns the path."""
        from aictl import fsio
        from aictl.errors import ExitCode
        from aictl.jsonio import dumps

        rel = f"targets/{name or self.name}.json"
        return fsio.write_file(build, rel, dumps(self.as_json()).encode(), stage=ExitCode.USAGE)


def targets_dir(build: Path) -> Path:
    return build / "targets"


def load_target(build: Path, cluster: str, spec: str | None) -> ClusterTarget:
    """`--target`: a name under build/<cluster>/targets/ ('lab' is the lab's), or a file;
    none: the defaults for a real cluster."""
    if not spec:
        return ClusterTarget(cluster)
    named = targets_dir(build) / f"{spec}.json"
    path = named if "/" not in spec and not spec.endswith(".json") else Path(spec)
    if not path.is_file():
        have = sorted(p.stem for p in targets_dir(build).glob("*.json"))
        raise TargetError(
            f"no target {spec!r} ({path} does not exist)",
            hint=(f"targets of {cluster}: {', '.join(have)}" if have else "")
            + ("; " if have else "")
            + "`aictl lab up` writes the lab's (--target lab); or give a target file",
        )
    try:
        target = ClusterTarget.from_json(json.loads(path.read_text()), str(path))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TargetError(
            f"{path}: not a target description ({exc})",
            hint="see docs/architecture.md (targets) for its format",
        ) from None
    if target.cluster != cluster:
        raise TargetError(
            f"{path} describes cluster {target.cluster!r}, not {cluster!r}",
            hint="give the target of this cluster",
        )
    return target


def with_overrides(
    target: ClusterTarget,
    *,
    user: str | None = None,
    key: Path | None = None,
    known_hosts: Path | None = None,
    jump: str | None = None,
) -> ClusterTarget:
    """Command-line options win over the target's values."""
    changes: dict[str, Any] = {}
    if user is not None:
        changes["user"] = user
    if key is not None:
        changes["key"] = key
    if known_hosts is not None:
        changes["known_hosts"] = known_hosts
    if jump is not None:
        changes["jump"] = jump
    return replace(target, **changes) if changes else target


def select(topo: Topology, limit: str | None) -> list[NodePlacement]:
    """Nodes matching `--limit`: comma list of host globs, SU (su01) or rack names."""
    nodes = list(topo.nodes)
    if not limit:
        return nodes
    su_w = max(2, len(str(topo.shape.sus)))
    pats = [p.strip() for p in limit.split(",") if p.strip()]
    picked = [
        n
        for n in nodes
        if any(fnmatch(n.name, p) or p == f"su{n.su:0{su_w}d}" or p == n.rack for p in pats)
    ]
    if not picked:
        raise UsageError(
            f"--limit {limit!r} matches no node",
            hint="host globs (gpu0*), SUs (su01) or racks, comma separated",
        )
    return picked


def hosts(target: ClusterTarget, nodes: list[NodePlacement]) -> list[Host]:
    """What the SSH room dials for each node: the target's address, else the planned one."""
    from aictl.remote import Target as Host

    out = []
    for n in nodes:
        a = target.addresses.get(n.name)
        out.append(Host(n.name, a.address, a.port) if a else Host(n.name, n.mgmt_ip))
    return out


def host(target: ClusterTarget, topo: Topology, name: str) -> Host:
    """One host by name: a planned node, or any other host (a login or SM host) as given."""
    from aictl.remote import Target as Host

    if topo.has_node(name):
        return hosts(target, [topo.node(name)])[0]
    a = target.addresses.get(name)
    return Host(name, a.address, a.port) if a else Host(name, name)


def parse_jump(text: str) -> Host:
    """`host`, `host:port` or `[v6-address]:port` as the jump host (UsageError otherwise)."""
    import re

    from aictl.remote import Target as Host

    m = re.fullmatch(
        r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|([A-Za-z0-9_.][A-Za-z0-9_.-]*)(?::(\d{1,5}))?", text
    )
    port = int((m.group(2) or m.group(4) or "22") if m else 0)
    if m is None or not 1 <= port <= 65535:
        raise UsageError(
            f"--jump {text!r} is not host[:port]",
            hint="a host name or address and an optional port 1-65535, e.g. --jump bastion:2222",
        )
    host = m.group(1) or m.group(3)
    return Host(host, host, port)


def ssh_options(
    target: ClusterTarget,
    *,
    accept_new: bool = False,
    timeout: float = 60.0,
    forks: int = 64,
) -> SshOptions:
    """SshOptions from a target (keys and known_hosts: the target's, else ~/.ssh).

    Raises:
        UsageError: a jump host that is not host[:port], a key that is not a file.
    """
    from aictl.remote import SshOptions

    if target.key is not None and not target.key.is_file():
        raise UsageError(f"--key {target.key}: no such file", hint="the private key to log in with")
    return SshOptions(
        user=target.user,
        key=target.key,
        known_hosts=target.known_hosts or Path.home() / ".ssh" / "known_hosts",
        accept_new=accept_new,
        jump=parse_jump(target.jump) if target.jump else None,
        command_timeout=timeout,
        connect_timeout=min(timeout, 10.0),
        forks=forks,
    )


@dataclass
class Fleet:
    """The nodes one command reaches, and how: what every node-facing command starts from."""

    topo: Topology
    build: Path
    target: ClusterTarget
    nodes: list[NodePlacement]
    hosts: list[Host]
    opts: SshOptions

    def executor(self) -> Any:
        """The SSH executor for these options (an `aictl.remote.executor.Executor`)."""
        from aictl.remote.executor import SshExecutor

        return SshExecutor(self.opts)


def open_fleet(
    topo: Topology,
    *,
    build: Path,
    target: str | None = None,
    limit: str | None = None,
    user: str | None = None,
    key: Path | None = None,
    known_hosts: Path | None = None,
    jump: str | None = None,
    accept_new: bool = False,
    timeout: float = 60.0,
    forks: int = 64,
) -> Fleet:
    """The target (with the command line's overrides), the selected nodes, the SSH options."""
    desc = with_overrides(
        load_target(build, topo.name, target),
        user=user,
        key=key,
        known_hosts=known_hosts,
        jump=jump,
    )
    nodes = select(topo, limit)
    opts = ssh_options(desc, accept_new=accept_new, timeout=timeout, forks=forks)
    return Fleet(topo, build, desc, nodes, hosts(desc, nodes), opts)
