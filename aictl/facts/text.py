"""Helpers the parsers share: the lab's simulated marker, shell prompts, `key : value`."""

from __future__ import annotations

import re

SIM_MARK = "# aictl-lab: simulated"
# a copied shell prompt ahead of the command (`[user@host ~]$ cmd`, `root@h:~# cmd`)
_PROMPT = re.compile(r"^\S.*?[$#]\s+\S")


def is_simulated(text: str) -> bool:
    """True when the output came from the lab's simulated tools (they mark every output)."""
    return SIM_MARK in text


def lines_of(text: str) -> list[str]:
    """Lines without the lab marker or a leading copied shell prompt line."""
    out = text.replace("\r\n", "\n").split("\n")
    return [ln for ln in out if not ln.startswith(SIM_MARK)]


def is_prompt(line: str) -> bool:
    """A copied shell prompt line like `[user@host ~]$ ibstat`."""
    return bool(_PROMPT.match(line)) and ("$ " in line or "# " in line) and "@" in line


def kv(line: str) -> tuple[str, str] | None:
    """`Key : value` (any spacing around the colon) or None."""
    if ":" not in line:
        return None
    k, _, v = line.partition(":")
    k = k.strip()
    if not k:
        return None
    return k, v.strip()
