#!/usr/bin/env bash
# Benchmarks (figures, not pass/fail tests): planner speed and memory, CLI start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python tests/bench/bench_plan.py "$@"
