"""Preflight: one SSH session per node, facts parsed, every check judged against the node's own
profile; the result is a node x check matrix (check.json).

The script a node runs is built from the facts the checks need, per node group (a group's
bond name goes into it). Nodes that cannot be reached fail `ssh` and skip everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aictl.checks import commands, rules
from aictl.facts.amd import AmdSmiTable
from aictl.facts.ascend import AscendVersions
from aictl.facts.gpu import SmiQuery
from aictl.facts.hca import OfedVersion
from aictl.facts.kunlun import XpuSmi
from aictl.facts.model import Failure, FailureKind
from aictl.facts.registry import REGISTRY, fact
from aictl.natsort import natural_key
from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aictl.events import Progress
    from aictl.facts.model import Parsed
    from aictl.remote import HostResult, Target
    from aictl.remote.executor import Executor
    from aictl.topology.model import Topology

SCHEMA_VERSION = 1
KIND = "aictl.check"


def facts_of(stdout: str) -> rules.NodeFacts:
    """Script output -> parsed facts by name (a tool that is missing reads as failed)."""
    from dataclasses import replace

    facts: dict[str, Parsed] = {}
    for name, (rc, text) in commands.split(stdout).items():
        if name not in REGISTRY:
            continue
        parsed = fact(name).parse(text)
        # systemctl is-active exits non-zero for an inactive unit: the word is the answer
        answer = name == "fabricmanager" or fact(name).rc_is_answer
        if rc == 127 or (rc not in (0, None) and parsed.ok and not answer):
            first = text.strip().splitlines()[-1] if text.strip() else f"exit {rc}"
            parsed = replace(parsed, status=Status.FAIL, failure=Failure(FailureKind.TOOL, first))
        facts[name] = parsed
    return rules.NodeFacts(facts)


@dataclass(frozen=True)
class PreflightReport:
    """check.json: every node's results in check order, the versions seen, the groups."""

    cluster: str
    spec_sha256: str
    rows: dict[str, tuple[rules.Result, ...]]
    versions: dict[str, dict[str, str]]
    groups: dict[str, str]
    simulated: bool
    checks: tuple[str, ...] = rules.NAMES
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> dict[str, list[rules.Result]]:
        """Nodes with a failed check, and those checks."""
        return {
            n: [r for r in row if r.status.failed]
            for n, row in self.rows.items()
            if any(r.status.failed for r in row)
        }

    @property
    def ok(self) -> bool:
        return not self.failing

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": KIND,
            "cluster": self.cluster,
            "spec_sha256": self.spec_sha256,
            "checks": list(self.checks),
            "nodes": len(self.rows),
            "groups": self.groups,
            "matrix": {n: {r.check: r.status.value for r in row} for n, row in self.rows.items()},
            "results": {n: [r.as_dict() for r in row] for n, row in self.rows.items()},
            "failing": {n: [r.as_dict() for r in bad] for n, bad in self.failing.items()},
            "versions": self.versions,
            "simulated": self.simulated,
            "ok": self.ok,
            **self.extra,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PreflightReport:
        rows = {
            n: tuple(rules.Result.read(r) for r in results)
            for n, results in (d.get("results") or {}).items()
        }
        return cls(
            cluster=str(d.get("cluster", "")),
            spec_sha256=str(d.get("spec_sha256", "")),
            rows=rows,
            versions={n: dict(v) for n, v in (d.get("versions") or {}).items()},
            groups=dict(d.get("groups") or {}),
            simulated=bool(d.get("simulated")),
            checks=tuple(d.get("checks") or rules.NAMES),
            schema_version=int(d.get("schema_version", SCHEMA_VERSION)),
        )

    @classmethod
    def load(cls, path: Path) -> PreflightReport | None:
        """check.json, or None when there is none."""
        from aictl.jsonio import read_stage_file

        return read_stage_file(path, cls.from_json, again="aictl check")


def node_results(topo: Topology, host: HostResult) -> tuple[list[rules.Result], rules.NodeFacts]:
    """Every check for one node's SSH result."""
    if host.rc is None:
        return rules.unreachable(host.error), rules.NodeFacts({})
    facts = facts_of(host.stdout)
    facts.planned_rail_ips = topo.node(host.host).rail_ips
    return rules.evaluate(topo.profile(host.host), facts), facts


def run(
    topo: Topology,
    targets: list[Target],
    executor: Executor,
    *,
    progress: Callable[[Progress], None] | None = None,
    options: commands.Options | None = None,
) -> PreflightReport:
    """Preflight on `targets`: one script per node group, all groups' nodes at once, each
    group gathering its vendor's facts (DCGM only when `options.dcgm` asks for a level)."""
    options = options or commands.Options()
    results: list[HostResult] = []
    by_group: dict[str, list[Target]] = {}
    for t in targets:
        by_group.setdefault(topo.node(t.name).profile, []).append(t)
    for group, members in sorted(by_group.items()):
        prof = topo.profiles[group]
        needed = [
            n
            for n in rules.needed_facts(vendor=prof.gpu.vendor)
            if n != "dcgm" or options.dcgm is not None
        ]
        script = commands.script(prof, needed, options)
        results += executor.run_all(members, script, progress=progress)
    results.sort(key=lambda r: natural_key(r.host))
    rows: dict[str, dict[str, rules.Result]] = {}
    versions: dict[str, dict[str, str]] = {}
    simulated = False
    for h in results:
        res, facts = node_results(topo, h)
        rows[h.host] = {r.check: r for r in res}
        versions[h.host] = stack_versions(topo.profile(h.host).gpu.vendor, facts)
        simulated = simulated or any(f.simulated for f in facts.values())
    rules.fleet(rows, versions)
    return PreflightReport(
        cluster=topo.name,
        spec_sha256=topo.spec_sha256,
        rows={n: tuple(row[c] for c in rules.NAMES) for n, row in rows.items()},
        versions=versions,
        groups={h.host: topo.node(h.host).profile for h in results},
        simulated=simulated,
    )


def stack_versions(vendor: str, facts: rules.NodeFacts) -> dict[str, str]:
    """A node's stack as its vendor's tools report it: the driver (NVIDIA driver, amdgpu,
    Ascend NPU driver), the runtime (CUDA, ROCm, CANN), the Ascend firmware, OFED."""
    ofed = facts.get("ofed_info", OfedVersion)
    out = {"vendor": vendor, "ofed": (ofed.version if ofed else None) or ""}
    if vendor == "amd":
        amd = facts.get("amd-smi", AmdSmiTable)
        out.update(driver=(amd.amdgpu_version if amd else None) or "")
        out.update(rocm=(amd.rocm_version if amd else None) or "")
    elif vendor == "huawei":
        v = facts.get("ascend-versions", AscendVersions)
        out.update(
            driver=(v.driver if v else None) or "", firmware=(v.firmware if v else None) or ""
        )
        out.update(cann=(v.cann if v else None) or "")
    elif vendor == "kunlunxin":
        x = facts.get("xpu_smi", XpuSmi)
        out.update(driver=(x.driver_version if x else None) or "")
    else:
        smi = facts.get("nvidia-smi-q", SmiQuery)
        out.update(
            driver=(smi.driver if smi else None) or "", cuda=(smi.cuda if smi else None) or ""
        )
    return out


def save(report: PreflightReport, build: Path) -> Path:
    """Write build/<cluster>/check.json (through the build directory's writer)."""
    from aictl import fsio, jsonio
    from aictl.errors import ExitCode

    data = jsonio.dumps(report.as_json()).encode()
    return fsio.write_file(build, "check.json", data, stage=ExitCode.PREFLIGHT_FAILED)
