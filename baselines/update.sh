#!/usr/bin/env bash
# Regenerates the committed baselines from the bundled traces. Run it when a change to the simulator is meant
# to move the numbers, and commit the new baselines/*/summary.json with that change (say why in the message).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/MmTrace.Cli -c Release --nologo -v q >/dev/null
mmtrace() { dotnet src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll "$@"; }
for trace in traces/kernel-mix.csv.gz traces/fragmenter.parquet traces/user-heap.csv.gz traces/mmap-churn.csv.gz traces/access.parquet; do
  name=$(basename "$trace"); name=${name%%.*}
  # The synthetic user heap's addresses come from the generator, not from a glibc: compare them, do not follow them.
  opts=(); if [ "$name" = user-heap ]; then opts=(--set user.follow_recording=false); fi
  tmp=$(mktemp -d)
  mmtrace replay "$trace" "${opts[@]}" --out "$tmp" --quiet >/dev/null
  mkdir -p "baselines/$name"
  cp "$tmp/summary.json" "baselines/$name/summary.json"
  rm -rf "$tmp"
  echo "baselines/$name/summary.json"
done
