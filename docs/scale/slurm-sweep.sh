#!/usr/bin/env bash
# A Slurm job array: each array task replays its slice of the sweep. Submit from the repository root:
#   sbatch docs/scale/slurm-sweep.sh
# then, when every task has finished, combine (see docs/scale.md).
#SBATCH --job-name=mmtrace-sweep
#SBATCH --array=1-4
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=00:30:00
set -euo pipefail
N=4   # the number of array tasks: keep equal to --array=1-N
dotnet src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll sweep \
  traces/kernel-mix.csv.gz traces/fragmenter.parquet \
  --vary buddy.max_order=9,10,11 \
  --out reports/sweeps/max-order \
  --shard "${SLURM_ARRAY_TASK_ID}/${N}" --jobs "${SLURM_CPUS_PER_TASK:-1}" --quiet
