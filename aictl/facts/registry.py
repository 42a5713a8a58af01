"""The one registry of facts: the command that gathers each, how to recognise its output, and
the pure parser that turns it into typed data.

Preflight builds its node script from the facts its checks name, `aictl accept parse` offers
every fact as a `--tool` and recognises saved outputs with the patterns here, verify reads the
fabric facts, and acceptance parses its benchmark outputs with the same parsers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.facts import (
    aer,
    amd,
    ascend,
    dcgm,
    fmlog,
    frr,
    gpu,
    hca,
    hccl,
    host,
    ibcounters,
    ibnet,
    kernel,
    kunlun,
    lldp,
    nccl,
    perftest,
    roce,
    slurm,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.facts.model import Parsed


@dataclass(frozen=True, slots=True)
class Fact:
    """One kind of tool output aictl reads."""

    name: str
    parse: Callable[[str], Parsed]
    what: str
    # how a node gathers it ({bond} is the node's bond); empty when another stage runs it
    command: str = ""
    # a pattern that recognises the output (re.M); empty when it cannot be told apart
    detect: str = ""
    # the command's exit status is part of the answer (a unit that is inactive, a diagnostic
    # that failed a test), not a sign that the output cannot be trusted
    rc_is_answer: bool = False


FACTS: tuple[Fact, ...] = (
    # in the order `--tool auto` tries them: the most specific first
    Fact(
        "perftest",
        perftest.parse_perftest,
        "perftest (ib_write/read/send/atomic _bw and _lat, bidirectional), client or server",
        detect=r"(RDMA_(Write|Read)|Send|Atomic)(_imm)?( [A-Z_]+)?( Bidirectional)?( Post List)? "
        r"(BW|Latency) Test|#bytes\s+#iterations|\bib_(write|read|send|atomic)_(bw|lat)\b",
    ),
    Fact(
        "nccl",
        nccl.parse_nccl,
        "nccl-tests or rccl-tests, text or JSON (nccl-tests -J, rccl-tests -Z json)",
        detect=r"# nccl-tests version|^rccl-tests: Version|\"algBw\":|^#\s+nThread|"
        r"^\W*#\s+size\s+count|Out of bounds values|"
        r"\b(all_reduce|all_gather|alltoallv?|reduce_scatter|sendrecv|broadcast|reduce|gather|"
        r"scatter|hypercube)_perf\b|invalid size specified|\"average_bus_bandwidth\"|"
        r"Test (NCCL|CUDA) failure common\.cu",
    ),
    Fact(
        "ibnetdiscover",
        ibnet.parse_summary,
        "ibnetdiscover (default format or -p)",
        command="ibnetdiscover",
        detect=r'^(Switch|Ca|Hca)\s+\d+\s+"[SH]-|^(CA|SW)\s+\d+\s+\d+\s+0x[0-9a-fA-F]+\s+\d+x',
    ),
    Fact(
        "dump_fts",
        ibnet.parse_lfts,
        "dump_fts / dump_lfts / ibroute forwarding tables",
        command="dump_fts",
        detect=r"^Unicast lids .* guid 0x[0-9a-fA-F]+ ",
    ),
    Fact(
        "opensm-log",
        ibnet.parse_opensm_log,
        "the opensm log (routing engine, routing errors)",
        detect=r"tables configured on all switches|OpenSM \d|SUBNET UP",
    ),
    Fact(
        "show_gids",
        hca.parse_show_gids,
        "show_gids",
        command="show_gids",
        detect=r"n_gids_found=|^DEV\s+PORT\s+INDEX\s+GID",
    ),
    Fact(
        "ibv_devinfo",
        hca.parse_ibv_devinfo,
        "ibv_devinfo [-v]",
        command="ibv_devinfo",
        detect=r"^hca_id:",
    ),
    Fact("ibstat", hca.parse_ibstat, "ibstat", command="ibstat", detect=r"^CA '"),
    Fact(
        "ibdev2netdev",
        hca.parse_ibdev2netdev,
        "ibdev2netdev",
        command="ibdev2netdev",
        detect=r"^\S+ port \d+ ==> ",
    ),
    Fact(
        "nvlink",
        gpu.parse_nvlink,
        "nvidia-smi nvlink -s",
        command="nvidia-smi nvlink -s",
        detect=r"^\s*Link \d+: (<inactive>|[\d.]+ GB/s)",
    ),
    Fact(
        "topo",
        gpu.parse_topo,
        "nvidia-smi topo -m",
        command="nvidia-smi topo -m",
        # the header row nvidia-smi prints (rocm-smi's GPU matrix has no CPU Affinity column)
        detect=r"^\s+GPU0\s+(GPU1|mlx5|NIC).*CPU Affinity",
    ),
    Fact(
        "nvidia-smi-q",
        gpu.parse_smi_query,
        "nvidia-smi -q",
        command="nvidia-smi -q",
        detect=r"NVSMI LOG|^Attached GPUs\s+:",
    ),
    # AMD Instinct, Huawei Ascend and Kunlunxin nodes (their checks pick these per vendor)
    Fact(
        "hccl_test",
        hccl.parse_hccl_test,
        "hccl_test (all_reduce_test, all_gather_test, ...): algbw, busbw derived",
        detect=r"data_size\(Bytes\):\s*\|\s*a(ve)?g_time",
    ),
    Fact(
        "amd-smi",
        amd.parse_amd_smi,
        "amd-smi (its default table: versions, GPUs, UEC)",
        command="amd-smi",
        detect=r"AMD-SMI \S+\s+amdgpu version:",
    ),
    Fact(
        "amd-smi-topology",
        amd.parse_amd_topology,
        "amd-smi topology (BDF x BDF tables: link type, hops, weight, ...)",
        command="amd-smi topology",
        detect=r"^LINK TYPE TABLE:|^ACCESS TABLE:",
    ),
    Fact(
        "amd-smi-xgmi",
        amd.parse_amd_xgmi,
        "amd-smi xgmi (LINK METRIC TABLE)",
        command="amd-smi xgmi",
        detect=r"^LINK METRIC TABLE:",
    ),
    Fact(
        "rocm-smi-topo",
        amd.parse_rocm_showtopo,
        "rocm-smi --showtopo (weight, hops, link type, NUMA per GPU)",
        command="rocm-smi --showtopo",
        detect=r"=+ (Weight|Hops|Link Type) between two GPUs =+",
    ),
    Fact(
        "npu-smi",
        ascend.parse_npu_smi,
        "npu-smi info (every layout: 21.x, 22.x, 24.x, A3 two chips per NPU)",
        command="npu-smi info",
        detect=r"^\|\s*npu-smi \S+\s+Version:",
    ),
    Fact(
        "npu-smi-topo",
        ascend.parse_npu_smi_topo,
        "npu-smi info -t topo (NPU x NPU: HCCS, PCIe distances; CPU affinity)",
        command="npu-smi info -t topo",
        detect=r"^\s*NPU0\s+NPU1\s.*CPU Affinity",
    ),
    Fact(
        "npu-smi-m",
        ascend.parse_npu_smi_mapping,
        "npu-smi info -m (NPU ID, chip ID, logic ID, chip name)",
        command="npu-smi info -m",
        detect=r"^NPU ID\s+Chip ID\s+Chip Logic ID\s+Chip Name",
    ),
    Fact(
        "hccn_tool",
        ascend.parse_hccn,
        "hccn_tool -i <NPU> -ip/-link/-net_health/-netdetect/-gateway/-stat/-link_stat -g, "
        "each after its command line",
        # {npus}: the node's NPU indices (0 1 ... n-1); each output after its command line
        command="for i in {npus}; do for op in ip link net_health netdetect gateway stat; do "
        'echo "hccn_tool -i $i -$op -g"; hccn_tool -i $i -$op -g; done; done',
        detect=r"hccn_tool\s+-i\s+\d+\s+-\w+\s+-g\b",
    ),
    Fact(
        "ascend-versions",
        ascend.parse_ascend_versions,
        "the Ascend driver, firmware and CANN version files (cat <file> sections)",
        command="for f in /usr/local/Ascend/driver/version.info "
        "/usr/local/Ascend/firmware/version.info "
        "/usr/local/Ascend/ascend-toolkit/latest/*/ascend_toolkit_install.info; do "
        'echo "cat $f"; cat "$f"; done',
        detect=r"^cat \S*/Ascend/\S*(version|install)\.info",
    ),
    Fact(
        "xpu_smi",
        kunlun.parse_xpu_smi,
        "xpu_smi (Kunlunxin: versions and the DEVICES table)",
        command="xpu_smi",
        detect=r"^Product Brand: KUNLUNXIN|^\| DevID \|\s+PCI Addr",
    ),
    Fact(
        "xpu_smi-m",
        kunlun.parse_xpu_smi_m,
        "xpu_smi -m (Kunlunxin: one positional line per device)",
        command="xpu_smi -m",
        # PCI address, card, DevID, a long serial number: before lspci, which also starts so
        detect=r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] \d+ \d+ \d{10,} ",
    ),
    Fact(
        "bonding",
        host.parse_bonding,
        "/proc/net/bonding/<bond>",
        # AICTL_BONDING_DIR: where the status files are when not in /proc/net/bonding
        command='cat "${{AICTL_BONDING_DIR:-/proc/net/bonding}}/{bond}"',
        detect=r"^Bonding Mode:",
    ),
    Fact(
        "lsmod",
        host.parse_lsmod,
        "lsmod",
        command="lsmod",
        detect=r"^Module\s+Size\s+Used by",
    ),
    Fact(
        "lldpctl",
        lldp.parse_lldpctl,
        "lldpctl -f json (or json0)",
        command="lldpctl -f json",
        detect=r'"lldp"\s*:',
    ),
    Fact(
        "ip-link",
        host.parse_ip_link,
        "ip -j link show",
        command="ip -j link show",
        detect=r'^\s*\[\s*\{\s*"ifindex"',
    ),
    Fact(
        "lspci",
        host.parse_lspci,
        "lspci -vvv",
        command="lspci -vvv",
        detect=r"^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] \w",
    ),
    Fact(
        "ofed_info",
        hca.parse_ofed_info,
        "ofed_info -s",
        command="ofed_info -s",
        detect=r"^(MLNX_OFED_LINUX|OFED-internal|DOCA)",
    ),
    Fact(
        "fabricmanager",
        host.parse_is_active,
        "systemctl is-active nvidia-fabricmanager",
        command="systemctl is-active nvidia-fabricmanager",
    ),
    # day-2 faults: the node's own logs and counters, DCGM, the fabric's port counters
    Fact(
        "kernel-log",
        kernel.parse_kernel_log,
        "kernel log GPU events (Xid, SXid, fallen off the bus): dmesg or journalctl -k",
        # the node's clock and the window first; only the driver's lines cross the network
        command='echo "# aictl clock $(date +%s) uptime $(cut -d" " -f1 /proc/uptime) window '
        '{window}"; (dmesg --time-format iso || journalctl -k -o short-iso --no-pager -q) 2>&1 '
        "| grep -E 'NVRM|SXid|^# aictl|^(dmesg|journalctl):' || true",
        detect=r"NVRM: Xid \(|SXid \(|NVRM: GPU .*has fallen off the bus",
    ),
    Fact(
        "nvlink-errors",
        gpu.parse_nvlink_errors,
        "nvidia-smi nvlink -e (replay, recovery, CRC error counters)",
        command="nvidia-smi nvlink -e",
        detect=r"^\s*Link \d+: (Replay|Recovery|CRC)[A-Za-z ]* Errors?: \d+",
    ),
    Fact(
        "aer",
        aer.parse_aer,
        "PCIe AER counters (grep -H . /sys/bus/pci/devices/*/aer_dev_*)",
        # AICTL_SYSFS: where sysfs is when not at /sys (the lab's simulated devices)
        command='grep -H . "${{AICTL_SYSFS:-/sys}}"/bus/pci/devices/*/aer_dev_* 2>/dev/null '
        "|| true",
        detect=r"/aer_dev_(correctable|nonfatal|fatal):",
    ),
    Fact(
        "fabricmanager-log",
        fmlog.parse_fm_log,
        "the NVIDIA Fabric Manager log (/var/log/fabricmanager.log)",
        command='echo "# aictl clock $(date +%s) uptime 0 window {window}"; '
        'tail -n 5000 "${{AICTL_FM_LOG:-/var/log/fabricmanager.log}}"',
        detect=r"^\[\w{3} +\d+ \d{4} \d\d:\d\d:\d\d\] \[(INFO|ERROR|WARNING|FATAL)\]",
    ),
    Fact(
        "dcgm",
        dcgm.parse_dcgm_diag,
        "dcgmi diag -r 1|2|3 -j (JSON) or its table",
        command="command -v dcgmi >/dev/null || {{ echo '"
        + dcgm.ABSENT
        + "'; exit 0; }}; dcgmi diag -r {dcgm} -j",
        detect=r'"DCGM (GPU )?Diagnostic"|^\|\s*Diagnostic\s+\|\s*Result',
        rc_is_answer=True,
    ),
    Fact(
        "ibqueryerrors",
        ibcounters.parse_ibqueryerrors,
        "ibqueryerrors (every fabric port over its threshold)",
        command="ibqueryerrors",
        detect=r'^## Summary: \d+ nodes checked|^Errors for (0x[0-9a-fA-F]+ )?"',
    ),
    Fact(
        "roce",
        roce.parse_roce,
        "RoCE NIC counters and QoS per rail (ethtool -S, mlnx_qos -i, ECN and hw_counters)",
        command='S="${{AICTL_SYSFS:-/sys}}"; for i in {netdevs}; do echo "## netdev $i"; '
        "ethtool -S \"$i\" 2>&1 | grep -E 'pause|discard|out_of_buffer|cnp|statistics'; "
        'mlnx_qos -i "$i" 2>&1; grep -H . "$S/class/net/$i/ecn/roce_np/enable/"* '
        '"$S/class/net/$i/ecn/roce_rp/enable/"* 2>/dev/null; done; '
        'grep -H . "$S"/class/infiniband/*/ports/1/hw_counters/*cnp* '
        '"$S"/class/infiniband/*/ports/1/hw_counters/out_of_buffer 2>/dev/null; true',
        detect=r"^## netdev \S+",
    ),
    Fact(
        "bgp-summary",
        frr.parse_bgp_summary,
        "FRR vtysh -c 'show bgp summary json'",
        command="vtysh -c 'show bgp summary json'",
        detect=r'"(ipv4Unicast|ipv6Unicast|l2VpnEvpn)"\s*:\s*\{|"peers"\s*:\s*\{',
    ),
    Fact(
        "ip-route",
        frr.parse_ip_route,
        "FRR vtysh -c 'show ip route json'",
        command="vtysh -c 'show ip route json'",
        detect=r'"protocol"\s*:\s*"(bgp|connected|kernel|local|static)"',
    ),
    Fact(
        "perfquery",
        ibcounters.parse_perfquery,
        "perfquery [-x] (one port's counters)",
        detect=r"^# Port (extended )?counters: Lid \d+ port \d+",
    ),
    Fact(
        "sinfo",
        slurm.parse_sinfo,
        "sinfo (its default table: partitions, node states, host lists)",
        command="sinfo",
        detect=r"^PARTITION\s+AVAIL\s+TIMELIMIT\s+NODES\s+STATE\s+NODELIST",
    ),
    Fact(
        "slurm-topology",
        slurm.parse_topology,
        "scontrol show topology, or a topology.conf for topology/tree",
        command="scontrol show topology",
        detect=r"^SwitchName=\S+\s+(Level=\d+|Nodes=|Switches=)",
    ),
)
REGISTRY: dict[str, Fact] = {f.name: f for f in FACTS}
_PATTERNS = [(f.name, re.compile(f.detect, re.M)) for f in FACTS if f.detect]


def fact(name: str) -> Fact:
    """The fact called `name` (KeyError when there is none)."""
    return REGISTRY[name]


# a tool says who it is in its first lines (or, cut at the top, its last): a 100 MB soak log
# is recognised from its ends, not read through once per pattern
_HEAD_BYTES, _TAIL_BYTES = 1 << 20, 1 << 16


def detect(text: str) -> str | None:
    """The fact whose tool printed `text`, or None."""
    if len(text) > _HEAD_BYTES + _TAIL_BYTES:
        text = text[:_HEAD_BYTES] + "\n" + text[-_TAIL_BYTES:]
    return next((name for name, pattern in _PATTERNS if pattern.search(text)), None)


def recognisable() -> list[str]:
    """The facts `--tool auto` tries, in order."""
    return [name for name, _ in _PATTERNS]
