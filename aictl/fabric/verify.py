"""`aictl topo verify` as a library call: gather the discovered fabric (a file, or live over
SSH), compare it with the plan (cabling, routing, LLDP), and keep the result (verify.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aictl.errors import RemoteError, UsageError
from aictl.facts.ibnet import parse_ibnetdiscover, parse_lfts, parse_opensm_log
from aictl.facts.lldp import parse_lldpctl

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.facts.lldp import Neighbour
    from aictl.remote import Target
    from aictl.remote.executor import Executor
    from aictl.topology.model import Topology

SCHEMA_VERSION = 1
KIND = "aictl.verify"
LIVE = "echo '@@aictl ibnet'; ibnetdiscover 2>/dev/null; echo '@@aictl lfts'; dump_fts 2>/dev/null"


@dataclass(frozen=True)
class VerifyReport:
    """verify.json: cabling, routing (with forwarding tables) and LLDP findings."""

    cluster: str
    spec_sha256: str
    cabling: dict[str, Any]
    routing: dict[str, Any] | None
    lldp: dict[str, Any] | None
    simulated: bool
    schema_version: int = SCHEMA_VERSION
    counters: dict[str, Any] | None = None  # port counters (--counters): counters.py
    bgp: dict[str, Any] | None = None  # the RoCE underlay (--bgp-dir): bgp.py

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [
            f
            for part in (self.cabling, self.routing, self.lldp, self.counters, self.bgp)
            if part
            for f in part.get("findings", [])
        ]

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Findings that fail verify (a counter below its fail threshold only warns)."""
        return [f for f in self.findings if f.get("severity", "error") == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "kind": KIND,
            "cluster": self.cluster,
            "spec_sha256": self.spec_sha256,
            "cabling": self.cabling,
            "findings": len(self.findings),
            "ok": self.ok,
            "simulated": self.simulated,
        }
        if self.routing is not None:
            out["routing"] = self.routing
        if self.lldp is not None:
            out["lldp"] = self.lldp
        if self.counters is not None:
            out["counters"] = self.counters
        if self.bgp is not None:
            out["bgp"] = self.bgp
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> VerifyReport:
        return cls(
            cluster=str(d.get("cluster", "")),
            spec_sha256=str(d.get("spec_sha256", "")),
            cabling=dict(d["cabling"]),
            routing=d.get("routing"),
            lldp=d.get("lldp"),
            counters=d.get("counters"),
            bgp=d.get("bgp"),
            simulated=bool(d.get("simulated")),
            schema_version=int(d.get("schema_version", SCHEMA_VERSION)),
        )

    @classmethod
    def load(cls, path: Path) -> VerifyReport | None:
        from aictl.jsonio import read_stage_file

        return read_stage_file(path, cls.from_json, again="aictl topo verify")

    def save(self, build: Path) -> Path:
        """Write build/<cluster>/verify.json (through the build directory's writer)."""
        from aictl import fsio, jsonio
        from aictl.errors import ExitCode

        data = jsonio.dumps(self.as_json()).encode()
        return fsio.write_file(build, "verify.json", data, stage=ExitCode.TOPOLOGY)


def live(host: Target, executor: Executor) -> tuple[str, str]:
    """ibnetdiscover and dump_fts, run on a host of the fabric."""
    res = executor.run(host, LIVE)
    if res.rc is None:
        raise RemoteError(
            f"{host.name}: {res.error}", hint="--live needs SSH to a host on the fabric"
        )
    ibnet, _, lfts = res.stdout.partition("@@aictl lfts")
    return ibnet.replace("@@aictl ibnet", "", 1), lfts


def lldp_live(hosts: list[Target], executor: Executor) -> dict[str, dict[str, Neighbour]]:
    """`lldpctl -f json` on every node that answers."""
    seen = {}
    for r in executor.run_all(hosts, "lldpctl -f json"):
        if r.ok:
            seen[r.host] = parse_lldpctl(r.stdout).neighbours
    return seen


def lldp_files(topo: Topology, folder: Path) -> dict[str, dict[str, Neighbour]]:
    """<host>.json lldpctl outputs saved in `folder`."""
    seen = {}
    for n in topo.nodes:
        f = folder / f"{n.name}.json"
        if f.exists():
            seen[n.name] = parse_lldpctl(f.read_text(errors="replace")).neighbours
    return seen


def _flagged(findings: list[dict[str, Any]]) -> frozenset[str]:
    """HCA endpoints that cabling findings name (routing leaves them out)."""
    out = {f["where"] for f in findings}
    for f in findings:
        detail = f.get("detail") or {}
        out |= {c[0] for c in detail.get("cables", [])}
        if "fixed" in detail:
            out.add(detail["fixed"][0])
    return frozenset(out)


def verify(
    topo: Topology,
    ibnet_text: str,
    *,
    lft_text: str | None = None,
    opensm_log: str | None = None,
    names: dict[str, str] | None = None,
    lldp: dict[str, dict[str, Neighbour]] | None = None,
    plane: int = 0,
    source: str = "",
    counters: dict[str, Any] | None = None,
) -> VerifyReport:
    """Every difference between the discovered fabric and the plan."""
    from aictl.fabric.diff import compare
    from aictl.fabric.lldp import check_lldp
    from aictl.fabric.routing import check_routing

    fab = parse_ibnetdiscover(ibnet_text)
    if not fab.nodes:
        raise UsageError(
            f"{source or 'the discovered fabric'}: no ibnetdiscover records found",
            hint="run `ibnetdiscover > file` on a host of the fabric (default output format)",
        )
    names = names or {}
    # the discovered InfiniBand fabric is held to the plan's InfiniBand fabric (a RoCE
    # fabric beside it is not in ibnetdiscover); LLDP covers every node's bond
    everything = topo
    ib = topo.ib_fabric
    if ib is None:
        raise UsageError(
            f"{topo.name} has no InfiniBand fabric: there is nothing for ibnetdiscover to show",
            hint="verify a RoCE fabric's cabling with --lldp (bond members) and aictl check",
        )
    topo = topo.view(ib.name)
    cabling = compare(topo, fab, names=names, plane=plane)
    routing = None
    if lft_text:
        log = parse_opensm_log(opensm_log) if opensm_log is not None else None
        routing = check_routing(
            topo,
            fab,
            parse_lfts(lft_text).tables,
            opensm_log=log,
            names=names,
            skip=_flagged(cabling["findings"]),
        )
    return VerifyReport(
        cluster=topo.name,
        spec_sha256=topo.spec_sha256,
        cabling=cabling,
        routing=routing,
        lldp=check_lldp(everything, lldp) if lldp is not None else None,
        simulated=fab.simulated,
        counters=counters,
    )
