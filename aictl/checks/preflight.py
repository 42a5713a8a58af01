"""Preflight over the remote room: one SSH session per node, facts parsed, rules applied.

The result is a node x check matrix plus, per failing node, the reasons and fixes. Nodes that
cannot be reached fail `ssh` and skip everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aictl.checks import commands, parse_gpu, parse_hca, parse_host, rules
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.remote import HostResult, SshOptions
    from aictl.topology.model import Topology

PARSE: dict[str, Callable[[str], dict[str, Any]]] = {
    "smi": parse_gpu.parse_smi_query,
    "topo": parse_gpu.parse_topo,
    "nvlink": parse_gpu.parse_nvlink,
    "fabricmanager": parse_host.parse_is_active,
    "lsmod": parse_host.parse_lsmod,
    "ofed": parse_hca.parse_ofed_info,
    "ibstat": parse_hca.parse_ibstat,
    "lspci": parse_host.parse_lspci,
    "bond": parse_host.parse_bonding,
    "iplink": parse_host.parse_ip_link,
}


def facts_of(stdout: str) -> rules.Facts:
    """Script output -> parsed facts per section (a tool that is missing reads as failed)."""
    facts: rules.Facts = {}
    for name, (rc, text) in commands.split(stdout).items():
        parsed = PARSE[name](text) if name in PARSE else {}
        if rc == 127 or (
            rc not in (0, None) and parsed.get("status") == "ok" and name != "fabricmanager"
        ):
            first = text.strip().splitlines()[-1] if text.strip() else f"exit {rc}"
            parsed = {**parsed, "status": "failed", "failure": {"kind": "tool", "message": first}}
        facts[name] = parsed
    return facts


def node_results(topo: Topology, host: HostResult) -> tuple[list[rules.Result], rules.Facts]:
    """Rules for one node's SSH result."""
    node = next(n for n in topo.nodes if n.name == host.host)
    if host.rc is None:
        res = [rules.Result("ssh", "fail", host.error, "check sshd and the host key (aictl exec)")]
        res += [rules.Result(c, "skip", "no SSH") for c in rules.CHECKS[1:]]
        return res, {}
    facts = facts_of(host.stdout)
    return rules.evaluate(rules.expect(topo, node), facts), facts


def run(
    topo: Topology,
    targets: list[Any],
    opts: SshOptions,
    *,
    progress: Callable[[HostResult], None] | None = None,
) -> dict[str, Any]:
    """Preflight on `targets`; the matrix, failures and what the nodes reported."""
    from aictl.remote import run_all

    bonds = {
        n.name: (
            topo.spec.node_profiles[n.profile].storage_nics.bond.name
            if topo.spec.node_profiles[n.profile].storage_nics
            else "bond0"
        )
        for n in topo.nodes
    }
    # one script per bond name (normally one for the whole cluster)
    results: list[HostResult] = []
    for bond in sorted({bonds[t.name] for t in targets}):
        group = [t for t in targets if bonds[t.name] == bond]
        results += run_all(group, commands.script(bond), opts, progress=progress)
    results.sort(key=lambda r: natural_key(r.host))
    rows: dict[str, dict[str, rules.Result]] = {}
    versions: dict[str, dict[str, str]] = {}
    simulated = False
    for h in results:
        res, facts = node_results(topo, h)
        rows[h.host] = {r.check: r for r in res}
        versions[h.host] = {
            "driver": (facts.get("smi") or {}).get("driver") or "",
            "ofed": (facts.get("ofed") or {}).get("version") or "",
        }
        simulated = simulated or any(f.get("simulated") for f in facts.values())
    rules.fleet(rows, versions)
    failing = {
        n: [r.as_dict() for r in row.values() if r.status == "fail"]
        for n, row in rows.items()
        if any(r.status == "fail" for r in row.values())
    }
    return {
        "checks": list(rules.CHECKS),
        "nodes": len(rows),
        "matrix": {n: {c: row[c].status for c in rules.CHECKS} for n, row in rows.items()},
        "results": {n: [row[c].as_dict() for c in rules.CHECKS] for n, row in rows.items()},
        "failing": failing,
        "versions": versions,
        "simulated": simulated,
        "ok": not failing,
    }
