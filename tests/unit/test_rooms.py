"""The rooms and the one-way flow, enforced: which aictl rooms each room may import, and which
room alone may import each heavy library (docs/architecture.md). Reads every module's imports
(module level and inside functions) with `ast`; a new dependency fails here until the table
and the architecture page agree with it."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

BASE = {"errors", "status", "events", "natsort", "jsonio", "paths", "artifact", "fsio", "buildlock"}
# room -> the other aictl rooms it may import (BASE for everyone but facts)
ALLOWED: dict[str, set[str]] = {
    "facts": {"status"},
    "spec": BASE,
    "topology": BASE | {"spec"},
    "render": BASE | {"spec", "topology", "sched"},
    "remote": BASE,
    "target": BASE | {"remote", "topology"},
    "provision": BASE,
    "checks": BASE | {"facts", "topology", "remote"},
    "fabric": BASE | {"facts", "topology", "remote"},
    "accept": BASE | {"facts", "topology", "remote", "render"},
    "report": BASE | {"topology", "accept", "checks", "fabric", "facts", "spec", "sched"},
    # the scheduler loop: its backends, and the node's own check (checks) on its profile
    "sched": BASE | {"topology", "checks", "facts"},
    "lab": BASE | {"topology", "spec", "target", "facts"},
    "ui": BASE,
    "cli": BASE
    | {"spec", "topology", "render", "remote", "target", "provision", "checks", "fabric"}
    | {"accept", "report", "lab", "facts", "ui", "sched"},
    "__main__": {"cli"},
}
for base in BASE:
    ALLOWED.setdefault(base, BASE - {base})
# heavy library -> the rooms (or top-level modules) that may import it
HEAVY = {
    "pydantic": {"spec"},
    "yaml": {"spec", "render"},
    "jinja2": {"render"},
    "jsonschema": {"render"},
    "networkx": {"topology"},
    "paramiko": {"remote"},
    "ansible_runner": {"provision"},
    "typer": {"cli"},
    "rich": {"ui", "cli"},
    "click": {"cli"},
}


def _room(path: Path) -> str:
    rel = path.relative_to(ROOT / "aictl")
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_rooms_import_only_what_the_flow_allows() -> None:
    bad = []
    for f in sorted((ROOT / "aictl").rglob("*.py")):
        room = _room(f)
        assert room in ALLOWED or room == "__init__", f"{f}: room {room!r} is not in the table"
        for mod in _imports(f):
            top, _, rest = mod.partition(".")
            if top == "aictl" and rest:
                target = rest.split(".")[0]
                if target != room and target not in ALLOWED.get(room, set()):
                    bad.append(f"{f.relative_to(ROOT)}: {room} imports aictl.{target}")
            elif top in HEAVY and room not in HEAVY[top]:
                bad.append(f"{f.relative_to(ROOT)}: {room} imports {top} (only {HEAVY[top]})")
    assert bad == [], "\n".join(bad)


def test_nothing_outside_the_lab_knows_the_lab() -> None:
    """No code outside aictl/lab/ (and the CLI that drives it) refers to lab paths."""
    words = ("aictl-lab", "/run/aictl-lab", '"lab"', "lab_up", "labs_up")
    bad = []
    for f in sorted((ROOT / "aictl").rglob("*.py")):
        room = _room(f)
        if room in ("lab", "cli"):
            continue
        # the marker simulated tools put on their output is data (a parse says `simulated`),
        # not a lab path: facts/text.py defines it
        text = f.read_text().replace('SIM_MARK = "# aictl-lab: simulated"', "")
        bad += [f"{f.relative_to(ROOT)}: {w}" for w in words if w in text]
    assert bad == [], bad
