"""Stage 1: read a spec file, remember where every key is, validate, report every problem.

YAML is composed into nodes (not loaded straight to Python) so that each key path keeps its
line number; pydantic errors and the cross-field rules then point at `file:line field`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from aictl.errors import Problem, SpecError
from aictl.jsonio import sha256_text
from aictl.spec.models import ClusterSpec

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

PathKey = tuple[str | int, ...]

MAX_SPEC_BYTES = 4 * 2**20


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A validated spec plus where it came from (name and sha256 of the source text)."""

    spec: ClusterSpec
    source: str
    sha256: str
    lines: dict[PathKey, int]


class _Composer:
    """Turn a composed YAML node tree into plain data plus a path -> line map."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[PathKey, int] = {}
        self.problems: list[Problem] = []
        self._scalar = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"))
                if not isinstance(key, str | int | bool) or isinstance(key, bool):
                    key = str(key)
                if key in out:
                    self.problems.append(
                        Problem(
                            f"duplicate key {key!r}",
                            field=_dotted((*path, key)),
                            file=self.source,
                            line=key_node.start_mark.line + 1,
                            hint="YAML keeps only the last one; remove the other",
                        )
                    )
                out[key] = self.build(value_node, (*path, key))
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar.construct_object(node)


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def line_of(lines: dict[PathKey, int], path: PathKey) -> int | None:
    """Line of the longest prefix of `path` that the source has."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _walk(model: type[BaseModel], path: PathKey) -> tuple[Any, Any]:
    """(model at `path`, FieldInfo of the last key) following the spec's model tree."""
    current: Any = model
    info: Any = None
    for part in path:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if not fields:
            # a dict of models (node_profiles): the key is data, not a field
            continue
        info = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if info is None:
            return None, None
        current = _model_in(info.annotation)
    return current, info


def _fields_of(model: type[BaseModel], path: PathKey) -> list[str]:
    """Known keys at `path` (for 'did you mean' hints on unknown keys)."""
    current, _ = _walk(model, path)
    fields = getattr(current, "model_fields", None) or {}
    return [f.alias or k for k, f in fields.items()]


def describe(path: PathKey) -> str:
    """The description of the spec field at `path` ('' when unknown)."""
    _, info = _walk(ClusterSpec, path)
    return str(getattr(info, "description", "") or "")


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _problems_from(exc: ValidationError, source: str, lines: dict[PathKey, int]) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc: PathKey = tuple(p for p in err["loc"] if isinstance(p, str | int))
        # pydantic puts the union member / dict key type in the path; keep the data path only
        loc = tuple(
            p
            for p in loc
            if not (isinstance(p, str) and p.startswith(("function-", "list[")))
            and p not in ("str", "int", "literal['all']", "[key]")
        )
        kind = err["type"]
        hint = ""
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            known = _fields_of(ClusterSpec, loc[:-1])
            close = difflib.get_close_matches(key, known, n=1)
            msg = f"unknown key {key!r}"
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else (f"known keys here: {', '.join(sorted(known))}" if known else "remove it")
            )
        elif kind == "missing":
            msg = "required key is missing"
            hint = "see `aictl spec schema` or docs/spec.md for this section"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if "input" in err and not isinstance(err["input"], dict | list):
                msg += f" (got {err['input']!r})"
            about = describe(loc)
            hint = about
        problems.append(
            Problem(msg, field=_dotted(loc), file=source, line=line_of(lines, loc), hint=hint)
        )
    return problems


def parse_spec_text(text: str, source: str = "<spec>") -> LoadedSpec:
    """Validate spec text; raise SpecError listing every problem with file:line and field.

    Args:
        text: YAML text of the spec.
        source: name used in messages (a path, or `preset:<name>`).

    Returns:
        The validated spec with its source name, sha256 and line map.

    Raises:
        SpecError: the text is not YAML, not a mapping, or fails validation or the rules.
    """
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{source}: spec is larger than {MAX_SPEC_BYTES // 2**20} MiB",
            hint="a spec is a few hundred lines; list nodes by count and pattern",
        )
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(
            "spec is not valid YAML",
            problems=[
                Problem(
                    f"YAML syntax: {problem}",
                    file=source,
                    line=line,
                    hint="check indentation and quoting near this line",
                )
            ],
        ) from None
    composer = _Composer(source)
    data = composer.build(node, ()) if node is not None else None
    if not isinstance(data, dict):
        raise SpecError(
            "spec must be a YAML mapping",
            problems=[
                Problem(
                    "the document is not a mapping of keys",
                    file=source,
                    line=1,
                    hint="start from `aictl spec init`",
                )
            ],
        )
    problems = list(composer.problems)
    try:
        spec = ClusterSpec.model_validate(data)
    except ValidationError as exc:
        problems += _problems_from(exc, source, composer.lines)
        raise SpecError(f"{source}: {len(problems)} problem(s)", problems=problems) from None
    from aictl.spec.rules import check_spec

    problems += check_spec(spec, source, composer.lines)
    if problems:
        raise SpecError(f"{source}: {len(problems)} problem(s)", problems=problems)
    return LoadedSpec(spec=spec, source=source, sha256=sha256_text(text), lines=composer.lines)


def load_spec(path: Path) -> LoadedSpec:
    """Read and validate the spec at `path` (see parse_spec_text)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="create one with `aictl spec init`") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory", hint="pass the spec file itself") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            "spec is not UTF-8 text",
            problems=[
                Problem(
                    f"byte {exc.start} is not UTF-8", file=str(path), hint="save the file as UTF-8"
                )
            ],
        ) from None
    return parse_spec_text(text, str(path))


def preset_names() -> list[str]:
    """Names of the embedded presets."""
    root = resources.files("aictl.spec") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    """Commented YAML text of preset `name`."""
    if name not in preset_names():
        close = difflib.get_close_matches(name, preset_names(), n=1)
        raise SpecError(
            f"unknown preset {name!r}",
            hint=(f"did you mean {close[0]!r}? " if close else "")
            + "list them with `aictl spec presets`",
        )
    return (resources.files("aictl.spec") / "presets" / f"{name}.yaml").read_text()


def load_preset(name: str) -> LoadedSpec:
    """Validated embedded preset `name`."""
    return parse_spec_text(preset_text(name), f"preset:{name}")


def load_resolved(path: Path) -> LoadedSpec:
    """The spec `aictl topo plan` resolved into build/<cluster>/spec.resolved.json (later
    stages read this, never the YAML again)."""
    import json

    try:
        doc = json.loads(path.read_text())
        spec = ClusterSpec.model_validate(doc["spec"])
    except (OSError, ValueError, KeyError, ValidationError) as exc:
        raise SpecError(
            f"{path}: not a resolved spec ({type(exc).__name__})",
            hint="re-run aictl topo plan for this cluster",
        ) from None
    return LoadedSpec(spec, str(path), str(doc.get("spec_sha256", "")), {})
