#!/usr/bin/env bash
# A single-node Slurm (Debian's slurm-wlm 22.05 + munge: slurmctld and slurmd on this machine, proctrack/linuxproc,
# task/none), and a research report's sweep run on it as a job array plus a collect job, compared byte for byte with
# the same sweep run locally (docs/research.md, "Slurm").
#   bash .ci/slurm-sweep.sh start              install (apt-get, needs root) and start Slurm; exit 77 when it cannot
#   bash .ci/slurm-sweep.sh compare SPEC DIR   run SPEC's quick variant with --execution slurm:4 and locally under DIR,
#                                              then compare sweep.csv, every run's summary.json and the report files
# tests/MmTrace.Tests/Research/ResearchSlurmTests.cs runs 'compare' when Slurm answers, and is skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
CANNOT=77

slurm_up() { command -v scontrol >/dev/null && timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }

start() {
  if slurm_up && [ "$(sinfo -h -o %T 2>/dev/null | head -1)" = idle ]; then echo "slurm: already up"; return 0; fi
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "slurm: not installed and not root: cannot apt-get install slurm-wlm munge"; exit $CANNOT; }
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; } || { echo "slurm: apt-get install slurm-wlm munge failed"; exit $CANNOT; }
  fi
  [ "$(id -u)" = 0 ] || { echo "slurm: starting slurmctld and slurmd needs root"; exit $CANNOT; }
  host=$(hostname -s)
  cpus=$(nproc)
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=mmtrace
SlurmctldHost=$host
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged || { echo "slurm: munged did not start"; exit $CANNOT; }
  pgrep -x slurmctld >/dev/null || slurmctld || { echo "slurm: slurmctld did not start (/var/log/slurm/slurmctld.log)"; exit $CANNOT; }
  pgrep -x slurmd >/dev/null || slurmd || { echo "slurm: slurmd did not start (/var/log/slurm/slurmd.log)"; exit $CANNOT; }
  for _ in $(seq 1 30); do
    if slurm_up && [ "$(sinfo -h -o %T | head -1)" = idle ]; then echo "slurm: up, node $host idle with $cpus CPUs"; return 0; fi
    sleep 1
  done
  echo "slurm: the node did not become idle in 30 s: $(sinfo -h -o '%T %E' 2>&1 | head -1)"
  exit $CANNOT
}

compare() {
  spec=$1 dir=$2
  slurm_up || { echo "slurm: not running (bash .ci/slurm-sweep.sh start)"; exit $CANNOT; }
  mmtrace="dotnet src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll"
  [ -f src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll ] || dotnet build src/MmTrace.Cli -c Release --nologo -v q
  rm -rf "$dir" && mkdir -p "$dir"
  $mmtrace research "$spec" --quick --execution slurm:4 --work "$dir/slurm-work" --out "$dir/slurm-report" --quiet
  $mmtrace research "$spec" --quick --execution local --work "$dir/local-work" --out "$dir/local-report" --quiet
  name=$(basename "$spec" .json)
  a="$dir/slurm-work/$name/runs" b="$dir/local-work/$name/runs"
  cmp "$a/sweep.csv" "$b/sweep.csv"
  n=0
  for s in "$b"/*/summary.json; do
    run=$(basename "$(dirname "$s")")
    cmp "$a/$run/summary.json" "$s"
    n=$((n + 1))
  done
  [ "$(ls "$a"/*/summary.json | wc -l)" = "$n" ] || { echo "slurm: a different number of runs"; exit 1; }
  diff -r "$dir/slurm-report" "$dir/local-report"
  tasks=$(ls "$dir/slurm-work/$name/slurm/"*_*.out | wc -l)
  echo "slurm: $tasks array tasks and the collect job; sweep.csv, $n summary.json files and the report identical to the local run"
}

case "${1:-}" in
  start) start ;;
  compare) compare "${2:?spec}" "${3:?directory}" ;;
  *) echo "usage: $0 start | compare SPEC DIR" >&2; exit 2 ;;
esac
