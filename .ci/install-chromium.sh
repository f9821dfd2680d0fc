#!/usr/bin/env bash
# Installs Debian's Chromium for the report.html rendering test (tests/MmTrace.Tests/Reports/ChromiumRenderTests.cs),
# which is skipped, with a message, when /usr/bin/chromium is absent. Needs root (CI containers run as root).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  /usr/bin/chromium --version
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
