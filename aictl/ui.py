"""Terminal output: the one non-CLI module that imports rich.

Colour follows rich's rules: none when stdout is not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from aictl.errors import AictlError, Problem
    from aictl.events import Progress

_out: Console | None = None
_err: Console | None = None


def out() -> Console:
    """Console on stdout."""
    global _out
    if _out is None:
        _out = Console(highlight=False, soft_wrap=False)
    return _out


def err() -> Console:
    """Console on stderr."""
    global _err
    if _err is None:
        _err = Console(stderr=True, highlight=False, soft_wrap=True)
    return _err


def print_json(data: Any) -> None:
    """Machine output: sorted, indented JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(
        json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )


def table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    right: Sequence[str] = (),
    compact: bool = False,
) -> None:
    """Print a table; columns named in `right` are right-aligned (numbers). `compact`: no
    rules and one space between columns, cells never wrapped (wide matrices)."""
    t = Table(
        title=title,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        box=None if compact else box.HEAVY_HEAD,
        padding=(0, 1, 0, 0) if compact else (0, 1),
    )
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left", no_wrap=compact)
    for row in rows:
        t.add_row(*[str(v) for v in row])
    out().print(t)


def say(text: str, *, markup: bool = True) -> None:
    """A line of human output (`markup=False` for text that is data, brackets and all)."""
    out().print(text, markup=markup)


def progress_line(event: Progress) -> None:
    """One progress line on stderr: `[done/total] item status value (why)`."""
    status = event.status.value if event.status is not None else event.event
    parts = [f"[{event.done}/{event.total}]" if event.total else "", event.item, status]
    if event.value:
        parts.append(event.value)
    if event.message:
        parts.append(f"({event.message})")
    err().print(" ".join(p for p in parts if p), markup=False, highlight=False)


# control characters (and what str.splitlines breaks at) shown escaped: one problem, one line
_ESCAPE = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, 0x85)} | {
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def _line(text: str) -> str:
    return text.translate(_ESCAPE)


def _problem_line(label: str, p: Problem) -> str:
    where = p.location()
    parts = [f"error[{label}]"]
    if where:
        parts.append(where)
    head = " ".join(parts)
    body = f"{p.field}: {p.message}" if p.field else p.message
    return f"{head} {body}"


def print_error(exc: AictlError) -> None:
    """One line per problem (file:line field: message), each followed by its hint."""
    console = err()
    if exc.problems:
        for p in exc.problems:
            console.print(_line(_problem_line(exc.label, p)), markup=False)
            if p.hint:
                console.print(_line(f"  hint: {p.hint}"), markup=False)
        if len(exc.problems) > 1:
            console.print(f"{len(exc.problems)} problems; nothing was written", markup=False)
    else:
        console.print(_line(f"error[{exc.label}] {exc.message}"), markup=False)
    if exc.hint:
        console.print(_line(f"  hint: {exc.hint}"), markup=False)


def print_internal(exc: BaseException) -> None:
    """An unexpected failure: one line, and how to see more."""
    err().print(f"error[INTERNAL] {type(exc).__name__}: {exc}", markup=False)
    err().print("  hint: re-run with --debug for the traceback, and report it", markup=False)
