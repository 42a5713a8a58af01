#!/usr/bin/env bash
# The main job, on the built-in defaults: the whole bring-up on the lab twin.
# Installs what it needs, plans and renders the seed cluster (a800-200), then on the lab
# (lab-small: 8 simulated A800 nodes, real sshd, ibsim + opensm fabric): plans, renders,
# provisions over SSH with Ansible, verifies the fabric, runs preflight, injects a day-2 node
# fault (an Xid) and a fabric-counter fault (symbol errors on a cable) and names both with
# their fixes, drains the faulty node in the lab's real Slurm (sinfo -R), injects one slow NIC,
# runs the quick acceptance suite (which must name that NIC), writes the reports, prints a
# summary, returns the repaired node to Slurm and takes the lab down. Needs root (the lab uses namespaces). About 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=setup
T0=$(date +%s)
fail() { echo "demo: FAILED in stage '$STAGE' after $(( $(date +%s) - T0 )) s: $*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || echo "demo: FAILED in stage '"'"'$STAGE'"'"' (exit $rc); see the output above" >&2' EXIT
stage() { STAGE=$1; echo; echo "== [$(( $(date +%s) - T0 ))s] $1"; }

stage "install (apt packages, .venv)"
bash scripts/setup.sh
A=.venv/bin/aictl
LAB=lab-small

stage "plan and render the seed cluster (a800-200: 200 x 8 A800, 4 HDR rails)"
$A topo plan --preset a800-200 --report >/dev/null
$A render --preset a800-200 --validate | tail -3
echo "plan, cabling, BOM, configs and the plan report in build/a800-200/"

stage "bring up the lab twin ($LAB)"
trap 'rc=$?; $A lab down --cluster '"$LAB"' >/dev/null 2>&1 || true; [ $rc -eq 0 ] || echo "demo: FAILED in stage '"'"'$STAGE'"'"' (exit $rc); see the output above" >&2' EXIT
$A lab down --cluster $LAB >/dev/null 2>&1 || true
$A lab up --preset $LAB

stage "plan and render $LAB"
$A topo plan --preset $LAB --report | tail -1
$A render --preset $LAB --validate | tail -2

stage "provision the nodes over SSH with Ansible (network, MOFED, driver, GPUDirect, tools)"
$A provision --preset $LAB --target lab | tail -12

stage "verify the fabric against the plan (ibnetdiscover, forwarding tables, opensm, LLDP)"
$A topo verify --preset $LAB --target lab --live node01 --lldp

stage "preflight every node"
$A check --preset $LAB --target lab

stage "day 2: an Xid on node03's GPU 2 and symbol errors on node02's rail-1 cable"
$A lab inject xid --host node03 --gpu 2
$A lab inject link-errors --host node02 --rail 1
set +e
$A check --preset $LAB --target lab
rc=$?
set -e
[ "$rc" -eq 10 ] || fail "expected exit 10 (the injected Xid), got $rc"

stage "day 2: drain the faulty node in the lab's Slurm (the reason is the failing check)"
set +e
$A check --preset $LAB --target lab --drain >/dev/null
rc=$?
set -e
[ "$rc" -eq 10 ] || fail "expected exit 10 (the injected Xid), got $rc"
SLURM_CONF=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["slurm"]["conf"])' build/$LAB/targets/lab.json)
SLURM_CONF=$SLURM_CONF sinfo -R
SLURM_CONF=$SLURM_CONF sinfo -R -h -N -o '%N|%E' | grep -q '^node03|aictl: xid' \
  || fail "sinfo -R does not show node03 drained for its Xid"
set +e
$A topo verify --preset $LAB --target lab --live node01 --counters
rc=$?
set -e
[ "$rc" -eq 4 ] || fail "expected exit 4 (the cable's port counters), got $rc"

stage "inject a fault: node05's rail-2 NIC at half speed"
$A lab inject slow-nic --host node05 --rail 2 --factor 0.5

stage "acceptance, quick suite (GPUDirect per rail, pairwise rounds, the whole cluster)"
set +e
$A accept run --preset $LAB --target lab --suite quick 2>&1 | grep -v '^\[[0-9]*/[0-9]*\] .* ok '
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 8 ] || fail "expected exit 8 (the injected slow NIC), got $rc"

stage "reports (HTML, Markdown, JSON, JUnit)"
$A report build/$LAB --format html,md,json,junit
REPORT=$(ls -d build/$LAB/runs/run-*/report | sort | tail -1)
grep -q "node05 rail 2" "$REPORT/report.md" || fail "the report does not name node05 rail 2"
grep -q "| node03 | xid |" "$REPORT/report.md" || fail "the report does not name node03's Xid"
grep -q "cable nl-00006" "$REPORT/report.md" || fail "the report does not name the cable"
grep -q "Drained by aictl now: node03" "$REPORT/report.md" \
  || fail "the report does not show node03 drained"

stage "repair and return: clear the faults, re-check node03, return it to Slurm"
$A lab clear --cluster $LAB >/dev/null
$A undrain node03 --preset $LAB --target lab
SLURM_CONF=$SLURM_CONF sinfo -R -h -N -o '%N|%E' | grep -q '^node03|' \
  && fail "node03 is still drained after it passed again"

stage "take the lab down"
$A lab down --cluster $LAB
trap - EXIT

echo
echo "== done in $(( $(date +%s) - T0 )) s"
echo "the seed: build/a800-200/ (plan, exports, artifacts, report/plan.html)"
.venv/bin/python - "build/$LAB" <<'PY'
import json, sys
v = json.load(open(f"{sys.argv[1]}/verify.json"))
c = json.load(open(f"{sys.argv[1]}/check.json"))
print(f"the lab run: {v['findings']} difference(s) between the fabric and the plan; "
      f"preflight {c['nodes'] - len(c['failing'])}/{c['nodes']} nodes pass")
for n, fs in c["failing"].items():
    for f in fs:
        print(f"  node fault: {n} {f['check']}: {f['message']}\n    fix: {f['fix']}")
for f in (v.get("counters") or {}).get("findings", []):
    print(f"  fabric fault: {f['kind']} {f['where']}\n    fix: {f['fix']}")
print("acceptance named:")
PY
grep '^- \*\*' "$REPORT/report.md" | sed 's/^/  /'
echo "report: $REPORT/report.html (also report.md, report.json, junit.xml)"
