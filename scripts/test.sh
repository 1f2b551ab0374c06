#!/usr/bin/env bash
# The whole test suite: lint, types, then unit, contract, integration and
# end-to-end tests. Starts what the tests need (a private redis-server when none
# answers on 127.0.0.1:6379) and stops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# shellcheck source=scripts/redis-for-tests.sh
source scripts/redis-for-tests.sh

echo "== ruff"; "$BIN/ruff" check . && "$BIN/ruff" format --check .
echo "== mypy"; "$BIN/mypy" .
# Browser tests drive Debian's Chromium (never a downloaded one); without it they skip.
command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
  || echo "== chromium not installable: tests/browser will skip"
echo "== pytest"; "$BIN/python" -m pytest -p no:cacheprovider "$@"
