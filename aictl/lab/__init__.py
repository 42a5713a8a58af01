"""The lab: a cluster twin on one machine (`aictl lab up|status|inject|clear|down`).

Each planned node is a set of Linux namespaces (network, mount, UTS, PID) with its own root
(an overlay over the host's root, upper layer on a tmpfs) and a real sshd on its management
address; `bond0` carries that address (no bonding module needed) and every rail netdev of the
spec carries its rail address, on bridges the lab creates. The InfiniBand fabric is ibsim
running the plan's net file in the head node's network namespace, routed by opensm (ftree);
the head node's infiniband-diags talk to it. A real Slurm runs on the twin
(`aictl/lab/slurm.py`: munged, slurmctld on the head node, a slurmd in every node, configured
from the plan). GPUs and HCAs are simulated by
`aictl/lab/simtools.py`, which reads each node's hardware JSON (faults included).

Public entries: `lab_up`, `lab_status`, `lab_inject`, `lab_clear`, `lab_down`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aictl.errors import ExitCode, LabError, ToolMissingError
from aictl.lab import slurm as lab_slurm
from aictl.lab.accelerators import installed_stack, rails_of, vendor_tools
from aictl.lab.hardware import (
    FAULT_KINDS,
    NVIDIA_FAULTS,
    ROCE_FAULTS,
    aer_files,
    apply_fault,
    bonding_status,
    fabric_description,
    fm_log,
    node_hardware,
    planned_guids,
    roce_files,
)
from aictl.target import ClusterTarget, targets_dir

if TYPE_CHECKING:
    from aictl.topology.model import Topology

RUN_ROOT = Path("/run/aictl-lab")
SIM_TOOLS = (
    "nvidia-smi",
    "ibstat",
    "ibv_devinfo",
    "ibdev2netdev",
    "show_gids",
    "ofed_info",
    "lspci",
    "setpci",
    "lsmod",
    "systemctl",
    "lldpctl",
    "dmesg",
    "dcgmi",
    "ethtool",
    "mlnx_qos",
    "ib_write_bw",
    "ib_read_bw",
    "all_reduce_perf",
    "all_gather_perf",
    "reduce_scatter_perf",
    "alltoall_perf",
    "sendrecv_perf",
)
DIAGS = (
    "ibnetdiscover",
    "iblinkinfo",
    "ibtracert",
    "smpquery",
    "ibqueryerrors",
    "saquery",
    "perfquery",
    "ibroute",
    "dump_fts",
)
NODE_SCRIPT = """set -e
R={run}
N=$R/nodes/{node}
mount -t overlay overlay -o lowerdir=/,upperdir=$N/upper,workdir=$N/work $N/merged
M=$N/merged
mount --rbind /dev $M/dev
mount -t proc proc $M/proc
mount --rbind /sys $M/sys
mount -t tmpfs tmpfs $M/run
# a fresh machine: its own /root, /home and /tmp, none of the host's dotfiles or files
mkdir -p $M/root $M/home $M/tmp
mount -t tmpfs -o mode=0700,size=256m tmpfs $M/root
mount -t tmpfs -o mode=0755,size=64m tmpfs $M/home
mount -t tmpfs -o mode=1777,size=512m tmpfs $M/tmp
cp -a $N/etc-lab/root/. $M/root/
mkdir -p $M/run/sshd $M/opt/aictl-lab $M/etc/aictl-lab
mount --bind $R/shared $M/opt/aictl-lab
mount --bind $N/etc-lab $M/etc/aictl-lab
{installed}hostname {node}
{services}exec chroot $M /usr/sbin/sshd -D -e -f /etc/aictl-lab/sshd_config
"""


# where a lab node's simulated status files are, for the facts that read them (an SSH session
# gets them from sshd, the health check from /etc/default/aictl-healthcheck)
NODE_FACT_ENV = {
    "AICTL_BONDING_DIR": "/etc/aictl-lab/bonding",
    "AICTL_SYSFS": "/etc/aictl-lab/sys",
    "AICTL_FM_LOG": "/etc/aictl-lab/fabricmanager.log",
}
# a node's processes start from this, never the caller's environment
NODE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# ssh inside a node reads this, not the host's /etc/ssh/ssh_config (SendEnv, proxies, ...)
NODE_SSH_CONFIG = (
    "# aictl lab node: its own ssh client settings\n"
    "Host *\n  IdentityFile /root/.ssh/id_ed25519\n  UserKnownHostsFile /root/.ssh/known_hosts\n"
    "  StrictHostKeyChecking yes\n  BatchMode yes\n"
)


def _tag(cluster: str) -> str:
    return hashlib.sha256(cluster.encode()).hexdigest()[:6]


@dataclass(frozen=True, slots=True)
class LabPaths:
    """Where one lab keeps its runtime (tmpfs) and its client files (build dir)."""

    cluster: str
    build: Path

    @property
    def run(self) -> Path:
        return RUN_ROOT / self.cluster

    @property
    def state(self) -> Path:
        return self.run / "state.json"

    @property
    def client(self) -> Path:
        return self.build / "lab"

    @property
    def target(self) -> Path:
        """The lab's target description (`--target lab`)."""
        return targets_dir(self.build) / "lab.json"

    def node(self, name: str) -> Path:
        return self.run / "nodes" / name


def _keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair without a passphrase (the operator's key, each node's host key)."""
    _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))


def _sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and p.returncode != 0:
        raise LabError(f"`{' '.join(cmd)}` failed: {(p.stderr or p.stdout).strip()}")
    return p


def _daemon(
    cmd: list[str], *, log: Path, env: dict[str, str] | None = None, stdin_fd: int | None = None
) -> int:
    """Start `cmd` detached (double fork, own session); returns its PID.

    The lab's daemons must outlive the aictl process that started them, so they are not
    children of it: nothing to reap, and no Popen object to outlive.
    """
    read_end, write_end = os.pipe()
    first = os.fork()
    if first == 0:  # pragma: no cover - runs in the forked child
        try:
            os.close(read_end)
            os.setsid()
            second = os.fork()
            if second:
                os.write(write_end, str(second).encode())
                os._exit(0)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(stdin_fd if stdin_fd is not None else os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execvpe(cmd[0], cmd, env if env is not None else dict(os.environ))  # noqa: S606
        finally:
            os._exit(127)
    os.close(write_end)
    os.waitpid(first, 0)
    with os.fdopen(read_end) as fh:
        return int(fh.read() or 0)


def _require(topo: Topology) -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root (namespaces, mounts, bridges)",
            hint="run as root, e.g. sudo .venv/bin/aictl lab up --preset lab-small",
        )
    tools = ["ip", "unshare", "/usr/sbin/sshd", "ssh-keygen", "mount"]
    if topo.ib_fabric is not None:
        tools += ["ibsim", "ibsim-run", "opensm", "ibnetdiscover"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise ToolMissingError(
            f"the lab needs {', '.join(missing)}", hint="bash scripts/setup.sh installs them"
        )
    lab_slurm.require()
    if not Path("/usr/bin/python3").exists():
        raise ToolMissingError(
            "the lab's simulated tools need /usr/bin/python3", hint="apt-get install python3"
        )


def _check_free(topo: Topology) -> None:
    from ipaddress import IPv4Network

    mgmt = topo.spec.addressing.management.subnet
    routes = json.loads(_sh("ip", "-j", "route", "show").stdout or "[]")
    for r in routes:
        dst = r.get("dst", "")
        if not dst or not dst[0].isdigit():
            continue
        net = IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)
        if net.overlaps(mgmt):
            raise LabError(
                f"the management subnet {mgmt} is already routed here ({dst} dev {r.get('dev')})",
                hint="another lab is up with the same "
                "subnet (aictl lab down), or give this spec its own subnet",
            )


def lab_up(topo: Topology, *, build: Path) -> dict[str, Any]:
    """Bring the whole twin up; returns the status. Rolls back on failure."""
    _require(topo)
    paths = LabPaths(topo.name, build)
    if paths.state.exists():
        raise LabError(f"lab {topo.name} is already up", hint=f"aictl lab down {topo.name}")
    _check_free(topo)
    started = time.monotonic()
    state: dict[str, Any] = {
        "cluster": topo.name,
        "tag": _tag(topo.name),
        "build": str(build),
        "nodes": {},
        "bridges": [],
        "fabric": {},
        "faults": [],
        "simulated": True,
    }
    try:
        _prepare(paths, state)
        _networks(topo, paths, state)
        _slurm(topo, paths, state)
        _nodes(topo, paths, state)
        if topo.ib_fabric is not None:
            _fabric(topo, paths, state)
        _wait_ssh(topo, state)
        lab_slurm.wait_nodes(_slurm_paths(paths), len(topo.nodes))
        _client_files(topo, paths, state)
    except BaseException:
        _save(paths, state)
        lab_down(topo.name, build=build)
        raise
    state["up_seconds"] = round(time.monotonic() - started, 1)
    _save(paths, state)
    return lab_status(topo.name)


def _save(paths: LabPaths, state: dict[str, Any]) -> None:
    if paths.run.is_dir():
        paths.state.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def _prepare(paths: LabPaths, state: dict[str, Any]) -> None:
    paths.run.mkdir(parents=True, exist_ok=True)
    _sh(
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=2g,mode=0755",
        f"aictl-lab-{state['tag']}",
        str(paths.run),
    )
    state["mounted"] = True
    shared = paths.run / "shared"
    shared.mkdir()
    sim = shared / "simtools.py"
    shutil.copyfile(Path(__file__).with_name("simtools.py"), sim)
    sim.chmod(0o755)
    # the operator's key is made in the lab's runtime dir, then copied into the build dir
    key = paths.run / "id_ed25519"
    _keygen(key, f"aictl-lab-{paths.cluster}")
    _client_write(paths, "id_ed25519", key.read_bytes(), mode=0o600)
    _client_write(paths, "id_ed25519.pub", key.with_suffix(".pub").read_bytes())
    shutil.copyfile(key.with_suffix(".pub"), shared / "authorized_keys")
    shutil.copyfile(Path(__file__).with_name("fabricmodel.py"), shared / "fabricmodel.py")
    # the AMD and Ascend nodes' tools, beside the ones they dispatch from
    for name in ("simamd.py", "simascend.py"):
        shutil.copyfile(Path(__file__).with_name(name), shared / name)
    (shared / "npu").mkdir(mode=0o1777)
    for sub in ("jobs", "flows"):
        (shared / sub).mkdir(mode=0o1777)
    _install_aictl(shared)


# Lab nodes run the aictl that runs the lab, as a real node runs the aictl installed on it
# (the health check slurmd starts): its interpreter is bound read-only at
# /opt/aictl-lab/python (where it lives may be under the host's /root, which a node does not
# see), and the launcher /opt/aictl-lab/bin/aictl adds aictl's site-packages. Installed code
# under a directory a node has fresh (/tmp, /home, /root, /run) is bound at its own path.
_FRESH = ("/tmp", "/home", "/root", "/run")  # noqa: S108 - mount points, not temp files


def _purelib() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"]).resolve()


def _site_dirs() -> list[Path]:
    """aictl's site-packages and, for an editable install, the tree that holds aictl."""
    return sorted({_purelib(), Path(__file__).resolve().parents[2]})


def _install_aictl(shared: Path) -> None:
    (shared / "python").mkdir()
    (shared / "bin").mkdir()
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    purelib = shlex.quote(str(_purelib()))
    code = (
        "import site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'aictl'; "
        "from aictl.cli.main import main; sys.exit(main())"
    )
    launcher = shared / "bin" / "aictl"
    launcher.write_text(
        "#!/bin/sh\n# aictl lab: the aictl that runs this lab, as if installed on the node\n"
        f'exec /opt/aictl-lab/python/bin/{ver} -I -c "{code}" {purelib} "$@"\n'
    )
    launcher.chmod(0o755)


def _installed_mounts() -> str:
    """The node script's lines that show it the aictl installed on it (see _install_aictl)."""
    base = Path(sys.base_prefix).resolve()
    lines = [f"mount --bind -o ro {shlex.quote(str(base))} $M/opt/aictl-lab/python"]
    for d in _site_dirs():
        if str(d).startswith(_FRESH):
            q = shlex.quote(str(d))
            lines.append(f"mkdir -p $M{q} && mount --bind -o ro {q} $M{q}")
    return "".join(ln + "\n" for ln in lines)


def _client_write(paths: LabPaths, name: str, data: bytes, *, mode: int = 0o644) -> None:
    from aictl import fsio

    fsio.write_file(paths.build, f"lab/{name}", data, stage=ExitCode.INTERNAL, mode=mode)


def _networks(topo: Topology, paths: LabPaths, state: dict[str, Any]) -> None:
    tag = state["tag"]
    mgmt = topo.spec.addressing.management.subnet
    # one bridge per rail of every fabric whose rails are host NICs (an Ascend NPU's ports
    # are inside the NPU: the simulated hccn_tool and the fabric model carry them)
    bridges = [f"ai{tag}m"]
    for f in topo.fabrics:
        if any(topo.profile(n).host_rails for n in topo.fabric_nodes(f.name)):
            bridges += [rail_bridge(topo, tag, f.name, r) for r in range(f.rails)]
    for br in bridges:
        _sh("ip", "link", "add", br, "type", "bridge")
        state["bridges"].append(br)
        _sh("ip", "link", "set", br, "up")
    _sh("ip", "addr", "add", f"{topo.mgmt_gateway}/{mgmt.prefixlen}", "dev", bridges[0])


def rail_bridge(topo: Topology, tag: str, fabric: str, rail: int) -> str:
    """The lab's bridge of one rail: `ai<tag>r<rail>`, with the fabric's index when the plan
    has several (interface names stay within 15 characters)."""
    if not topo.several_fabrics:
        return f"ai{tag}r{rail}"
    index = [f.name for f in topo.fabrics].index(fabric)
    return f"ai{tag}f{index}r{rail}"


def _write_fabric(paths: LabPaths, fab: dict[str, Any]) -> None:
    tmp = paths.run / "shared" / ".fabric.json"
    tmp.write_text(json.dumps(fab, indent=1, sort_keys=True))
    tmp.replace(paths.run / "shared" / "fabric.json")


def _nodes(topo: Topology, paths: LabPaths, state: dict[str, Any]) -> None:
    tag = state["tag"]
    _write_fabric(paths, fabric_description(topo))
    mgmt_len = topo.spec.addressing.management.subnet.prefixlen
    from ipaddress import IPv4Network

    guids = planned_guids(topo)
    for node in topo.nodes:
        ns = f"aictl-{tag}-{node.name}"
        d = paths.node(node.name)
        for sub in ("upper/usr/local/bin", "work", "merged", "etc-lab"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        _sh("ip", "netns", "add", ns)
        prof = topo.profile(node)
        fabric = topo.fabric_of(node)
        state["nodes"][node.name] = {
            "ns": ns,
            "mgmt_ip": node.mgmt_ip,
            "pid": 0,
            # whether its HCAs are in ibsim (faults on them go through ibsim's console)
            "ib": fabric.transport == "infiniband",
        }
        _sh("ip", "-n", ns, "link", "set", "lo", "up")
        links = [(prof.bond.name, f"ai{tag}m", node.mgmt_ip, mgmt_len)]
        links += [
            (
                nic.netdev,
                rail_bridge(topo, tag, fabric.name, nic.index),
                node.rail_ips[nic.index],
                IPv4Network(topo.rail_net(node, nic.index).subnet).prefixlen,
            )
            for nic in prof.host_rails
        ]
        # planned MTUs on both ends (a veth drops frames larger than its peer's MTU)
        mtus = [prof.bond.mtu] + [prof.rail_mtu] * len(prof.host_rails)
        for i, (ifname, bridge, ip, plen) in enumerate(links):
            host_end = f"v{tag}{node.index:03d}{i}"
            _sh(
                "ip",
                "link",
                "add",
                host_end,
                "mtu",
                str(mtus[i]),
                "type",
                "veth",
                "peer",
                "name",
                ifname,
                "mtu",
                str(mtus[i]),
                "netns",
                ns,
            )
            _sh("ip", "link", "set", host_end, "master", bridge, "up")
            _sh("ip", "-n", ns, "addr", "add", f"{ip}/{plen}", "dev", ifname)
            _sh("ip", "-n", ns, "link", "set", ifname, "up")
        _sh("ip", "-n", ns, "route", "add", "default", "via", topo.mgmt_gateway)
        # simulated tools first on PATH (the node's vendor's: an AMD node has no
        # nvidia-smi); node identity and hardware in /etc/aictl-lab
        for tool in vendor_tools(prof.gpu.vendor, SIM_TOOLS):
            (d / "upper/usr/local/bin" / tool).symlink_to("/opt/aictl-lab/simtools.py")
        installed_stack(d / "upper", prof.gpu.vendor)
        hw = node_hardware(topo, node, guids)
        (d / "etc-lab" / "hardware.base.json").write_text(json.dumps(hw, indent=1, sort_keys=True))
        (d / "etc-lab" / "hardware.json").write_text(json.dumps(hw, indent=1, sort_keys=True))
        _node_files(d / "etc-lab", hw)
        _keygen(d / "etc-lab" / "ssh_host_ed25519_key", node.name)
        (d / "etc-lab" / "sshd_config").write_text(
            f"ListenAddress {node.mgmt_ip}:22\n"
            "HostKey /etc/aictl-lab/ssh_host_ed25519_key\nPidFile /run/sshd.pid\n"
            "AuthorizedKeysFile /opt/aictl-lab/authorized_keys\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "MaxStartups 64:30:128\nMaxSessions 64\nSubsystem sftp internal-sftp\n"
            "LogLevel ERROR\nSetEnv "
            + " ".join(f"{k}={v}" for k, v in NODE_FACT_ENV.items())
            + "\n"
        )
        # the health check slurmd starts reads its site settings from here, not from sshd
        (d / "upper/etc/default").mkdir(parents=True, exist_ok=True)
        (d / "upper/etc/default/aictl-healthcheck").write_text(
            "# aictl lab: where this node's simulated status files are\n"
            + "".join(f"{k}={v}\n" for k, v in NODE_FACT_ENV.items())
        )
        (d / "etc-lab" / "bonding").mkdir(exist_ok=True)
        (d / "etc-lab" / "bonding" / hw["bond"]["name"]).write_text(bonding_status(hw) + "\n")

    _node_client_files(topo, paths)
    for node in topo.nodes:
        _start_node(paths, state, node.name)


def _node_client_files(topo: Topology, paths: LabPaths) -> None:
    """Inside every node: /etc/hosts with the lab's names, root's SSH key and known_hosts
    (mpirun and Ansible hop from node to node with verified host keys)."""
    known = []
    for node in topo.nodes:
        pub = (paths.node(node.name) / "etc-lab" / "ssh_host_ed25519_key.pub").read_text()
        known.append(f"{node.name},{node.mgmt_ip} {' '.join(pub.split()[:2])}")
    hosts = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
    hosts += "# aictl lab\n" + "".join(f"{n.mgmt_ip} {n.name}\n" for n in topo.nodes)
    key = paths.run / "id_ed25519"
    for node in topo.nodes:
        upper = paths.node(node.name) / "upper"
        (upper / "etc" / "ssh").mkdir(parents=True, exist_ok=True)
        (upper / "etc" / "hosts").write_text(hosts)
        (upper / "etc" / "ssh" / "ssh_config").write_text(NODE_SSH_CONFIG)
        # copied into the node's fresh /root when it starts (NODE_SCRIPT)
        ssh = paths.node(node.name) / "etc-lab" / "root" / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        ssh.chmod(0o700)
        shutil.copyfile(key, ssh / "id_ed25519")
        (ssh / "id_ed25519").chmod(0o600)
        (ssh / "known_hosts").write_text("\n".join(known) + "\n")
        (ssh / "config").write_text(
            "Host *\n  IdentityFile /root/.ssh/id_ed25519\n"
            "  StrictHostKeyChecking yes\n  BatchMode yes\n"
        )


def _slurm_paths(paths: LabPaths) -> lab_slurm.SlurmPaths:
    return lab_slurm.SlurmPaths(paths.run / "slurm")


def _slurm(topo: Topology, paths: LabPaths, state: dict[str, Any]) -> None:
    """Slurm's files, munged, and every node's /etc/slurm (its daemons start with the node)."""
    head = fabric_head(topo)
    sp = lab_slurm.write_config(topo, _slurm_paths(paths).root, head=head)
    state["slurm"] = {"head": head, "conf": str(sp.conf), "munged": 0}
    for node in topo.nodes:
        etc = paths.node(node.name) / "upper" / "etc" / "slurm"
        etc.mkdir(parents=True, exist_ok=True)
        for name in ("slurm.conf", "gres.conf", "topology.conf", "cgroup.conf"):
            (etc / name).symlink_to(sp.root / name)
    state["slurm"]["munged"] = _daemon(
        lab_slurm.munged_argv(sp), log=sp.munge / "munged.stdout", env=NODE_ENV
    )
    lab_slurm.wait_munge(sp)


def _start_node(paths: LabPaths, state: dict[str, Any], name: str) -> None:
    info = state["nodes"][name]
    slurm = state.get("slurm") or {}
    services = (
        lab_slurm.node_services(_slurm_paths(paths), node=name, head=slurm["head"]) if slurm else ""
    )
    script = NODE_SCRIPT.format(
        run=paths.run, node=name, services=services, installed=_installed_mounts()
    )
    info["launcher"] = _daemon(
        [
            "ip",
            "netns",
            "exec",
            info["ns"],
            "unshare",
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
        ],
        log=paths.node(name) / "node.log",
        env=NODE_ENV,
    )
    info["sshd"] = "starting"


def _wait_ssh(topo: Topology, state: dict[str, Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    pending = {
        n.name: n.mgmt_ip for n in topo.nodes if state["nodes"][n.name].get("sshd") != "down"
    }
    while pending and time.monotonic() < deadline:
        for name, ip in list(pending.items()):
            try:
                with socket.create_connection((ip, 22), timeout=0.3) as s:
                    s.recv(4)
                state["nodes"][name]["sshd"] = "up"
                pending.pop(name)
            except OSError:
                continue
        time.sleep(0.1)
    if pending:
        raise LabError(
            f"sshd did not come up on {', '.join(sorted(pending))}",
            hint="see the node.log files under " + str(RUN_ROOT),
        )


def _client_files(topo: Topology, paths: LabPaths, state: dict[str, Any]) -> None:
    known, config, hosts = [], [], []
    key = paths.client / "id_ed25519"
    for node in topo.nodes:
        pub = (paths.node(node.name) / "etc-lab" / "ssh_host_ed25519_key.pub").read_text()
        kt, kb64 = pub.split()[:2]
        known.append(f"{node.name},{node.mgmt_ip} {kt} {kb64}")
        config += [
            f"Host {node.name}",
            f"  HostName {node.mgmt_ip}",
            "  User root",
            f"  IdentityFile {key.resolve()}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {(paths.client / 'known_hosts').resolve()}",
            "  StrictHostKeyChecking yes",
            "",
        ]
        hosts.append(f"{node.name} {node.mgmt_ip} 22")
    _client_write(paths, "known_hosts", ("\n".join(known) + "\n").encode())
    _client_write(paths, "ssh_config", "\n".join(config).encode())
    _client_write(paths, "hosts.txt", ("\n".join(hosts) + "\n").encode())
    state["client"] = {
        "key": str(key),
        "known_hosts": str(paths.client / "known_hosts"),
        "ssh_config": str(paths.client / "ssh_config"),
        "target": str(paths.target),
    }
    lab_target(topo, paths, state).save(paths.build)


NODE_AICTL_PATH = "/opt/aictl-lab/bin/aictl"  # written by _install_aictl
# what provisioning needs on a lab node: no systemd, so netplan is validated, not applied,
# and the MOFED restart is a no-op; the node's own python3 runs the modules
LAB_EXTRAVARS = {
    "ansible_python_interpreter": "/usr/bin/python3",
    "network_apply_command": "netplan generate",
    "mofed_restart_command": "true",
    # the health check runs the aictl that runs the lab, installed on every node
    "health_aictl_bin": NODE_AICTL_PATH,
}


def lab_target(topo: Topology, paths: LabPaths, state: dict[str, Any]) -> ClusterTarget:
    """How later commands reach this lab (`--target lab`)."""
    fab = state.get("fabric") or {}
    return ClusterTarget(
        cluster=topo.name,
        user="root",
        key=(paths.client / "id_ed25519").resolve(),
        known_hosts=(paths.client / "known_hosts").resolve(),
        extravars=dict(LAB_EXTRAVARS),
        sm_host=fab.get("head"),
        sm_log=(paths.run / "fabric" / "opensm.log") if fab else None,
        slurm_conf=Path(state["slurm"]["conf"]) if state.get("slurm") else None,
        slurm_mpi=lab_slurm.MPI_DEFAULT if state.get("slurm") else None,
        simulated=True,
        name="lab",
    )


def _fabric(topo: Topology, paths: LabPaths, state: dict[str, Any]) -> None:
    from aictl.topology.exports import ibnet

    head = fabric_head(topo)
    ns = state["nodes"][head]["ns"]
    fab = paths.run / "fabric"
    (fab / "osm").mkdir(parents=True)
    files = ibnet.render_all(topo)
    net = fab / "ibsim.net"
    net.write_text(files["ibsim.net"])
    (fab / "roots.guids").write_text(files["ftree-roots.guids"])
    (fab / "cns.guids").write_text(files["ftree-cns.guids"])
    sock = f"aictl-{state['tag']}"
    fifo = fab / "console.fifo"
    os.mkfifo(fifo)
    # hold the console open read-write: ibsim never sees EOF (it would spin on it)
    console = os.open(fifo, os.O_RDWR)
    args = (
        net.read_text()
        .splitlines()[1]
        .removeprefix("# ibsim ")
        .removesuffix(" <this file>")
        .split()
    )
    args = [a for a in args if a != "-n"]
    env = {
        **os.environ,
        "IBSIM_SOCKNAME": sock,
        "OSM_CACHE_DIR": str(fab / "osm"),
        "OSM_TMP_DIR": str(fab / "osm"),
    }
    env.pop("LD_PRELOAD", None)
    sim = _daemon(
        ["ip", "netns", "exec", ns, "ibsim", *args, str(net)],
        env=env,
        stdin_fd=console,
        log=fab / "ibsim.log",
    )
    os.close(console)
    state["fabric"] = {"head": head, "ns": ns, "sock": sock, "ibsim": sim, "console": str(fifo)}
    for _ in range(200):
        if "simulator ready" in (fab / "ibsim.log").read_text():
            break
        time.sleep(0.05)
    else:
        raise LabError("ibsim did not start", hint=f"see {fab / 'ibsim.log'}")
    subprocess.run(
        ["opensm", "-c", str(fab / "osm" / "opensm.conf")],
        env=env,
        capture_output=True,
        check=False,
    )
    osm_log = fab / "opensm.log"
    state["fabric"]["opensm"] = _daemon(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "ibsim-run",
            "opensm",
            "-F",
            str(fab / "osm" / "opensm.conf"),
            "-d",
            "2",
            "-s",
            "5",
            "-f",
            str(osm_log),
            "-R",
            "ftree",
            "-a",
            str(fab / "roots.guids"),
            "-u",
            str(fab / "cns.guids"),
        ],
        env=env,
        log=fab / "opensm.stdout",
    )
    for _ in range(300):
        if osm_log.exists() and "SUBNET UP" in osm_log.read_text():
            break
        time.sleep(0.1)
    else:
        raise LabError("opensm did not bring the subnet up", hint=f"see {osm_log}")
    state["fabric"]["routing"] = (
        "ftree" if "ftree tables configured on all switches" in osm_log.read_text() else "other"
    )
    _record_lids(topo, paths, state, env)
    upper = paths.node(head) / "upper/usr/local/bin"
    for tool in DIAGS:
        real = shutil.which(tool)
        if real is None:
            continue
        wrapper = upper / tool
        wrapper.write_text(
            f"#!/bin/sh\n# aictl lab: {tool} against the simulated fabric\n"
            + (
                f"echo '# aictl-lab: simulated fabric (ibsim), {tool} output (node01)'\n".replace(
                    "node01", head
                )
                if tool in ("ibnetdiscover", "dump_fts", "ibqueryerrors")
                else ""
            )
            + f'IBSIM_SOCKNAME={sock} exec ibsim-run {real} "$@"\n'
        )
        wrapper.chmod(0o755)


def fabric_head(topo: Topology) -> str:
    """The node the subnet manager and the diagnostics run beside: the spec's first subnet
    manager host when it is a planned node, else the first node in cabling order."""
    for h in topo.spec.subnet_manager.hosts:
        if topo.has_node(h):
            return h
    return topo.nodes[0].name  # one node (the head), not the fleet


def _record_lids(
    topo: Topology, paths: LabPaths, state: dict[str, Any], env: dict[str, str]
) -> None:
    import re

    ns = state["fabric"]["ns"]
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "ibsim-run", "ibnetdiscover", "-p"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    lids = {
        m.group(2): int(m.group(1))
        for m in re.finditer(r"^CA\s+(\d+)\s+\d+\s+\S+\s+.*\(\s*'([^']+)'", out, re.M)
    }
    sm = re.search(r"sm_lid\s+(\d+)", out)
    for node in topo.nodes:
        for name in ("hardware.base.json", "hardware.json"):
            f = paths.node(node.name) / "etc-lab" / name
            hw = json.loads(f.read_text())
            for nic in hw["nics"]:
                nic["lid"] = lids.get(f"{node.name} {nic['dev']}", 0)
            hw["sm_lid"] = int(sm.group(1)) if sm else 1
            f.write_text(json.dumps(hw, indent=1, sort_keys=True))


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] not in ("Z", "X")
    except OSError:
        return False


def labs_up() -> list[str]:
    """Clusters whose lab is up on this machine."""
    if not RUN_ROOT.is_dir():
        return []
    return sorted(p.parent.name for p in RUN_ROOT.glob("*/state.json"))


def _load(cluster: str) -> tuple[LabPaths, dict[str, Any]]:
    state_file = RUN_ROOT / cluster / "state.json"
    if not state_file.exists():
        raise LabError(f"no lab {cluster!r} is up", hint="aictl lab up --preset lab-small")
    state: dict[str, Any] = json.loads(state_file.read_text())
    return LabPaths(cluster, Path(state["build"])), state


def _slurm_status(paths: LabPaths, state: dict[str, Any]) -> dict[str, Any]:
    """Slurm's own view of the lab: sinfo's rows (or why it did not answer)."""
    from aictl.facts.slurm import parse_sinfo

    slurm = state.get("slurm") or {}
    if not slurm:
        return {}
    try:
        p = lab_slurm.sinfo(_slurm_paths(paths))
        text = p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        text = "sinfo: error: no answer from slurmctld in 10 s"
    parsed = parse_sinfo(text)
    return {
        "conf": slurm["conf"],
        "controller": slurm["head"],
        "munged": "up" if _alive(int(slurm.get("munged") or 0)) else "down",
        "sinfo": parsed.as_json(),
    }


def lab_status(cluster: str) -> dict[str, Any]:
    """Nodes, addresses, sshd, fabric, Slurm's view (sinfo) and active faults, as data."""
    paths, state = _load(cluster)
    nodes = []
    for name, info in state["nodes"].items():
        up = False
        try:
            with socket.create_connection((info["mgmt_ip"], 22), timeout=0.5):
                up = True
        except OSError:
            pass
        nodes.append(
            {
                "name": name,
                "mgmt_ip": info["mgmt_ip"],
                "netns": info["ns"],
                "sshd": "up" if up else "down",
            }
        )
    fab = state.get("fabric") or {}
    fabric = {}
    if fab:
        fabric = {
            "ibsim": "up" if _alive(fab["ibsim"]) else "down",
            "opensm": "up" if _alive(fab["opensm"]) else "down",
            "routing": fab.get("routing"),
            "head": fab["head"],
        }
    return {
        "cluster": cluster,
        "simulated": True,
        "nodes": nodes,
        "fabric": fabric,
        "slurm": _slurm_status(paths, state),
        "faults": state["faults"],
        "client": state.get("client", {}),
        "up_seconds": state.get("up_seconds"),
    }


def _console(state: dict[str, Any], *commands: str) -> None:
    fd = os.open(state["fabric"]["console"], os.O_WRONLY | os.O_NONBLOCK)
    try:
        for c in commands:
            os.write(fd, (c + "\n").encode())
            time.sleep(0.2)
    finally:
        os.close(fd)


def _hw_edit(paths: LabPaths, host: str, fault: dict[str, Any]) -> dict[str, Any]:
    f = paths.node(host) / "etc-lab" / "hardware.json"
    hw: dict[str, Any] = json.loads(f.read_text())
    apply_fault(hw, fault)
    f.write_text(json.dumps(hw, indent=1, sort_keys=True))
    _node_files(f.parent, hw)
    return hw


def _node_files(etc: Path, hw: dict[str, Any]) -> None:
    """The files a node's tools read besides its hardware JSON: sysfs AER counters, and the
    RoCE rails' ECN switches and hw_counters (under AICTL_SYSFS) and, on NVSwitch nodes, the
    fabric manager log (AICTL_FM_LOG)."""
    sysfs = etc / "sys"
    if sysfs.is_dir():
        shutil.rmtree(sysfs)
    # AER counters of every PCIe device; on RoCE rails the ECN switches and hw_counters
    for rel, text in {**aer_files(hw), **roce_files(hw)}.items():
        (sysfs / rel).parent.mkdir(parents=True, exist_ok=True)
        (sysfs / rel).write_text(text + "\n")
    if hw.get("nvswitch"):
        (etc / "fabricmanager.log").write_text(fm_log(hw))


# port counters the link faults set through ibsim's console: (end, counter, value)
LINK_COUNTERS = {
    "link-errors": (("leaf", "SymbolErrorCounter", 500), ("hca", "PortRcvErrors", 20)),
    "link-flap": (("leaf", "LinkDownedCounter", 3), ("hca", "LinkDownedCounter", 3)),
}


def _counters(state: dict[str, Any], fault: dict[str, Any], nic: dict[str, Any], on: bool) -> None:
    """Set (or zero) the counters of a link fault on both ends of the rail's cable."""
    ends = {
        "leaf": f'"{nic["leaf"]}"[{nic["leaf_port"]}]',
        "hca": f'"{fault["host"]}-{nic["dev"]}"[1]',
    }
    _console(
        state,
        *(
            f"PerformanceSet {ends[end]} PortCounters.{counter}={value if on else 0}"
            for end, counter, value in LINK_COUNTERS[fault["kind"]]
        ),
    )


def lab_inject(
    cluster: str,
    kind: str,
    *,
    host: str,
    rail: int | None = None,
    gpu: int | None = None,
    factor: float | None = None,
    with_host: str | None = None,
    code: int | None = None,
) -> dict[str, Any]:
    """Inject a fault; returns it as recorded. See FAULT_KINDS (`code`: the Xid of `xid`)."""
    paths, state = _load(cluster)
    if kind not in FAULT_KINDS:
        raise LabError(f"unknown fault {kind!r}", hint=f"kinds: {', '.join(FAULT_KINDS)}")
    for h in (host, with_host):
        if h is not None and h not in state["nodes"]:
            raise LabError(
                f"no node {h!r} in lab {cluster}", hint=f"nodes: {', '.join(state['nodes'])}"
            )
    hw = json.loads((paths.node(host) / "etc-lab" / "hardware.json").read_text())
    rails = rails_of(hw)
    if kind == "swap-cables" and not hw["nics"]:
        raise LabError(
            f"{host} has no host NICs to swap cables between (its rails are NPU ports)",
            hint="inject port-down or slow-nic on an NPU port (--rail)",
        )
    vendor = hw.get("vendor", "nvidia")
    if kind in NVIDIA_FAULTS and vendor != "nvidia":
        raise LabError(
            f"{kind} shows only through NVIDIA's driver and tools; {host} is a {vendor} node",
            hint="on AMD and Ascend nodes: ecc-errors, nvlink-down (xGMI/HCCS), aer-errors, "
            "pcie-degraded, port-down, slow-nic",
        )
    if kind in ROCE_FAULTS and not any(n["link_layer"] == "Ethernet" for n in hw["nics"]):
        raise LabError(
            f"{host} has no RoCE host rails (ConnectX on Ethernet) for {kind}",
            hint="inject it on a node of a RoCE group with PCIe NICs",
        )
    if rail is not None and not 0 <= rail < rails:
        raise LabError(f"rail {rail} does not exist (0..{rails - 1})")
    if gpu is not None and not 0 <= gpu < len(hw["gpus"]):
        raise LabError(f"GPU {gpu} does not exist (0..{len(hw['gpus']) - 1})")
    fault: dict[str, Any] = {
        "kind": kind,
        "host": host,
        "rail": rail,
        "gpu": gpu,
        "factor": factor,
        "with": with_host,
    }
    if kind == "xid":  # the kernel logs it now, with the Xid asked for
        fault.update(code=code or 119, at=round(time.time(), 6))
    fabric = state.get("fabric") or {}
    in_ibsim = bool(fabric) and state["nodes"][host].get("ib", True)
    if kind == "port-down":
        r = rail or 0
        if in_ibsim:
            _console(state, f'Unlink "{host}-{hw["nics"][r]["dev"]}"[1]')
    elif kind == "swap-cables":
        r = rail or 0
        other_host, other_rail = (with_host, r) if with_host else (host, (r + 1) % rails)
        other_hw = json.loads((paths.node(other_host) / "etc-lab" / "hardware.json").read_text())
        a, b = hw["nics"][r], other_hw["nics"][other_rail]
        fault["with"], fault["with_rail"] = other_host, other_rail
        if in_ibsim:
            _console(
                state,
                f'Unlink "{host}-{a["dev"]}"[1]',
                f'Unlink "{other_host}-{b["dev"]}"[1]',
                f'Link "{host}-{a["dev"]}"[1] "{b["leaf"]}"[{b["leaf_port"]}]',
                f'Link "{other_host}-{b["dev"]}"[1] "{a["leaf"]}"[{a["leaf_port"]}]',
            )
    elif kind in LINK_COUNTERS:
        if not fabric:
            raise LabError(f"{kind} needs the lab's InfiniBand fabric (ibsim)")
        _counters(state, fault, hw["nics"][rail or 0], on=True)
    elif kind == "sshd-down":
        _stop_node(state, host)
        state["nodes"][host]["sshd"] = "down"
    _hw_edit(paths, host, fault)
    state["faults"].append(fault)
    _save(paths, state)
    _sync_fabric_faults(paths, state)
    return fault


def _sync_fabric_faults(paths: LabPaths, state: dict[str, Any]) -> None:
    fab = json.loads((paths.run / "shared" / "fabric.json").read_text())
    fab["faults"] = state["faults"]
    _write_fabric(paths, fab)


def _stop_node(state: dict[str, Any], name: str) -> None:
    info = state["nodes"][name]
    ns = info["ns"]
    pids = _sh("ip", "netns", "pids", ns, check=False).stdout.split()
    fabric = state.get("fabric") or {}
    keep = {str(fabric.get("ibsim")), str(fabric.get("opensm"))}
    for pid in pids:
        # the fabric runs in the head node's network namespace: keep it
        if pid in keep or _parent_in(pid, keep):
            continue
        _kill(int(pid), signal.SIGKILL)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _parent_in(pid: str, keep: set[str]) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[3] in keep
    except OSError:
        return False


def lab_clear(cluster: str) -> int:
    """Undo every fault: hardware back to the plan, cables back in place, sshd restarted."""
    paths, state = _load(cluster)
    faults = state["faults"]
    fabric = state.get("fabric") or {}
    for f in faults:
        hw = json.loads((paths.node(f["host"]) / "etc-lab" / "hardware.base.json").read_text())
        in_ibsim = bool(fabric) and state["nodes"][f["host"]].get("ib", True)
        if in_ibsim and f["kind"] == "port-down":
            n = hw["nics"][f["rail"] or 0]
            _console(state, f'Link "{f["host"]}-{n["dev"]}"[1] "{n["leaf"]}"[{n["leaf_port"]}]')
        elif in_ibsim and f["kind"] == "swap-cables":
            other = json.loads(
                (paths.node(f["with"]) / "etc-lab" / "hardware.base.json").read_text()
            )
            a, b = hw["nics"][f["rail"] or 0], other["nics"][f["with_rail"]]
            _console(
                state,
                f'Unlink "{f["host"]}-{a["dev"]}"[1]',
                f'Unlink "{f["with"]}-{b["dev"]}"[1]',
                f'Link "{f["host"]}-{a["dev"]}"[1] "{a["leaf"]}"[{a["leaf_port"]}]',
                f'Link "{f["with"]}-{b["dev"]}"[1] "{b["leaf"]}"[{b["leaf_port"]}]',
            )
        elif fabric and f["kind"] in LINK_COUNTERS:
            _counters(state, f, hw["nics"][f["rail"] or 0], on=False)
        elif f["kind"] == "sshd-down":
            _start_node(paths, state, f["host"])
    for name in state["nodes"]:
        base = paths.node(name) / "etc-lab" / "hardware.base.json"
        (paths.node(name) / "etc-lab" / "hardware.json").write_text(base.read_text())
        _node_files(base.parent, json.loads(base.read_text()))
    state["faults"] = []
    _save(paths, state)
    _sync_fabric_faults(paths, state)
    if any(f["kind"] == "sshd-down" for f in faults):
        deadline = time.monotonic() + 20
        for f in faults:
            if f["kind"] != "sshd-down":
                continue
            ip = state["nodes"][f["host"]]["mgmt_ip"]
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection((ip, 22), timeout=0.3):
                        break
                except OSError:
                    time.sleep(0.1)
            state["nodes"][f["host"]]["sshd"] = "up"
        _save(paths, state)
    return len(faults)


def lab_down(cluster: str, *, build: Path | None = None) -> list[str]:
    """Remove everything the lab created: processes, namespaces, bridges, mounts, files.

    Works from the state file, and also sweeps by the lab's name tag, so a half-built lab
    is cleaned up too. Returns what it removed.
    """
    tag = _tag(cluster)
    removed: list[str] = []
    state: dict[str, Any] = {}
    state_file = RUN_ROOT / cluster / "state.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
    paths = LabPaths(cluster, Path(state.get("build") or build or Path("build") / cluster))
    fabric = state.get("fabric") or {}
    daemons = {**fabric, "munged": (state.get("slurm") or {}).get("munged")}
    for key in ("opensm", "ibsim", "munged"):
        pid = daemons.get(key)
        if pid and _alive(pid):
            _kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            if _alive(pid):
                _kill(pid, signal.SIGKILL)
            removed.append(f"process {key}")
    namespaces = [
        line.split()[0]
        for line in _sh("ip", "netns", "list", check=False).stdout.splitlines()
        if line.startswith(f"aictl-{tag}-")
    ]
    for ns in namespaces:
        for pid in _sh("ip", "netns", "pids", ns, check=False).stdout.split():
            _kill(int(pid), signal.SIGKILL)
    for ns in namespaces:
        for _ in range(20):
            if not _sh("ip", "netns", "pids", ns, check=False).stdout.split():
                break
            time.sleep(0.05)
        _sh("ip", "netns", "del", ns, check=False)
        removed.append(f"netns {ns}")
    links = json.loads(_sh("ip", "-j", "link", "show", check=False).stdout or "[]")
    for link in links:
        name = link.get("ifname", "")
        if name.startswith((f"ai{tag}", f"v{tag}")):
            _sh("ip", "link", "del", name, check=False)
            removed.append(f"link {name}")
    run = paths.run
    munge_pid = _slurm_paths(paths).munge / "munged.pid"  # a lab that crashed before saving
    with contextlib.suppress(OSError, ValueError):
        pid = int(munge_pid.read_text().strip())
        if _alive(pid) and "munged" in Path(f"/proc/{pid}/cmdline").read_text():
            _kill(pid, signal.SIGKILL)
            removed.append("process munged")
    if run.is_dir():
        if _sh("mountpoint", "-q", str(run), check=False).returncode == 0:
            _sh("umount", "-l", str(run), check=False)
            removed.append(f"mount {run}")
        shutil.rmtree(run, ignore_errors=True)
    if RUN_ROOT.is_dir() and not any(RUN_ROOT.iterdir()):
        RUN_ROOT.rmdir()
    if paths.client.is_dir():
        shutil.rmtree(paths.client, ignore_errors=True)
        removed.append(f"files {paths.client}")
    if paths.target.exists():
        paths.target.unlink()
        removed.append(f"target {paths.target}")
        with contextlib.suppress(OSError):
            paths.target.parent.rmdir()
    return removed
