#!/usr/bin/env bash
# The main job on the built-in default: plan the seed's a800-200 cluster port by port,
# write every export into build/a800-200/, render and validate every config, print summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/aictl topo plan --preset a800-200 "$@"
.venv/bin/aictl topo draw --preset a800-200 --format png
.venv/bin/aictl render --preset a800-200 --validate
