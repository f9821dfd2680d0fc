#!/usr/bin/env bash
# Regenerates the bundled synthetic traces (deterministic: the same seeds give the same files).
set -euo pipefail
cd "$(dirname "$0")/.."
m() { dotnet run --project src/MmTrace.Cli -c Release -- "$@"; }
m generate kernel-mix --events 50000 --seed 1 -o traces/kernel-mix.csv.gz
m generate fragmenter --events 30000 --seed 1 -o traces/fragmenter.parquet
m generate user-heap  --events 20000 --seed 1 -o traces/user-heap.csv.gz
m generate mmap-churn --events 20000 --seed 1 -o traces/mmap-churn.csv.gz
m generate access     --events 50000 --seed 1 -o traces/access.parquet
