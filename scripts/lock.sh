#!/usr/bin/env bash
# Write requirements.lock: every Python package aictl and its tests install (the dev extras,
# and what building aictl in place needs), each at one exact version with the sha256 of its files,
# resolved from pyproject.toml by pip-tools' pip-compile. scripts/setup.sh installs exactly that.
#   bash scripts/lock.sh                         # follow pyproject.toml, keep the other pins
#   bash scripts/lock.sh --upgrade               # move every package to its newest release
#   bash scripts/lock.sh --upgrade-package rich  # move one
# Review the diff, then `bash scripts/test.sh` (it rebuilds .venv from the new lock).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"$PY" -m venv "$tools"
"$tools/bin/python" -m pip install -q "pip-tools==7.6.2"
"$tools/bin/pip-compile" --quiet --generate-hashes --strip-extras --extra dev --build-deps-for editable \
  --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
  --output-file requirements.lock "$@" pyproject.toml
