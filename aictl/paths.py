"""Where things live: the packaged data roots.

`templates/` and `playbooks/` are top-level in the repository and ship inside the wheel as
`aictl/_data/...`; this module is the only place that knows both locations.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_root(name: str) -> Path:
    """Directory of packaged data `name` (`templates` or `playbooks`)."""
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    return _PKG.parent / name
