"""Acceptance data: units, their results, criteria and suspects — typed, and as stored.

A run directory holds `plan.json` (the units and the expectations), `results.jsonl` (one
`UnitResult` per line, in the order they finished) and `summary.json` (the verdict). Every
JSON carries `schema_version`; readers accept the spellings of files written before this
version (`failed`/`skipped` statuses, a criterion's `pass`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from aictl.facts.model import Failure, FailureKind
from aictl.status import Status

SCHEMA_VERSION = 2
Number = float | int


class Stage(StrEnum):
    """Where in the run a unit sits (they run in this order)."""

    NODE = "node"
    PAIR = "pair"
    CONFIRM = "confirm"
    CLUSTER = "cluster"


class Kind(StrEnum):
    """What a unit measures."""

    GDR = "gdr"  # ib_write_bw from GPU memory (GPUDirect RDMA: --use_cuda, --use_rocm)
    HOST = "host"  # ib_write_bw from host memory
    NCCL = "nccl"  # a collective benchmark: nccl-tests, rccl-tests or hccl_test
    # Ascend NPU ports have no perftest: hccn_tool says a port's link and health (PORT),
    # and an NPU pings its peer over the rail (PING); neither measures a bandwidth
    PORT = "port"
    PING = "ping"

    @property
    def unit(self) -> str:
        if self in (Kind.PORT, Kind.PING):
            return ""
        return "GB/s" if self is Kind.NCCL else "Gb/s"


@dataclass(frozen=True, slots=True)
class Unit:
    """One benchmark: where it runs and what it measures."""

    id: str
    stage: Stage
    kind: Kind
    hosts: tuple[str, ...]
    round: int = 0
    rail: int | None = None
    gpus: tuple[int, ...] = ()
    collective: str = ""
    sizes: tuple[int, int, int] = (0, 0, 2)  # min, max, factor
    env: tuple[tuple[str, str], ...] = ()
    # the collective domain (one fabric, one vendor) of a cluster unit, when the plan has
    # several: no collective spans two
    domain: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "stage": self.stage.value,
            "kind": self.kind.value,
            "hosts": list(self.hosts),
            "round": self.round,
            "rail": self.rail,
            "gpus": list(self.gpus),
            "collective": self.collective,
            "sizes": list(self.sizes),
            "env": dict(self.env),
        }
        if self.domain:
            out["domain"] = self.domain
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> Unit:
        sizes = d.get("sizes") or (0, 0, 2)
        return cls(
            str(d["id"]),
            Stage(d["stage"]),
            Kind(d["kind"]),
            tuple(d["hosts"]),
            int(d.get("round", 0)),
            d.get("rail"),
            tuple(d.get("gpus") or ()),
            str(d.get("collective") or ""),
            (int(sizes[0]), int(sizes[1]), int(sizes[2])),
            tuple(sorted((str(k), str(v)) for k, v in (d.get("env") or {}).items())),
            str(d.get("domain") or ""),
        )

    def without(self, hosts: set[str]) -> Unit:
        """The same unit on fewer hosts (a cluster test going on without dead nodes)."""
        return replace(self, hosts=tuple(h for h in self.hosts if h not in hosts))


@dataclass(frozen=True, slots=True)
class SizePoint:
    """busbw at one message size."""

    size_bytes: int
    busbw_gbps: float


@dataclass(frozen=True, slots=True)
class UnitResult:
    """What one unit measured. `value` is Gb/s for perftest, busbw GB/s for NCCL."""

    id: str
    stage: Stage
    kind: Kind
    hosts: tuple[str, ...]
    status: Status
    round: int = 0
    rail: int | None = None
    gpus: tuple[int, ...] = ()
    collective: str | None = None
    value: float | None = None
    failure: Failure | None = None
    simulated: bool = False
    gpu_direct: bool | None = None
    expected_min: float | None = None
    rows: tuple[SizePoint, ...] = ()
    raw: str = ""
    elapsed_s: float = 0.0
    excluded: tuple[str, ...] = ()
    # the node groups of its hosts, and how many GPUs each host ran with
    groups: tuple[str, ...] = ()
    note: str = ""

    @property
    def unit(self) -> str:
        return self.kind.unit

    @property
    def lost_host(self) -> str:
        """The node this unit lost (it could not be reached or died), else ''."""
        if self.failure and self.failure.kind is FailureKind.UNREACHABLE:
            return self.failure.host
        return ""

    @classmethod
    def of(cls, unit: Unit, **kw: Any) -> UnitResult:
        base: dict[str, Any] = {
            "id": unit.id,
            "stage": unit.stage,
            "kind": unit.kind,
            "hosts": unit.hosts,
            "round": unit.round,
            "rail": unit.rail,
            "gpus": unit.gpus,
            "collective": unit.collective or None,
            "status": Status.OK,
        }
        base.update(kw)
        return cls(**base)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "stage": self.stage.value,
            "kind": self.kind.value,
            "hosts": list(self.hosts),
            "round": self.round,
            "rail": self.rail,
            "gpus": list(self.gpus),
            "collective": self.collective,
            "status": self.status.value,
            "value": self.value,
            "unit": self.unit,
            "failure": self.failure.as_json() if self.failure else None,
            "simulated": self.simulated,
        }
        if self.gpu_direct is not None:
            out["gpu_direct"] = self.gpu_direct
        if self.expected_min is not None or self.kind is Kind.NCCL:
            out["expected_min"] = self.expected_min
        if self.rows or self.kind is Kind.NCCL:
            out["rows"] = [
                {"size_bytes": p.size_bytes, "busbw_gbps": p.busbw_gbps} for p in self.rows
            ]
        for key, value in (
            ("raw", self.raw),
            ("excluded", list(self.excluded)),
            ("groups", list(self.groups)),
            ("note", self.note),
        ):
            if value:
                out[key] = value
        out["elapsed_s"] = self.elapsed_s
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> UnitResult:
        return cls(
            id=str(d["id"]),
            stage=Stage(d["stage"]),
            kind=Kind(d["kind"]),
            hosts=tuple(d["hosts"]),
            status=Status.read(d["status"]),
            round=int(d.get("round", 0)),
            rail=d.get("rail"),
            gpus=tuple(d.get("gpus") or ()),
            collective=d.get("collective"),
            value=_float(d.get("value")),
            failure=Failure.read(d.get("failure")),
            simulated=bool(d.get("simulated")),
            gpu_direct=d.get("gpu_direct"),
            expected_min=_float(d.get("expected_min")),
            rows=tuple(
                SizePoint(int(p["size_bytes"]), float(p["busbw_gbps"] or 0))
                for p in d.get("rows") or ()
            ),
            raw=str(d.get("raw") or ""),
            elapsed_s=float(d.get("elapsed_s") or 0.0),
            excluded=tuple(d.get("excluded") or ()),
            groups=tuple(d.get("groups") or ()),
            note=str(d.get("note") or ""),
        )


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class SuspectKind(StrEnum):
    """Why a node (or a link) is named."""

    UNREACHABLE = "unreachable"
    GDR_UNAVAILABLE = "gdr-unavailable"  # GPUDirect did not run at all
    GDR_LOW = "gdr-low"
    NODE_NCCL = "node-nccl"  # inside one node (NVLink, xGMI, HCCS)
    PORT_DOWN = "port-down"  # an NPU's own port: link or health (hccn_tool)
    PAIR_CONFIRMED = "pair-confirmed"  # low again with a known-good partner
    PAIR_UNCONFIRMED = "pair-unconfirmed"  # low, no known-good partner to confirm with
    LINK = "link"  # both ends fine elsewhere: the path between them


@dataclass(frozen=True, slots=True)
class Suspect:
    """A node (and rail), or a link between leaves, named by the verdict."""

    kind: SuspectKind
    reason: str
    node: str = ""
    link: str = ""
    rail: int | None = None
    # the unit family it was judged in (NCCL or GPUDirect), for the words of later rules
    measured: Kind | None = None
    evidence: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return self.node or self.link

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"node": self.node} if self.node else {"link": self.link}
        if self.rail is not None:
            out["rail"] = self.rail
        out["kind"] = self.kind.value
        out["reason"] = self.reason
        if self.evidence:
            out["evidence"] = list(self.evidence)
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> Suspect:
        kind = d.get("kind", "pair-confirmed")
        known = SuspectKind._value2member_map_
        return cls(
            SuspectKind(kind) if kind in known else SuspectKind.PAIR_CONFIRMED,
            str(d.get("reason", "")),
            node=str(d.get("node") or ""),
            link=str(d.get("link") or ""),
            rail=d.get("rail"),
            evidence=tuple(d.get("evidence") or ()),
        )


Measure = dict[str, Number | str | None]


@dataclass(frozen=True, slots=True)
class Criterion:
    """One line of the verdict: what was measured against what was expected."""

    name: str
    what: str
    status: Status  # ok | fail | skip (no verdict: nothing to hold it against)
    measured: Measure
    expected: Measure
    failing: tuple[str, ...] = ()
    failure: Failure | None = None
    # a test over several node groups is judged by the weaker side, and says so here
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "what": self.what,
            "status": self.status.value,
            "measured": self.measured,
            "expected": self.expected,
        }
        if self.failing or self.status is Status.FAIL:
            out["failing"] = list(self.failing)
        if self.failure is not None:
            out["failure"] = self.failure.as_json()
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> Criterion:
        status = Status.read(d["status"] if "status" in d else d.get("pass"))
        return cls(
            str(d["name"]),
            str(d.get("what", "")),
            status,
            dict(d.get("measured") or {}),
            dict(d.get("expected") or {}),
            tuple(d.get("failing") or ()),
            Failure.read(d.get("failure")),
            str(d.get("note") or ""),
        )


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict of a run: criteria, suspects, what did not run."""

    verdict: Verdict
    criteria: tuple[Criterion, ...]
    suspects: tuple[Suspect, ...]
    missing_units: tuple[str, ...] = ()
    low_pairs: tuple[str, ...] = ()
    # each collective domain's own verdict when a run has several (the cluster's is their
    # conjunction): name -> verdict, vendor, node groups, nodes, what failed there
    domains: tuple[DomainVerdict, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out = {
            "verdict": self.verdict.value,
            "criteria": [c.as_json() for c in self.criteria],
            "suspects": [s.as_json() for s in self.suspects],
            "missing_units": list(self.missing_units),
            "low_pairs": list(self.low_pairs),
        }
        if self.domains:
            out["domains"] = [d.as_json() for d in self.domains]
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> Judgement:
        return cls(
            Verdict(d.get("verdict", "incomplete")),
            tuple(Criterion.read(c) for c in d.get("criteria") or ()),
            tuple(Suspect.read(s) for s in d.get("suspects") or ()),
            tuple(d.get("missing_units") or ()),
            tuple(d.get("low_pairs") or ()),
            tuple(DomainVerdict.read(x) for x in d.get("domains") or ()),
        )


@dataclass(frozen=True, slots=True)
class DomainVerdict:
    """One collective domain's verdict: its vendor, node groups and nodes, and why it failed
    (criteria that failed on its units, nodes of it named)."""

    name: str
    vendor: str
    groups: tuple[str, ...]
    nodes: int
    verdict: Verdict
    failed: tuple[str, ...] = ()
    named: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vendor": self.vendor,
            "groups": list(self.groups),
            "nodes": self.nodes,
            "verdict": self.verdict.value,
            "failed": list(self.failed),
            "named": list(self.named),
        }

    @classmethod
    def read(cls, d: dict[str, Any]) -> DomainVerdict:
        return cls(
            str(d["name"]),
            str(d.get("vendor", "")),
            tuple(d.get("groups") or ()),
            int(d.get("nodes", 0)),
            Verdict(d.get("verdict", "incomplete")),
            tuple(d.get("failed") or ()),
            tuple(d.get("named") or ()),
        )


@dataclass(frozen=True)
class RunPlan:
    """plan.json: what a run does and what it is judged by."""

    run_id: str
    cluster: str
    spec_sha256: str
    suite: str
    launcher: str
    hosts: tuple[str, ...]
    expectations: dict[str, Any]
    gpu_for_rail: dict[str, tuple[int, ...]]
    facts_notes: dict[str, str]
    units: tuple[Unit, ...]
    confirm_units: tuple[Unit, ...] = ()
    confirm_planned: bool = False
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def all_units(self) -> tuple[Unit, ...]:
        return self.units + self.confirm_units

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": "aictl.accept.plan",
            "run_id": self.run_id,
            "cluster": self.cluster,
            "spec_sha256": self.spec_sha256,
            "suite": self.suite,
            "launcher": self.launcher,
            "hosts": list(self.hosts),
            "expectations": self.expectations,
            "gpu_for_rail": {h: list(g) for h, g in self.gpu_for_rail.items()},
            "facts_notes": self.facts_notes,
            "units": [u.as_json() for u in self.units],
            "confirm_units": [u.as_json() for u in self.confirm_units],
            "confirm_planned": self.confirm_planned,
            **self.extra,
        }

    @classmethod
    def read(cls, d: dict[str, Any]) -> RunPlan:
        return cls(
            run_id=str(d["run_id"]),
            cluster=str(d["cluster"]),
            spec_sha256=str(d.get("spec_sha256", "")),
            suite=str(d.get("suite", "quick")),
            launcher=str(d.get("launcher", "ssh")),
            hosts=tuple(d["hosts"]),
            expectations=dict(d.get("expectations") or {}),
            gpu_for_rail={h: tuple(g) for h, g in (d.get("gpu_for_rail") or {}).items()},
            facts_notes=dict(d.get("facts_notes") or {}),
            units=tuple(Unit.read(u) for u in d.get("units") or ()),
            confirm_units=tuple(Unit.read(u) for u in d.get("confirm_units") or ()),
            confirm_planned=bool(d.get("confirm_planned")),
            schema_version=int(d.get("schema_version", 1)),
        )
