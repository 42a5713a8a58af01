"""The Markdown report (for tickets) and JUnit XML (one test case per check and benchmark
unit, for CI systems)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aictl.natsort import natural_key


def _md_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return out


def values(d: dict[str, Any]) -> str:
    """`key value, ...` of a criterion's measured or expected numbers."""
    return ", ".join(
        f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
        for k, v in d.items()
        if v is not None and not isinstance(v, (list, dict))
    )


ACTION_HEAD = ["when", "action", "node", "scheduler", "reason", "command", "note"]


def action_rows(sched: dict[str, Any]) -> list[list[Any]]:
    """The actions log as table rows, oldest first (HTML and Markdown)."""
    return [
        [a["at"], a["action"], a["node"], a["scheduler"], a["reason"], a["command"], a["message"]]
        for a in sched["actions"]
    ]


Table = tuple[list[str], list[list[Any]]]
SPANS = (
    "No collective spans two domains (a fabric and a vendor each: NCCL, RCCL and HCCL do not "
    "talk to each other): each domain is judged on its own, and the cluster's verdict is the "
    "conjunction of theirs."
)


def group_table(groups: list[dict[str, Any]]) -> Table:
    """The node groups: vendor, accelerators, scale-up and rails of each."""
    head = ["group", "nodes", "hosts", "vendor", "accelerators", "scale-up GB/s", "fabric", "rails"]
    rows = [
        [
            g["name"],
            str(g["nodes"]),
            g["hosts"],
            g.get("vendor", "NVIDIA"),
            g["gpus"],
            _scale_up(g),
            g.get("fabric", "compute"),
            g["rails"],
        ]
        for g in groups
    ]
    return head, rows


def _scale_up(g: dict[str, Any]) -> str:
    gbytes = g.get("scale_up_gbytes", g.get("nvlink_gbytes"))
    label = g.get("scale_up", "NVLink")
    return f"{label} -" if gbytes is None else f"{label} {gbytes:g}"


def vendor_table(vendors: list[dict[str, Any]]) -> Table:
    """What each vendor's nodes are checked and accepted with."""
    head = ["vendor", "groups", "inventory", "collective", "benchmark", "rail probe", "k8s"]
    rows = [
        [
            v["vendor"],
            ", ".join(v["groups"]),
            v["inventory"],
            v["collective"],
            v["benchmark"],
            v["probe"],
            v["k8s_resource"],
        ]
        for v in vendors
    ]
    return head, rows


def domain_table(domains: list[dict[str, Any]]) -> Table:
    """Each collective domain's own verdict."""
    head = ["domain", "vendor", "groups", "nodes", "verdict", "failed", "named"]
    rows = [
        [
            d["name"],
            d["vendor"],
            ", ".join(d["groups"]),
            str(d["nodes"]),
            d["verdict"],
            ", ".join(d["failed"]) or "-",
            ", ".join(d["named"]) or "-",
        ]
        for d in domains
    ]
    return head, rows


def fabric_lines(s: dict[str, Any]) -> list[str]:
    """One sentence per compute fabric (one for a plan of one)."""
    parts = s.get("fabrics") or [s]
    return [
        (f"{f['name']} ({', '.join(f['groups'])}): " if "groups" in f else "")
        + f"{f['nodes']} nodes, {f['rails']} rails x {f['link_gbps']} Gb/s {f['transport']}, "
        f"{f['sus']} SUs, {f['tiers']} tiers ({f['switches']['leaf']} leaves, "
        f"{f['switches']['spine']} spines, {f['switches']['core']} cores)."
        for f in parts
    ]


def render_markdown(doc: dict[str, Any], *, generated: str) -> str:
    acc = doc.get("acceptance")
    s = doc["plan"]["summary"]
    out = [
        f"# {doc['cluster']}: "
        + (f"acceptance **{acc['verdict'].upper()}**" if acc else "plan report"),
        "",
    ]
    if doc["simulated"]:
        out += [
            "> **Simulated**: results from the aictl lab (simulated GPUs, HCAs and benchmarks; "
            "real opensm on an ibsim twin).",
            "",
        ]
    if s.get("fabrics"):
        out += [
            f"{s['nodes']} nodes, {s['gpus']} accelerators, {len(s['fabrics'])} compute fabrics:",
            "",
        ]
        out += [f"- {line}" for line in fabric_lines(s)]
        out.append("")
    else:
        out += [f"{s['nodes']} nodes, {s['gpus']} GPUs, " + fabric_lines(s)[0], ""]
    groups = doc.get("groups") or []
    if len(groups) > 1:
        out += ["## Node groups", ""]
        out += _md_table(*group_table(groups))
        out.append("")
    vendors = doc.get("vendors") or []
    if len(vendors) > 1:
        out += ["## Vendors", ""]
        out += _md_table(*vendor_table(vendors))
        out.append("")
    if acc:
        out += [
            f"Run {acc['run_id']} (suite {acc['suite']}, launcher {acc['launcher']}).",
            "",
            "## Criteria",
            "",
        ]
        mark = {"ok": "pass", "fail": "**FAIL**", "skip": "no verdict"}
        out += _md_table(
            ["criterion", "result", "measured", "expected"],
            [
                [
                    c["name"] + (f" ({c['note']})" if c.get("note") else ""),
                    mark[c["status"]],
                    values(c["measured"]),
                    values(c["expected"]),
                ]
                for c in acc["criteria"]
            ],
        )
        if acc.get("domains"):
            out += ["", "## Collective domains", "", SPANS, ""]
            out += _md_table(*domain_table(acc["domains"]))
        out += ["", "## Named", ""]
        if acc["suspects"]:
            for sp in acc["suspects"]:
                where = sp.get("node") or sp.get("link")
                rail = f" rail {sp['rail']}" if sp.get("rail") is not None else ""
                out.append(f"- **{where}{rail}**: {sp['reason']}")
        else:
            out.append("Nothing: every node, rail and link met its criteria.")
        out.append("")
    ver = doc.get("verify")
    if ver:
        findings = [
            f
            for part in ("cabling", "routing", "lldp", "counters", "bgp")
            for f in (ver.get(part) or {}).get("findings", [])
        ]
        out += ["## Fabric verification", ""]
        out += (
            _md_table(
                ["kind", "where", "what", "fix"],
                [[f["kind"], f["where"], f["message"], f["fix"]] for f in findings],
            )
            if findings
            else ["The fabric is exactly the plan."]
        )
        out.append("")
    pre = doc.get("preflight")
    if pre:
        rows = [
            [n, f["check"], f["message"], f["fix"]]
            for n, fs in pre.get("failing", {}).items()
            for f in fs
        ]
        out += [
            "## Preflight",
            "",
            f"{pre['nodes'] - len(pre.get('failing', {}))}/{pre['nodes']} nodes pass.",
            "",
        ]
        if rows:
            out += [*_md_table(["node", "check", "what", "fix"], rows), ""]
    sched = doc.get("scheduler")
    if sched:
        out += ["## Scheduler actions", ""]
        if sched["drained"]:
            held = ", ".join(f"{n} ({r})" for n, r in sched["drained"].items())
            out += [f"Drained by aictl now: {held}.", ""]
        out += [*_md_table(ACTION_HEAD, action_rows(sched)), ""]
    out += ["## Software seen", ""]
    out += _md_table(
        ["component", "versions"], [[k, ", ".join(v) or "-"] for k, v in doc["versions"].items()]
    )
    out += ["", "## Bill of materials", ""]
    if doc["plan"]["bom"]:
        keys = list(doc["plan"]["bom"][0])
        out += _md_table(keys, [[r[k] for k in keys] for r in doc["plan"]["bom"]])
    out += ["", f"_generated {generated} by aictl_", ""]
    return "\n".join(out)


def _case(
    classname: str,
    name: str,
    *,
    failure: str | None = None,
    skipped: str | None = None,
    time: float = 0.0,
) -> str:
    head = f'<testcase classname={quoteattr(classname)} name={quoteattr(name)} time="{time:.3f}"'
    if failure is not None:
        msg = quoteattr(failure[:500])
        return f"{head}><failure message={msg}>{escape(failure)}</failure></testcase>"
    if skipped is not None:
        return f"{head}><skipped message={quoteattr(skipped[:500])}/></testcase>"
    return f"{head}/>"


def _suite(name: str, cases: list[tuple[str, str]]) -> str:
    fails = sum(1 for c, _ in cases if c == "f")
    skips = sum(1 for c, _ in cases if c == "s")
    body = "\n".join(x for _, x in cases)
    return (
        f'<testsuite name={quoteattr(name)} tests="{len(cases)}" failures="{fails}" errors="0" '
        f'skipped="{skips}">\n{body}\n</testsuite>'
    )


def render_junit(doc: dict[str, Any]) -> str:
    suites = []
    cluster = doc["cluster"]
    pre = doc.get("preflight")
    if pre:
        cases = []
        results = pre.get("results", {})
        for node in sorted(results, key=natural_key):
            for r in results[node]:
                cls = f"{cluster}.preflight.{node}"
                if r["status"] == "fail":
                    cases.append(
                        ("f", _case(cls, r["check"], failure=f"{r['message']} (fix: {r['fix']})"))
                    )
                elif r["status"] == "skip":
                    cases.append(
                        ("s", _case(cls, r["check"], skipped=r["message"] or "not applicable"))
                    )
                else:
                    cases.append(("p", _case(cls, r["check"])))
        suites.append(_suite(f"{cluster}.preflight", cases))
    ver = doc.get("verify")
    if ver:
        cases = []
        for part in ("cabling", "routing", "lldp", "counters", "bgp"):
            if part not in ver:
                continue
            fs = ver[part]["findings"]
            cls = f"{cluster}.fabric.{part}"
            if not fs:
                cases.append(("p", _case(cls, f"{part} matches the plan")))
            for f in fs:
                cases.append(
                    (
                        "f",
                        _case(
                            cls,
                            f"{f['kind']} {f['where']}",
                            failure=f"{f['message']} (fix: {f['fix']})",
                        ),
                    )
                )
        suites.append(_suite(f"{cluster}.fabric", cases))
    acc = doc.get("acceptance")
    if acc:
        cases = []
        # a test that ran but missed its criterion fails its case too
        low = set(acc.get("low_pairs", []))
        for c in acc["criteria"]:
            low |= set(c.get("failing", []))
        for r in acc["results"]:
            cls = f"{cluster}.accept.{r['stage']}"
            val = "" if r["value"] is None else f" = {r['value']:.2f} {r['unit']}"
            name = f"{r['id']}{val}"
            if r["status"] in ("fail", "error"):
                f = r.get("failure") or {}
                cases.append(
                    (
                        "f",
                        _case(
                            cls, name, failure=f"{f.get('kind', 'failed')}: {f.get('message', '')}"
                        ),
                    )
                )
            elif r["id"] in low:
                cases.append(("f", _case(cls, name, failure="below its threshold or the fleet")))
            elif r["status"] == "skip":
                cases.append(
                    (
                        "s",
                        _case(
                            cls, name, skipped=(r.get("failure") or {}).get("message", "skipped")
                        ),
                    )
                )
            else:
                cases.append(("p", _case(cls, name)))
        for c in acc["criteria"]:
            cls = f"{cluster}.accept.criteria"
            if c["status"] == "fail":
                cases.append(
                    (
                        "f",
                        _case(
                            cls,
                            c["name"],
                            failure=f"measured {values(c['measured'])}; "
                            f"expected {values(c['expected'])}",
                        ),
                    )
                )
            elif c["status"] == "skip":
                cases.append(
                    (
                        "s",
                        _case(
                            cls, c["name"], skipped="no baseline for this SKU: measured, no verdict"
                        ),
                    )
                )
            else:
                cases.append(("p", _case(cls, c["name"])))
        for sp in acc["suspects"]:
            where = sp.get("node") or sp.get("link")
            cases.append(
                (
                    "f",
                    _case(
                        f"{cluster}.accept.suspects",
                        f"{where} rail {sp.get('rail', '-')}",
                        failure=sp["reason"],
                    ),
                )
            )
        suites.append(_suite(f"{cluster}.acceptance", cases))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name='
        + quoteattr(f"aictl {cluster}")
        + ">\n"
        + "\n".join(suites)
        + "\n</testsuites>\n"
    )
