"""Reports from a build directory and a run: every format, self-contained HTML, JUnit that a
parser reads, determinism apart from the generation time, and clear errors."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aictl.accept import verdict
from aictl.accept.expect import expectations
from aictl.accept.model import RunPlan, SizePoint
from aictl.accept.store import RunStore
from aictl.cli.app import app
from aictl.report import write_reports
from aictl.spec.loader import load_preset
from aictl.topology import build_topology, write_plan
from tests.unit._results import result as _result


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    out = tmp_path_factory.mktemp("rep") / "build" / "lab-small"
    write_plan(topo, out, picture=False)
    exp = expectations(topo)
    hosts = [n.name for n in topo.nodes]
    results = []
    for h in hosts:
        for r in range(4):
            v = 96.4 if (h, r) == ("node05", 2) else 193.0
            results.append(
                _result(f"node/{h}/gdr/r{r}", "node", "gdr", [h], v, rail=r, gpus=(2 * r, 2 * r))
            )
            results.append(_result(f"node/{h}/host/r{r}", "node", "host", [h], v, rail=r))
        results.append(
            _result(
                f"node/{h}/nccl/all_reduce", "node", "nccl", [h], 156.0, collective="all_reduce"
            )
        )
    for a, b in [("node01", "node02"), ("node05", "node06")]:
        for r in range(4):
            v = 96.5 if a == "node05" and r == 2 else 193.1
            results.append(
                _result(f"pair/1/{a}-{b}/gdr/r{r}", "pair", "gdr", [a, b], v, rail=r, round=1)
            )
    # the confirmation round: node05 is slow again with a good partner, node06 is not
    results.append(
        _result(
            "confirm/node05-node01/gdr/r2",
            "confirm",
            "gdr",
            ["node05", "node01"],
            96.4,
            rail=2,
            round=2,
        )
    )
    results.append(
        _result(
            "confirm/node06-node02/gdr/r2",
            "confirm",
            "gdr",
            ["node06", "node02"],
            193.2,
            rail=2,
            round=2,
        )
    )
    results.append(
        _result(
            "cluster/all_reduce",
            "cluster",
            "nccl",
            hosts,
            80.5,
            collective="all_reduce",
            expected_min=70.0,
            rows=(
                SizePoint(2**27, 60.1),
                SizePoint(2**30, 78.0),
                SizePoint(2**33, 80.5),
            ),
        )
    )
    store = RunStore.create(out / "runs")
    from aictl.accept.model import Kind, Stage, Unit

    plan = RunPlan(
        run_id=store.id,
        cluster="lab-small",
        spec_sha256=topo.spec_sha256,
        suite="quick",
        launcher="ssh",
        hosts=tuple(hosts),
        expectations=exp.as_dict(),
        gpu_for_rail={},
        facts_notes={},
        units=tuple(Unit(r.id, Stage(r.stage), Kind(r.kind), r.hosts) for r in results),
    )
    store.write_plan(plan)
    for res in results:
        store.append(res)
    judged = verdict.judge(plan, results, exp, leaf_of={})
    store.write_summary(
        {
            "run_id": store.id,
            "run_dir": str(store.root),
            "simulated": True,
            "expectations": exp.as_dict(),
            "units": {},
            **judged.as_json(),
        }
    )
    from aictl.checks import preflight
    from aictl.checks.rules import NAMES, Result
    from aictl.status import Status

    def row(h: str) -> tuple[Result, ...]:
        bad = Result("peermem", Status.FAIL, "nvidia_peermem not loaded", "modprobe nvidia_peermem")
        return tuple(
            bad if (h, c) == ("node03", "peermem") else Result(c, Status.OK) for c in NAMES
        )

    preflight.save(
        preflight.PreflightReport(
            cluster="lab-small",
            spec_sha256=topo.spec_sha256,
            rows={h: row(h) for h in hosts},
            versions={
                h: {"driver": "535.183.06", "ofed": "MLNX_OFED_LINUX-23.10-2.1.3.1"} for h in hosts
            },
            groups=dict.fromkeys(hosts, "hgx-a800"),
            simulated=True,
        ),
        out,
    )
    return out


def test_every_format_names_the_slow_nic(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    data = write_reports(build, ["html", "md", "json", "junit"], None)
    assert data["verdict"] == "fail" and [(s["node"], s.get("rail")) for s in data["suspects"]] == [
        ("node05", 2)
    ]
    out = Path(data["out"])
    assert out == build / "runs" / "run-0001" / "report"
    html = (out / "report.html").read_text()
    assert "node05 rail 2" in html and "Simulated." in html and "<svg" in html
    assert "nvidia_peermem not loaded" in html and "535.183.06" in html
    # self-contained: nothing is fetched (only the SVG namespace URI appears)
    assert not re.search(r"(src|href)\s*=|url\(|@import|<script|<link", html)
    assert set(re.findall(r"https?://[^\"' ]+", html)) <= {"http://www.w3.org/2000/svg"}
    md = (out / "report.md").read_text()
    assert "**node05 rail 2**" in md and "| criterion | result |" in md
    doc = json.loads((out / "report.json").read_text())
    assert doc["kind"] == "aictl.report" and doc["acceptance"]["curves"]["all_reduce"]["points"][
        -1
    ] == [2**33, 80.5]
    assert "env" not in json.dumps(doc["acceptance"]["results"])
    root = ET.parse(out / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"lab-small.preflight", "lab-small.acceptance"}
    acc = suites["lab-small.acceptance"]
    cases = acc.findall("testcase")
    assert int(acc.get("tests") or 0) == len(cases) and int(acc.get("failures") or 0) == sum(
        1 for c in cases if c.find("failure") is not None
    )
    failed = [c.get("name") or "" for c in cases if c.find("failure") is not None]
    assert any(n.startswith("node/node05/gdr/r2") for n in failed) and "gdr_per_rail" in failed


def test_same_data_same_report_but_the_time(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    write_reports(build, ["html", "md"], build / "r1")
    write_reports(build, ["html", "md"], build / "r2")
    for f in ("report.html", "report.md"):
        assert (build / "r1" / f).read_bytes() == (build / "r2" / f).read_bytes()
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    write_reports(build, ["html"], build / "r3")
    a = (build / "r1" / "report.html").read_text().splitlines()
    b = (build / "r3" / "report.html").read_text().splitlines()
    diff = [x for x, y in zip(a, b, strict=True) if x != y]
    assert all(x.startswith("<footer>") and "generated" in x for x in diff)


def test_plan_report_and_errors(build: Path, tmp_path: Path) -> None:
    done = write_reports(build, ["html", "md"], None, plan_only=True)
    html = (build / "report" / "plan.html").read_text()
    assert done["verdict"] == "plan" and "Bill of materials" in html and "Verdict" not in html
    assert "nvidia_peermem" not in html  # the plan report shows the plan only
    r = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "neither a run directory" in r.stderr
    r = CliRunner().invoke(app, ["report", str(build), "--format", "html,pdf"])
    assert r.exit_code == 2 and "unknown pdf" in r.stderr
    r = CliRunner().invoke(app, ["report", str(build), "-o", "json", "--format", "junit"])
    assert r.exit_code == 0 and json.loads(r.stdout)["files"][0].endswith("junit.xml")


def test_scheduler_actions_are_in_every_format(tmp_path: Path) -> None:
    """aictl drain/undrain write actions.jsonl; the report lists them and who is held."""
    from aictl.sched.actions import Action, ActionLog
    from aictl.sched.model import ActionKind

    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    out = tmp_path / "build" / "lab-small"
    write_plan(topo, out, picture=False)
    log = ActionLog(out)
    for kind, node in [
        (ActionKind.drain, "node03"),
        (ActionKind.drain, "node05"),
        (ActionKind.undrain, "node05"),
    ]:
        reason = f"aictl: xid: Xid 79 on GPU 3 ({node})"
        log.add(Action("2026-12-02T03:00:00Z", kind, node, "slurm", reason, "aictl check --drain"))
    data = write_reports(out, ["html", "md", "json"], None)
    rep = Path(data["out"])
    md = (rep / "report.md").read_text()
    assert "## Scheduler actions" in md
    assert "Drained by aictl now: node03 (aictl: xid: Xid 79 on GPU 3 (node03))." in md
    assert "| 2026-12-02T03:00:00Z | undrain | node05 | slurm |" in md
    html = (rep / "report.html").read_text()
    assert "<h2>Scheduler actions</h2>" in html and "Drained by aictl now: node03" in html
    doc = json.loads((rep / "report.json").read_text())
    assert doc["scheduler"]["drained"] == {"node03": "aictl: xid: Xid 79 on GPU 3 (node03)"}
    assert [a["action"] for a in doc["scheduler"]["actions"]] == ["drain", "drain", "undrain"]
