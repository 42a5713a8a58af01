"""TEST DOUBLES of the scheduler clients aictl calls (sinfo, scontrol, kubectl): executables
on PATH that keep the cluster's state in a JSON file and record every call, so the backends
are tested through the same subprocess seam production uses. They answer in the clients'
own formats and refuse what the real ones refuse (an unknown node, a drain without a reason,
a taint value outside the label-value grammar). The real slurmctld proves the Slurm side in
the lab (tests/integration); no Kubernetes runs here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

_SLURM = r"""
import json, os, sys
state_file = os.environ["AICTL_DOUBLE_STATE"]
st = json.load(open(state_file))
open(os.environ["AICTL_DOUBLE_LOG"], "a").write(json.dumps(sys.argv) + "\n")
tool = os.path.basename(sys.argv[0])
args = sys.argv[1:]
nodes = st["nodes"]
if tool == "sinfo":
    want = None
    if "-n" in args:
        want = args[args.index("-n") + 1].split(",")
    for n, s in nodes.items():
        if want is None or n in want:
            for _ in range(s.get("partitions", 1)):
                print(f"{n}|{s['state']}|{s['reason'] or 'none'}")
    sys.exit(0)
if tool == "scontrol" and args[:1] == ["update"]:
    kv = dict(a.split("=", 1) for a in args[1:])
    n = kv.get("NodeName")
    if n not in nodes:
        print("slurm_update error: Invalid node name specified", file=sys.stderr)
        sys.exit(1)
    want = kv.get("State", "").upper()
    if want == "DRAIN":
        if not kv.get("Reason"):
            print("You must specify a reason when DOWNING or DRAINING a node. Request denied",
                  file=sys.stderr)
            sys.exit(1)
        nodes[n]["state"], nodes[n]["reason"] = "drained", kv["Reason"]
    elif want == "RESUME":
        if "drain" not in nodes[n]["state"]:
            print(f"slurm_update error: Invalid node state specified", file=sys.stderr)
            sys.exit(1)
        nodes[n]["state"], nodes[n]["reason"] = "idle", ""
    json.dump(st, open(state_file, "w"))
    sys.exit(0)
print(f"{tool}: unsupported by the test double: {args}", file=sys.stderr)
sys.exit(2)
"""

_KUBECTL = r"""
import json, os, re, sys
state_file = os.environ["AICTL_DOUBLE_STATE"]
st = json.load(open(state_file))
open(os.environ["AICTL_DOUBLE_LOG"], "a").write(json.dumps(sys.argv) + "\n")
args = sys.argv[1:]
nodes = st["nodes"]
VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")
def obj(n):
    s = nodes[n]
    o = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "annotations": s["ann"]},
         "spec": {"taints": s["taints"]}}
    if s["unschedulable"]:
        o["spec"]["unschedulable"] = True
    return o
def need(n):
    if n not in nodes:
        print(f'Error from server (NotFound): nodes "{n}" not found', file=sys.stderr)
        sys.exit(1)
verb = args[0]
if verb == "get":
    names = [a for a in args[2:] if not a.startswith("-") and a != "json"]
    for n in names:
        need(n)
    if len(names) == 1:
        print(json.dumps(obj(names[0])))
    else:
        print(json.dumps({"apiVersion": "v1", "kind": "List",
                          "items": [obj(n) for n in (names or nodes)]}))
    sys.exit(0)
n = args[2] if verb in ("taint", "annotate") else args[1]
need(n)
s = nodes[n]
if verb in ("cordon", "uncordon"):
    s["unschedulable"] = verb == "cordon"
elif verb == "taint":
    spec = args[3]
    if spec.endswith("-"):
        key = spec[:-1].split(":")[0]
        if not any(t["key"] == key for t in s["taints"]):
            print(f'error: taint "{key}" not found', file=sys.stderr)
            sys.exit(1)
        s["taints"] = [t for t in s["taints"] if t["key"] != key]
    else:
        kv, effect = spec.rsplit(":", 1)
        key, value = kv.split("=", 1)
        if not VALUE.fullmatch(value) or effect not in ("NoSchedule", "PreferNoSchedule",
                                                         "NoExecute"):
            print(f'error: invalid taint spec: {spec}', file=sys.stderr)
            sys.exit(1)
        s["taints"] = [t for t in s["taints"] if t["key"] != key]
        s["taints"].append({"key": key, "value": value, "effect": effect})
elif verb == "annotate":
    spec = args[3]
    if spec.endswith("-"):
        s["ann"].pop(spec[:-1], None)
    else:
        k, v = spec.split("=", 1)
        s["ann"][k] = v
json.dump(st, open(state_file, "w"))
"""


class Doubles:
    """The doubles' bin directory, state and call log under `tmp`."""

    def __init__(self, tmp: Path, nodes: list[str]) -> None:
        self.bin = tmp / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.state = tmp / "sched-state.json"
        self.log = tmp / "sched-calls.jsonl"
        self.log.write_text("")
        self.state.write_text(
            json.dumps(
                {
                    "nodes": {
                        n: {
                            "state": "idle",
                            "reason": "",
                            "unschedulable": False,
                            "taints": [],
                            "ann": {},
                        }
                        for n in nodes
                    }
                }
            )
        )
        for name, code in (("sinfo", _SLURM), ("scontrol", _SLURM), ("kubectl", _KUBECTL)):
            p = self.bin / name
            p.write_text(f"#!{sys.executable}\n# TEST DOUBLE (aictl tests)\n{code}")
            p.chmod(0o755)

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "AICTL_DOUBLE_STATE": str(self.state),
            "AICTL_DOUBLE_LOG": str(self.log),
        }

    def nodes(self) -> dict[str, dict[str, object]]:
        data: dict[str, dict[str, object]] = json.loads(self.state.read_text())["nodes"]
        return data

    def set(self, node: str, **fields: object) -> None:
        data = json.loads(self.state.read_text())
        data["nodes"][node].update(fields)
        self.state.write_text(json.dumps(data))

    def calls(self) -> list[list[str]]:
        out = [json.loads(ln) for ln in self.log.read_text().splitlines()]
        return [[os.path.basename(a[0]), *a[1:]] for a in out]
