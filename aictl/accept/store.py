"""The run store, `build/<cluster>/runs/<id>/`: plan.json, results.jsonl, raw/, summary.json,
and the plan the run was made from (spec.resolved.json, topology.json), so a run directory is
self-contained: `aictl report runs/<id>` needs nothing else.

Results are appended one line per finished unit, flushed and fsynced under a lock, so Ctrl-C
or a crash loses at most the units that were running; `--resume` reads the ids back and skips
them. Raw outputs are written before their result line. Run ids count up (`run-0001`): the
same cluster and spec give the same files, no timestamps.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aictl import fsio, jsonio
from aictl.accept.model import SCHEMA_VERSION, Judgement, RunPlan, UnitResult
from aictl.errors import ExitCode, RunError

if TYPE_CHECKING:
    from aictl.topology.model import Topology


_STAGE = ExitCode.ACCEPTANCE_ERROR


def _safe(unit_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", unit_id)


class RunStore:
    """One run's directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.raw = root / "raw"
        self._lock = threading.Lock()
        # files are written through aictl/fsio.py below the build directory (runs/<id>/...)
        self._build = root.parent.parent
        self._rel = f"{root.parent.name}/{root.name}"

    @classmethod
    def create(cls, runs: Path) -> RunStore:
        from aictl import buildlock

        # under the build directory's lock: two runs never pick the same id
        with buildlock.hold(runs.parent, stage=_STAGE):
            fsio.make_dir(runs.parent, runs.name, stage=_STAGE)
            taken = [
                int(m.group(1)) for p in runs.iterdir() if (m := re.match(r"^run-(\d+)$", p.name))
            ]
            root = runs / f"run-{max(taken, default=0) + 1:04d}"
            fsio.make_dir(runs.parent, f"{runs.name}/{root.name}/raw", stage=_STAGE)
        return cls(root)

    @classmethod
    def open(cls, runs: Path, run_id: str) -> RunStore:
        root = runs / run_id if not Path(run_id).is_dir() else Path(run_id)
        if not (root / "plan.json").exists():
            have = sorted(p.name for p in runs.glob("run-*")) if runs.is_dir() else []
            raise RunError(
                f"no run {run_id!r} to resume under {runs}",
                hint=f"runs: {', '.join(have) or 'none'}",
            )
        return cls(root)

    @classmethod
    def latest(cls, runs: Path) -> RunStore:
        """The newest run under `runs`."""
        from aictl.natsort import natural_key

        have = sorted((p.name for p in runs.glob("run-*")), key=natural_key)
        if not have:
            raise RunError(f"no runs under {runs}", hint="aictl accept run first")
        return cls.open(runs, have[-1])

    @property
    def id(self) -> str:
        return self.root.name

    def _write(self, name: str, text: str) -> Path:
        fsio.write_file(self._build, f"{self._rel}/{name}", text.encode(), stage=_STAGE)
        return self.root / name

    def write_snapshot(self, topo: Topology) -> None:
        """The plan the run was made from, so the run directory stands on its own."""
        from aictl.topology.exports import plan_json
        from aictl.topology.snapshot import resolved_json

        self._write("spec.resolved.json", resolved_json(topo))
        self._write("topology.json", plan_json.render(topo))

    def write_plan(self, plan: RunPlan) -> None:
        self._write("plan.json", jsonio.dumps(plan.as_json()))

    def plan(self) -> RunPlan:
        try:
            data: dict[str, Any] = json.loads((self.root / "plan.json").read_text())
            return RunPlan.read(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(
                f"{self.root / 'plan.json'}: cannot be read ({exc})",
                hint="start a new run (aictl accept run)",
            ) from None

    def results(self) -> list[UnitResult]:
        """Every complete result line (a line cut off by a crash is ignored)."""
        path = self.root / "results.jsonl"
        if not path.exists():
            return []
        out = []
        for ln in path.read_text().splitlines():
            try:
                out.append(UnitResult.read(json.loads(ln)))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def save_raw(self, unit_id: str, text: str) -> str:
        name = f"{_safe(unit_id)}.txt"
        self._write(f"raw/{name}", text)
        return f"raw/{name}"

    def save_manifest(self, name: str, text: str) -> Path:
        """A manifest a launcher applies (k8s/<name>.yaml), kept with the run."""
        return self._write(f"k8s/{_safe(name)}.yaml", text)

    def append(self, result: UnitResult) -> None:
        line = jsonio.dumps_compact(result.as_json()) + "\n"
        with self._lock:
            fsio.append_text(self._build, f"{self._rel}/results.jsonl", line, stage=_STAGE)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write("summary.json", jsonio.dumps({"schema_version": SCHEMA_VERSION, **summary}))

    def summary(self) -> dict[str, Any] | None:
        path = self.root / "summary.json"
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def judgement(self) -> Judgement | None:
        """The stored verdict (None before the run finished)."""
        data = self.summary()
        return Judgement.read(data) if data else None
