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
import re
from typing import Any

from aictl.checks._text import SIM_MARK

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
    try:
        return float(tok)
    except ValueError:
        return None


def _half(vals: list[str], old: bool) -> dict[str, Any]:
    t, alg, bus, wrong = vals
    return {
        "time_us": _num(t),
        "algbw_gbps": _num(alg),
        "busbw_gbps": _num(bus),
        "wrong": None if old or wrong == "N/A" else int(float(wrong)),
        **({"error": None if wrong == "N/A" else _num(wrong)} if old else {}),
    }


def _clean(text: str) -> list[str]:
    out = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        ln = _PREFIX.sub("", raw, count=1)
        if ln.startswith(SIM_MARK) or _NOISE.search(ln):
            continue
        out.append(ln)
    return out


def _result(collective: str | None, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tool": "nccl",
        "status": "ok",
        "failure": None,
        "simulated": False,
        "collective": collective,
        "version": None,
        "ranks": None,
        "devices": [],
        "rows": [],
        "peak_busbw_gbps": None,
        "avg_busbw_gbps": None,
        "out_of_bounds": None,
        "params": {},
    }
    base.update(kw)
    return base


def parse_nccl(
    text: str, *, expect_busbw: float | None = None, collective: str | None = None
) -> dict[str, Any]:
    """nccl-tests text (or its `-J` JSON) -> the result; see the module docstring.
    `collective` names the test when the output does not (old versions print no name)."""
    if text.lstrip().startswith("{"):
        return parse_nccl_json(text, expect_busbw=expect_busbw)
    lines = _clean(text)
    prog = _PROG.search(text)
    res = _result(prog.group(1) if prog else collective, simulated=SIM_MARK in text)
    old = False
    header = footer = False
    failures: list[str] = []
    for ln in lines:
        s = ln.strip()
        if m := re.match(r"^# nccl-tests version (\S+)", s):
            res["version"] = m.group(1)
        elif s.startswith("# nThread"):
            header = True
            for k, v in re.findall(r"(\w+(?: \w+)?):? (\d+)", s[1:]):
                res["params"][k.replace(" ", "_")] = int(v)
        elif s.startswith("# Collective test starting") or s.startswith("# Using devices"):
            header = True
        elif m := _RANK.match(s):
            res["devices"].append(
                {
                    "rank": int(m.group(1)),
                    "pid": int(m.group(2)),
                    "host": m.group(3),
                    "device": int(m.group(4)),
                }
            )
        elif m := _HEADER.match(s):
            header = True
            old = m.group(1) is None and " error" in s
        elif m := re.match(r"^# Out of bounds values\s*:\s*(\d+)\s*(OK|FAILED)?", s):
            footer = True
            res["out_of_bounds"] = {"count": int(m.group(1)), "ok": m.group(2) != "FAILED"}
        elif m := re.match(r"^# Avg bus bandwidth\s*:\s*(\S+)\s*(OK|FAILED)?", s):
            footer = True
            res["avg_busbw_gbps"] = _num(m.group(1))
            if m.group(2) == "FAILED":
                failures.append(f"avg busbw {m.group(1)} below NCCL_TESTS_MIN_BW")
        elif _ROW.match(s) and not s.startswith("#"):
            tok = s.split()
            if len(tok) < 11:
                continue
            vals, mid = tok[-8:], tok[2:-8]
            row = {
                "size_bytes": int(tok[0]),
                "count": int(tok[1]),
                "type": mid[0] if mid else "",
                "redop": (mid[1] if len(mid) >= 3 or (old and len(mid) >= 2) else ""),
                "root": (
                    int(mid[-1])
                    if not old and len(mid) >= 2 and re.match(r"^-?\d+$", mid[-1])
                    else None
                ),
                "out_of_place": _half(vals[:4], old),
                "in_place": _half(vals[4:], old),
            }
            res["rows"].append(row)
        elif _STARTUP.search(s) or _LAUNCH.search(s):
            failures.append(s)
    res["ranks"] = len(res["devices"]) or (
        res["params"].get("nGpus") if res["params"].get("nGpus") and not res["devices"] else None
    )
    busbws = [
        h["busbw_gbps"]
        for r in res["rows"]
        for h in (r["out_of_place"], r["in_place"])
        if h["busbw_gbps"] is not None
    ]
    res["peak_busbw_gbps"] = max(busbws) if busbws else None
    wrong = sum(h["wrong"] or 0 for r in res["rows"] for h in (r["out_of_place"], r["in_place"]))
    oob = res["out_of_bounds"]
    kind = msg = None
    if wrong or (oob and (not oob["ok"] or oob["count"])):
        kind, msg = (
            "correctness",
            f"{wrong} wrong elements"
            if wrong
            else f"out of bounds values: {oob['count'] if oob else '?'} FAILED",
        )
    elif not header and not res["rows"]:
        kind = "launch"
        msg = next((f for f in failures if _LAUNCH.search(f)), None) or (
            failures[0] if failures else "no nccl-tests output"
        )
    elif not res["rows"]:
        kind = "startup"
        msg = next((f for f in failures if _STARTUP.search(f)), None) or "no result table"
    elif not footer:
        kind, msg = "timeout", "the table stops without a footer (killed, timed out or trimmed)"
    elif failures and any(_STARTUP.search(f) for f in failures):
        kind, msg = "startup", next(f for f in failures if _STARTUP.search(f))
    elif expect_busbw is not None and (res["peak_busbw_gbps"] or 0) < expect_busbw:
        kind, msg = "performance", _slow(res, expect_busbw)
    if kind:
        res["status"] = "failed"
        res["failure"] = {"kind": kind, "message": msg}
    return res


def _slow(res: dict[str, Any], expect: float) -> str:
    return f"peak busbw {res['peak_busbw_gbps']} GB/s < expected {expect:g} GB/s"


def redact_env(env: list[str]) -> list[str]:
    """`KEY=value` entries: NCCL/CUDA/UCX selection variables kept, every other value hidden."""
    out = []
    for item in env:
        key, sep, _ = str(item).partition("=")
        keep = key.startswith(_KEEP_ENV)
        out.append(item if keep or not sep else f"{key}=<redacted>")
    return out


def parse_nccl_json(text: str, *, expect_busbw: float | None = None) -> dict[str, Any]:
    """nccl-tests `-J` report (schema v3) -> the same shape as the text parser."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return _result(
            None, status="failed", failure={"kind": "launch", "message": f"not JSON: {exc.msg}"}
        )
    cfg = doc.get("config") or {}
    prog = _PROG.search(" ".join(map(str, doc.get("args") or [])))
    devices = [
        {
            "rank": d.get("rank"),
            "pid": d.get("pid"),
            "host": d.get("hostname"),
            "device": d.get("device"),
        }
        for d in cfg.get("devices") or []
    ]

    def half(h: dict[str, Any]) -> dict[str, Any]:
        return {
            "time_us": h.get("time"),
            "algbw_gbps": h.get("alg_bw"),
            "busbw_gbps": h.get("bus_bw"),
            "wrong": None if h.get("nwrong") is None else int(float(h["nwrong"])),
        }

    rows = [
        {
            "size_bytes": int(r["size"]),
            "count": int(r["count"]),
            "type": r.get("type", ""),
            "redop": r.get("redop", ""),
            "root": int(str(r.get("root", "-1")).strip() or -1),
            "out_of_place": half(r.get("out_of_place") or {}),
            "in_place": half(r.get("in_place") or {}),
        }
        for r in doc.get("results") or []
    ]
    busbws = [
        h["busbw_gbps"]
        for r in rows
        for h in (r["out_of_place"], r["in_place"])
        if h["busbw_gbps"] is not None
    ]
    oob = doc.get("out_of_bounds") or {}
    avg = doc.get("average_bus_bandwidth") or {}
    res = _result(
        prog.group(1) if prog else None,
        version=str(doc.get("version")),
        ranks=len(devices) or None,
        devices=devices,
        rows=rows,
        peak_busbw_gbps=max(busbws) if busbws else None,
        avg_busbw_gbps=avg.get("bandwidth"),
        out_of_bounds={
            "count": int(oob.get("count", 0)),
            "ok": str(oob.get("okay", "true")) != "false",
        },
        params={k: v for k, v in cfg.items() if k != "devices"},
        env=redact_env(doc.get("env") or []),
        nccl_version=doc.get("nccl_version"),
        simulated=bool(doc.get("simulated")),
    )
    errors = [e for e in doc.get("errors") or [] if e]
    wrong = sum(h["wrong"] or 0 for r in rows for h in (r["out_of_place"], r["in_place"]))
    if wrong or res["out_of_bounds"]["count"] or not res["out_of_bounds"]["ok"]:
        res.update(
            status="failed", failure={"kind": "correctness", "message": f"{wrong} wrong elements"}
        )
    elif errors or not rows:
        res.update(
            status="failed",
            failure={"kind": "startup", "message": errors[0] if errors else "no results"},
        )
    elif expect_busbw is not None and (res["peak_busbw_gbps"] or 0) < expect_busbw:
        res.update(
            status="failed",
            failure={"kind": "performance", "message": _slow(res, expect_busbw)},
        )
    return res
