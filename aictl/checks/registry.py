"""Every parser `aictl accept parse` exposes, and how `--tool auto` recognises its output."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aictl.checks import parse_gpu, parse_hca, parse_host

if TYPE_CHECKING:
    from collections.abc import Callable


def _ibnet(text: str) -> dict[str, Any]:
    from aictl.fabric.ibnet import parse_ibnetdiscover, summary

    return summary(parse_ibnetdiscover(text))


def _lldp(text: str) -> dict[str, Any]:
    from aictl.checks._text import is_simulated, result
    from aictl.fabric.lldp import parse_lldpctl

    try:
        seen = parse_lldpctl(text)
    except ValueError as exc:
        return result("lldpctl", text, neighbours={}, errors=[f"not lldpctl JSON: {exc}"])
    return {
        **result("lldpctl", text, empty=not seen),
        "simulated": is_simulated(text),
        "neighbours": {k: {"switch": v[0], "port": v[1]} for k, v in seen.items()},
    }


def _nccl(text: str) -> dict[str, Any]:
    from aictl.accept.parse_nccl import parse_nccl

    return parse_nccl(text)


def _perftest(text: str) -> dict[str, Any]:
    from aictl.accept.parse_perftest import parse_perftest

    return parse_perftest(text)


PARSERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "nccl": _nccl,
    "perftest": _perftest,
    "topo": parse_gpu.parse_topo,
    "nvlink": parse_gpu.parse_nvlink,
    "nvidia-smi-q": parse_gpu.parse_smi_query,
    "ibstat": parse_hca.parse_ibstat,
    "ibv_devinfo": parse_hca.parse_ibv_devinfo,
    "show_gids": parse_hca.parse_show_gids,
    "ibdev2netdev": parse_hca.parse_ibdev2netdev,
    "ofed_info": parse_hca.parse_ofed_info,
    "lspci": parse_host.parse_lspci,
    "lsmod": parse_host.parse_lsmod,
    "bonding": parse_host.parse_bonding,
    "ip-link": parse_host.parse_ip_link,
    "ibnetdiscover": _ibnet,
    "lldpctl": _lldp,
}

# (tool, pattern) in the order tried: the most specific first
_DETECT = (
    (
        "perftest",
        r"(RDMA_(Write|Read)|Send) (BW|Latency) Test|#bytes\s+#iterations|"
        r"\bib_(write|read|send)_(bw|lat)\b",
    ),
    (
        "nccl",
        r"# nccl-tests version|^#\s+nThread|^\W*#\s+size\s+count|Out of bounds values|"
        r"\b(all_reduce|all_gather|alltoall|reduce_scatter|sendrecv|broadcast|reduce)_perf\b|"
        r'invalid size specified|"average_bus_bandwidth"',
    ),
    ("ibnetdiscover", r'^(Switch|Ca|Hca)\s+\d+\s+"[SH]-'),
    ("show_gids", r"n_gids_found=|^DEV\s+PORT\s+INDEX\s+GID"),
    ("ibv_devinfo", r"^hca_id:"),
    ("ibstat", r"^CA '"),
    ("ibdev2netdev", r"^\S+ port \d+ ==> "),
    ("nvlink", r"^\s*Link \d+: (<inactive>|[\d.]+ GB/s)"),
    ("topo", r"^\s+GPU0\s+GPU1|^\s+GPU0\s+(mlx5|NIC)"),
    ("nvidia-smi-q", r"NVSMI LOG|^Attached GPUs\s+:"),
    ("bonding", r"^Bonding Mode:"),
    ("lsmod", r"^Module\s+Size\s+Used by"),
    ("lldpctl", r'"lldp"\s*:'),
    ("ip-link", r'^\s*\[\s*\{\s*"ifindex"'),
    ("lspci", r"^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] \w"),
    ("ofed_info", r"^(MLNX_OFED_LINUX|OFED-internal|DOCA)"),
)


def detect(text: str) -> str | None:
    """The tool that printed `text`, or None."""
    for tool, pattern in _DETECT:
        if re.search(pattern, text, re.M):
            return tool
    return None
