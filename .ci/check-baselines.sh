#!/usr/bin/env bash
# Replays every bundled trace and checks it against its committed baseline (baselines/NAME/summary.json).
# Exit 0 when every metric is within tolerance, 1 when any regressed, 2 on bad input.
# Writes reports/ci/NAME/ (summary.json, report.md, report.html, ...) and reports/ci/NAME.junit.xml.
set -uo pipefail
cd "$(dirname "$0")/.."
dotnet build src/MmTrace.Cli -c Release --nologo -v q >/dev/null || exit 3
mmtrace() { dotnet src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll "$@"; }
status=0
for trace in traces/kernel-mix.csv.gz traces/fragmenter.parquet traces/user-heap.csv.gz traces/mmap-churn.csv.gz traces/access.parquet; do
  name=$(basename "$trace"); name=${name%%.*}
  # The synthetic user heap's addresses come from the generator, not from a glibc: compare them, do not follow them.
  opts=(); if [ "$name" = user-heap ]; then opts=(--set user.follow_recording=false); fi
  mmtrace replay "$trace" "${opts[@]}" --out "reports/ci/$name" --quiet >/dev/null || exit $?
  mmtrace check "reports/ci/$name" --baseline "baselines/$name" --junit "reports/ci/$name.junit.xml"
  rc=$?
  if [ $rc -gt $status ]; then status=$rc; fi
done
exit $status
