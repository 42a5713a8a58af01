"""What every parsed fact has in common, and how it becomes JSON.

A parser returns a frozen dataclass deriving from `Parsed`: the tool it recognised, a status
(`ok`, or `fail` with a typed `Failure`), whether the output came from the lab's simulated
tools, and the tool's own facts. `as_json` turns any of them into plain JSON data (enums as
their values, tuples as lists), which is what `aictl accept parse -o json` prints and what the
golden cases under tests/facts/ hold.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from aictl.status import Status


class FailureKind(StrEnum):
    """Why a tool's output, a benchmark or a remote command failed (decisions use these)."""

    TOOL = "tool"  # the tool ran and said it failed, or printed nothing usable
    LAUNCH = "launch"  # the launcher or the argument parser refused (no tool header)
    STARTUP = "startup"  # CUDA/NCCL/verbs init failed after the header
    CORRECTNESS = "correctness"  # wrong results (#wrong, out of bounds)
    TIMEOUT = "timeout"  # killed before it finished
    PERFORMANCE = "performance"  # ran, below the expectation given
    COMPLETION = "completion"  # a work completion with error (perftest)
    INCOMPLETE = "incomplete"  # cut short: a header without rows, a row or table unfinished
    UNREACHABLE = "unreachable"  # the node could not be reached or was lost
    ABORTED = "aborted"  # a rank died mid-run (the launcher says so), nothing says why
    # what NCCL's own warnings and errors name as the cause of a run that broke
    NETWORK = "network"  # IB/RoCE completion errors, a peer that closed, socket failures
    GPU = "gpu"  # CUDA errors: a busy, lost or faulty GPU
    SYSTEM = "system"  # the host: /dev/shm, locked memory, no device, file limits


@dataclass(frozen=True, slots=True)
class Failure:
    """A failure with its kind; `host` names the node when one is to blame."""

    kind: FailureKind
    message: str
    host: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "message": self.message}
        if self.host:
            out["host"] = self.host
        return out

    @classmethod
    def read(cls, d: dict[str, Any] | None) -> Failure | None:
        if not d:
            return None
        kind = d.get("kind", "tool")
        kind = "incomplete" if kind == "truncated" else kind  # its name before 2026-12
        known = FailureKind._value2member_map_
        return cls(
            FailureKind(kind) if kind in known else FailureKind.TOOL,
            str(d.get("message", "")),
            str(d.get("host") or ""),
        )


@dataclass(frozen=True, kw_only=True)
class Parsed:
    """The common head of every parse result."""

    tool: str
    status: Status
    failure: Failure | None
    simulated: bool
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def as_json(self) -> dict[str, Any]:
        """Plain JSON data, keys in field order."""
        data = as_json(self)
        assert isinstance(data, dict)
        return data


def as_json(value: Any) -> Any:
    """Dataclasses, enums, tuples and mappings as JSON data; a field may rename itself with
    `metadata={"json": "name"}` (`class` is a Python keyword)."""
    if isinstance(value, Failure):
        return value.as_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get("json", f.name): as_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or inf; parsers keep them out, this is the last guard
    if isinstance(value, tuple | list):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    return value


def head(
    tool: str, simulated: bool, errors: list[str] | tuple[str, ...], *, empty: bool = False
) -> dict[str, Any]:
    """The common fields: failed when there are errors or nothing was found."""
    failed = bool(errors) or empty
    failure = None
    if failed:
        failure = Failure(FailureKind.TOOL, errors[0] if errors else f"no {tool} output found")
    return {
        "tool": tool,
        "status": Status.FAIL if failed else Status.OK,
        "failure": failure,
        "simulated": simulated,
        "errors": tuple(errors),
    }
