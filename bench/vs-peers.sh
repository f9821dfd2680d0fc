#!/usr/bin/env bash
# mmtrace against perf kmem on the same recordings, whole process, runs interleaved (one run of each command per
# round, so machine load hits every command alike), median of RUNS: the side-by-side table of issue 15.
#
# usage: bench/vs-peers.sh [--runs N] [--data FILE.perf.data] [--work DIR] [--keep]
#   --data  a large kmem perf.data to use instead of recording one (its perf script text is made beside it)
#   --work  where the recording, its text and the published binaries go (default a fresh temp directory;
#           the recording is about 400 MB: keep it out of git)
# Without --data, as root with perf installed, it records one system-wide while tar | gzip reads
# /usr/share (about 400 MB and 3.5 M events on a 2-CPU VM). Needs perf (perf kmem is the peer) and the .NET SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
runs=5 data="" work="" keep=0
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --data) data=$(realpath "$2"); shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: bench/vs-peers.sh [--runs N] [--data FILE.perf.data] [--work DIR] [--keep]" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "vs-peers: perf is not installed (apt-get install linux-perf): perf kmem is the peer" >&2; exit 2; }
if [[ -z $work ]]; then work=$(mktemp -d); ((keep)) || trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work"
log() { echo "vs-peers: $*" >&2; }

# The binaries: NativeAOT when it publishes here (it needs a C toolchain), and the ReadyToRun framework-dependent publish.
log "publishing mmtrace (ReadyToRun) ..."
dotnet publish src/MmTrace.Cli -c Release -r linux-x64 --self-contained false -o "$work/r2r" >"$work/publish-r2r.log" 2>&1
variants=(r2r)
log "publishing mmtrace (NativeAOT) ..."
if dotnet publish src/MmTrace.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$work/aot" >"$work/publish-aot.log" 2>&1; then
  variants=(aot r2r)
else
  log "NativeAOT publish failed (see $work/publish-aot.log): ReadyToRun only"
fi

# The large recording.
events="kmem:kmalloc,kmem:kfree,kmem:kmem_cache_alloc,kmem:kmem_cache_free,kmem:mm_page_alloc,kmem:mm_page_free,exceptions:page_fault_user,exceptions:page_fault_kernel"
big=$work/big.perf.data
if [[ -n $data ]]; then
  big=$data
elif [[ ! -s $big ]]; then
  [[ $(id -u) == 0 ]] || { echo "vs-peers: recording system-wide needs root: run as root or pass --data FILE.perf.data" >&2; exit 2; }
  log "recording $big (perf record -a, tar | gzip over /usr/share) ..."
  perf record -q -m 64M -e "$events" -a -o "$big" -- \
    sh -c 'tar cf - /usr/share 2>/dev/null | gzip -1 > /dev/null' 2>"$work/record.log" || true
  [[ -s $big ]] || { cat "$work/record.log" >&2; echo "vs-peers: perf record wrote nothing" >&2; exit 2; }
fi
text=$work/$(basename "${big%.perf.data}").perf-script.txt
[[ -s $text ]] || { log "perf script -i $big > $text ..."; perf script -i "$big" > "$text" 2>/dev/null; }
gunzip -c traces/real/ls-etc.perf.data.gz > "$work/ls-etc.perf.data"
small=$work/ls-etc.perf.data small_text=$repo/traces/real/ls-etc.perf-script.txt.gz
nevents=$(wc -l < "$text")
# 10 M-event Parquet traces of the synthetic workloads (the machine's own speed end to end), made once per work directory
for w in kernel-mix user-heap; do
  [[ -s $work/$w-10m.parquet ]] || { log "generate $w 10 M events ..."; "$work/r2r/mmtrace" generate "$w" --events 10000000 --seed 1 -o "$work/$w-10m.parquet" >/dev/null; }
done

# One run: wall (s, from the clock around it) and max RSS (MB, from /usr/bin/time); output kept for the check.
measure() { # name cmd...
  local name=$1; shift
  local s e
  s=$(date +%s%N)
  /usr/bin/time -f %M -o "$work/$name.rss1" "$@" >"$work/$name.out" 2>/dev/null
  e=$(date +%s%N)
  echo $(((e - s) / 1000)) >>"$work/$name.wall"; cat "$work/$name.rss1" >>"$work/$name.rss"
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A cmd
order=()
add() { order+=("$1"); shift; cmd[${order[-1]}]="$*"; rm -f "$work/${order[-1]}".{wall,rss}; }
add perf_kmem_big perf kmem -i "$big" stat
add perf_kmem_small perf kmem -i "$small" stat
add perf_version perf --version
for v in "${variants[@]}"; do
  mm=$work/$v/mmtrace
  add "${v}_stat_big_data" "$mm" stat "$big" -q
  add "${v}_stat_big_text" "$mm" stat "$text" -q
  add "${v}_replay_big_text" "$mm" replay "$text" --machine x86_64-linux618-2cpu-24g --out "$work/replay-$v" --quiet
  add "${v}_stat_small_data" "$mm" stat "$small" -q
  add "${v}_stat_small_text" "$mm" stat "$small_text" -q
  add "${v}_version" "$mm" --version
  add "${v}_replay_km10m" "$mm" replay "$work/kernel-mix-10m.parquet" --out "$work/replay-km-$v" --quiet
  add "${v}_replay_uh10m" "$mm" replay "$work/user-heap-10m.parquet" --set user.follow_recording=false --out "$work/replay-uh-$v" --quiet
done

log "$runs rounds of ${#order[@]} commands, interleaved ..."
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < runs; r++)); do
  for k in "${order[@]}"; do measure "$k" ${cmd[$k]}; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

wall() { awk -v us="$(median "$work/$1.wall")" 'BEGIN {printf (us < 100000 ? "%.1f ms" : "%.2f s"), (us < 100000 ? us / 1000 : us / 1e6)}'; }
rss() { awk -v kb="$(median "$work/$1.rss")" 'BEGIN {printf "%.0f MB", kb / 1024}'; }
rate() { awk -v us="$(median "$work/$1.wall")" 'BEGIN {printf "%.2f M events/s", 10 / (us / 1e6)}'; }
ratio() { awk -v a="$(median "$work/$1.wall")" -v b="$(median "$work/$2.wall")" 'BEGIN {printf "%.2f×", a / b}'; }
same() { # mmtrace's stat output against perf kmem's
  grep -v '^mmtrace:' "$work/$1.out" | cmp -s - "$work/$2.out" && echo "same output" || echo "OUTPUT DIFFERS"
}

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
mem=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')
echo
echo "Machine: $cpu, $(nproc) CPUs, $mem RAM; $(uname -r); perf $(perf --version | awk '{print $3}'); .NET $(dotnet --version)"
echo "Load average (1/5/15 min) before: $load_before, after: $load_after. Median of $runs interleaved runs, whole process."
echo "Large recording: $(basename "$big") $(du -m "$big" | cut -f1) MB, $nevents events; its perf script text $(du -m "$text" | cut -f1) MB."
echo "Small: ls-etc (22,398 events). Ratio = mmtrace wall / peer wall (below 1: mmtrace is faster)."
echo
echo "| ratio | what | mmtrace | peer |"
echo "|---|---|---|---|"
for v in "${variants[@]}"; do
  name=$([[ $v == aot ]] && echo NativeAOT || echo ReadyToRun)
  echo "| $(ratio ${v}_stat_big_data perf_kmem_big) | \`stat\` of the large perf.data ($name) | $(wall ${v}_stat_big_data), $(rss ${v}_stat_big_data); $(same ${v}_stat_big_data perf_kmem_big) | \`perf kmem stat\` $(wall perf_kmem_big), $(rss perf_kmem_big) |"
  echo "| $(ratio ${v}_stat_big_text perf_kmem_big) | \`stat\` of its perf-script text ($name) | $(wall ${v}_stat_big_text), $(rss ${v}_stat_big_text); $(same ${v}_stat_big_text perf_kmem_big) | \`perf kmem stat\` of the perf.data |"
  echo "| $(ratio ${v}_replay_big_text perf_kmem_big) | \`replay\` of the text, whole machine, reports written ($name) | $(wall ${v}_replay_big_text), $(rss ${v}_replay_big_text) | \`perf kmem stat\` of the perf.data |"
  echo "| $(ratio ${v}_stat_small_data perf_kmem_small) | \`stat\` of ls-etc.perf.data ($name) | $(wall ${v}_stat_small_data), $(rss ${v}_stat_small_data); $(same ${v}_stat_small_data perf_kmem_small) | \`perf kmem stat\` $(wall perf_kmem_small), $(rss perf_kmem_small) |"
  echo "| $(ratio ${v}_stat_small_text perf_kmem_small) | \`stat\` of ls-etc.perf-script.txt.gz ($name) | $(wall ${v}_stat_small_text), $(rss ${v}_stat_small_text); $(same ${v}_stat_small_text perf_kmem_small) | \`perf kmem stat\` of the perf.data |"
  echo "| $(ratio ${v}_version perf_version) | \`--version\` ($name) | $(wall ${v}_version), $(rss ${v}_version) | \`perf --version\` $(wall perf_version) |"
  echo "| $(rate ${v}_replay_km10m) | \`replay\` of a 10 M-event kernel-mix Parquet ($name) | $(wall ${v}_replay_km10m), $(rss ${v}_replay_km10m) | — |"
  echo "| $(rate ${v}_replay_uh10m) | \`replay\` of a 10 M-event user-heap Parquet, follow_recording=false ($name) | $(wall ${v}_replay_uh10m), $(rss ${v}_replay_uh10m) | — |"
done

# The ptmalloc model against the real glibc on the same mtrace log (the issue's hot small-object log, bc): the C
# replayer (bench/c/mtrace-replay.c: a pointer map and malloc/free/realloc through glibc) against the bench's
# in-process loop of the model (UserHeapReplay + Ptmalloc, addresses compared), RUNS interleaved pairs of 10,000 rounds.
if command -v gcc >/dev/null; then
  log "the C replayer against the ptmalloc model ($runs pairs) ..."
  gcc -O2 -o "$work/mtrace-replay" bench/c/mtrace-replay.c
  gzip -dc traces/real/bc.mtrace.txt.gz >"$work/bc.mtrace.txt"
  dotnet build bench/MmTrace.Bench -c Release --nologo -v q >"$work/build-bench.log" 2>&1
  : >"$work/glibc.rates"; : >"$work/model.rates"
  for ((r = 0; r < runs; r++)); do
    "$work/mtrace-replay" "$work/bc.mtrace.txt" 10000 >>"$work/glibc.rates"
    dotnet bench/MmTrace.Bench/bin/Release/net10.0/MmTrace.Bench.dll user-loop "$repo/traces/real/bc.mtrace.txt.gz" 10000 | tail -1 >>"$work/model.rates"
  done
  # Each line: "... best round B M events/s, mean W M events/s wall, C M events/s per CPU-second ..."; the median of RUNS.
  med() { sed -n "s/.*$2.*/\1/p" "$work/$1.rates" | sort -g | awk '{v[NR]=$1} END {print (NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
  echo
  echo "| ratio (model / glibc) | bc.mtrace (31,434 events), median of $runs interleaved pairs of 10,000 rounds | model | glibc |"
  echo "|---|---|---|---|"
  for label in "per CPU-second" "mean of rounds, wall" "best round"; do
    case $label in
      per*) re=' \([0-9.]*\) M events\/s per CPU-second' ;;
      mean*) re='mean \([0-9.]*\) M events\/s wall' ;;
      best*) re='best round \([0-9.]*\) M events\/s' ;;
    esac
    m=$(med model "$re"); g=$(med glibc "$re")
    echo "| $(awk -v a="$m" -v b="$g" 'BEGIN {printf "%.2f×", a / b}') | events/s, $label | $m M | $g M |"
  done
else
  log "no gcc: the C replayer against the ptmalloc model is left out"
fi
