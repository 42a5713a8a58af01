"""manifest.json: every rendered artifact's path and sha256, and drift detection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.jsonio import dumps

if TYPE_CHECKING:
    from aictl.artifact import Artifact
    from aictl.render import RenderResult

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
    """How the tree on disk differs from what the spec renders; `manifest` says why the
    manifest does not vouch for it (stale, missing, an interrupted render)."""

    changed: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    manifest: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.extra or self.manifest)


def drift(have: dict[str, str], artifacts: list[Artifact]) -> Drift:
    """Compare `artifacts` with the files on disk (`have`: path -> sha256, or a word for a
    link or a device, as `fsio.read_tree` gives them)."""
    want = {a.path: a.sha256 for a in artifacts}
    return Drift(
        changed=tuple(sorted(k for k in want if k in have and have[k] != want[k])),
        missing=tuple(sorted(k for k in want if k not in have)),
        extra=tuple(sorted(k for k in have if k not in want)),
    )


def manifest_problems(
    text: bytes | None, result: RenderResult, *, interrupted: bool, prefixes: tuple[str, ...]
) -> tuple[str, ...]:
    """Why manifest.json does not describe this rendering: absent, unreadable, written for
    another spec or cluster, entries that differ, or a render interrupted mid-publish."""
    import json

    out: list[str] = []
    if interrupted:
        out.append("a render was interrupted while replacing files (re-render)")
    if text is None:
        return (*out, "manifest.json is missing")
    try:
        doc = json.loads(text)
        files = doc["files"]
        if not isinstance(files, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return (*out, "manifest.json is not a render manifest")
    if doc.get("spec_sha256") != result.spec_sha256:
        out.append(
            f"manifest.json was written for another spec (sha256 {str(doc.get('spec_sha256'))[:12]}"
            f", this spec {result.spec_sha256[:12]})"
        )
    if doc.get("cluster") != result.cluster:
        out.append(f"manifest.json is of cluster {doc.get('cluster')!r}")
    want = {a.path: a.sha256 for a in result.artifacts}
    listed = {p: h for p, h in files.items() if str(p).startswith(prefixes)}
    wrong = sorted(p for p in want if listed.get(p) != want[p])
    gone = sorted(p for p in listed if p not in want)
    out += [f"manifest.json entry differs: {p}" for p in wrong[:20]]
    out += [f"manifest.json lists a file the spec does not render: {p}" for p in gone[:20]]
    return tuple(out)
