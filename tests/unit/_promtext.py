"""A strict reader of the Prometheus text exposition format (0.0.4), written from the format's
specification, for the tests of `aictl check --prom`: what it refuses, node_exporter's
textfile collector would refuse too (bad names, bad escapes, a TYPE after samples, a family
split in two, a series twice)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class FormatError(ValueError):
    """The text is not valid exposition format (line number and why)."""


@dataclass
class Family:
    name: str
    type: str = "untyped"
    help: str = ""
    samples: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)


def _labels(text: str, n: int) -> tuple[tuple[tuple[str, str], ...], str]:
    """Parse `{a="x",b="y"}` at the start of text; return the labels and the rest."""
    assert text.startswith("{")
    i = 1
    out: list[tuple[str, str]] = []
    while True:
        if text[i] == "}":
            return tuple(out), text[i + 1 :]
        m = _LABEL.match(text, i)
        if not m or text[m.end() : m.end() + 2] != '="':
            raise FormatError(f"line {n}: bad label at {text[i : i + 20]!r}")
        name, i, value = m.group(0), m.end() + 2, ""
        while text[i] != '"':
            if text[i] == "\\":
                esc = text[i + 1]
                if esc not in '\\"n':
                    raise FormatError(f"line {n}: bad escape \\{esc}")
                value += {"n": "\n"}.get(esc, esc)
                i += 2
            elif text[i] == "\n":
                raise FormatError(f"line {n}: newline in a label value")
            else:
                value += text[i]
                i += 1
        out.append((name, value))
        i += 1
        if text[i] == ",":
            i += 1
        elif text[i] != "}":
            raise FormatError(f"line {n}: expected , or }} after a label")
        if len({k for k, _ in out}) != len(out):
            raise FormatError(f"line {n}: a label twice")


def _value(text: str, n: int) -> float:
    special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
    if text in special:
        return special[text]
    try:
        return float(text)
    except ValueError:
        raise FormatError(f"line {n}: not a value: {text!r}") from None


def parse(text: str) -> dict[str, Family]:
    """Every metric family of an exposition, or FormatError."""
    if text and not text.endswith("\n"):
        raise FormatError("the last line has no line feed")
    families: dict[str, Family] = {}
    done: set[str] = set()
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not _NAME.fullmatch(name):
                    raise FormatError(f"line {n}: bad metric name {name!r}")
                fam = families.setdefault(name, Family(name))
                if name in done or fam.samples:
                    raise FormatError(f"line {n}: {parts[1]} for {name} after its samples")
                if parts[1] == "TYPE":
                    kind = parts[3] if len(parts) > 3 else ""
                    if kind not in TYPES:
                        raise FormatError(f"line {n}: unknown type {kind!r}")
                    fam.type = kind
                else:
                    fam.help = parts[3] if len(parts) > 3 else ""
            continue
        m = _NAME.match(line)
        if not m:
            raise FormatError(f"line {n}: bad sample {line[:30]!r}")
        name, rest = m.group(0), line[m.end() :]
        labels: tuple[tuple[str, str], ...] = ()
        if rest.startswith("{"):
            labels, rest = _labels(rest, n)
        fields = rest.split()
        if not rest.startswith(" ") or len(fields) not in (1, 2):
            raise FormatError(f"line {n}: expected a value (and a timestamp)")
        if current is not None and current != name:
            done.add(current)
        if name in done:
            raise FormatError(f"line {n}: samples of {name} are not together")
        current = name
        fam = families.setdefault(name, Family(name))
        key = tuple(sorted(labels))
        if key in fam.samples:
            raise FormatError(f"line {n}: {name}{dict(key)} twice")
        fam.samples[key] = _value(fields[0], n)
    return families
