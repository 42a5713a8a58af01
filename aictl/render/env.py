"""The one Jinja2 environment: StrictUndefined, trimmed blocks, no clock, templates/ only."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2

from aictl.paths import data_root


def _tojson_block(value: Any, indent: int = 0) -> str:
    """Pretty, sorted JSON indented for a YAML block scalar."""
    text = json.dumps(value, sort_keys=True, indent=2, allow_nan=False)
    pad = " " * indent
    return "\n".join(pad + line for line in text.splitlines())


@cache
def environment() -> jinja2.Environment:
    """The shared environment (cached: template compilation is the expensive part)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_root("templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - configs, not HTML
    )
    env.filters["tojson_block"] = _tojson_block
    env.filters["json"] = lambda v: json.dumps(v, sort_keys=True, allow_nan=False)
    return env


def render(template: str, **context: Any) -> str:
    """Render `template` (a path under templates/) with `context`."""
    return environment().get_template(template).render(**context)
