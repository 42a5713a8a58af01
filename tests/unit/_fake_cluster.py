"""A whole cluster behind a FakeExecutor: every command acceptance and preflight send gets the
output the lab's simulated tools would print, with numbers from the same fabric model, but no
SSH, no namespaces and no processes. Faults go into `fab["faults"]` (as the lab records them).

AMD nodes answer with the simulated amd-smi/rocm-smi and rccl-tests; Ascend nodes with
npu-smi, hccn_tool (each node's /etc/hccn.conf written as provisioning leaves it, from the
rendered file) and hccl_test.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import threading
from typing import TYPE_CHECKING, Any

from aictl.lab import fabricmodel, simamd, simascend, simtools
from aictl.lab.accelerators import stack_files
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
        self.tmp = tmp
        self.dcgm_level = "2"
        self._sync()
        from aictl.render.targets.hosts import ascend_node_files

        for n in topo.nodes:
            prof = topo.profile(n)
            if prof.gpu.vendor == "huawei":
                conf = ascend_node_files(topo, n, prof)["etc/hccn.conf"]
                (tmp / f"{n.name}-hccn.conf").write_text(conf)
                with _STDOUT, _ascend(self.tmp, n.name):
                    simascend.publish(self.hw[n.name], simascend.read_conf())

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
        if "_test " in command:
            return self._hccl(host, command)
        if "hccn_tool" in command:
            return self._hccn(host, command)
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
                # AMD
                "amd-smi": lambda: _call(simamd.amd_smi, [], hw),
                "amd-smi-topology": lambda: _call(simamd.amd_smi, ["topology"], hw),
                "rocm-smi-topo": lambda: _call(simamd.rocm_smi, ["--showtopo"], hw),
                # Ascend
                "npu-smi": lambda: _call(simascend.npu_smi, ["info"], hw),
                "npu-smi-topo": lambda: _call(simascend.npu_smi, ["info", "-t", "topo"], hw),
                "ascend-versions": lambda: _versions(hw),
                "hccn_tool": lambda: self._hccn_all(hw),
                # day-2 facts, each with the shape its command gives
                "kernel-log": lambda: self._clock(hw) + "\n" + _call(simtools.dmesg, [], hw),
                "nvlink-errors": lambda: _call(simtools.nvidia_smi, ["nvlink", "-e"], hw),
                "aer": lambda: aer_grep(hw),
                "roce": lambda: roce_text(hw),
                "fabricmanager-log": lambda: self._clock(hw) + "\n" + fm_log(hw),
                "dcgm": lambda: _call(simtools.dcgmi, ["diag", "-r", self.dcgm_level, "-j"], hw),
            }
            if name == "lsmod" and hw.get("vendor") == "amd":
                tools["lsmod"] = lambda: _call(simamd.lsmod, [], hw)
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
        flag = "--use_rocm" if hw.get("vendor") == "amd" else "--use_cuda"
        cuda = simtools._opt(args, flag)
        peer = simtools._positional(args)
        if peer is None:  # a server: it prints its side when the client is done
            return Reply(simtools.mark("ib_write_bw", hw) + "\n" + "*" * 36 + "\n")
        rail = nic["rail"]
        if len(sides) > 1:  # loopback: the server's GPU is its own --use_cuda
            s_cuda = simtools._opt(shlex.split(sides[0].split(">")[0]), flag)
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

    def _hccn_all(self, hw: dict[str, Any]) -> str:
        """The preflight section: every NPU's port, each query after its command line."""
        out = []
        for i in range(len(hw["gpus"])):
            for op in ("ip", "link", "net_health", "netdetect", "gateway", "stat"):
                out.append(f"hccn_tool -i {i} -{op} -g")
                out.append(self._hccn_call(hw, ["-i", str(i), f"-{op}", "-g"])[0].rstrip())
        return "\n".join(out)

    def _hccn_call(self, hw: dict[str, Any], args: list[str]) -> tuple[str, int]:
        buf = io.StringIO()
        with (
            _STDOUT,
            _ascend(self.tmp, hw["node"]),
            contextlib.redirect_stdout(buf),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            code = simascend.hccn_tool(args, hw)
        return simascend.mark("hccn_tool", hw) + "\n" + buf.getvalue(), code

    def _hccn(self, host: str, command: str) -> Reply:
        """`bash -c 'echo <cmd>; <cmd>; ...'`: each hccn_tool query echoed, then answered."""
        body = shlex.split(command)[-1]
        out, code = [], 0
        for part in body.split(";"):
            words = shlex.split(part)
            if words and words[0] == "echo":
                out.append(" ".join(words[1:]))
            elif words and words[0] == "hccn_tool":
                text, code = self._hccn_call(self.hw[host], words[1:])
                out.append(text.rstrip())
        return Reply("\n".join(out) + "\n", code)

    def _hccl(self, host: str, command: str) -> Reply:
        """hccl_test under mpirun: one rank per NPU of every host (`-H host:N`)."""
        words = shlex.split(command)
        prog = next(w for w in words if w in simascend.HCCL)
        args = words[words.index(prog) + 1 :]
        spec = words[words.index("-H") + 1].split(",")
        ranks = [
            {"rank": i, "host": h.split(":")[0]}
            for i, h in enumerate(x for x in spec for _ in range(int(x.split(":")[1])))
        ]
        buf = io.StringIO()
        with _STDOUT, contextlib.redirect_stdout(buf):
            print(simascend.mark(prog, self.hw[host]))
            code = simascend._report(simascend.HCCL[prog], args, ranks, fabricmodel, self.fab)
        return Reply(buf.getvalue(), code)


@contextlib.contextmanager
def _ascend(tmp: Path, host: str) -> Any:
    """The simulated hccn_tool's files for `host`: its /etc/hccn.conf, the shared dir."""
    simascend.HCCN_CONF = str(tmp / f"{host}-hccn.conf")
    simascend.SHARED = str(tmp)
    yield


def _versions(hw: dict[str, Any]) -> str:
    """What `cat` of the Ascend version files prints (the ascend-versions fact)."""
    return "\n".join(f"cat /{rel}\n{text.rstrip()}" for rel, text in stack_files("huawei").items())


def _call(
    fn: Callable[[list[str], dict[str, Any]], int], args: list[str], hw: dict[str, Any]
) -> str:
    buf = io.StringIO()
    with _STDOUT, contextlib.redirect_stdout(buf):
        fn(args, hw)
    return buf.getvalue()


def _links(hw: dict[str, Any], mtu: int) -> list[dict[str, Any]]:
    """`ip -j link`: the bond and the rail netdevs at their planned MTU (as provisioned)."""
    out = [{"ifname": hw["bond"]["name"], "mtu": hw["bond"]["mtu"], "operstate": "UP"}]
    return out + [{"ifname": n["netdev"], "mtu": mtu, "operstate": "UP"} for n in hw["nics"]]
