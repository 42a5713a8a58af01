"""Deterministic JSON: sorted keys, two-space indent, trailing newline, sha256 helpers.

NaN and infinities are refused (ValueError): `Infinity` is not JSON, and the spec refuses
them before they could get here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


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
