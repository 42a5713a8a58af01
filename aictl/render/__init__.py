"""Stage 3: render every config file a cluster needs from the plan.

Public entries: `render_all` (in memory), `write_rendered` (to build/<cluster>/artifacts with
manifest.json), `check_drift` (`aictl render --check`). All Jinja runs in this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.errors import UsageError
from aictl.render.manifest import Drift, drift, manifest_text

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.artifact import Artifact
    from aictl.topology.model import Topology

__all__ = ["Drift", "RenderResult", "check_drift", "render_all", "write_rendered"]


@dataclass(frozen=True, slots=True)
class RenderResult:
    """What a render produced: the artifacts and the targets they cover."""

    artifacts: tuple[Artifact, ...]
    targets: tuple[str, ...]

    def prefixes(self) -> tuple[str, ...]:
        from aictl.render.targets import TARGETS

        return tuple(p for t in self.targets for p in TARGETS[t][0])


def render_all(topo: Topology, *, targets: list[str] | None = None) -> RenderResult:
    """Render the chosen targets (all by default) in memory.

    Raises:
        RenderError: a target cannot be rendered from this plan.
        UsageError: an unknown target name.
    """
    from aictl.render.targets import TARGETS

    chosen = targets if targets else list(TARGETS)
    unknown = [t for t in chosen if t not in TARGETS]
    if unknown:
        raise UsageError(
            f"unknown render target {unknown[0]!r}", hint=f"targets: {', '.join(TARGETS)}"
        )
    arts: list[Artifact] = []
    for name in TARGETS:
        if name in chosen:
            arts += TARGETS[name][1](topo)
    return RenderResult(
        tuple(sorted(arts, key=lambda a: a.path)), tuple(t for t in TARGETS if t in chosen)
    )


def write_rendered(topo: Topology, result: RenderResult, build_dir: Path) -> Path:
    """Write the artifacts under `build_dir/artifacts` and `build_dir/manifest.json`.

    Only files whose bytes changed are written, each directory is created once, and files of
    the rendered targets that the spec no longer produces are removed, so the tree always
    equals the manifest (and a re-render of an unchanged spec touches nothing). Returns the
    manifest path.
    """
    import json

    root = build_dir / "artifacts"
    wanted = {a.path: a for a in result.artifacts}
    for prefix in result.prefixes():
        top = root / prefix
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_file() and path.relative_to(root).as_posix() not in wanted:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    made: set[Path] = set()
    for art in result.artifacts:
        dest = root / art.path
        if dest.parent not in made:
            dest.parent.mkdir(parents=True, exist_ok=True)
            made.add(dest.parent)
        try:
            if dest.read_bytes() == art.data:
                continue
        except FileNotFoundError:
            pass
        dest.write_bytes(art.data)
        if "/usr/local/sbin/" in art.path:
            dest.chmod(0o755)
    manifest = build_dir / "manifest.json"
    files: dict[str, str] = {}
    if manifest.exists():
        # entries of targets not rendered this time stay as they were
        old: dict[str, str] = json.loads(manifest.read_text()).get("files", {})
        files = {p: h for p, h in old.items() if not p.startswith(result.prefixes())}
    files.update({a.path: a.sha256 for a in result.artifacts})
    tmp = manifest.with_name(".manifest.json.tmp")
    tmp.write_text(manifest_text(topo.name, topo.spec_sha256, files))
    tmp.replace(manifest)
    return manifest


def check_drift(result: RenderResult, build_dir: Path) -> Drift:
    """How the rendered targets' files on disk differ from what the spec renders now."""
    d = drift(build_dir / "artifacts", list(result.artifacts))
    prefixes = result.prefixes()
    return Drift(d.changed, d.missing, tuple(p for p in d.extra if p.startswith(prefixes)))
