"""Acceptance results for tests, shaped like aictl.accept.runner makes them."""

from __future__ import annotations

from typing import Any

from aictl.accept.model import Kind, Stage, UnitResult
from aictl.facts.model import Failure, FailureKind
from aictl.status import Status


def result(
    uid: str, stage: str, kind: str, hosts: list[str], value: float | None, **kw: Any
) -> UnitResult:
    failed = Failure(FailureKind.STARTUP, "Couldn't allocate MR")
    status = kw.pop("status", Status.OK if value is not None else Status.FAIL)
    return UnitResult(
        id=uid,
        stage=Stage(stage),
        kind=Kind(kind),
        hosts=tuple(hosts),
        round=kw.pop("round", 0),
        rail=kw.pop("rail", None),
        collective=kw.pop("collective", None),
        status=Status.read(status),
        value=value,
        failure=kw.pop("failure", None if value is not None else failed),
        simulated=True,
        **kw,
    )
