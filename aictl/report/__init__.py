"""The report room: what the earlier stages found, as documents people and CI systems read.

`collect.py` gathers one JSON document from the build directory (plan, preflight, fabric
verification, an acceptance run); `html.py` writes it as one self-contained HTML file with
inline SVG charts (`charts.py`); `text.py` as Markdown and JUnit XML. The only time-dependent
byte is the generation time in the footer (SOURCE_DATE_EPOCH pins it).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

FORMATS = ("html", "md", "json", "junit")
NAMES = {"html": "report.html", "md": "report.md", "json": "report.json", "junit": "junit.xml"}
PLAN_NAMES = {"html": "plan.html", "md": "plan.md", "json": "plan.json", "junit": "plan-junit.xml"}


def generated_at() -> str:
    """UTC now, or SOURCE_DATE_EPOCH when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = int(epoch) if epoch and epoch.isdigit() else int(time.time())
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


def write_reports(
    path: Path, formats: list[str], out: Path | None, *, plan_only: bool = False
) -> dict[str, Any]:
    """Write the requested formats; returns where they went and the verdict. `plan_only`:
    the plan report (no preflight, fabric or acceptance results), plan.html and so on."""
    from aictl import __version__, jsonio
    from aictl.report.collect import collect, locate
    from aictl.report.html import render_html
    from aictl.report.text import render_junit, render_markdown

    build, run = locate(path)
    if plan_only:
        run = None
    topo, doc = collect(build, run=run, plan_only=plan_only)
    names = PLAN_NAMES if plan_only else NAMES
    out_dir = out or (run / "report" if run is not None else build / "report")
    gen = generated_at()
    texts: dict[str, str] = {}
    for fmt in formats:
        if fmt == "html":
            texts[names[fmt]] = render_html(topo, doc, generated=gen, version=__version__)
        elif fmt == "md":
            texts[names[fmt]] = render_markdown(doc, generated=gen)
        elif fmt == "json":
            texts[names[fmt]] = jsonio.dumps({**doc, "generated": gen})
        elif fmt == "junit":
            texts[names[fmt]] = render_junit(doc)
    _write(build, out_dir, texts, default=out is None)
    acc = doc.get("acceptance") or {}
    return {
        "cluster": doc["cluster"],
        "out": str(out_dir),
        "files": sorted(str(out_dir / n) for n in texts),
        "verdict": acc.get("verdict", "plan"),
        "suspects": acc.get("suspects", []),
        "simulated": doc["simulated"],
    }


def _write(build: Path, out_dir: Path, texts: dict[str, str], *, default: bool) -> None:
    """All formats in one transaction (aictl/fsio.py): below the build directory, under its
    lock, when the reports go to their default place; into --out DIR otherwise."""
    from aictl import fsio
    from aictl.errors import ExitCode

    root, sub = out_dir, ""
    if default and out_dir.is_relative_to(build):
        root, sub = build, out_dir.relative_to(build).as_posix() + "/"
    with fsio.publish(root, stage=ExitCode.USAGE, lock=root == build) as pub:
        for name, text in texts.items():
            pub.write(sub + name, text.encode())
