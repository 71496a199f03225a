#!/usr/bin/env bash
# The e2e tests drive Debian's Chromium (Playwright's own browser download cannot reach its
# servers from here). Installs it when it is missing and we may (root, with apt); otherwise
# says how. CHROMIUM_PATH points the tests at another Chromium.
set -euo pipefail
browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$browser" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "e2e: $browser is missing; installing Debian's chromium (a minute or two)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  echo "e2e: installed $("$browser" --version)"
  exit 0
fi
echo "e2e: no Chromium at $browser. Install Debian's 'chromium' package (sudo apt-get install chromium)," >&2
echo "     or set CHROMIUM_PATH to a Chromium binary." >&2
exit 1
