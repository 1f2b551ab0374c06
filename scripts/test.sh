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
# Browser tests drive Debian's Chromium (never a downloaded one), and the alert rules are checked by
# promtool (Debian's prometheus package); without them those tests skip.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v promtool >/dev/null || missing+=(prometheus)
if ((${#missing[@]})); then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
    || echo "== not installable: ${missing[*]} (tests/browser or the promtool checks will skip)"
fi
echo "== pytest"; "$BIN/python" -m pytest -p no:cacheprovider "$@"
