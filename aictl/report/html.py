"""The HTML report: one self-contained file (inline CSS and SVG, no script, no request to any
network), readable on a laptop and printable to PDF."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from aictl.natsort import natural_key
from aictl.report import charts
from aictl.report.text import SPANS, domain_table, group_table, vendor_table
from aictl.report.text import values as _fmt

if TYPE_CHECKING:
    from aictl.topology.model import Topology

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px auto;max-width:1180px;color:#1d3557}
h1{margin:0 0 4px}h2{border-bottom:2px solid #e9ecef;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #dee2e6;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f1f3f5}td.num{text-align:right}
.pass,.ok{color:#1b7f3a;font-weight:bold}.fail,.FAIL{color:#c1121f;font-weight:bold}
.warn,.incomplete{color:#b5838d;font-weight:bold}.skip,.none{color:#888}
.badge{display:inline-block;padding:4px 14px;border-radius:4px;color:#fff;font-weight:bold}
.badge.pass{background:#1b7f3a}.badge.fail{background:#c1121f}.badge.incomplete{background:#e09f3e}
.badge.plan{background:#457b9d}
.sim{background:#fff3cd;border:1px solid #e0c36a;padding:6px 10px;margin:10px 0}
.suspect{background:#fde2e4;border-left:4px solid #c1121f;padding:6px 10px;margin:6px 0}
.fix{color:#495057;font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px}
.pic svg{max-width:100%;height:auto}footer{margin-top:30px;color:#868e96;font-size:11px}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}
.charts svg,table{page-break-inside:avoid}}
"""


def _table(head: list[str], rows: list[list[Any]], *, raw: bool = False) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = []
    for r in rows:
        cells = []
        for v in r:
            if raw and isinstance(v, str) and v.startswith("<"):
                cells.append(f"<td>{v}</td>")
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(f'<td class="num">{v:g}</td>')
            else:
                cells.append(f"<td>{escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(status: str) -> str:
    word = {
        "ok": "ok",
        "pass": "pass",
        "fail": "FAIL",
        "warn": "warn",
        "skip": "-",
        "none": "-",
    }.get(status, status)
    return f'<span class="{escape(status)}">{escape(word)}</span>'


def _node_matrix(doc: dict[str, Any]) -> str:
    check = doc.get("preflight") or {}
    acc = doc.get("acceptance") or {}
    checks = check.get("checks", [])
    nodes = sorted(set(check.get("matrix", {})) | set(acc.get("hosts", [])), key=natural_key)
    floors = acc.get("gdr_floor") or {}
    rows = []
    for n in nodes:
        floor = floors.get(n)
        row: list[Any] = [n]
        row += [_cell(check["matrix"].get(n, {}).get(c, "none")) for c in checks]
        if acc:
            cells = acc["gdr_matrix"].get(n, {})
            vals = [c.get("gdr_gbps") for c in cells.values()]
            ports = [c["port_status"] for c in cells.values() if "port_status" in c]
            if ports:  # NPU ports: hccn_tool's link and health, no perftest
                row.append(_cell("ok" if all(p == "ok" for p in ports) else "fail"))
            elif not cells:
                row.append(_cell("none"))
            elif any(v is None for v in vals) or (floor and min(vals) < floor):
                row.append(_cell("fail"))
            else:
                row.append(_cell("ok"))
            nn = acc["node_nccl"].get(n)
            row.append(_cell("none" if nn is None else ("ok" if nn["status"] == "ok" else "fail")))
        rows.append(row)
    head = ["node", *checks] + (["GPUDirect / ports", "collective"] if acc else [])
    return _table(head, rows, raw=True)


def _highlight(topo: Topology, doc: dict[str, Any]) -> frozenset[str]:
    su_w = max(2, len(str(topo.shape.sus)))
    by = {n.name: n for n in topo.nodes}
    out: set[str] = set()
    suspects = (doc.get("acceptance") or {}).get("suspects", [])
    for name in doc["flagged_nodes"]:
        n = by.get(name)
        if n is None:
            continue
        out |= {name, f"su{n.su:0{su_w}d}"}
        rails = {s.get("rail") for s in suspects if s.get("node") == name}
        for r in rails:
            if r is not None and r < len(n.leaf_ports):
                out.add(n.leaf_ports[r][0])
    for s in doc["flagged_links"]:
        out |= {p.strip() for p in s["link"].split("<->")}
    for f in ((doc.get("verify") or {}).get("cabling") or {}).get("findings", []):
        out |= {w.split(" port ")[0].strip() for w in f["where"].split("/")}
    return frozenset(out)


def render_html(topo: Topology, doc: dict[str, Any], *, generated: str, version: str) -> str:
    """The report document as one HTML file."""
    from aictl.topology.exports import svg

    acc = doc.get("acceptance")
    plan = doc["plan"]
    s = plan["summary"]
    verdict = acc["verdict"] if acc else "plan"
    title = f"{doc['cluster']}: " + (f"acceptance {verdict}" if acc else "plan report")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(doc['cluster'])}</h1>",
        f'<p><span class="badge {escape(verdict)}">{escape(verdict.upper())}</span> '
        + (
            f"run {escape(acc['run_id'])}, suite {escape(acc['suite'])}, "
            f"launcher {escape(acc['launcher'])}"
            if acc
            else "the plan, before bring-up"
        )
        + "</p>",
    ]
    if doc["simulated"]:
        parts.append(
            '<div class="sim"><b>Simulated.</b> These results come from the aictl lab: GPUs, '
            "HCAs and their benchmarks are simulated from a fabric model; the cabling and routing "
            "are a real opensm on an ibsim twin. They rehearse the procedure; they do not sign "
            "off hardware.</div>"
        )
    if acc:
        parts.append("<h2>Verdict and criteria</h2>")
        rows = [
            [
                c["name"],
                _cell({"ok": "pass", "fail": "fail", "skip": "none"}[c["status"]]),
                c["what"] + (f" ({c['note']})" if c.get("note") else ""),
                _fmt(c["measured"]),
                _fmt(c["expected"]),
            ]
            for c in acc["criteria"]
        ]
        parts.append(
            _table(["criterion", "result", "what", "measured", "expected"], rows, raw=True)
        )
        if acc.get("domains"):
            parts.append(f"<h3>Collective domains</h3><p>{escape(SPANS)}</p>")
            parts.append(_table(*domain_table(acc["domains"])))
        if acc["suspects"]:
            parts.append("<h3>Named</h3>")
            for sp in acc["suspects"]:
                where = sp.get("node") or sp.get("link")
                rail = f" rail {sp['rail']}" if sp.get("rail") is not None else ""
                ev = "".join(
                    f'<div class="fix">also: {escape(e)}</div>' for e in sp.get("evidence", [])
                )
                parts.append(
                    f'<div class="suspect"><b>{escape(str(where))}{rail}</b>: '
                    f"{escape(sp['reason'])}{ev}</div>"
                )
        else:
            parts.append("<p>Nothing named: every node, rail and link met its criteria.</p>")
    parts.append("<h2>Cluster</h2>")
    fabrics = s.get("fabrics") or [s]
    parts.append(
        _table(
            ["fabric"] * bool(s.get("fabrics"))
            + [
                "nodes",
                "GPUs",
                "rails",
                "link",
                "transport",
                "SUs",
                "tiers",
                "leaves",
                "spines",
                "cores",
                "bisection",
            ],
            [
                [f["name"]] * bool(s.get("fabrics"))
                + [
                    f["nodes"],
                    f["gpus"],
                    f["rails"],
                    f"{f['link_gbps']} Gb/s",
                    f["transport"],
                    f["sus"],
                    f["tiers"],
                    f["switches"]["leaf"],
                    f["switches"]["spine"],
                    f["switches"]["core"],
                    f"{f['bisection_gbps'] / 1000:g} Tb/s",
                ]
                for f in fabrics
            ],
        )
    )
    groups = doc.get("groups") or []
    if groups:
        parts.append("<h3>Node groups</h3>")
        parts.append(_table(*group_table(groups)))
    vendors = doc.get("vendors") or []
    if len(vendors) > 1:
        parts.append("<h3>Vendors</h3>")
        parts.append(_table(*vendor_table(vendors)))
    if plan["bom"]:
        keys = list(plan["bom"][0])
        parts.append(
            "<h3>Bill of materials</h3>" + _table(keys, [[r[k] for k in keys] for r in plan["bom"]])
        )
    level = svg.default_level(topo)
    parts.append(
        '<h2>Topology</h2><div class="pic">'
        + svg.render(topo, level=level, highlight=_highlight(topo, doc))
        + "</div>"
    )
    parts.append(
        '<p class="fix">Outlined in red: nodes, leaves and links named by the checks below.</p>'
    )
    if doc.get("preflight") or acc:
        parts.append("<h2>Nodes</h2>" + _node_matrix(doc))
    if acc:
        exp = acc["expectations"]
        parts.append('<h2>Collectives: busbw against size</h2><div class="charts">')
        for c, cv in sorted(acc["curves"].items()):
            peak = cv.get("peak")
            parts.append(
                charts.line_chart(
                    f"{c}, {cv['nodes']} nodes",
                    {c: [(int(x), float(y)) for x, y in cv["points"]]},
                    floor=cv.get("min"),
                    peak=peak,
                )
            )
        parts.append("</div>")
        rails = sorted({k for cells in acc["heatmap"].values() for k in cells}, key=natural_key)
        nodes = sorted(acc["heatmap"], key=natural_key)
        parts.append("<h2>Pairwise GPUDirect, rail by node</h2>")
        parts.append(
            charts.heatmap(
                "lowest pairwise ib_write_bw (Gb/s)",
                nodes,
                rails,
                acc["heatmap"],
                float(min((acc.get("gdr_floor") or {"": 1}).values()) or 1),
                "Gb/s",
            )
        )
        parts.append("<h2>GPU and NIC: GPUDirect per rail</h2>")
        head = ["node"] + [f"rail {r}" for r in range(int(exp.get("rails", 0)))]
        rows = []
        for n in sorted(acc["gdr_matrix"], key=natural_key):
            row: list[Any] = [n]
            for r in range(int(exp.get("rails", 0))):
                c = acc["gdr_matrix"][n].get(str(r), {})
                if "port_status" in c:
                    ok = c["port_status"] == "ok"
                    word = "port up" if ok else "port DOWN"
                    row.append(f'<span class="{"ok" if ok else "fail"}">NPU{r}: {word}</span>')
                    continue
                if not c:
                    row.append("-")
                    continue
                g, hv = c.get("gdr_gbps"), c.get("host_gbps")
                gdr = "failed" if g is None else f"{g:.1f}"
                host = "-" if hv is None else f"{hv:.1f}"
                floor = float((acc.get("gdr_floor") or {}).get(n) or 0)
                cls = "fail" if g is None or g < floor else "ok"
                row.append(
                    f'<span class="{cls}">GPU{c.get("gpu", "?")}: {gdr}</span> '
                    f'<span class="fix">(host {host})</span>'
                )
            rows.append(row)
        parts.append(_table(head, rows, raw=True))
        parts.append(
            '<p class="fix">GPU chosen per NIC from <code>nvidia-smi topo -m</code> (nearest PCIe '
            "distance; the spec's pairing on AMD nodes); Gb/s with GPUDirect, host memory in "
            "brackets. Ascend NPUs carry their own ports: hccn_tool's link and health, no "
            "perftest.</p>"
        )
    ver = doc.get("verify")
    if ver:
        parts.append("<h2>Fabric verification</h2>")
        c = ver["cabling"]
        parts.append(
            f"<p>{c['discovered_links']}/{c['planned_cables']} cables, "
            f"{c['discovered_devices']}/{c['planned_devices']} devices"
            + (
                f"; routing engine {escape(str(ver['routing']['engine']))}, leaf uplink flows "
                f"max {ver['routing']['uplink_flows_max']} / mean "
                f"{ver['routing']['uplink_flows_mean']}"
                if ver.get("routing")
                else ""
            )
            + "</p>"
        )
        findings = [
            f
            for part in ("cabling", "routing", "lldp", "counters", "bgp")
            for f in (ver.get(part) or {}).get("findings", [])
        ]
        parts.append(
            _table(
                ["kind", "where", "what", "fix"],
                [[f["kind"], f["where"], f["message"], f["fix"]] for f in findings],
            )
            if findings
            else "<p>The fabric is exactly the plan.</p>"
        )
    pre = doc.get("preflight")
    if pre:
        parts.append("<h2>Preflight findings</h2>")
        rows = [
            [n, f["check"], f["message"], f["fix"]]
            for n, fs in pre.get("failing", {}).items()
            for f in fs
        ]
        parts.append(
            _table(["node", "check", "what", "fix"], rows)
            if rows
            else "<p>Every node passed every check.</p>"
        )
    sched = doc.get("scheduler")
    if sched:
        from aictl.report.text import ACTION_HEAD, action_rows

        parts.append("<h2>Scheduler actions</h2>")
        if sched["drained"]:
            held = ", ".join(f"{n} ({r})" for n, r in sched["drained"].items())
            parts.append(f"<p>Drained by aictl now: {escape(held)}.</p>")
        parts.append(_table(ACTION_HEAD, action_rows(sched)))
    parts.append("<h2>Software seen</h2>")
    parts.append(
        _table(
            ["component", "versions"],
            [[k, ", ".join(v) or "-"] for k, v in doc["versions"].items()],
        )
    )
    parts.append("<h2>Cabling (first rows)</h2>")
    ex = plan["cabling_excerpt"]
    if ex:
        keys = list(ex[0])
        parts.append(_table(keys, [[r[k] for k in keys] for r in ex]))
        parts.append(f'<p class="fix">{plan["cables"]} cables in all: exports/cabling.csv.</p>')
    parts.append(
        f"<footer>aictl {escape(version)} · spec sha256 {escape(doc['spec_sha256'][:16])} · "
        f"generated {escape(generated)}</footer>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
