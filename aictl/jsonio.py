"""Deterministic JSON: sorted keys, two-space indent, trailing newline, sha256 helpers.

NaN and infinities are refused (ValueError): `Infinity` is not JSON, and the spec refuses
them before they could get here.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


def dumps(data: Any) -> str:
    """Serialize `data` the one way aictl writes JSON files."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def dumps_compact(data: Any) -> str:
    """Stable compact form (for hashing and for `--output json` on large objects)."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_text(text: str) -> str:
    """Hex sha256 of UTF-8 text."""
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def read_stage_file(path: Any, read: Callable[[dict[str, Any]], T], *, again: str) -> T | None:
    """A stage's JSON file through its reader; None when absent, a usage error naming the file
    and the command that rewrites it when it cannot be read."""
    from aictl.errors import UsageError

    if not path.exists():
        return None
    try:
        return read(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{path}: not a {path.name} aictl can read ({exc})",
            hint=f"run {again} again to write a new one",
        ) from None
