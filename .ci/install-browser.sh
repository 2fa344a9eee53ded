#!/usr/bin/env bash
# Headless Chromium for the Web UI browser tests. `npm test` provisions it itself (scripts/chromium.js: a path from
# SETTLE_CHROMIUM_PATH / CHROME_PATH, an installed one, or Debian's `chromium` via apt-get as root or with sudo -n);
# this wrapper only does it ahead of time.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== chromium: $(node scripts/chromium.js)"
