"""Kubernetes objects as YAML text without a YAML library (the topology room imports none).

Block style, with a list item that is a small mapping on one line; keys in the order given;
strings plain when they are names a YAML reader keeps as strings, else double-quoted as JSON
writes them (a JSON string is a YAML double-quoted scalar); numbers and booleans plain:
deterministic bytes, and nothing a YAML reader can take for another type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

# a list item that is a small mapping goes on one line when it fits
FLOW_WIDTH = 100
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
# words a YAML 1.1 reader turns into booleans or null when plain
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        plain = _PLAIN_KEY.match(value) and value.lower() not in _RESERVED
        return value if plain else json.dumps(value)
    raise TypeError(f"not a YAML scalar here: {value!r}")


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) and key.lower() not in _RESERVED else json.dumps(key)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        out: list[str] = []
        for k, v in value.items():
            if isinstance(v, Mapping | Sequence) and not isinstance(v, str) and v:
                out.append(f"{pad}{_key(k)}:")
                out += _lines(v, indent + 2)
            else:
                out.append(f"{pad}{_key(k)}: {_empty(v)}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        out = []
        for item in value:
            flow = _flow(item) if isinstance(item, Mapping) else None
            if flow is not None and len(pad) + 2 + len(flow) <= FLOW_WIDTH:
                out.append(f"{pad}- {flow}")
                continue
            body = _lines(item, indent + 2)
            if isinstance(item, Mapping | Sequence) and not isinstance(item, str) and item:
                out.append(f"{pad}- {body[0].lstrip()}")
                out += body[1:]
            else:
                out.append(f"{pad}- {_empty(item)}")
        return out
    return [pad + _scalar(value)]


def _flow(value: Any) -> str | None:
    """A mapping of scalars and mappings on one line (`{a: 1, b: {c: x}}`), else None."""
    if isinstance(value, Mapping):
        parts = []
        for k, v in value.items():
            inner = _flow(v)
            if inner is None:
                return None
            parts.append(f"{_key(k)}: {inner}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, bool | int | str):
        return _scalar(value)
    return None


def _empty(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, Sequence) and not isinstance(value, str) and not value:
        return "[]"
    return _scalar(value)


def dump_documents(docs: Sequence[Mapping[str, Any]], header: Sequence[str] = ()) -> str:
    """YAML documents separated by `---`, after `header` as comment lines."""
    lines = [f"# {h}" if h else "#" for h in header]
    for doc in docs:
        lines.append("---")
        lines += _lines(doc, 0)
    return "\n".join(lines) + "\n"
