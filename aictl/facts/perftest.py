"""perftest (ib_write_bw, ib_read_bw, ib_send_bw, *_lat) output, client or server side.

Bandwidth is normalised to decimal Gb/s: `[Gb/sec]` as is, `[MB/sec]`/`[MiB/sec]` (both
2^20 bytes) times 8 x 2^20 / 1e9. `bw_avg_gbps` is the average bandwidth at the largest
message size (the server prints only that row with `-a`; the client every size). GPUDirect is
recognised from `--use_cuda*` on the command line or the CUDA chatter perftest prints.
Interleaved server+client output (one stream) parses as side `both`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from aictl.facts.model import Failure, FailureKind, Parsed
from aictl.facts.text import SIM_MARK
from aictl.status import Status

TITLES = {
    "RDMA_Write BW Test": "ib_write_bw",
    "RDMA_Read BW Test": "ib_read_bw",
    "Send BW Test": "ib_send_bw",
    "Atomic FETCH_AND_ADD BW Test": "ib_atomic_bw",
    "Send Latency Test": "ib_send_lat",
    "RDMA_Write Latency Test": "ib_write_lat",
    "RDMA_Read Latency Test": "ib_read_lat",
}
MIB_TO_GBPS = 8 * 2**20 / 1e9
_CMD = re.compile(r"\b(ib_(?:write|read|send|atomic)_(?:bw|lat))\b(.*)$")
_BW_HEAD = re.compile(r"#bytes\s+#iterations\s+BW peak\[(Gb|MB|MiB)/sec\]\s+BW average")
_LAT_HEAD = re.compile(r"#bytes\s+#iterations\s+t_min\[usec\]")
_ROW = re.compile(r"^\s*\d+\s+\d+\s+[\d.]+")
_ERRORS = (
    (
        re.compile(r"Completion with error|Failed status \d+|Failed to complete run_iter"),
        FailureKind.COMPLETION,
    ),
    (
        re.compile(
            r"Couldn't (allocate|register) MR|Unable to create QP|Couldn't create|Failed to create|"
            r"No such device ID \(\d+\) exists|Couldn't init GPU context"
        ),
        FailureKind.STARTUP,
    ),
    (
        re.compile(
            r"Couldn't connect|Unable to open|No IB devices|Couldn't get device|command not found|"
            r"Couldn't find (IB )?device"
        ),
        FailureKind.LAUNCH,
    ),
)
_ORDER = (FailureKind.STARTUP, FailureKind.LAUNCH, FailureKind.COMPLETION)


@dataclass(frozen=True, kw_only=True)
class PerftestResult(Parsed):
    """One side (or both) of a perftest run."""

    test: str | None = None
    side: str = "client"  # client | server | both
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
    lat_typical_us: float | None = None


def parse_perftest(text: str, *, expect_gbps: float | None = None) -> PerftestResult:
    """perftest text -> test, side, device, gpu_direct, rows, bw_avg_gbps, failure."""
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if not ln.startswith(SIM_MARK)]
    cmd = next((m for ln in lines if (m := _CMD.search(ln))), None)
    titles = [TITLES[t] for ln in lines for t in TITLES if ln.strip() == t]
    test = titles[0] if titles else (cmd.group(1) if cmd else None)
    device = next((m.group(1) for ln in lines if (m := re.search(r"Device\s*:\s*(\S+)", ln))), None)
    link = next(
        (m.group(1) for ln in lines if (m := re.search(r"Link type\s*:\s*(\S+)", ln))), None
    )
    gid = next(
        (int(m.group(1)) for ln in lines if (m := re.search(r"GID index\s*:\s*(\d+)", ln))), None
    )
    args = cmd.group(2) if cmd else ""
    cuda_chatter = any(
        s in text for s in ("initializing CUDA", "cuMemAlloc", "CUDA_MEM_DEVICE", "DMA-BUF")
    )
    gpu = re.search(r"--use_cuda(?:=|\s+)(\d+)", args)
    picked = re.search(r"Picking device No\. (\d+)", text)
    pcie = dict(re.findall(r"CUDA device (\d+): PCIe address is (\S+)", text))
    waiting = "Waiting for client" in text
    side = "both" if waiting and len(titles) > 1 else "server" if waiting else "client"
    units = None
    kind = "bw"
    rows: list[dict[str, float | int | None]] = []
    seen: set[str] = set()
    for ln in lines:
        s = ln.strip()
        if m := _BW_HEAD.search(s):
            units, kind = m.group(1), "bw"
            continue
        if _LAT_HEAD.search(s):
            units, kind = "usec", "lat"
            continue
        if units is None or not _ROW.match(s) or s in seen:
            continue
        seen.add(s)  # interleaved server+client streams print the shared row twice
        tok = s.split()
        try:
            row = _row(kind, units, tok)
        except ValueError:
            continue
        if row is not None:
            rows.append(row)
    biggest = max(rows, key=lambda r: r["size_bytes"] or 0) if rows else None
    bw = _float(biggest.get("bw_avg_gbps")) if biggest else None
    failure = None
    # the most telling line first: a resource error explains the completion error after it
    for pattern, fkind in sorted(_ERRORS, key=lambda e: _ORDER.index(e[1])):
        hit = next((ln.strip() for ln in lines if pattern.search(ln)), None)
        if hit:
            failure = Failure(fkind, hit)
            break
    if failure is None and not rows and side != "server":
        failure = Failure(FailureKind.TRUNCATED, "no result row")
    if failure is None and expect_gbps is not None and bw is not None and bw < expect_gbps:
        failure = Failure(FailureKind.PERFORMANCE, f"{bw:g} Gb/s < expected {expect_gbps:g} Gb/s")
    return PerftestResult(
        tool="perftest",
        status=Status.FAIL if failure else Status.OK,
        failure=failure,
        simulated=SIM_MARK in text,
        test=test,
        side=side,
        device=device,
        link_type=link,
        gid_index=gid,
        gpu_direct=bool(gpu) or cuda_chatter,
        cuda_device=int(gpu.group(1)) if gpu else int(picked.group(1)) if picked else None,
        cuda_pcie=pcie.get(picked.group(1)) if picked else None,
        dmabuf="dmabuf" in args or "DMA-BUF" in text,
        report_gbits=units == "Gb",
        rows=tuple(rows),
        bw_avg_gbps=bw if kind == "bw" else None,
        bw_peak_gbps=_float(biggest.get("bw_peak_gbps")) if biggest and kind == "bw" else None,
        lat_typical_us=_float(biggest.get("t_typical_us")) if biggest and kind == "lat" else None,
    )


def _row(kind: str, units: str, tok: list[str]) -> dict[str, float | int | None] | None:
    """One result row (ValueError when a number does not read, NaN and inf included)."""
    if any(t.lower().lstrip("+-") in ("nan", "inf", "infinity") for t in tok[:9]):
        raise ValueError("not a finite number")
    if kind == "bw" and len(tok) >= 4:
        f = 1.0 if units == "Gb" else MIB_TO_GBPS
        return {
            "size_bytes": int(tok[0]),
            "iterations": int(tok[1]),
            "bw_peak_gbps": round(float(tok[2]) * f, 6),
            "bw_avg_gbps": round(float(tok[3]) * f, 6),
            "msg_rate_mpps": float(tok[4]) if len(tok) > 4 else None,
        }
    if kind == "lat" and len(tok) >= 9:
        keys = (
            "t_min_us",
            "t_max_us",
            "t_typical_us",
            "t_avg_us",
            "t_stdev_us",
            "p99_us",
            "p99_9_us",
        )
        return {
            "size_bytes": int(tok[0]),
            "iterations": int(tok[1]),
            **dict(zip(keys, map(float, tok[2:9]), strict=False)),
        }
    return None


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None
