"""The actions log, `build/<cluster>/actions.jsonl`: one line per drain, return, refusal or
kept drain — when, which node, why, by which command, on which scheduler, and how it went.

It is a log of what was done to a live cluster, so unlike the build's artifacts it carries
times (UTC, seconds). Lines are appended through the build directory's writer; a line cut off
by a crash is skipped when read.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aictl.sched.model import ActionKind

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA_VERSION = 1
FILE = "actions.jsonl"


@dataclass(frozen=True, slots=True)
class Action:
    at: str
    kind: ActionKind
    node: str
    scheduler: str
    reason: str
    command: str
    ok: bool = True
    message: str = ""
    run: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "at": self.at,
            "action": self.kind.value,
            "node": self.node,
            "scheduler": self.scheduler,
            "reason": self.reason,
            "command": self.command,
            "ok": self.ok,
            "message": self.message,
            "run": self.run,
        }

    @classmethod
    def read(cls, d: dict[str, Any]) -> Action:
        return cls(
            at=str(d["at"]),
            kind=ActionKind(d["action"]),
            node=str(d["node"]),
            scheduler=str(d.get("scheduler", "")),
            reason=str(d.get("reason", "")),
            command=str(d.get("command", "")),
            ok=bool(d.get("ok", True)),
            message=str(d.get("message", "")),
            run=str(d.get("run", "")),
        )


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class ActionLog:
    """Appends to build/<cluster>/actions.jsonl; `build=None` keeps the actions in memory
    only (a node checking itself has no build directory)."""

    def __init__(self, build: Path | None) -> None:
        self.build = build
        self.written: list[Action] = []

    def add(self, action: Action) -> None:
        self.written.append(action)
        if self.build is None:
            return
        from aictl import fsio, jsonio
        from aictl.errors import ExitCode

        line = jsonio.dumps_compact(action.as_json()) + "\n"
        fsio.append_text(self.build, FILE, line, stage=ExitCode.SCHEDULER)


def read(build: Path) -> list[Action]:
    """Every complete line of build/<cluster>/actions.jsonl (none when there is no log)."""
    path = build / FILE
    if not path.is_file():
        return []
    out: list[Action] = []
    for ln in path.read_text(errors="replace").splitlines():
        try:
            out.append(Action.read(json.loads(ln)))
        except (ValueError, KeyError, TypeError):
            continue
    return out
