"""A piece of a RoCE fabric in real FRR: switches of a plan, each in its own network
namespace with its rendered frr.conf (zebra + bgpd), cabled with veth pairs named and
numbered as the plan's ports (`swp<port>`). Nothing touches /etc/frr or the host's routes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aictl.render import render_all
from aictl.topology.model import Topology

FRR = Path("/usr/lib/frr")


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@dataclass
class FrrFabric:
    """The running switches: their namespaces and private FRR directories."""

    root: Path
    ns: dict[str, str]

    def vty(self, name: str, cmd: str) -> str:
        """`vtysh -c CMD` on one switch."""
        d = self.root / name
        return subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                self.ns[name],
                "vtysh",
                "--vty_socket",
                str(d),
                "--config_dir",
                str(d),
                "-c",
                cmd,
            ],
            capture_output=True,
            text=True,
        ).stdout

    def link(self, name: str, port: str, up: bool) -> None:
        """Take a switch port down (the cable pulled) or up."""
        _sh("ip", "-n", self.ns[name], "link", "set", f"swp{port}", "up" if up else "down")


@contextmanager
def frr_fabric(topo: Topology, names: list[str], prefix: str) -> Iterator[FrrFabric]:
    """Start `names` (planned switches) with their rendered configs; always torn down."""
    confs = {
        a.path.split("/")[1]: a.data.decode()
        for a in render_all(topo, targets=["switches"]).artifacts
        if a.path.endswith("frr.conf") and a.path.split("/")[1] in names
    }
    ns = {n: f"{prefix}-{i}" for i, n in enumerate(names)}
    # the daemons run as user frr: their directories must be reachable (pytest's are 0700)
    root = Path(tempfile.mkdtemp(prefix="aictl-frr-"))
    root.chmod(0o755)
    try:
        for n in names:
            _sh("ip", "netns", "add", ns[n])
            _sh("ip", "-n", ns[n], "link", "set", "lo", "up")
        links = [
            c
            for c in topo.cables
            if c.tier == "leaf-spine" and c.a_device in names and c.b_device in names
        ]
        for i, c in enumerate(links):
            a, b = f"v{i}a", f"v{i}b"
            _sh(
                "ip",
                "link",
                "add",
                a,
                "netns",
                ns[c.a_device],
                "type",
                "veth",
                "peer",
                "name",
                b,
                "netns",
                ns[c.b_device],
            )
            _sh("ip", "-n", ns[c.a_device], "link", "set", a, "name", f"swp{c.a_port}")
            _sh("ip", "-n", ns[c.b_device], "link", "set", b, "name", f"swp{c.b_port}")
            for dev, port in ((c.a_device, c.a_port), (c.b_device, c.b_port)):
                _sh("ip", "-n", ns[dev], "link", "set", f"swp{port}", "mtu", "9216", "up")
        for n in names:
            d = root / n
            d.mkdir()
            (d / "frr.conf").write_text(confs[n])
            (d / "vtysh.conf").write_text("service integrated-vtysh-config\n")
            shutil.chown(d, "frr", "frr")
            for f in d.iterdir():
                shutil.chown(f, "frr", "frr")
            for daemon in ("zebra", "bgpd"):
                _sh(
                    "ip",
                    "netns",
                    "exec",
                    ns[n],
                    str(FRR / daemon),
                    "-d",
                    "-i",
                    str(d / f"{daemon}.pid"),
                    "-z",
                    str(d / "zserv.api"),
                    "--vty_socket",
                    str(d),
                )
            # the integrated config is applied through vtysh, as `vtysh -b` does at boot
            _sh(
                "ip",
                "netns",
                "exec",
                ns[n],
                "vtysh",
                "--vty_socket",
                str(d),
                "--config_dir",
                str(d),
                "-f",
                str(d / "frr.conf"),
            )
        yield FrrFabric(root, ns)
    finally:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for line in listed.splitlines():
            if line.startswith(prefix):
                name = line.split()[0]
                pids = subprocess.run(
                    ["ip", "netns", "pids", name], capture_output=True, text=True
                ).stdout.split()
                for pid in pids:
                    os.kill(int(pid), signal.SIGKILL)
                subprocess.run(["ip", "netns", "del", name], check=False)
        time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
