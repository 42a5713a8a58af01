"""Acceptance result rows for tests, shaped like aictl.accept.runner writes them."""

from __future__ import annotations

from typing import Any


def result(
    uid: str, stage: str, kind: str, hosts: list[str], value: float | None, **kw: Any
) -> dict[str, Any]:
    failed = {"kind": "startup", "message": "Couldn't allocate MR"}
    return {
        "id": uid,
        "stage": stage,
        "kind": kind,
        "hosts": hosts,
        "round": kw.pop("round", 0),
        "rail": kw.pop("rail", None),
        "collective": kw.pop("collective", None),
        "status": kw.pop("status", "ok" if value is not None else "failed"),
        "value": value,
        "unit": "GB/s" if kind == "nccl" else "Gb/s",
        "failure": kw.pop("failure", None if value is not None else failed),
        "simulated": True,
        **kw,
    }
