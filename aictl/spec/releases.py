"""Upstream releases a spec may name, and where they stand in their vendors' lifecycles.

NVIDIA network-operator (checked 2026-12-01 against NVIDIA's "Platform Support" page of the
26.7 docs): a new major version moves the previous one to Deprecated (patch releases for
critical fixes only, what aictl calls the maintenance line); anything older is End of Support.
Today that is 26.7.x supported, 26.4.x deprecated, 26.1.x and older ended. aictl renders the
supported and the maintenance line and refuses the ended ones with a spec error that names
the releases it supports. docs/versions.md says how to move to a newer release.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

# every release aictl renders, newest first (the tags of Mellanox/network-operator)
NetworkOperatorRelease = Literal["26.7.1", "26.7.0", "26.4.2", "26.4.1", "26.4.0"]
NETWORK_OPERATOR_DEFAULT: NetworkOperatorRelease = "26.7.1"
# the lines, newest first, and what NVIDIA's lifecycle calls each
NETWORK_OPERATOR_LINES = {"26.7": "current", "26.4": "maintenance"}
# the newest line that NVIDIA has ended: it and everything older is refused
NETWORK_OPERATOR_ENDED = "26.1"


def _line(release: str) -> tuple[int, int] | None:
    parts = release.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return None
    return int(parts[0]), int(parts[1])


def supported_network_operator() -> str:
    """The supported releases as one phrase, for error messages and docs."""
    releases = get_args(NetworkOperatorRelease)
    return "; ".join(
        f"{line}.x ({status}): {', '.join(r for r in releases if r.startswith(line + '.'))}"
        for line, status in NETWORK_OPERATOR_LINES.items()
    )


def check_network_operator(value: object) -> object:
    """A spec's `kubernetes.network_operator`, or a ValueError that says why not and names
    the supported releases."""
    if value in get_args(NetworkOperatorRelease):
        return value
    text = str(value)
    line = _line(text)
    ended = _line(NETWORK_OPERATOR_ENDED)
    if line is not None and ended is not None and line <= ended:
        raise ValueError(
            f"network-operator {text} has reached NVIDIA's End of Support "
            f"({NETWORK_OPERATOR_ENDED}.x and older get no fixes); "
            f"supported: {supported_network_operator()}"
        )
    raise ValueError(
        f"network-operator {text} is not a release aictl renders; "
        f"supported: {supported_network_operator()}"
    )


# GPU generations by the model names nvidia-smi prints (the NVIDIA driver branches a
# generation may run are in playbooks/vars/versions.yml, gpu_driver_branches)
_GENERATIONS = (
    ("blackwell", r"\bG?B(200|300)\b|Blackwell"),
    ("hopper", r"\bG?H(100|200|800|20)\b"),
    ("ada", r"\bL(40S?|40G|20|4)\b|\bRTX \d000 Ada\b"),
    ("ampere", r"\bA(100|800|30|40|16|10|2)\b|\bRTX A\d000\b"),
    ("turing", r"\bT4\b|\bQuadro RTX\b"),
    ("volta", r"\bV100S?\b"),
)


def gpu_generation(model: str) -> str:
    """The architecture of a GPU model (`NVIDIA A800-SXM4-80GB` -> ampere), or 'unknown'."""
    for generation, pattern in _GENERATIONS:
        if re.search(pattern, model):
            return generation
    return "unknown"
