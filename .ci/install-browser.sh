#!/usr/bin/env bash
# Headless Chromium for the Web UI browser test (test/e2e/web-ui.test.ts), from Debian's packages:
# playwright-core drives it at /usr/bin/chromium; Playwright's own browser download is never used.
set -euo pipefail
if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
  echo "== chromium: $(/usr/bin/chromium --version 2>/dev/null)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "== chromium: $(/usr/bin/chromium --version 2>/dev/null)"
