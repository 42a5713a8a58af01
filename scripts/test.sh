#!/usr/bin/env bash
# The test command: install what is needed, then ruff, mypy and the full pytest suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k sizing, or --update-golden).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check aictl tests
.venv/bin/ruff format --check aictl tests
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# the real tools were installed by setup.sh: a missing one is a failure, not a skip
export AICTL_REQUIRE_TOOLS=1
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
