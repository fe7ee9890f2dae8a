#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright (never a browser download), render Chinese
# with Noto CJK, and check pages with axe-core from the npm registry. Install what is missing when we
# can (root with apt; npm); otherwise say so: those tests then skip with that reason, except under
# CI=true, where they fail.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=""
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  [ -d /usr/share/fonts/opentype/noto ] || missing="$missing fonts-noto-cjk"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
  if [ -n "$missing" ]; then
    echo "installing Debian's$missing for the browser tests…"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null 2>&1 \
      || echo "could not install$missing with apt-get; browser tests will not run"
  fi
elif ! command -v chromium >/dev/null 2>&1; then
  echo "chromium is not installed (Debian: apt-get install chromium fonts-noto-cjk); browser tests will skip"
fi
axe=.venv/node/node_modules/axe-core/axe.min.js
if [ ! -f "$axe" ]; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p .venv/node
    (cd .venv/node && npm install --silent --no-audit --no-fund --no-save axe-core@4 >/dev/null 2>&1) \
      || echo "could not install axe-core with npm; accessibility tests will not run"
  else
    echo "npm is not installed; accessibility tests will skip"
  fi
fi
exit 0
