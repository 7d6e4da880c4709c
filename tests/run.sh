#!/usr/bin/env bash
# Installs everything the test suite needs into ./.venv (and Chromium when run as root on
# Debian), then runs the whole suite: Python tests, then the front-end unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e '.[test]'

if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
for pkg in tests/chain; do
  # npm ci: the lockfile lists every platform's optional anvil binary, so it is used as is
  # and never rewritten (a clone stays clean).
  if [ -f "$pkg/package.json" ]; then npm ci --prefix "$pkg" --no-audit --no-fund --silent; fi
done

status=0
python -m pytest -q "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "tests/run.sh: pytest collected no tests" >&2
  status=1
fi
if [ "$status" = 0 ] && [ -f package.json ]; then
  # npm ci: exactly the committed lockfile (complete for every platform), never rewritten
  [ -d node_modules ] || npm ci --no-audit --no-fund --silent
  npm test --silent
fi
exit "$status"
