#!/usr/bin/env bash
# Times `mmtrace stat` on a recording's perf script text against `perf kmem stat` on its perf.data,
# side by side in one run (runs interleaved, so machine load hits both alike), and checks that both
# print the same thing. Usage: bench/kmem-stat-vs-perf.sh [RUNS]   (default 11; needs perf on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 2; }
echo "publishing mmtrace (Release, ReadyToRun) to $out/mmtrace ..." >&2
dotnet publish src/MmTrace.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$out/mmtrace" >/dev/null
mmtrace="$out/mmtrace/mmtrace"
gunzip -c traces/real/ls-etc.perf.data.gz > "$out/ls-etc.perf.data"

# wall and user+sys seconds of one run, as "wall cpu"
measure() { /usr/bin/time -f "%e %U %S" -o "$out/t" "$@" > "$out/stdout" 2>/dev/null; awk '{printf "%s %.2f\n", $1, $2 + $3}' "$out/t"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A cmds=(
  [perf_kmem_stat_perf.data]="perf kmem -i $out/ls-etc.perf.data stat"
  [mmtrace_stat_perf-script.txt.gz]="$mmtrace stat traces/real/ls-etc.perf-script.txt.gz -q"
  [mmtrace_stat_perf.data]="$mmtrace stat $out/ls-etc.perf.data -q"
  [mmtrace_stat_text_TieredPGO=0]="env DOTNET_TieredPGO=0 $mmtrace stat traces/real/ls-etc.perf-script.txt.gz -q"
)
order=(perf_kmem_stat_perf.data mmtrace_stat_perf-script.txt.gz mmtrace_stat_perf.data mmtrace_stat_text_TieredPGO=0)
for k in "${order[@]}"; do : > "$out/$k.wall"; : > "$out/$k.cpu"; done
for ((i = 0; i < runs; i++)); do
  for k in "${order[@]}"; do
    read -r wall cpu < <(measure ${cmds[$k]})
    echo "$wall" >> "$out/$k.wall"; echo "$cpu" >> "$out/$k.cpu"
    cp "$out/stdout" "$out/$k.txt"
  done
done

echo "ls-etc (22,398 events; perf.data 2.6 MB, perf script text 4.0 MB, 124 KB gzipped), $runs runs each, load average $(cut -d' ' -f1 /proc/loadavg):"
printf "%-34s %10s %10s  %s\n" "command" "wall (s)" "cpu (s)" "output = traces/real/ls-etc.perf-kmem-stat.txt"
for k in "${order[@]}"; do
  same=$(cmp -s "$out/$k.txt" traces/real/ls-etc.perf-kmem-stat.txt && echo identical || echo DIFFERENT)
  printf "%-34s %10s %10s  %s\n" "$k" "$(median < "$out/$k.wall")" "$(median < "$out/$k.cpu")" "$same"
done

echo
echo "mmtrace stat on the larger recordings (no perf.data kept for them):"
for n in kbuild tar-gzip; do
  lines=$(gunzip -c traces/real/$n.perf-script.txt.gz | wc -l)
  for pgo in 1 0; do
    : > "$out/w"; : > "$out/c"
    for ((i = 0; i < (runs + 1) / 2; i++)); do read -r wall cpu < <(measure env DOTNET_TieredPGO=$pgo "$mmtrace" stat traces/real/$n.perf-script.txt.gz -q); echo "$wall" >> "$out/w"; echo "$cpu" >> "$out/c"; done
    same=$(cmp -s "$out/stdout" traces/real/$n.perf-kmem-stat.txt && echo identical || echo DIFFERENT)
    printf "%-34s %10s %10s  %s (%s events)\n" "mmtrace_stat_${n}_TieredPGO=$pgo" "$(median < "$out/w")" "$(median < "$out/c")" "$same" "$lines"
  done
done
