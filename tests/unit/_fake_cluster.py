"""A whole cluster behind a FakeExecutor: every command acceptance and preflight send gets the
output the lab's simulated tools would print, with numbers from the same fabric model, but no
SSH, no namespaces and no processes. Faults go into `fab["faults"]` (as the lab records them).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import threading
from typing import TYPE_CHECKING, Any

from aictl.lab import fabricmodel, simtools
from aictl.lab.hardware import (
    aer_grep,
    apply_fault,
    bonding_status,
    fabric_description,
    fm_log,
    node_hardware,
    planned_guids,
    roce_text,
)
from aictl.remote.fake import FakeExecutor, Reply

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aictl.topology.model import Topology

# the simulated tools print to sys.stdout: one capture at a time (the executor is threaded)
_STDOUT = threading.Lock()


class FakeCluster:
    """The lab's tools, answered in-process (see the module docstring)."""

    def __init__(self, topo: Topology, tmp: Path) -> None:
        self.topo = topo
        self.fab = fabric_description(topo)
        guids = planned_guids(topo)
        self.hw = {n.name: node_hardware(topo, n, guids) for n in topo.nodes}
        self.fabric_file = tmp / "fabric.json"
        self.before: Callable[[str, str], None] | None = None
        self.dcgm_level = "2"
        self._sync()

    @staticmethod
    def _clock(hw: dict[str, Any]) -> str:
        """The clock line preflight's commands print: a minute after the last injected event."""
        last = max((e["at"] for e in hw.get("kernel_log", [])), default=1767225600.0)
        return f"# aictl clock {last + 60:.0f} uptime 86400 window 86400"

    def inject(self, **fault: Any) -> None:
        full = {"rail": None, "gpu": None, "factor": None, "with": None, **fault}
        self.fab["faults"].append(full)
        apply_fault(self.hw[full["host"]], full)
        self._sync()

    def _sync(self) -> None:
        self.fabric_file.write_text(json.dumps(self.fab))
        simtools.FABRIC_FILE = str(self.fabric_file)

    def executor(self, forks: int = 16) -> FakeExecutor:
        return FakeExecutor(self.respond, forks=forks)

    # ---- the tools -------------------------------------------------------------------
    def respond(self, host: str, command: str) -> Reply:
        if self.before is not None:
            self.before(host, command)
        hw = self.hw[host]
        if command == "nvidia-smi topo -m":
            return Reply("\n".join([simtools.mark("nvidia-smi", hw), *simtools.topo_matrix(hw)]))
        if "@@aictl-rc" in command:
            return Reply(self._preflight(hw, command))
        if "_perf" in command:
            return self._nccl(host, command)
        if "ib_write_bw" in command:
            return self._perftest(host, command)
        return Reply("", 127, f"{command.split()[0]}: command not found")

    def _preflight(self, hw: dict[str, Any], script: str) -> str:
        out = []
        for name in re.findall(r"echo '@@aictl (\S+)'", script):
            tools: dict[str, Callable[[], str]] = {
                "nvidia-smi-q": lambda: _call(simtools.nvidia_smi, ["-q"], hw),
                "topo": lambda: "\n".join(simtools.topo_matrix(hw)),
                "nvlink": lambda: _call(simtools.nvidia_smi, ["nvlink", "-s"], hw),
                "fabricmanager": lambda: hw["fabricmanager"],
                "lsmod": lambda: _call(simtools.lsmod, [], hw),
                "ofed_info": lambda: _call(simtools.ofed_info, ["-s"], hw),
                "ibstat": lambda: _call(simtools.ibstat, [], hw),
                "lspci": lambda: _call(simtools.lspci, ["-vvv"], hw),
                "bonding": lambda: bonding_status(hw),
                "ip-link": lambda: json.dumps(_links(hw, self.topo.profile(hw["node"]).rail_mtu)),
                # day-2 facts, each with the shape its command gives
                "kernel-log": lambda: self._clock(hw) + "\n" + _call(simtools.dmesg, [], hw),
                "nvlink-errors": lambda: _call(simtools.nvidia_smi, ["nvlink", "-e"], hw),
                "aer": lambda: aer_grep(hw),
                "roce": lambda: roce_text(hw),
                "fabricmanager-log": lambda: self._clock(hw) + "\n" + fm_log(hw),
                "dcgm": lambda: _call(simtools.dcgmi, ["diag", "-r", self.dcgm_level, "-j"], hw),
            }
            text = tools[name]()
            rc = 3 if name == "fabricmanager" and hw["fabricmanager"] != "active" else 0
            out.append(f"@@aictl {name}\n{text.rstrip()}\n@@aictl-rc {name} {rc}")
        return "\n".join(out) + "\n"

    def _perftest(self, host: str, command: str) -> Reply:
        sides = [part for part in command.split(";") if "ib_write_bw" in part]
        client = shlex.split(sides[-1].strip().removeprefix("sleep 0.5").strip())
        args = client[client.index("ib_write_bw") + 1 :]
        dev = simtools._opt(args, "-d") or ""
        hw = self.hw[host]
        nic = next((n for n in hw["nics"] if n["dev"] == dev), None)
        if nic is None:
            return Reply("", 1, f"IB device {dev} not found\n")
        cuda = simtools._opt(args, "--use_cuda")
        peer = simtools._positional(args)
        if peer is None:  # a server: it prints its side when the client is done
            return Reply(simtools.mark("ib_write_bw", hw) + "\n" + "*" * 36 + "\n")
        rail = nic["rail"]
        if len(sides) > 1:  # loopback: the server's GPU is its own --use_cuda
            s_cuda = simtools._opt(shlex.split(sides[0].split(">")[0]), "--use_cuda")
        else:  # a pair: the server side uses the GPU beside its rail NIC
            partner = self.hw[peer]["nics"][rail]["gpus"]
            s_cuda = str(partner[0]) if cuda is not None and partner else None
        gbps = fabricmodel.perftest_gbps(
            self.fab,
            host,
            rail,
            int(cuda) if cuda is not None else None,
            peer,
            rail,
            int(s_cuda) if s_cuda is not None else None,
            8 * 2**20,
        )
        head = simtools._perf_header("ib_write_bw", nic, 1, nic["lid"], 1, False)
        text = [simtools.mark("ib_write_bw", hw)]
        if cuda is not None:
            text += simtools._cuda_chatter(hw, int(cuda))
        text += head
        if isinstance(gbps, str):
            text += [f" Completion with error at client\n {gbps}"]
            return Reply("\n".join(text) + "\n", 1)
        text += [simtools._units(True), simtools._row(8 * 2**20, 5000, gbps, True), simtools.DASH]
        if len(sides) > 1:
            text += ["@@aictl server", simtools.mark("ib_write_bw", hw)]
        return Reply("\n".join(text) + "\n")

    def _nccl(self, host: str, command: str) -> Reply:
        words = shlex.split(command)
        prog = next(w for w in words if w.endswith("_perf"))
        args = words[words.index(prog) + 1 :]
        if "-H" in words:
            hosts = [h.split(":")[0] for h in words[words.index("-H") + 1].split(",")]
            slots = [int(h.split(":")[1]) for h in words[words.index("-H") + 1].split(",")]
        else:
            hosts, slots = [host], [1]
        ngpus = int(simtools._opt(args, "-g") or 1)
        ranks: list[dict[str, Any]] = []
        for h, n in zip(hosts, slots, strict=True):
            for local in range(n):
                if (local + 1) * ngpus > len(self.hw[h]["gpus"]):
                    msg = f"{h}: Test CUDA failure common.cu:1009 'invalid device ordinal'\n"
                    return Reply(msg, 2)
                ranks.append(
                    {"rank": len(ranks), "host": h, "pid": 100 + len(ranks), "local": local}
                )
        name, redop = simtools.NCCL[prog]
        buf = io.StringIO()
        with _STDOUT, contextlib.redirect_stdout(buf):
            print("\n".join(simtools._nccl_header(prog, args, ngpus, self.hw[host])))
            code = simtools._nccl_report(prog, name, redop, args, ranks, ngpus, self.hw[host])
        return Reply(buf.getvalue(), code)


def _call(
    fn: Callable[[list[str], dict[str, Any]], int], args: list[str], hw: dict[str, Any]
) -> str:
    buf = io.StringIO()
    with _STDOUT, contextlib.redirect_stdout(buf):
        fn(args, hw)
    return buf.getvalue()


def _links(hw: dict[str, Any], mtu: int = 4092) -> list[dict[str, Any]]:
    out = [{"ifname": hw["bond"]["name"], "mtu": hw["bond"]["mtu"], "operstate": "UP"}]
    return out + [{"ifname": n["netdev"], "mtu": mtu, "operstate": "UP"} for n in hw["nics"]]
