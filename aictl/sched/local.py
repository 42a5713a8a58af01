"""`aictl check --local`: the preflight of one node, on that node, as a scheduler's health
check runs it (Slurm's HealthCheckProgram, a Kubernetes DaemonSet).

No SSH and no spec: the node's resolved profile is the file the provisioning role installs
(`/etc/aictl/profile.json`, rendered as `profiles/<group>/etc/aictl/profile.json`). The same
facts and rules as `aictl check` run; fleet-wide rules (driver and OFED the same on every
node) need the fleet and are left to `aictl check`.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aictl.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.checks import commands, rules
    from aictl.topology.profiles import Profile

KIND = "aictl.node-profile"
SCHEMA_VERSION = 1
INSTALLED = "/etc/aictl/profile.json"


@dataclass(frozen=True)
class NodeProfile:
    """What a node needs to check itself: its cluster, its group and the resolved profile."""

    cluster: str
    group: str
    profile: Profile
    # node -> its planned rail addresses (the checks that hold a port to its plan need them)
    rail_ips: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "cluster": self.cluster,
            "group": self.group,
            "profile": self.profile.as_dict(),
            "rail_ips": {n: list(ips) for n, ips in self.rail_ips.items()},
        }

    @classmethod
    def load(cls, path: Path) -> NodeProfile:
        from aictl.topology.profiles import Profile

        hint = "aictl render writes it as profiles/<group>/etc/aictl/profile.json; aictl "
        hint += "provision installs it"
        try:
            d = json.loads(path.read_text())
            if d.get("kind") != KIND or d.get("schema_version") != SCHEMA_VERSION:
                raise ValueError(f"not an {KIND} v{SCHEMA_VERSION} document")
            ips = {str(n): tuple(map(str, v)) for n, v in (d.get("rail_ips") or {}).items()}
            return cls(str(d["cluster"]), str(d["group"]), Profile.from_dict(d["profile"]), ips)
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}", hint=hint) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a node profile ({exc})", hint=hint) from None


def run_script(script: str, timeout: float) -> tuple[int | None, str]:
    """The preflight script under bash on this machine: (rc, output); rc None on timeout."""
    try:
        p = subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            errors="replace",
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode()
        return None, out
    return p.returncode, p.stdout


def check(
    node: NodeProfile, options: commands.Options, *, name: str = "", timeout: float = 120.0
) -> list[rules.Result]:
    """Every check of node `name` against its profile (the fleet rules aside)."""
    from aictl.checks import commands, rules
    from aictl.checks.preflight import facts_of

    vendor = node.profile.gpu.vendor
    needed = [
        n for n in rules.needed_facts(vendor=vendor) if n != "dcgm" or options.dcgm is not None
    ]
    rc, out = run_script(commands.script(node.profile, needed, options), timeout)
    if rc is None and not out:
        return rules.unreachable(f"the checks did not finish within {timeout:.0f} s")
    facts = facts_of(out)
    facts.planned_rail_ips = node.rail_ips.get(name, ())
    return rules.evaluate(node.profile, facts)
