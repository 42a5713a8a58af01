"""rccl-tests' own output file (`-x <file> -Z json`), as the same result as nccl-tests.

rccl-tests' text output is nccl-tests' (aictl/facts/nccl.py reads both; rccl-tests adds a
`rccl-tests: Version ...` line and says `Test HIP failure`). Its JSON is its own: one object
per result line (`{"name":"all_reduce_perf", "nodes":2, "ranks":16, "ranksPerNode":8,
"gpusPerRank":1, "size":..., "type":"float", "redop":"sum", "inPlace":0, "time":...,
"algBw":..., "busBw":..., "wrong":"0"}`, in src/common.cu's Reporter), or the same objects in
one array. An out-of-place and an in-place line of a size make one row.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aictl.facts.model import Failure, FailureKind
from aictl.facts.nccl import Half, NcclResult, Row
from aictl.status import Status


def looks_like_rccl_json(text: str) -> bool:
    """True for rccl-tests' JSON lines (or array), not nccl-tests' `-J` report."""
    head = text.lstrip()[:4096]
    return head.startswith(("{", "[{")) and '"algBw"' in head and '"busBw"' in head


def _objects(text: str) -> list[dict[str, Any]]:
    s = text.strip()
    if s.startswith("["):
        try:
            doc = json.loads(s)
        except (json.JSONDecodeError, RecursionError):
            return []
        return [d for d in doc if isinstance(d, dict)] if isinstance(doc, list) else []
    out = []
    for ln in s.splitlines():
        ln = ln.strip().rstrip(",")
        if not ln.startswith("{"):
            continue
        try:
            d = json.loads(ln)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(d, dict):
            out.append(d)
    return out


def _num(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def _wrong(v: Any) -> int | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    return int(v) if isinstance(v, str) and v.isdigit() else None


def parse_rccl_json(text: str) -> NcclResult:
    """rccl-tests JSON -> rows (out-of-place and in-place halves), peak busbw, ranks."""
    objs = _objects(text)
    halves: dict[int, dict[str, Half]] = {}
    meta: dict[str, Any] = {}
    for o in objs:
        size = o.get("size")
        if not isinstance(size, int) or isinstance(size, bool):
            continue
        meta = meta or o
        half = Half(
            _num(o.get("time")), _num(o.get("algBw")), _num(o.get("busBw")), _wrong(o.get("wrong"))
        )
        place = "in" if o.get("inPlace") in (1, "1", True) else "out"
        halves.setdefault(size, {})[place] = half
    empty = Half(None, None, None, None)
    rows = tuple(
        Row(
            size_bytes=size,
            count=0,
            type=str(meta.get("type", "")),
            redop=str(meta.get("redop", "")),
            root=None,
            out_of_place=h.get("out", empty),
            in_place=h.get("in", empty),
        )
        for size, h in sorted(halves.items())
    )
    busbws = [b for r in rows for x in (r.out_of_place, r.in_place) if (b := x.busbw_gbps)]
    wrong = sum(r.wrong for r in rows)
    failure = None
    if not rows:
        failure = Failure(FailureKind.LAUNCH, "no rccl-tests results in the JSON")
    elif wrong:
        failure = Failure(FailureKind.CORRECTNESS, f"{wrong} wrong elements")
    elif (
        any(None in (r.out_of_place.busbw_gbps, r.in_place.busbw_gbps) for r in rows) and not busbws
    ):
        failure = Failure(FailureKind.CORRECTNESS, "NaN or inf in the results")
    name = str(meta.get("name", ""))
    ranks = meta.get("ranks") if isinstance(meta.get("ranks"), int) else meta.get("gpus")
    return NcclResult(
        tool="rccl-tests",
        status=Status.FAIL if failure else Status.OK,
        failure=failure,
        simulated=bool(meta.get("simulated")),
        collective=name.removesuffix("_perf") or None,
        ranks=ranks if isinstance(ranks, int) else None,
        rows=rows,
        peak_busbw_gbps=max(busbws) if busbws else None,
        params={
            k: meta[k]
            for k in ("nodes", "ranksPerNode", "gpusPerRank", "gpus")
            if isinstance(meta.get(k), int)
        },
    )
