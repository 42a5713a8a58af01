"""hccl_test (Huawei's HCCL performance tester: `all_reduce_test`, `all_gather_test`, ...).

Rank 0 prints one header, `data_size(Bytes): | aveg_time(us): | alg_bandwidth(GB/s): |
check_result:`, then a row per size: bytes, average time, algorithm bandwidth and `success`,
`failed` or `NULL` (check disabled with `-c 0`, or switched off because the result would
overflow, which hccl_test says in a `Warning:` line). A rank whose check failed prints its
own `check result failed` line. hccl_test reports algbw only: the bus bandwidth is derived
here with the collective's factor (nccl-tests' definitions) for the rank count the caller
knows, since the output never says how many ranks ran.

Failure kinds: correctness (a row or a rank that failed its check), startup (HCCL or ACL said
an API failed before a row: `HcclCommInitRootInfo failed`, `aclrtSetDevice failed`),
network (a timeout or a socket error between ranks), launch (no header: the launcher or the
argument parser refused), incomplete (a header and no rows).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from aictl.facts.model import Failure, FailureKind, Parsed
from aictl.facts.text import is_prompt, is_simulated, lines_of
from aictl.status import Status

_HEADER = re.compile(r"data_size\(Bytes\):\s*\|\s*a(?:ve)?g_time\(us\):\s*\|\s*alg_bandwidth")
_ROW = re.compile(r"^\s*(\d+)\s*\|\s*(\S+)\s*\|\s*(\S+)\s*\|\s*(success|failed|NULL)\s*$", re.I)
_RANK_FAIL = re.compile(r"rank(?:_id| id)? (\d+),? check result failed", re.I)
_PROG = re.compile(
    r"\b(all_reduce|all_gather|reduce_scatter|alltoallv|alltoall|broadcast|reduce|"
    r"scatter|send_recv)_test\b"
)
_STARTUP = re.compile(
    r"\b(Hccl\w+|acl\w+|HCCL|ACL)\b.*\b(failed|fail|error)\b|"
    r"ERR\d{5}|Error code is \d+|\[ERROR\] HCCL",
    re.I,
)
_NETWORK = re.compile(
    r"timeout|timed out|socket|connect(?:ion)? (?:refused|failed|reset)|link down|"
    r"No route to host|received invalid data",
    re.I,
)
_LAUNCH = re.compile(
    r"mpirun|prterun|command not found|No such file or directory|Host key verification|"
    r"Permission denied|invalid (?:option|argument)|Usage:|unrecognized option",
    re.I,
)
# nccl-tests' bus bandwidth factors (doc/PERFORMANCE.md), which HCCL's collectives share
_FACTOR = {
    "all_reduce": lambda n: 2 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "alltoall": lambda n: (n - 1) / n,
    "alltoallv": lambda n: (n - 1) / n,
}


def bus_factor(collective: str, ranks: int) -> float:
    """busbw = algbw x this for `collective` over `ranks` ranks (1 for broadcast, reduce,
    send/receive)."""
    if ranks <= 1:
        return 1.0
    f = _FACTOR.get(collective)
    return f(ranks) if f else 1.0


def _num(tok: str) -> float | None:
    try:
        v = float(tok)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True, slots=True)
class HcclRow:
    """One message size."""

    size_bytes: int
    time_us: float | None
    algbw_gbps: float | None
    check: str  # success, failed or NULL


@dataclass(frozen=True, kw_only=True)
class HcclResult(Parsed):
    """One hccl_test run (algbw as measured; busbw derived by `busbw`)."""

    collective: str | None = None
    rows: tuple[HcclRow, ...] = ()
    peak_algbw_gbps: float | None = None
    failed_ranks: tuple[int, ...] = ()
    check_disabled: bool = False
    warnings: tuple[str, ...] = ()

    def busbw(self, ranks: int, collective: str | None = None) -> list[tuple[int, float]]:
        """(size, busbw GB/s) per row for `ranks` ranks, with the collective's factor."""
        f = bus_factor(collective or self.collective or "", ranks)
        return [(r.size_bytes, r.algbw_gbps * f) for r in self.rows if r.algbw_gbps is not None]

    def busbw_at(self, size: int, ranks: int, collective: str | None = None) -> float | None:
        """The derived busbw at `size` bytes (None when that row is absent)."""
        return next((b for s, b in self.busbw(ranks, collective) if s == size), None)


def parse_hccl_test(text: str, *, collective: str | None = None) -> HcclResult:
    """hccl_test's output -> rows and the failure, if any (see the module docstring)."""
    rows: list[HcclRow] = []
    header = False
    failed_ranks: list[int] = []
    warnings: list[str] = []
    said: list[str] = []
    check_off = False
    prog = None
    for ln in lines_of(text):
        s = ln.strip()
        if not s or is_prompt(ln):
            continue
        if prog is None and (m := _PROG.search(s)) is not None:
            prog = m.group(1)
        if _HEADER.search(s):
            header = True
            continue
        if header and (m := _ROW.match(s)) is not None:
            rows.append(HcclRow(int(m.group(1)), _num(m.group(2)), _num(m.group(3)), m.group(4)))
            continue
        if (m := _RANK_FAIL.search(s)) is not None:
            failed_ranks.append(int(m.group(1)))
            continue
        if s.lower().startswith("warning"):
            warnings.append(s[:200])
            check_off = check_off or "no verification" in s.lower()
            continue
        said.append(s)
    failure = _judge(header, rows, failed_ranks, said)
    peaks = [r.algbw_gbps for r in rows if r.algbw_gbps is not None]
    return HcclResult(
        tool="hccl_test",
        status=Status.FAIL if failure else Status.OK,
        failure=failure,
        simulated=is_simulated(text),
        collective=prog or collective,
        rows=tuple(rows),
        peak_algbw_gbps=max(peaks) if peaks else None,
        failed_ranks=tuple(sorted(set(failed_ranks))),
        check_disabled=check_off or (bool(rows) and all(r.check == "NULL" for r in rows)),
        warnings=tuple(warnings[:20]),
    )


def _judge(
    header: bool, rows: list[HcclRow], failed_ranks: list[int], said: list[str]
) -> Failure | None:
    bad = [r for r in rows if r.check.lower() == "failed"]
    if bad or failed_ranks:
        where = f"at {bad[0].size_bytes} bytes" if bad else f"on rank {failed_ranks[0]}"
        return Failure(FailureKind.CORRECTNESS, f"check_result failed {where}")
    net = next((s for s in said if _NETWORK.search(s)), None)
    api = next((s for s in said if _STARTUP.search(s)), None)
    if not header:
        if net or api:
            kind = FailureKind.NETWORK if net else FailureKind.STARTUP
            return Failure(kind, (net or api or "")[:300])
        launch = next((s for s in said if _LAUNCH.search(s)), None)
        msg = launch or (said[-1] if said else "no hccl_test output")
        return Failure(FailureKind.LAUNCH, msg[:300])
    if net or api:
        after = f" after {rows[-1].size_bytes} bytes" if rows else ""
        kind = FailureKind.NETWORK if net else FailureKind.STARTUP
        return Failure(kind, f"{(net or api or '')[:280]}{after}")
    if not rows:
        return Failure(FailureKind.INCOMPLETE, "a header and no rows")
    if any(r.algbw_gbps is None for r in rows):
        return Failure(FailureKind.CORRECTNESS, "a row without a number (NaN, inf or cut)")
    return None
