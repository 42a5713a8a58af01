"""perftest output (ib_write_bw, ib_read_bw, ib_send_bw, ib_atomic_bw and the _lat tests),
client or server side.

The test is named by its title (`RDMA_Write Bidirectional BW Test`, `Atomic FETCH_AND_ADD BW
Test`, `Send Latency Test`, ...) or else the command line. Columns come from the table header:
bandwidth (with `#sl` for QoS runs), latency with its percentile columns, latency in duration
mode (`t_avg tps`). Bandwidth is normalised to decimal Gb/s: `[Gb/sec]` as is,
`[MB/sec]`/`[MiB/sec]` (both 2^20 bytes) times 8 x 2^20 / 1e9. `bw_avg_gbps` is the average
bandwidth at the largest message size (the server prints only that row with `-a`; the client
every size). GPUDirect is recognised from `--use_cuda*` on the command line or the CUDA
chatter perftest prints. Interleaved server+client output (one stream) parses as side `both`.
With `--report-both` the run's table (the sum of both directions) comes first and is the
figure; the `Local results:` / `Remote results:` tables after it give each side's own.

perftest closes its table with a rule line; a table without it, a header without rows, a row
with fewer columns than its header or a text that ends inside a row is `incomplete` — its
numbers are kept, but the run is not known to have finished. Warnings printed while it runs
(CPU frequency, MTU, GID) are kept, never a failure by themselves.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from aictl.facts.model import Failure, FailureKind, Parsed
from aictl.facts.text import SIM_MARK
from aictl.status import Status

# the title perftest prints: `<verb> [<atomic op>] [Bidirectional] [Post List] BW|Latency Test`
_TITLE = re.compile(
    r"^\s*(Send|Send_imm|RDMA_Write|RDMA_Write_imm|RDMA_Read|Atomic)\s+"
    r"(?:(FETCH_AND_ADD|CMP_AND_SWAP)\s+)?(Bidirectional\s+)?(?:Post List\s+)?(BW|Latency)\s+"
    r"(?:forwarding\s+)?(?:Multicast\s+)?Test\s*$"
)
_VERB = {
    "Send": "send",
    "Send_imm": "send",
    "RDMA_Write": "write",
    "RDMA_Write_imm": "write",
    "RDMA_Read": "read",
    "Atomic": "atomic",
}
MIB_TO_GBPS = 8 * 2**20 / 1e9
_CMD = re.compile(r"\b(ib_(?:write|read|send|atomic)_(?:bw|lat))\b(.*)$")
_BW_HEAD = re.compile(r"#bytes\s+(#sl\s+)?#iterations\s+BW peak\[(Gb|MB|MiB)/sec\]\s+BW average")
_LAT_HEAD = re.compile(r"#bytes\s+#iterations\s+t_min\[usec\]")
_DUR_HEAD = re.compile(r"#bytes\s+#iterations\s+t_avg\[usec\]\s+tps average")
_ROW = re.compile(r"^\s*\d+\s+\d+\s+[\d.]+")
_RULE = re.compile(r"^-{20,}\s*$")
# what perftest warns about while it runs (kept, never a failure by itself)
_WARNING = re.compile(
    r"Conflicting CPU frequency|CPU Frequency is not max|^\s*Warning\b|Requested mtu is higher|"
    r"Changing to active mtu|cpufreq_ondemand|GID.*(not found|isn't supported|no RoCE)",
    re.I,
)
_ERRORS = (
    (
        re.compile(r"Completion with error|Failed status \d+|Failed to complete run_iter"),
        FailureKind.COMPLETION,
    ),
    (
        re.compile(
            r"Couldn't (allocate|register) MR|Unable to create QP|Couldn't create|Failed to create|"
            r"No such device ID \(\d+\) exists|Couldn't init GPU context|Couldn't allocate PD|"
            r"Failed to modify QP|Couldn't post send"
        ),
        FailureKind.STARTUP,
    ),
    (
        re.compile(
            r"Couldn't connect|Unable to open|No IB devices|Couldn't get device|command not found|"
            r"Couldn't find (IB )?device|Unable to find the Infiniband/RoCE device|"
            r"Unable to init the socket connection"
        ),
        FailureKind.LAUNCH,
    ),
)
_ORDER = (FailureKind.STARTUP, FailureKind.LAUNCH, FailureKind.COMPLETION)
_LAT_KEYS = (
    "t_min_us",
    "t_max_us",
    "t_typical_us",
    "t_avg_us",
    "t_stdev_us",
    "p99_us",
    "p99_9_us",
)


@dataclass(frozen=True, kw_only=True)
class PerftestResult(Parsed):
    """One side (or both) of a perftest run."""

    test: str | None = None
    side: str = "client"  # client | server | both
    bidirectional: bool = False
    atomic: str | None = None  # FETCH_AND_ADD | CMP_AND_SWAP
    device: str | None = None
    link_type: str | None = None
    gid_index: int | None = None
    gpu_direct: bool = False
    cuda_device: int | None = None
    cuda_pcie: str | None = None
    dmabuf: bool = False
    report_gbits: bool = False
    rows: tuple[dict[str, float | int | None], ...] = ()
    bw_avg_gbps: float | None = None
    bw_peak_gbps: float | None = None
    msg_rate_mpps: float | None = None
    # `--report-both`: each side's own average (the run's figure is their sum)
    bw_local_gbps: float | None = None
    bw_remote_gbps: float | None = None
    lat_typical_us: float | None = None
    lat_p99_us: float | None = None
    warnings: tuple[str, ...] = ()


def _title(lines: list[str]) -> tuple[list[str], bool, str | None]:
    """Test names from the titles (`ib_<verb>_<bw|lat>`), bidirectional, the atomic op."""
    names, bidir, atomic = [], False, None
    for ln in lines:
        if "Test" not in ln or (m := _TITLE.match(ln)) is None:
            continue
        names.append(f"ib_{_VERB[m.group(1)]}_{'bw' if m.group(4) == 'BW' else 'lat'}")
        bidir = bidir or bool(m.group(3))
        atomic = atomic or m.group(2)
    return names, bidir, atomic


@dataclass(slots=True)
class _Table:
    """The rows under one header, and whether the table ended with perftest's closing rule."""

    kind: str = "bw"  # bw | lat | dur
    units: str = ""
    qos: bool = False
    columns: int = 5
    rows: list[dict[str, float | int | None]] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    closed: bool = False
    part: str = ""  # "local" / "remote": the per-side tables `--report-both` adds


def _tables(lines: list[str], partial: bool) -> list[_Table]:
    tables: list[_Table] = []
    seen: set[str] = set()
    cur: _Table | None = None
    last = len(lines) - 1
    part = ""
    for i, ln in enumerate(lines):
        s = ln.strip()
        if s.startswith(("Local results:", "Remote results:")):
            part = s.split()[0].lower()
            continue
        if m := _BW_HEAD.search(s):
            cur = _Table("bw", m.group(2), bool(m.group(1)), 6 if m.group(1) else 5, part=part)
        elif _LAT_HEAD.search(s):
            cur = _Table("lat", "usec", columns=9)
        elif _DUR_HEAD.search(s):
            cur = _Table("dur", "usec", columns=4)
        elif cur is not None and _RULE.match(s):
            cur.closed = bool(cur.rows) and not (partial and i == last)
            continue
        elif cur is not None and _ROW.match(s) and s not in seen:
            seen.add(s)  # interleaved server+client streams print the shared row twice
            tok = s.split()
            row = None
            # a row with fewer columns than its header, or the text's unfinished last line
            if len(tok) >= cur.columns and not (partial and i == last):
                try:
                    row = _row(cur, tok)
                except ValueError:
                    row = None
            if row is None:
                cur.cut.append(s)
            else:
                cur.rows.append(row)
                cur.closed = False
            continue
        else:
            continue
        tables.append(cur)
    return tables


def parse_perftest(text: str, *, expect_gbps: float | None = None) -> PerftestResult:
    """perftest text -> test, side, device, gpu_direct, rows, bw_avg_gbps, failure."""
    lines = [ln for ln in text.splitlines() if not ln.startswith(SIM_MARK)]
    # everything but result rows: where titles, settings, warnings and errors are
    said = [ln for ln in lines if not _ROW.match(ln)]
    cmd = next((m for ln in said if (m := _CMD.search(ln))), None)
    titles, bidir, atomic = _title(said)
    test = titles[0] if titles else (cmd.group(1) if cmd else None)
    device = next((m.group(1) for ln in said if (m := re.search(r"Device\s*:\s*(\S+)", ln))), None)
    link = next((m.group(1) for ln in said if (m := re.search(r"Link type\s*:\s*(\S+)", ln))), None)
    gid = next(
        (int(m.group(1)) for ln in said if (m := re.search(r"GID index\s*:\s*(\d+)", ln))), None
    )
    args = cmd.group(2) if cmd else ""
    bidir = bidir or bool(re.search(r"(^|\s)(-b|--bidirectional)(\s|$)", args))
    cuda_chatter = any(
        s in text for s in ("initializing CUDA", "cuMemAlloc", "CUDA_MEM_DEVICE", "DMA-BUF")
    )
    gpu = re.search(r"--use_cuda(?:=|\s+)(\d+)", args)
    picked = re.search(r"Picking device No\. (\d+)", text)
    pcie = dict(re.findall(r"CUDA device (\d+): PCIe address is (\S+)", text))
    waiting = "Waiting for client" in text
    side = "both" if waiting and len(titles) > 1 else "server" if waiting else "client"
    tables = _tables(lines, bool(text) and text[-1] not in "\n\r")
    # the run's own table: with --report-both, the one before the per-side tables (the sum)
    own = [t for t in tables if not t.part] or tables
    table = next((t for t in reversed(own) if t.rows), own[-1] if own else None)
    sides = {t.part: t for t in tables if t.part and t.rows}
    rows = table.rows if table else []
    kind = table.kind if table else "bw"
    biggest = max(rows, key=lambda r: r["size_bytes"] or 0) if rows else None
    bw = _float(biggest.get("bw_avg_gbps")) if biggest else None
    warnings = list(dict.fromkeys(ln.strip() for ln in said if _WARNING.search(ln)))
    failure = None
    # the most telling line first: a resource error explains the completion error after it
    for pattern, fkind in sorted(_ERRORS, key=lambda e: _ORDER.index(e[1])):
        hit = next((ln.strip() for ln in said if pattern.search(ln)), None)
        if hit:
            failure = Failure(fkind, hit)
            break
    if failure is None and table is not None and table.cut:
        failure = Failure(FailureKind.INCOMPLETE, f"a result row cut short: {table.cut[0][:80]}")
    elif failure is None and table is not None and not rows:
        failure = Failure(FailureKind.INCOMPLETE, "the header without a result row")
    elif failure is None and table is not None and not table.closed:
        failure = Failure(FailureKind.INCOMPLETE, "the table stops without perftest's closing line")
    elif failure is None and table is None and side != "server":
        failure = Failure(FailureKind.INCOMPLETE, "no result table")
    if failure is None and expect_gbps is not None and bw is not None and bw < expect_gbps:
        failure = Failure(FailureKind.PERFORMANCE, f"{bw:g} Gb/s < expected {expect_gbps:g} Gb/s")
    is_bw, is_lat = kind == "bw", kind in ("lat", "dur")
    return PerftestResult(
        tool="perftest",
        status=Status.FAIL if failure else Status.OK,
        failure=failure,
        simulated=SIM_MARK in text,
        test=test,
        side=side,
        bidirectional=bidir,
        atomic=atomic,
        device=device,
        link_type=link,
        gid_index=gid,
        gpu_direct=bool(gpu) or cuda_chatter,
        cuda_device=int(gpu.group(1)) if gpu else int(picked.group(1)) if picked else None,
        cuda_pcie=pcie.get(picked.group(1)) if picked else None,
        dmabuf="dmabuf" in args or "DMA-BUF" in text,
        report_gbits=table is not None and table.units == "Gb",
        rows=tuple(rows),
        bw_avg_gbps=bw if is_bw else None,
        bw_peak_gbps=_float(biggest.get("bw_peak_gbps")) if biggest and is_bw else None,
        msg_rate_mpps=_float(biggest.get("msg_rate_mpps")) if biggest and is_bw else None,
        bw_local_gbps=_side_bw(sides.get("local")),
        bw_remote_gbps=_side_bw(sides.get("remote")),
        lat_typical_us=_float(biggest.get("t_typical_us" if kind == "lat" else "t_avg_us"))
        if biggest and is_lat
        else None,
        lat_p99_us=_float(biggest.get("p99_us")) if biggest and kind == "lat" else None,
        warnings=tuple(warnings[:20]),
    )


def _row(table: _Table, tok: list[str]) -> dict[str, float | int | None] | None:
    """One result row (ValueError when a number does not read, NaN and inf included)."""
    if not all(math.isfinite(float(t)) for t in tok[: table.columns]):
        raise ValueError("not a finite number")
    if table.kind == "bw":
        f = 1.0 if table.units == "Gb" else MIB_TO_GBPS
        if table.qos:  # `#bytes #sl #iterations ...`
            tok = [tok[0], *tok[2:]]
        return {
            "size_bytes": int(tok[0]),
            "iterations": int(tok[1]),
            "bw_peak_gbps": round(float(tok[2]) * f, 6),
            "bw_avg_gbps": round(float(tok[3]) * f, 6),
            "msg_rate_mpps": float(tok[4]),
        }
    if table.kind == "dur":
        return {
            "size_bytes": int(tok[0]),
            "iterations": int(tok[1]),
            "t_avg_us": float(tok[2]),
            "tps": float(tok[3]),
        }
    return {
        "size_bytes": int(tok[0]),
        "iterations": int(tok[1]),
        **dict(zip(_LAT_KEYS, map(float, tok[2:9]), strict=False)),
    }


def _side_bw(table: _Table | None) -> float | None:
    if table is None or table.kind != "bw":
        return None
    biggest = max(table.rows, key=lambda r: r["size_bytes"] or 0)
    return _float(biggest.get("bw_avg_gbps"))


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None
