#!/usr/bin/env bash
# The main job on the built-in defaults: plan and render the seed's a800-200 cluster into
# build/a800-200/, then rehearse on the lab twin (lab-small): bring it up, provision it with
# the playbooks, verify its fabric and run preflight (and find two injected faults), run a
# GPUDirect perftest pair and a 2-node NCCL all_reduce over the simulated
# fabric, show a fault, and take the lab down again. Needs root (the lab uses namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
A=.venv/bin/aictl
echo "== plan the seed cluster (a800-200)"
$A topo plan --preset a800-200 "$@"
$A topo draw --preset a800-200 --format png
echo "== render and validate every config"
$A render --preset a800-200 --validate
echo "== the lab: lab-small"
trap '$A lab down --cluster lab-small >/dev/null 2>&1 || true' EXIT
$A lab down --cluster lab-small >/dev/null 2>&1 || true
$A lab up --preset lab-small
SSH=(ssh -F build/lab-small/lab/ssh_config -o BatchMode=yes)
echo "== reach every node (SSH fan-out, identical outputs grouped)"
$A exec 'nvidia-smi -L | wc -l' --preset lab-small
echo "== provision the nodes with Ansible (network, MOFED, driver, GPUDirect, acceptance tools)"
$A provision --preset lab-small
echo "== verify the fabric against the plan (ibnetdiscover, forwarding tables, opensm, LLDP)"
$A topo verify --preset lab-small --live node01 --lldp
echo "== preflight every node"
$A check --preset lab-small
echo "== swap two cables and stop peermem on node03: both are found and named"
$A lab inject swap-cables --host node02 --rail 1 --with-host node03
$A lab inject peermem-missing --host node03
$A topo verify --preset lab-small --live node01 || echo "(exit $? as expected: the swap)"
$A check --preset lab-small || echo "(exit $? as expected: node03)"
$A lab clear
echo "== GPUDirect ib_write_bw node05 <- node01, rail 1 (simulated HCAs)"
"${SSH[@]}" node05 'ib_write_bw -d mlx5_1 -F --report_gbits --use_cuda=2 -s 8388608' >/dev/null &
sleep 0.5
"${SSH[@]}" node01 'ib_write_bw -d mlx5_1 -F --report_gbits --use_cuda=2 -s 8388608 node05' | tail -3
wait
MPI='mpirun --allow-run-as-root --mca btl_tcp_if_include bond0 --mca oob_tcp_if_include bond0'
echo "== NCCL all_reduce, 2 nodes x 8 GPUs, launched by mpirun"
"${SSH[@]}" node01 "$MPI -np 16 -H node01:8,node05:8 all_reduce_perf -b 64M -e 1G -f 4 -g 1" | tail -8
echo "== inject a slow NIC (node05 rail 2 at half speed) and run it again"
$A lab inject slow-nic --host node05 --rail 2 --factor 0.5
"${SSH[@]}" node01 "$MPI -np 16 -H node01:8,node05:8 all_reduce_perf -b 1G -e 1G -g 1" | grep -E '^ +1073741824'
$A lab status
$A lab down
trap - EXIT
echo "done: plan and configs in build/a800-200/, the lab is down"
