"""manifest.json: every rendered artifact's path and sha256, and drift detection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.jsonio import dumps, sha256_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.artifact import Artifact

SCHEMA_VERSION = 1


def manifest_text(cluster: str, spec_sha256: str, files: dict[str, str]) -> str:
    """manifest.json text: artifact path (relative to the artifacts dir) -> sha256."""
    return dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "kind": "aictl.render.manifest",
            "cluster": cluster,
            "spec_sha256": spec_sha256,
            "files": dict(sorted(files.items())),
        }
    )


@dataclass(frozen=True, slots=True)
class Drift:
    """How the tree on disk differs from what the spec renders."""

    changed: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.extra)


def drift(root: Path, artifacts: list[Artifact]) -> Drift:
    """Compare `artifacts` with the files under `root` byte for byte."""
    want = {a.path: a.sha256 for a in artifacts}
    have: dict[str, str] = {}
    if root.is_dir():
        for p in root.rglob("*"):
            if p.is_file():
                have[p.relative_to(root).as_posix()] = sha256_bytes(p.read_bytes())
    return Drift(
        changed=tuple(sorted(k for k in want if k in have and have[k] != want[k])),
        missing=tuple(sorted(k for k in want if k not in have)),
        extra=tuple(sorted(k for k in have if k not in want)),
    )
