"""The run store, `build/<cluster>/runs/<id>/`: plan.json, results.jsonl, raw/, summary.json.

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
from typing import Any

from aictl import fsio, jsonio
from aictl.errors import AictlError, ExitCode

_STAGE = ExitCode.ACCEPTANCE_ERROR


class RunError(AictlError):
    """Acceptance cannot run (no such run to resume, a broken run directory, no nodes)."""

    exit_code = ExitCode.ACCEPTANCE_ERROR
    label = "ACCEPT"


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

    @property
    def id(self) -> str:
        return self.root.name

    def _write(self, name: str, text: str) -> Path:
        fsio.write_file(self._build, f"{self._rel}/{name}", text.encode(), stage=_STAGE)
        return self.root / name

    def save(self, rel: str, text: str) -> Path:
        """Write a file of the run (`k8s/<job>.yaml`); returns its path."""
        return self._write(rel, text)

    def write_plan(self, plan: dict[str, Any]) -> None:
        self._write("plan.json", jsonio.dumps(plan))

    def plan(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / "plan.json").read_text())
        return data

    def results(self) -> list[dict[str, Any]]:
        """Every complete result line (a line cut off by a crash is ignored)."""
        path = self.root / "results.jsonl"
        if not path.exists():
            return []
        out = []
        for ln in path.read_text().splitlines():
            try:
                out.append(json.loads(ln))
            except json.JSONDecodeError:
                continue
        return out

    def save_raw(self, unit_id: str, text: str) -> str:
        name = f"{_safe(unit_id)}.txt"
        self._write(f"raw/{name}", text)
        return f"raw/{name}"

    def append(self, result: dict[str, Any]) -> None:
        line = jsonio.dumps_compact(result) + "\n"
        with self._lock:
            fsio.append_text(self._build, f"{self._rel}/results.jsonl", line, stage=_STAGE)

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write("summary.json", jsonio.dumps(summary))
