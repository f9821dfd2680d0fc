#!/usr/bin/env bash
# Records the perf variants of traces/real (see README.md, "perf record modes and perf script layouts"):
# system-wide kmem recordings with tasks perf never learned (":-1 -1"), lost events, callchains (-g),
# unrelated events interleaved, and perf script printed in several -F layouts and --ns, each with
# perf kmem's reference outputs. Run as root from an empty directory: bash perf-variants.sh PROGRAMS_DIR
set -euo pipefail
programs=$(cd "${1:?usage: perf-variants.sh PROGRAMS_DIR}" && pwd)
gcc -O1 -pthread -o leader-exit "$programs/leader-exit.c"
EV=kmem:kmalloc,kmem:kfree,kmem:kmem_cache_alloc,kmem:kmem_cache_free,kmem:mm_page_alloc,kmem:mm_page_free,exceptions:page_fault_user,exceptions:page_fault_kernel
# A shell renamed to a comm with spaces, digits, colons, a slash and brackets; its subshells fork
# without exec and keep that name. leader-exit's last thread releases its group leader after its
# own pid is gone, so the kernel's events there have no task (perf script: ":-1 -1").
WORKLOAD='printf "a b: [1]/2:3" > /proc/self/comm; for i in $(seq 10); do ./leader-exit; (read x < /etc/hostname); done'

kmem_refs() { # NAME: perf kmem's reference outputs for NAME.perf.data
  perf kmem -i "$1.perf.data" stat > "$1.perf-kmem-stat.txt" 2>/dev/null
  perf kmem -i "$1.perf.data" --caller -s frag,hit,bytes -l 20 stat > "$1.perf-kmem-caller.txt" 2>/dev/null
  perf kmem -i "$1.perf.data" --alloc -s bytes,hit -l 20 stat > "$1.perf-kmem-alloc.txt" 2>/dev/null
  perf kmem -i "$1.perf.data" --page stat > "$1.perf-kmem-page.txt" 2>/dev/null
  perf kmem -i "$1.perf.data" --page --caller -l 20 stat > "$1.perf-kmem-page-caller.txt" 2>/dev/null
}

# 1. perf record -a: unknown tasks and odd comms; perf script in several layouts
perf record -q -e $EV -a -o leader-exit.perf.data -- sh -c "$WORKLOAD"
kmem_refs leader-exit
perf script -i leader-exit.perf.data > leader-exit.perf-script.txt 2>/dev/null
perf script -i leader-exit.perf.data --ns > leader-exit-ns.perf-script.txt 2>/dev/null
perf script -i leader-exit.perf.data -F comm,pid,tid,cpu,time,event,trace > leader-exit-pidtid.perf-script.txt 2>/dev/null
perf script -i leader-exit.perf.data -F comm,tid,event,trace > leader-exit-notime.perf-script.txt 2>/dev/null
perf script -i leader-exit.perf.data -F comm,cpu,event,trace > leader-exit-nopid.perf-script.txt 2>/dev/null
perf script -i leader-exit.perf.data -F comm,tid,cpu,misc,time,period,event,trace,ip,sym,symoff > leader-exit-ip.perf-script.txt 2>/dev/null

# 2. a small ring buffer under load: PERF_RECORD_LOST and LOST_SAMPLES
perf record -q -e $EV -a -m 1 -o tar-gzip-lossy.perf.data -- sh -c "tar cf - -C /usr/share perl 2>/dev/null | gzip -1 > /dev/null; $WORKLOAD"
kmem_refs tar-gzip-lossy
perf script -i tar-gzip-lossy.perf.data --show-lost-events > tar-gzip-lossy.perf-script.txt 2>/dev/null

# 3. callchains (-g)
perf record -q -g -e $EV -a -o leader-exit-g.perf.data -- sh -c "$WORKLOAD"
kmem_refs leader-exit-g
perf script -i leader-exit-g.perf.data > leader-exit-g.perf-script.txt 2>/dev/null

# 4. unrelated events interleaved: sched, syscalls, uprobes (an entry and a return probe; this kernel has no
#    kprobe events), a software event
perf probe -q -x /lib/x86_64-linux-gnu/libc.so.6 -a malloc -a 'malloc%return'
perf record -q -e $EV,sched:sched_switch,sched:sched_wakeup,sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit,syscalls:sys_enter_mmap,syscalls:sys_exit_mmap,syscalls:sys_enter_brk,syscalls:sys_exit_brk,probe_libc:malloc,probe_libc:malloc__return,page-faults \
  -a -o leader-exit-mixed.perf.data -- sh -c "$WORKLOAD"
perf probe -q -d 'probe_libc:*'
kmem_refs leader-exit-mixed
perf script -i leader-exit-mixed.perf.data > leader-exit-mixed.perf-script.txt 2>/dev/null

# the recording machine's symbols, for --kallsyms
cat /proc/kallsyms > perf-variants.kallsyms.txt
