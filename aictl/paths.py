"""Where things live: the build directory layout and the packaged data roots.

`templates/` and `playbooks/` are top-level in the repository and ship inside the wheel as
`aictl/_data/...`; this module is the only place that knows both locations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_root(name: str) -> Path:
    """Directory of packaged data `name` (`templates` or `playbooks`)."""
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name


@dataclass(frozen=True, slots=True)
class BuildLayout:
    """`build/<cluster>/` and its well-known members."""

    root: Path

    @classmethod
    def for_cluster(cls, base: Path, cluster: str) -> BuildLayout:
        """Layout under `base` (normally ./build) for cluster `cluster`."""
        return cls(base / cluster)

    @property
    def spec_resolved(self) -> Path:
        return self.root / "spec.resolved.json"

    @property
    def topology(self) -> Path:
        return self.root / "topology.json"

    @property
    def exports(self) -> Path:
        return self.root / "exports"
