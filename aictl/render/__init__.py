"""Stage 3: render every config file a cluster needs from the plan.

Public entries: `render_all` (in memory), `write_rendered` (to build/<cluster>/artifacts with
manifest.json), `check_drift` (`aictl render --check`). All Jinja runs in this package.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.errors import UsageError
from aictl.render.manifest import Drift, drift, manifest_problems, manifest_text

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.artifact import Artifact
    from aictl.topology.model import Topology

__all__ = ["Drift", "RenderResult", "check_drift", "render_all", "write_rendered"]

PENDING = "render"  # the marker fsio leaves while a render renames files into place


@dataclass(frozen=True, slots=True)
class RenderResult:
    """What a render produced: the artifacts and the targets they cover."""

    artifacts: tuple[Artifact, ...]
    targets: tuple[str, ...]
    cluster: str = ""
    spec_sha256: str = ""

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
        tuple(sorted(arts, key=lambda a: a.path)),
        tuple(t for t in TARGETS if t in chosen),
        topo.name,
        topo.spec_sha256,
    )


def write_rendered(topo: Topology, result: RenderResult, build_dir: Path) -> Path:
    """Write the artifacts under `build_dir/artifacts` and `build_dir/manifest.json`.

    Only files whose bytes changed are written, and files of the rendered targets that the
    spec no longer produces are removed, so the tree always equals the manifest (and a
    re-render of an unchanged spec touches nothing). One transaction under the build
    directory's lock (aictl/fsio.py): an I/O error leaves the previous tree, a killed run a
    tree `check_drift` reports; links below the build directory are refused. Returns the
    manifest path.

    Raises:
        WriteError: a link in the way or an I/O error (exit 5); nothing was changed.
    """
    import json

    from aictl import fsio
    from aictl.errors import ExitCode

    wanted = {f"artifacts/{a.path}" for a in result.artifacts}
    with fsio.publish(build_dir, stage=ExitCode.RENDER, marker=PENDING) as pub:
        for prefix in result.prefixes():
            pub.remove_stale("artifacts/" + prefix.rstrip("/"), wanted)
        for art in result.artifacts:
            mode = 0o755 if "/usr/local/sbin/" in art.path else 0o644
            pub.write(f"artifacts/{art.path}", art.data, mode=mode)
        files: dict[str, str] = {}
        old = pub.read("manifest.json")
        if old is not None:
            # entries of targets not rendered this time stay as they were
            with contextlib.suppress(ValueError, AttributeError):
                kept: dict[str, str] = json.loads(old).get("files", {})
                files = {p: h for p, h in kept.items() if not p.startswith(result.prefixes())}
        files.update({a.path: a.sha256 for a in result.artifacts})
        pub.write("manifest.json", manifest_text(topo.name, topo.spec_sha256, files).encode())
    return build_dir / "manifest.json"


def check_drift(result: RenderResult, build_dir: Path) -> Drift:
    """How the rendered targets' files on disk, and the manifest, differ from what the spec
    renders now (under the build directory's lock, shared).

    Files are compared byte for byte with the rendering (a link is never followed: it is a
    changed file); the manifest must list exactly these files with these hashes and this
    spec's sha256, and no render may have been interrupted.
    """
    from aictl import buildlock, fsio
    from aictl.errors import ExitCode

    with buildlock.hold(build_dir, stage=ExitCode.RENDER, shared=True):
        have = fsio.read_tree(build_dir, "artifacts", stage=ExitCode.RENDER)
        d = drift(have, list(result.artifacts))
        prefixes = result.prefixes()
        text = fsio.read_file(build_dir, "manifest.json", stage=ExitCode.RENDER)
        stale = manifest_problems(
            text, result, interrupted=fsio.pending(build_dir, PENDING), prefixes=prefixes
        )
    return Drift(d.changed, d.missing, tuple(p for p in d.extra if p.startswith(prefixes)), stale)
