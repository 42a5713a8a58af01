"""Slurm's own view: `sinfo` (its default table) and the tree topology (`scontrol show
topology`, or a topology.conf for `topology/tree`).

sinfo prints one row per partition and node state (`PARTITION AVAIL TIMELIMIT NODES STATE
NODELIST`; the default partition ends in `*`, a state may end in a flag such as `*` for not
responding); each row's host list is expanded. The topology is one `SwitchName=` line per
switch with `Nodes=` and/or `Switches=` host lists (scontrol adds `Level=` and `LinkSpeed=`,
and lists under an upper switch every node below it); `#` starts a comment in a
topology.conf. A line a client prints when it cannot reach slurmctld (`slurm_load_...:
Unable to contact slurm controller`) is the failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of

_ERROR = re.compile(r"^(slurm_\w+|sinfo|scontrol)(:? error)?: .*", re.I)
_SINFO_HEAD = ("PARTITION", "AVAIL", "TIMELIMIT", "NODES", "STATE", "NODELIST")


def expand_hostlist(text: str) -> tuple[str, ...]:
    """Slurm's host list syntax (`node[01-03,07],gpu9`) as names, in its order.

    Raises:
        ValueError: unbalanced brackets or a range that is not `lo-hi` numbers.
    """
    out: list[str] = []
    for part in _split_top(text.strip()):
        out.extend(_expand_one(part))
    return tuple(out)


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ']' in {text!r}")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth:
        raise ValueError(f"unbalanced '[' in {text!r}")
    parts.append(cur)
    return [p for p in parts if p]


def _expand_one(part: str) -> list[str]:
    m = re.match(r"([^\[]*)\[([^\]]*)\](.*)", part)
    if not m:
        return [part]
    prefix, body, rest = m.groups()
    names = []
    for item in body.split(","):
        lo, sep, hi = item.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"not a range: {item!r}")
        width = len(lo)
        for i in range(int(lo), int(hi if sep else lo) + 1):
            names.append(f"{prefix}{i:0{width}d}")
    return [n + tail for n in names for tail in _expand_one(rest)] if rest else names


@dataclass(frozen=True, slots=True)
class SinfoRow:
    """One row of sinfo's default table."""

    partition: str
    default: bool
    avail: str
    timelimit: str
    count: int
    state: str
    nodes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Sinfo(Parsed):
    """sinfo's rows, in its order."""

    rows: tuple[SinfoRow, ...] = ()

    def states(self) -> dict[str, str]:
        """Node -> state (a node in several partitions has one state)."""
        return {n: r.state for r in self.rows for n in r.nodes}


def parse_sinfo(text: str) -> Sinfo:
    """sinfo's default output (`sinfo`, `sinfo -p P`)."""
    rows: list[SinfoRow] = []
    errors: list[str] = []
    seen_head = False
    for line in lines_of(text):
        words = line.split()
        if not words:
            continue
        if tuple(words) == _SINFO_HEAD:
            seen_head = True
            continue
        if _ERROR.match(line.strip()):
            errors.append(line.strip())
            continue
        if not seen_head or len(words) not in (5, 6) or not words[3].isdigit():
            continue
        nodes: tuple[str, ...] = ()
        if len(words) == 6 and words[5] != "n/a":
            try:
                nodes = expand_hostlist(words[5])
            except ValueError as exc:
                errors.append(f"{words[5]}: {exc}")
                continue
        rows.append(
            SinfoRow(
                partition=words[0].rstrip("*"),
                default=words[0].endswith("*"),
                avail=words[1],
                timelimit=words[2],
                count=int(words[3]),
                state=words[4],
                nodes=nodes,
            )
        )
    return Sinfo(
        **head("sinfo", is_simulated(text), errors, empty=not seen_head and not errors),
        rows=tuple(rows),
    )


@dataclass(frozen=True, slots=True)
class SlurmSwitch:
    """One switch of the tree: its level when scontrol says it, the nodes and switches listed
    under it."""

    level: int | None
    nodes: tuple[str, ...]
    switches: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SlurmTopology(Parsed):
    """Switch name -> switch, in the order given."""

    switches: dict[str, SlurmSwitch] = field(default_factory=dict)

    def leaves(self) -> dict[str, tuple[str, ...]]:
        """Switches with nodes and no switches under them: their nodes."""
        return {k: s.nodes for k, s in self.switches.items() if s.nodes and not s.switches}

    def children(self) -> dict[str, tuple[str, ...]]:
        """Switches with switches under them: those switches."""
        return {k: s.switches for k, s in self.switches.items() if s.switches}


def parse_topology(text: str) -> SlurmTopology:
    """`scontrol show topology`, or a topology.conf for topology/tree."""
    switches: dict[str, SlurmSwitch] = {}
    errors: list[str] = []
    for line in lines_of(text):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if _ERROR.match(line):
            errors.append(line)
            continue
        fields = dict(w.partition("=")[::2] for w in line.split() if "=" in w)
        name = fields.get("SwitchName")
        if not name:
            continue
        try:
            nodes = expand_hostlist(fields.get("Nodes", ""))
            subs = expand_hostlist(fields.get("Switches", ""))
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
            continue
        level = fields.get("Level", "")
        switches[name] = SlurmSwitch(
            level=int(level) if level.isdigit() else None, nodes=nodes, switches=subs
        )
    return SlurmTopology(
        **head("slurm-topology", is_simulated(text), errors, empty=not switches and not errors),
        switches=switches,
    )
