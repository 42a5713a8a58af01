"""What preflight runs on a node: one shell script, one SSH session, one section per fact.

Each section prints a `@@aictl <name>` line, the command's output (stdout and stderr) and
`@@aictl-rc <name> <rc>`. A missing tool is a section with rc 127, never a failed session.
The bonding status file can be pointed elsewhere with AICTL_BONDING_DIR (the lab has no
bonding driver and keeps its simulated status under /etc/aictl-lab).
"""

from __future__ import annotations

import re

SECTIONS: dict[str, str] = {
    "smi": "nvidia-smi -q",
    "topo": "nvidia-smi topo -m",
    "nvlink": "nvidia-smi nvlink -s",
    "fabricmanager": "systemctl is-active nvidia-fabricmanager",
    "lsmod": "lsmod",
    "ofed": "ofed_info -s",
    "ibstat": "ibstat",
    "lspci": "lspci -vvv",
    "bond": 'cat "${{AICTL_BONDING_DIR:-/proc/net/bonding}}/{bond}"',
    "iplink": "ip -j link show",
}
_MARK = re.compile(r"^@@aictl(-rc)? (\S+)(?: (-?\d+))?$")


def script(bond: str) -> str:
    """The preflight script for a node whose bond is called `bond`."""
    parts = ["export LC_ALL=C"]
    for name, cmd in SECTIONS.items():
        cmd = cmd.format(bond=bond)
        parts.append(f"echo '@@aictl {name}'; ({cmd}) 2>&1; echo \"@@aictl-rc {name} $?\"")
    return "\n".join(parts)


def split(stdout: str) -> dict[str, tuple[int | None, str]]:
    """Script output -> section name -> (rc, text)."""
    out: dict[str, tuple[int | None, str]] = {}
    name: str | None = None
    buf: list[str] = []
    for ln in stdout.splitlines():
        m = _MARK.match(ln)
        if m and m.group(1) is None:
            name, buf = m.group(2), []
        elif m and name is not None and name == m.group(2):
            out[name] = (int(m.group(3)) if m.group(3) else None, "\n".join(buf))
            name = None
        elif name is not None:
            buf.append(ln)
    if name is not None:  # cut off mid-section
        out[name] = (None, "\n".join(buf))
    return out
