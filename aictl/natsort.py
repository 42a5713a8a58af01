"""Natural sort: `gpu-2` < `gpu-10`, used everywhere an order is visible."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that compares digit runs as numbers and the rest as text."""
    parts = _DIGITS.split(text)
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts if p != "")


def natsorted(items: Iterable[str]) -> list[str]:
    """Return `items` in natural order."""
    return sorted(items, key=natural_key)


def compress_hostlist(names: Iterable[str]) -> str:
    """Compress names into Slurm hostlist syntax: gpu001..gpu020 -> `gpu[001-020]`.

    Names that share a prefix and a zero-padded numeric suffix of the same width are
    folded into ranges; everything else is listed as is. Order is natural order.
    """
    groups: dict[tuple[str, int], list[int]] = {}
    plain: list[str] = []
    for name in natsorted(set(names)):
        m = re.fullmatch(r"(.*?)(\d+)", name)
        if m is None:
            plain.append(name)
            continue
        groups.setdefault((m.group(1), len(m.group(2))), []).append(int(m.group(2)))
    out: list[tuple[str, str]] = []
    for (prefix, width), nums in groups.items():
        ranges: list[str] = []
        start = prev = nums[0]
        for n in [*nums[1:], None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            a, b = f"{start:0{width}d}", f"{prev:0{width}d}"
            ranges.append(a if start == prev else f"{a}-{b}")
            if n is not None:
                start = prev = n
        if len(ranges) == 1 and "-" not in ranges[0]:
            out.append((f"{prefix}{ranges[0]}", prefix))
        else:
            out.append((f"{prefix}[{','.join(ranges)}]", prefix))
    out.extend((p, p) for p in plain)
    return ",".join(text for text, _ in sorted(out, key=lambda t: natural_key(t[0])))
