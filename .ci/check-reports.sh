#!/usr/bin/env bash
# Rebuilds every committed research report (reports/specs/*.json) into scratch space and fails (exit 1) naming each
# file of reports/NAME/ (and reports/README.md) that differs from the fresh regeneration (docs/research.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll ] || dotnet build src/MmTrace.Cli -c Release --nologo -v q
start=$(date +%s)
dotnet src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll research reports/specs --check --quiet
echo "research reports current ($(( $(date +%s) - start )) s)"
