#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright (never a browser download).
# Install it when we can (root with apt); otherwise say so: the browser tests then skip
# with that reason, except under CI=true, where they fail.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "could not install chromium with apt-get; browser tests will not run"
else
  echo "chromium is not installed (Debian: apt-get install chromium); browser tests will skip"
fi
exit 0
