#!/usr/bin/env bash
# Benchmarks (figures, not pass/fail tests): planner speed and memory, CLI start-up,
# slow-node localization on the fabric model (rounds and modelled wall time vs bisection),
# and parser throughput (MB/s per fact, a 100 MB nccl-tests soak log).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$(id -u)" = 0 ]; then
  # as root the 64-node lab runs too: lab bring-up, exec against pdsh and Ansible
  if ! command -v pdsh >/dev/null; then
    apt-get install -y -qq pdsh >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq pdsh >/dev/null; }
  fi
  .venv/bin/python tests/bench/bench_plan.py --lab "$@"
else
  .venv/bin/python tests/bench/bench_plan.py "$@"
fi
.venv/bin/python tests/bench/bench_localize.py "$@"
.venv/bin/python tests/bench/bench_parsers.py "$@"
if [ "$(id -u)" = 0 ]; then
  .venv/bin/python tests/bench/bench_check.py "$@"
else
  echo "bench_check and the 64-node lab: skipped (the lab needs root)"
fi
