"""What preflight runs on a node: one shell script, one SSH session, one section per fact.

The script is built from the facts the checks name (aictl/facts/registry.py): each section
prints a `@@aictl <fact>` line, the command's output (stdout and stderr) and
`@@aictl-rc <fact> <rc>`. A missing tool is a section with rc 127, never a failed session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.facts.registry import fact

if TYPE_CHECKING:
    from aictl.topology.profiles import Profile

_MARK = re.compile(r"^@@aictl(-rc)? (\S+)(?: (-?\d+))?$")


@dataclass(frozen=True, slots=True)
class Options:
    """What a preflight run asks of the facts it gathers: the kernel log's window (seconds)
    and the DCGM diagnostic level (None: DCGM is not run)."""

    window_s: int = 86400
    dcgm: int | None = None


def script(profile: Profile, facts: list[str], options: Options | None = None) -> str:
    """The preflight script for a node of `profile`, gathering `facts`."""
    opts = options or Options()
    parts = ["export LC_ALL=C"]
    for name in facts:
        # the bond name is a validated netdev name (spec grammar): safe inside the quotes;
        # the window and the level are integers; {npus}: the node's accelerator indices,
        # for tools asked one device at a time
        cmd = fact(name).command.format(
            bond=profile.bond.name,
            window=int(opts.window_s),
            dcgm=int(opts.dcgm or 1),
            npus=" ".join(str(i) for i in range(profile.gpu.count)),
            # rail netdev names are validated netdev names (spec grammar)
            netdevs=" ".join(r.netdev for r in profile.rails),
        )
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
