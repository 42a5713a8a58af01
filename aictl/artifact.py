"""A generated file: its path relative to where it is written, and its bytes."""

from __future__ import annotations

from dataclasses import dataclass

from aictl.jsonio import sha256_bytes


@dataclass(frozen=True, slots=True)
class Artifact:
    """A file a stage produced, not yet written."""

    path: str
    data: bytes

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.data)
