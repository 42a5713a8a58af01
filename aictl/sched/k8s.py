"""Kubernetes through kubectl: cordon, a NoSchedule taint whose value names the failing
check, and the whole reason in an annotation (a taint value is a label value: 63 characters
of [A-Za-z0-9._-], too little for a reason).

A node aictl cordoned carries `CORDONED`; `undrain` uncordons only those, so a node an
operator had cordoned stays cordoned when aictl's taint comes off.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from aictl.errors import SchedulerError
from aictl.sched.model import MARK, NodeState, Scheduler

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aictl.sched.backend import Runner

TAINT_KEY = "aictl.io/unhealthy"
REASON = "aictl.io/drain-reason"
CORDONED = "aictl.io/cordoned"
EFFECT = "NoSchedule"
# a qualified name (prefix/name) and a label value, as the API server checks them
_QUALIFIED = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*/)?"
    r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")


def taint_value(reason: str) -> str:
    """The failing check of `reason` as a label value (`aictl: xid: ...` -> `xid`)."""
    body = reason.removeprefix(MARK).strip()
    head = body.split(":", 1)[0] if ":" in body else body
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", head).strip("-_.")[:63].strip("-_.")
    return value or "unhealthy"


def taint_arg(reason: str) -> str:
    """`key=value:NoSchedule`, checked against the grammar the API server applies."""
    value = taint_value(reason)
    if not (_QUALIFIED.fullmatch(TAINT_KEY) and _VALUE.fullmatch(value)):
        raise SchedulerError(f"taint {TAINT_KEY}={value} is not a valid taint")
    return f"{TAINT_KEY}={value}:{EFFECT}"


def node_state(obj: dict[str, Any]) -> NodeState:
    """One Node object (kubectl get node -o json) -> its state."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    notes = meta.get("annotations") or {}
    ours = [t for t in spec.get("taints") or [] if t.get("key") == TAINT_KEY]
    cordoned = bool(spec.get("unschedulable"))
    reason = str(notes.get(REASON, "")) if ours else ""
    if ours and not reason.startswith(MARK):
        reason = f"{MARK} {ours[0].get('value', '')}"
    drained = bool(ours) or cordoned
    state = "+".join(s for s, on in (("cordoned", cordoned), ("tainted", bool(ours))) if on)
    return NodeState(str(meta.get("name", "")), drained, reason, state or "ready")


class KubeBackend:
    kind = Scheduler.k8s

    def __init__(self, runner: Runner) -> None:
        self.run = runner

    def _get(self, nodes: Sequence[str] | None) -> list[dict[str, Any]]:
        argv = ["kubectl", "get", "nodes", *(nodes or []), "-o", "json"]
        try:
            doc = json.loads(self.run.ok(argv))
        except ValueError as exc:
            raise SchedulerError(f"kubectl get nodes: not JSON ({exc})") from None
        items = doc.get("items") if doc.get("kind") == "List" or "items" in doc else [doc]
        return [i for i in items or [] if isinstance(i, dict)]

    def states(self, nodes: Sequence[str] | None = None) -> dict[str, NodeState]:
        return {s.node: s for s in map(node_state, self._get(nodes))}

    def drain(self, node: str, reason: str) -> None:
        [obj] = self._get([node])
        if not (obj.get("spec") or {}).get("unschedulable"):
            self.run.ok(["kubectl", "cordon", node])
            self.run.ok(["kubectl", "annotate", "node", node, f"{CORDONED}=true", "--overwrite"])
        self.run.ok(["kubectl", "taint", "nodes", node, taint_arg(reason), "--overwrite"])
        self.run.ok(["kubectl", "annotate", "node", node, f"{REASON}={reason}", "--overwrite"])

    def undrain(self, node: str) -> None:
        [obj] = self._get([node])
        notes = (obj.get("metadata") or {}).get("annotations") or {}
        self.run.ok(["kubectl", "taint", "nodes", node, f"{TAINT_KEY}:{EFFECT}-"])
        self.run.ok(["kubectl", "annotate", "node", node, f"{REASON}-"])
        if notes.get(CORDONED) == "true":
            self.run.ok(["kubectl", "uncordon", node])
            self.run.ok(["kubectl", "annotate", "node", node, f"{CORDONED}-"])
