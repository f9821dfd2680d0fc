#!/usr/bin/env bash
# Replays (and stats) every bundled trace and every real recording with two builds of mmtrace and compares their
# outputs byte for byte: summary.json of each replay, stdout of each stat. For changes that must not move a number
# (ingest, pipeline, speed work). Exit 0 when all are identical, 1 when any differs.
#
# usage: bench/compare-builds.sh BEFORE AFTER [WORK_DIR]   (each a mmtrace.dll or the directory holding one)
#   e.g. a clone of main built in /tmp/base:  bench/compare-builds.sh /tmp/base/src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll \
#        src/MmTrace.Cli/bin/Release/net10.0/mmtrace.dll
set -uo pipefail
cd "$(dirname "$0")/.."
dll_of() { if [[ -d $1 ]]; then realpath "$1/mmtrace.dll"; else realpath "$1"; fi; }
before=$(dll_of "$1") after=$(dll_of "$2") work=${3:-$(mktemp -d)}
real=${MMTRACE_REAL:-../shared/traces/real}
[[ -d $real ]] || real=traces/real
mkdir -p "$work"
status=0 n=0
run() { # name args...
  local name=$1; shift
  for side in before after; do
    local dll=$before; [[ $side == after ]] && dll=$after
    rm -rf "$work/$side/$name"; mkdir -p "$work/$side/$name"
    if [[ $1 == stat ]]; then
      dotnet "$dll" "$@" -q > "$work/$side/$name/out.txt" 2> "$work/$side/$name/err.txt"; echo "exit $?" >> "$work/$side/$name/out.txt"
    else
      dotnet "$dll" "$@" --out "$work/$side/$name" --quiet > "$work/$side/$name/out.txt" 2> "$work/$side/$name/err.txt"; echo "exit $?" >> "$work/$side/$name/out.txt"
    fi
  done
  local f=out.txt; [[ $1 == replay ]] && f=summary.json
  sed -i "s|$work/before/|$work/SIDE/|g" "$work/before/$name/out.txt"; sed -i "s|$work/after/|$work/SIDE/|g" "$work/after/$name/out.txt"
  n=$((n + 1))
  # a run both builds refuse alike writes no summary: their messages and exit codes are what is compared
  if { [[ ! -e $work/before/$name/$f && ! -e $work/after/$name/$f ]] || cmp -s "$work/before/$name/$f" "$work/after/$name/$f"; } \
     && cmp -s "$work/before/$name/out.txt" "$work/after/$name/out.txt"; then
    echo "same     $name"
  else
    echo "DIFFERS  $name ($work/before/$name/$f vs $work/after/$name/$f)"; status=1
  fi
}
for t in traces/kernel-mix.csv.gz traces/fragmenter.parquet traces/mmap-churn.csv.gz traces/access.parquet; do
  run "$(basename "$t")" replay "$t"
done
run user-heap.csv.gz replay traces/user-heap.csv.gz --set user.follow_recording=false
# the bundled traces on every other preset (the machine's paths differ by architecture and size)
for p in $(dotnet "$after" presets | awk '$1 != "x86_64-skylake-4g" {print $1}'); do
  for t in traces/kernel-mix.csv.gz traces/fragmenter.parquet traces/mmap-churn.csv.gz traces/access.parquet traces/user-heap.csv.gz; do
    extra=(); [[ $t == *user-heap* ]] && extra=(--set user.follow_recording=false)
    run "$(basename "$t")@$p" replay "$t" --machine "$p" "${extra[@]}"
  done
done
# the real recordings: those bundled and those in ../shared/traces/real (by name, once)
declare -A seen
for t in traces/real/* "$real"/*; do
  b=$(basename "$t"); [[ -f $t && -z ${seen[$b]:-} ]] || continue; seen[$b]=1
  case $b in
    *.perf.data.gz)
      d=$work/${b%.gz}; gunzip -c "$t" > "$d"
      run "$b" replay "$d"; run "stat-$b" stat "$d" ;;
    *.perf-script.txt*|*.ftrace.txt*|*.mtrace.txt*)
      run "$b" replay "$t"; run "stat-$b" stat "$t" ;;
    *.lackey.txt*)
      # every TLB replacement policy on x86-64 and i386 presets
      for p in x86_64-skylake-4g x86_64-zen4-4g x86_64-sapphirerapids-4g i386-highmem-1g i386-pae-1g; do
        for pol in lru plru random; do run "$b@$p-$pol" replay "$t" --implicit-map --machine "$p" --set mmu.replacement=$pol; done
      done ;;
    *.strace.txt*)
      m=$(dirname "$t")/${b%%.strace.txt*}.maps.txt
      if [[ -f $m ]]; then run "$b" replay "$t" --maps "$m"; else run "$b" replay "$t"; fi ;;
  esac
done
# generate and convert: the files written must be the same bytes
for w in kernel-mix user-heap mmap-churn; do
  for ext in csv parquet; do
    for side in before after; do
      dll=$before; [[ $side == after ]] && dll=$after
      mkdir -p "$work/$side"; rm -f "$work/$side/gen-$w.$ext" "$work/$side/conv-$w.$ext"
      dotnet "$dll" generate "$w" --events 200000 --seed 3 -o "$work/$side/gen-$w.$ext" >/dev/null 2>&1
      other=csv; [[ $ext == csv ]] && other=parquet
      dotnet "$dll" convert "$work/$side/gen-$w.$ext" -o "$work/$side/conv-$w.$other" >/dev/null 2>&1
    done
    n=$((n + 1))
    if cmp -s "$work/before/gen-$w.$ext" "$work/after/gen-$w.$ext" && [[ -s $work/after/gen-$w.$ext ]] && cmp -s "$work/before/conv-$w.$other" "$work/after/conv-$w.$other"; then
      echo "same     generate/convert $w.$ext"
    else
      echo "DIFFERS  generate/convert $w.$ext"; status=1
    fi
  done
done
echo "$n compared"
exit $status
