"""Stage 1: read a spec file, remember where every key is, validate, report every problem.

YAML is composed into nodes (not loaded straight to Python) so that each key path keeps its
line number; pydantic errors and the cross-field rules then point at `file:line field`.
The loader takes only what a spec needs: a regular file of at most 1 MiB, plain YAML
(no custom tags, no merge keys, a few aliases, shallow nesting, numbers of sane length).
Anything else is a spec error (exit 3), never a traceback, a hang or gigabytes of memory.
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
from aictl.spec.grammar import DESCRIBE, shown
from aictl.spec.models import ClusterSpec

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

PathKey = tuple[str | int, ...]

MAX_SPEC_BYTES = 2**20
MAX_DEPTH = 32  # a spec nests six deep; the composer recurses per level
MAX_ALIASES = 32  # anchors are handy for a repeated profile, not for a bomb
MAX_NODES = 600_000  # values after alias expansion (1 MiB of YAML holds at most 500,000)
MAX_NUMBER_CHARS = 40
_YAML = "tag:yaml.org,2002:"
_PLAIN_TAGS = {f"{_YAML}{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}
_SCALAR_TAGS = {f"{_YAML}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}


class _RefusedError(Exception):
    """YAML the spec does not take (an alias bomb, a custom tag, ...), at a line."""

    def __init__(self, message: str, line: int | None, hint: str) -> None:
        super().__init__(message)
        self.line = line
        self.hint = hint


class _Loader(yaml.SafeLoader):
    """SafeLoader's composer with limits: nesting depth, aliases, explicit tags."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _RefusedError(
                    f"more than {MAX_ALIASES} aliases (*name)",
                    line,
                    "write the values out; a spec needs few anchors",
                )
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _PLAIN_TAGS:
            raise _RefusedError(
                f"tag {tag!r} is not supported", line, "remove the tag: plain YAML values only"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _RefusedError(
                    f"nested deeper than {MAX_DEPTH} levels", line, "a spec nests a few levels"
                )
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1


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
        self._built = 0
        self._open: set[int] = set()  # collections being built: an alias back is a cycle
        self.refused: set[PathKey] = set()  # values already reported (pydantic need not)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        line = node.start_mark.line + 1
        self.lines[path] = line
        self._built += 1
        if self._built > MAX_NODES:
            raise _RefusedError(
                f"more than {MAX_NODES} values once aliases are expanded",
                line,
                "an alias bomb? write the values out",
            )
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                raise _RefusedError("an alias refers to itself", line, "remove the recursive alias")
            self._open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self._open.discard(id(node))
        return self._value(node, path)

    def _value(self, node: yaml.Node, path: PathKey) -> Any:
        line = node.start_mark.line + 1

        def refuse(message: str, hint: str) -> None:
            self.refused.add(path)
            field = _dotted(tuple(p for p in path if p != "<key>"))
            self.problems.append(
                Problem(message, field=field, file=self.source, line=line, hint=hint)
            )

        if node.tag not in _SCALAR_TAGS:
            refuse(f"tag {node.tag!r} is not supported", "plain YAML values only")
            return None
        if node.tag in (f"{_YAML}int", f"{_YAML}float") and len(node.value) > MAX_NUMBER_CHARS:
            refuse(
                f"a number of {len(node.value)} characters",
                f"numbers in a spec have at most {MAX_NUMBER_CHARS} characters",
            )
            return None
        try:
            return self._scalar.construct_object(node)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            refuse(f"cannot read {node.value[:40]!r}: {exc}", "quote it if it is text")
            return None

    def _collection(self, node: yaml.Node, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == f"{_YAML}merge":
                    self.problems.append(
                        Problem(
                            "merge keys (<<) are not supported",
                            field=_dotted(path),
                            file=self.source,
                            line=key_node.start_mark.line + 1,
                            hint="write the keys out",
                        )
                    )
                    continue
                before = len(self.problems)
                key = self.build(key_node, (*path, "<key>"))
                if key is None and len(self.problems) > before:
                    continue
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
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]


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
    keyed = False  # the field before is a mapping (node_profiles, nccl_env): next is a key
    for part in path:
        if isinstance(part, int) or current is None:
            continue
        if keyed:
            keyed = False
            continue
        fields = getattr(current, "model_fields", None)
        if not fields:
            continue
        info = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if info is None:
            return None, None
        keyed = getattr(info.annotation, "__origin__", None) is dict
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
            if kind == "string_pattern_mismatch":
                pattern = str((err.get("ctx") or {}).get("pattern", ""))
                if pattern in DESCRIBE:
                    msg = f"not {DESCRIBE[pattern]}"
            if "input" in err and not isinstance(err["input"], dict | list):
                msg += f" (got {shown(err['input'])})"
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
    if len(text) > MAX_SPEC_BYTES or len(text.encode()) > MAX_SPEC_BYTES:
        raise _too_large(source)
    composer = _Composer(source)
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = composer.build(node, ()) if node is not None else None
    except _RefusedError as exc:
        raise SpecError(
            f"{source}: YAML the spec does not take",
            problems=[Problem(str(exc), file=source, line=exc.line, hint=exc.hint)],
        ) from None
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
        problems += [
            p
            for p in _problems_from(exc, source, composer.lines)
            if not any(p.field == _dotted(r) for r in composer.refused)
        ]
        raise SpecError(f"{source}: {len(problems)} problem(s)", problems=problems) from None
    from aictl.spec.rules import check_spec

    problems += check_spec(spec, source, composer.lines)
    if problems:
        raise SpecError(f"{source}: {len(problems)} problem(s)", problems=problems)
    return LoadedSpec(spec=spec, source=source, sha256=sha256_text(text), lines=composer.lines)


def _too_large(source: str) -> SpecError:
    return SpecError(
        f"{source}: spec is larger than {MAX_SPEC_BYTES // 2**20} MiB",
        hint="a spec is a few hundred lines; list nodes by count and pattern",
    )


def _read(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_SPEC_BYTES; a FIFO or a device is refused
    without blocking (opened non-blocking, checked before reading)."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="create one with `aictl spec init`") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise SpecError(f"{path}: is a directory", hint="pass the spec file itself")
        kind = (
            "FIFO"
            if stat.S_ISFIFO(mode)
            else "device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "socket"
        )
        raise SpecError(f"{path}: not a regular file (a {kind})", hint="pass the spec file itself")
    with os.fdopen(fd, "rb") as fh:
        try:
            raw = fh.read(MAX_SPEC_BYTES + 1)
        except OSError as exc:
            raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise _too_large(str(path))
    return raw


def load_spec(path: Path) -> LoadedSpec:
    """Read and validate the spec at `path` (see parse_spec_text)."""
    raw = _read(path)
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
