"""Stage 1 documentation: docs/spec.md, generated from the models' field descriptions.

A test compares the committed file with this output, so the reference cannot drift from the
code (`pytest --update-golden` rewrites it).
"""

from __future__ import annotations

import json
from typing import Any

from aictl.spec.grammar import DESCRIBE
from aictl.spec.models import ClusterSpec


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"[{prop['$ref'].rsplit('/', 1)[-1]}](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"])
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    t = prop.get("type", "any")
    if t == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if t == "object" and "additionalProperties" in prop:
        return f"map of name to {_type(prop['additionalProperties'], defs)}"
    if t == "object" and "patternProperties" in prop:
        (value,) = prop["patternProperties"].values()
        return f"map of name to {_type(value, defs)}"
    if prop.get("format") in ("ipv4network", "ipv4"):
        return "IPv4 prefix" if prop["format"] == "ipv4network" else "IPv4 address"
    return str(t)


def _limits(prop: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minItems", "items >="),
        ("maxItems", "items <="),
        ("pattern", "pattern"),
    ):
        if key == "pattern" and prop.get(key) in DESCRIBE:
            parts.append(DESCRIBE[prop[key]])
        elif key in prop:
            value = f"`{prop[key]}`" if key == "pattern" else prop[key]
            parts.append(f"{label} {value}")
    return ", ".join(parts)


def _section(name: str, schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    lines = [
        f"## {name}",
        "",
        schema.get("description", "").strip(),
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    required = set(schema.get("required", []))
    for key, prop in schema.get("properties", {}).items():
        default = (
            "required"
            if key in required
            else (f"`{json.dumps(prop['default'])}`" if "default" in prop else "")
        )
        desc = prop.get("description", "")
        limits = _limits(prop)
        if limits:
            desc += f" ({limits})"
        lines.append(f"| `{key}` | {_type(prop, defs)} | {default} | {desc} |")
    return [*lines, ""]


def render_reference() -> str:
    """Markdown reference of every spec section and field."""
    schema = ClusterSpec.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    out = [
        "# Cluster spec reference",
        "",
        "Generated from the spec models (`aictl/spec/models.py`); `aictl spec schema` prints",
        "the same as JSON Schema. Unknown keys are errors. Start from a preset:",
        "`aictl spec init --preset a800-200`.",
        "",
    ]
    out += _section("ClusterSpec", schema, defs)
    for name in sorted(defs):
        out += _section(name, defs[name], defs)
    return "\n".join(out).rstrip() + "\n"
