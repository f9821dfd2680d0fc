#!/usr/bin/env bash
# Regenerates the screenshots of the first screen of report.html (1280×900, headless Chromium) for a kernel, a heap
# and an access recording: docs/img/report-{kbuild,perl-hash,stride}.png. Run it when the report's first screen changes.
# tests/MmTrace.Tests/Reports/ChromiumRenderTests.cs renders the same three and checks them.
set -euo pipefail
cd "$(dirname "$0")/../.."
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "$chromium not found: install it (.ci/install-chromium.sh)" >&2; exit 2; }
dotnet build src/MmTrace.Cli -c Release --nologo -v q >/dev/null
mmtrace() { dotnet src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll "$@"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
shot() {
  name=$1; shift
  mmtrace replay "$@" --out "$tmp/$name" --quiet >/dev/null
  "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir="$tmp/profile" \
    --window-size=1280,900 --screenshot="docs/img/report-$name.png" "file://$tmp/$name/report.html" >/dev/null 2>&1
  echo "docs/img/report-$name.png"
}
shot kbuild traces/real/kbuild.perf-script.txt.gz --machine x86_64-linux618-2cpu-24g
shot perl-hash traces/real/perl-hash.mtrace.txt.gz --machine x86_64-linux618-2cpu-24g
shot stride traces/real/stride.lackey.txt.gz --implicit-map --machine x86_64-zen4-4g
