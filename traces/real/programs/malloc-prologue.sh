#!/usr/bin/env bash
# Records PROGRAM's mtrace log and the malloc calls made before it starts (library constructors that ran before
# libmtstart's mtrace(), malloc's own initialisation): OUT.mtrace.txt.gz and OUT.malloc-prologue.txt, which
# `mmtrace replay OUT.mtrace.txt.gz` finds beside the log (docs/user-malloc.md). ASLR off, as for every recording.
#   malloc-prologue.sh OUT -- PROGRAM ARGS...
set -euo pipefail
out=$1; shift; [ "$1" = -- ] && shift
here=$(cd "$(dirname "$0")" && pwd); tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
gcc -O2 -shared -fPIC -o "$tmp/malloc-below.so" "$here/malloc-below.c" -ldl
gcc -O2 -shared -fPIC -o "$tmp/libmtstart.so" "$here/mtrace-start.c"
LD_PRELOAD="libc_malloc_debug.so.0 $tmp/malloc-below.so $tmp/libmtstart.so" MALLOC_TRACE="$tmp/log" MALLOC_BELOW="$tmp/below" \
  setarch -R "$@" >/dev/null
# The prologue is what the allocator saw before the log's first record (the same line, without mtrace's caller).
first=$(grep -m1 -E '(^|\] )[-+<] ' "$tmp/log" | sed -E 's/^@ [^ ]* //')
awk -v first="$first" '/^=/ { next } $0 == first { exit } { print }' "$tmp/below" > "$out.malloc-prologue.txt"
calls() { grep -cE '(^|\] )[-+<] ' "$1" || true; }
n=$(calls "$out.malloc-prologue.txt")
gzip -9n < "$tmp/log" > "$out.mtrace.txt.gz"
echo "$out.mtrace.txt.gz: $(calls "$tmp/log") calls; $out.malloc-prologue.txt: $n calls before the log"
