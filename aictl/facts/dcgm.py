"""DCGM diagnostics: `dcgmi diag -r 1|2|3 -j` (JSON), and the table `dcgmi diag` prints
without `-j` (DCGM 3.x and 4.x layouts), into one shape: each test with its status, its per-GPU
statuses and its warnings.

The JSON is `{"DCGM GPU Diagnostic" (3.x) or "DCGM Diagnostic" (4.x): {"test_categories":
[{"category", "tests": [{"name", "results": [{"gpu_id(s)", "status", "warnings"}]}]}]}}`.
In the table a test's own row carries its overall result and `GPUn: Pass` rows follow; a test
may fail as a whole while every GPU row passes (an internal error of the test): the test's
status is the result, and no GPU is blamed. Preflight's command prints `aictl: dcgmi not
installed` when there is no dcgmi: `installed` is then false, and the check skips.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of

ABSENT = "aictl: dcgmi not installed"
_STATUS = {"pass": "pass", "fail": "fail", "warn": "warn", "warning": "warn", "skip": "skip"}
_STATUS |= {"skipped": "skip", "not run": "skip", "pass (internal)": "pass"}
_GPU_ROW = re.compile(r"^GPU\s*(\d+):\s*(\w[\w ]*?)\s*$")


@dataclass(frozen=True, slots=True)
class DcgmTest:
    """One diagnostic test: overall status, per-GPU statuses, warnings in DCGM's words."""

    name: str
    category: str
    status: str  # pass | fail | warn | skip
    gpus: dict[str, str]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DcgmDiag(Parsed):
    """`dcgmi diag` results."""

    installed: bool = True
    version: str | None = None
    tests: tuple[DcgmTest, ...] = ()
    complete: bool = True  # the table's bottom border or the whole JSON document was seen

    @property
    def failed(self) -> tuple[DcgmTest, ...]:
        return tuple(t for t in self.tests if t.status == "fail")


def _status(value: object) -> str:
    text = str(value or "").strip().lower()
    first = text.split(" - ")[0].strip()
    return _STATUS.get(first, _STATUS.get(text.split()[0] if text else "", "skip"))


def _warnings(result: dict[str, Any]) -> list[str]:
    out = []
    for key in ("warnings", "errors"):
        for w in result.get(key) or []:
            msg = w.get("warning") or w.get("error") if isinstance(w, dict) else w
            if msg:
                out.append(str(msg).strip())
    return out


def _from_json(doc: dict[str, Any]) -> tuple[str | None, list[DcgmTest]]:
    body = doc.get("DCGM GPU Diagnostic") or doc.get("DCGM Diagnostic") or doc
    tests = []
    for cat in body.get("test_categories") or []:
        for t in cat.get("tests") or []:
            gpus: dict[str, str] = {}
            warns: list[str] = []
            for r in t.get("results") or []:
                ids = r.get("gpu_ids", r.get("gpu_id", r.get("entity_id")))
                st = _status(r.get("status"))
                for gid in str(ids).split(",") if ids is not None else []:
                    gpus[gid.strip()] = st
                warns += _warnings(r)
            summary = (t.get("test_summary") or {}).get("status")
            states = list(gpus.values())
            if summary is not None:
                overall = _status(summary)
            elif "fail" in states:
                overall = "fail"
            elif "warn" in states:
                overall = "warn"
            elif "pass" in states:
                overall = "pass"
            else:
                overall = "skip"
            tests.append(
                DcgmTest(
                    str(t.get("name", "?")),
                    str(cat.get("category", "")),
                    overall,
                    gpus,
                    tuple(dict.fromkeys(warns)),
                )
            )
    version = body.get("version") or (body.get("metadata") or {}).get("DCGM Version")
    return (str(version) if version else None), tests


def _cells(line: str) -> tuple[str, str, bool] | None:
    """(left cell, right cell's text, whether that text fills the cell to its last column)."""
    parts = line.split("|")
    if len(parts) < 3 or not line.lstrip().startswith("|"):
        return None
    raw = parts[2]
    text = raw[1:].rstrip() if raw.startswith(" ") else raw.rstrip()
    return parts[1].strip(), text, len(raw.rstrip()) >= len(raw) - 2


def _join(pieces: list[str]) -> str:
    """A warning DCGM wrapped at the cell's width, mid-word where a piece fills the cell
    (glued back as is) and between words where it does not (a space)."""
    return re.sub(r"  +", " ", "".join(pieces)).strip()


def _from_table(lines: list[str]) -> tuple[str | None, list[DcgmTest], bool]:
    version = None
    category = ""
    tests: list[dict[str, Any]] = []
    note: list[str] | None = None
    bottom = False
    for ln in lines:
        s = ln.strip()
        if s.startswith("+") or s.startswith("|-----"):
            sec = re.search(r"-{2,}\s+(\w[\w ]*?)\s+-{2,}", s)
            if sec:
                category = sec.group(1)
            bottom = s.startswith("+---") and "=" not in s and sec is None
            continue
        cells = _cells(ln)
        if cells is None:
            continue
        bottom = False
        left, right, full = cells
        value = right.strip()
        if left in ("Diagnostic",):
            continue
        if left in ("Warning", "Info", "Error"):
            note = [value, "" if full else " "]
            if tests:
                tests[-1]["warnings"].append(note)
            continue
        if left:
            note = None
            st = value.split(" - ")[0].strip().lower()
            if st in _STATUS:
                tests.append(
                    {
                        "name": left,
                        "category": category,
                        "status": _STATUS[st],
                        "gpus": {},
                        "warnings": [],
                    }
                )
            elif left == "DCGM Version":
                version = value
            continue
        g = _GPU_ROW.match(value)
        if g and tests:
            note = None
            tests[-1]["gpus"][g.group(1)] = _status(g.group(2))
        elif note is not None:
            note += [right, "" if full else " "]
    out = [
        DcgmTest(
            t["name"], t["category"], t["status"], t["gpus"], tuple(_join(w) for w in t["warnings"])
        )
        for t in tests
    ]
    return version, out, bottom


def parse_dcgm_diag(text: str) -> DcgmDiag:
    """`dcgmi diag [-r N] [-j]` -> tests with statuses, per-GPU results and warnings."""
    sim = is_simulated(text)
    lines = lines_of(text)
    if any(ln.strip() == ABSENT for ln in lines):
        return DcgmDiag(**head("dcgm", sim, []), installed=False)
    errors: list[str] = []
    start = text.find("{")
    version: str | None = None
    tests: list[DcgmTest] = []
    complete = True
    if start >= 0:
        try:
            doc = json.loads(text[start : text.rfind("}") + 1])
        except ValueError:
            doc = None
            complete = False
        if isinstance(doc, dict):
            version, tests = _from_json(doc)
    if not tests:
        version, tests, complete = _from_table(lines)
    if not tests:
        said = [ln.strip() for ln in lines if re.match(r"^\s*(Error|Unable|Failed)", ln, re.I)]
        errors = said[:1]
    if tests and not complete:
        errors = ["the diagnostic output is cut off (no closing border or brace)"]
    return DcgmDiag(
        **head("dcgm", sim, errors, empty=not tests),
        version=version,
        tests=tuple(tests),
        complete=complete,
    )
