#!/usr/bin/env bash
# Replays the bundled traces (every preset), the real recordings, and the lackey recordings under every TLB
# replacement policy with two builds of the CLI, and compares their summary.json byte for byte (cmp).
# Usage: bench/compare-summaries.sh BEFORE_DIR AFTER_DIR [OUT_DIR]
#   BEFORE_DIR, AFTER_DIR: directories holding mmtrace.dll (e.g. a copy of src/MmTrace.Cli/bin/Release/net10.0).
# Exit 0 when every pair is identical (and both builds exited alike), 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
before=$1; after=$2; out=${3:-/tmp/mmtrace-compare}
rm -rf "$out"; mkdir -p "$out"
presets=$(dotnet "$after/mmtrace.dll" presets | awk '{print $1}')
runs=()
for t in traces/kernel-mix.csv.gz traces/fragmenter.parquet traces/user-heap.csv.gz traces/mmap-churn.csv.gz traces/access.parquet; do
  for p in $presets; do
    extra=""; case $t in *user-heap*) extra="--set user.follow_recording=false";; esac
    runs+=("$t --machine $p $extra")
  done
done
R=/work/shared/traces/real; [ -d "$R" ] || R=traces/real
for t in kbuild.perf-script.txt.gz tar-gzip.perf-script.txt.gz ls-etc.perf-script.txt.gz ls-etc.perf.data.gz \
         leader-exit.perf-script.txt.gz ls-man.ftrace.txt.gz ls-zoneinfo.ftrace.txt.gz \
         perl-hash.mtrace.txt.gz sqlite-ops.mtrace.txt.gz sed-regex.mtrace.txt.gz; do
  [ -f "$R/$t" ] && runs+=("$R/$t --machine x86_64-linux618-2cpu-24g")
done
for t in gcc-compile ls-usrlib perl-regex python-import vma-mix; do
  [ -f "$R/$t.strace.txt" ] && runs+=("$R/$t.strace.txt --maps $R/$t.maps.txt --machine x86_64-linux618-2cpu-24g")
done
for t in stride matmul; do
  for p in x86_64-skylake-4g x86_64-zen4-4g x86_64-sapphirerapids-4g i386-highmem-1g i386-pae-1g; do
    for pol in lru plru random; do
      runs+=("$R/$t.lackey.txt.gz --implicit-map --machine $p --set mmu.replacement=$pol")
    done
  done
done
status=0; n=0
for r in "${runs[@]}"; do
  n=$((n+1))
  for side in before after; do
    dir=$before; [ $side = after ] && dir=$after
    # shellcheck disable=SC2086
    dotnet "$dir/mmtrace.dll" replay $r --out "$out/$n.$side" --quiet >"$out/$n.$side.log" 2>&1
    echo $? >"$out/$n.$side.rc"
  done
  if ! cmp -s "$out/$n.before.rc" "$out/$n.after.rc"; then
    echo "DIFFERENT exit code: $r"; status=1
  elif [ -f "$out/$n.before/summary.json" ] && ! cmp -s "$out/$n.before/summary.json" "$out/$n.after/summary.json"; then
    echo "DIFFERENT summary.json: $r"; status=1
  fi
done
echo "$n replays compared ($out); $([ $status = 0 ] && echo 'all summary.json byte-identical' || echo 'differences above')"
exit $status
