"""Preflight results in the Prometheus text exposition format (version 0.0.4), for
node_exporter's textfile collector: point `--collector.textfile.directory` at the file's
folder and existing Grafana alerting sees every node x check.

Metrics (labels `cluster`, `node`, `check`):
- `aictl_check_status`: 0 ok, 1 warn, 2 fail, 3 error, 4 skip — one per node x check;
- `aictl_check_failing`: 1 when that check fails the node (fail or error), else 0;
- `aictl_check_results`: how many nodes each check put in each status (`status` label);
- `aictl_nodes`: nodes passing and failing (`state` label).
No timestamps: the collector exports the file's mtime (`node_textfile_mtime_seconds`). The
file is written whole and renamed into place, as the collector requires.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.checks.preflight import PreflightReport

CODES = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 3, Status.SKIP: 4}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _per_node_check(
    report: PreflightReport, name: str, help_text: str, value: Callable[[Status], int]
) -> list[str]:
    """One gauge family with a sample per node x check."""
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for node, row in report.rows.items():
        for r in row:
            labels = _labels(cluster=report.cluster, node=node, check=r.check)
            out.append(f"{name}{labels} {value(r.status)}")
    return out


def render(report: PreflightReport) -> str:
    """The exposition text for one preflight report."""
    c = report.cluster
    out = _per_node_check(
        report,
        "aictl_check_status",
        "aictl preflight result: 0 ok, 1 warn, 2 fail, 3 error, 4 skip.",
        CODES.__getitem__,
    )
    out += _per_node_check(
        report,
        "aictl_check_failing",
        "1 when the check fails the node (fail or error).",
        lambda s: int(s.failed),
    )
    counts = Counter((r.check, r.status) for row in report.rows.values() for r in row)
    out += [
        "# HELP aictl_check_results Nodes per check and status.",
        "# TYPE aictl_check_results gauge",
    ]
    for check in report.checks:
        for status in CODES:
            out.append(
                f"aictl_check_results{_labels(cluster=c, check=check, status=status.value)} "
                f"{counts[(check, status)]}"
            )
    failing = len(report.failing)
    out += [
        "# HELP aictl_nodes Nodes that pass and fail preflight.",
        "# TYPE aictl_nodes gauge",
        f"aictl_nodes{_labels(cluster=c, state='pass')} {len(report.rows) - failing}",
        f"aictl_nodes{_labels(cluster=c, state='fail')} {failing}",
    ]
    return "\n".join(out) + "\n"


def write(report: PreflightReport, path: Path) -> Path:
    """Write the exposition to `path` atomically (a temporary file in its folder, renamed)."""
    from aictl.errors import UsageError

    text = render(report).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot write the Prometheus file ({exc.strerror})",
            hint="--prom needs a writable folder (node_exporter's textfile directory)",
        ) from None
    return path
