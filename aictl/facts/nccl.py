"""nccl-tests output of every era, as data, with the failure classified.

Text: launcher prefixes (`srun --label` ` 0: `, `mpirun --tag-output` `[1,0]<stdout>:`) are
stripped and NCCL INFO/WARN lines dropped wherever they are (even inside the table). Columns
are found from the header: 2.13+ has `root` and `#wrong`, pre-2.13 an `error` column; rows
are split on whitespace and read from the end, so a blank redop (old alltoall) or e-notation
times do not shift them. JSON (`-J`): the same shape; its `env` block is redacted here, before
anything is stored.

Failure kinds, in the order they are decided: correctness (`#wrong` > 0, out-of-bounds
FAILED), launch (the launcher or the argument parser refused: no nccl-tests header), startup
(a header but no table: CUDA/NCCL init errors), timeout (the table stops without a footer),
performance (only when an expectation is given: peak busbw below it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from aictl.facts.model import Failure, FailureKind, Parsed
from aictl.facts.text import SIM_MARK
from aictl.status import Status

_PREFIX = re.compile(r"^(?:\s*\d+: |\[\d+,\d+\]<std(?:out|err)>:\s?|\[\d+\] )")
_NOISE = re.compile(r"NCCL (INFO|WARN)|^NCCL version ")
_HEADER = re.compile(r"^#\s+size\s+count\s+type\s+redop(\s+root)?\s+(time|cputime)")
_ROW = re.compile(r"^\s*\d+\s+\d+\s+\S+")
_RANK = re.compile(
    r"^#\s+Rank\s+(\d+)\s+(?:Group\s+\d+\s+)?Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)"
)
_PROG = re.compile(
    r"\b(all_reduce|all_gather|alltoall|broadcast|gather|scatter|reduce_scatter|reduce|sendrecv|hypercube|alltoallv)_perf\b"
)
_STARTUP = re.compile(r"Test (CUDA|NCCL) failure|Test failure|NCCL error|Cuda failure")
_LAUNCH = re.compile(
    r"invalid size specified|Invalid number of GPUs|requested more processes|"
    r"mpirun (was unable|detected|noticed)|Primary job\s+terminated|srun: error|"
    r"command not found|No such file or directory|ORTE was unable|"
    r"Host key verification failed|Permission denied|ssh: connect"
)
_KEEP_ENV = ("NCCL_", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "UCX_TLS", "UCX_NET_DEVICES")


def _num(tok: str) -> float | None:
    """A number of the table; NaN and infinities (a broken run) read as no number."""
    try:
        v = float(tok)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _nonfinite(tok: str) -> bool:
    try:
        return not math.isfinite(float(tok))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Half:
    """One half of a row: out-of-place or in-place."""

    time_us: float | None
    algbw_gbps: float | None
    busbw_gbps: float | None
    wrong: int | None
    # pre-2.13 tables print an error column instead of #wrong
    error: float | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One message size."""

    size_bytes: int
    count: int
    type: str
    redop: str
    root: int | None
    out_of_place: Half
    in_place: Half

    @property
    def busbw_gbps(self) -> float | None:
        """The better half's bus bandwidth."""
        vals = [h.busbw_gbps for h in (self.out_of_place, self.in_place) if h.busbw_gbps]
        return max(vals) if vals else None

    @property
    def wrong(self) -> int:
        return (self.out_of_place.wrong or 0) + (self.in_place.wrong or 0)


@dataclass(frozen=True, slots=True)
class Device:
    """A rank and the GPU it ran on."""

    rank: int | None
    pid: int | None
    host: str | None
    device: int | None


@dataclass(frozen=True, slots=True)
class OutOfBounds:
    count: int
    ok: bool


@dataclass(frozen=True, kw_only=True)
class NcclResult(Parsed):
    """One nccl-tests run."""

    collective: str | None = None
    version: str | None = None
    ranks: int | None = None
    devices: tuple[Device, ...] = ()
    rows: tuple[Row, ...] = ()
    peak_busbw_gbps: float | None = None
    avg_busbw_gbps: float | None = None
    out_of_bounds: OutOfBounds | None = None
    params: dict[str, Any] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    nccl_version: str | None = None

    def at(self, size: int) -> float | None:
        """The best bus bandwidth measured at `size` bytes (None when that row is absent)."""
        vals = [b for r in self.rows if r.size_bytes == size and (b := r.busbw_gbps)]
        return max(vals) if vals else None


def _half(vals: list[str], old: bool) -> Half:
    t, alg, bus, wrong = vals
    bad = None if old or wrong == "N/A" else _num(wrong)
    return Half(
        _num(t),
        _num(alg),
        _num(bus),
        None if bad is None else int(bad) if bad == bad and abs(bad) != float("inf") else None,
        (None if wrong == "N/A" else _num(wrong)) if old else None,
    )


def _clean(text: str) -> list[str]:
    out = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        ln = _PREFIX.sub("", raw, count=1)
        if ln.startswith(SIM_MARK) or _NOISE.search(ln):
            continue
        out.append(ln)
    return out


def _done(kind: FailureKind | None, msg: str, **kw: Any) -> NcclResult:
    failure = Failure(kind, msg) if kind is not None else None
    return NcclResult(
        tool="nccl", status=Status.FAIL if failure else Status.OK, failure=failure, **kw
    )


def parse_nccl(
    text: str, *, expect_busbw: float | None = None, collective: str | None = None
) -> NcclResult:
    """nccl-tests text (or its `-J` JSON) -> the result; see the module docstring.
    `collective` names the test when the output does not (old versions print no name)."""
    if text.lstrip().startswith("{"):
        return parse_nccl_json(text, expect_busbw=expect_busbw)
    lines = _clean(text)
    prog = _PROG.search(text)
    version = None
    params: dict[str, Any] = {}
    devices: list[Device] = []
    rows: list[Row] = []
    oob: OutOfBounds | None = None
    avg = None
    old = False
    header = footer = False
    failures: list[str] = []
    broken: list[int] = []  # sizes whose row holds NaN or inf
    for ln in lines:
        s = ln.strip()
        if m := re.match(r"^# nccl-tests version (\S+)", s):
            version = m.group(1)
        elif s.startswith("# nThread"):
            header = True
            for k, v in re.findall(r"(\w+(?: \w+)?):? (\d+)", s[1:]):
                params[k.replace(" ", "_")] = int(v)
        elif s.startswith("# Collective test starting") or s.startswith("# Using devices"):
            header = True
        elif m := _RANK.match(s):
            devices.append(Device(int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))))
        elif m := _HEADER.match(s):
            header = True
            old = m.group(1) is None and " error" in s
        elif m := re.match(r"^# Out of bounds values\s*:\s*(\d+)\s*(OK|FAILED)?", s):
            footer = True
            oob = OutOfBounds(int(m.group(1)), m.group(2) != "FAILED")
        elif m := re.match(r"^# Avg bus bandwidth\s*:\s*(\S+)\s*(OK|FAILED)?", s):
            footer = True
            avg = _num(m.group(1))
            if m.group(2) == "FAILED":
                failures.append(f"avg busbw {m.group(1)} below NCCL_TESTS_MIN_BW")
        elif _ROW.match(s) and not s.startswith("#"):
            tok = s.split()
            if len(tok) < 11:
                continue
            vals, mid = tok[-8:], tok[2:-8]
            if any(_nonfinite(v) for v in vals):
                broken.append(int(tok[0]))
            rows.append(
                Row(
                    size_bytes=int(tok[0]),
                    count=int(tok[1]),
                    type=mid[0] if mid else "",
                    redop=(mid[1] if len(mid) >= 3 or (old and len(mid) >= 2) else ""),
                    root=(
                        int(mid[-1])
                        if not old and len(mid) >= 2 and re.match(r"^-?\d+$", mid[-1])
                        else None
                    ),
                    out_of_place=_half(vals[:4], old),
                    in_place=_half(vals[4:], old),
                )
            )
        elif _STARTUP.search(s) or _LAUNCH.search(s):
            failures.append(s)
    ranks = len(devices) or (params.get("nGpus") if params.get("nGpus") and not devices else None)
    busbws = [
        h.busbw_gbps for r in rows for h in (r.out_of_place, r.in_place) if h.busbw_gbps is not None
    ]
    peak = max(busbws) if busbws else None
    wrong = sum(r.wrong for r in rows)
    kind: FailureKind | None = None
    msg = ""
    if broken:
        kind = FailureKind.CORRECTNESS
        msg = f"NaN or inf in the results at {len(broken)} size(s), first {broken[0]} bytes"
    elif wrong or (oob and (not oob.ok or oob.count)):
        kind = FailureKind.CORRECTNESS
        msg = (
            f"{wrong} wrong elements"
            if wrong
            else f"out of bounds values: {oob.count if oob else '?'} FAILED"
        )
    elif not header and not rows:
        kind = FailureKind.LAUNCH
        # what the launcher said last is the best account of why nothing ran
        last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
        msg = next((f for f in failures if _LAUNCH.search(f)), None) or (
            failures[0] if failures else last or "no nccl-tests output"
        )
    elif not rows:
        kind = FailureKind.STARTUP
        msg = next((f for f in failures if _STARTUP.search(f)), None) or "no result table"
    elif not footer:
        kind = FailureKind.TIMEOUT
        msg = "the table stops without a footer (killed, timed out or trimmed)"
    elif failures and any(_STARTUP.search(f) for f in failures):
        kind, msg = FailureKind.STARTUP, next(f for f in failures if _STARTUP.search(f))
    elif expect_busbw is not None and (peak or 0) < expect_busbw:
        kind, msg = FailureKind.PERFORMANCE, _slow(peak, expect_busbw)
    return _done(
        kind,
        msg,
        simulated=SIM_MARK in text,
        collective=prog.group(1) if prog else collective,
        version=version,
        ranks=ranks,
        devices=tuple(devices),
        rows=tuple(rows),
        peak_busbw_gbps=peak,
        avg_busbw_gbps=avg,
        out_of_bounds=oob,
        params=params,
    )


def _slow(peak: float | None, expect: float) -> str:
    return f"peak busbw {peak} GB/s < expected {expect:g} GB/s"


def redact_env(env: list[Any]) -> list[str]:
    """`KEY=value` entries: NCCL/CUDA/UCX selection variables kept, every other value hidden."""
    out = []
    for item in env:
        key, sep, _ = str(item).partition("=")
        keep = key.startswith(_KEEP_ENV)
        out.append(str(item) if keep or not sep else f"{key}=<redacted>")
    return out


def _jnum(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def parse_nccl_json(text: str, *, expect_busbw: float | None = None) -> NcclResult:
    """nccl-tests `-J` report (schema v3) -> the same shape as the text parser."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return _done(FailureKind.LAUNCH, f"not JSON: {getattr(exc, 'msg', exc)}", simulated=False)
    if not isinstance(doc, dict):
        return _done(FailureKind.LAUNCH, "not a nccl-tests JSON report", simulated=False)
    cfg: dict[str, Any] = doc["config"] if isinstance(doc.get("config"), dict) else {}
    prog = _PROG.search(" ".join(map(str, doc.get("args") or [])))
    devices = tuple(
        Device(d.get("rank"), d.get("pid"), d.get("hostname"), d.get("device"))
        for d in cfg.get("devices") or []
        if isinstance(d, dict)
    )

    def half(h: Any) -> Half:
        h = h if isinstance(h, dict) else {}
        nwrong = _jnum(h.get("nwrong"))
        return Half(
            _jnum(h.get("time")),
            _jnum(h.get("alg_bw")),
            _jnum(h.get("bus_bw")),
            None if nwrong is None or nwrong != nwrong else int(nwrong),
        )

    rows: list[Row] = []
    for r in doc.get("results") or []:
        try:
            rows.append(
                Row(
                    size_bytes=int(r["size"]),
                    count=int(r["count"]),
                    type=str(r.get("type", "")),
                    redop=str(r.get("redop", "")),
                    root=int(str(r.get("root", "-1")).strip() or -1),
                    out_of_place=half(r.get("out_of_place")),
                    in_place=half(r.get("in_place")),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    busbws = [
        h.busbw_gbps for r in rows for h in (r.out_of_place, r.in_place) if h.busbw_gbps is not None
    ]
    oob_doc: dict[str, Any] = (
        doc["out_of_bounds"] if isinstance(doc.get("out_of_bounds"), dict) else {}
    )
    avg_doc: dict[str, Any] = (
        doc["average_bus_bandwidth"] if isinstance(doc.get("average_bus_bandwidth"), dict) else {}
    )
    try:
        oob_count = int(oob_doc.get("count", 0))
    except (TypeError, ValueError):
        oob_count = 0
    oob = OutOfBounds(oob_count, str(oob_doc.get("okay", "true")) != "false")
    peak = max(busbws) if busbws else None
    errors = [str(e) for e in doc.get("errors") or [] if e]
    wrong = sum(r.wrong for r in rows)
    kind: FailureKind | None = None
    msg = ""
    if wrong or oob.count or not oob.ok:
        kind, msg = FailureKind.CORRECTNESS, f"{wrong} wrong elements"
    elif errors or not rows:
        kind, msg = FailureKind.STARTUP, errors[0] if errors else "no results"
    elif expect_busbw is not None and (peak or 0) < expect_busbw:
        kind, msg = FailureKind.PERFORMANCE, _slow(peak, expect_busbw)
    return _done(
        kind,
        msg,
        simulated=bool(doc.get("simulated")),
        collective=prog.group(1) if prog else None,
        version=str(doc.get("version")),
        ranks=len(devices) or None,
        devices=devices,
        rows=tuple(rows),
        peak_busbw_gbps=peak,
        avg_busbw_gbps=_jnum(avg_doc.get("bandwidth")),
        out_of_bounds=oob,
        params={k: v for k, v in cfg.items() if k != "devices"},
        env=tuple(redact_env(doc.get("env") or [])),
        nccl_version=str(doc["nccl_version"]) if doc.get("nccl_version") is not None else None,
    )
